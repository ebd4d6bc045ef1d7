//! Normalizations: batch (train/eval, running statistics), layer, group, instance, l2.

use super::Cx;
use crate::hir::Init;
use crate::prim::{nn, NodeId};

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
pub(super) fn batch_norm(
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
        return nn::batch_norm_eval(cx.g, x, running_mean, running_var, gamma, beta, eps);
    }
    let bn = nn::batch_norm_train(cx.g, x, gamma, beta, eps);
    let count = nn::batch_norm_count(cx.g, x);
    // One value per channel has no unbiased variance; keep the biased one (PyTorch refuses
    // to train such a batch; the checker warns about it).
    let var = if count > 1 {
        nn::unbiased_var(cx.g, bn.var, count)
    } else {
        bn.var
    };
    let mean = cx.g.stop_grad(bn.mean);
    let var = cx.g.stop_grad(var);
    let new_mean = nn::ema_update(cx.g, running_mean, mean, momentum);
    let new_var = nn::ema_update(cx.g, running_var, var, momentum);
    cx.update_state("running_mean", new_mean);
    cx.update_state("running_var", new_var);
    bn.y
}

/// Over every axis of an example; per-element affine.
pub(super) fn layer_norm(cx: &mut Cx, x: NodeId, eps: f64, affine_on: bool) -> NodeId {
    let n_dims = cx.shape(x).len() - 1;
    let (gamma, beta) = affine(cx, affine_on);
    nn::layer_norm(cx.g, x, n_dims, gamma, beta, eps)
}

pub(super) fn group_norm(
    cx: &mut Cx,
    x: NodeId,
    groups: usize,
    eps: f64,
    affine_on: bool,
) -> NodeId {
    let (gamma, beta) = affine(cx, affine_on);
    nn::group_norm(cx.g, x, groups, gamma, beta, eps)
}

/// Per example and channel over the spatial axes (= group norm with one channel per group).
pub(super) fn instance_norm(cx: &mut Cx, x: NodeId, eps: f64, affine_on: bool) -> NodeId {
    let channels = cx.shape(x)[1];
    let (gamma, beta) = affine(cx, affine_on);
    nn::group_norm(cx.g, x, channels, gamma, beta, eps)
}

/// ParseNet: divide by the L2 norm across channels at each position, then a learned
/// per-channel scale.
pub(super) fn l2_norm(cx: &mut Cx, x: NodeId, scale: f64, eps: f64) -> NodeId {
    let y = nn::l2_norm(cx.g, x, &[1], eps);
    let s = cx.param("scale", Init::Constant { value: scale });
    nn::channel_affine(cx.g, y, Some(s), None)
}
