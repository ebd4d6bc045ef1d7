//! pest pairs -> AST. One method per grammar rule; operators by precedence climbing.

use super::ast::*;
use super::Rule;
use crate::diagnostics::{codes, Diagnostic, Diagnostics};
use crate::source::{FileId, Span};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::sync::OnceLock;

/// Expressions deeper than this are refused: later stages walk them recursively.
pub const MAX_EXPR_DEPTH: u32 = 96;
/// Prefix operators in a row, and right-associative operators in one expression, are
/// bounded too: pest's precedence climber recurses on them.
const MAX_CHAIN: usize = 64;
/// The depth of an expression already refused: what encloses it is refused silently, so a
/// flat chain of 10^6 terms gets one diagnostic, not one per [`MAX_EXPR_DEPTH`] terms.
const POISONED: u32 = u32::MAX;

fn pratt() -> &'static PrattParser<Rule> {
    static PRATT: OnceLock<PrattParser<Rule>> = OnceLock::new();
    // Lowest precedence first.
    PRATT.get_or_init(|| {
        PrattParser::new()
            .op(Op::infix(Rule::from_op, Assoc::Left))
            .op(Op::infix(Rule::pipe, Assoc::Left))
            .op(Op::infix(Rule::iff, Assoc::Left) | Op::infix(Rule::implies, Assoc::Right))
            .op(Op::infix(Rule::or_op, Assoc::Left))
            .op(Op::infix(Rule::and_op, Assoc::Left))
            .op(Op::prefix(Rule::not_op))
            .op(Op::infix(Rule::eq, Assoc::Left)
                | Op::infix(Rule::ne, Assoc::Left)
                | Op::infix(Rule::le, Assoc::Left)
                | Op::infix(Rule::ge, Assoc::Left)
                | Op::infix(Rule::lt, Assoc::Left)
                | Op::infix(Rule::gt, Assoc::Left))
            .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
            .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
            .op(Op::prefix(Rule::neg))
            .op(Op::infix(Rule::pow, Assoc::Right))
    })
}

/// A part of a pair that the grammar (`grammar/nn.pest`) always produces: an item's name,
/// a field's value, a call's arguments. Only a grammar change that this file does not follow
/// could make it absent, and every spec of the grammar-based generator and of the fuzz
/// corpus (`tests/robustness.rs`, `tests/fmt_props.rs`) goes through this builder.
pub(super) fn grammar<T>(part: Option<T>, what: &str) -> T {
    part.unwrap_or_else(|| unreachable!("the grammar guarantees {what}"))
}

pub struct Builder<'d> {
    file: FileId,
    offset: usize,
    diags: &'d mut Diagnostics,
}

impl<'d> Builder<'d> {
    pub fn new(file: FileId, offset: usize, diags: &'d mut Diagnostics) -> Self {
        Builder {
            file,
            offset,
            diags,
        }
    }

    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        let end = s.start() + content_end(pair.as_str());
        Span::new(self.file, self.offset + s.start(), self.offset + end)
    }

    fn ident(&self, pair: Pair<Rule>) -> Ident {
        debug_assert!(matches!(pair.as_rule(), Rule::ident | Rule::key));
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    /// `None` at the end of input.
    pub fn item_at(&mut self, pair: Pair<Rule>) -> Option<Item> {
        let item = pair.into_inner().find(|p| p.as_rule() != Rule::EOI)?;
        Some(self.item(item))
    }

    fn item(&mut self, pair: Pair<Rule>) -> Item {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = significant(pair.into_inner());
        match rule {
            Rule::import_item => {
                let s = grammar(inner.next(), "import has a string");
                let path_span = self.span(&s);
                Item::Import(Import {
                    path: self.string(s),
                    path_span,
                    span,
                })
            }
            Rule::network_item => {
                let name = self.ident(grammar(inner.next(), "network has a name"));
                let body = inner.map(|p| self.stmt(p)).collect();
                Item::Network(Network { name, body, span })
            }
            Rule::block_item => {
                let name = self.ident(grammar(inner.next(), "block has a name"));
                let params = grammar(inner.next(), "block has params")
                    .into_inner()
                    .map(|p| self.ident(p))
                    .collect();
                let body = inner.map(|p| self.stmt(p)).collect();
                Item::Block(Block {
                    name,
                    params,
                    body,
                    span,
                })
            }
            Rule::data_item | Rule::train_item => {
                let mut name = None;
                let mut fields = Vec::new();
                for p in inner {
                    match p.as_rule() {
                        Rule::ident => name = Some(self.ident(p)),
                        _ => fields.push(self.field(p)),
                    }
                }
                let section = Section { name, fields, span };
                if rule == Rule::data_item {
                    Item::Data(section)
                } else {
                    Item::Train(section)
                }
            }
            Rule::rules_item => {
                let name = Some(self.ident(grammar(inner.next(), "rules has a name")));
                let mut fields = Vec::new();
                let mut rules = Vec::new();
                for p in inner {
                    match p.as_rule() {
                        Rule::rule_decl => rules.push(self.rule_decl(p)),
                        _ => fields.push(self.field(p)),
                    }
                }
                Item::Rules(Rules {
                    section: Section { name, fields, span },
                    rules,
                })
            }
            r => unreachable!("grammar: unexpected item {r:?}"),
        }
    }

    fn field(&mut self, pair: Pair<Rule>) -> Field {
        let mut inner = pair.into_inner();
        let key = self.ident(grammar(inner.next(), "field key"));
        let value = self.expr(grammar(inner.next(), "field value"));
        Field { key, value }
    }

    fn rule_decl(&mut self, pair: Pair<Rule>) -> RuleDecl {
        let span = self.span(&pair);
        let mut inner = significant(pair.into_inner());
        let name = self.ident(grammar(inner.next(), "rule name"));
        let mut args = Vec::new();
        let mut formula = None;
        for p in inner {
            match p.as_rule() {
                Rule::args => args = self.args(p),
                _ => formula = Some(self.expr(p)),
            }
        }
        RuleDecl {
            name,
            args,
            formula: grammar(formula, "rule formula"),
            span,
        }
    }

    fn stmt(&mut self, pair: Pair<Rule>) -> Stmt {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = significant(pair.into_inner());
        if rule == Rule::return_stmt {
            let value = self.expr(grammar(inner.next(), "return value"));
            return Stmt::Return { value, span };
        }
        let name = self.ident(grammar(inner.next(), "statement name"));
        let value = self.expr(grammar(inner.next(), "statement value"));
        match rule {
            Rule::input_stmt => Stmt::Input {
                name,
                shape: value,
                span,
            },
            Rule::let_stmt => Stmt::Let { name, value, span },
            Rule::output_stmt => Stmt::Output { name, value, span },
            r => unreachable!("grammar: unexpected statement {r:?}"),
        }
    }

    fn args(&mut self, pair: Pair<Rule>) -> Vec<Arg> {
        pair.into_inner()
            .map(|arg| {
                let inner = grammar(arg.into_inner().next(), "arg content");
                match inner.as_rule() {
                    Rule::named_arg => {
                        let (name, value) = self.named_arg(inner);
                        Arg {
                            name: Some(name),
                            value,
                        }
                    }
                    _ => Arg {
                        name: None,
                        value: self.expr(inner),
                    },
                }
            })
            .collect()
    }

    fn named_arg(&mut self, pair: Pair<Rule>) -> (Ident, Expr) {
        let mut inner = pair.into_inner();
        let name = self.ident(grammar(inner.next(), "arg name"));
        let value = self.expr(grammar(inner.next(), "arg value"));
        (name, value)
    }

    fn string(&mut self, pair: Pair<Rule>) -> String {
        let inner = grammar(pair.clone().into_inner().next(), "string body");
        let raw = inner.as_str();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                other => {
                    let shown = other.map_or(String::new(), |c| c.to_string());
                    self.diags.push(
                        Diagnostic::error(
                            codes::PARSE_STRING,
                            format!("unknown escape `\\{shown}` in a string"),
                        )
                        .with_label(self.span(&pair), "in this string")
                        .with_help("The escapes are \\n, \\t, \\\" and \\\\."),
                    );
                }
            }
        }
        out
    }

    fn number(&mut self, pair: &Pair<Rule>) -> ExprKind {
        let text = pair.as_str();
        let value: f64 = text.parse().unwrap_or(f64::INFINITY);
        if !value.is_finite() {
            self.diags.push(
                Diagnostic::error(
                    codes::PARSE_NUMBER,
                    format!("number `{text}` is out of range"),
                )
                .with_label(self.span(pair), "too large for a 64-bit float")
                .with_help("Numbers must be finite 64-bit floats (at most about 1.8e308)."),
            );
            return ExprKind::Error;
        }
        let is_int = !text.contains(['.', 'e', 'E']);
        ExprKind::Number(Number {
            value,
            int: if is_int { text.parse().ok() } else { None },
            text: text.to_string(),
        })
    }

    fn too_deep(&mut self, span: Span, what: &str) -> (Expr, u32) {
        self.diags.push(
            Diagnostic::error(codes::PARSE_TOO_DEEP, format!("{what} too deeply"))
                .with_label(span, "in this expression")
                .with_help("Split the expression with `let` bindings."),
        );
        (
            Expr {
                kind: ExprKind::Error,
                span,
            },
            POISONED,
        )
    }

    pub fn expr(&mut self, pair: Pair<Rule>) -> Expr {
        self.expr_depth(pair).0
    }

    /// Builds an expression and returns its depth, refusing ones deeper than
    /// [`MAX_EXPR_DEPTH`].
    fn expr_depth(&mut self, pair: Pair<Rule>) -> (Expr, u32) {
        let span = self.span(&pair);
        if pair.as_rule() != Rule::expr {
            return self.primary(pair);
        }
        // Guard pest's recursive precedence climber.
        let mut prefix_run = 0;
        let mut right_assoc = 0;
        for p in pair.clone().into_inner() {
            match p.as_rule() {
                Rule::neg | Rule::not_op => {
                    prefix_run += 1;
                    if prefix_run > MAX_CHAIN {
                        return self.too_deep(span, "prefix operators nested");
                    }
                }
                Rule::pow | Rule::implies => {
                    right_assoc += 1;
                    if right_assoc > MAX_CHAIN {
                        return self.too_deep(span, "operators chained");
                    }
                }
                _ => prefix_run = 0,
            }
        }
        let file = self.file;
        let offset = self.offset;
        let cell = std::cell::RefCell::new(&mut *self);
        let span_of = |p: &Pair<Rule>| {
            let s = p.as_span();
            Span::new(
                file,
                offset + s.start(),
                offset + s.start() + content_end(p.as_str()),
            )
        };
        let (expr, depth) = pratt()
            .map_primary(|p| cell.borrow_mut().primary(p))
            .map_prefix(|op, (rhs, d)| {
                let op_span = span_of(&op);
                let op = match op.as_rule() {
                    Rule::neg => UnaryOp::Neg,
                    _ => UnaryOp::Not,
                };
                let span = op_span.to(rhs.span);
                let e = Expr {
                    kind: ExprKind::Unary {
                        op,
                        operand: Box::new(rhs),
                    },
                    span,
                };
                cell.borrow_mut().limit(e, d.saturating_add(1))
            })
            .map_infix(|(lhs, dl), op, (rhs, dr)| {
                let span = lhs.span.to(rhs.span);
                if op.as_rule() == Rule::pipe {
                    // Flatten `a |> f |> g` into one pipe node.
                    return match lhs.kind {
                        ExprKind::Pipe { head, mut stages } => {
                            stages.push(rhs);
                            let e = Expr {
                                kind: ExprKind::Pipe { head, stages },
                                span,
                            };
                            (e, dl.max(dr.saturating_add(1)))
                        }
                        _ => {
                            let e = Expr {
                                kind: ExprKind::Pipe {
                                    head: Box::new(lhs),
                                    stages: vec![rhs],
                                },
                                span,
                            };
                            cell.borrow_mut().limit(e, dl.max(dr).saturating_add(1))
                        }
                    };
                }
                let op = binary_op(op.as_rule());
                let e = Expr {
                    kind: ExprKind::Binary {
                        op,
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                    },
                    span,
                };
                cell.borrow_mut().limit(e, dl.max(dr).saturating_add(1))
            })
            .parse(pair.into_inner());
        (Expr { span, ..expr }, depth)
    }

    fn limit(&mut self, e: Expr, depth: u32) -> (Expr, u32) {
        if depth == POISONED {
            let kind = ExprKind::Error;
            (Expr { kind, span: e.span }, POISONED)
        } else if depth > MAX_EXPR_DEPTH {
            self.too_deep(e.span, "expressions nested")
        } else {
            (e, depth)
        }
    }

    fn primary(&mut self, pair: Pair<Rule>) -> (Expr, u32) {
        let span = self.span(&pair);
        let mut depth = 1;
        let kind = match pair.as_rule() {
            Rule::number => self.number(&pair),
            Rule::string => ExprKind::Str(self.string(pair)),
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::ident => ExprKind::Name(pair.as_str().to_string()),
            Rule::paren => {
                let inner = grammar(pair.into_inner().next(), "paren content");
                let (e, d) = self.expr_depth(inner);
                // Keep the parentheses in the span so errors point at what was written.
                return self.limit(Expr { span, ..e }, d);
            }
            Rule::list => {
                let mut items = Vec::new();
                for p in pair.into_inner() {
                    let (e, d) = self.expr_depth(p);
                    depth = depth.max(d.saturating_add(1));
                    items.push(e);
                }
                ExprKind::List(items)
            }
            Rule::record => {
                let mut fields = Vec::new();
                for p in pair.into_inner() {
                    let (name, value) = self.named_arg(p);
                    fields.push((name, value));
                }
                depth = 1 + fields.iter().map(|(_, e)| depth_of(e)).max().unwrap_or(0);
                ExprKind::Record(fields)
            }
            Rule::call => {
                let mut inner = pair.into_inner();
                let callee = self.ident(grammar(inner.next(), "callee"));
                let args = self.args(grammar(inner.next(), "call args"));
                depth = 1 + args.iter().map(|a| depth_of(&a.value)).max().unwrap_or(0);
                ExprKind::Call { callee, args }
            }
            Rule::repeat_expr => {
                let mut inner = significant(pair.into_inner());
                let (count, _) = self.primary(grammar(inner.next(), "repeat count"));
                let mut body = Vec::new();
                let mut result = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::let_stmt => body.push(self.stmt(p)),
                        _ => result = Some(self.expr(p)),
                    }
                }
                let result = grammar(result, "repeat result");
                depth = 1 + depth_of(&result);
                ExprKind::Repeat {
                    count: Box::new(count),
                    body,
                    result: Box::new(result),
                }
            }
            Rule::expr => return self.expr_depth(pair),
            r => unreachable!("grammar: unexpected primary {r:?}"),
        };
        self.limit(Expr { kind, span }, depth)
    }
}

/// The length of `text` without trailing whitespace and comments: pest includes the
/// trivia skipped before a failed repetition in the enclosing rule's span.
fn content_end(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut end = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                end = i.min(bytes.len());
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ => end = i + 1,
        }
        i += 1;
    }
    // Never cut a multi-byte character.
    while end < text.len() && !text.is_char_boundary(end) {
        end += 1;
    }
    end.max(if text.is_empty() { 0 } else { 1 }).min(text.len())
}

/// Depth of an already-built (hence already bounded) expression, without recursion limits.
fn depth_of(e: &Expr) -> u32 {
    match &e.kind {
        ExprKind::List(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
        ExprKind::Record(fields) => 1 + fields.iter().map(|(_, e)| depth_of(e)).max().unwrap_or(0),
        ExprKind::Call { args, .. } => {
            1 + args.iter().map(|a| depth_of(&a.value)).max().unwrap_or(0)
        }
        ExprKind::Unary { operand, .. } => 1 + depth_of(operand),
        ExprKind::Binary { lhs, rhs, .. } => 1 + depth_of(lhs).max(depth_of(rhs)),
        ExprKind::Pipe { head, stages } => {
            1 + stages
                .iter()
                .map(depth_of)
                .max()
                .unwrap_or(0)
                .max(depth_of(head))
        }
        ExprKind::Repeat { result, .. } => 1 + depth_of(result),
        _ => 1,
    }
}

/// Keyword tokens carry no information once the rule is known.
fn significant(pairs: Pairs<Rule>) -> impl Iterator<Item = Pair<Rule>> {
    pairs.filter(|p| {
        !matches!(
            p.as_rule(),
            Rule::kw_import
                | Rule::kw_network
                | Rule::kw_block
                | Rule::kw_data
                | Rule::kw_train
                | Rule::kw_rules
                | Rule::kw_rule
                | Rule::kw_input
                | Rule::kw_let
                | Rule::kw_output
                | Rule::kw_return
                | Rule::kw_repeat
        )
    })
}

fn binary_op(rule: Rule) -> BinaryOp {
    match rule {
        Rule::from_op => BinaryOp::From,
        Rule::iff => BinaryOp::Iff,
        Rule::implies => BinaryOp::Implies,
        Rule::or_op => BinaryOp::Or,
        Rule::and_op => BinaryOp::And,
        Rule::eq => BinaryOp::Eq,
        Rule::ne => BinaryOp::Ne,
        Rule::le => BinaryOp::Le,
        Rule::ge => BinaryOp::Ge,
        Rule::lt => BinaryOp::Lt,
        Rule::gt => BinaryOp::Gt,
        Rule::add => BinaryOp::Add,
        Rule::sub => BinaryOp::Sub,
        Rule::mul => BinaryOp::Mul,
        Rule::div => BinaryOp::Div,
        Rule::pow => BinaryOp::Pow,
        r => unreachable!("grammar: {r:?} is not a binary operator"),
    }
}
