//! The documentation is tested against the compiler:
//! - every ```nn block in docs/*.md is a complete spec that passes the checker, and every
//!   ```nn-error block produces at least one error (in docs/diagnostics.md, the error of the
//!   section it illustrates);
//! - docs/diagnostics.md has a section for every diagnostic code, and no section for a code
//!   that does not exist;
//! - docs/language.md mentions every layer, init scheme, constructor, option, field, metric
//!   and data generator the schema knows, so the reference cannot fall behind it.

use nnc::diagnostics::{codes, render, RenderOptions};
use nnc::hir::schema::{self, CtorSet, Sig};
use std::path::{Path, PathBuf};

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")
}

fn read_doc(name: &str) -> String {
    std::fs::read_to_string(docs_dir().join(name))
        .unwrap_or_else(|e| panic!("cannot read docs/{name}: {e}"))
}

/// A fenced code block of a markdown file.
struct Block {
    /// `docs/<file>:<line of the opening fence>`
    place: String,
    tag: String,
    text: String,
    /// The last heading before the block.
    heading: String,
}

fn blocks(file: &str, markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut heading = String::new();
    let mut open: Option<(usize, String, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match &mut open {
            Some((start, tag, text)) => {
                if line.trim_start().starts_with("```") {
                    out.push(Block {
                        place: format!("docs/{file}:{}", *start + 1),
                        tag: std::mem::take(tag),
                        text: std::mem::take(text),
                        heading: heading.clone(),
                    });
                    open = None;
                } else {
                    text.push_str(line);
                    text.push('\n');
                }
            }
            None => {
                if let Some(tag) = line.trim_start().strip_prefix("```") {
                    open = Some((i, tag.trim().to_string(), String::new()));
                } else if line.starts_with('#') {
                    heading = line.trim_start_matches('#').trim().to_string();
                }
            }
        }
    }
    assert!(open.is_none(), "docs/{file}: a code block is not closed");
    out
}

/// Every markdown file of docs/ with its blocks.
fn all_blocks() -> Vec<Block> {
    let mut files: Vec<String> = std::fs::read_dir(docs_dir())
        .expect("docs/ is readable")
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.ends_with(".md").then_some(name)
        })
        .collect();
    files.sort();
    files.iter().flat_map(|f| blocks(f, &read_doc(f))).collect()
}

/// Checks an example; imports resolve relative to docs/ (tests run in the crate root).
fn check(block: &Block) -> nnc::Checked {
    nnc::check_text(&block.place, &block.text, &|p| std::fs::read(p))
}

#[test]
fn nn_examples_pass_the_checker() {
    let examples: Vec<Block> = all_blocks().into_iter().filter(|b| b.tag == "nn").collect();
    assert!(examples.len() >= 10, "expected the docs to have examples");
    for block in &examples {
        let checked = check(block);
        assert!(
            !checked.has_errors(),
            "{} is tagged `nn` but has errors:\n{}",
            block.place,
            render(&checked.diags, &checked.sources, RenderOptions::default())
        );
    }
}

#[test]
fn nn_error_examples_fail_with_their_code() {
    let examples: Vec<Block> = all_blocks()
        .into_iter()
        .filter(|b| b.tag == "nn-error")
        .collect();
    assert!(!examples.is_empty(), "expected error examples");
    for block in &examples {
        let checked = check(block);
        let errors: Vec<&str> = checked
            .diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.code)
            .collect();
        assert!(
            !errors.is_empty(),
            "{} is tagged `nn-error` but checks without errors",
            block.place
        );
        // Under a diagnostics.md heading naming a code, the example must show that code.
        if codes::ALL.contains(&block.heading.as_str()) {
            assert!(
                errors.contains(&block.heading.as_str()),
                "{} illustrates {} but reports {errors:?}:\n{}",
                block.place,
                block.heading,
                render(&checked.diags, &checked.sources, RenderOptions::default())
            );
        }
    }
}

/// Codes of the errors raised while a spec runs (data, checkpoints, sampling, training,
/// metrics, plots): not in `codes::ALL`, which lists the checker's, so they are read from
/// the sources, as `code(nnc::...)` in a miette derive or `code = "nnc::..."` in a macro.
fn runtime_codes() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![root.join("compiler"), root.join("runtime/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("source folder is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source is readable");
        for (open, close) in [("code(nnc::", ')'), ("code = \"nnc::", '"')] {
            for (at, _) in text.match_indices(open) {
                let rest = &text[at + open.len() - "nnc::".len()..];
                let code = &rest[..rest.find(close).expect("code is closed")];
                if !codes::ALL.contains(&code) && !out.iter().any(|c| c == code) {
                    out.push(code.to_string());
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_code_has_a_section() {
    let text = read_doc("diagnostics.md");
    let headings: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(str::trim)
        .collect();
    let runtime = runtime_codes();
    assert!(
        runtime.iter().any(|c| c == "nnc::checkpoint::truncated"),
        "the source scan found no run-time codes: {runtime:?}"
    );
    let all: Vec<&str> = codes::ALL
        .iter()
        .copied()
        .chain(runtime.iter().map(String::as_str))
        .collect();
    for code in &all {
        assert!(
            headings.contains(code),
            "docs/diagnostics.md has no `### {code}` section"
        );
    }
    for heading in headings.iter().filter(|h| h.starts_with("nnc::")) {
        assert!(
            all.contains(heading),
            "docs/diagnostics.md documents `{heading}`, which no error has"
        );
    }
}

/// `name` appears in the text as code: "`name`" or "`name(".
fn mentions(text: &str, name: &str) -> bool {
    text.contains(&format!("`{name}`")) || text.contains(&format!("`{name}("))
}

fn assert_sig_documented(text: &str, sig: &Sig, what: &str, missing: &mut Vec<String>) {
    if !mentions(text, sig.name) {
        missing.push(format!("{what} `{}`", sig.name));
    }
    for p in sig.params() {
        if !mentions(text, p.name) {
            missing.push(format!("option `{}` of {what} `{}`", p.name, sig.name));
        }
    }
}

fn assert_set_documented(text: &str, set: &CtorSet, missing: &mut Vec<String>) {
    for sig in set.sigs {
        assert_sig_documented(text, sig, set.what, missing);
    }
}

#[test]
fn the_reference_covers_the_schema() {
    let text = read_doc("language.md");
    let mut missing = Vec::new();
    for sig in schema::LAYERS {
        assert_sig_documented(&text, sig, "layer", &mut missing);
        // Each layer has its own heading or table row.
        let own = text.lines().any(|l| {
            (l.starts_with('#') || l.starts_with('|')) && l.contains(&format!("`{}`", sig.name))
        });
        if !own {
            missing.push(format!("a heading or table row for layer `{}`", sig.name));
        }
    }
    for set in [
        &schema::INIT,
        &schema::OPTIMIZER,
        &schema::SCHEDULE,
        &schema::LOSS,
        &schema::SAMPLER,
        &schema::SOURCE,
        &schema::SCALE,
    ] {
        assert_set_documented(&text, set, &mut missing);
    }
    for (sig, what) in [
        (&schema::DATA_FIELDS, "data block"),
        (&schema::TRAIN_FIELDS, "train block"),
        (&schema::RULES_FIELDS, "rules block"),
        (&schema::RULE_ARGS, "rule"),
        (&schema::DISTILL_FIELDS, "distill record"),
    ] {
        for p in sig.params() {
            if !mentions(&text, p.name) {
                missing.push(format!("field `{}` of the {what}", p.name));
            }
        }
    }
    for metric in schema::METRICS {
        if !mentions(&text, metric) {
            missing.push(format!("metric `{metric}`"));
        }
    }
    for info in nnc_runtime::data::BUILTINS {
        if !mentions(&text, info.name) && !text.contains(&format!("\"{}\"", info.name)) {
            missing.push(format!("data set `{}`", info.name));
        }
        for p in info.params {
            if !mentions(&text, p.name) {
                missing.push(format!(
                    "parameter `{}` of generator `{}`",
                    p.name, info.name
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/language.md does not mention:\n  {}",
        missing.join("\n  ")
    );
}

/// The "How to add ..." sections of docs/ARCHITECTURE.md name the files a change touches;
/// every file or folder they name in backticks must exist.
#[test]
fn how_to_add_sections_name_existing_files() {
    let text = read_doc("ARCHITECTURE.md");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut named = 0;
    let mut missing = Vec::new();
    for section in text.split("\n## ").filter(|s| s.starts_with("How to add")) {
        for (i, quoted) in section.split('`').enumerate() {
            let is_path = i % 2 == 1
                && quoted.contains('/')
                && !quoted.contains(' ')
                && quoted
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_lowercase());
            if is_path {
                named += 1;
                if !root.join(quoted).exists() {
                    missing.push(quoted.to_string());
                }
            }
        }
    }
    assert!(
        named >= 20,
        "found only {named} paths in the How to add sections"
    );
    assert!(
        missing.is_empty(),
        "docs/ARCHITECTURE.md names missing files: {missing:?}"
    );
}

#[test]
fn block_extraction_sees_tags_and_headings() {
    let md = "# T\n### nnc::a\n```nn-error\nx\n```\ntext\n```nn\ny\n```\n";
    let b = blocks("t.md", md);
    assert_eq!(b.len(), 2);
    assert_eq!(
        (b[0].tag.as_str(), b[0].heading.as_str()),
        ("nn-error", "nnc::a")
    );
    assert_eq!((b[1].tag.as_str(), b[1].text.as_str()), ("nn", "y\n"));
    assert_eq!(b[0].place, "docs/t.md:3");
}
