//! The signatures of everything that takes arguments: layers, init schemes, optimizers,
//! schedules, losses, samplers, data sources, and the fields of `data`, `train` and
//! `rules` blocks. One table drives argument checking (unknown option, wrong type, missing
//! argument, did-you-mean) and the reference tables in docs/language.md, which a test
//! keeps in sync with it.

mod data;
mod fields;
mod layers;
mod training;

pub use data::*;
pub use fields::*;
pub use layers::*;
pub use training::*;

/// The type an argument must have.
#[derive(Clone, Copy, Debug)]
pub enum Ty {
    /// An integer >= min.
    Int {
        min: i64,
    },
    /// A number in [min, max] (`open_min`: min itself excluded).
    Float {
        min: f64,
        max: f64,
        open_min: bool,
    },
    Bool,
    Str,
    /// One of these bare names.
    Sym(&'static [&'static str]),
    /// An integer or `[h, w]`, each >= min.
    Size2 {
        min: i64,
    },
    /// Padding: `p`, `[h, w]` or `[top, left, bottom, right]`, each >= 0.
    Pad,
    /// A tensor shape: a list of positive integers (per sample, without the batch).
    Shape,
    /// A reshape target: positive integers and at most one -1.
    ReshapeShape,
    /// An axis of the per-sample shape: an integer >= 0 or `channel` (= 0).
    Axis,
    FloatList,
    StrList,
    /// A list of names from this set.
    SymList(&'static [&'static str]),
    /// A bare name or a call of one of the constructors of a set.
    Ctor(&'static CtorSet),
    /// The name of another item (a network, a data block, a rules block).
    ItemRef(&'static str),
    /// `network_name from "checkpoint"`.
    Teacher,
    /// `(key: value, ...)` with the fields of this signature.
    Record(&'static Sig),
    /// An expression kept as written (an imitation schedule, a rule formula).
    Formula,
    /// A CSV label column: an index, a column name, or `last`.
    Column,
    /// `balanced`, or a list of one non-negative weight per class.
    ClassWeights,
    /// `(name: value, ...)`: a value of this type per input or output of the trained
    /// network (the train block matches the names).
    PerName(&'static Ty),
    /// A value of this type for every output, or a [`Ty::PerName`] record of them.
    OneOrPerName(&'static Ty),
}

impl Ty {
    /// How the type is named in messages and in the docs.
    pub fn describe(&self) -> String {
        match self {
            Ty::Int { min } if *min <= 0 => "an integer >= 0".into(),
            Ty::Int { min } => format!("an integer >= {min}"),
            Ty::Float { min, max, open_min } => {
                let lo = if *open_min { ">" } else { ">=" };
                match (min.is_finite(), max.is_finite()) {
                    (true, true) => format!("a number {lo} {min} and <= {max}"),
                    (true, false) => format!("a number {lo} {min}"),
                    _ => "a number".into(),
                }
            }
            Ty::Bool => "`true` or `false`".into(),
            Ty::Str => "a string".into(),
            Ty::Sym(names) => one_of(names),
            Ty::Size2 { .. } => "an integer or `[h, w]`".into(),
            Ty::Pad => "an integer, `[h, w]` or `[top, left, bottom, right]`".into(),
            Ty::Shape => "a shape such as `[3, 32, 32]`".into(),
            Ty::ReshapeShape => "a shape such as `[16, -1]`".into(),
            Ty::Axis => "an axis (an integer or `channel`)".into(),
            Ty::FloatList => "a list of numbers".into(),
            Ty::StrList => "a list of strings".into(),
            Ty::SymList(names) => format!("a list of {}", one_of(names)),
            Ty::Ctor(set) => format!("{} ({})", set.what, one_of(&set.names())),
            Ty::ItemRef(what) => format!("the name of a {what} block"),
            Ty::Teacher => "`network from \"checkpoint.safetensors\"`".into(),
            Ty::Record(_) => "a record `(key: value, ...)`".into(),
            Ty::Formula => "an expression".into(),
            Ty::Column => "a column index, a column name, or `last`".into(),
            Ty::ClassWeights => "`balanced` or a list of class weights".into(),
            Ty::PerName(of) => format!("a record `(name: value, ...)` of {}", of.describe()),
            Ty::OneOrPerName(of) => format!(
                "{}, or a record `(output: value, ...)` of them",
                of.describe()
            ),
        }
    }
}

fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The default of an argument.
#[derive(Clone, Copy, Debug)]
pub enum Default {
    Required,
    /// May be left out; then it has no value.
    Optional,
    Int(i64),
    Float(f64),
    Bool(bool),
    Sym(&'static str),
    /// A constructor called with its own defaults: `Ctor("sgd")` = `sgd()`.
    Ctor(&'static str),
    Str(&'static str),
    List(&'static [&'static str]),
    /// The value of another argument of the same call (a pool's stride is its kernel).
    SameAs(&'static str),
}

#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub ty: Ty,
    pub default: Default,
    pub doc: &'static str,
}

/// A signature: the arguments of a layer, a constructor, or the fields of a block.
#[derive(Clone, Copy, Debug)]
pub struct Sig {
    pub name: &'static str,
    pub doc: &'static str,
    /// The parameters, in groups (own parameters first, then shared groups).
    pub groups: &'static [&'static [Param]],
    /// How many leading parameters may be given by position.
    pub positional: usize,
    /// Also accepts named numeric arguments not listed here (a generator's own
    /// parameters, checked against the runtime's table of generators).
    pub open: bool,
}

impl Sig {
    pub fn params(&self) -> impl Iterator<Item = &'static Param> + '_ {
        self.groups.iter().flat_map(|g| g.iter())
    }

    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params().find(|p| p.name == name)
    }
}

/// A family of constructors, such as the init schemes.
#[derive(Debug)]
pub struct CtorSet {
    pub what: &'static str,
    pub sigs: &'static [Sig],
    /// The diagnostic code for a name that is not in the set.
    pub unknown_code: &'static str,
}

impl CtorSet {
    pub fn get(&self, name: &str) -> Option<&'static Sig> {
        self.sigs.iter().find(|s| s.name == name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.sigs.iter().map(|s| s.name).collect()
    }
}

const fn p(name: &'static str, ty: Ty, default: Default, doc: &'static str) -> Param {
    Param {
        name,
        ty,
        default,
        doc,
    }
}

const fn sig(
    name: &'static str,
    positional: usize,
    groups: &'static [&'static [Param]],
    doc: &'static str,
) -> Sig {
    Sig {
        name,
        doc,
        groups,
        positional,
        open: false,
    }
}

const POS_INT: Ty = Ty::Int { min: 1 };
const NONNEG_INT: Ty = Ty::Int { min: 0 };
const ANY_FLOAT: Ty = Ty::Float {
    min: f64::NEG_INFINITY,
    max: f64::INFINITY,
    open_min: false,
};
const POS_FLOAT: Ty = Ty::Float {
    min: 0.0,
    max: f64::INFINITY,
    open_min: true,
};
const NONNEG_FLOAT: Ty = Ty::Float {
    min: 0.0,
    max: f64::INFINITY,
    open_min: false,
};
const UNIT_OPEN: Ty = Ty::Float {
    min: 0.0,
    max: 1.0,
    open_min: true,
};
const UNIT_CLOSED: Ty = Ty::Float {
    min: 0.0,
    max: 1.0,
    open_min: false,
};

/// Whether `name` is a setting a spec can pass around as a value: a constructor (init
/// scheme, optimizer, ...) or a symbolic option value (`A`, `binary`, `fan_out`...).
pub fn is_setting_name(name: &str) -> bool {
    let sets = [
        &INIT, &OPTIMIZER, &SCHEDULE, &LOSS, &SAMPLER, &SCALE, &SOURCE,
    ];
    if sets.iter().any(|s| s.get(name).is_some()) || name == "channel" {
        return true;
    }
    let symbol_in = |sig: &Sig| {
        sig.params().any(|p| match p.ty {
            Ty::Sym(names) | Ty::SymList(names) => names.contains(&name),
            _ => false,
        })
    };
    LAYERS
        .iter()
        .chain(sets.iter().flat_map(|s| s.sigs.iter()))
        .any(symbol_in)
}
