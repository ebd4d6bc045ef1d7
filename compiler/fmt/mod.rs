//! `nnc fmt`: source text -> the same spec in canonical layout, comments kept.
//!
//! The file is parsed (a file with syntax errors is refused with the parser's
//! diagnostics), the AST is laid out as a [`doc::Doc`] with the comments found by
//! [`trivia::scan`] put back around the nodes they belong to ([`layout`], [`expr`]), and
//! the document is printed in 100 columns. The result is then parsed again and compared
//! with the input (same tree modulo spans, same comments): if the formatter ever got
//! something wrong it reports an internal error instead of returning a different spec.
//!
//! docs/cli.md lists the formatting rules.

mod doc;
mod expr;
mod layout;
mod trivia;
pub mod verify;

use crate::diagnostics::{codes, has_errors, Diagnostic};
use crate::source::FileId;
use crate::syntax::ast::File;
use crate::Checked;

/// The line width pipes and argument lists are fitted into.
pub const WIDTH: usize = 100;

/// Formats `text` (named `name` in diagnostics). Returns the parse diagnostics, with the
/// source to render them, if it does not parse, and an internal-error diagnostic if the
/// formatted text would not mean the same; the caller then leaves the file alone.
pub fn format_source(name: &str, text: &str) -> Result<String, Box<Checked>> {
    let mut parsed = crate::parse_text(name, text);
    if parsed.has_errors() {
        return Err(Box::new(parsed));
    }
    let out = format_parsed(text, &parsed.files[0]);
    let (again, diags) = crate::syntax::parse_file(FileId(0), &out);
    let problem = if has_errors(&diags) || !verify::same_ast(&again, &parsed.files[0]) {
        Some("formatting would change the meaning of this file")
    } else if verify::comment_texts(text) != verify::comment_texts(&out) {
        Some("formatting would lose or duplicate a comment in this file")
    } else {
        None
    };
    match problem {
        None => Ok(out),
        Some(message) => {
            parsed
                .diags
                .push(Diagnostic::error(codes::FMT_INTERNAL, message).with_help(
                    "This is a bug in `nnc fmt`; the file was left unchanged. \
                     Please report it with the file.",
                ));
            Err(Box::new(parsed))
        }
    }
}

/// Lays out an already parsed file whose source is `text`, without the safety check of
/// [`format_source`]. The result ends with one newline, or is empty for an empty file.
pub fn format_parsed(text: &str, file: &File) -> String {
    let trivia = trivia::scan(text);
    let mut layout = layout::Layout::new(text, &trivia);
    // A comment that found no place would be missing from the output: `format_source`
    // compares the comments of both texts.
    let doc = layout.file(file);
    let mut out = doc::print(&doc, WIDTH);
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
