//! Constant expressions in arguments: arithmetic on numbers, names bound to values.

use super::describe;
use super::{Binder, Lookup, Names};
use crate::diagnostics::{codes, Diagnostic};
use crate::hir::value::Value;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, UnaryOp};

impl<N: Names + ?Sized> Binder<'_, N> {
    /// Evaluates a constant expression: numbers, strings, lists, arithmetic, and names
    /// bound to values. Unbound names become symbols; the caller decides if that is valid.
    pub fn eval(&mut self, expr: &Expr) -> Option<Value> {
        match &expr.kind {
            ExprKind::Number(n) => Some(match n.int {
                Some(i) => Value::Int(i),
                None => Value::Float(n.value),
            }),
            ExprKind::Str(s) => Some(Value::Str(s.clone())),
            ExprKind::Bool(b) => Some(Value::Bool(*b)),
            ExprKind::Name(name) => match self.names.lookup(name) {
                Lookup::Value(v) => Some(v),
                Lookup::Unbound => Some(Value::Sym(name.clone())),
                Lookup::Tensor => {
                    self.diags.push(
                        Diagnostic::error(
                            codes::ARG_TYPE,
                            format!("`{name}` is a tensor, not a value"),
                        )
                        .with_label(expr.span, "a tensor")
                        .with_help("Options take constants, such as numbers or names of settings."),
                    );
                    None
                }
            },
            ExprKind::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.eval(item)?);
                }
                Some(Value::List(out))
            }
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
            } => match self.eval(operand)? {
                Value::Int(i) => Some(Value::Int(i.checked_neg()?)),
                Value::Float(f) => Some(Value::Float(-f)),
                other => {
                    self.not_numeric(operand, &other);
                    None
                }
            },
            ExprKind::Binary { op, lhs, rhs }
                if matches!(
                    op,
                    BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Pow
                ) =>
            {
                let a = self.eval(lhs)?;
                let b = self.eval(rhs)?;
                self.arith(*op, a, b, lhs, rhs, expr)
            }
            ExprKind::Error => None,
            _ => Some(Value::Sym(format!("<{}>", describe(expr)))).and_then(|_| {
                self.diags.push(
                    Diagnostic::error(
                        codes::ARG_TYPE,
                        format!("expected a constant, found {}", describe(expr)),
                    )
                    .with_label(expr.span, "not a constant")
                    .with_help(
                        "Options take constants: numbers, strings, lists or names of settings.",
                    ),
                );
                None
            }),
        }
    }

    pub(super) fn not_numeric(&mut self, expr: &Expr, v: &Value) {
        let diag = match v {
            Value::Sym(name) => {
                self.undefined(expr, name);
                return;
            }
            _ => Diagnostic::error(
                codes::ARG_TYPE,
                format!("arithmetic needs numbers, found {}", v.kind()),
            )
            .with_label(expr.span, "not a number")
            .with_help("Only numbers can be added, subtracted, multiplied or divided here."),
        };
        self.diags.push(diag);
    }

    pub(super) fn arith(
        &mut self,
        op: BinaryOp,
        a: Value,
        b: Value,
        lhs: &Expr,
        rhs: &Expr,
        whole: &Expr,
    ) -> Option<Value> {
        let overflow = |this: &mut Self| {
            this.diags.push(
                Diagnostic::error(codes::SHAPE_OVERFLOW, "integer arithmetic overflows")
                    .with_label(whole.span, "too large for a 64-bit integer")
                    .with_help("Use smaller values."),
            );
            None
        };
        match (&a, &b) {
            (Value::Int(x), Value::Int(y)) => {
                let (x, y) = (*x, *y);
                let r = match op {
                    BinaryOp::Add => x.checked_add(y),
                    BinaryOp::Sub => x.checked_sub(y),
                    BinaryOp::Mul => x.checked_mul(y),
                    BinaryOp::Div if y != 0 && x % y == 0 => Some(x / y),
                    BinaryOp::Div if y != 0 => return Some(Value::Float(x as f64 / y as f64)),
                    BinaryOp::Pow if (0..=64).contains(&y) => x.checked_pow(y as u32),
                    BinaryOp::Pow => return Some(Value::Float((x as f64).powf(y as f64))),
                    _ => {
                        self.diags.push(
                            Diagnostic::error(codes::ARG_RANGE, "division by zero")
                                .with_label(rhs.span, "zero")
                                .with_help("Divide by a non-zero value."),
                        );
                        return None;
                    }
                };
                match r {
                    Some(v) => Some(Value::Int(v)),
                    None => overflow(self),
                }
            }
            _ => {
                let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                    let (bad, expr) = if a.as_f64().is_none() {
                        (&a, lhs)
                    } else {
                        (&b, rhs)
                    };
                    self.not_numeric(expr, bad);
                    return None;
                };
                let r = match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Sub => x - y,
                    BinaryOp::Mul => x * y,
                    BinaryOp::Div => x / y,
                    _ => x.powf(y),
                };
                if r.is_finite() {
                    Some(Value::Float(r))
                } else {
                    self.diags.push(
                        Diagnostic::error(codes::ARG_RANGE, "the result is not a finite number")
                            .with_label(whole.span, "infinite or NaN")
                            .with_help("Check for division by zero or overflow."),
                    );
                    None
                }
            }
        }
    }
}
