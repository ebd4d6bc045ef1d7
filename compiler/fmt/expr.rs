//! Expressions: operators with the spacing and parentheses they need, argument lists,
//! pipes and `repeat`.
//!
//! Parentheses are printed where the user wrote them (the AST drops them, but a
//! parenthesized expression's span covers them) and wherever precedence requires them,
//! so the output always parses back to the same tree.

use super::doc::{concat, group, indent, text, Doc};
use super::layout::{push_lines, span, Layout, SeqOpts, CONTINUATION, INDENT};
use super::trivia::has_newline;
use crate::syntax::ast::*;

/// Binding strength, as in compiler/syntax/build.rs: higher binds tighter.
fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Pipe { .. } => PIPE,
        ExprKind::Binary { op, .. } => op_prec(*op),
        ExprKind::Unary {
            op: UnaryOp::Not, ..
        } => 6,
        ExprKind::Unary {
            op: UnaryOp::Neg, ..
        } => 10,
        _ => ATOM,
    }
}

const PIPE: u8 = 2;
const ATOM: u8 = 12;

fn op_prec(op: BinaryOp) -> u8 {
    use BinaryOp::*;
    match op {
        From => 1,
        Iff | Implies => 3,
        Or => 4,
        And => 5,
        Eq | Ne | Le | Ge | Lt | Gt => 7,
        Add | Sub => 8,
        Mul | Div => 9,
        Pow => 11,
    }
}

fn right_assoc(op: BinaryOp) -> bool {
    matches!(op, BinaryOp::Implies | BinaryOp::Pow)
}

fn is_right_assoc_binary(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Binary { op, .. } if right_assoc(*op))
}

/// Whether `lhs OP rhs` would parse differently without parentheses around `lhs`/`rhs`.
/// A prefix operator's operand extends over everything that binds at least as tightly,
/// so `not`/`-` under a tighter operator always gets parentheses (`a + (not b) + c`).
fn operand_needs_parens(op: BinaryOp, child: &Expr, is_lhs: bool) -> bool {
    let (p, q) = (prec(child), op_prec(op));
    p < q
        || p == q
            && if is_lhs {
                is_right_assoc_binary(child)
            } else {
                !right_assoc(op)
            }
}

impl Layout<'_> {
    pub(super) fn expr(&mut self, e: &Expr) -> Doc {
        self.expr_parens(e, false)
    }

    /// `e`, in parentheses if precedence needs them or the user wrote them.
    fn expr_parens(&mut self, e: &Expr, needed: bool) -> Doc {
        let doc = self.expr_kind(e);
        if needed || self.user_parens(e) {
            concat(vec![text("("), doc, text(")")])
        } else {
            doc
        }
    }

    /// Whether the source of `e` is `( ... )` around the whole expression.
    fn user_parens(&self, e: &Expr) -> bool {
        let (start, end) = span(e.span);
        if self.text.as_bytes().get(start) != Some(&b'(') {
            return false;
        }
        if self.trivia.matching_paren(self.text, start, end) != Some(end - 1) {
            return false;
        }
        match e.kind {
            // A record's own parentheses are not grouping ones.
            ExprKind::Record(_) => self.trivia.next_code(self.text, start + 1) == Some(b'('),
            _ => true,
        }
    }

    /// The string literal in `range` exactly as written, or `value` quoted with the
    /// grammar's escapes for a tree that has no source.
    pub(super) fn string_text(&self, range: (usize, usize), value: &str) -> String {
        if let Some(s) = self.trivia.string_in(self.text, range.0, range.1) {
            return s.to_string();
        }
        let mut quoted = String::from('"');
        for c in value.chars() {
            match c {
                '"' => quoted.push_str("\\\""),
                '\\' => quoted.push_str("\\\\"),
                '\n' => quoted.push_str("\\n"),
                '\t' => quoted.push_str("\\t"),
                c => quoted.push(c),
            }
        }
        quoted.push('"');
        quoted
    }

    fn expr_kind(&mut self, e: &Expr) -> Doc {
        match &e.kind {
            ExprKind::Number(n) => text(n.text.clone()),
            ExprKind::Str(s) => text(self.string_text(span(e.span), s)),
            ExprKind::Bool(b) => text(b.to_string()),
            ExprKind::Name(n) => text(n.clone()),
            ExprKind::List(items) => {
                let seq = self.seq(
                    span(e.span),
                    items,
                    |x| span(x.span),
                    SeqOpts::default(),
                    |l, x| l.expr(x),
                );
                brackets("[", "]", seq)
            }
            ExprKind::Record(fields) => {
                let seq = self.seq(
                    span(e.span),
                    fields,
                    |(k, v)| span(k.span.to(v.span)),
                    SeqOpts::default(),
                    |l, (k, v)| l.field(k, v),
                );
                brackets("(", ")", seq)
            }
            ExprKind::Call { callee, args } => concat(vec![
                text(callee.name.clone()),
                self.args(span(e.span), args),
            ]),
            ExprKind::Unary { op, operand } => {
                let sep = if *op == UnaryOp::Not { " " } else { "" };
                let needed = prec(operand) < prec(e);
                concat(vec![
                    text(format!("{}{sep}", op.symbol())),
                    self.expr_parens(operand, needed),
                ])
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let l = self.expr_parens(lhs, operand_needs_parens(*op, lhs, true));
                let r = self.expr_parens(rhs, operand_needs_parens(*op, rhs, false));
                // `0.9^epoch`, as written in formulas; spaced around anything larger.
                let simple = |x: &Expr| matches!(x.kind, ExprKind::Number(_) | ExprKind::Name(_));
                let op_text = match *op == BinaryOp::Pow && simple(lhs) && simple(rhs) {
                    true => op.symbol().to_string(),
                    false => format!(" {} ", op.symbol()),
                };
                concat(vec![l, text(op_text), r])
            }
            ExprKind::Pipe { head, stages } => self.pipe(e, head, stages),
            ExprKind::Repeat {
                count,
                body,
                result,
            } => self.repeat(e, count, body, result),
            // Only in trees that came with a parse error, which are never formatted.
            ExprKind::Error => text(
                self.text
                    .get(span(e.span).0..span(e.span).1)
                    .unwrap_or_default(),
            ),
        }
    }

    /// `(a, name: b)`: the arguments of a call or a rule, `region` holding the parentheses.
    pub(super) fn args(&mut self, region: (usize, usize), args: &[Arg]) -> Doc {
        let seq = self.seq(
            region,
            args,
            |a| match &a.name {
                Some(n) => span(n.span.to(a.value.span)),
                None => span(a.value.span),
            },
            SeqOpts::default(),
            |l, a| match &a.name {
                Some(n) => l.field(n, &a.value),
                None => l.expr(&a.value),
            },
        );
        brackets("(", ")", seq)
    }

    /// A pipe keeps the line breaks written between its stages; each line of stages that
    /// does not fit is broken one stage per line. Continuation lines start with `|>` under
    /// the first `|>` when the head is a name (`let h = x |> a` then `|> b` under the
    /// first `|>`), else they are indented and the head may get a line of its own.
    fn pipe(&mut self, e: &Expr, head: &Expr, stages: &[Expr]) -> Doc {
        let items: Vec<&Expr> = std::iter::once(head).chain(stages).collect();
        let spans: Vec<(usize, usize)> = items.iter().map(|x| span(x.span)).collect();
        let opts = SeqOpts {
            open: None,
            pipe: true,
        };
        let seq = self.seq(
            span(e.span),
            &items,
            |x| span(x.span),
            opts,
            |l, x| l.expr_parens(x, prec(x) <= PIPE),
        );
        let mut elements = seq.elements.into_iter();
        let Some(mut first) = elements.next() else {
            return concat(Vec::new());
        };
        let head_trail = first.trail_doc();
        let head_doc = first.inline_doc();
        let mut parts = Vec::new();
        let mut line: Vec<Doc> = Vec::new();
        let mut aligned = matches!(head.kind, ExprKind::Name(_)) && !self.user_parens(head);
        for (i, mut el) in elements.enumerate() {
            let own = std::mem::take(&mut el.own);
            let breaks = !own.is_empty() || has_newline(self.text, spans[i].1, spans[i + 1].0);
            if i == 0 {
                aligned &= !breaks;
            }
            if breaks {
                if !line.is_empty() {
                    parts.push(group(concat(std::mem::take(&mut line))));
                }
                if !parts.is_empty() || !aligned {
                    parts.push(Doc::HardLine);
                }
                for (c, _) in own {
                    parts.extend([text(c), Doc::HardLine]);
                }
            } else if !line.is_empty() || !aligned {
                // Between stages, and in an indented pipe between the head and the first.
                line.push(Doc::Line);
            }
            let trail = el.trail_doc();
            line.extend([text("|> "), el.inline_doc(), trail]);
        }
        if !line.is_empty() {
            parts.push(group(concat(line)));
        }
        let rest = match aligned {
            true => concat(vec![text(" "), Doc::Align(Box::new(concat(parts)))]),
            false => indent(CONTINUATION, concat(parts)),
        };
        concat(vec![head_doc, head_trail, rest])
    }

    /// `repeat N { result }` on one line if that is all and it fits, else a block.
    fn repeat(&mut self, e: &Expr, count: &Expr, body: &[Stmt], result: &Expr) -> Doc {
        let needed = matches!(
            count.kind,
            ExprKind::Unary { .. } | ExprKind::Binary { .. } | ExprKind::Pipe { .. }
        );
        let count_doc = self.expr_parens(count, needed);
        let whole = span(e.span);
        let open = self
            .trivia
            .find(self.text, b'{', count.span.end as usize, whole.1);
        let close = self
            .trivia
            .find(self.text, b'}', result.span.end as usize, whole.1);
        let region = match (open, close) {
            (Some(o), Some(c)) => (o + 1, c),
            _ => (whole.0, whole.0),
        };
        let opts = SeqOpts { open, pipe: false };
        enum Part<'e> {
            Stmt(&'e Stmt),
            Result(&'e Expr),
        }
        let mut parts: Vec<Part> = body.iter().map(Part::Stmt).collect();
        parts.push(Part::Result(result));
        let seq = self.seq(
            region,
            &parts,
            |p| match p {
                Part::Stmt(s) => span(s.span()),
                Part::Result(r) => span(r.span),
            },
            opts,
            |l, p| match p {
                Part::Stmt(s) => l.stmt(s),
                Part::Result(r) => l.expr(r),
            },
        );
        // One line only without comments: `repeat 2 { x }  // c` could get a second
        // trailing comment on its line.
        let commented = seq
            .elements
            .iter()
            .any(|el| !el.trail.is_empty() || !el.trail_inline.is_empty());
        let mut lines = Vec::new();
        for el in seq.elements {
            push_lines(&mut lines, el);
        }
        lines.extend(seq.dangling.into_iter().map(|(c, b)| (b, text(c))));
        let single = lines.len() == 1 && !commented;
        let mut inner = Vec::new();
        for (i, (blank, line)) in lines.into_iter().enumerate() {
            if i == 0 {
                inner.push(if single { Doc::Line } else { Doc::HardLine });
            } else {
                if blank {
                    inner.push(Doc::HardLine);
                }
                inner.push(Doc::HardLine);
            }
            inner.push(line);
        }
        let mut doc = vec![text("repeat "), count_doc, text(" {")];
        for c in &seq.header {
            doc.extend([Doc::LineSuffix(c.clone(), 0), Doc::BreakParent]);
        }
        doc.extend([indent(INDENT, concat(inner)), Doc::Line, text("}")]);
        group(concat(doc))
    }
}

/// `open a, b close` flat, or one element per line with a trailing comma when broken.
fn brackets(open: &str, close: &str, seq: super::layout::Seq) -> Doc {
    if seq.elements.is_empty() && (seq.dangling.is_empty() || seq.inline) {
        let inside: Vec<String> = seq.dangling.into_iter().map(|(c, _)| c).collect();
        return text(format!("{open}{}{close}", inside.join(" ")));
    }
    let n = seq.elements.len();
    let mut inner = Vec::new();
    for (i, mut el) in seq.elements.into_iter().enumerate() {
        let last = i + 1 == n;
        inner.push(if i == 0 { Doc::SoftLine } else { Doc::Line });
        for (c, _) in std::mem::take(&mut el.own) {
            inner.extend([text(c), Doc::HardLine]);
        }
        inner.push(el.inline_doc());
        inner.push(if last { Doc::IfBreak(",") } else { text(",") });
        inner.push(el.trail_doc());
    }
    for (c, _) in seq.dangling {
        inner.extend([Doc::HardLine, text(c)]);
    }
    group(concat(vec![
        text(open),
        indent(CONTINUATION, concat(inner)),
        Doc::SoftLine,
        text(close),
    ]))
}
