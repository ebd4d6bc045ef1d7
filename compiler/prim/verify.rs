//! Structural invariants of a primitive graph, checked after every stage in tests.
//!
//! In: a [`Graph`]. Out: `Ok(())` or the first broken invariant:
//! - every input of a node precedes it (so node order is a topological order);
//! - arity and shapes agree with [`infer_shape`] (including declared shapes);
//! - `Input`/`Param` names are unique per kind (a name is one value);
//! - outputs name existing nodes, and output names are unique.

use super::shape::infer_shape;
use super::{Graph, NodeId, Op};
use std::collections::HashSet;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    /// The offending node, if the problem is a node's.
    pub node: Option<NodeId>,
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node {
            Some(id) => write!(f, "{id}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for VerifyError {}

pub fn verify(graph: &Graph) -> Result<(), VerifyError> {
    let mut leaf_names = HashSet::new();
    for (index, node) in graph.nodes.iter().enumerate() {
        let id = NodeId(index as u32);
        let fail = |message: String| {
            Err(VerifyError {
                node: Some(id),
                message,
            })
        };
        if let Some(bad) = node.inputs.iter().find(|input| input.index() >= index) {
            return fail(format!("input {bad} does not precede its user"));
        }
        let input_shapes: Vec<&[usize]> = node.inputs.iter().map(|&i| graph.shape(i)).collect();
        match infer_shape(&node.op, &input_shapes, Some(&node.shape)) {
            Ok(shape) if shape == node.shape => {}
            Ok(shape) => {
                return fail(format!(
                    "{} has shape {:?} but infers {shape:?}",
                    node.op.name(),
                    node.shape
                ))
            }
            Err(err) => return fail(err.message),
        }
        let leaf = match &node.op {
            Op::Input { name } => Some(("input", name)),
            Op::Param { name } => Some(("param", name)),
            _ => None,
        };
        if let Some((kind, name)) = leaf {
            if !leaf_names.insert((kind, name)) {
                return fail(format!("{kind} `{name}` appears twice"));
            }
        }
    }
    let mut output_names = HashSet::new();
    for (name, id) in &graph.outputs {
        if id.index() >= graph.len() {
            return Err(VerifyError {
                node: None,
                message: format!("output `{name}` refers to missing node {id}"),
            });
        }
        if !output_names.insert(name) {
            return Err(VerifyError {
                node: None,
                message: format!("output `{name}` appears twice"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prim::Node;

    fn small() -> Graph {
        let mut g = Graph::new();
        let x = g.input("x", &[2, 3]);
        let s = g.sum(x, &[1]);
        g.output("s", s);
        g
    }

    #[test]
    fn accepts_built_graphs() {
        assert_eq!(verify(&small()), Ok(()));
    }

    #[test]
    fn rejects_forward_references() {
        let mut g = small();
        g.nodes[1].inputs[0] = NodeId(1);
        let err = verify(&g).unwrap_err();
        assert_eq!(err.to_string(), "%1: input %1 does not precede its user");
    }

    #[test]
    fn rejects_stale_shapes_and_arity() {
        let mut g = small();
        g.nodes[1].shape = vec![2, 3];
        assert!(verify(&g).unwrap_err().message.contains("infers [2, 1]"));
        let mut g = small();
        g.nodes[1].inputs.clear();
        assert!(verify(&g).unwrap_err().message.contains("takes 1 input"));
    }

    #[test]
    fn rejects_duplicate_names_and_bad_outputs() {
        let mut g = small();
        g.nodes.push(Node {
            op: Op::Input { name: "x".into() },
            inputs: vec![],
            shape: vec![1],
            origin: None,
        });
        assert!(verify(&g).unwrap_err().message.contains("appears twice"));
        let mut g = small();
        g.output("s", NodeId(0));
        assert!(verify(&g).is_err());
        let mut g = small();
        g.output("t", NodeId(5));
        assert!(verify(&g).unwrap_err().message.contains("missing node"));
    }
}
