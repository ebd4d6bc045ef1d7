//! The training step as one primitive program: forward (training mode), loss, backward
//! (autodiff) and the optimizer update. Its outputs are the loss, the predictions, the
//! per-example losses, and the new value of every parameter and piece of state.

use super::loss::{cross_entropy, smoothed};
use super::rules::{self, Rules};
use crate::hir::settings::{heads, Loss};
use crate::hir::{Network, TrainDecl};
use crate::lower::{lower_network, LowerOptions, Lowered, Mode, StateDecl};
use crate::prim::{Graph, NodeId};

/// Names of the step program's scalar inputs.
pub const LR: &str = "lr";
pub use super::update::{ADAM_C1, ADAM_C2};
/// The targets input: one-hot labels, or real-valued targets for mse.
pub const TARGETS: &str = "y";
/// Per-example loss weights `[batch]` (class-weighted loss, training only), normalised on
/// the host to average 1 over the batch, so the loss is `sum(w l) / sum(w)` as PyTorch's.
pub const EXAMPLE_WEIGHTS: &str = "example_weights";

/// Whether the training step takes [`EXAMPLE_WEIGHTS`]: the loss has `class_weights`.
pub fn has_example_weights(train: &TrainDecl) -> bool {
    train.loss.class_weights().is_some()
}

/// The targets input of `output`: [`TARGETS`] for a network with one output, else
/// `y.<output>`.
pub fn targets_input(net: &Network, output: &str) -> String {
    if net.outputs.len() == 1 {
        TARGETS.to_string()
    } else {
        format!("{TARGETS}.{output}")
    }
}

/// One output of a network with several: its prediction and its own (unweighted) loss.
#[derive(Clone, Debug)]
pub struct HeadNodes {
    pub output: String,
    pub prediction: NodeId,
    pub loss: NodeId,
}

/// A lowered network plus its loss: shared by the training step and evaluation.
#[derive(Clone, Debug)]
pub struct Program {
    pub lowered: Lowered,
    pub graph: Graph,
    /// The network output the loss reads.
    pub prediction: NodeId,
    pub loss: NodeId,
    /// One loss per example, `[batch]`.
    pub per_example: NodeId,
    /// New values of parameters and state, by name (training only).
    pub updates: Vec<(String, NodeId)>,
    /// Optimizer state, named `opt.<param>.<slot>` (training only).
    pub opt_state: Vec<StateDecl>,
    /// The rules' teacher q, `[batch, classes]` (evaluation with rules only).
    pub q: Option<NodeId>,
    /// With several outputs, each one's prediction and loss (`loss` is their weighted sum
    /// and `prediction` the first's); empty with one output.
    pub heads: Vec<HeadNodes>,
}

/// A distillation teacher: its network (weights read as `teacher.<name>`), the softmax
/// temperature T and the weight w of the soft-target term.
#[derive(Clone, Debug)]
pub struct Distill {
    pub teacher: Network,
    pub temperature: f64,
    pub weight: f64,
}

/// Prefix of the teacher's weights in the step program.
pub const TEACHER_PREFIX: &str = "teacher.";

/// What the loss adds to the train block's own: logic rules and distillation.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    pub rules: Option<Rules>,
    pub distill: Option<Distill>,
}

/// The width of the targets input for a prediction of shape `[batch, width]`.
pub fn target_width(prediction_shape: &[usize]) -> usize {
    prediction_shape[1..].iter().product()
}

/// Forward + loss for one batch size and mode.
pub fn forward_with_loss(net: &Network, train: &TrainDecl, batch: usize, mode: Mode) -> Program {
    forward_with_extras(net, train, batch, mode, &Extras::default())
}

/// Forward + loss, with the rules' and the teacher's terms of `extras`.
pub fn forward_with_extras(
    net: &Network,
    train: &TrainDecl,
    batch: usize,
    mode: Mode,
    extras: &Extras,
) -> Program {
    let default_init = train.init.clone();
    let lowered = lower_network(
        net,
        &LowerOptions {
            mode,
            batch,
            default_init,
        },
    );
    let mut g = lowered.graph.clone();
    if net.outputs.len() > 1 {
        return several_outputs(lowered, g, train, batch);
    }
    let prediction = lowered.outputs[0].1;
    let width = target_width(g.shape(prediction));
    let flat = g.reshape(prediction, &[batch, width]);
    let targets = g.input(TARGETS, &[batch, width]);
    let per_example = per_example_loss(&mut g, &train.loss, flat, targets);
    let (per_example, q) = with_extras(&mut g, net, &lowered, flat, per_example, mode, extras);
    let loss = if mode == Mode::Train && has_example_weights(train) {
        let weights = g.input(EXAMPLE_WEIGHTS, &[batch]);
        let weighted = g.mul(per_example, weights);
        g.mean_all(weighted)
    } else {
        g.mean_all(per_example)
    };
    g.output("loss", loss);
    g.output("per_example_loss", per_example);
    g.output("prediction", prediction);
    Program {
        lowered,
        graph: g,
        prediction,
        loss,
        per_example,
        updates: Vec::new(),
        opt_state: Vec::new(),
        q,
        heads: Vec::new(),
    }
}

/// Each example's loss of a `[batch, width]` prediction against its targets.
fn per_example_loss(g: &mut Graph, loss: &Loss, flat: NodeId, targets: NodeId) -> NodeId {
    let batch = g.shape(flat)[0];
    match loss {
        Loss::CrossEntropy {
            label_smoothing, ..
        } => {
            let targets = smoothed(g, targets, *label_smoothing);
            cross_entropy(g, targets, flat)
        }
        Loss::Mse => {
            let diff = g.sub(flat, targets);
            let sq = g.square(diff);
            let per = g.mean(sq, &[1]);
            g.reshape(per, &[batch])
        }
        Loss::BinaryCrossEntropy => {
            // max(z, 0) - z y + log(1 + exp(-|z|)): stable for any logit.
            let pos = g.relu(flat);
            let zy = g.mul(flat, targets);
            let abs = g.abs(flat);
            let neg_abs = g.neg(abs);
            let e = g.exp(neg_abs);
            let one_plus = g.add_scalar(e, 1.0);
            let softplus = g.log(one_plus);
            let a = g.sub(pos, zy);
            let per = g.add(a, softplus);
            let per = g.mean(per, &[1]);
            g.reshape(per, &[batch])
        }
    }
}

/// Forward + loss of a network with several outputs: each output's loss against its own
/// targets input, the per-example loss their weighted sum (rules, teachers and class
/// weights were refused by the checks).
fn several_outputs(lowered: Lowered, mut g: Graph, train: &TrainDecl, batch: usize) -> Program {
    let mut total: Option<NodeId> = None;
    let mut heads = Vec::new();
    for (output, prediction) in &lowered.outputs {
        let width = target_width(g.shape(*prediction));
        let flat = g.reshape(*prediction, &[batch, width]);
        let targets = g.input(&format!("{TARGETS}.{output}"), &[batch, width]);
        let per = per_example_loss(&mut g, heads::loss_of(train, output), flat, targets);
        let loss = g.mean_all(per);
        g.output(format!("loss.{output}"), loss);
        let weighted = g.scale(per, heads::weight_of(train, output));
        total = Some(match total {
            Some(t) => g.add(t, weighted),
            None => weighted,
        });
        heads.push(HeadNodes {
            output: output.clone(),
            prediction: *prediction,
            loss,
        });
    }
    let per_example = total.unwrap_or_else(|| g.constant(0.0, &[batch]));
    let loss = g.mean_all(per_example);
    g.output("loss", loss);
    g.output("per_example_loss", per_example);
    Program {
        prediction: heads[0].prediction,
        lowered,
        graph: g,
        loss,
        per_example,
        updates: Vec::new(),
        opt_state: Vec::new(),
        q: None,
        heads,
    }
}

/// Mixes the rules' and the teacher's terms into the per-example loss `plain` (training),
/// and returns the rules' teacher q as an output (evaluation). `logits` is `[batch,
/// classes]`.
fn with_extras(
    g: &mut Graph,
    net: &Network,
    lowered: &Lowered,
    logits: NodeId,
    plain: NodeId,
    mode: Mode,
    extras: &Extras,
) -> (NodeId, Option<NodeId>) {
    let (batch, width) = (g.shape(logits)[0], g.shape(logits)[1]);
    let input = lowered.inputs[0].1;
    let mut per_example = plain;
    let mut q_out = None;
    if let Some(rules) = &extras.rules {
        g.set_origin(Some(crate::prim::Origin::layer(format!(
            "rules {}",
            rules.name
        ))));
        let raw = g.input(rules::RAW_FEATURES, &[batch, rules.n_features]);
        let views = view_predictions(g, net, input, &rules.views, width);
        let q = rules.lower_teacher(g, logits, raw, &views);
        if mode == Mode::Train {
            // (1 - pi) CE(y, p) + pi CE(q, p): with pi = 0 this is `plain` bit for bit.
            let ce_q = cross_entropy(g, q, logits);
            let pi = g.input(rules::PI, &[]);
            let pi = g.broadcast_to(pi, &[batch]);
            let one = g.constant(1.0, &[batch]);
            let keep = g.sub(one, pi);
            let a = g.mul(keep, per_example);
            let b = g.mul(pi, ce_q);
            per_example = g.add(a, b);
        } else {
            g.output("rules.q", q);
            q_out = Some(q);
        }
        g.set_origin(None);
    }
    if let (Some(d), Mode::Train) = (&extras.distill, mode) {
        g.set_origin(Some(crate::prim::Origin::layer("distillation")));
        let t = forward_of(g, &d.teacher, batch, input, TEACHER_PREFIX, width);
        let t = g.stop_grad(t);
        let t = g.scale(t, 1.0 / d.temperature);
        let soft = g.softmax(t, 1);
        let s = g.scale(logits, 1.0 / d.temperature);
        let ce_soft = cross_entropy(g, soft, s);
        // (1 - w) CE(y, p) + w T^2 CE(softmax(t/T), softmax(s/T)) (Hinton et al.)
        let a = g.scale(per_example, 1.0 - d.weight);
        let b = g.scale(ce_soft, d.weight * d.temperature * d.temperature);
        per_example = g.add(a, b);
        g.set_origin(None);
    }
    (per_example, q_out)
}

/// `net`'s evaluation-mode logits `[batch, width]` on `x`, spliced into `g` with its
/// weights read under `prefix`.
fn forward_of(
    g: &mut Graph,
    net: &Network,
    batch: usize,
    x: NodeId,
    prefix: &str,
    width: usize,
) -> NodeId {
    let eval = lower_network(
        net,
        &LowerOptions {
            mode: Mode::Eval,
            batch,
            default_init: None,
        },
    );
    let root = eval.outputs[0].1;
    let own_input = eval.inputs[0].0.clone();
    let out = g.splice(&eval.graph, &[root], &[(own_input.as_str(), x)], prefix)[0];
    g.reshape(out, &[batch, width])
}

/// The network's class probabilities on each view (the input with every column outside
/// the field zeroed), in evaluation mode and without gradient (`predict` is a target).
fn view_predictions(
    g: &mut Graph,
    net: &Network,
    input: NodeId,
    views: &[rules::View],
    width: usize,
) -> Vec<NodeId> {
    let shape = g.shape(input).to_vec();
    let (batch, n) = (shape[0], shape[1..].iter().product::<usize>());
    let flat = g.reshape(input, &[batch, n]);
    views
        .iter()
        .map(|v| {
            let cols = g.slice(flat, 1, v.columns.start, v.columns.end);
            let padded = g.pad(cols, 1, v.columns.start, n - v.columns.end);
            let x = g.reshape(padded, &shape);
            let logits = forward_of(g, net, batch, x, "", width);
            let p = g.softmax(logits, 1);
            g.stop_grad(p)
        })
        .collect()
}

/// The whole training step: forward, loss, backward and optimizer update.
pub fn training_step(net: &Network, train: &TrainDecl, batch: usize) -> Program {
    training_step_with_extras(net, train, batch, &Extras::default())
}

/// The training step with the rules' and the teacher's terms of `extras`.
pub fn training_step_with_extras(
    net: &Network,
    train: &TrainDecl,
    batch: usize,
    extras: &Extras,
) -> Program {
    let mut p = forward_with_extras(net, train, batch, Mode::Train, extras);
    let clip = super::update::Clip {
        value: train.clip_value,
        norm: train.clip_norm,
    };
    super::update::append(&mut p, &train.optimizer, clip);
    p
}
