//! A trained network's layer values over a data split: the forward pass in evaluation
//! mode (running statistics, no dropout) on the reference interpreter, in batches, with
//! the wanted layers' outputs as the program's results.

use crate::lower::{lower_network, LowerOptions, Lowered, Mode};
use crate::prim::interp;
use crate::train::{RunError, Trainer};
use ndarray::{concatenate, ArrayD, Axis};
use std::collections::HashMap;

/// Examples per forward pass: large enough to amortise the interpreter's per-node cost,
/// small enough that a conv net's activations stay a few MB per batch.
pub const BATCH: usize = 256;

/// The evaluation-mode lowering of the trainer's network at `batch`.
pub fn lowered(trainer: &Trainer, mode: Mode, batch: usize) -> Lowered {
    lower_network(
        trainer.net(),
        &LowerOptions {
            mode,
            batch,
            default_init: trainer.decl().init.clone(),
        },
    )
}

/// The values of `layers` (names of the trainer's network) over every example of the
/// test split (`test`) or the training split, in order, each `[examples, ...shape]`.
pub fn layer_values(
    trainer: &Trainer,
    test: bool,
    layers: &[String],
) -> Result<Vec<ArrayD<f32>>, RunError> {
    let ds = if test {
        &trainer.data().test
    } else {
        &trainer.data().train
    };
    let rows: Vec<usize> = (0..ds.n_samples()).collect();
    let mut programs: HashMap<usize, Lowered> = HashMap::new();
    let mut parts: Vec<Vec<ArrayD<f32>>> = vec![Vec::new(); layers.len()];
    let params = trainer.state_bindings();
    for chunk in rows.chunks(BATCH) {
        let program = programs
            .entry(chunk.len())
            .or_insert_with(|| lowered(trainer, Mode::Eval, chunk.len()));
        let nodes = layers
            .iter()
            .map(|l| {
                program
                    .layer_outputs
                    .iter()
                    .find(|(name, _)| name == l)
                    .map(|(_, id)| *id)
                    .ok_or_else(|| RunError::internal(format!("no layer `{l}`")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let input = &program.inputs[0].0;
        let mut bindings = params.clone();
        bindings
            .inputs
            .insert(input.clone(), crate::train::batch::features(ds, chunk));
        let values =
            interp::evaluate(&program.graph, &bindings, &nodes).map_err(RunError::internal)?;
        for (part, value) in parts.iter_mut().zip(values) {
            part.push(value);
        }
    }
    parts
        .into_iter()
        .map(|p| {
            let views: Vec<_> = p.iter().map(|a| a.view()).collect();
            concatenate(Axis(0), &views).map_err(RunError::internal)
        })
        .collect()
}

/// Each example's layer values as one row (for a probe): `[examples, features]`.
#[allow(
    clippy::expect_used,
    reason = "n is the leading axis, so it divides the element count (0 rows for an empty array)"
)]
pub fn flatten_examples(values: &ArrayD<f32>) -> ndarray::Array2<f64> {
    let n = values.shape().first().copied().unwrap_or(0);
    let d = values.len() / n.max(1);
    ndarray::Array2::from_shape_vec((n, d), values.iter().map(|v| *v as f64).collect())
        .expect("an array of n examples has n rows")
}
