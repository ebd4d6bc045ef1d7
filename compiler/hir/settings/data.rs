//! Data sources and feature scalings.

use super::{call, Arg, Args, Built};
use crate::hir::value::{Ctor, Value};
use std::fmt;

/// Where a data block's examples come from. Paths are relative to the spec.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// Real data bundled with nnc.
    Builtin {
        name: String,
    },
    /// A seeded generator and its numeric parameters, as written.
    Synthetic {
        name: String,
        params: Vec<(String, f64)>,
    },
    Csv {
        path: String,
        header: bool,
        label: CsvLabel,
        /// One byte (the checker refuses longer separators).
        delimiter: u8,
    },
    Npy {
        x: String,
        y: String,
    },
    Npz {
        path: String,
        x: String,
        y: String,
    },
    Idx {
        images: String,
        labels: String,
    },
}

/// A CSV label column.
#[derive(Clone, Debug, PartialEq)]
pub enum CsvLabel {
    Last,
    Index(u64),
    Name(String),
}

impl Source {
    /// From a bound `source`/`test` call. A synthetic generator's parameter that is not a
    /// number is reported by name (its value is kept out of the typed form).
    pub fn from_ctor(c: &Ctor) -> Built<Source> {
        let a = Args(c);
        Ok(match c.name.as_str() {
            "builtin" => Source::Builtin {
                name: a.str("name")?,
            },
            "synthetic" => Source::Synthetic {
                name: a.str("name")?,
                params: c
                    .args
                    .iter()
                    .filter(|(n, _)| n != "name")
                    .map(|(n, v)| v.as_f64().map(|x| (n.clone(), x)).ok_or_else(|| a.unfit(n)))
                    .collect::<Built<_>>()?,
            },
            "csv" => Source::Csv {
                path: a.str("path")?,
                header: a.bool("header")?,
                label: match a.value("label")? {
                    Value::Int(i) if *i >= 0 => CsvLabel::Index(*i as u64),
                    Value::Str(s) => CsvLabel::Name(s.clone()),
                    Value::Sym(s) if s == "last" => CsvLabel::Last,
                    _ => return Err(a.unfit("label")),
                },
                delimiter: match a.str("delimiter")?.as_bytes() {
                    [b] => *b,
                    _ => return Err(a.unfit("delimiter")),
                },
            },
            "npy" => Source::Npy {
                x: a.str("x")?,
                y: a.str("y")?,
            },
            "npz" => Source::Npz {
                path: a.str("path")?,
                x: a.str("x")?,
                y: a.str("y")?,
            },
            "idx" => Source::Idx {
                images: a.str("images")?,
                labels: a.str("labels")?,
            },
            _ => return a.unknown(),
        })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Arg::{Bool, Num, Str, Sym};
        match self {
            Source::Builtin { name } => call(f, "builtin", &[("name", Str(name))]),
            Source::Synthetic { name, params } => {
                let mut args = vec![("name", Str(name))];
                args.extend(params.iter().map(|(k, v)| (k.as_str(), Num(*v))));
                call(f, "synthetic", &args)
            }
            Source::Csv {
                path,
                header,
                label,
                delimiter,
            } => {
                let delimiter = (*delimiter as char).to_string();
                let label = match label {
                    CsvLabel::Last => Sym("last"),
                    CsvLabel::Index(i) => Num(*i as f64),
                    CsvLabel::Name(n) => Str(n),
                };
                call(
                    f,
                    "csv",
                    &[
                        ("path", Str(path)),
                        ("header", Bool(*header)),
                        ("label", label),
                        ("delimiter", Str(&delimiter)),
                    ],
                )
            }
            Source::Npy { x, y } => call(f, "npy", &[("x", Str(x)), ("y", Str(y))]),
            Source::Npz { path, x, y } => call(
                f,
                "npz",
                &[("path", Str(path)), ("x", Str(x)), ("y", Str(y))],
            ),
            Source::Idx { images, labels } => call(
                f,
                "idx",
                &[("images", Str(images)), ("labels", Str(labels))],
            ),
        }
    }
}

/// Feature scaling, fitted on the training split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    None,
    Standardize,
    MinMax,
    Divide { by: f64 },
}

impl Scale {
    pub fn from_ctor(c: &Ctor) -> Built<Scale> {
        let a = Args(c);
        Ok(match c.name.as_str() {
            "none" => Scale::None,
            "standardize" => Scale::Standardize,
            "minmax" => Scale::MinMax,
            "divide" => Scale::Divide { by: a.f64("by")? },
            _ => return a.unknown(),
        })
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Scale::None => call(f, "none", &[]),
            Scale::Standardize => call(f, "standardize", &[]),
            Scale::MinMax => call(f, "minmax", &[]),
            Scale::Divide { by } => call(f, "divide", &[("by", Arg::Num(by))]),
        }
    }
}
