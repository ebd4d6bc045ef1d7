//! Layer math built from primitives, shared by the lowering and the tests.
//!
//! In: node ids of tensors already in a [`Graph`] (activations in NCHW or `[N, features]`,
//! parameters shaped as documented per function). Out: the id of the result; every
//! function appends only primitive nodes, so gradients come from autodiff.
//!
//! Conventions (papers.md sections 3, 4, 5, 7): variances are biased (population) unless
//! a name says otherwise; the channel axis is 1; per-channel parameters have shape `[C]`.

use super::{Graph, NodeId};

/// `x [.., in] @ w [in, out] + b [out]`.
pub fn dense(g: &mut Graph, x: NodeId, w: NodeId, b: Option<NodeId>) -> NodeId {
    let y = g.matmul(x, w);
    match b {
        Some(b) => {
            let b = g.broadcast_like(b, y);
            g.add(y, b)
        }
        None => y,
    }
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

/// `value` forward, the gradient of `surrogate` backward:
/// `stop_grad(value) + (surrogate - stop_grad(surrogate))`. The second term is exactly 0
/// for finite values, so the forward result is exactly `value`.
pub fn straight_through(g: &mut Graph, value: NodeId, surrogate: NodeId) -> NodeId {
    let frozen_value = g.stop_grad(value);
    let frozen_surrogate = g.stop_grad(surrogate);
    let zero_with_grad = g.sub(surrogate, frozen_surrogate);
    g.add(frozen_value, zero_with_grad)
}

/// XNOR-Net / BWN weight binarization with its straight-through estimator. `w` holds
/// one filter per index of axis 0, `n` elements each. Forward: `alpha * sign(w)` with
/// `alpha = sum|w| / n` per filter. Backward: `g * (1/n + alpha * 1{|w| < 1})`, the
/// paper's rule, via the surrogate `h(w) = w / n + stop_grad(alpha) * hardtanh(w)`.
/// (At exactly `|w| = 1` the clamp's tie gives half of the alpha term.)
pub fn xnor_weight_ste(g: &mut Graph, w: NodeId) -> NodeId {
    let shape = g.shape(w).to_vec();
    let filter_axes: Vec<usize> = (1..shape.len()).collect();
    let n = shape[1..].iter().product::<usize>();
    let abs = g.abs(w);
    let total = g.sum(abs, &filter_axes);
    let alpha = g.scale(total, 1.0 / n as f64);
    let alpha = g.broadcast(alpha, &shape);
    let alpha = g.stop_grad(alpha);
    let sign = g.sign(w);
    let binary = g.mul(alpha, sign);
    let linear = g.scale(w, 1.0 / n as f64);
    let clipped = g.hardtanh(w);
    let clipped = g.mul(alpha, clipped);
    let surrogate = g.add(linear, clipped);
    straight_through(g, binary, surrogate)
}

/// The binary activation of XNOR-Net / BNN: forward `sign(x)`, backward `g * 1{|x| < 1}`
/// (the gradient of hardtanh).
pub fn binary_activation_ste(g: &mut Graph, x: NodeId) -> NodeId {
    let sign = g.sign(x);
    let clipped = g.hardtanh(x);
    straight_through(g, sign, clipped)
}
