//! Stage 1, parsing: source text -> [`ast::File`] plus diagnostics. Never panics.
//!
//! pest (grammar/nn.pest) parses one item at a time; after a syntax error the parser
//! resumes at the next line that starts with an item keyword, so independent mistakes in
//! several items are all reported. Inputs that would make a recursive parser run out of
//! stack (thousands of nested brackets) are refused up front with their own diagnostic.

pub mod ast;
mod build;
mod errors;
pub mod print;

use crate::diagnostics::{codes, Diagnostic, Diagnostics};
use crate::source::{FileId, Span};
use pest::Parser as _;
use std::num::NonZeroUsize;

#[derive(pest_derive::Parser)]
#[grammar = "grammar/nn.pest"]
pub(crate) struct NnParser;

/// Brackets nested deeper than this are refused before parsing.
pub const MAX_NESTING: usize = 100;

/// Item keywords: where the parser resumes after a syntax error.
const ITEM_KEYWORDS: &[&str] = &["network", "block", "data", "train", "rules", "import"];

/// Parses one file. Always returns a (possibly partial) AST.
pub fn parse_file(file: FileId, text: &str) -> (ast::File, Diagnostics) {
    // Bounds the work pest may do on adversarial input (backtracking); a real spec of
    // 10,000 layers uses a few million calls.
    pest::set_call_limit(NonZeroUsize::new(200_000_000));

    let mut diags = Vec::new();
    if let Some(pos) = too_deep(text) {
        diags.push(
            Diagnostic::error(codes::PARSE_TOO_DEEP, "brackets nested too deeply")
                .with_label(
                    Span::new(file, pos, pos + 1),
                    format!("more than {MAX_NESTING} levels deep here"),
                )
                .with_help("Split the expression with `let` bindings."),
        );
        return (ast::File::default(), diags);
    }

    let mut items = Vec::new();
    let mut offset = 0;
    while offset <= text.len() {
        let rest = &text[offset..];
        match NnParser::parse(Rule::item_at, rest) {
            Ok(mut pairs) => {
                let item_at = build::grammar(pairs.next(), "one pair for item_at");
                let end = offset + item_at.as_span().end();
                let mut builder = build::Builder::new(file, offset, &mut diags);
                match builder.item_at(item_at) {
                    Some(item) => items.push(item),
                    None => break, // end of input
                }
                if end == offset {
                    break;
                }
                offset = end;
            }
            Err(_) => {
                // Parse again with pest's attempt tracking, which names the expected
                // tokens but slows every parse down; only failures pay for it.
                // The setting is process-wide: the lock keeps concurrent parses (tests run
                // in threads) from switching it off under us.
                static DETAIL: std::sync::Mutex<()> = std::sync::Mutex::new(());
                let guard = DETAIL.lock().unwrap_or_else(|e| e.into_inner());
                pest::set_error_detail(true);
                let err = NnParser::parse(Rule::item_at, rest).err();
                pest::set_error_detail(false);
                drop(guard);
                let Some(err) = err else { break };
                let diag = errors::syntax_error(file, offset, rest, &err);
                let error_at = diag.span().map_or(offset, |s| s.start as usize);
                diags.push(diag);
                match next_item_start(text, error_at.max(offset + 1)) {
                    Some(next) => offset = next,
                    None => break,
                }
            }
        }
    }
    (ast::File { items }, diags)
}

/// Parses the lone expression at `text[offset..]` (a `--set` value); spans are in `text`.
pub fn parse_expr(file: FileId, text: &str, offset: usize) -> (Option<ast::Expr>, Diagnostics) {
    let mut diags = Vec::new();
    let rest = &text[offset.min(text.len())..];
    if let Some(pos) = too_deep(rest) {
        diags.push(
            Diagnostic::error(codes::PARSE_TOO_DEEP, "brackets nested too deeply")
                .with_label(Span::new(file, offset + pos, offset + pos + 1), "too deep")
                .with_help("Simplify the value."),
        );
        return (None, diags);
    }
    match NnParser::parse(Rule::expr_only, rest) {
        Ok(mut pairs) => {
            let pair = pairs.next().and_then(|p| p.into_inner().next());
            let expr = pair.map(|p| build::Builder::new(file, offset, &mut diags).expr(p));
            (expr, diags)
        }
        Err(err) => {
            diags.push(errors::syntax_error(file, offset, rest, &err));
            (None, diags)
        }
    }
}

/// The byte offset of the first bracket nested deeper than [`MAX_NESTING`], skipping
/// strings and comments.
fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The start of the first line at or after `from` that begins with an item keyword.
fn next_item_start(text: &str, from: usize) -> Option<usize> {
    let mut from = from.min(text.len());
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let mut line_start = text[..from].rfind('\n').map_or(0, |i| i + 1);
    // The line holding the error is skipped: the item that failed starts there or earlier.
    loop {
        let next = text[line_start..].find('\n')? + line_start + 1;
        line_start = next;
        let line = text[line_start..].trim_start_matches([' ', '\t']);
        let starts_item = ITEM_KEYWORDS.iter().any(|kw| {
            // `data: x` in a train block is a field, not an item.
            line.strip_prefix(kw)
                .is_some_and(|after| after.starts_with([' ', '\t', '{', '"']))
        });
        if starts_item && line_start >= from {
            return Some(line_start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_bounded() {
        let deep = format!(
            "network n {{ let x = {}1{} }}",
            "(".repeat(10_000),
            ")".repeat(10_000)
        );
        let (_, diags) = parse_file(FileId(0), &deep);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, codes::PARSE_TOO_DEEP);
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let text = format!(
            "// {}\ndata d {{ source: csv(\"{}\") }}",
            "(".repeat(500),
            "[".repeat(500)
        );
        let (file, diags) = parse_file(FileId(0), &text);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(file.items.len(), 1);
    }

    #[test]
    fn recovers_at_the_next_item() {
        let text = "network a { let = }\nnetwork b { input x: [1] }\ndata d { split 0.5 }\n";
        let (file, diags) = parse_file(FileId(0), text);
        assert_eq!(diags.len(), 2, "{diags:?}");
        assert_eq!(file.items.len(), 1);
    }
}
