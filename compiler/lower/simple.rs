//! Layers that are a few primitives each: shapes, dropout, tensor arithmetic.

use super::Cx;
use crate::hir::Arith;
use crate::prim::NodeId;

/// `flatten` and `reshape`: the same elements in the layer's output shape.
pub(super) fn lower_reshape(cx: &mut Cx, x: NodeId) -> NodeId {
    let out = cx.out_shape();
    cx.g.reshape(x, &out)
}

pub(super) fn lower_global_avg_pool(cx: &mut Cx, x: NodeId) -> NodeId {
    let out = cx.out_shape();
    let shape = cx.shape(x);
    let positions: usize = shape[2..].iter().product();
    let axes: Vec<usize> = (2..shape.len()).collect();
    let total = cx.g.sum(x, &axes);
    let mean = cx.g.scale(total, 1.0 / positions as f64);
    cx.g.reshape(mean, &out)
}

pub(super) fn lower_unpool(cx: &mut Cx, x: NodeId) -> NodeId {
    let out = cx.out_shape();
    let column = [out[0], out[1], 1, 1];
    let x = cx.g.reshape(x, &column);
    cx.g.broadcast(x, &out)
}

pub(super) fn lower_dropout(cx: &mut Cx, x: NodeId, rate: f64) -> NodeId {
    if !cx.train() || rate == 0.0 {
        return x;
    }
    // Inverted dropout: keep with probability 1 - rate, scale kept units up.
    let out = cx.out_shape();
    let noise = cx.g.rand_uniform(cx.stream(), &out);
    let threshold = cx.g.constant(rate, &out);
    let keep = cx.g.cmp_gt(noise, threshold);
    let kept = cx.g.mul(x, keep);
    cx.g.scale(kept, 1.0 / (1.0 - rate))
}

/// `a ⊕ b` with broadcasting.
pub(super) fn lower_arith(cx: &mut Cx, arith: Arith, a: NodeId, b: NodeId) -> NodeId {
    let out = cx.out_shape();
    let a = align(cx, a, &out);
    let b = align(cx, b, &out);
    match arith {
        Arith::Add => cx.g.add(a, b),
        Arith::Sub => cx.g.sub(a, b),
        Arith::Mul => cx.g.mul(a, b),
        Arith::Div => cx.g.div(a, b),
    }
}

/// Broadcasts an operand to `out`. Per-example shapes align at their last axis (NumPy);
/// the batch axis stays first, so missing example axes are inserted after it.
fn align(cx: &mut Cx, x: NodeId, out: &[usize]) -> NodeId {
    let shape = cx.shape(x);
    if shape == out {
        return x;
    }
    let mut padded = vec![shape[0]];
    padded.extend(std::iter::repeat_n(1, out.len() - shape.len()));
    padded.extend_from_slice(&shape[1..]);
    let x = if padded.len() != shape.len() {
        cx.g.reshape(x, &padded)
    } else {
        x
    };
    cx.g.broadcast(x, out)
}
