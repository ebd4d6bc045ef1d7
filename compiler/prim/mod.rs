//! The primitive IR: a graph of about two dozen tensor ops with concrete shapes, its
//! reference interpreter and reverse-mode autodiff. It is the oracle every later kernel
//! is tested against, so it favours obviousness over speed.
//!
//! In: graphs built by the lowering through the builder methods on [`Graph`]
//! (`g.input`, `g.param`, `g.add`, ... and the derived helpers in `build.rs`).
//! Out: the text form ([`display`]), structural checks ([`verify::verify`]), values
//! ([`interp::evaluate`]) and gradients appended to the same graph
//! ([`autodiff::differentiate`]). Layer math built from primitives lives beside its lowering
//! in `crate::lower`; the losses in `crate::train::loss`.
//!
//! Design points (the op table is in `docs/ir.md`):
//! - Every node has a concrete shape; the batch size is fixed when the graph is built.
//! - Binary ops need equal shapes: broadcasting is always an explicit `Broadcast` node
//!   (the `broadcast_to` helper inserts it), so every later stage sees plain elementwise
//!   loops.
//! - Reductions keep reduced axes with size 1, so a reduce followed by `Broadcast` is
//!   the whole story of "keepdims" and of reduction gradients.
//! - Nodes are stored in creation order and inputs always precede users, so the node
//!   order is a topological order and passes iterate by index.
//! - Builder methods panic on a broken shape rule (graphs come from the compiler, not
//!   from users); [`Graph::try_add_node`] and [`verify::verify`] return `Result`s.
//! - `Origin` names the high-level layer that produced a node and whether the node
//!   belongs to its backward pass, for dumps and diagnostics.
//!
//! ```
//! use nnc::prim::{Graph, interp::{evaluate, Bindings}};
//! use ndarray::{arr2, ArrayD};
//!
//! let mut g = Graph::new();
//! let x = g.input("x", &[1, 2]);
//! let w = g.param("w", &[2, 1]);
//! let y = g.with_origin("dense", |g| g.matmul(x, w));
//! let loss = g.sum_all(y);
//! let grads = nnc::prim::autodiff::differentiate(&mut g, loss, &[w]);
//! let bindings = Bindings::new()
//!     .input("x", arr2(&[[3.0, 4.0]]).into_dyn())
//!     .param("w", arr2(&[[1.0], [2.0]]).into_dyn());
//! let values = evaluate::<f64>(&g, &bindings, &[loss, grads[0]]).unwrap();
//! assert_eq!(values[0].sum(), 11.0);
//! assert_eq!(values[1], arr2(&[[3.0], [4.0]]).into_dyn());
//! ```

pub mod autodiff;
mod build;
pub mod display;
pub mod gradcheck;
pub mod interp;
mod interp_kernels;
pub mod op;
pub mod shape;
mod splice;
pub mod verify;

pub use op::{Arity, ConvGeom, Op};
pub use shape::ShapeError;

use std::fmt;

/// Index of a node in its [`Graph`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// The high-level construct a node was lowered from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The layer's name in the spec.
    pub layer: String,
    /// True for nodes that autodiff added for this layer's backward pass.
    pub backward: bool,
}

impl Origin {
    pub fn layer(name: impl Into<String>) -> Origin {
        Origin {
            layer: name.into(),
            backward: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub op: Op,
    pub inputs: Vec<NodeId>,
    pub shape: Vec<usize>,
    pub origin: Option<Origin>,
}

/// A primitive graph: nodes in topological (creation) order plus named outputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub outputs: Vec<(String, NodeId)>,
    /// Origin stamped on nodes created from now on.
    current_origin: Option<Origin>,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn shape(&self, id: NodeId) -> &[usize] {
        &self.nodes[id.index()].shape
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = NodeId> {
        (0..self.nodes.len() as u32).map(NodeId)
    }

    /// Names a node as a graph output (a loss, a prediction, an updated parameter).
    pub fn output(&mut self, name: impl Into<String>, id: NodeId) {
        self.outputs.push((name.into(), id));
    }

    /// The node of the output called `name`.
    pub fn output_node(&self, name: &str) -> Option<NodeId> {
        self.outputs
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, id)| id)
    }

    /// Sets the origin stamped on nodes created from now on.
    pub fn set_origin(&mut self, origin: Option<Origin>) {
        self.current_origin = origin;
    }

    pub fn origin(&self) -> Option<&Origin> {
        self.current_origin.as_ref()
    }

    /// Runs `build` with nodes stamped as coming from `layer`, then restores the previous
    /// origin.
    pub fn with_origin<R>(&mut self, layer: &str, build: impl FnOnce(&mut Graph) -> R) -> R {
        let saved = self.current_origin.replace(Origin::layer(layer));
        let res = build(self);
        self.current_origin = saved;
        res
    }

    /// Appends a node after checking arity, operand ids and shapes. `shape` is the
    /// declared result shape, required by ops that take one ([`Op::takes_shape`]) and
    /// otherwise inferred (if given, it must match).
    pub fn try_add_node(
        &mut self,
        op: Op,
        inputs: &[NodeId],
        shape: Option<&[usize]>,
    ) -> Result<NodeId, ShapeError> {
        if let Some(bad) = inputs.iter().find(|id| id.index() >= self.nodes.len()) {
            return Err(ShapeError {
                message: format!("{} refers to {bad}, which does not exist", op.name()),
            });
        }
        let input_shapes: Vec<&[usize]> = inputs.iter().map(|&id| self.shape(id)).collect();
        let inferred = shape::infer_shape(&op, &input_shapes, shape)?;
        if let Some(declared) = shape {
            if declared != inferred.as_slice() {
                return Err(ShapeError {
                    message: format!(
                        "{} was declared {declared:?} but infers {inferred:?}",
                        op.name()
                    ),
                });
            }
        }
        let id = NodeId(u32::try_from(self.nodes.len()).map_err(|_| ShapeError {
            message: format!(
                "{} would be node {}: a graph has at most 2^32 nodes",
                op.name(),
                self.nodes.len()
            ),
        })?);
        self.nodes.push(Node {
            op,
            inputs: inputs.to_vec(),
            shape: inferred,
            origin: self.current_origin.clone(),
        });
        Ok(id)
    }

    /// [`Graph::try_add_node`] that panics with the shape error: for builder code whose
    /// shapes are correct by construction.
    pub fn add_node(&mut self, op: Op, inputs: &[NodeId], shape: Option<&[usize]>) -> NodeId {
        match self.try_add_node(op, inputs, shape) {
            Ok(id) => id,
            Err(err) => panic!("prim graph builder: {err}"),
        }
    }

    fn unary(&mut self, op: Op, a: NodeId) -> NodeId {
        self.add_node(op, &[a], None)
    }

    fn binary(&mut self, op: Op, a: NodeId, b: NodeId) -> NodeId {
        self.add_node(op, &[a, b], None)
    }

    /// A fed value. Asking twice for the same name returns the same node.
    pub fn input(&mut self, name: &str, shape: &[usize]) -> NodeId {
        self.named_leaf(Op::Input { name: name.into() }, shape)
    }

    /// Persistent state. Asking twice for the same name returns the same node.
    pub fn param(&mut self, name: &str, shape: &[usize]) -> NodeId {
        self.named_leaf(Op::Param { name: name.into() }, shape)
    }

    fn named_leaf(&mut self, op: Op, shape: &[usize]) -> NodeId {
        if let Some(id) = self.ids().find(|&id| self.node(id).op == op) {
            assert_eq!(
                self.shape(id),
                shape,
                "prim graph builder: {op:?} requested with two shapes"
            );
            return id;
        }
        self.add_node(op, &[], Some(shape))
    }

    /// `value` in every element of `shape`.
    pub fn constant(&mut self, value: f64, shape: &[usize]) -> NodeId {
        self.add_node(Op::Const { value }, &[], Some(shape))
    }

    /// U[0, 1) noise, different per `stream`, step and seed.
    pub fn rand_uniform(&mut self, stream: u32, shape: &[usize]) -> NodeId {
        self.add_node(Op::RandUniform { stream }, &[], Some(shape))
    }

    pub fn exp(&mut self, a: NodeId) -> NodeId {
        self.unary(Op::Exp, a)
    }

    pub fn log(&mut self, a: NodeId) -> NodeId {
        self.unary(Op::Log, a)
    }

    pub fn sqrt(&mut self, a: NodeId) -> NodeId {
        self.unary(Op::Sqrt, a)
    }

    pub fn recip(&mut self, a: NodeId) -> NodeId {
        self.unary(Op::Recip, a)
    }

    pub fn sign(&mut self, a: NodeId) -> NodeId {
        self.unary(Op::Sign, a)
    }

    pub fn stop_grad(&mut self, a: NodeId) -> NodeId {
        self.unary(Op::StopGrad, a)
    }

    pub fn add(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.binary(Op::Add, a, b)
    }

    pub fn mul(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.binary(Op::Mul, a, b)
    }

    pub fn max(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.binary(Op::Max, a, b)
    }

    /// 1 where `a > b`, else 0.
    pub fn cmp_gt(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.binary(Op::CmpGt, a, b)
    }

    /// Sum over `axes` (any order; sorted here), kept with size 1.
    pub fn sum(&mut self, a: NodeId, axes: &[usize]) -> NodeId {
        let axes = sorted_axes(axes);
        self.unary(Op::Sum { axes }, a)
    }

    /// Maximum over `axes` (any order; sorted here), kept with size 1.
    pub fn max_reduce(&mut self, a: NodeId, axes: &[usize]) -> NodeId {
        let axes = sorted_axes(axes);
        self.unary(Op::MaxReduce { axes }, a)
    }

    /// Same elements, new shape; a no-op returns `a` itself.
    pub fn reshape(&mut self, a: NodeId, shape: &[usize]) -> NodeId {
        if self.shape(a) == shape {
            return a;
        }
        self.add_node(Op::Reshape, &[a], Some(shape))
    }

    /// `out.shape[i] = a.shape[perm[i]]`; the identity permutation returns `a`.
    pub fn permute(&mut self, a: NodeId, perm: &[usize]) -> NodeId {
        if perm.iter().enumerate().all(|(i, &p)| i == p) && perm.len() == self.shape(a).len() {
            return a;
        }
        self.unary(
            Op::Permute {
                perm: perm.to_vec(),
            },
            a,
        )
    }

    /// Expands size-1 axes to `shape` (same rank); a no-op returns `a`. See
    /// `broadcast_to` for numpy-style rank promotion.
    pub fn broadcast(&mut self, a: NodeId, shape: &[usize]) -> NodeId {
        if self.shape(a) == shape {
            return a;
        }
        self.add_node(Op::Broadcast, &[a], Some(shape))
    }

    pub fn slice(&mut self, a: NodeId, axis: usize, start: usize, end: usize) -> NodeId {
        self.unary(Op::Slice { axis, start, end }, a)
    }

    /// Zero padding along one axis.
    pub fn pad(&mut self, a: NodeId, axis: usize, before: usize, after: usize) -> NodeId {
        self.unary(
            Op::Pad {
                axis,
                before,
                after,
            },
            a,
        )
    }

    pub fn concat(&mut self, parts: &[NodeId], axis: usize) -> NodeId {
        self.add_node(Op::Concat { axis }, parts, None)
    }

    pub fn matmul(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.binary(Op::MatMul, a, b)
    }

    pub fn im2col(&mut self, image: NodeId, geom: ConvGeom) -> NodeId {
        self.unary(Op::Im2Col(geom), image)
    }

    /// Scatter-adds columns back into an image of `image_shape` ([N, C, H, W]).
    pub fn col2im(&mut self, cols: NodeId, geom: ConvGeom, image_shape: &[usize]) -> NodeId {
        self.add_node(Op::Col2Im(geom), &[cols], Some(image_shape))
    }

    /// Rows of `table` [V, D] for every id: `[...ids, D]`.
    pub fn gather(&mut self, table: NodeId, ids: NodeId) -> NodeId {
        self.binary(Op::Gather, table, ids)
    }

    /// Rows of `values` [...ids, D] added into a `[vocab, D]` table by id.
    #[allow(
        clippy::expect_used,
        reason = "only autodiff builds it, from a Gather result, which has a row axis"
    )]
    pub fn scatter_add(&mut self, values: NodeId, ids: NodeId, vocab: usize) -> NodeId {
        let dim = *self.shape(values).last().expect("values have a row axis");
        self.add_node(Op::ScatterAdd, &[values, ids], Some(&[vocab, dim]))
    }
}

fn sorted_axes(axes: &[usize]) -> Vec<usize> {
    let mut axes = axes.to_vec();
    axes.sort_unstable();
    axes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_leaves_are_shared_and_origins_stamped() {
        let mut g = Graph::new();
        let x = g.input("x", &[2, 3]);
        assert_eq!(g.input("x", &[2, 3]), x);
        assert_ne!(g.param("x", &[2, 3]), x);
        let y = g.with_origin("dense1", |g| g.exp(x));
        let z = g.exp(y);
        assert_eq!(g.node(y).origin, Some(Origin::layer("dense1")));
        assert_eq!(g.node(z).origin, None);
    }

    #[test]
    fn try_add_node_reports_errors() {
        let mut g = Graph::new();
        let a = g.input("a", &[2]);
        let b = g.input("b", &[3]);
        let err = g.try_add_node(Op::Add, &[a, b], None).unwrap_err();
        assert!(err.message.contains("equal shapes"), "{err}");
        assert!(g.try_add_node(Op::Exp, &[NodeId(9)], None).is_err());
        assert!(g.try_add_node(Op::Exp, &[a], Some(&[3])).is_err());
        assert!(g.try_add_node(Op::Reshape, &[a], None).is_err());
    }

    #[test]
    #[should_panic(expected = "equal shapes")]
    fn builder_panics_on_mismatch() {
        let mut g = Graph::new();
        let a = g.input("a", &[2]);
        let b = g.input("b", &[3]);
        g.add(a, b);
    }
}
