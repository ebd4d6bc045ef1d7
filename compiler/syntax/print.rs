//! The stable text form of the AST (`nnc ir FILE --stage ast`): one construct per line,
//! indented, with its line:column, so snapshots stay readable and diffs stay local.

use super::ast::*;
use crate::source::SourceMap;
use std::fmt::Write;

pub fn print_file(file: &File, sources: &SourceMap) -> String {
    let mut p = Printer {
        out: String::new(),
        sources,
    };
    for item in &file.items {
        p.item(item);
    }
    p.out
}

struct Printer<'a> {
    out: String,
    sources: &'a SourceMap,
}

impl Printer<'_> {
    fn line(&mut self, depth: usize, text: &str, span: crate::source::Span) {
        let (line, col) = self.sources.line_col(span.file, span.start);
        let _ = writeln!(self.out, "{}{text}  @{line}:{col}", "  ".repeat(depth));
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Import(i) => self.line(0, &format!("import {:?}", i.path), i.span),
            Item::Network(n) => {
                self.line(0, &format!("network {}", n.name.name), n.span);
                self.stmts(1, &n.body);
            }
            Item::Block(b) => {
                let params: Vec<_> = b.params.iter().map(|p| p.name.as_str()).collect();
                self.line(
                    0,
                    &format!("block {}({})", b.name.name, params.join(", ")),
                    b.span,
                );
                self.stmts(1, &b.body);
            }
            Item::Data(s) => self.section("data", s),
            Item::Train(s) => self.section("train", s),
            Item::Rules(r) => {
                self.section("rules", &r.section);
                for rule in &r.rules {
                    self.line(1, &format!("rule {}", rule.name.name), rule.span);
                    self.args(2, &rule.args);
                    self.expr(2, &rule.formula);
                }
            }
        }
    }

    fn section(&mut self, kw: &str, s: &Section) {
        let name = s
            .name
            .as_ref()
            .map_or(String::new(), |n| format!(" {}", n.name));
        self.line(0, &format!("{kw}{name}"), s.span);
        for f in &s.fields {
            self.line(1, &format!("field {}", f.key.name), f.key.span);
            self.expr(2, &f.value);
        }
    }

    fn stmts(&mut self, depth: usize, stmts: &[Stmt]) {
        for s in stmts {
            match s {
                Stmt::Input { name, shape, span } => {
                    self.line(depth, &format!("input {}", name.name), *span);
                    self.expr(depth + 1, shape);
                }
                Stmt::Let { name, value, span } => {
                    self.line(depth, &format!("let {}", name.name), *span);
                    self.expr(depth + 1, value);
                }
                Stmt::Output { name, value, span } => {
                    self.line(depth, &format!("output {}", name.name), *span);
                    self.expr(depth + 1, value);
                }
                Stmt::Return { value, span } => {
                    self.line(depth, "return", *span);
                    self.expr(depth + 1, value);
                }
            }
        }
    }

    fn args(&mut self, depth: usize, args: &[Arg]) {
        for a in args {
            match &a.name {
                Some(n) => {
                    self.line(depth, &format!("arg {}:", n.name), n.span);
                    self.expr(depth + 1, &a.value);
                }
                None => self.expr(depth, &a.value),
            }
        }
    }

    fn expr(&mut self, depth: usize, e: &Expr) {
        match &e.kind {
            ExprKind::Number(n) => self.line(depth, &format!("number {}", n.text), e.span),
            ExprKind::Str(s) => self.line(depth, &format!("string {s:?}"), e.span),
            ExprKind::Bool(b) => self.line(depth, &format!("bool {b}"), e.span),
            ExprKind::Name(n) => self.line(depth, &format!("name {n}"), e.span),
            ExprKind::Error => self.line(depth, "error", e.span),
            ExprKind::List(items) => {
                self.line(depth, &format!("list ({} items)", items.len()), e.span);
                for i in items {
                    self.expr(depth + 1, i);
                }
            }
            ExprKind::Record(fields) => {
                self.line(depth, "record", e.span);
                for (k, v) in fields {
                    self.line(depth + 1, &format!("{}:", k.name), k.span);
                    self.expr(depth + 2, v);
                }
            }
            ExprKind::Call { callee, args } => {
                self.line(depth, &format!("call {}", callee.name), e.span);
                self.args(depth + 1, args);
            }
            ExprKind::Unary { op, operand } => {
                self.line(depth, &format!("unary {}", op.symbol()), e.span);
                self.expr(depth + 1, operand);
            }
            ExprKind::Binary { op, lhs, rhs } => {
                self.line(depth, &format!("binary {}", op.symbol()), e.span);
                self.expr(depth + 1, lhs);
                self.expr(depth + 1, rhs);
            }
            ExprKind::Pipe { head, stages } => {
                self.line(depth, "pipe", e.span);
                self.expr(depth + 1, head);
                for s in stages {
                    self.expr(depth + 1, s);
                }
            }
            ExprKind::Repeat {
                count,
                body,
                result,
            } => {
                self.line(depth, "repeat", e.span);
                self.expr(depth + 1, count);
                self.stmts(depth + 1, body);
                self.expr(depth + 1, result);
            }
        }
    }
}
