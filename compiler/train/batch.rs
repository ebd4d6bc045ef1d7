//! Batch assembly: the arrays a program reads for some rows of a split. Shared by the
//! trainer, evaluation, LSUV and `compiler/inspect`.

use crate::hir::settings::heads::{Feed, Head};
use crate::hir::settings::Loss;
use ndarray::{ArrayD, IxDyn};
use nnc_runtime::data::{Dataset, Scaler, Targets};
use std::ops::Range;

/// The features of `rows` of `ds`, `[rows, ...feature shape]`.
pub fn features(ds: &Dataset, rows: &[usize]) -> ArrayD<f32> {
    let mut shape = vec![rows.len()];
    shape.extend_from_slice(ds.feature_shape());
    let features = ds.features();
    let mut x = Vec::with_capacity(rows.len() * features.ncols());
    for &r in rows {
        x.extend(features.row(r).iter().copied());
    }
    array(&shape, x)
}

/// Feature columns `columns` of `rows` of `ds` shaped `[rows, ...shape]`: one of several
/// network inputs (the checks made the columns hold `shape`'s values).
pub fn columns(
    ds: &Dataset,
    rows: &[usize],
    columns: Range<usize>,
    shape: &[usize],
) -> ArrayD<f32> {
    let mut full = vec![rows.len()];
    full.extend_from_slice(shape);
    let features = ds.features();
    let mut x = Vec::with_capacity(rows.len() * columns.len());
    for &r in rows {
        x.extend(
            features
                .row(r)
                .iter()
                .skip(columns.start)
                .take(columns.len())
                .copied(),
        );
    }
    array(&full, x)
}

/// The inputs of one batch: each network input's features.
pub fn feeds<'a>(feeds: &'a [Feed], ds: &Dataset, rows: &[usize]) -> Vec<(&'a str, ArrayD<f32>)> {
    feeds
        .iter()
        .map(|f| {
            let x = match &f.columns {
                Some(c) => columns(ds, rows, c.clone(), &f.shape),
                None => features(ds, rows),
            };
            (f.input.as_str(), x)
        })
        .collect()
}

/// The targets inputs of one batch: each output's targets under its input name.
pub fn aims<'a>(
    heads: &'a [(Head, String)],
    ds: &Dataset,
    rows: &[usize],
) -> Vec<(&'a str, ArrayD<f32>)> {
    heads
        .iter()
        .map(|(h, input)| {
            (
                input.as_str(),
                targets_of(ds, h.column, rows, h.width, &h.loss),
            )
        })
        .collect()
}

/// The targets of `rows` of `ds` for a prediction `width` values wide: one-hot labels (a
/// 0/1 label for `binary_cross_entropy`), or real-valued targets. An unlabelled example
/// keeps an all-zero target, so its CE(y, p) is exactly 0.
pub fn targets(ds: &Dataset, rows: &[usize], width: usize, loss: &Loss) -> ArrayD<f32> {
    targets_of(ds, 0, rows, width, loss)
}

/// [`targets`] of target column `column` (all zeros if the data has no such column: the
/// trainer checked it has).
pub fn targets_of(
    ds: &Dataset,
    column: usize,
    rows: &[usize],
    width: usize,
    loss: &Loss,
) -> ArrayD<f32> {
    let mut y = ArrayD::zeros(IxDyn(&[rows.len(), width]));
    let Some(targets) = ds.target_column(column) else {
        return y;
    };
    match targets {
        Targets::Classes { labels, .. } => {
            for (i, &r) in rows.iter().enumerate().filter(|(_, &r)| ds.is_labelled(r)) {
                let label = labels[r] as usize;
                match loss {
                    Loss::BinaryCrossEntropy => y[[i, 0]] = label as f32,
                    Loss::CrossEntropy { .. } | Loss::Mse if label < width => y[[i, label]] = 1.0,
                    Loss::CrossEntropy { .. } | Loss::Mse => {}
                }
            }
        }
        Targets::Real(t) => {
            for (i, &r) in rows.iter().enumerate() {
                for j in 0..width.min(t.ncols()) {
                    y[[i, j]] = t[[r, j]];
                }
            }
        }
    }
    y
}

/// The unscaled features of `rows` of `ds` (what rules read), `[rows, features]`.
pub fn raw_features(ds: &Dataset, scaler: &Scaler, rows: &[usize]) -> ArrayD<f32> {
    let features = ds.features();
    let (shift, scale) = (scaler.shift(), scaler.scale());
    let mut raw = Vec::with_capacity(rows.len() * features.ncols());
    for &r in rows {
        for (j, v) in features.row(r).iter().enumerate() {
            raw.push(v * scale[j] + shift[j]);
        }
    }
    array(&[rows.len(), features.ncols()], raw)
}

/// The labels of `rows` (empty for real-valued targets) and whether each row has one.
pub fn labels(ds: &Dataset, rows: &[usize]) -> (Vec<u32>, Vec<bool>) {
    labels_of(ds, 0, rows)
}

/// [`labels`] of target column `column`.
pub fn labels_of(ds: &Dataset, column: usize, rows: &[usize]) -> (Vec<u32>, Vec<bool>) {
    let labels = match ds.target_column(column) {
        Some(Targets::Classes { labels, .. }) => rows.iter().map(|&r| labels[r]).collect(),
        _ => Vec::new(),
    };
    (labels, rows.iter().map(|&r| ds.is_labelled(r)).collect())
}

/// The rows of a `[n, ...]` output as flat vectors of `width` values.
pub fn rows(values: &ArrayD<f32>, n: usize, width: usize) -> Vec<Vec<f32>> {
    let flat: Vec<f32> = values.iter().copied().collect();
    flat.chunks(width.max(1))
        .take(n)
        .map(<[f32]>::to_vec)
        .collect()
}

/// A scalar input.
pub fn scalar(v: f64) -> ArrayD<f32> {
    ArrayD::from_elem(IxDyn(&[]), v as f32)
}

/// `values` as an array of `shape`; the callers build exactly `shape`'s element count.
fn array(shape: &[usize], values: Vec<f32>) -> ArrayD<f32> {
    let n = values.len();
    ArrayD::from_shape_vec(IxDyn(shape), values)
        .unwrap_or_else(|_| unreachable!("{n} values built for shape {shape:?}"))
}
