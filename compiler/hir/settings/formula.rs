//! Rule formulas and the imitation schedule: their structure, checked before any data is
//! read, and pi evaluated per epoch (the checker checks its range, the trainer feeds it).

use crate::diagnostics::{codes, Diagnostic, Diagnostics};
use crate::source::Span;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, UnaryOp};

pub enum Formula {
    /// pi as a function of `epoch`: numbers, arithmetic, min, max.
    Schedule,
    /// A rule: features, fields, predictions, the class, connectives.
    Rule,
}

/// Checks the structure of a formula: known functions with the right arity, operators
/// allowed in its kind. Names (classes, features) are checked against the data later.
pub fn check_formula(e: &Expr, kind: &Formula, diags: &mut Diagnostics) {
    let bad = |diags: &mut Diagnostics, span: Span, msg: String, help: &str| {
        diags.push(
            Diagnostic::error(codes::RULES_INVALID, msg)
                .with_label(span, "here")
                .with_help(help),
        );
    };
    match (&e.kind, kind) {
        (ExprKind::Number(_), _) | (ExprKind::Error, _) => {}
        (ExprKind::Name(n), Formula::Schedule) => {
            if n != "epoch" {
                bad(
                    diags,
                    e.span,
                    format!("unknown name `{n}` in the imitation schedule"),
                    "The schedule is an expression of `epoch`, e.g. `min(0.95, 1 - 0.9^epoch)`.",
                );
            }
        }
        (ExprKind::Name(n), Formula::Rule) if n == "class" => bad(
            diags,
            e.span,
            "`class` is compared with a class name".into(),
            "Write `class == NAME`, NAME one of the data's `classes`.",
        ),
        (ExprKind::Name(n), Formula::Rule) => bad(
            diags,
            e.span,
            format!("the class name `{n}` stands alone"),
            &format!("Compare it: `class == {n}` or `predict(field(\"...\")) == {n}`."),
        ),
        (ExprKind::Str(_), Formula::Rule) => bad(
            diags,
            e.span,
            "a string stands alone in a rule".into(),
            "Strings name features and fields: `feature(\"x\")`, `predict(field(\"x\"))`.",
        ),
        (ExprKind::Unary { op, operand }, _) => {
            if *op == UnaryOp::Not && matches!(kind, Formula::Schedule) {
                bad(
                    diags,
                    e.span,
                    "`not` in the imitation schedule".into(),
                    "The schedule is arithmetic on `epoch`.",
                );
            }
            check_formula(operand, kind, diags);
        }
        (ExprKind::Binary { op, lhs, rhs }, _) => {
            let logic = matches!(
                op,
                BinaryOp::Iff
                    | BinaryOp::Implies
                    | BinaryOp::Or
                    | BinaryOp::And
                    | BinaryOp::Eq
                    | BinaryOp::Ne
                    | BinaryOp::Lt
                    | BinaryOp::Le
                    | BinaryOp::Gt
                    | BinaryOp::Ge
            );
            if matches!(kind, Formula::Rule) && matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
                if let Some(other) = class_test(lhs, rhs) {
                    // `class == NAME` or `predict(...) == NAME`: NAME is resolved against
                    // the data's classes when training starts.
                    if let ExprKind::Call { args, .. } = &other.kind {
                        check_view(&args[0].value, diags);
                    }
                    return;
                }
            }
            if *op == BinaryOp::Pow
                && matches!(kind, Formula::Rule)
                && !matches!(rhs.kind, ExprKind::Number(_))
            {
                bad(
                    diags,
                    rhs.span,
                    "the exponent of `^` in a rule must be a number".into(),
                    "Write e.g. `feature(\"x\")^2`.",
                );
            }
            if *op == BinaryOp::From || (logic && matches!(kind, Formula::Schedule)) {
                bad(
                    diags,
                    e.span,
                    format!("`{}` is not allowed here", op.symbol()),
                    "Check the formula against docs/language.md, section Rules.",
                );
            }
            check_formula(lhs, kind, diags);
            check_formula(rhs, kind, diags);
        }
        (ExprKind::Call { callee, args }, Formula::Rule) if callee.name == "field" => {
            let _ = args;
            bad(
                diags,
                e.span,
                "`field(...)` is read through `predict`".into(),
                "Write `predict(field(\"name\"))`.",
            );
        }
        (ExprKind::Call { callee, args }, _) => {
            let arity = match (callee.name.as_str(), kind) {
                ("min" | "max", _) => 2,
                ("feature" | "field" | "predict", Formula::Rule) => 1,
                _ => {
                    let known = match kind {
                        Formula::Schedule => "`min` and `max`",
                        Formula::Rule => "`feature`, `field`, `predict`, `min` and `max`",
                    };
                    bad(
                        diags,
                        callee.span,
                        format!("unknown function `{}`", callee.name),
                        &format!("The functions here are {known}."),
                    );
                    return;
                }
            };
            if args.len() != arity || args.iter().any(|a| a.name.is_some()) {
                bad(
                    diags,
                    e.span,
                    format!("`{}` takes {arity} positional argument(s)", callee.name),
                    "See docs/language.md, section Rules.",
                );
                return;
            }
            match (callee.name.as_str(), kind) {
                ("predict", Formula::Rule) => check_view(&args[0].value, diags),
                ("feature", Formula::Rule) => check_feature(&args[0].value, diags),
                _ => {
                    for a in args {
                        check_formula(&a.value, kind, diags);
                    }
                }
            }
        }
        _ => bad(
            diags,
            e.span,
            "this expression is not allowed in a formula".into(),
            "See docs/language.md, section Rules.",
        ),
    }
}

/// In `a == b` (or `!=`) of a rule: if one side is a class name and the other `class` or a
/// `predict(...)` call, that other side.
fn class_test<'e>(lhs: &'e Expr, rhs: &'e Expr) -> Option<&'e Expr> {
    for (a, b) in [(lhs, rhs), (rhs, lhs)] {
        let ExprKind::Name(name) = &b.kind else {
            continue;
        };
        if name == "class" {
            continue;
        }
        match &a.kind {
            ExprKind::Name(n) if n == "class" => return Some(a),
            ExprKind::Call { callee, args } if callee.name == "predict" && args.len() == 1 => {
                return Some(a)
            }
            _ => {}
        }
    }
    None
}

fn rule_error(diags: &mut Diagnostics, span: Span, message: &str, help: &str) {
    diags.push(
        Diagnostic::error(codes::RULES_INVALID, message)
            .with_label(span, "here")
            .with_help(help),
    );
}

/// The argument of `predict`: `field("name")`.
fn check_view(e: &Expr, diags: &mut Diagnostics) {
    let ok = match &e.kind {
        ExprKind::Call { callee, args } if callee.name == "field" => {
            args.len() == 1
                && args[0].name.is_none()
                && matches!(args[0].value.kind, ExprKind::Str(_) | ExprKind::Name(_))
        }
        _ => false,
    };
    if !ok {
        rule_error(
            diags,
            e.span,
            "`predict` reads a field: `predict(field(\"name\"))`",
            "Name a field of the data, e.g. `predict(field(\"clause_b\"))`.",
        );
    }
}

/// The argument of `feature`: a name or an index >= 0.
fn check_feature(e: &Expr, diags: &mut Diagnostics) {
    match &e.kind {
        ExprKind::Str(_) | ExprKind::Name(_) => {}
        ExprKind::Number(n) if n.int.is_some_and(|i| i >= 0) => {}
        ExprKind::Number(n) => rule_error(
            diags,
            e.span,
            &format!("feature index {} is not an integer >= 0", n.text),
            "Features are numbered from 0.",
        ),
        _ => rule_error(
            diags,
            e.span,
            "`feature` takes a feature name or index",
            "Write `feature(\"name\")` or `feature(3)`.",
        ),
    }
}

/// pi at `epoch` (0-based: the number of epochs already trained): the imitation formula, or
/// the default `min(0.95, 1 - 0.9^epoch)`.
pub fn imitation_pi(imitation: Option<&Expr>, epoch: u64) -> f64 {
    match imitation {
        Some(e) => schedule_value(e, epoch as f64),
        None => (1.0 - 0.9f64.powf(epoch as f64)).min(0.95),
    }
}

/// The imitation formula at `epoch` (the checker allows numbers, `epoch`, arithmetic, min,
/// max); anything else is NaN, which the range check reports.
fn schedule_value(e: &Expr, epoch: f64) -> f64 {
    let v = |e: &Expr| schedule_value(e, epoch);
    match &e.kind {
        ExprKind::Number(n) => n.value,
        ExprKind::Name(n) if n == "epoch" => epoch,
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => -v(operand),
        ExprKind::Binary { op, lhs, rhs } => {
            let (a, b) = (v(lhs), v(rhs));
            match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
                BinaryOp::Pow => a.powf(b),
                _ => f64::NAN,
            }
        }
        ExprKind::Call { callee, args } if args.len() == 2 => {
            let (a, b) = (v(&args[0].value), v(&args[1].value));
            match callee.name.as_str() {
                "min" => a.min(b),
                "max" => a.max(b),
                _ => f64::NAN,
            }
        }
        _ => f64::NAN,
    }
}

/// The first epoch in `0..epochs` where pi leaves [0, 1], with its value.
pub fn pi_out_of_range(imitation: Option<&Expr>, epochs: u64) -> Option<(u64, f64)> {
    (0..epochs.max(1))
        .map(|epoch| (epoch, imitation_pi(imitation, epoch)))
        .find(|(_, pi)| !(0.0..=1.0).contains(pi))
}
