//! Binds the arguments of a call (or the fields of a block) to a [`Sig`]: positional and
//! named arguments, defaults, and one diagnostic per mistake (unknown option with
//! did-you-mean, wrong type, missing or duplicate argument, value out of range).

use super::schema::{self, CtorSet, Default, Param, Sig, Ty};
use super::value::{Ctor, Value};
use crate::diagnostics::{codes, did_you_mean, Diagnostic, Diagnostics};
use crate::source::Span;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, Ident, UnaryOp};

/// What a name means where a value is expected.
pub enum Lookup {
    Value(Value),
    Tensor,
    Unbound,
}

/// Where names in option values are looked up (block parameters bound to numbers).
pub trait Names {
    fn lookup(&self, name: &str) -> Lookup;
    /// Every bound name, for did-you-mean.
    fn all(&self) -> Vec<String>;
}

/// No names bound: `data`, `train` and `rules` fields.
pub struct NoNames;

impl Names for NoNames {
    fn lookup(&self, _: &str) -> Lookup {
        Lookup::Unbound
    }
    fn all(&self) -> Vec<String> {
        Vec::new()
    }
}

/// One bound argument. `span` is the argument's expression, or the call for defaults.
#[derive(Clone, Debug)]
pub struct BoundArg {
    pub name: &'static str,
    pub value: Option<Value>,
    pub span: Span,
    pub explicit: bool,
}

/// The arguments of one call, every parameter of the signature present (defaults filled).
#[derive(Clone, Debug, Default)]
pub struct Bound {
    pub args: Vec<BoundArg>,
    /// Named arguments outside the signature, for open signatures ([`Sig::open`]).
    pub extra: Vec<(String, Value, Span)>,
}

impl Bound {
    fn arg(&self, name: &str) -> Option<&BoundArg> {
        self.args.iter().find(|a| a.name == name)
    }

    /// The value of a parameter; `None` if it is optional and absent, or was wrong.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.arg(name).and_then(|a| a.value.as_ref())
    }

    pub fn span(&self, name: &str) -> Span {
        self.arg(name).map_or(Span::default(), |a| a.span)
    }

    pub fn explicit(&self, name: &str) -> bool {
        self.arg(name).is_some_and(|a| a.explicit)
    }

    /// An integer parameter; 0 when it failed to bind (the caller then discards the call).
    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(Value::Int(i)) => *i,
            _ => 0,
        }
    }

    pub fn u64(&self, name: &str) -> u64 {
        self.int(name).max(0) as u64
    }

    pub fn f64(&self, name: &str) -> f64 {
        self.get(name).and_then(Value::as_f64).unwrap_or(0.0)
    }

    pub fn bool(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Value::Bool(true)))
    }

    pub fn sym(&self, name: &str) -> &str {
        match self.get(name) {
            Some(Value::Sym(s)) | Some(Value::Str(s)) => s,
            _ => "",
        }
    }

    /// `[a, b]` from an int or a pair.
    pub fn size2(&self, name: &str) -> [u64; 2] {
        match self.get(name) {
            Some(Value::Int(i)) => [*i as u64; 2],
            Some(Value::List(v)) => {
                let g = |i: usize| match v.get(i) {
                    Some(Value::Int(x)) => *x as u64,
                    _ => 1,
                };
                [g(0), g(1)]
            }
            _ => [1, 1],
        }
    }

    /// `[top, left, bottom, right]` from `p`, `[h, w]` or four values.
    pub fn pad4(&self, name: &str) -> [u64; 4] {
        match self.get(name) {
            Some(Value::Int(i)) => [*i as u64; 4],
            Some(Value::List(v)) => {
                let g: Vec<u64> = v
                    .iter()
                    .map(|x| match x {
                        Value::Int(i) => *i as u64,
                        _ => 0,
                    })
                    .collect();
                match g.as_slice() {
                    [h, w] => [*h, *w, *h, *w],
                    [t, l, b, r] => [*t, *l, *b, *r],
                    _ => [0; 4],
                }
            }
            _ => [0; 4],
        }
    }
}

/// The binder: checks argument expressions against parameter types.
pub struct Binder<'a, N: Names + ?Sized> {
    pub names: &'a N,
    pub diags: &'a mut Diagnostics,
}

impl<N: Names + ?Sized> Binder<'_, N> {
    /// Binds `positional` and `named` to `sig`. `what` names the callee in messages
    /// ("layer `dense`", "the train block"). Returns `None` if any argument was wrong.
    pub fn bind(
        &mut self,
        sig: &Sig,
        positional: &[&Expr],
        named: &[(&Ident, &Expr)],
        call_span: Span,
        what: &str,
    ) -> Option<Bound> {
        let (bound, ok) = self.bind_all(sig, positional, named, call_span, what);
        ok.then_some(bound)
    }

    /// Like [`Binder::bind`], but returns what could be bound even when some arguments
    /// were wrong (those are absent), so callers can go on checking the rest.
    pub fn bind_all(
        &mut self,
        sig: &Sig,
        positional: &[&Expr],
        named: &[(&Ident, &Expr)],
        call_span: Span,
        what: &str,
    ) -> (Bound, bool) {
        let params: Vec<&'static Param> = sig.params().collect();
        let mut given: Vec<Option<(&Expr, Span)>> = vec![None; params.len()];
        let mut ok = true;

        for (i, expr) in positional.iter().enumerate() {
            if i >= sig.positional.min(params.len()) {
                let accepted = sig.positional.min(params.len());
                let names: Vec<&str> = params.iter().map(|p| p.name).collect();
                let help = if names.is_empty() {
                    format!("{what} takes no arguments.")
                } else {
                    format!(
                        "{what} takes {accepted} positional argument{}; give the others by name: {}.",
                        if accepted == 1 { "" } else { "s" },
                        names.iter().map(|n| format!("`{n}: ...`")).collect::<Vec<_>>().join(", ")
                    )
                };
                self.diags.push(
                    Diagnostic::error(
                        codes::ARG_TOO_MANY,
                        format!("too many arguments for {what}"),
                    )
                    .with_label(expr.span, "unexpected argument")
                    .with_help(help),
                );
                ok = false;
                break;
            }
            given[i] = Some((expr, expr.span));
        }
        let mut extra: Vec<(String, Value, Span)> = Vec::new();
        for (name, expr) in named {
            match params.iter().position(|p| p.name == name.name) {
                None if sig.open => {
                    let number = Ty::Float {
                        min: f64::NEG_INFINITY,
                        max: f64::INFINITY,
                        open_min: false,
                    };
                    if let Some((_, _, first)) = extra.iter().find(|(n, _, _)| *n == name.name) {
                        let first = *first;
                        self.diags.push(
                            Diagnostic::error(
                                codes::ARG_DUPLICATE,
                                format!("`{}` is given twice", name.name),
                            )
                            .with_label(name.span, "given again here")
                            .with_label(first, "first given here")
                            .with_help("Give each option once."),
                        );
                        ok = false;
                    } else if let Some(value) = self.coerce(&number, expr, &name.name) {
                        extra.push((name.name.clone(), value, name.span.to(expr.span)));
                    } else {
                        ok = false;
                    }
                }
                None => {
                    let mut diag = Diagnostic::error(
                        codes::ARG_UNKNOWN,
                        format!("unknown option `{}` for {what}", name.name),
                    )
                    .with_label(name.span, "not an option here");
                    let candidates = params.iter().map(|p| p.name);
                    diag = diag.with_help(match did_you_mean(&name.name, candidates) {
                        Some(dym) => {
                            format!("{} The options are: {}.", capitalize(&dym), list(&params))
                        }
                        None if params.is_empty() => format!("{what} takes no options."),
                        None => format!("The options are: {}.", list(&params)),
                    });
                    self.diags.push(diag);
                    ok = false;
                }
                Some(i) => {
                    if let Some((_, first)) = given[i] {
                        self.diags.push(
                            Diagnostic::error(
                                codes::ARG_DUPLICATE,
                                format!("`{}` is given twice", name.name),
                            )
                            .with_label(name.span, "given again here")
                            .with_label(first, "first given here")
                            .with_help("Give each option once."),
                        );
                        ok = false;
                    } else {
                        given[i] = Some((expr, name.span.to(expr.span)));
                    }
                }
            }
        }

        let mut bound = Bound::default();
        for (i, param) in params.iter().enumerate() {
            let arg = match given[i] {
                Some((expr, span)) => match self.coerce(&param.ty, expr, param.name) {
                    Some(value) => BoundArg {
                        name: param.name,
                        value: Some(value),
                        span,
                        explicit: true,
                    },
                    None => {
                        ok = false;
                        continue;
                    }
                },
                None => {
                    let value = match param.default {
                        Default::Required => {
                            self.diags.push(
                                Diagnostic::error(
                                    codes::ARG_MISSING,
                                    format!("{what} needs `{}`", param.name),
                                )
                                .with_label(call_span, format!("`{}` is missing", param.name))
                                .with_help(format!(
                                    "Add `{}: ...` ({}): {}",
                                    param.name,
                                    param.ty.describe(),
                                    param.doc
                                )),
                            );
                            ok = false;
                            continue;
                        }
                        Default::Optional => None,
                        Default::Int(i) => Some(Value::Int(i)),
                        Default::Float(f) => Some(Value::Float(f)),
                        Default::Bool(b) => Some(Value::Bool(b)),
                        Default::Sym(s) => Some(Value::Sym(s.into())),
                        Default::Str(s) => Some(Value::Str(s.into())),
                        Default::List(items) => Some(Value::List(
                            items.iter().map(|s| Value::Sym((*s).into())).collect(),
                        )),
                        Default::Ctor(name) => Some(Value::Ctor(Ctor {
                            name: name.into(),
                            args: default_args(ctor_set(&param.ty), name),
                        })),
                        Default::SameAs(other) => bound
                            .args
                            .iter()
                            .find(|a: &&BoundArg| a.name == other)
                            .and_then(|a| a.value.clone()),
                    };
                    BoundArg {
                        name: param.name,
                        value,
                        span: call_span,
                        explicit: false,
                    }
                }
            };
            bound.args.push(arg);
        }
        bound.extra = extra;
        (bound, ok)
    }

    fn wrong_type(&mut self, expr: &Expr, expected: &str, found: &str, option: &str) {
        self.diags.push(
            Diagnostic::error(
                codes::ARG_TYPE,
                format!("`{option}` expects {expected}, found {found}"),
            )
            .with_label(expr.span, format!("this is {found}"))
            .with_help(format!("Give `{option}` {expected}.")),
        );
    }

    fn range(&mut self, expr: &Expr, option: &str, message: String, help: String) {
        self.diags.push(
            Diagnostic::error(codes::ARG_RANGE, format!("`{option}` {message}"))
                .with_label(expr.span, "out of range")
                .with_help(help),
        );
    }

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

    fn check_value(&mut self, ty: &Ty, value: Value, expr: &Expr, option: &str) -> Option<Value> {
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
                            super::value::fmt_f64(x)
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
                for item in items {
                    match item {
                        Value::Int(i) if *i >= 1 => {}
                        Value::Int(i) => {
                            self.bad_dim(expr, *i);
                            return None;
                        }
                        _ => {
                            self.wrong_type(
                                expr,
                                &ty.describe(),
                                "a list with a non-integer",
                                option,
                            );
                            return None;
                        }
                    }
                }
                if items.is_empty() {
                    self.wrong_type(expr, &ty.describe(), "an empty list", option);
                    return None;
                }
                Some(value)
            }
            (Ty::ReshapeShape, Value::List(items)) => {
                let inferred = items.iter().filter(|v| matches!(v, Value::Int(-1))).count();
                for item in items {
                    match item {
                        Value::Int(i) if *i >= 1 || *i == -1 => {}
                        Value::Int(i) => {
                            self.bad_dim(expr, *i);
                            return None;
                        }
                        _ => {
                            self.wrong_type(
                                expr,
                                &ty.describe(),
                                "a list with a non-integer",
                                option,
                            );
                            return None;
                        }
                    }
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

    fn shape_like(
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

    fn bad_dim(&mut self, expr: &Expr, value: i64) {
        let what = if value == 0 { "zero" } else { "negative" };
        self.diags.push(
            Diagnostic::error(codes::SHAPE_DIM, format!("a dimension is {what} ({value})"))
                .with_label(expr.span, format!("{what} dimension"))
                .with_help("Dimensions, kernel sizes and strides must be positive integers."),
        );
    }

    fn unknown_value(&mut self, expr: &Expr, found: &str, names: &[&str], option: &str) {
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

    fn undefined(&mut self, expr: &Expr, name: &str) {
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

    fn ctor(&mut self, set: &'static CtorSet, expr: &Expr, option: &str) -> Option<Value> {
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

    fn ctor_call(
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
        let positional: Vec<&Expr> = args
            .iter()
            .filter(|a| a.name.is_none())
            .map(|a| &a.value)
            .collect();
        let named: Vec<(&Ident, &Expr)> = args
            .iter()
            .filter_map(|a| a.name.as_ref().map(|n| (n, &a.value)))
            .collect();
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

    fn not_numeric(&mut self, expr: &Expr, v: &Value) {
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

    fn arith(
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

fn ctor_set(ty: &Ty) -> &'static CtorSet {
    match ty {
        Ty::Ctor(set) => set,
        _ => &schema::INIT,
    }
}

/// The arguments of `name()` with every default.
fn default_args(set: &CtorSet, name: &str) -> Vec<(String, Value)> {
    let Some(sig) = set.get(name) else {
        return Vec::new();
    };
    let mut diags = Vec::new();
    let mut b = Binder {
        names: &NoNames,
        diags: &mut diags,
    };
    b.bind(sig, &[], &[], Span::default(), name)
        .map(|bound| {
            bound
                .args
                .into_iter()
                .filter_map(|a| a.value.map(|v| (a.name.to_string(), v)))
                .collect()
        })
        .unwrap_or_default()
}

fn list(params: &[&Param]) -> String {
    params
        .iter()
        .map(|p| format!("`{}`", p.name))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A short description of an expression's form, for "found ..." messages.
pub fn describe(expr: &Expr) -> &'static str {
    match &expr.kind {
        ExprKind::Number(n) if n.int.is_some() => "an integer",
        ExprKind::Number(_) => "a number",
        ExprKind::Str(_) => "a string",
        ExprKind::Bool(_) => "a boolean",
        ExprKind::Name(_) => "a name",
        ExprKind::List(_) => "a list",
        ExprKind::Record(_) => "a record",
        ExprKind::Call { .. } => "a call",
        ExprKind::Unary { .. } | ExprKind::Binary { .. } => "an expression",
        ExprKind::Pipe { .. } => "a pipe",
        ExprKind::Repeat { .. } => "a repeat",
        ExprKind::Error => "an error",
    }
}
