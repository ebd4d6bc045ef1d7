//! Dead code elimination: keeps only the nodes the wanted nodes depend on. Named outputs of
//! removed nodes are dropped.

use super::{copy_node, rebuild, report, Pass};
use crate::prim::{Graph, NodeId};
use std::collections::BTreeMap;

pub fn run(g: &Graph, wanted: &[NodeId]) -> Pass {
    let mut live = vec![false; g.len()];
    for w in wanted {
        live[w.index()] = true;
    }
    for i in (0..g.len()).rev() {
        if live[i] {
            for i in &g.nodes[i].inputs {
                live[i.index()] = true;
            }
        }
    }
    let (graph, wanted) = rebuild(g, wanted, |out, id, node, inputs| {
        live[id.index()].then(|| copy_node(out, node, &inputs))
    });
    let removed = g.len() - graph.len();
    let mut rules = BTreeMap::new();
    if removed > 0 {
        rules.insert("removed", removed);
    }
    Pass {
        report: report("dce", g, &graph, rules),
        graph,
        wanted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prim::Op;

    #[test]
    fn only_what_the_wanted_nodes_need_survives() {
        let mut g = Graph::new();
        let x = g.input("x", &[3]);
        let unused = g.input("unused", &[3]);
        let dead = g.exp(unused);
        let e = g.exp(x);
        let y = g.log(e);
        g.output("y", y);
        g.output("dead", dead);
        let p = run(&g, &[y]);
        assert_eq!(p.graph.len(), 3);
        assert_eq!(p.report.rules["removed"], 2);
        assert!(p.graph.nodes.iter().all(|n| n.op
            != Op::Input {
                name: "unused".into()
            }));
        assert_eq!(p.graph.outputs, vec![("y".to_string(), p.wanted[0])]);
    }
}
