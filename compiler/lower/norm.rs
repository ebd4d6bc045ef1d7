//! Normalizations: batch (train/eval, running statistics), layer, group, instance, l2;
//! their lowerings (`lower_*`: parameters, state, mode) and their math on a [`Graph`].
//!
//! Conventions (papers.md sections 3, 4, 5, 7): variances are biased (population) unless
//! a name says otherwise; the channel axis is 1; per-channel parameters have shape `[C]`.

use super::Cx;
use crate::hir::Init;
use crate::prim::{Graph, NodeId};

fn affine(cx: &mut Cx, affine: bool) -> (Option<NodeId>, Option<NodeId>) {
    if affine {
        let gamma = cx.param("weight", Init::Constant { value: 1.0 });
        let beta = cx.param("bias", Init::Zeros);
        (Some(gamma), Some(beta))
    } else {
        (None, None)
    }
}

/// Training: batch statistics over every axis but the channels, and running statistics
/// updated as PyTorch does (momentum, unbiased variance). Evaluation: running statistics.
pub(super) fn lower_batch_norm(
    cx: &mut Cx,
    x: NodeId,
    momentum: f64,
    eps: f64,
    affine_on: bool,
) -> NodeId {
    let channels = cx.shape(x)[1];
    let (gamma, beta) = affine(cx, affine_on);
    let running_mean = cx.state("running_mean", &[channels], 0.0);
    let running_var = cx.state("running_var", &[channels], 1.0);
    if !cx.train() {
        return batch_norm_eval(cx.g, x, running_mean, running_var, gamma, beta, eps);
    }
    let bn = batch_norm_train(cx.g, x, gamma, beta, eps);
    let count = batch_norm_count(cx.g, x);
    // One value per channel has no unbiased variance; keep the biased one (PyTorch
    // refuses to train such a batch).
    let var = if count > 1 {
        unbiased_var(cx.g, bn.var, count)
    } else {
        bn.var
    };
    let mean = cx.g.stop_grad(bn.mean);
    let var = cx.g.stop_grad(var);
    let new_mean = ema_update(cx.g, running_mean, mean, momentum);
    let new_var = ema_update(cx.g, running_var, var, momentum);
    cx.update_state("running_mean", new_mean);
    cx.update_state("running_var", new_var);
    bn.y
}

/// Over every axis of an example; per-element affine.
/// Over every axis of the example, or (`last`) over its last axis at every position.
pub(super) fn lower_layer_norm(
    cx: &mut Cx,
    x: NodeId,
    eps: f64,
    affine_on: bool,
    last: bool,
) -> NodeId {
    let n_dims = if last { 1 } else { cx.shape(x).len() - 1 };
    let (gamma, beta) = affine(cx, affine_on);
    layer_norm(cx.g, x, n_dims, gamma, beta, eps)
}

pub(super) fn lower_group_norm(
    cx: &mut Cx,
    x: NodeId,
    groups: usize,
    eps: f64,
    affine_on: bool,
) -> NodeId {
    let (gamma, beta) = affine(cx, affine_on);
    group_norm(cx.g, x, groups, gamma, beta, eps)
}

/// Per example and channel over the spatial axes (= group norm with one channel per group).
pub(super) fn lower_instance_norm(cx: &mut Cx, x: NodeId, eps: f64, affine_on: bool) -> NodeId {
    let channels = cx.shape(x)[1];
    let (gamma, beta) = affine(cx, affine_on);
    group_norm(cx.g, x, channels, gamma, beta, eps)
}

/// LayerScale (Touvron et al. 2021): `x` times a learned scale per entry of the example's
/// axis `axis`, every scale starting at `init`.
pub(super) fn lower_layer_scale(cx: &mut Cx, x: NodeId, init: f64, axis: usize) -> NodeId {
    let gamma = cx.param("gamma", Init::Constant { value: init });
    axis_scale(cx.g, x, gamma, axis + 1)
}

/// `x` times `scale`, a vector along `axis` of `x`.
pub fn axis_scale(g: &mut Graph, x: NodeId, scale: NodeId, axis: usize) -> NodeId {
    let shape = g.shape(x).to_vec();
    let mut along = vec![1; shape.len()];
    along[axis] = shape[axis];
    let scale = g.reshape(scale, &along);
    let scale = g.broadcast(scale, &shape);
    g.mul(x, scale)
}

/// ParseNet: divide by the L2 norm across channels at each position, then a learned
/// per-channel scale.
pub(super) fn lower_l2_norm(cx: &mut Cx, x: NodeId, scale: f64, eps: f64) -> NodeId {
    let y = l2_norm(cx.g, x, &[1], eps);
    let s = cx.param("scale", Init::Constant { value: scale });
    channel_affine(cx.g, y, Some(s), None)
}

/// `(x - mean) / sqrt(var + eps)` with mean and biased variance over `axes`.
pub fn normalize(g: &mut Graph, x: NodeId, axes: &[usize], eps: f64) -> NodeId {
    let centered = g.center(x, axes);
    let squared = g.square(centered);
    let var = g.mean(squared, axes);
    let var_eps = g.add_scalar(var, eps);
    let inv_std = g.rsqrt(var_eps);
    let inv_std = g.broadcast_like(inv_std, x);
    g.mul(centered, inv_std)
}

/// Reshapes a `[C]` vector to `[1, C, 1, ...]` and broadcasts it to the shape of `like`.
fn per_channel(g: &mut Graph, v: NodeId, like: NodeId) -> NodeId {
    let shape = g.shape(like).to_vec();
    let mut column = vec![1; shape.len()];
    column[1] = shape[1];
    let v = g.reshape(v, &column);
    g.broadcast(v, &shape)
}

/// `gamma * x + beta` with optional per-channel `[C]` parameters on axis 1.
pub fn channel_affine(
    g: &mut Graph,
    x: NodeId,
    gamma: Option<NodeId>,
    beta: Option<NodeId>,
) -> NodeId {
    let mut y = x;
    if let Some(gamma) = gamma {
        let gamma = per_channel(g, gamma, x);
        y = g.mul(y, gamma);
    }
    if let Some(beta) = beta {
        let beta = per_channel(g, beta, x);
        y = g.add(y, beta);
    }
    y
}

/// Every axis but the channel axis 1.
fn non_channel_axes(g: &Graph, x: NodeId) -> Vec<usize> {
    (0..g.shape(x).len()).filter(|&axis| axis != 1).collect()
}

/// Training-mode batch norm outputs: the normalized (and affine) `y`, and the batch
/// statistics (each `[C]`) for the running-stat update.
#[derive(Debug, Clone, Copy)]
pub struct BatchNormTrain {
    pub y: NodeId,
    pub mean: NodeId,
    /// Biased batch variance; see [`unbiased_var`] for the running estimate.
    pub var: NodeId,
}

/// Batch norm with batch statistics over every axis but 1. The gradient flows through
/// the batch mean and variance, as in PyTorch and Caffe training.
pub fn batch_norm_train(
    g: &mut Graph,
    x: NodeId,
    gamma: Option<NodeId>,
    beta: Option<NodeId>,
    eps: f64,
) -> BatchNormTrain {
    let axes = non_channel_axes(g, x);
    let n_chan = g.shape(x)[1];
    let normalized = normalize(g, x, &axes, eps);
    let y = channel_affine(g, normalized, gamma, beta);
    let mean = g.mean(x, &axes);
    let mean = g.reshape(mean, &[n_chan]);
    let var = g.var(x, &axes);
    let var = g.reshape(var, &[n_chan]);
    BatchNormTrain { y, mean, var }
}

/// Batch norm with given `[C]` statistics (evaluation mode).
pub fn batch_norm_eval(
    g: &mut Graph,
    x: NodeId,
    mean: NodeId,
    var: NodeId,
    gamma: Option<NodeId>,
    beta: Option<NodeId>,
    eps: f64,
) -> NodeId {
    let mean = per_channel(g, mean, x);
    let centered = g.sub(x, mean);
    let var_eps = g.add_scalar(var, eps);
    let inv_std = g.rsqrt(var_eps);
    let inv_std = per_channel(g, inv_std, x);
    let normalized = g.mul(centered, inv_std);
    channel_affine(g, normalized, gamma, beta)
}

/// Number of elements each batch-norm statistic is taken over (N * H * W ...).
pub fn batch_norm_count(g: &Graph, x: NodeId) -> usize {
    let shape = g.shape(x);
    shape.iter().product::<usize>() / shape[1]
}

/// Bessel's correction `var * n / (n - 1)` for a biased variance over `n` elements.
pub fn unbiased_var(g: &mut Graph, var: NodeId, n: usize) -> NodeId {
    assert!(n > 1, "an unbiased variance needs at least two elements");
    g.scale(var, n as f64 / (n - 1) as f64)
}

/// Exponential moving average `(1 - momentum) * running + momentum * stat` (PyTorch's
/// running-stat rule; its default momentum is 0.1).
pub fn ema_update(g: &mut Graph, running: NodeId, stat: NodeId, momentum: f64) -> NodeId {
    let kept = g.scale(running, 1.0 - momentum);
    let fresh = g.scale(stat, momentum);
    g.add(kept, fresh)
}

/// Layer norm over the trailing `n_dims` axes; `gamma`/`beta` (if any) have the shape of
/// those axes (per element, as in PyTorch).
pub fn layer_norm(
    g: &mut Graph,
    x: NodeId,
    n_dims: usize,
    gamma: Option<NodeId>,
    beta: Option<NodeId>,
    eps: f64,
) -> NodeId {
    let rank = g.shape(x).len();
    let axes: Vec<usize> = (rank - n_dims..rank).collect();
    let mut y = normalize(g, x, &axes, eps);
    if let Some(gamma) = gamma {
        let gamma = g.broadcast_like(gamma, x);
        y = g.mul(y, gamma);
    }
    if let Some(beta) = beta {
        let beta = g.broadcast_like(beta, x);
        y = g.add(y, beta);
    }
    y
}

/// Group norm (Wu & He): per sample, statistics over each block of `C / groups`
/// contiguous channels and all spatial positions; then a per-channel affine.
pub fn group_norm(
    g: &mut Graph,
    x: NodeId,
    groups: usize,
    gamma: Option<NodeId>,
    beta: Option<NodeId>,
    eps: f64,
) -> NodeId {
    let shape = g.shape(x).to_vec();
    let (n_batch, n_chan) = (shape[0], shape[1]);
    assert!(
        groups > 0 && n_chan % groups == 0,
        "group norm: {n_chan} channels do not split into {groups} groups"
    );
    let per_group = shape.iter().product::<usize>() / (n_batch * groups);
    // Row-major order keeps a group's channels (and their positions) contiguous.
    let grouped = g.reshape(x, &[n_batch, groups, per_group]);
    let normalized = normalize(g, grouped, &[2], eps);
    let normalized = g.reshape(normalized, &shape);
    channel_affine(g, normalized, gamma, beta)
}

/// `x / sqrt(sum(x^2, axes) + eps)` (ParseNet / Caffe `Normalize`: eps inside the root).
pub fn l2_norm(g: &mut Graph, x: NodeId, axes: &[usize], eps: f64) -> NodeId {
    let squared = g.square(x);
    let total = g.sum(squared, axes);
    let total_eps = g.add_scalar(total, eps);
    let inv_norm = g.rsqrt(total_eps);
    let inv_norm = g.broadcast_like(inv_norm, x);
    g.mul(x, inv_norm)
}
