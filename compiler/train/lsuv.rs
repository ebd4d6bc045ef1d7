//! Layer-sequential unit-variance init (Mishkin & Matas 2016, papers.md section 2).
//!
//! The weights start orthonormal. Then, for each conv or dense layer that asks for LSUV,
//! first to last: forward one batch, measure the variance of the layer's own output
//! (before its activation; one scalar over the whole batch output, population variance),
//! and divide the weights by its square root, until |var - 1| < tol or max_iter rescalings.
//! The forward pass runs in evaluation mode (no dropout; batch norm with its initial
//! running statistics), on the first `BATCH` examples of the first epoch's order.

use super::{batch, RunError, Trainer};
use crate::hir::Init;
use crate::lower::Mode;
use crate::prim::interp;
use nnc_runtime::data::epoch_order;
use serde::Serialize;

/// Examples in the LSUV batch (fewer if the training split is smaller): the paper asks for
/// large batches, so the variance estimate is stable.
pub const BATCH: usize = 256;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LsuvReport {
    pub layer: String,
    pub var_before: f64,
    pub var_after: f64,
    pub iterations: u32,
}

fn variance(values: &ndarray::ArrayD<f32>) -> f64 {
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|x| *x as f64).sum::<f64>() / n;
    values
        .iter()
        .map(|x| (*x as f64 - mean).powi(2))
        .sum::<f64>()
        / n
}

pub fn run(t: &mut Trainer) -> Result<Vec<LsuvReport>, RunError> {
    let targets: Vec<(String, String, f64, u32)> = t
        .params
        .iter()
        .filter(|p| p.kind == crate::hir::params::ParamKind::Weight)
        .filter_map(|p| {
            let Init::Lsuv { tol, max_iter } = p.init else {
                return None;
            };
            Some((p.name.clone(), p.layer.clone(), tol, max_iter))
        })
        .collect();
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let n = t.data.train.n_samples();
    let rows: Vec<usize> = epoch_order(n, t.decl().seed, 0)
        .into_iter()
        .take(BATCH.min(n))
        .collect();
    let mut inputs = batch::feeds(&t.feeds, &t.data.train, &rows);
    inputs.extend(batch::aims(&t.heads, &t.data.train, &rows));
    let inputs: Vec<(String, ndarray::ArrayD<f32>)> = inputs
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    let program = t.program(Mode::Eval, rows.len()).clone();
    let mut reports = Vec::new();
    for (param, layer, tol, max_iter) in targets {
        let Some(&(_, node)) = program
            .lowered
            .layer_outputs
            .iter()
            .find(|(l, _)| *l == layer)
        else {
            continue;
        };
        let measure = |t: &Trainer| -> Result<f64, RunError> {
            let bindings = inputs
                .iter()
                .fold(t.state_bindings(), |b, (n, v)| b.input(n, v.clone()));
            let values =
                interp::evaluate(&program.graph, &bindings, &[node]).map_err(RunError::internal)?;
            Ok(variance(&values[0]))
        };
        let var_before = measure(t)?;
        let mut var = var_before;
        let mut iterations = 0;
        while (var - 1.0).abs() >= tol && iterations < max_iter && var.is_finite() && var > 0.0 {
            let scale = (1.0 / var.sqrt()) as f32;
            if let Some(w) = t.state.get_mut(&param) {
                w.mapv_inplace(|v| v * scale);
            }
            iterations += 1;
            var = measure(t)?;
        }
        reports.push(LsuvReport {
            layer,
            var_before,
            var_after: var,
            iterations,
        });
    }
    Ok(reports)
}
