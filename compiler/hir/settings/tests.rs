//! Every constructor of the schema has a typed form, and the typed form prints exactly as
//! the binder's constructor (the text snapshots of `nnc ir --stage ir` depend on it).

use super::*;
use crate::hir::schema::{self, CtorSet, Default, Param, Ty};

/// A value for every parameter: its default, or a sample of its type when it is required.
fn sample(p: &Param) -> Option<Value> {
    Some(match p.default {
        Default::Optional => return None,
        Default::Int(i) => Value::Int(i),
        Default::Float(f) => Value::Float(f),
        Default::Bool(b) => Value::Bool(b),
        Default::Sym(s) => Value::Sym(s.into()),
        Default::Str(s) => Value::Str(s.into()),
        Default::Required => match p.ty {
            Ty::Str => Value::Str("digits".into()),
            Ty::Int { .. } => Value::Int(3),
            Ty::Float { .. } => Value::Float(0.5),
            Ty::FloatList => Value::List(vec![Value::Float(1.0), Value::Int(20)]),
            other => panic!("no sample for `{}` of type {other:?}", p.name),
        },
        other => panic!("no sample for `{}` with default {other:?}", p.name),
    })
}

fn ctors(set: &CtorSet) -> Vec<Ctor> {
    set.sigs
        .iter()
        .map(|sig| Ctor {
            name: sig.name.into(),
            args: sig
                .params()
                .filter_map(|p| sample(p).map(|v| (p.name.to_string(), v)))
                .collect(),
        })
        .collect()
}

fn round_trip<T: fmt::Display>(set: &CtorSet, build: fn(&Ctor) -> Built<T>) {
    for c in ctors(set) {
        let typed = build(&c).unwrap_or_else(|e| panic!("{}: {e}", set.what));
        assert_eq!(typed.to_string(), c.to_string(), "{}", set.what);
    }
}

#[test]
fn every_schema_constructor_has_a_typed_form_that_prints_as_bound() {
    round_trip(&schema::OPTIMIZER, Optimizer::from_ctor);
    round_trip(&schema::LOSS, Loss::from_ctor);
    round_trip(&schema::SCHEDULE, Schedule::from_ctor);
    round_trip(&schema::SAMPLER, Sampler::from_ctor);
    round_trip(&schema::SOURCE, Source::from_ctor);
    round_trip(&schema::SCALE, Scale::from_ctor);
    round_trip(&schema::INIT, crate::hir::Init::from_ctor);
}

#[test]
fn optional_and_open_arguments_keep_their_text() {
    let ce = Ctor {
        name: "cross_entropy".into(),
        args: vec![
            ("label_smoothing".into(), Value::Float(0.0)),
            (
                "class_weights".into(),
                Value::List(vec![Value::Int(1), Value::Float(2.5)]),
            ),
        ],
    };
    let loss = Loss::from_ctor(&ce).unwrap();
    assert_eq!(
        loss.class_weights(),
        Some(&ClassWeights::Given(vec![1.0, 2.5]))
    );
    assert_eq!(loss.to_string(), ce.to_string());
    let synthetic = Ctor {
        name: "synthetic".into(),
        args: vec![
            ("name".into(), Value::Str("blobs".into())),
            ("n".into(), Value::Int(300)),
            ("std".into(), Value::Float(0.25)),
        ],
    };
    assert_eq!(
        Source::from_ctor(&synthetic).unwrap().to_string(),
        synthetic.to_string()
    );
}

#[test]
fn a_missing_argument_is_reported_not_read_as_zero() {
    let sgd = Ctor {
        name: "sgd".into(),
        args: vec![("lr".into(), Value::Float(0.1))],
    };
    assert_eq!(
        Optimizer::from_ctor(&sgd),
        Err(Unfit {
            ctor: "sgd".into(),
            arg: "momentum".into()
        })
    );
    let unknown = Ctor {
        name: "lion".into(),
        args: Vec::new(),
    };
    assert!(Optimizer::from_ctor(&unknown).is_err());
}
