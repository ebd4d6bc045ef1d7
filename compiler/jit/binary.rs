//! Which matrix products are binary: both operands scaled sign tensors, as binary layers
//! (XNOR-Net, BNN) produce them. Such a product runs the runtime's bit-packed kernel
//! (`nnc_runtime::exec::xnor`), which checks the actual values as it packs them and falls
//! back to f32 when they are not, so this structural test only predicts; it cannot make a
//! result wrong.

use crate::prim::{Graph, NodeId, Op};

/// For every node of `g`, whether it is (predicted to be) a scaled sign tensor: a `Sign`
/// seen through views, `StopGrad`, convolution unfolding (zero padding stays exact), a
/// straight-through estimator's `+ 0` term, and a multiplication by a broadcast scale.
/// `signed_input` says which inputs are (hoisted values that were such tensors). One pass
/// in node order (a topological order), so shared subgraphs are looked at once.
pub fn sign_like(g: &Graph, signed_input: &dyn Fn(&str) -> bool) -> Vec<bool> {
    let mut out: Vec<bool> = Vec::with_capacity(g.len());
    for node in &g.nodes {
        let input = |i: usize| out[node.inputs[i].index()];
        let value = match &node.op {
            Op::Sign => true,
            Op::Input { name } => signed_input(name),
            Op::StopGrad | Op::Im2Col(_) => input(0),
            op if op.is_movement() => node.inputs.iter().all(|i| out[i.index()]),
            // The straight-through form `stop_grad(sign) + (h - stop_grad(h))`.
            Op::Add => input(0) || input(1),
            Op::Mul => {
                (input(0) && is_scale(g, node.inputs[1]))
                    || (input(1) && is_scale(g, node.inputs[0]))
            }
            _ => false,
        };
        out.push(value);
    }
    out
}

/// A broadcast factor (one scale per filter, or a constant).
fn is_scale(g: &Graph, id: NodeId) -> bool {
    let node = g.node(id);
    match node.op {
        Op::StopGrad => is_scale(g, node.inputs[0]),
        Op::Broadcast | Op::Const { .. } => true,
        _ => false,
    }
}
