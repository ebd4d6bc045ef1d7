//! Batch-norm folding for inference: per-channel scales and shifts that follow a matrix
//! product move into its weights and bias.
//!
//! In an inference program a batch norm is `((x - mean) * inv_std) * gamma + beta` with
//! every factor a function of parameters only ("static"). Two rules, applied where the
//! non-static operand has a single user (so nothing else sees the old value):
//! - scale: `y * s` with `s` static and varying along one axis only is pushed down `y`
//!   through `Add` of a static shift (`(z + c) * s = z * s + c * s`), through `Mul` by
//!   another one-axis static factor, through `Permute` and `Reshape` (following the axis),
//!   into a `MatMul` operand that is static: the columns of `B` for the last axis, the
//!   rows of `A` for the one before (`(A B) diag(s) = A (B diag(s))`).
//! - shift: `(z + c1) + c2` with `c1`, `c2` static becomes `z + (c1 + c2)`.
//!
//! The scaled weights and summed shifts are static, so the JIT computes them once per
//! parameter change ([`crate::jit::hoist`]) and the batch pays for one product plus one
//! bias add (fused with the activation). Values change by rounding only: the product of
//! scaled weights rounds differently from the scaled product (tests/inference.rs bounds it).
//! Training programs never run this pass: there the batch statistics are not static.

use super::{copy_node, rebuild, report, Pass};
use crate::prim::{Graph, Node, NodeId, Op};
use std::collections::{BTreeMap, HashMap, HashSet};

pub fn run(g: &Graph, wanted: &[NodeId]) -> Pass {
    let mut users = vec![0usize; g.len()];
    for node in &g.nodes {
        for i in &node.inputs {
            users[i.index()] += 1;
        }
    }
    for id in wanted.iter().chain(g.outputs.iter().map(|(_, id)| id)) {
        users[id.index()] += 1;
    }
    let mut f = Folder::default();
    let (graph, wanted) = rebuild(g, wanted, |out, old, node, inputs| {
        let id = f.node(out, node, &inputs);
        if users[old.index()] == 1 {
            f.single.insert(id);
        }
        Some(id)
    });
    Pass {
        report: report("bnfold", g, &graph, f.rules),
        graph,
        wanted,
    }
}

#[derive(Default)]
struct Folder {
    /// Nodes of the new graph with exactly one user.
    single: HashSet<NodeId>,
    statics: HashMap<NodeId, bool>,
    rules: BTreeMap<&'static str, usize>,
}

/// Along which axis a static value varies: `Some(None)` nowhere (a splat), `Some(Some(a))`
/// only along axis `a`, `None` along several or unknown.
pub(crate) type Varies = Option<Option<usize>>;

impl Folder {
    fn node(&mut self, out: &mut Graph, node: &Node, inputs: &[NodeId]) -> NodeId {
        match node.op {
            Op::Mul => {
                for (x, s) in [(inputs[0], inputs[1]), (inputs[1], inputs[0])] {
                    if self.is_static(out, s) && !self.is_static(out, x) {
                        if let Some(folded) = self.push_scale(out, x, s) {
                            *self.rules.entry("scale into matmul").or_default() += 1;
                            return folded;
                        }
                    }
                }
            }
            Op::Add => {
                if let Some(merged) = self.merge_shifts(out, inputs) {
                    *self.rules.entry("merge shifts").or_default() += 1;
                    return merged;
                }
            }
            _ => {}
        }
        copy_node(out, node, inputs)
    }

    /// `(z + c1) + c2` with `c1`, `c2` static and the inner sum used once: `z + (c1 + c2)`.
    fn merge_shifts(&mut self, out: &mut Graph, inputs: &[NodeId]) -> Option<NodeId> {
        let (x, c2) = self.split_static(out, inputs)?;
        let inner = out.node(x).clone();
        if inner.op != Op::Add || !self.single.contains(&x) {
            return None;
        }
        let (z, c1) = self.split_static(out, &inner.inputs)?;
        let c = out.add(c1, c2);
        Some(out.add(z, c))
    }

    /// Whether `id` depends on parameters and constants only.
    fn is_static(&mut self, g: &Graph, id: NodeId) -> bool {
        if let Some(&s) = self.statics.get(&id) {
            return s;
        }
        let node = g.node(id);
        let s = match node.op {
            Op::Input { .. } | Op::RandUniform { .. } => false,
            _ => node.inputs.clone().iter().all(|&i| self.is_static(g, i)),
        };
        self.statics.insert(id, s);
        s
    }

    /// `x * s` with the scale moved into a static matrix-product operand, if the chain
    /// from `x` down to the product allows it.
    fn push_scale(&mut self, g: &mut Graph, x: NodeId, s: NodeId) -> Option<NodeId> {
        let shape = g.shape(x).to_vec();
        let axis = varies(g, s)?.unwrap_or(shape.len().checked_sub(1)?);
        let v = axis_vector(g, s, axis);
        self.push(g, x, v, axis)
    }

    /// `x` scaled by the vector `v` along `axis`, rebuilt so the scale lands in a static
    /// matrix-product operand; `None` (leaving only dead nodes behind) where it cannot.
    fn push(&mut self, g: &mut Graph, x: NodeId, v: NodeId, axis: usize) -> Option<NodeId> {
        if !self.single.contains(&x) || self.is_static(g, x) {
            return None;
        }
        let node = g.node(x).clone();
        let shape = node.shape.clone();
        let folded = match &node.op {
            Op::Add => {
                let (z, c) = self.split_static(g, &node.inputs)?;
                let z = self.push(g, z, v, axis)?;
                let s = along(g, v, axis, &shape);
                let c = g.mul(c, s);
                g.add(z, c)
            }
            Op::Mul => {
                let (z, c) = self.split_static(g, &node.inputs)?;
                match varies(g, c)? {
                    Some(a) if a != axis => return None,
                    _ => {}
                }
                let w = axis_vector(g, c, axis);
                let v = g.mul(v, w);
                self.push(g, z, v, axis)?
            }
            Op::Permute { perm } => {
                let inner = self.push(g, node.inputs[0], v, perm[axis])?;
                g.permute(inner, perm)
            }
            Op::Reshape => {
                let from = g.shape(node.inputs[0]).to_vec();
                let before: usize = shape[..axis].iter().product();
                let b = (0..from.len()).find(|&b| {
                    from[..b].iter().product::<usize>() == before && from[b] == shape[axis]
                })?;
                let inner = self.push(g, node.inputs[0], v, b)?;
                g.reshape(inner, &shape)
            }
            Op::MatMul => {
                let (a, b) = (node.inputs[0], node.inputs[1]);
                let rank = shape.len();
                if axis + 1 == rank && self.is_static(g, b) {
                    let bs = g.shape(b).to_vec();
                    let s = along(g, v, bs.len() - 1, &bs);
                    let b = g.mul(b, s);
                    g.matmul(a, b)
                } else if axis + 2 == rank && self.is_static(g, a) {
                    let as_ = g.shape(a).to_vec();
                    let s = along(g, v, as_.len() - 2, &as_);
                    let a = g.mul(a, s);
                    g.matmul(a, b)
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        // The rebuilt value replaces `x`, which had one user.
        self.single.insert(folded);
        Some(folded)
    }

    /// A binary node's (non-static, static) operands.
    fn split_static(&mut self, g: &Graph, inputs: &[NodeId]) -> Option<(NodeId, NodeId)> {
        let (a, b) = (inputs[0], inputs[1]);
        match (self.is_static(g, a), self.is_static(g, b)) {
            (false, true) => Some((a, b)),
            (true, false) => Some((b, a)),
            _ => None,
        }
    }
}

/// Along which single axis the static value `id` varies (see [`Varies`]).
pub(crate) fn varies(g: &Graph, id: NodeId) -> Varies {
    varies_memo(g, id, &mut HashMap::new())
}

/// [`varies`], each node looked at once.
#[allow(
    clippy::expect_used,
    reason = "prim::verify checks that a Permute's perm is a permutation of the axes"
)]
fn varies_memo(g: &Graph, id: NodeId, memo: &mut HashMap<NodeId, Varies>) -> Varies {
    if let Some(&v) = memo.get(&id) {
        return v;
    }
    let node = g.node(id);
    let shape = &node.shape;
    let big: Vec<usize> = (0..shape.len()).filter(|&a| shape[a] > 1).collect();
    let input = |i: usize| node.inputs[i];
    let mut of = |i: usize| varies_memo(g, input(i), memo);
    let v = match big.as_slice() {
        [] => Some(None),
        [a] => Some(Some(*a)),
        _ => match &node.op {
            Op::Const { .. } => Some(None),
            Op::Broadcast => match of(0) {
                None => None,
                Some(None) => Some(None),
                Some(Some(a)) if g.shape(input(0))[a] == shape[a] => Some(Some(a)),
                Some(Some(_)) => Some(None),
            },
            Op::Reshape => of(0).and_then(|v| v.map_or(Some(None), |_| None)),
            Op::Permute { perm } => {
                of(0).map(|v| v.map(|a| perm.iter().position(|&p| p == a).expect("a permutation")))
            }
            op if op.is_unary_elementwise() => of(0),
            op if op.is_binary_elementwise() => match (of(0), of(1)) {
                (Some(None), v) | (v, Some(None)) => v,
                (Some(Some(a)), Some(Some(b))) if a == b => Some(Some(a)),
                _ => None,
            },
            _ => None,
        },
    };
    memo.insert(id, v);
    v
}

/// The 1-D vector of the static `s` along `axis` (`s` varies along no other axis): its
/// first entry along every other axis.
pub(crate) fn axis_vector(g: &mut Graph, s: NodeId, axis: usize) -> NodeId {
    let shape = g.shape(s).to_vec();
    let mut v = s;
    for (a, &d) in shape.iter().enumerate() {
        if a != axis && d > 1 {
            v = g.slice(v, a, 0, 1);
        }
    }
    g.reshape(v, &[shape[axis]])
}

/// The vector `v` laid along `axis` of `shape`, constant along the other axes.
pub(crate) fn along(g: &mut Graph, v: NodeId, axis: usize, shape: &[usize]) -> NodeId {
    let mut lined = vec![1; shape.len()];
    lined[axis] = g.shape(v)[0];
    let v = g.reshape(v, &lined);
    g.broadcast(v, shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prim::interp::{evaluate, Bindings};
    use ndarray::{ArrayD, IxDyn};

    fn array(shape: &[usize], salt: usize) -> ArrayD<f32> {
        let n: usize = shape.iter().product();
        let data = (0..n)
            .map(|i| ((i * 37 + salt * 11) % 17) as f32 / 8.0 - 1.0)
            .collect();
        ArrayD::from_shape_vec(IxDyn(shape), data).unwrap()
    }

    /// The folded graph's values agree with the original's to rounding.
    fn agree(g: &Graph, folded: &Pass, bindings: &Bindings<f32>) {
        let want = evaluate::<f32>(g, bindings, &[g.outputs[0].1]).unwrap();
        let got = evaluate::<f32>(&folded.graph, bindings, &folded.wanted).unwrap();
        for (a, b) in want[0].iter().zip(got[0].iter()) {
            assert!((a - b).abs() <= 1e-5 + 1e-5 * a.abs(), "{a} vs {b}");
        }
    }

    /// `((x W^T - mean) * s) * gamma + beta` with static per-unit vectors: both scales land
    /// in the weights and the two shifts become one.
    #[test]
    fn dense_batch_norm_folds_into_the_weights() {
        let mut g = Graph::new();
        let x = g.input("x", &[2, 3]);
        let w = g.param("w", &[4, 3]);
        let wt = g.transpose(w, 0, 1);
        let y = g.matmul(x, wt);
        let vector = |name: &str, g: &mut Graph| {
            let v = g.param(name, &[4]);
            g.broadcast_to(v, &[2, 4])
        };
        let (mean, s, gamma, beta) = (
            vector("mean", &mut g),
            vector("s", &mut g),
            vector("gamma", &mut g),
            vector("beta", &mut g),
        );
        let centered = g.sub(y, mean);
        let scaled = g.mul(centered, s);
        let affine = g.mul(scaled, gamma);
        let out = g.add(affine, beta);
        g.output("y", out);
        let p = run(&g, &[out]);
        assert_eq!(p.report.rules["scale into matmul"], 2);
        assert_eq!(p.report.rules["merge shifts"], 1);
        // The batch-dependent path is the product plus one add.
        let root = p.graph.node(p.wanted[0]);
        assert_eq!(root.op, Op::Add);
        assert!(root
            .inputs
            .iter()
            .any(|&i| p.graph.node(i).op == Op::MatMul));
        let mut b = Bindings::new()
            .input("x", array(&[2, 3], 1))
            .param("w", array(&[4, 3], 2));
        for (k, name) in ["mean", "s", "gamma", "beta"].into_iter().enumerate() {
            b = b.param(name, array(&[4], k + 3));
        }
        agree(&g, &p, &b);
    }

    /// A convolution's product `W [f, patch] · cols [n, patch, positions]`, reshaped to
    /// `[n, f, h, w]` and scaled per channel (axis 1): the scale follows the reshape back
    /// to the rows of `W`.
    #[test]
    fn conv_channel_scale_follows_the_reshape_into_the_filters() {
        let mut g = Graph::new();
        let cols = g.input("cols", &[2, 6, 4]);
        let w = g.param("w", &[3, 6]);
        let y = g.matmul(w, cols);
        let y = g.reshape(y, &[2, 3, 2, 2]);
        let s = g.param("s", &[3]);
        let s = g.reshape(s, &[1, 3, 1, 1]);
        let s = g.broadcast(s, &[2, 3, 2, 2]);
        let out = g.mul(y, s);
        g.output("y", out);
        let p = run(&g, &[out]);
        assert_eq!(p.report.rules["scale into matmul"], 1);
        let b = Bindings::new()
            .input("cols", array(&[2, 6, 4], 1))
            .param("w", array(&[3, 6], 2))
            .param("s", array(&[3], 3));
        agree(&g, &p, &b);
    }

    /// Nothing moves when the product has a second user (it would be computed twice) or
    /// when the operand the scale would land in depends on the batch.
    #[test]
    fn shared_or_batch_dependent_products_are_left_alone() {
        let mut g = Graph::new();
        let x = g.input("x", &[2, 3]);
        let v = g.input("v", &[3, 4]);
        let s = g.param("s", &[4]);
        let s = g.broadcast_to(s, &[2, 4]);
        let y = g.matmul(x, v);
        let scaled = g.mul(y, s);
        let w = g.param("w", &[3, 4]);
        let z = g.matmul(x, w);
        let z_scaled = g.mul(z, s);
        let p = run(&g, &[scaled, z_scaled, z]);
        assert!(p.report.rules.is_empty(), "{:?}", p.report.rules);
    }
}
