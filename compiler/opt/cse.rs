//! Common subexpression elimination: a node with the same op, operands (in either order for
//! commutative ops) and shape as an earlier node is replaced by it. Every op is a pure
//! function of its operands (`RandUniform` draws depend only on the seed, step, stream and
//! index), so this never changes a value.

use super::{copy_node, rebuild, report, Pass};
use crate::prim::{Graph, NodeId};
use std::collections::{BTreeMap, HashMap};

pub fn run(g: &Graph, wanted: &[NodeId]) -> Pass {
    let mut seen: HashMap<String, NodeId> = HashMap::new();
    let mut merged = 0usize;
    let (graph, wanted) = rebuild(g, wanted, |out, _, node, mut inputs| {
        if node.op.is_commutative() {
            inputs.sort_unstable();
        }
        // The Debug form names the op with all its attributes (exact constant values).
        let key = format!("{:?} {:?} {:?}", node.op, inputs, node.shape);
        if let Some(&id) = seen.get(&key) {
            merged += 1;
            return Some(id);
        }
        let id = copy_node(out, node, &inputs);
        seen.insert(key, id);
        Some(id)
    });
    let mut rules = BTreeMap::new();
    if merged > 0 {
        rules.insert("merged", merged);
    }
    Pass {
        report: report("cse", g, &graph, rules),
        graph,
        wanted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prim::Op;

    #[test]
    fn duplicates_merge_commutative_operands_too() {
        let mut g = Graph::new();
        let x = g.input("x", &[3]);
        let y = g.input("y", &[3]);
        let e1 = g.exp(x);
        let e2 = g.exp(x);
        let a1 = g.add(e1, y);
        let a2 = g.add(y, e2);
        let c1 = g.cmp_gt(x, y);
        let c2 = g.cmp_gt(y, x);
        let k1 = g.constant(0.5, &[3]);
        let k2 = g.constant(0.5, &[3]);
        let k3 = g.constant(0.25, &[3]);
        let p = run(&g, &[a1, a2, c1, c2, k1, k2, k3]);
        let w = &p.wanted;
        assert_eq!(w[0], w[1]);
        assert_ne!(w[2], w[3], "CmpGt is not commutative");
        assert_eq!(w[4], w[5]);
        assert_ne!(w[4], w[6]);
        assert_eq!(p.report.rules["merged"], 3);
        assert_eq!(p.graph.nodes.iter().filter(|n| n.op == Op::Exp).count(), 1);
    }
}
