//! XNOR-Net's binarizations with their straight-through estimators, shared by
//! `binary_dense` and `binary_conv`.

use crate::prim::{Graph, NodeId};

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
