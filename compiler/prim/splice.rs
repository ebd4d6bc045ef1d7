//! Copies one graph into another: how a second forward pass (the network on another view
//! of the example, or a distillation teacher) becomes part of a training step.

use super::{Graph, NodeId, Op};

impl Graph {
    /// Appends the nodes of `other` that `roots` need. Each `Input` of `other` named in
    /// `inputs` becomes that node of `self` (shapes must match); every `Param` is read under
    /// `param_prefix` + its name, so a prefix keeps a second network's weights apart and an
    /// empty prefix shares them. Returns the copies of `roots`.
    #[allow(
        clippy::expect_used,
        reason = "every node up to the last root is copied"
    )]
    pub fn splice(
        &mut self,
        other: &Graph,
        roots: &[NodeId],
        inputs: &[(&str, NodeId)],
        param_prefix: &str,
    ) -> Vec<NodeId> {
        let mut needed = vec![false; other.len()];
        for r in roots {
            needed[r.index()] = true;
        }
        for id in (0..other.len()).rev() {
            if needed[id] {
                for i in &other.nodes[id].inputs {
                    needed[i.index()] = true;
                }
            }
        }
        let mut map: Vec<Option<NodeId>> = vec![None; other.len()];
        for (id, node) in other.nodes.iter().enumerate() {
            if !needed[id] {
                continue;
            }
            let new = match &node.op {
                Op::Input { name } => match inputs.iter().find(|(n, _)| n == name) {
                    Some((_, fed)) => {
                        assert_eq!(
                            self.shape(*fed),
                            node.shape.as_slice(),
                            "splice: input `{name}`"
                        );
                        *fed
                    }
                    None => self.input(name, &node.shape),
                },
                Op::Param { name } => self.param(&format!("{param_prefix}{name}"), &node.shape),
                op => {
                    #[allow(
                        clippy::expect_used,
                        reason = "nodes are copied in id order and inputs have smaller ids (prim::verify)"
                    )]
                    let args: Vec<NodeId> = node
                        .inputs
                        .iter()
                        .map(|i| map[i.index()].expect("inputs come first"))
                        .collect();
                    self.add_node(op.clone(), &args, Some(&node.shape))
                }
            };
            map[id] = Some(new);
        }
        roots
            .iter()
            .map(|r| map[r.index()].expect("roots are copied"))
            .collect()
    }
}
