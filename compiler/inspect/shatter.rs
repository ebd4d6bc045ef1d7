//! Shattered gradients (Balduzzi et al. 2017, papers.md section 8): the derivative of a
//! scalar-output network with respect to its scalar input, over a 1-D grid of inputs,
//! and how correlated neighbouring gradients are.
//!
//! Batch norm is "frozen" as in the paper's experiment: its mean and variance are those of
//! the grid itself (a training-mode forward pass over the whole grid gives every batch
//! norm's input), then held constant while differentiating, so each grid point's
//! gradient is its own. Everything runs on the reference interpreter in f64, so a
//! looks-linear network's constant gradient is constant to rounding.

use super::activations::lowered;
use super::InspectError;
use crate::hir::LayerOp;
use crate::lower::Mode;
use crate::prim::autodiff;
use crate::prim::interp::{self, Bindings};
use crate::syntax::ast::{ExprKind, File, Item, Stmt};
use crate::train::{RunError, Trainer};
use ndarray::{ArrayD, Axis, IxDyn};

/// `n` equally spaced points from `lo` to `hi`, both included.
pub fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![lo];
    }
    (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
        .collect()
}

/// Checks that the trainer's network maps one scalar to outputs of which `unit` is
/// chosen; returns the output width.
pub fn check_scalar(trainer: &Trainer, unit: Option<usize>) -> Result<usize, InspectError> {
    let net = trainer.net();
    let input = net.layer(net.inputs[0]);
    let output = &net.outputs[0];
    let out_layer = net.layer(output.layer);
    let width: u64 = out_layer.shape.iter().product();
    if input.shape.iter().product::<u64>() != 1 {
        return Err(InspectError::NotScalar {
            message: format!(
                "network `{}` takes `{}` of shape {:?}; gradient diagnostics need one scalar input",
                net.name, input.name, input.shape
            ),
            help: "Give the network `input x: [1]` (e.g. with `synthetic(\"grid1d\")` data), so its gradient can be followed along a line of inputs.".into(),
        });
    }
    match unit {
        Some(u) if u as u64 >= width => Err(InspectError::NotScalar {
            message: format!(
                "--output-unit {u} is out of range: output `{}` has {width} units",
                output.name
            ),
            help: format!("Choose a unit from 0 to {}.", width - 1),
        }),
        None if width != 1 => Err(InspectError::NotScalar {
            message: format!(
                "network `{}` has output `{}` of shape {:?}, not a scalar",
                net.name, output.name, out_layer.shape
            ),
            help: format!(
                "Select one output with --output-unit K (0 to {}), or end the network with `dense(1)`.",
                width - 1
            ),
        }),
        _ => Ok(width as usize),
    }
}

/// The trainer's state with every batch norm's running statistics replaced by the
/// statistics of its input over the grid `x` (`[n, 1]`).
fn frozen_state(trainer: &Trainer, x: &ArrayD<f64>) -> Result<Bindings<f64>, RunError> {
    let n = x.shape()[0];
    let mut bindings = Bindings::<f64>::new().seed(trainer.decl().seed, trainer.step());
    for (name, value) in trainer.state() {
        bindings = bindings.param(name, value.mapv(|v| v as f64));
    }
    let net = trainer.net();
    let norms: Vec<(&str, &str)> = net
        .layers
        .iter()
        .filter(|l| matches!(l.op, LayerOp::BatchNorm { .. }))
        .map(|l| (l.name.as_str(), net.layer(l.inputs[0]).name.as_str()))
        .collect();
    if norms.is_empty() {
        return Ok(bindings);
    }
    let train = lowered(trainer, Mode::Train, n);
    let node_of = |layer: &str| {
        train
            .layer_outputs
            .iter()
            .find(|(l, _)| l == layer)
            .map(|(_, id)| *id)
            .ok_or_else(|| RunError::internal(format!("no layer `{layer}`")))
    };
    let wanted = norms
        .iter()
        .map(|(_, input)| node_of(input))
        .collect::<Result<Vec<_>, _>>()?;
    let mut b = bindings.clone();
    b.inputs.insert(train.inputs[0].0.clone(), x.clone());
    let values = interp::evaluate(&train.graph, &b, &wanted).map_err(RunError::internal)?;
    for ((norm, _), v) in norms.iter().zip(values) {
        // Channels on axis 1; every other axis is a sample, as batch norm averages.
        let channels = v.shape()[1];
        let samples = v.len() / channels;
        let moved = v
            .view()
            .permuted_axes(move_axis_1_first(v.ndim()))
            .as_standard_layout()
            .into_owned();
        let flat = moved
            .into_shape_with_order((channels, samples))
            .map_err(RunError::internal)?;
        let mean = flat
            .mean_axis(Axis(1))
            .ok_or_else(|| RunError::internal(format!("`{norm}` saw no examples")))?;
        let var = flat.var_axis(Axis(1), 0.0);
        bindings = bindings
            .param(&format!("{norm}.running_mean"), mean.into_dyn())
            .param(&format!("{norm}.running_var"), var.into_dyn());
    }
    Ok(bindings)
}

fn move_axis_1_first(ndim: usize) -> Vec<usize> {
    let mut axes = vec![1, 0];
    axes.extend(2..ndim);
    axes
}

/// d output[unit] / d x at every point of `xs`, with batch norm frozen at the grid's
/// statistics.
pub fn input_gradient(
    trainer: &Trainer,
    xs: &[f64],
    unit: usize,
    width: usize,
) -> Result<Vec<f64>, RunError> {
    let n = xs.len();
    let x = ArrayD::from_shape_vec(IxDyn(&[n, 1]), xs.to_vec()).map_err(RunError::internal)?;
    let mut bindings = frozen_state(trainer, &x)?;
    let mut program = lowered(trainer, Mode::Eval, n);
    let g = &mut program.graph;
    let (input_name, input) = program.inputs[0].clone();
    let output = program.outputs[0].1;
    let flat = g.reshape(output, &[n, width]);
    // Summing one output unit over the batch: each example's gradient is its own because
    // nothing (batch norm included, frozen) mixes examples.
    let mask = g.input("inspect.unit_mask", &[n, width]);
    let picked = g.mul(flat, mask);
    let total = g.sum_all(picked);
    let grads = autodiff::differentiate(g, total, &[input]);
    let mut m = ArrayD::<f64>::zeros(IxDyn(&[n, width]));
    for i in 0..n {
        m[[i, unit]] = 1.0;
    }
    bindings.inputs.insert("inspect.unit_mask".into(), m);
    bindings.inputs.insert(input_name, x);
    let values = interp::evaluate(g, &bindings, &grads).map_err(RunError::internal)?;
    Ok(values[0].iter().copied().collect())
}

/// The byte range of the count of the one `repeat` in network `network` of `file` that
/// `--depths` changes: it must be a number literal, and the network must have exactly
/// one `repeat` at its top level.
pub fn repeat_count_span(file: &File, network: &str) -> Result<(usize, usize), InspectError> {
    let Some(net) = file.items.iter().find_map(|i| match i {
        Item::Network(n) if n.name.name == network => Some(n),
        _ => None,
    }) else {
        return Err(InspectError::invalid(
            format!("network `{network}` is not defined in the spec itself"),
            "--depths rewrites the `repeat` of the trained network, so define it in the file given, not in an import.",
        ));
    };
    let counts: Vec<_> = net
        .body
        .iter()
        .filter_map(|s| match s {
            Stmt::Let { value, .. } => match &value.kind {
                ExprKind::Repeat { count, .. } => Some(count),
                _ => None,
            },
            _ => None,
        })
        .collect();
    match counts.as_slice() {
        [count] if matches!(count.kind, ExprKind::Number(_)) => {
            Ok((count.span.start as usize, count.span.end as usize))
        }
        [_] => Err(InspectError::invalid(
            format!("the `repeat` count of network `{network}` is not a number"),
            "Write the depth as a number (`repeat 4 { ... }`) for --depths to replace it.",
        )),
        [] => Err(InspectError::invalid(
            format!("network `{network}` has no `repeat` for --depths to vary"),
            "Stack the repeated layers with `let h = repeat 4 { h |> ... }`; --depths sets its count.",
        )),
        more => Err(InspectError::invalid(
            format!(
                "network `{network}` has {} `repeat`s; --depths varies exactly one",
                more.len()
            ),
            "Keep one top-level `repeat` in the network, or compare depths with separate specs.",
        )),
    }
}

/// `text` with the byte range `span` replaced by `depth`.
pub fn with_depth(text: &str, span: (usize, usize), depth: u64) -> String {
    format!("{}{depth}{}", &text[..span.0], &text[span.1..])
}
