//! Binds the arguments of a call (or the fields of a block) to a [`Sig`]: positional and
//! named arguments, defaults, and one diagnostic per mistake (unknown option with
//! did-you-mean, wrong type, missing or duplicate argument, value out of range).

mod coerce;
mod eval;

use super::schema::{self, CtorSet, Default, Param, Sig, Ty};
use super::value::{Ctor, Value};
use crate::diagnostics::{codes, did_you_mean, Diagnostic, Diagnostics};
use crate::source::Span;
use crate::syntax::ast::{Arg, Expr, ExprKind, Ident};

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

    /// Reports an option given a second time.
    fn given_twice(&mut self, name: &Ident, first: Span) {
        self.diags.push(
            Diagnostic::error(
                codes::ARG_DUPLICATE,
                format!("`{}` is given twice", name.name),
            )
            .with_label(name.span, "given again here")
            .with_label(first, "first given here")
            .with_help("Give each option once."),
        );
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
                        self.given_twice(name, first);
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
                        self.given_twice(name, first);
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

    pub(super) fn wrong_type(&mut self, expr: &Expr, expected: &str, found: &str, option: &str) {
        self.diags.push(
            Diagnostic::error(
                codes::ARG_TYPE,
                format!("`{option}` expects {expected}, found {found}"),
            )
            .with_label(expr.span, format!("this is {found}"))
            .with_help(format!("Give `{option}` {expected}.")),
        );
    }

    pub(super) fn range(&mut self, expr: &Expr, option: &str, message: String, help: String) {
        self.diags.push(
            Diagnostic::error(codes::ARG_RANGE, format!("`{option}` {message}"))
                .with_label(expr.span, "out of range")
                .with_help(help),
        );
    }
}

pub(super) fn ctor_set(ty: &Ty) -> &'static CtorSet {
    match ty {
        Ty::Ctor(set) => set,
        Ty::OneOrPerName(of) => ctor_set(of),
        _ => &schema::INIT,
    }
}

/// The arguments of `name()` with every default.
pub(super) fn default_args(set: &CtorSet, name: &str) -> Vec<(String, Value)> {
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

pub(super) fn list(params: &[&Param]) -> String {
    params
        .iter()
        .map(|p| format!("`{}`", p.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A call's arguments as the binder takes them: positional ones in order, then named ones.
pub fn split_args(args: &[Arg]) -> (Vec<&Expr>, Vec<(&Ident, &Expr)>) {
    let positional = args
        .iter()
        .filter(|a| a.name.is_none())
        .map(|a| &a.value)
        .collect();
    let named = args
        .iter()
        .filter_map(|a| a.name.as_ref().map(|n| (n, &a.value)))
        .collect();
    (positional, named)
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
