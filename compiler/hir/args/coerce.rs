//! Type checking of one argument: numbers, ranges, shapes, names and constructors.

use super::{capitalize, describe};
use super::{Binder, Lookup, Names};
use crate::diagnostics::{codes, did_you_mean, Diagnostic};
use crate::hir::schema::{CtorSet, Ty};
use crate::hir::value::{Ctor, Value};
use crate::source::Span;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, Ident};

impl<N: Names + ?Sized> Binder<'_, N> {
    /// Checks one argument expression against a type.
    pub fn coerce(&mut self, ty: &Ty, expr: &Expr, option: &str) -> Option<Value> {
        match ty {
            Ty::Ctor(set) => return self.ctor(set, expr, option),
            Ty::Formula => return Some(Value::Formula(Box::new(expr.clone()))),
            Ty::ItemRef(what) => {
                return match &expr.kind {
                    ExprKind::Name(n) => Some(Value::Sym(n.clone())),
                    _ => {
                        self.wrong_type(
                            expr,
                            &format!("the name of a {what} block"),
                            describe(expr),
                            option,
                        );
                        None
                    }
                }
            }
            Ty::Teacher => {
                if let ExprKind::Binary {
                    op: BinaryOp::From,
                    lhs,
                    rhs,
                } = &expr.kind
                {
                    if let (ExprKind::Name(n), ExprKind::Str(path)) = (&lhs.kind, &rhs.kind) {
                        return Some(Value::From(n.clone(), path.clone()));
                    }
                }
                self.wrong_type(expr, &ty.describe(), describe(expr), option);
                return None;
            }
            Ty::OneOrPerName(of) => {
                return match &expr.kind {
                    ExprKind::Record(_) => self.coerce(&Ty::PerName(of), expr, option),
                    _ => self.coerce(of, expr, option),
                }
            }
            Ty::PerName(of) => {
                let ExprKind::Record(fields) = &expr.kind else {
                    self.wrong_type(expr, &ty.describe(), describe(expr), option);
                    return None;
                };
                let mut out: Vec<(String, Value)> = Vec::new();
                let mut ok = true;
                for (i, (key, value)) in fields.iter().enumerate() {
                    if let Some((first, _)) = fields[..i].iter().find(|(k, _)| k.name == key.name) {
                        self.diags.push(
                            Diagnostic::error(
                                codes::ARG_DUPLICATE,
                                format!("`{option}` names `{}` twice", key.name),
                            )
                            .with_label(key.span, "named again here")
                            .with_label(first.span, "first named here")
                            .with_help("Give each name one value."),
                        );
                        ok = false;
                        continue;
                    }
                    match self.coerce(of, value, &format!("{option}.{}", key.name)) {
                        Some(v) => out.push((key.name.clone(), v)),
                        None => ok = false,
                    }
                }
                return ok.then_some(Value::Record(out));
            }
            Ty::Record(sig) => {
                let ExprKind::Record(fields) = &expr.kind else {
                    self.wrong_type(expr, &ty.describe(), describe(expr), option);
                    return None;
                };
                let named: Vec<(&Ident, &Expr)> = fields.iter().map(|(k, v)| (k, v)).collect();
                let bound = self.bind(sig, &[], &named, expr.span, &format!("`{option}`"))?;
                return Some(Value::Record(
                    bound
                        .args
                        .into_iter()
                        .filter_map(|a| a.value.map(|v| (a.name.to_string(), v)))
                        .collect(),
                ));
            }
            _ => {}
        }
        let value = self.eval(expr)?;
        self.check_value(ty, value, expr, option)
    }

    pub(super) fn check_value(
        &mut self,
        ty: &Ty,
        value: Value,
        expr: &Expr,
        option: &str,
    ) -> Option<Value> {
        match (ty, &value) {
            (Ty::Int { min }, Value::Int(i)) => {
                if i < min {
                    let code_msg = if *min >= 1 && *i <= 0 {
                        format!("must be positive, found {i}")
                    } else {
                        format!("must be >= {min}, found {i}")
                    };
                    self.range(
                        expr,
                        option,
                        code_msg,
                        format!("Give `{option}` {}.", ty.describe()),
                    );
                    return None;
                }
                Some(value)
            }
            (Ty::Int { .. }, Value::Float(f)) if f.fract() == 0.0 && f.abs() >= 9.2e18 => {
                self.diags.push(
                    Diagnostic::error(codes::SHAPE_OVERFLOW, format!("`{option}` is too large"))
                        .with_label(expr.span, "does not fit in a 64-bit integer")
                        .with_help("Use a smaller value."),
                );
                None
            }
            (Ty::Float { min, max, open_min }, Value::Int(_) | Value::Float(_)) => {
                let x = value.as_f64().unwrap_or(0.0);
                let low_ok = if *open_min { x > *min } else { x >= *min };
                if !low_ok || x > *max {
                    self.range(
                        expr,
                        option,
                        format!(
                            "must be {}, found {}",
                            ty.describe().trim_start_matches("a number "),
                            crate::hir::value::fmt_f64(x)
                        ),
                        format!("Give `{option}` {}.", ty.describe()),
                    );
                    return None;
                }
                Some(Value::Float(x))
            }
            (Ty::Bool, Value::Bool(_)) | (Ty::Str, Value::Str(_)) => Some(value),
            (Ty::Sym(names), Value::Sym(s)) => {
                if names.contains(&s.as_str()) {
                    Some(value)
                } else {
                    self.unknown_value(expr, s, names, option);
                    None
                }
            }
            (Ty::Size2 { min }, _) => {
                let ok = match &value {
                    Value::Int(i) => *i >= *min,
                    Value::List(v) => {
                        v.len() == 2 && v.iter().all(|x| matches!(x, Value::Int(i) if *i >= *min))
                    }
                    _ => false,
                };
                self.shape_like(ok, value, expr, ty, option)
            }
            (Ty::Pad, _) => {
                let ok = match &value {
                    Value::Int(i) => *i >= 0,
                    Value::List(v) => {
                        matches!(v.len(), 2 | 4)
                            && v.iter().all(|x| matches!(x, Value::Int(i) if *i >= 0))
                    }
                    _ => false,
                };
                self.shape_like(ok, value, expr, ty, option)
            }
            (Ty::Shape, Value::List(items)) => {
                if !self.dims_ok(items, false, expr, ty, option) {
                    return None;
                }
                if items.is_empty() {
                    self.wrong_type(expr, &ty.describe(), "an empty list", option);
                    return None;
                }
                Some(value)
            }
            (Ty::ReshapeShape, Value::List(items)) => {
                let inferred = items.iter().filter(|v| matches!(v, Value::Int(-1))).count();
                if !self.dims_ok(items, true, expr, ty, option) {
                    return None;
                }
                if inferred > 1 || items.is_empty() {
                    self.range(
                        expr,
                        option,
                        "may infer at most one dimension".into(),
                        "Write at most one -1.".into(),
                    );
                    return None;
                }
                Some(value)
            }
            (Ty::Axis, Value::Int(i)) if *i >= 0 => Some(value),
            (Ty::Axis, Value::Sym(s)) if s == "channel" => Some(Value::Int(0)),
            (Ty::Axis, Value::Sym(s)) => {
                self.unknown_value(expr, s, &["channel"], option);
                None
            }
            (Ty::FloatList, Value::List(items)) if items.iter().all(|v| v.as_f64().is_some()) => {
                Some(Value::List(
                    items
                        .iter()
                        .map(|v| Value::Float(v.as_f64().unwrap_or(0.0)))
                        .collect(),
                ))
            }
            (Ty::StrList, Value::List(items))
                if items.iter().all(|v| matches!(v, Value::Str(_))) =>
            {
                Some(value)
            }
            (Ty::SymList(names), Value::List(items)) => {
                for item in items {
                    match item {
                        Value::Sym(s) if names.contains(&s.as_str()) => {}
                        Value::Sym(s) => {
                            self.unknown_value(expr, s, names, option);
                            return None;
                        }
                        other => {
                            self.wrong_type(expr, &ty.describe(), other.kind(), option);
                            return None;
                        }
                    }
                }
                Some(value)
            }
            (Ty::Column, Value::Int(i)) if *i >= 0 => Some(value),
            (Ty::Column, Value::Str(_)) => Some(value),
            (Ty::Column, Value::Sym(s)) if s == "last" => Some(value),
            (Ty::ClassWeights, Value::Sym(s)) if s == "balanced" => Some(value),
            (Ty::ClassWeights, Value::Sym(s)) => {
                self.unknown_value(expr, s, &["balanced"], option);
                None
            }
            (Ty::ClassWeights, Value::List(items))
                if !items.is_empty()
                    && items.iter().all(|v| v.as_f64().is_some_and(|x| x >= 0.0)) =>
            {
                Some(Value::List(
                    items
                        .iter()
                        .map(|v| Value::Float(v.as_f64().unwrap_or(0.0)))
                        .collect(),
                ))
            }
            (_, Value::Sym(name))
                if !matches!(ty, Ty::Sym(_) | Ty::SymList(_) | Ty::ClassWeights) =>
            {
                // A bare name where a number or string was expected: most likely a typo of
                // a block parameter.
                self.undefined(expr, name);
                None
            }
            _ => {
                self.wrong_type(expr, &ty.describe(), value.kind(), option);
                None
            }
        }
    }

    pub(super) fn shape_like(
        &mut self,
        ok: bool,
        value: Value,
        expr: &Expr,
        ty: &Ty,
        option: &str,
    ) -> Option<Value> {
        if ok {
            return Some(value);
        }
        let negative = match &value {
            Value::Int(i) => Some(*i),
            Value::List(v) => v.iter().find_map(|x| match x {
                Value::Int(i) if *i <= 0 => Some(*i),
                _ => None,
            }),
            _ => None,
        };
        match negative {
            Some(i) if i < 0 || !matches!(ty, Ty::Pad) => self.bad_dim(expr, i),
            _ => self.wrong_type(expr, &ty.describe(), value.kind(), option),
        }
        None
    }

    /// Whether every item of a shape list is a positive integer (or -1, the inferred
    /// dimension, when `inferred` allows it); reports the first that is not.
    fn dims_ok(
        &mut self,
        items: &[Value],
        inferred: bool,
        expr: &Expr,
        ty: &Ty,
        option: &str,
    ) -> bool {
        for item in items {
            match item {
                Value::Int(i) if *i >= 1 || (inferred && *i == -1) => {}
                Value::Int(i) => {
                    self.bad_dim(expr, *i);
                    return false;
                }
                _ => {
                    self.wrong_type(expr, &ty.describe(), "a list with a non-integer", option);
                    return false;
                }
            }
        }
        true
    }

    pub(super) fn bad_dim(&mut self, expr: &Expr, value: i64) {
        let what = if value == 0 { "zero" } else { "negative" };
        self.diags.push(
            Diagnostic::error(codes::SHAPE_DIM, format!("a dimension is {what} ({value})"))
                .with_label(expr.span, format!("{what} dimension"))
                .with_help("Dimensions, kernel sizes and strides must be positive integers."),
        );
    }

    pub(super) fn unknown_value(&mut self, expr: &Expr, found: &str, names: &[&str], option: &str) {
        let mut help = format!(
            "`{option}` is one of: {}.",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(dym) = did_you_mean(found, names.iter().copied()) {
            help = format!("{} {help}", capitalize(&dym));
        }
        self.diags.push(
            Diagnostic::error(
                codes::ARG_TYPE,
                format!("`{found}` is not a valid value for `{option}`"),
            )
            .with_label(expr.span, "unknown value")
            .with_help(help),
        );
    }

    pub(super) fn undefined(&mut self, expr: &Expr, name: &str) {
        let all = self.names.all();
        let mut diag =
            Diagnostic::error(codes::RESOLVE_UNDEFINED, format!("undefined name `{name}`"))
                .with_label(expr.span, "not defined here");
        diag = diag.with_help(match did_you_mean(name, all.iter().map(String::as_str)) {
            Some(dym) => capitalize(&dym),
            None => "Define it with `let`, or pass it as a block parameter.".to_string(),
        });
        self.diags.push(diag);
    }

    pub(super) fn ctor(
        &mut self,
        set: &'static CtorSet,
        expr: &Expr,
        option: &str,
    ) -> Option<Value> {
        let (callee, args): (&Ident, &[crate::syntax::ast::Arg]) = match &expr.kind {
            ExprKind::Name(name) => {
                // A block parameter may carry a setting: `block b(x, init) { ... dense(8, init: init) }`.
                let name = match self.names.lookup(name) {
                    Lookup::Value(Value::Ctor(c)) if set.get(&c.name).is_some() => {
                        return Some(Value::Ctor(c))
                    }
                    Lookup::Value(Value::Sym(s)) => s,
                    _ => name.clone(),
                };
                let ident = Ident {
                    name,
                    span: expr.span,
                };
                return self.ctor_call(set, &ident, &[], expr.span, option);
            }
            ExprKind::Call { callee, args } => (callee, args),
            _ => {
                self.wrong_type(
                    expr,
                    &format!("{} such as `{}`", set.what, set.sigs[0].name),
                    describe(expr),
                    option,
                );
                return None;
            }
        };
        self.ctor_call(set, callee, args, expr.span, option)
    }

    pub(super) fn ctor_call(
        &mut self,
        set: &'static CtorSet,
        callee: &Ident,
        args: &[crate::syntax::ast::Arg],
        span: Span,
        option: &str,
    ) -> Option<Value> {
        let Some(sig) = set.get(&callee.name) else {
            let names = set.names();
            let mut help = format!(
                "`{option}` takes {}: {}.",
                set.what,
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if let Some(dym) = did_you_mean(&callee.name, names.iter().copied()) {
                help = format!("{} {help}", capitalize(&dym));
            }
            let what = set.what.trim_start_matches("an ").trim_start_matches("a ");
            self.diags.push(
                Diagnostic::error(
                    set.unknown_code,
                    format!("unknown {what} `{}`", callee.name),
                )
                .with_label(callee.span, format!("not {}", set.what))
                .with_help(help),
            );
            return None;
        };
        let (positional, named) = super::split_args(args);
        let bound = self.bind(sig, &positional, &named, span, &format!("`{}`", sig.name))?;
        let extra = bound.extra.into_iter().map(|(n, v, _)| (n, v));
        Some(Value::Ctor(Ctor {
            name: sig.name.to_string(),
            args: bound
                .args
                .into_iter()
                .filter_map(|a| a.value.map(|v| (a.name.to_string(), v)))
                .chain(extra)
                .collect(),
        }))
    }
}
