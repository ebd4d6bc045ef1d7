//! Layers that are a few primitives each: shapes, activations, dropout, arithmetic.

use super::Cx;
use crate::hir::{Arith, LayerOp};
use crate::prim::NodeId;

pub(super) fn lower(cx: &mut Cx, op: &LayerOp, inputs: &[NodeId]) -> NodeId {
    let x = inputs[0];
    let out = cx.out_shape();
    match op {
        LayerOp::Flatten | LayerOp::Reshape => cx.g.reshape(x, &out),
        LayerOp::GlobalAvgPool => {
            let shape = cx.shape(x);
            let positions: usize = shape[2..].iter().product();
            let axes: Vec<usize> = (2..shape.len()).collect();
            let total = cx.g.sum(x, &axes);
            let mean = cx.g.scale(total, 1.0 / positions as f64);
            cx.g.reshape(mean, &out)
        }
        LayerOp::Concat { axis } => cx.g.concat(inputs, axis + 1),
        LayerOp::Unpool { .. } => {
            let column = [out[0], out[1], 1, 1];
            let x = cx.g.reshape(x, &column);
            cx.g.broadcast(x, &out)
        }
        LayerOp::Dropout { rate } => {
            if !cx.train() || *rate == 0.0 {
                return x;
            }
            // Inverted dropout: keep with probability 1 - rate, scale kept units up.
            let noise = cx.g.rand_uniform(cx.stream(), &out);
            let threshold = cx.g.constant(*rate, &out);
            let keep = cx.g.cmp_gt(noise, threshold);
            let kept = cx.g.mul(x, keep);
            cx.g.scale(kept, 1.0 / (1.0 - rate))
        }
        LayerOp::Relu => cx.g.relu(x),
        LayerOp::LeakyRelu { slope } => {
            let leak = cx.g.scale(x, *slope);
            if *slope <= 1.0 {
                cx.g.max(x, leak)
            } else {
                cx.g.min(x, leak)
            }
        }
        LayerOp::Tanh => cx.g.tanh(x),
        LayerOp::Sigmoid => cx.g.sigmoid(x),
        LayerOp::Crelu => {
            let pos = cx.g.relu(x);
            let negated = cx.g.neg(x);
            let neg = cx.g.relu(negated);
            cx.g.concat(&[pos, neg], 1)
        }
        LayerOp::Softmax { axis } => cx.g.softmax(x, axis + 1),
        LayerOp::Arith(arith) => {
            let a = align(cx, inputs[0], &out);
            let b = align(cx, inputs[1], &out);
            match arith {
                Arith::Add => cx.g.add(a, b),
                Arith::Sub => cx.g.sub(a, b),
                Arith::Mul => cx.g.mul(a, b),
                Arith::Div => cx.g.div(a, b),
            }
        }
        LayerOp::Scale { factor } => cx.g.scale(x, *factor),
        LayerOp::Shift { offset } => cx.g.add_scalar(x, *offset),
        other => unreachable!("{} has its own lowering", other.name()),
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
