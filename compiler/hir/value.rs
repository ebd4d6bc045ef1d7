//! Compile-time values: what an option, a field or a block argument evaluates to.

use crate::source::Span;
use std::fmt;

/// Index of a layer in its network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LayerId(pub u32);

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// A bare name used as a value: `orthogonal`, `standardize`, `channel`.
    Sym(String),
    List(Vec<Value>),
    /// `name(args)` checked against a constructor signature (init schemes, optimizers...).
    Ctor(Ctor),
    /// `(key: value, ...)`
    Record(Vec<(String, Value)>),
    /// `network_name from "file"` (a distillation teacher).
    From(String, String),
    /// An expression kept as written: an imitation schedule or a rule formula.
    Formula(Box<crate::syntax::ast::Expr>),
}

/// A call of a constructor with its arguments bound by name (defaults filled in).
#[derive(Clone, Debug, PartialEq)]
pub struct Ctor {
    pub name: String,
    pub args: Vec<(String, Value)>,
}

impl Ctor {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.args.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn f64(&self, name: &str) -> f64 {
        self.get(name).and_then(Value::as_f64).unwrap_or(0.0)
    }

    pub fn i64(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(Value::Int(i)) => *i,
            _ => 0,
        }
    }

    pub fn sym(&self, name: &str) -> &str {
        match self.get(name) {
            Some(Value::Sym(s)) | Some(Value::Str(s)) => s,
            _ => "",
        }
    }
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The word used in "expected X, found Y".
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Str(_) => "a string",
            Value::Sym(_) => "a name",
            Value::List(_) => "a list",
            Value::Ctor(_) => "a call",
            Value::Record(_) => "a record",
            Value::From(..) => "a `from` expression",
            Value::Formula(_) => "an expression",
        }
    }
}

/// Formats floats the same way everywhere (`1`, `0.5`, `1e-5`), so text output is stable.
pub fn fmt_f64(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else if x.abs() >= 1e-4 && x.abs() < 1e15 {
        let s = format!("{x}");
        s
    } else {
        format!("{x:e}")
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&fmt_f64(*x)),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Sym(s) => f.write_str(s),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Ctor(c) => write!(f, "{c}"),
            Value::Record(fields) => {
                f.write_str("(")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str(")")
            }
            Value::From(a, b) => write!(f, "{a} from {b:?}"),
            Value::Formula(e) => write!(f, "<expression at {}>", e.span),
        }
    }
}

impl fmt::Display for Ctor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.args.is_empty() {
            f.write_str("(")?;
            for (i, (k, v)) in self.args.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A value with the span of the expression it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}
