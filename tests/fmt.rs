//! `nnc fmt`: snapshots of messy inputs (tests/fmt/*.nn), the formatter's guarantees on
//! every spec in the repository, and the command line (`--check`, in-place, stdin).

use nnc::fmt::{format_source, verify};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rendered(checked: &nnc::Checked) -> String {
    nnc::diagnostics::render(&checked.diags, &checked.sources, Default::default())
}

fn format_ok(name: &str, text: &str) -> String {
    format_source(name, text)
        .unwrap_or_else(|c| panic!("{name} does not format:\n{}", rendered(&c)))
}

#[test]
fn messy_inputs() {
    insta::glob!("fmt/*.nn", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        insta::assert_snapshot!(format_ok(&path.display().to_string(), &text));
    });
}

// ------------------------------------------------------------------ every spec we have

/// Every `.nn` under specs/ and tests/ (the fixtures above among them).
fn corpus() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "nn") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("specs"), &mut files);
    walk(&root().join("tests"), &mut files);
    files.sort();
    files
}

/// The AST as `nnc ir --stage ast` prints it, without the `@line:col` of each node: an
/// oracle for "same tree" that does not depend on the formatter's own check.
fn ast_without_positions(name: &str, text: &str) -> String {
    let parsed = nnc::parse_text(name, text);
    assert!(!parsed.has_errors(), "{name}:\n{}", rendered(&parsed));
    let printed = nnc::syntax::print::print_file(&parsed.files[0], &parsed.sources);
    printed
        .lines()
        .map(|l| l.rsplit_once("  @").map_or(l, |(node, _)| node))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_spec_formats_to_a_fixed_point_with_the_same_meaning() {
    let files = corpus();
    assert!(
        files.len() >= 8,
        "the fixtures of tests/fmt/ were not found"
    );
    let mut formatted = 0;
    for path in files {
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // not UTF-8: nothing to format
        };
        let parses = !nnc::parse_text(&name, &text).has_errors();
        let out = match format_source(&name, &text) {
            Ok(out) => out,
            Err(checked) => {
                assert!(
                    !parses,
                    "{name} parses but does not format:\n{}",
                    rendered(&checked)
                );
                continue;
            }
        };
        formatted += 1;
        assert_eq!(
            format_ok(&name, &out),
            out,
            "{name}: formatting is not idempotent"
        );
        assert_eq!(
            ast_without_positions(&name, &out),
            ast_without_positions(&name, &text),
            "{name}: formatting changed the tree"
        );
        let (before, _) = nnc::syntax::parse_file(Default::default(), &text);
        let (after, _) = nnc::syntax::parse_file(Default::default(), &out);
        assert!(
            verify::same_ast(&before, &after),
            "{name}: same_ast disagrees"
        );
        assert_eq!(
            verify::comment_texts(&out),
            verify::comment_texts(&text),
            "{name}: comments changed"
        );
        assert!(
            out.ends_with('\n') && !out.ends_with("\n\n"),
            "{name}: file end"
        );
        assert!(
            out.lines().all(|l| !l.ends_with([' ', '\t'])),
            "{name}: trailing whitespace"
        );
    }
    assert!(formatted >= 8);
}

#[test]
fn same_ast_sees_real_differences() {
    let parse = |t: &str| nnc::syntax::parse_file(Default::default(), t).0;
    let a = parse("network n { let h = x |> dense(1e-4) }");
    assert!(verify::same_ast(
        &a,
        &parse("network n {\n  let h = (x) |> dense(1e-4)\n}")
    ));
    assert!(!verify::same_ast(
        &a,
        &parse("network n { let h = x |> dense(0.0001) }")
    ));
    assert!(!verify::same_ast(
        &a,
        &parse("network n { let g = x |> dense(1e-4) }")
    ));
    assert!(!verify::same_ast(
        &a,
        &parse("network n { let h = x |> dense(1e-4, 1) }")
    ));
}

// ------------------------------------------------------------------ the command line

const MESSY: &str = "network n{input x:[4]\nlet h=x|>dense(4) // keep me\noutput y=h}\n";
const TIDY: &str =
    "network n {\n  input x: [4]\n  let h = x |> dense(4)  // keep me\n  output y = h\n}\n";
const BROKEN: &str = "network n {\n  let h = x |> dense(4\n}\n";

/// A fresh directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fmt-cli")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn nnc(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nnc"));
    cmd.args(args).env("NO_COLOR", "1");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn fixture_for_the_cli_is_what_the_formatter_says() {
    assert_eq!(format_ok("t.nn", MESSY), TIDY);
}

#[test]
fn check_passes_on_a_formatted_file() {
    let dir = scratch("check_ok");
    let file = dir.join("tidy.nn");
    std::fs::write(&file, TIDY).unwrap();
    let out = nnc(&["fmt", "--check", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TIDY);
}

#[test]
fn check_fails_on_an_unformatted_file_and_changes_nothing() {
    let dir = scratch("check_fails");
    let file = dir.join("messy.nn");
    std::fs::write(&file, MESSY).unwrap();
    let out = nnc(&["fmt", "--check", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(diff.contains("messy.nn"), "names the file:\n{diff}");
    assert!(
        diff.contains("-network n{input x:[4]"),
        "shows the old line:\n{diff}"
    );
    assert!(
        diff.contains("+  input x: [4]"),
        "shows the new line:\n{diff}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), MESSY);
    assert_eq!(files_in(&dir), ["messy.nn"]);
}

#[test]
fn rewrites_in_place_and_then_checks_clean() {
    let dir = scratch("in_place");
    let file = dir.join("messy.nn");
    std::fs::write(&file, MESSY).unwrap();
    let out = nnc(&["fmt", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TIDY);
    assert_eq!(
        files_in(&dir),
        ["messy.nn"],
        "no temporary file left behind"
    );
    let again = nnc(&["fmt", "--check", file.to_str().unwrap()], None);
    assert_eq!(again.status.code(), Some(0), "{again:?}");
}

#[test]
fn an_already_formatted_file_is_not_rewritten() {
    let dir = scratch("untouched");
    let file = dir.join("tidy.nn");
    std::fs::write(&file, TIDY).unwrap();
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = nnc(&["fmt", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        before
    );
}

#[test]
fn an_unparsable_file_is_left_alone_with_diagnostics() {
    let dir = scratch("unparsable");
    let file = dir.join("broken.nn");
    std::fs::write(&file, BROKEN).unwrap();
    for args in [&["fmt"][..], &["fmt", "--check"][..]] {
        let mut args = args.to_vec();
        args.push(file.to_str().unwrap());
        let out = nnc(&args, None);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("nnc::parse::syntax"), "{stderr}");
        assert!(stderr.contains("broken.nn"), "{stderr}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), BROKEN);
        assert_eq!(files_in(&dir), ["broken.nn"]);
    }
}

#[test]
fn several_files_are_all_handled() {
    let dir = scratch("several");
    let (messy, broken) = (dir.join("messy.nn"), dir.join("broken.nn"));
    std::fs::write(&messy, MESSY).unwrap();
    std::fs::write(&broken, BROKEN).unwrap();
    let out = nnc(
        &["fmt", broken.to_str().unwrap(), messy.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "the broken file fails the run");
    assert_eq!(
        std::fs::read_to_string(&messy).unwrap(),
        TIDY,
        "the other is formatted"
    );
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), BROKEN);
}

#[test]
fn unreadable_inputs_fail_cleanly() {
    let dir = scratch("unreadable");
    let missing = dir.join("missing.nn");
    let out = nnc(&["fmt", missing.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nnc::io::not_found"));
    let latin1 = dir.join("latin1.nn");
    std::fs::write(&latin1, b"// caf\xe9\nnetwork n {}\n").unwrap();
    let out = nnc(&["fmt", latin1.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nnc::io::not_utf8"));
    assert_eq!(
        std::fs::read(&latin1).unwrap(),
        b"// caf\xe9\nnetwork n {}\n"
    );
}

#[test]
fn stdin_to_stdout() {
    let out = nnc(&["fmt", "-"], Some(MESSY));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), TIDY);

    let out = nnc(&["fmt", "-", "--check"], Some(MESSY));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stdout).unwrap().contains("<stdin>"));
    let out = nnc(&["fmt", "-", "--check"], Some(TIDY));
    assert_eq!(out.status.code(), Some(0));

    let out = nnc(&["fmt", "-"], Some(BROKEN));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("nnc::parse::syntax"));
}

#[cfg(unix)]
#[test]
fn in_place_keeps_permissions_and_follows_symlinks() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("permissions");
    let file = dir.join("messy.nn");
    std::fs::write(&file, MESSY).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.join("link.nn");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let out = nnc(&["fmt", link.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), TIDY);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
}
