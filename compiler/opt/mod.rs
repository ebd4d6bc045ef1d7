//! Optimization passes on the primitive IR, run before JIT compilation.
//!
//! Each pass is a function `&Graph, &[NodeId] -> Pass` in its own module: it returns a new
//! graph (nodes stay in topological order), the wanted nodes renumbered into it, and what it
//! did, so `nnc ir --stage opt` can print a trace. Passes keep values: the interpreter gives
//! the same results on the optimized graph as on the original, up to the few rounding and
//! signed-zero cases listed in [`fold`] (tests/opt.rs checks every spec).
//!
//! - [`fold`]: constant folding and algebraic identities.
//! - [`cse`]: common subexpression elimination.
//! - [`dce`]: removes what the wanted nodes do not depend on.
//! - [`bnfold`] (inference programs only, [`optimize_inference`]): per-channel scales and
//!   shifts into the preceding matrix product; values change by rounding.

pub mod bnfold;
pub mod cse;
pub mod dce;
pub mod fold;

use crate::prim::{Graph, Node, NodeId};
use std::collections::BTreeMap;
use std::fmt;

/// What one pass run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassReport {
    pub name: &'static str,
    pub nodes_before: usize,
    pub nodes_after: usize,
    /// Rewrites by rule name.
    pub rules: BTreeMap<&'static str, usize>,
}

impl fmt::Display for PassReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} -> {} nodes",
            self.name, self.nodes_before, self.nodes_after
        )?;
        for (i, (rule, n)) in self.rules.iter().enumerate() {
            write!(f, "{} {rule} x{n}", if i == 0 { ";" } else { "," })?;
        }
        Ok(())
    }
}

/// The result of one pass.
pub struct Pass {
    pub graph: Graph,
    pub wanted: Vec<NodeId>,
    pub report: PassReport,
}

/// The optimized program and the trace of every pass run.
pub struct Optimized {
    pub graph: Graph,
    pub wanted: Vec<NodeId>,
    pub trace: Vec<PassReport>,
}

type PassFn = fn(&Graph, &[NodeId]) -> Pass;

/// The pipeline, in order; repeated (at most [`MAX_ROUNDS`] times) while it shrinks the
/// graph, since CSE can expose new identities to folding.
pub const PIPELINE: [(&str, PassFn); 3] =
    [("fold", fold::run), ("cse", cse::run), ("dce", dce::run)];
pub const MAX_ROUNDS: usize = 3;

/// Runs the pipeline on the part of `g` that `wanted` depends on.
pub fn optimize(g: &Graph, wanted: &[NodeId]) -> Optimized {
    let mut graph = g.clone();
    let mut wanted = wanted.to_vec();
    let mut trace = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let start = graph.len();
        let mut changed = false;
        for (_, pass) in PIPELINE {
            let p = pass(&graph, &wanted);
            changed |= !p.report.rules.is_empty() || p.report.nodes_after != p.report.nodes_before;
            graph = p.graph;
            wanted = p.wanted;
            trace.push(p.report);
        }
        if !changed || graph.len() >= start {
            break;
        }
    }
    Optimized {
        graph,
        wanted,
        trace,
    }
}

/// The pipeline for an inference program: [`optimize`], then batch-norm folding
/// ([`bnfold`]), then [`optimize`] again to clean up what folding exposed.
pub fn optimize_inference(g: &Graph, wanted: &[NodeId]) -> Optimized {
    let first = optimize(g, wanted);
    let folded = bnfold::run(&first.graph, &first.wanted);
    let mut trace = first.trace;
    trace.push(folded.report);
    let second = optimize(&folded.graph, &folded.wanted);
    trace.extend(second.trace);
    Optimized {
        graph: second.graph,
        wanted: second.wanted,
        trace,
    }
}

/// Copies `g` into a new graph node by node. `rewrite` gets the new graph, the old node and
/// its inputs already renumbered, and returns the node that replaces it (`None` drops it:
/// only valid for nodes nothing kept refers to). Named outputs follow their nodes; outputs
/// whose node was dropped are removed.
pub(crate) fn rebuild(
    g: &Graph,
    wanted: &[NodeId],
    mut rewrite: impl FnMut(&mut Graph, NodeId, &Node, Vec<NodeId>) -> Option<NodeId>,
) -> (Graph, Vec<NodeId>) {
    let mut out = Graph::new();
    let mut map: Vec<Option<NodeId>> = vec![None; g.len()];
    for id in g.ids() {
        let node = g.node(id);
        let Some(inputs) = node
            .inputs
            .iter()
            .map(|i| map[i.index()])
            .collect::<Option<Vec<NodeId>>>()
        else {
            continue;
        };
        out.set_origin(node.origin.clone());
        map[id.index()] = rewrite(&mut out, id, node, inputs);
    }
    out.set_origin(None);
    out.outputs = g
        .outputs
        .iter()
        .filter_map(|(name, id)| map[id.index()].map(|n| (name.clone(), n)))
        .collect();
    #[allow(
        clippy::expect_used,
        reason = "passes keep every wanted node (tests/opt.rs checks each pass keeps the outputs)"
    )]
    let wanted = wanted
        .iter()
        .map(|w| map[w.index()].expect("a pass dropped a wanted node"))
        .collect();
    (out, wanted)
}

/// Appends a copy of `node` with new inputs.
pub(crate) fn copy_node(out: &mut Graph, node: &Node, inputs: &[NodeId]) -> NodeId {
    out.add_node(node.op.clone(), inputs, Some(&node.shape))
}

/// A report for a pass that went from `before` to `after`.
pub(crate) fn report(
    name: &'static str,
    before: &Graph,
    after: &Graph,
    rules: BTreeMap<&'static str, usize>,
) -> PassReport {
    PassReport {
        name,
        nodes_before: before.len(),
        nodes_after: after.len(),
        rules,
    }
}
