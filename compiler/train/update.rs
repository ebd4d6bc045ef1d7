//! The optimizer update appended to the training step: autodiff of the loss with respect to
//! every parameter read, then one update per parameter, with weight decay and the layer's
//! learning-rate and decay multipliers. One match arm per optimizer.

use super::step::{Program, LR};
use crate::hir::settings::Optimizer;
use crate::lower::StateDecl;
use crate::prim::{autodiff, Graph, NodeId, Op};

/// Adam's bias corrections 1 / (1 - beta1^t) and 1 / sqrt(1 - beta2^t), computed on the host.
pub const ADAM_C1: &str = "adam.c1";
pub const ADAM_C2: &str = "adam.c2";

/// One parameter's update being built: its optimizer state slots and new values.
struct Update<'a> {
    g: &'a mut Graph,
    name: &'a str,
    shape: &'a [usize],
    opt_state: &'a mut Vec<StateDecl>,
    updates: &'a mut Vec<(String, NodeId)>,
}

impl Update<'_> {
    /// Reads the optimizer state `opt.<param>.<suffix>` (initially zero).
    fn slot(&mut self, suffix: &str) -> NodeId {
        let name = format!("opt.{}.{suffix}", self.name);
        self.opt_state.push(StateDecl {
            name: name.clone(),
            shape: self.shape.to_vec(),
            init: 0.0,
        });
        self.g.param(&name, self.shape)
    }

    /// Writes the new value of the optimizer state `opt.<param>.<suffix>`.
    fn set(&mut self, suffix: &str, value: NodeId) {
        self.updates
            .push((format!("opt.{}.{suffix}", self.name), value));
    }

    /// `state = decay * state + (1 - decay) * x` (a running mean), stored back.
    fn running_mean(&mut self, suffix: &str, decay: f64, x: NodeId) -> NodeId {
        let state = self.slot(suffix);
        let kept = self.g.scale(state, decay);
        let fresh = self.g.scale(x, 1.0 - decay);
        let new = self.g.add(kept, fresh);
        self.set(suffix, new);
        new
    }
}

/// Gradient clipping, applied to the loss's gradients before weight decay and the
/// optimizer (as `torch.nn.utils.clip_grad_value_` / `clip_grad_norm_` before
/// `optimizer.step()`): first each component to `[-value, value]`, then all gradients
/// scaled by `min(1, norm / (‖g‖ + 1e-6))`, ‖g‖ the L2 norm over every parameter's.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Clip {
    pub value: Option<f64>,
    pub norm: Option<f64>,
}

/// Clips `grads` in the graph (see [`Clip`]).
fn clip(g: &mut Graph, grads: &mut [NodeId], clip: Clip) {
    if let Some(c) = clip.value {
        for grad in grads.iter_mut() {
            *grad = g.clamp(*grad, -c, c);
        }
    }
    let Some(max_norm) = clip.norm else {
        return;
    };
    g.set_origin(Some(crate::prim::Origin::layer("gradient clipping")));
    let mut total: Option<NodeId> = None;
    for &grad in grads.iter() {
        let sq = g.square(grad);
        let sum = g.sum_all(sq);
        total = Some(match total {
            None => sum,
            Some(t) => g.add(t, sum),
        });
    }
    if let Some(total) = total {
        let norm = g.sqrt(total);
        let denom = g.add_scalar(norm, 1e-6);
        let bound = g.constant(max_norm, &[]);
        let ratio = g.div(bound, denom);
        let one = g.constant(1.0, &[]);
        let coef = g.min(ratio, one);
        for grad in grads.iter_mut() {
            let shape = g.shape(*grad).to_vec();
            let c = g.broadcast_to(coef, &shape);
            *grad = g.mul(*grad, c);
        }
    }
    g.set_origin(None);
}

/// Appends the backward pass and `opt`'s update of every parameter to the forward program
/// `p`; the new values (and optimizer state) become `p.updates` and outputs.
pub fn append(p: &mut Program, opt: &Optimizer, clipping: Clip) {
    let Program {
        graph: g,
        lowered,
        loss,
        updates,
        opt_state,
        ..
    } = p;
    // Every read of a parameter is a `Param` node; a parameter read twice gets the sum of
    // both gradients.
    let mut reads: Vec<(usize, NodeId)> = Vec::new();
    for id in g.ids() {
        if let Op::Param { name } = &g.node(id).op {
            if let Some(i) = lowered.params.iter().position(|d| &d.name == name) {
                reads.push((i, id));
            }
        }
    }
    let wrt: Vec<NodeId> = reads.iter().map(|(_, id)| *id).collect();
    let grads = autodiff::differentiate(g, *loss, &wrt);
    let lr = g.input(LR, &[]);
    let corrections = opt
        .adam_betas()
        .map(|_| (g.input(ADAM_C1, &[]), g.input(ADAM_C2, &[])));
    // Parameter `i`'s value and total gradient (the sum over its reads).
    let total = |g: &mut Graph, i: usize| -> Option<(NodeId, NodeId)> {
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
        Some((value?, grad?))
    };
    // With clipping every gradient is needed before the first update; without, each is
    // built just before its update (the node order, hence the step's bits, of a run
    // without clipping is unchanged).
    let clipped: Option<Vec<Option<(NodeId, NodeId)>>> = (clipping != Clip::default()).then(|| {
        let all: Vec<Option<(NodeId, NodeId)>> =
            (0..lowered.params.len()).map(|i| total(g, i)).collect();
        let mut grads: Vec<NodeId> = all.iter().flatten().map(|t| t.1).collect();
        clip(g, &mut grads, clipping);
        let mut grads = grads.into_iter();
        all.into_iter()
            .map(|t| t.map(|(w, _)| (w, grads.next().unwrap_or(w))))
            .collect()
    });
    for (i, decl) in lowered.params.iter().enumerate() {
        let found = match &clipped {
            Some(all) => all[i],
            None => total(g, i),
        };
        let Some((w, grad)) = found else {
            continue;
        };
        g.set_origin(Some(crate::prim::Origin::layer(format!(
            "{} (update)",
            decl.layer
        ))));
        let lr_p = g.scale(lr, decl.lr_mult);
        let lr_b = g.broadcast_to(lr_p, &decl.shape);
        let decay = decl.decay_mult;
        let mut u = Update {
            g: &mut *g,
            name: &decl.name,
            shape: &decl.shape,
            opt_state: &mut *opt_state,
            updates: &mut *updates,
        };
        let new_w = match *opt {
            Optimizer::Sgd {
                momentum,
                nesterov,
                weight_decay,
                ..
            } => {
                let grad = with_decay(u.g, grad, w, weight_decay * decay);
                let step = if momentum > 0.0 {
                    let v = u.slot("momentum");
                    let kept = u.g.scale(v, momentum);
                    let v_new = u.g.add(kept, grad);
                    u.set("momentum", v_new);
                    if nesterov {
                        let look = u.g.scale(v_new, momentum);
                        u.g.add(grad, look)
                    } else {
                        v_new
                    }
                } else {
                    grad
                };
                let delta = u.g.mul(lr_b, step);
                u.g.sub(w, delta)
            }
            Optimizer::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                let grad = with_decay(u.g, grad, w, weight_decay * decay);
                adam(
                    &mut u,
                    corrections,
                    [w, grad, lr_b],
                    [beta1, beta2, eps],
                    0.0,
                )
            }
            Optimizer::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => adam(
                &mut u,
                corrections,
                [w, grad, lr_b],
                [beta1, beta2, eps],
                weight_decay * decay,
            ),
            Optimizer::RmsProp {
                alpha,
                eps,
                momentum,
                centered,
                weight_decay,
                ..
            } => {
                let grad = with_decay(u.g, grad, w, weight_decay * decay);
                rmsprop(&mut u, [w, grad, lr_b], alpha, eps, momentum, centered)
            }
        };
        updates.push((decl.name.clone(), new_w));
        g.set_origin(None);
    }
    updates.extend(lowered.state_updates.iter().cloned());
    for (name, id) in updates.iter() {
        g.output(format!("update:{name}"), *id);
    }
}

/// Adam (`decoupled` = 0) or AdamW (`decoupled`: the decoupled decay), as PyTorch:
/// `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`. The bias corrections are
/// the step's inputs `corrections`.
fn adam(
    u: &mut Update,
    corrections: Option<(NodeId, NodeId)>,
    [w, grad, lr_b]: [NodeId; 3],
    [beta1, beta2, eps]: [f64; 3],
    decoupled: f64,
) -> NodeId {
    let m = u.slot("m");
    let v = u.slot("v");
    let g = &mut *u.g;
    let m_kept = g.scale(m, beta1);
    let m_in = g.scale(grad, 1.0 - beta1);
    let m_new = g.add(m_kept, m_in);
    let v_kept = g.scale(v, beta2);
    let sq = g.square(grad);
    let v_in = g.scale(sq, 1.0 - beta2);
    let v_new = g.add(v_kept, v_in);
    u.set("m", m_new);
    u.set("v", v_new);
    let g = &mut *u.g;
    let Some((c1, c2)) = corrections else {
        unreachable!("Optimizer::adam_betas is Some for Adam and AdamW")
    };
    let c1 = g.broadcast_to(c1, u.shape);
    let c2 = g.broadcast_to(c2, u.shape);
    let root = g.sqrt(v_new);
    let denom = g.mul(root, c2);
    let denom = g.add_scalar(denom, eps);
    let m_hat = g.mul(m_new, c1);
    let ratio = g.div(m_hat, denom);
    let delta = g.mul(lr_b, ratio);
    let w = if decoupled > 0.0 {
        // AdamW: w -= lr * decay * w, before the Adam step.
        let shrink = g.scale(w, decoupled);
        let shrink = g.mul(lr_b, shrink);
        g.sub(w, shrink)
    } else {
        w
    };
    g.sub(w, delta)
}

/// RMSprop as PyTorch: `v = a v + (1 - a) g^2`; centered, `c = a c + (1 - a) g` and the
/// denominator `sqrt(v - c^2) + eps`, else `sqrt(v) + eps`; with momentum `b = m b + g /
/// denominator` and `p -= lr b`, else `p -= lr g / denominator`.
fn rmsprop(
    u: &mut Update,
    [w, grad, lr_b]: [NodeId; 3],
    alpha: f64,
    eps: f64,
    momentum: f64,
    centered: bool,
) -> NodeId {
    let sq = u.g.square(grad);
    let v = u.running_mean("square_avg", alpha, sq);
    let var = if centered {
        let c = u.running_mean("grad_avg", alpha, grad);
        let c2 = u.g.square(c);
        u.g.sub(v, c2)
    } else {
        v
    };
    let root = u.g.sqrt(var);
    let denom = u.g.add_scalar(root, eps);
    let scaled = u.g.div(grad, denom);
    let step = if momentum > 0.0 {
        let b = u.slot("momentum_buffer");
        let kept = u.g.scale(b, momentum);
        let b_new = u.g.add(kept, scaled);
        u.set("momentum_buffer", b_new);
        b_new
    } else {
        scaled
    };
    let delta = u.g.mul(lr_b, step);
    u.g.sub(w, delta)
}

/// `grad + decay * w` (L2 regularisation through the gradient).
fn with_decay(g: &mut Graph, grad: NodeId, w: NodeId, decay: f64) -> NodeId {
    if decay == 0.0 {
        return grad;
    }
    let d = g.scale(w, decay);
    g.add(grad, d)
}
