//! The training step as one primitive program: forward (training mode), loss, backward
//! (autodiff) and the optimizer update. Its outputs are the loss, the predictions, the
//! per-example losses, and the new value of every parameter and piece of state.

use super::rules::{self, Rules};
use crate::hir::{Network, TrainDecl};
use crate::lower::{lower_network, LowerOptions, Lowered, Mode, StateDecl};
use crate::prim::{autodiff, Graph, NodeId, Op};

/// The loss, read from the train block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    CrossEntropy { label_smoothing: f64 },
    Mse,
    BinaryCrossEntropy,
}

impl Loss {
    pub fn from_decl(train: &TrainDecl) -> Loss {
        match train.loss.name.as_str() {
            "mse" => Loss::Mse,
            "binary_cross_entropy" => Loss::BinaryCrossEntropy,
            _ => Loss::CrossEntropy {
                label_smoothing: train.loss.f64("label_smoothing"),
            },
        }
    }

    /// Whether targets are class labels (one-hot encoded for the graph).
    pub fn is_classification(self) -> bool {
        !matches!(self, Loss::Mse)
    }
}

/// The optimizer, read from the train block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    Sgd {
        momentum: f64,
        nesterov: bool,
        weight_decay: f64,
    },
    Adam {
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        decoupled: bool,
    },
}

impl Optimizer {
    pub fn from_decl(train: &TrainDecl) -> (Optimizer, f64) {
        let o = &train.optimizer;
        let lr = o.f64("lr");
        let opt = match o.name.as_str() {
            "sgd" => Optimizer::Sgd {
                momentum: o.f64("momentum"),
                nesterov: matches!(o.get("nesterov"), Some(crate::hir::Value::Bool(true))),
                weight_decay: o.f64("weight_decay"),
            },
            name => Optimizer::Adam {
                beta1: o.f64("beta1"),
                beta2: o.f64("beta2"),
                eps: o.f64("eps"),
                weight_decay: o.f64("weight_decay"),
                decoupled: name == "adamw",
            },
        };
        (opt, lr)
    }

    /// Per-parameter state tensors: (suffix, initial value).
    fn slots(self) -> &'static [&'static str] {
        match self {
            Optimizer::Sgd { momentum, .. } if momentum > 0.0 => &["momentum"],
            Optimizer::Sgd { .. } => &[],
            Optimizer::Adam { .. } => &["m", "v"],
        }
    }
}

/// Names of the step program's scalar inputs.
pub const LR: &str = "lr";
/// Adam's bias corrections 1 / (1 - beta1^t) and 1 / sqrt(1 - beta2^t), computed on the host.
pub const ADAM_C1: &str = "adam.c1";
pub const ADAM_C2: &str = "adam.c2";
/// The targets input: one-hot labels, or real-valued targets for mse.
pub const TARGETS: &str = "y";
/// Per-example loss weights `[batch]` (class-weighted loss, training only), normalised on
/// the host to average 1 over the batch, so the loss is `sum(w l) / sum(w)` as PyTorch's.
pub const EXAMPLE_WEIGHTS: &str = "example_weights";

/// Whether the training step takes [`EXAMPLE_WEIGHTS`]: the loss has `class_weights`.
pub fn has_example_weights(train: &TrainDecl) -> bool {
    train.loss.get("class_weights").is_some()
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
    let prediction = lowered.outputs[0].1;
    let width = target_width(g.shape(prediction));
    let flat = g.reshape(prediction, &[batch, width]);
    let targets = g.input(TARGETS, &[batch, width]);
    let loss_fn = Loss::from_decl(train);
    let per_example = match loss_fn {
        Loss::CrossEntropy { label_smoothing } => {
            let targets = if label_smoothing > 0.0 {
                let kept = g.scale(targets, 1.0 - label_smoothing);
                g.add_scalar(kept, label_smoothing / width as f64)
            } else {
                targets
            };
            let log_probs = g.log_softmax(flat, 1);
            let picked = g.mul(targets, log_probs);
            let total = g.sum(picked, &[1]);
            g.neg(total)
        }
        Loss::Mse => {
            let diff = g.sub(flat, targets);
            let sq = g.square(diff);
            g.mean(sq, &[1])
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
            g.mean(per, &[1])
        }
    };
    let per_example = g.reshape(per_example, &[batch]);
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
            let ce_q = soft_cross_entropy(g, q, logits);
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
        let ce_soft = soft_cross_entropy(g, soft, s);
        // (1 - w) CE(y, p) + w T^2 CE(softmax(t/T), softmax(s/T)) (Hinton et al.)
        let a = g.scale(per_example, 1.0 - d.weight);
        let b = g.scale(ce_soft, d.weight * d.temperature * d.temperature);
        per_example = g.add(a, b);
        g.set_origin(None);
    }
    (per_example, q_out)
}

/// `-Σ_y target(y) log softmax(logits)(y)`, `[batch]`.
fn soft_cross_entropy(g: &mut Graph, target: NodeId, logits: NodeId) -> NodeId {
    let log_probs = g.log_softmax(logits, 1);
    let picked = g.mul(target, log_probs);
    let total = g.sum(picked, &[1]);
    let per = g.neg(total);
    let batch = g.shape(logits)[0];
    g.reshape(per, &[batch])
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
    let (opt, _) = Optimizer::from_decl(train);
    let g = &mut p.graph;
    // Every read of a parameter is a `Param` node; a parameter read twice gets the sum of
    // both gradients.
    let mut reads: Vec<(usize, NodeId)> = Vec::new();
    for id in g.ids() {
        if let Op::Param { name } = &g.node(id).op {
            if let Some(i) = p.lowered.params.iter().position(|d| &d.name == name) {
                reads.push((i, id));
            }
        }
    }
    let wrt: Vec<NodeId> = reads.iter().map(|(_, id)| *id).collect();
    let grads = autodiff::differentiate(g, p.loss, &wrt);
    let lr = g.input(LR, &[]);
    let (c1, c2) = match opt {
        Optimizer::Adam { .. } => (Some(g.input(ADAM_C1, &[])), Some(g.input(ADAM_C2, &[]))),
        Optimizer::Sgd { .. } => (None, None),
    };
    for (i, decl) in p.lowered.params.clone().into_iter().enumerate() {
        let mut grad: Option<NodeId> = None;
        let mut value: Option<NodeId> = None;
        for ((pi, read), g_id) in reads.iter().zip(&grads) {
            if *pi == i {
                value.get_or_insert(*read);
                grad = Some(match grad {
                    None => *g_id,
                    Some(acc) => g.add(acc, *g_id),
                });
            }
        }
        let (Some(w), Some(grad)) = (value, grad) else {
            continue;
        };
        g.set_origin(Some(crate::prim::Origin::layer(format!(
            "{} (update)",
            decl.layer
        ))));
        let shape = decl.shape.clone();
        let lr_p = g.scale(lr, decl.lr_mult);
        let lr_b = g.broadcast_to(lr_p, &shape);
        let mut slot = |g: &mut Graph, suffix: &str| -> NodeId {
            let name = format!("opt.{}.{suffix}", decl.name);
            p.opt_state.push(StateDecl {
                name: name.clone(),
                shape: shape.clone(),
                init: 0.0,
            });
            g.param(&name, &shape)
        };
        let new_w = match opt {
            Optimizer::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => {
                let grad = with_decay(g, grad, w, weight_decay * decl.decay_mult);
                let step = if momentum > 0.0 {
                    let v = slot(g, "momentum");
                    let kept = g.scale(v, momentum);
                    let v_new = g.add(kept, grad);
                    p.updates
                        .push((format!("opt.{}.momentum", decl.name), v_new));
                    if nesterov {
                        let look = g.scale(v_new, momentum);
                        g.add(grad, look)
                    } else {
                        v_new
                    }
                } else {
                    grad
                };
                let delta = g.mul(lr_b, step);
                g.sub(w, delta)
            }
            Optimizer::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                decoupled,
            } => {
                let decay = weight_decay * decl.decay_mult;
                let grad = if decoupled {
                    grad
                } else {
                    with_decay(g, grad, w, decay)
                };
                let m = slot(g, "m");
                let v = slot(g, "v");
                let m_kept = g.scale(m, beta1);
                let m_in = g.scale(grad, 1.0 - beta1);
                let m_new = g.add(m_kept, m_in);
                let v_kept = g.scale(v, beta2);
                let sq = g.square(grad);
                let v_in = g.scale(sq, 1.0 - beta2);
                let v_new = g.add(v_kept, v_in);
                p.updates.push((format!("opt.{}.m", decl.name), m_new));
                p.updates.push((format!("opt.{}.v", decl.name), v_new));
                let c1 = g.broadcast_to(c1.expect("adam inputs"), &shape);
                let c2 = g.broadcast_to(c2.expect("adam inputs"), &shape);
                // PyTorch: p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
                let root = g.sqrt(v_new);
                let denom = g.mul(root, c2);
                let denom = g.add_scalar(denom, eps);
                let m_hat = g.mul(m_new, c1);
                let ratio = g.div(m_hat, denom);
                let delta = g.mul(lr_b, ratio);
                let w = if decoupled && decay > 0.0 {
                    // AdamW: w -= lr * decay * w, before the Adam step.
                    let shrink = g.scale(w, decay);
                    let shrink = g.mul(lr_b, shrink);
                    g.sub(w, shrink)
                } else {
                    w
                };
                g.sub(w, delta)
            }
        };
        p.updates.push((decl.name.clone(), new_w));
        g.set_origin(None);
    }
    p.updates.extend(p.lowered.state_updates.iter().cloned());
    for (name, id) in &p.updates {
        g.output(format!("update:{name}"), *id);
    }
    debug_assert!(opt.slots().len() * p.lowered.params.len() >= p.opt_state.len());
    p
}

/// `grad + decay * w` (L2 regularisation through the gradient).
fn with_decay(g: &mut Graph, grad: NodeId, w: NodeId, decay: f64) -> NodeId {
    if decay == 0.0 {
        return grad;
    }
    let d = g.scale(w, decay);
    g.add(grad, d)
}
