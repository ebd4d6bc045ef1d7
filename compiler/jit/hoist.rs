//! Hoisting: an inference program split into what depends on parameters only (computed
//! once per parameter change) and what depends on the batch.
//!
//! A node is static when no `Input` or `RandUniform` reaches it. The static values the
//! batch part reads (looking through views, which cost nothing) become inputs of the batch
//! part named `hoisted.K`; the preparation program computes exactly those. Parameters and
//! constants themselves are not hoisted: the batch part reads them in place.

use crate::opt::bnfold::{along, axis_vector, varies};
use crate::opt::{dce, rebuild};
use crate::prim::{Graph, NodeId, Op};

/// The two programs of a hoisted graph.
pub struct Split {
    /// Computes the hoisted values (its wanted nodes, in order).
    pub prep: Graph,
    pub prep_wanted: Vec<NodeId>,
    /// The batch part: reads hoisted value `k` from input `hoisted.k`.
    pub main: Graph,
    pub main_wanted: Vec<NodeId>,
}

/// The input name of hoisted value `k`.
pub fn input_name(k: usize) -> String {
    format!("hoisted.{k}")
}

/// The `k` of an input named by [`input_name`]. (Spec input names have no dot.)
pub fn input_index(name: &str) -> Option<usize> {
    name.strip_prefix("hoisted.")?.parse().ok()
}

/// Splits `g` (its part `wanted` needs); `None` if nothing is worth hoisting.
pub fn split(g: &Graph, wanted: &[NodeId]) -> Option<Split> {
    let mut is_static = vec![false; g.len()];
    for id in g.ids() {
        let node = g.node(id);
        is_static[id.index()] = !matches!(node.op, Op::Input { .. } | Op::RandUniform { .. })
            && node.inputs.iter().all(|i| is_static[i.index()]);
    }
    let mut frontier: Vec<NodeId> = Vec::new();
    for id in g.ids().filter(|id| !is_static[id.index()]) {
        for &input in &g.node(id).inputs {
            if !is_static[input.index()] {
                continue;
            }
            let mut source = input;
            while g.node(source).op.is_movement() {
                source = g.node(source).inputs[0];
            }
            let leaf = matches!(g.node(source).op, Op::Param { .. } | Op::Const { .. });
            if !leaf && !frontier.contains(&source) {
                frontier.push(source);
            }
        }
    }
    if frontier.is_empty() {
        return None;
    }
    frontier.sort();
    // The compact form of each hoisted value: (axis it varies along, or none).
    let compact: Vec<Option<Option<usize>>> = frontier
        .iter()
        .map(|&f| {
            let shape = g.shape(f);
            varies(g, f).filter(|_| shape.iter().filter(|&&d| d > 1).count() > 1)
        })
        .collect();
    let mut prep = g.clone();
    let prep_wanted: Vec<NodeId> = frontier
        .iter()
        .zip(&compact)
        .map(|(&f, c)| match c {
            Some(axis) => axis_vector(&mut prep, f, axis.unwrap_or(0)),
            None => f,
        })
        .collect();
    let (main, main_wanted) = rebuild(g, wanted, |out, old, node, inputs| {
        Some(match frontier.iter().position(|&f| f == old) {
            Some(k) => match compact[k] {
                Some(axis) => {
                    let axis = axis.unwrap_or(0);
                    let v = out.input(&input_name(k), prep.shape(prep_wanted[k]));
                    along(out, v, axis, &node.shape)
                }
                None => out.input(&input_name(k), &node.shape),
            },
            None => crate::opt::copy_node(out, node, &inputs),
        })
    });
    let main = dce::run(&main, &main_wanted);
    Some(Split {
        prep,
        prep_wanted,
        main: main.graph,
        main_wanted: main.wanted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_only_values_move_to_the_preparation_program() {
        let mut g = Graph::new();
        let x = g.input("x", &[2, 3]);
        let w = g.param("w", &[3, 4]);
        let scale = g.param("scale", &[4]);
        let scale = g.exp(scale);
        let wide = g.broadcast_to(scale, &[3, 4]);
        let w2 = g.mul(w, wide); // static, [3, 4]
        let y = g.matmul(x, w2);
        let shift = g.param("shift", &[4]);
        let shift = g.sqrt(shift);
        let shift = g.broadcast_to(shift, &[2, 4]);
        let shift = g.mul(shift, shift); // static, varies along axis 1 only
        let out = g.add(y, shift);
        let wt = g.transpose(w, 0, 1); // a view of a parameter: read in place
        let split = split(&g, &[out, wt]).unwrap();
        assert_eq!(split.prep_wanted.len(), 2);
        // The shift is kept as its [4] vector and broadcast again in the batch part.
        let shapes: Vec<&[usize]> = split
            .prep_wanted
            .iter()
            .map(|&k| split.prep.shape(k))
            .collect();
        assert_eq!(shapes, [&[3, 4][..], &[4][..]]);
        let ops = |name: &str| {
            split
                .main
                .nodes
                .iter()
                .filter(|n| n.op.name() == name)
                .count()
        };
        assert_eq!((ops("Exp"), ops("Sqrt"), ops("MatMul")), (0, 0, 1));
        let inputs: Vec<String> = split
            .main
            .nodes
            .iter()
            .filter_map(|n| match &n.op {
                Op::Input { name } => Some(name.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(inputs, ["x", "hoisted.0", "hoisted.1"]);
        assert_eq!(input_index("hoisted.1"), Some(1));
        assert!(split
            .main
            .nodes
            .iter()
            .any(|n| n.op == Op::Param { name: "w".into() }));
    }
}
