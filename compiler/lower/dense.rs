//! Dense layers, full precision and binary (XNOR-Net).

use super::binary::{binary_activation_ste, xnor_weight_ste};
use super::Cx;
use crate::hir::{Init, Weights};
use crate::prim::{Graph, NodeId};

/// The weight init of a layer: its own, else the train block's default, else xavier.
pub(super) fn weight_init(cx: &Cx, w: &Weights) -> Init {
    w.init
        .clone()
        .or_else(|| cx.options.default_init.clone())
        .unwrap_or(Init::Xavier {
            normal: false,
            gain: 1.0,
        })
}

/// `y = x W^T + b` on the flattened input; W is [units, inputs] (PyTorch's layout).
/// Binary: W is replaced by alpha·sign(W) with the paper's straight-through gradient, and
/// with binary inputs x by sign(x) (gradient 1{|x| <= 1}).
/// Without `flatten` the product applies to the last axis: the other axes are folded into
/// the rows and unfolded again.
pub(super) fn lower_dense(
    cx: &mut Cx,
    x: NodeId,
    binary: Option<bool>,
    flatten: bool,
    w: &Weights,
) -> NodeId {
    let shape = cx.shape(x);
    let (rows, features) = if flatten {
        (shape[0], shape[1..].iter().product())
    } else {
        let last = shape.len() - 1;
        (shape[..last].iter().product(), shape[last])
    };
    let mut x = if shape.len() == 2 {
        x
    } else {
        cx.g.reshape(x, &[rows, features])
    };
    let init = weight_init(cx, w);
    let mut weight = cx.param("weight", init);
    if binary.is_some() {
        weight = xnor_weight_ste(cx.g, weight);
    }
    if binary == Some(true) {
        x = binary_activation_ste(cx.g, x);
    }
    let weight_t = cx.g.transpose(weight, 0, 1);
    let bias = w.bias.then(|| cx.param("bias", w.bias_init.clone()));
    let y = dense(cx.g, x, weight_t, bias);
    let out = cx.out_shape();
    cx.g.reshape(y, &out)
}

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
