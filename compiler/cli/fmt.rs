//! `nnc fmt`: rewrite specs in canonical layout, in place, or check that they are.

use super::{ok_if, read, report, Outcome};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The specs to format, or `-` for standard input (formatted text on stdout).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Change nothing: print a diff and exit 1 if a file is not formatted.
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: &Args) -> Outcome {
    let mut ok = true;
    for file in &args.files {
        ok &= if file.as_os_str() == "-" {
            fmt_stdin(args.check)
        } else {
            fmt_file(file, args.check)
        };
    }
    ok_if(ok)
}

fn fmt_stdin(check: bool) -> bool {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("error: cannot read standard input: {e}");
        return false;
    }
    match nnc::fmt::format_source("<stdin>", &text) {
        Err(checked) => {
            report(&checked);
            false
        }
        Ok(out) if check => {
            if out != text {
                out!("{}", short_diff("<stdin>", &text, &out));
            }
            out == text
        }
        Ok(out) => {
            out!("{out}");
            true
        }
    }
}

/// Formats one file in place, or with `check` only tells whether it would change.
fn fmt_file(file: &Path, check: bool) -> bool {
    let text = match read(file).map(String::from_utf8) {
        Ok(Ok(text)) if text.len() <= nnc::MAX_FILE_BYTES => text,
        // Let the checker produce the standard diagnostic (not found, not UTF-8, too large).
        _ => {
            report(&nnc::check_path(file, &read));
            return false;
        }
    };
    let shown = file.display().to_string();
    let out = match nnc::fmt::format_source(&shown, &text) {
        Ok(out) => out,
        Err(checked) => {
            report(&checked);
            return false;
        }
    };
    if out == text {
        return true;
    }
    if check {
        out!("{}", short_diff(&shown, &text, &out));
        return false;
    }
    match write_atomically(file, &out) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("error: cannot write {shown}: {e}");
            false
        }
    }
}

/// A unified diff from `old` to `new`, cut after a screenful.
fn short_diff(name: &str, old: &str, new: &str) -> String {
    const MAX_LINES: usize = 60;
    let diff = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(name, &format!("{name} (formatted)"))
        .to_string();
    let total = diff.lines().count();
    if total <= MAX_LINES {
        return diff;
    }
    let mut short: String = diff
        .lines()
        .take(MAX_LINES)
        .flat_map(|l| [l, "\n"])
        .collect();
    short.push_str(&format!("... ({} more diff lines)\n", total - MAX_LINES));
    short
}

/// Replaces `path` by `text` atomically, keeping its permissions; through a symlink, the
/// target is rewritten rather than the link replaced.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let path = std::fs::canonicalize(path)?;
    nnc_runtime::files::write_atomic(&path, text.as_bytes())
}
