//! Turns pest's errors into diagnostics that say what was expected, in the language's terms.

use super::Rule;
use crate::diagnostics::{codes, Diagnostic};
use crate::source::{FileId, Span};
use pest::error::{Error, ErrorVariant, InputLocation};
use std::collections::BTreeSet;

/// `offset` is where `rest` starts in the file.
pub fn syntax_error(file: FileId, offset: usize, rest: &str, err: &Error<Rule>) -> Diagnostic {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((p, _)) => p,
    };
    let attempts = err.parse_attempts();
    // The farthest position any rule reached is where the mistake is.
    let pos = attempts.as_ref().map_or(pos, |a| a.max_position.max(pos));
    let pos = pos.min(rest.len());

    let mut expected: BTreeSet<String> = BTreeSet::new();
    if let ErrorVariant::ParsingError { positives, .. } = &err.variant {
        for rule in positives {
            if let Some(name) = describe_rule(*rule) {
                expected.insert(name.to_string());
            }
        }
    }
    if let ErrorVariant::CustomError { message } = &err.variant {
        if message.contains("limit") {
            return Diagnostic::error(codes::PARSE_TOO_DEEP, "the spec is too complex to parse")
                .with_label(Span::new(file, offset + pos, offset + pos), message.clone())
                .with_help(
                    "Split long expressions with `let` bindings or split the file with `import`.",
                );
        }
    }
    if let Some(attempts) = &attempts {
        // pest does not export its token type; its Display is the literal itself.
        for token in attempts.expected_tokens() {
            if let Some(name) = describe_token(&token.to_string()) {
                expected.insert(name);
            }
        }
    }
    // Operators are always possible after an operand; listing them all only adds noise.
    let mut list: Vec<String> = expected.into_iter().collect();
    if list.len() > 6 {
        list.retain(|e| e != "an operator");
    }
    let expected_text = join_or(&list);
    let (found, found_len) = found_at(&rest[pos..]);
    let message = if expected_text.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {expected_text}, found {found}")
    };
    let span = Span::new(file, offset + pos, offset + pos + found_len);
    Diagnostic::error(codes::PARSE_SYNTAX, message)
        .with_label(span, "unexpected here")
        .with_help(help_for(&list, &rest[..pos], &rest[pos..]))
}

/// Words the grammar reserves; they cannot name anything.
const KEYWORDS: &[&str] = &[
    "network", "block", "data", "train", "rules", "rule", "import", "input", "let", "output",
    "return", "repeat", "and", "or", "not", "from", "true", "false",
];

fn help_for(expected: &[String], before: &str, found: &str) -> String {
    if expected.iter().any(|e| e == "a name") {
        let word = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        };
        let previous: String = {
            let trimmed = before.trim_end();
            let rev: String = trimmed
                .chars()
                .rev()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            rev.chars().rev().collect()
        };
        for w in [word(found), previous] {
            if KEYWORDS.contains(&w.as_str()) {
                return format!("`{w}` is a keyword and cannot be used as a name; choose another, such as `{w}_in`.");
            }
        }
    }
    if found.starts_with('=') && expected.iter().any(|e| e == "`:`") {
        return "Options and fields are written `name: value`, not `name = value`.".into();
    }
    if found.starts_with(':') && expected.iter().any(|e| e == "`=`") {
        return "Bindings are written `let name = value`; `:` is for input shapes and options."
            .into();
    }
    if found.starts_with(';') {
        return "Statements end at the end of the line; remove the `;`.".into();
    }
    if expected
        .iter()
        .any(|e| e == "`)`" || e == "`]`" || e == "`}`")
    {
        return "Check that every `(`, `[` and `{` before this point is closed.".into();
    }
    "See docs/language.md for the syntax of each construct.".into()
}

fn describe_rule(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::expr_only => "an expression",
        Rule::item_at | Rule::EOI => {
            "an item (`network`, `block`, `data`, `train`, `rules` or `import`)"
        }
        Rule::expr | Rule::call | Rule::record | Rule::paren | Rule::list | Rule::repeat_expr => {
            "an expression"
        }
        Rule::number => "a number",
        Rule::string => "a string",
        Rule::ident | Rule::key => "a name",
        Rule::boolean => "`true` or `false`",
        Rule::field => "a field (`name: value`)",
        Rule::rule_decl => "a `rule`",
        Rule::input_stmt | Rule::let_stmt | Rule::output_stmt | Rule::return_stmt => {
            "a statement (`input`, `let`, `output` or `return`)"
        }
        Rule::arg | Rule::named_arg | Rule::args => "an argument",
        Rule::params => "a parameter name",
        Rule::neg | Rule::not_op => "an expression",
        Rule::pipe
        | Rule::from_op
        | Rule::iff
        | Rule::implies
        | Rule::or_op
        | Rule::and_op
        | Rule::eq
        | Rule::ne
        | Rule::le
        | Rule::ge
        | Rule::lt
        | Rule::gt
        | Rule::add
        | Rule::sub
        | Rule::mul
        | Rule::div
        | Rule::pow => "an operator",
        Rule::kw_import => "`import`",
        Rule::kw_network => "`network`",
        Rule::kw_block => "`block`",
        Rule::kw_data => "`data`",
        Rule::kw_train => "`train`",
        Rule::kw_rules => "`rules`",
        Rule::kw_rule => "`rule`",
        Rule::kw_input => "`input`",
        Rule::kw_let => "`let`",
        Rule::kw_output => "`output`",
        Rule::kw_return => "`return`",
        Rule::kw_repeat => "`repeat`",
        _ => return None,
    })
}

fn describe_token(token: &str) -> Option<String> {
    match token {
        "{" | "}" | "(" | ")" | "[" | "]" | ":" | "=" | "," | "\"" => Some(format!("`{token}`")),
        "|>" | "+" | "-" | "*" | "/" | "^" | "==" | "!=" | "<" | ">" | "<=" | ">=" | "=>"
        | "<=>" => Some("an operator".into()),
        _ => None,
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A short description of what is at the error position, and its byte length.
fn found_at(rest: &str) -> (String, usize) {
    let Some(c) = rest.chars().next() else {
        return ("end of file".into(), 0);
    };
    if c.is_alphanumeric() || c == '_' {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .take(40)
            .collect();
        let len = word.len();
        return (format!("`{word}`"), len);
    }
    if c == '\n' {
        return ("end of line".into(), 1);
    }
    if c.is_control() {
        return (format!("character U+{:04X}", c as u32), c.len_utf8());
    }
    (format!("`{c}`"), c.len_utf8())
}
