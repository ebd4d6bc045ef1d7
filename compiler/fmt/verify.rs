//! What "the formatter changed nothing but layout" means, checkable: the same AST once
//! spans are ignored, and the same comments.

use super::trivia;
use crate::source::Span;
use crate::syntax::ast::*;

/// `file` with every span zeroed, so that two parses of differently laid out text compare
/// equal with `==` exactly when they mean the same thing.
pub fn without_spans(file: &File) -> File {
    let mut file = file.clone();
    for item in &mut file.items {
        match item {
            Item::Import(i) => {
                i.path_span = Span::default();
                i.span = Span::default();
            }
            Item::Network(n) => {
                n.name.span = Span::default();
                n.span = Span::default();
                n.body.iter_mut().for_each(stmt);
            }
            Item::Block(b) => {
                b.name.span = Span::default();
                b.span = Span::default();
                b.params.iter_mut().for_each(|p| p.span = Span::default());
                b.body.iter_mut().for_each(stmt);
            }
            Item::Data(s) | Item::Train(s) => section(s),
            Item::Rules(r) => {
                section(&mut r.section);
                for rule in &mut r.rules {
                    rule.name.span = Span::default();
                    rule.span = Span::default();
                    rule.args.iter_mut().for_each(arg);
                    expr(&mut rule.formula);
                }
            }
        }
    }
    file
}

/// Whether two files are the same tree, spans aside.
pub fn same_ast(a: &File, b: &File) -> bool {
    without_spans(a) == without_spans(b)
}

/// The texts of the comments in `text`, sorted: formatting must keep this multiset.
pub fn comment_texts(text: &str) -> Vec<String> {
    let mut texts: Vec<String> = trivia::scan(text)
        .comments
        .into_iter()
        .map(|c| c.text)
        .collect();
    texts.sort();
    texts
}

fn section(s: &mut Section) {
    s.span = Span::default();
    if let Some(n) = &mut s.name {
        n.span = Span::default();
    }
    for f in &mut s.fields {
        f.key.span = Span::default();
        expr(&mut f.value);
    }
}

fn stmt(s: &mut Stmt) {
    match s {
        Stmt::Input { name, shape, span } => {
            name.span = Span::default();
            *span = Span::default();
            expr(shape);
        }
        Stmt::Let { name, value, span } | Stmt::Output { name, value, span } => {
            name.span = Span::default();
            *span = Span::default();
            expr(value);
        }
        Stmt::Return { value, span } => {
            *span = Span::default();
            expr(value);
        }
    }
}

fn arg(a: &mut Arg) {
    if let Some(n) = &mut a.name {
        n.span = Span::default();
    }
    expr(&mut a.value);
}

fn expr(e: &mut Expr) {
    e.span = Span::default();
    match &mut e.kind {
        ExprKind::List(items) => items.iter_mut().for_each(expr),
        ExprKind::Record(fields) => {
            for (k, v) in fields {
                k.span = Span::default();
                expr(v);
            }
        }
        ExprKind::Call { callee, args } => {
            callee.span = Span::default();
            args.iter_mut().for_each(arg);
        }
        ExprKind::Unary { operand, .. } => expr(operand),
        ExprKind::Binary { lhs, rhs, .. } => {
            expr(lhs);
            expr(rhs);
        }
        ExprKind::Pipe { head, stages } => {
            expr(head);
            stages.iter_mut().for_each(expr);
        }
        ExprKind::Repeat {
            count,
            body,
            result,
        } => {
            expr(count);
            body.iter_mut().for_each(stmt);
            expr(result);
        }
        ExprKind::Number(_)
        | ExprKind::Str(_)
        | ExprKind::Bool(_)
        | ExprKind::Name(_)
        | ExprKind::Error => {}
    }
}
