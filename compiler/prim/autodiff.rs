//! Reverse-mode automatic differentiation inside the IR.
//!
//! In: a graph, a `loss` node and the nodes to differentiate with respect to (`wrt`:
//! usually `Param`s, but any node works). Out: one gradient node per `wrt` entry, with
//! the backward nodes appended to the same graph, so the forward pass, the backward pass
//! and (later) the optimizer update are one graph for fusion and memory planning.
//!
//! The gradient is that of `sum(loss)`: the seed is a ones constant of the loss shape,
//! so a scalar loss gets its ordinary gradient. Nodes are visited from `loss` down in
//! reverse graph order (a reverse topological order), and each node's adjoint is
//! complete when it is visited because all its users come later. Fan-out is
//! accumulated with `Add`. Only nodes on a path from `wrt` to `loss` get backward nodes;
//! `Sign`, `CmpGt` and `StopGrad` end such paths (their derivative is zero, as is that of
//! the ids of `Gather` and `ScatterAdd`), and a `wrt`
//! entry the loss does not depend on gets a zeros constant. Backward nodes carry the
//! origin of the forward node they differentiate, marked `backward`.
//!
//! Kinks: `Max` and `MaxReduce` split the gradient evenly between tied inputs (so
//! `relu'(0) = 1/2`); everything else is differentiated as written.

use super::{Graph, NodeId, Op, Origin};

pub fn differentiate(graph: &mut Graph, loss: NodeId, wrt: &[NodeId]) -> Vec<NodeId> {
    let n_forward = graph.len();
    assert!(
        loss.index() < n_forward,
        "autodiff: loss {loss} is not in the graph"
    );
    let mut depends = vec![false; n_forward];
    for &id in wrt {
        depends[id.index()] = true;
    }
    for index in 0..n_forward {
        let node = &graph.nodes[index];
        let blocks = matches!(node.op, Op::Sign | Op::CmpGt | Op::StopGrad);
        if !blocks && node.inputs.iter().any(|input| depends[input.index()]) {
            depends[index] = true;
        }
    }

    let saved_origin = graph.origin().cloned();
    let mut adjoint: Vec<Option<NodeId>> = vec![None; n_forward];
    if depends[loss.index()] {
        graph.set_origin(backward_origin(graph, loss));
        let shape = graph.shape(loss).to_vec();
        adjoint[loss.index()] = Some(graph.constant(1.0, &shape));
    }
    for index in (0..=loss.index()).rev() {
        let Some(upstream) = adjoint[index] else {
            continue;
        };
        let id = NodeId(index as u32);
        let wants: Vec<bool> = graph.nodes[index]
            .inputs
            .iter()
            .map(|input| depends[input.index()])
            .collect();
        if !wants.contains(&true) {
            continue;
        }
        graph.set_origin(backward_origin(graph, id));
        let contributions = input_gradients(graph, id, upstream, &wants);
        let inputs = graph.nodes[index].inputs.clone();
        for (input, grad) in inputs.into_iter().zip(contributions) {
            let Some(grad) = grad else { continue };
            let slot = &mut adjoint[input.index()];
            *slot = Some(match *slot {
                None => grad,
                Some(previous) => graph.add(previous, grad),
            });
        }
    }
    graph.set_origin(saved_origin);
    wrt.iter()
        .map(|&id| match adjoint[id.index()] {
            Some(grad) => grad,
            None => {
                let shape = graph.shape(id).to_vec();
                graph.constant(0.0, &shape)
            }
        })
        .collect()
}

fn backward_origin(graph: &Graph, id: NodeId) -> Option<Origin> {
    graph.node(id).origin.clone().map(|origin| Origin {
        backward: true,
        ..origin
    })
}

/// The vector-Jacobian product of one node: for each input `i` with `wants[i]`, the
/// contribution `g * d(node)/d(input_i)` of the upstream gradient `g`; `None` where the
/// input is not wanted or the derivative is zero.
fn input_gradients(
    graph: &mut Graph,
    id: NodeId,
    g: NodeId,
    wants: &[bool],
) -> Vec<Option<NodeId>> {
    let node = graph.node(id).clone();
    let x = |i: usize| node.inputs[i];
    let shapes: Vec<Vec<usize>> = node
        .inputs
        .iter()
        .map(|&i| graph.shape(i).to_vec())
        .collect();
    let mut res: Vec<Option<NodeId>> = vec![None; node.inputs.len()];
    match &node.op {
        // Leaves have no inputs.
        Op::Input { .. } | Op::Param { .. } | Op::Const { .. } | Op::RandUniform { .. } => {}
        // d/dx exp(x) = exp(x): reuse the forward value.
        Op::Exp => res[0] = Some(graph.mul(g, id)),
        // d/dx ln(x) = 1/x.
        Op::Log => {
            let inv = graph.recip(x(0));
            res[0] = Some(graph.mul(g, inv));
        }
        // d/dx sqrt(x) = 1 / (2 sqrt(x)).
        Op::Sqrt => {
            let inv = graph.recip(id);
            let half_inv = graph.scale(inv, 0.5);
            res[0] = Some(graph.mul(g, half_inv));
        }
        // d/dx (1/x) = -1/x^2 = -y^2.
        Op::Recip => {
            let y_sq = graph.square(id);
            let neg_y_sq = graph.neg(y_sq);
            res[0] = Some(graph.mul(g, neg_y_sq));
        }
        // Piecewise constant (Sign, CmpGt) or cut by definition (StopGrad): zero.
        // `differentiate` never reaches them; the arm exists for exhaustiveness.
        Op::Sign | Op::CmpGt | Op::StopGrad => {}
        // d(a + b) = da + db.
        Op::Add => res = vec![Some(g), Some(g)],
        // d(a * b) = b da + a db.
        Op::Mul => {
            if wants[0] {
                res[0] = Some(graph.mul(g, x(1)));
            }
            if wants[1] {
                res[1] = Some(graph.mul(g, x(0)));
            }
        }
        // d max(a, b) = da where a > b, db where b > a, (da + db)/2 on ties.
        Op::Max => {
            let a_wins = graph.cmp_gt(x(0), x(1));
            let b_wins = graph.cmp_gt(x(1), x(0));
            let one = graph.constant_like(1.0, g);
            let b_not_wins = graph.sub(one, b_wins);
            let twice_weight_a = graph.add(a_wins, b_not_wins);
            let weight_a = graph.scale(twice_weight_a, 0.5);
            if wants[0] {
                res[0] = Some(graph.mul(g, weight_a));
            }
            if wants[1] {
                let weight_b = graph.sub(one, weight_a);
                res[1] = Some(graph.mul(g, weight_b));
            }
        }
        // d sum(x)/dx_i = 1: broadcast back over the reduced (size-1) axes.
        Op::Sum { .. } => res[0] = Some(graph.broadcast(g, &shapes[0])),
        // d max(x)/dx_i = 1/count on the positions equal to the max, else 0.
        Op::MaxReduce { axes } => {
            let shape = shapes[0].clone();
            let max = graph.broadcast(id, &shape);
            // x <= max everywhere, so "not (max > x)" is "x == max".
            let below = graph.cmp_gt(max, x(0));
            let one = graph.constant_like(1.0, below);
            let is_max = graph.sub(one, below);
            let count = graph.sum(is_max, axes);
            let share = graph.div(g, count);
            let share = graph.broadcast(share, &shape);
            res[0] = Some(graph.mul(share, is_max));
        }
        // Movement ops: apply the inverse movement to the gradient.
        Op::Reshape => res[0] = Some(graph.reshape(g, &shapes[0])),
        Op::Permute { perm } => {
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            res[0] = Some(graph.permute(g, &inverse));
        }
        // Each input element was copied to every position of its broadcast axes: sum them.
        Op::Broadcast => {
            let from = &shapes[0];
            let axes: Vec<usize> = (0..from.len())
                .filter(|&a| from[a] != node.shape[a])
                .collect();
            res[0] = Some(if axes.is_empty() {
                g
            } else {
                graph.sum(g, &axes)
            });
        }
        Op::Slice { axis, start, end } => {
            let after = shapes[0][*axis] - end;
            res[0] = Some(graph.pad(g, *axis, *start, after));
        }
        Op::Pad { axis, before, .. } => {
            let size = shapes[0][*axis];
            res[0] = Some(graph.slice(g, *axis, *before, before + size));
        }
        Op::Concat { axis } => {
            let mut offset = 0;
            for (i, want) in wants.iter().enumerate() {
                let size = shapes[i][*axis];
                if *want {
                    res[i] = Some(graph.slice(g, *axis, offset, offset + size));
                }
                offset += size;
            }
        }
        // C = A B: dA = G B^T, dB = A^T G; a rank-2 side shared across the other's batch
        // sums its per-batch gradients.
        Op::MatMul => {
            if wants[0] {
                let b_t = transpose_last(graph, x(1));
                let full = graph.matmul(g, b_t);
                res[0] = Some(sum_to_matrix(graph, full, &shapes[0]));
            }
            if wants[1] {
                let a_t = transpose_last(graph, x(0));
                let full = graph.matmul(a_t, g);
                res[1] = Some(sum_to_matrix(graph, full, &shapes[1]));
            }
        }
        // Im2Col gathers, so its adjoint scatter-adds (padding reads receive nothing).
        Op::Im2Col(geom) => res[0] = Some(graph.col2im(g, *geom, &shapes[0])),
        // Col2Im scatter-adds, so its adjoint gathers, reading 0 in the padding.
        Op::Col2Im(geom) => {
            let gather = super::ConvGeom {
                pad_value: 0.0,
                ..*geom
            };
            res[0] = Some(graph.im2col(g, gather));
        }
        // A gather copies table rows, so its adjoint adds them back; ids are piecewise
        // constant (no gradient).
        Op::Gather if wants[0] => res[0] = Some(graph.scatter_add(g, x(1), shapes[0][0])),
        Op::ScatterAdd if wants[0] => res[0] = Some(graph.gather(g, x(1))),
        Op::Gather | Op::ScatterAdd => {}
    }
    for (slot, want) in res.iter_mut().zip(wants) {
        if !want {
            *slot = None;
        }
    }
    res
}

fn transpose_last(graph: &mut Graph, x: NodeId) -> NodeId {
    let rank = graph.shape(x).len();
    graph.transpose(x, rank - 2, rank - 1)
}

/// Sums a batched `[..., r, c]` gradient down to `target` when the operand was a plain
/// `[r, c]` matrix applied to every batch entry; otherwise returns it unchanged.
fn sum_to_matrix(graph: &mut Graph, full: NodeId, target: &[usize]) -> NodeId {
    let rank = graph.shape(full).len();
    if rank == target.len() {
        return full;
    }
    let batch_axes: Vec<usize> = (0..rank - 2).collect();
    let summed = graph.sum(full, &batch_axes);
    graph.reshape(summed, target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prim::interp::{evaluate, Bindings};
    use crate::prim::verify::verify;
    use ndarray::arr1;

    fn grad_of(build: impl Fn(&mut Graph, NodeId) -> NodeId, x: &[f64]) -> Vec<f64> {
        let mut g = Graph::new();
        let input = g.param("x", &[x.len()]);
        let out = build(&mut g, input);
        let loss = g.sum_all(out);
        let grads = differentiate(&mut g, loss, &[input]);
        verify(&g).unwrap();
        let bindings = Bindings::new().param("x", arr1(x).into_dyn());
        let values = evaluate::<f64>(&g, &bindings, &grads).unwrap();
        values[0].iter().copied().collect()
    }

    #[test]
    fn zero_gradient_ops_and_stop_grad() {
        assert_eq!(grad_of(|g, x| g.sign(x), &[-1.0, 2.0]), vec![0.0, 0.0]);
        let cmp = |g: &mut Graph, x| {
            let zero = g.constant_like(0.0, x);
            g.cmp_gt(x, zero)
        };
        assert_eq!(grad_of(cmp, &[-1.0, 2.0]), vec![0.0, 0.0]);
        // x * stop_grad(x) has gradient stop_grad(x) = x, not 2x.
        let half_square = |g: &mut Graph, x| {
            let frozen = g.stop_grad(x);
            g.mul(x, frozen)
        };
        assert_eq!(grad_of(half_square, &[3.0, -2.0]), vec![3.0, -2.0]);
    }

    #[test]
    fn ties_split_evenly() {
        let relu = |g: &mut Graph, x| g.relu(x);
        assert_eq!(grad_of(relu, &[-1.0, 0.0, 2.0]), vec![0.0, 0.5, 1.0]);
        let max_all = |g: &mut Graph, x| g.max_reduce(x, &[0]);
        assert_eq!(
            grad_of(max_all, &[1.0, 3.0, 3.0, 2.0]),
            vec![0.0, 0.5, 0.5, 0.0]
        );
    }

    #[test]
    fn fan_out_accumulates_and_unrelated_wrt_is_zero() {
        let mut g = Graph::new();
        let x = g.param("x", &[2]);
        let other = g.param("other", &[3]);
        let sq = g.mul(x, x);
        let both = g.add(sq, x);
        let loss = g.sum_all(both);
        let grads = differentiate(&mut g, loss, &[x, other]);
        let bindings = Bindings::new()
            .param("x", arr1(&[1.5, -2.0]).into_dyn())
            .param("other", arr1(&[0.0; 3]).into_dyn());
        let values = evaluate::<f64>(&g, &bindings, &grads).unwrap();
        assert_eq!(values[0], arr1(&[4.0, -3.0]).into_dyn());
        assert_eq!(values[1], arr1(&[0.0, 0.0, 0.0]).into_dyn());
        // The unrelated parameter got a constant, not a backward pass.
        assert_eq!(g.node(grads[1]).op, Op::Const { value: 0.0 });
    }

    #[test]
    fn nodes_off_the_path_get_no_backward_nodes() {
        let mut g = Graph::new();
        let x = g.param("x", &[2]);
        let data = g.input("data", &[2]);
        let e = g.exp(data);
        let l = g.log(e);
        let prod = g.mul(x, l);
        let loss = g.sum_all(prod);
        let before = g.len();
        differentiate(&mut g, loss, &[x]);
        // Seed, Reshape, Broadcast (Sum), then Mul by l: nothing for Log or Exp.
        let added: Vec<&str> = g.nodes[before..].iter().map(|n| n.op.name()).collect();
        assert_eq!(added, vec!["Const", "Reshape", "Broadcast", "Mul"]);
    }

    #[test]
    fn backward_nodes_carry_the_forward_origin() {
        let mut g = Graph::new();
        let x = g.param("x", &[2]);
        let y = g.with_origin("act", |g| g.exp(x));
        let loss = g.sum_all(y);
        let before = g.len();
        let grads = differentiate(&mut g, loss, &[x]);
        let origin = g.node(grads[0]).origin.clone().unwrap();
        assert_eq!(origin.layer, "act");
        assert!(origin.backward);
        assert!(g.nodes[before..]
            .iter()
            .all(|n| n.origin.as_ref().is_none_or(|o| o.backward)));
        assert_eq!(g.origin(), None);
    }
}
