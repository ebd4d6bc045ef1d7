//! What we ship is formatted: `nnc fmt --check` passes on every spec under specs/ and on
//! every ```nn example of docs/*.md, so users who copy them start from canonical text.
//! (tests/diagnostics/ and tests/fmt/ hold deliberately unusual layouts and are not here.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn specs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("specs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("specs/ is readable")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "nn") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The ```nn blocks of docs/*.md, as (docs/<file>:<line>, text).
fn doc_examples() -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ is readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let markdown = std::fs::read_to_string(&file).unwrap();
        let mut open: Option<(usize, String)> = None;
        for (i, line) in markdown.lines().enumerate() {
            let fence = line.trim_start().strip_prefix("```");
            match (&mut open, fence) {
                (Some((start, text)), Some(_)) => {
                    out.push((format!("docs/{name}:{}", *start + 1), std::mem::take(text)));
                    open = None;
                }
                (Some((_, text)), None) => {
                    text.push_str(line);
                    text.push('\n');
                }
                (None, Some(tag)) if tag.trim() == "nn" => open = Some((i, String::new())),
                (None, Some(_)) => open = Some((i, String::from("\0skip"))),
                (None, None) => {}
            }
        }
    }
    out.retain(|(_, text)| !text.starts_with("\0skip"));
    out
}

#[test]
fn shipped_specs_are_formatted() {
    let specs = specs();
    assert!(specs.len() >= 20, "found only {} specs", specs.len());
    let out = Command::new(env!("CARGO_BIN_EXE_nnc"))
        .arg("fmt")
        .arg("--check")
        .args(&specs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`nnc fmt --check specs/**/*.nn` wants changes (run `nnc fmt` on them):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn doc_examples_are_formatted() {
    let examples = doc_examples();
    assert!(
        examples.len() >= 20,
        "found only {} examples",
        examples.len()
    );
    let mut failures = Vec::new();
    for (place, text) in &examples {
        match nnc::fmt::format_source(place, text) {
            Ok(out) if out == *text => {}
            Ok(out) => failures.push(format!("{place}: formatted, it reads\n{out}")),
            Err(_) => failures.push(format!("{place}: does not parse")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
