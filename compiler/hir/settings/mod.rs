//! Typed training settings: what a `train`, `data` or `rules` block configures, built once
//! from the constructor calls the binder checked against [`super::schema`].
//!
//! Every later stage matches these enums exhaustively, so a new optimizer, loss, schedule,
//! sampler, data source or scaling is a compile error everywhere it must be handled. Their
//! `Display` is the text `nnc ir --stage ir` prints (every argument, defaults included).

pub mod checks;
mod data;
pub mod formula;
pub mod heads;
mod init;
mod training;

pub use data::{CsvLabel, Scale, Source};
pub use training::{
    ClassWeights, Distill, EarlyStopping, Loss, Monitor, Optimizer, Plateau, Sampler, Schedule,
    Shape, Teacher,
};

use super::value::{fmt_f64, Ctor, Value};
use std::fmt;

/// Reads the arguments of a bound constructor. The binder filled every default from the
/// schema, so an argument missing here is a mismatch between the schema and the typed form:
/// it is reported (as an error of the spec's field), never read as zero.
struct Args<'a>(&'a Ctor);

/// A constructor whose arguments do not fit its typed form: its name and the argument.
#[derive(Clone, Debug, PartialEq)]
pub struct Unfit {
    pub ctor: String,
    pub arg: String,
}

type Built<T> = Result<T, Unfit>;

impl Args<'_> {
    fn unfit(&self, arg: &str) -> Unfit {
        Unfit {
            ctor: self.0.name.clone(),
            arg: arg.to_string(),
        }
    }

    fn value(&self, arg: &str) -> Built<&Value> {
        self.0.get(arg).ok_or_else(|| self.unfit(arg))
    }

    fn f64(&self, arg: &str) -> Built<f64> {
        self.value(arg)?.as_f64().ok_or_else(|| self.unfit(arg))
    }

    fn u64(&self, arg: &str) -> Built<u64> {
        match self.value(arg)? {
            Value::Int(i) if *i >= 0 => Ok(*i as u64),
            _ => Err(self.unfit(arg)),
        }
    }

    fn bool(&self, arg: &str) -> Built<bool> {
        match self.value(arg)? {
            Value::Bool(b) => Ok(*b),
            _ => Err(self.unfit(arg)),
        }
    }

    fn str(&self, arg: &str) -> Built<String> {
        match self.value(arg)? {
            Value::Str(s) | Value::Sym(s) => Ok(s.clone()),
            _ => Err(self.unfit(arg)),
        }
    }

    fn floats(&self, arg: &str) -> Built<Vec<f64>> {
        floats(self.value(arg)?).ok_or_else(|| self.unfit(arg))
    }

    /// A constructor name outside the typed set: the schema has a row the typed form lacks.
    fn unknown<T>(&self) -> Built<T> {
        Err(self.unfit(""))
    }
}

fn floats(v: &Value) -> Option<Vec<f64>> {
    match v {
        Value::List(items) => items.iter().map(Value::as_f64).collect(),
        _ => None,
    }
}

impl fmt::Display for Unfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.arg.is_empty() {
            write!(f, "`{}` has no typed form", self.ctor)
        } else {
            write!(f, "`{}` has no usable `{}`", self.ctor, self.arg)
        }
    }
}

/// Writes `name(k: v, ...)` as the binder's constructors print, or `name` without arguments.
fn call(f: &mut fmt::Formatter<'_>, name: &str, args: &[(&str, Arg)]) -> fmt::Result {
    f.write_str(name)?;
    if args.is_empty() {
        return Ok(());
    }
    f.write_str("(")?;
    for (i, (k, v)) in args.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{k}: {v}")?;
    }
    f.write_str(")")
}

/// One argument's text.
enum Arg<'a> {
    Num(f64),
    Bool(bool),
    Str(&'a str),
    Sym(&'a str),
    Nums(&'a [f64]),
}

impl fmt::Display for Arg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Num(x) => f.write_str(&fmt_f64(*x)),
            Arg::Bool(b) => write!(f, "{b}"),
            Arg::Str(s) => write!(f, "{s:?}"),
            Arg::Sym(s) => f.write_str(s),
            Arg::Nums(xs) => {
                let items: Vec<String> = xs.iter().map(|x| fmt_f64(*x)).collect();
                write!(f, "[{}]", items.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests;
