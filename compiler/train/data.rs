//! Loads and prepares a `data` block for training: source, split, scaling, shape checks.

use super::RunError;
use crate::hir::settings::heads::Feed;
use crate::hir::settings::{CsvLabel, Scale, Source};
use crate::hir::DataDecl;
use nnc_runtime::data::{self, CsvOptions, Dataset, LabelColumn, Scaling};
use std::path::Path;

/// The training, validation and test splits, scaled, with features shaped like the
/// network input.
#[derive(Clone)]
pub struct Prepared {
    pub train: Dataset,
    /// Held out of the training part (the data block's `validation`), if any.
    pub validation: Option<Dataset>,
    pub test: Dataset,
    /// The scaling fitted on the training split (rules read the unscaled features).
    pub scaler: data::Scaler,
}

fn load(source: &Source, seed: u64, base: &Path) -> Result<Dataset, RunError> {
    let ds = match source {
        Source::Builtin { name } => data::builtin(name)?,
        Source::Synthetic { name, params } => {
            let params: Vec<(&str, f64)> = params.iter().map(|(n, v)| (n.as_str(), *v)).collect();
            data::builtin_with(name, seed, &params)?
        }
        Source::Csv {
            path,
            header,
            label,
            delimiter,
        } => data::load_csv(
            base.join(path),
            &CsvOptions {
                header: *header,
                label: match label {
                    CsvLabel::Last => LabelColumn::Last,
                    CsvLabel::Index(i) => LabelColumn::Index(*i as usize),
                    CsvLabel::Name(n) => LabelColumn::Name(n.clone()),
                },
                delimiter: *delimiter,
            },
        )?,
        Source::Npy { x, y } => data::load_npy(base.join(x), base.join(y))?,
        Source::Npz { path, x, y } => data::load_npz(base.join(path), Some(x), Some(y))?,
        Source::Idx { images, labels } => data::load_idx(base.join(images), base.join(labels))?,
    };
    Ok(ds)
}

fn scaling(scale: Scale) -> Scaling {
    match scale {
        Scale::None => Scaling::None,
        Scale::Standardize => Scaling::Standardize,
        Scale::MinMax => Scaling::MinMax,
        Scale::Divide { by } => Scaling::Divide(by as f32),
    }
}

/// Loads `decl`'s data (relative paths from `base`, the spec's folder), splits it with
/// `seed`, scales it, and checks it against the network's inputs and class count: one
/// input reads every feature, shaped like it; several read their columns.
pub fn prepare(
    decl: &DataDecl,
    seed: u64,
    base: &Path,
    feeds: &[Feed],
    classes: Option<usize>,
) -> Result<Prepared, RunError> {
    let input_shape: Option<&[usize]> = match feeds {
        [Feed {
            columns: None,
            shape,
            ..
        }] => Some(shape),
        _ => None,
    };
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
    // The validation split comes out of the training part, stratified, from its own
    // stream: the training part is then exactly what it would be without it only when
    // `validation` is 0.
    let mut validation = None;
    if decl.validation > 0.0 {
        let split = data::stratified_split_stream(
            &train,
            1.0 - decl.validation,
            seed,
            nnc_runtime::rng::stream::SPLIT + 1,
        )?;
        validation = Some(train.subset(&split.test));
        train = train.subset(&split.train);
    }
    let scaler = data::Scaler::fit(scaling(decl.scale), &train)?;
    for ds in [Some(&mut train), validation.as_mut(), Some(&mut test)]
        .into_iter()
        .flatten()
    {
        scaler.transform(ds)?;
    }
    let shaped = |ds: Dataset| -> Result<Dataset, RunError> {
        let mut ds = match &decl.shape {
            Some(shape) => {
                let shape: Vec<usize> = shape.iter().map(|d| *d as usize).collect();
                ds.with_feature_shape(&shape)?
            }
            None => ds,
        };
        match input_shape {
            Some(input_shape) => {
                ds.check_input_shape(input_shape)?;
                if ds.feature_shape() != input_shape {
                    ds = ds.with_feature_shape(input_shape)?;
                }
            }
            None => columns_exist(&ds, feeds)?,
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
    let validation = validation.map(shaped).transpose()?;
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
        validation,
        test,
        scaler,
    })
}

/// Every input's columns exist in the data (their count was checked against the input's
/// shape by `nnc check`).
fn columns_exist(ds: &Dataset, feeds: &[Feed]) -> Result<(), RunError> {
    let have = ds.n_features();
    for feed in feeds {
        if let Some(c) = feed.columns.as_ref().filter(|c| c.end > have) {
            return Err(RunError::config(
                format!(
                    "input `{}` reads columns {}..{}, but {} has {have} feature columns",
                    feed.input,
                    c.start,
                    c.end,
                    ds.origin()
                ),
                "Give the data block's `inputs` columns the data has (0-based, the end excluded).",
            ));
        }
    }
    Ok(())
}
