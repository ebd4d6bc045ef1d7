//! nnc: a compiler for neural-network specifications.
//!
//! The pipeline, top to bottom (docs/ARCHITECTURE.md has the map):
//! source text -> [`syntax`] (AST) -> [`hir`] (resolved, shape-checked layer graph).
//! The library does no IO of its own: callers pass a function that reads files.

// Input never panics (docs/ARCHITECTURE.md, "Panics"): no unwrap, and each expect states the
// invariant that rules it out, with an allow naming it. Tests may unwrap.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod budget;
pub mod diagnostics;
pub mod fmt;
pub mod hir;
pub mod inspect;
pub mod jit;
pub mod lower;
pub mod opt;
pub mod overrides;
pub mod prim;
pub mod source;
pub mod summary;
pub mod syntax;
pub mod train;

use diagnostics::{codes, Diagnostic, Diagnostics};
use source::{FileId, SourceMap, Span};
use std::path::{Path, PathBuf};

/// Specs larger than this are refused rather than parsed.
pub const MAX_FILE_BYTES: usize = 16 << 20;

/// The result of checking a spec: every file read, their ASTs, the resolved program and
/// every diagnostic. `files[0]` is the spec itself; imports follow.
#[derive(Debug, Default)]
pub struct Checked {
    pub sources: SourceMap,
    pub files: Vec<syntax::ast::File>,
    pub program: hir::Program,
    pub diags: Diagnostics,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        diagnostics::has_errors(&self.diags)
    }
}

/// Reads a file's bytes; the CLI passes `std::fs::read`, tests can pass a map.
pub type ReadFile<'a> = &'a dyn Fn(&Path) -> std::io::Result<Vec<u8>>;

/// Checks a spec given as text. Its imports are read with `read`, relative to `name`.
pub fn check_text(name: &str, text: &str, read: ReadFile) -> Checked {
    let mut checked = Checked::default();
    let id = checked.sources.add(name, text);
    let mut loaded = vec![PathBuf::from(name)];
    parse_with_imports(&mut checked, id, Path::new(name), read, &mut loaded);
    refuse_empty(&mut checked);
    checked.program = hir::resolve(&checked.files, &mut checked.diags);
    checked
}

/// Checks the spec at `path`, reading it and its imports with `read`.
pub fn check_path(path: &Path, read: ReadFile) -> Checked {
    check_path_with(path, read, &[])
}

/// Like [`check_path`], with `--set KEY=VALUE` overrides applied to the parsed spec first.
pub fn check_path_with(path: &Path, read: ReadFile, overrides: &[String]) -> Checked {
    let mut checked = Checked::default();
    if let Some(id) = read_source(&mut checked, path, read, None) {
        let mut loaded = vec![path.to_path_buf()];
        parse_with_imports(&mut checked, id, path, read, &mut loaded);
        refuse_empty(&mut checked);
        let diags = overrides::apply(&mut checked.files, &mut checked.sources, overrides);
        checked.diags.extend(diags);
        checked.program = hir::resolve(&checked.files, &mut checked.diags);
    }
    checked
}

/// A spec without items (empty, or only comments) is an error: `check` saying "ok (0
/// networks)" while `summary` and `run` fail would send a user looking in the wrong place.
/// Imported files may be empty.
fn refuse_empty(checked: &mut Checked) {
    let Some(file) = checked.files.first() else {
        return;
    };
    if file.items.is_empty() && !checked.has_errors() {
        let name = &checked.sources.get(FileId(0)).name;
        checked.diags.push(
            Diagnostic::error(codes::PARSE_EMPTY, format!("{name} is empty"))
                .with_help("A spec declares at least one item: `network`, `block`, `data`, `train`, `rules` or `import` (docs/language.md)."),
        );
    }
}

/// Reads and validates one file; reports problems at `import` (the import's string) if
/// given. Returns its id in the source map.
fn read_source(
    checked: &mut Checked,
    path: &Path,
    read: ReadFile,
    import: Option<Span>,
) -> Option<FileId> {
    let shown = path.display().to_string();
    let fail = |checked: &mut Checked, code, message: String, help: &str| {
        let mut diag = Diagnostic::error(code, message).with_help(help);
        if let Some(span) = import {
            diag = diag.with_label(span, "imported here");
        }
        checked.diags.push(diag);
        None
    };
    let bytes = match read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return fail(
                checked,
                codes::IO_NOT_FOUND,
                format!("file not found: {shown}"),
                "Check the path; imports are relative to the importing file.",
            );
        }
        Err(e) => {
            return fail(
                checked,
                codes::IO_READ,
                format!("cannot read {shown}: {e}"),
                "Check that the path is a readable file.",
            );
        }
    };
    if bytes.len() > MAX_FILE_BYTES {
        return fail(
            checked,
            codes::IO_TOO_LARGE,
            format!(
                "{shown} is {} bytes; specs are limited to {MAX_FILE_BYTES} bytes",
                bytes.len()
            ),
            "Split the spec with `import`.",
        );
    }
    match String::from_utf8(bytes) {
        Ok(text) => Some(checked.sources.add(shown, text)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let byte = e.as_bytes()[at];
            let id = checked.sources.add(shown.clone(), printable(e.as_bytes()));
            checked.diags.push(
                Diagnostic::error(codes::IO_NOT_UTF8, format!("{shown} is not valid UTF-8"))
                    .with_label(
                        Span::new(id, at, at + 1),
                        format!("invalid byte 0x{byte:02x} at offset {at}"),
                    )
                    .with_help("Save the spec as UTF-8 text."),
            );
            None
        }
    }
}

/// `bytes` as text that is safe to print on a terminal, byte for byte (so that offsets
/// stay exact): every invalid byte and every control character but newline and tab
/// becomes `?`. A binary file reported as not UTF-8 must not send escape sequences.
fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' | '\t' => out.push(c),
                c if c.is_control() => out.extend(std::iter::repeat_n('?', c.len_utf8())),
                c => out.push(c),
            }
        }
        out.extend(std::iter::repeat_n('?', chunk.invalid().len()));
    }
    out
}

fn parse_with_imports(
    checked: &mut Checked,
    id: FileId,
    path: &Path,
    read: ReadFile,
    loaded: &mut Vec<PathBuf>,
) {
    let (file, diags) = syntax::parse_file(id, &checked.sources.get(id).text);
    checked.diags.extend(diags);
    let imports: Vec<(String, Span)> = file
        .items
        .iter()
        .filter_map(|item| match item {
            syntax::ast::Item::Import(i) => Some((i.path.clone(), i.path_span)),
            _ => None,
        })
        .collect();
    checked.files.push(file);
    let dir = path.parent().unwrap_or(Path::new(""));
    for (rel, span) in imports {
        let target = dir.join(&rel);
        // Each file is read once: a diamond or a cycle of imports brings its items in once.
        if loaded.contains(&target) {
            continue;
        }
        loaded.push(target.clone());
        if let Some(child) = read_source(checked, &target, read, Some(span)) {
            parse_with_imports(checked, child, &target, read, loaded);
        }
    }
}

/// Parses only (for `nnc fmt` and `nnc ir --stage ast`): no imports, no resolution.
pub fn parse_text(name: &str, text: &str) -> Checked {
    let mut checked = Checked::default();
    let id = checked.sources.add(name, text);
    let (file, diags) = syntax::parse_file(id, text);
    checked.files.push(file);
    checked.diags = diags;
    checked
}
