//! Loads and prepares a `data` block for training: source, split, scaling, shape checks.

use super::RunError;
use crate::hir::value::Ctor;
use crate::hir::{DataDecl, Value};
use nnc_runtime::data::{self, CsvOptions, Dataset, LabelColumn, Scaling};
use std::path::Path;

/// The training and test splits, scaled, with features shaped like the network input.
pub struct Prepared {
    pub train: Dataset,
    pub test: Dataset,
    /// The scaling fitted on the training split (rules read the unscaled features).
    pub scaler: data::Scaler,
}

fn load(source: &Ctor, seed: u64, base: &Path) -> Result<Dataset, RunError> {
    let path = |key: &str| base.join(source.sym(key));
    let ds = match source.name.as_str() {
        "builtin" => data::builtin(source.sym("name"))?,
        "synthetic" => {
            let params: Vec<(&str, f64)> = source
                .args
                .iter()
                .filter(|(n, _)| n != "name")
                .filter_map(|(n, v)| v.as_f64().map(|x| (n.as_str(), x)))
                .collect();
            data::builtin_with(source.sym("name"), seed, &params)?
        }
        "csv" => {
            let label = match source.get("label") {
                Some(Value::Int(i)) => LabelColumn::Index(*i as usize),
                Some(Value::Str(s)) => LabelColumn::Name(s.clone()),
                _ => LabelColumn::Last,
            };
            let delimiter = source.sym("delimiter").bytes().next().unwrap_or(b',');
            let header = matches!(source.get("header"), Some(Value::Bool(true)));
            data::load_csv(
                path("path"),
                &CsvOptions {
                    header,
                    label,
                    delimiter,
                },
            )?
        }
        "npy" => data::load_npy(path("x"), path("y"))?,
        "npz" => data::load_npz(path("path"), Some(source.sym("x")), Some(source.sym("y")))?,
        "idx" => data::load_idx(path("images"), path("labels"))?,
        other => unreachable!("the checker accepts no data source `{other}`"),
    };
    Ok(ds)
}

fn scaling(c: &Ctor) -> Scaling {
    match c.name.as_str() {
        "standardize" => Scaling::Standardize,
        "minmax" => Scaling::MinMax,
        "divide" => Scaling::Divide(c.f64("by") as f32),
        _ => Scaling::None,
    }
}

/// Loads `decl`'s data (relative paths from `base`, the spec's folder), splits it with
/// `seed`, scales it, and checks it against the network's input shape and class count.
pub fn prepare(
    decl: &DataDecl,
    seed: u64,
    base: &Path,
    input_shape: &[usize],
    classes: Option<usize>,
) -> Result<Prepared, RunError> {
    let all = load(&decl.source, seed, base)?;
    let (mut train, mut test) = match &decl.test {
        Some(test_source) => {
            let test = load(test_source, seed, base)?;
            if test.n_unlabelled() > 0 {
                return Err(RunError::config(
                    format!(
                        "the test data has {} unlabelled examples, which cannot be scored",
                        test.n_unlabelled()
                    ),
                    "Give the `test` source labels for every example (unlabelled examples belong in `source`).",
                ));
            }
            (all, test)
        }
        None => {
            let split = data::stratified_split(&all, decl.split, seed)?;
            (all.subset(&split.train), all.subset(&split.test))
        }
    };
    let scaler = data::scale_split(scaling(&decl.scale), &mut train, &mut test)?;
    let shaped = |ds: Dataset| -> Result<Dataset, RunError> {
        let mut ds = match &decl.shape {
            Some(shape) => {
                let shape: Vec<usize> = shape.iter().map(|d| *d as usize).collect();
                ds.with_feature_shape(&shape)?
            }
            None => ds,
        };
        ds.check_input_shape(input_shape)?;
        if ds.feature_shape() != input_shape {
            ds = ds.with_feature_shape(input_shape)?;
        }
        if let Some(names) = &decl.classes {
            ds = ds.with_class_names(names.clone())?;
        }
        if let Some(names) = &decl.features {
            ds = ds.with_feature_names(names.clone())?;
        }
        Ok(ds)
    };
    train = shaped(train)?;
    test = shaped(test)?;
    if let Some(k) = classes {
        let have = train.n_classes().max(test.n_classes()) as usize;
        if have > k {
            return Err(RunError::config(
                format!("the data has {have} classes but the network predicts {k}"),
                format!("Give the network's last layer {have} outputs, e.g. `dense({have})`."),
            ));
        }
    }
    Ok(Prepared {
        train,
        test,
        scaler,
    })
}
