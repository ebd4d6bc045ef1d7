//! The reference interpreter: the test oracle for every backend.
//!
//! In: a verified [`Graph`], [`Bindings`] (values of `Input` and `Param` leaves by name,
//! plus the `seed` and `step` that drive `RandUniform`), and the nodes wanted.
//! Out: their values as `ArrayD<T>` for `T` = f32 (the runtime's storage type) or f64
//! (for gradient checks).
//!
//! Each op is computed unfused and naively in `interp_kernels.rs`. Results are
//! bit-reproducible: there is no threading, and every reduction adds in row-major order
//! of the reduced elements. [`evaluate_all`] keeps every intermediate value so that
//! [`first_non_finite`] can name the first node (and its layer) that went inf or NaN.

use super::interp_kernels as kernels;
pub use super::interp_kernels::Scalar;
use super::verify::{verify, VerifyError};
use super::{Graph, NodeId, Op};
use ndarray::{ArrayD, IxDyn};
use std::collections::HashMap;
use std::fmt;

/// Values of the graph's leaves for one call.
#[derive(Debug, Clone)]
pub struct Bindings<T> {
    pub inputs: HashMap<String, ArrayD<T>>,
    pub params: HashMap<String, ArrayD<T>>,
    /// The run's seed and the training step: the counters of `RandUniform`.
    pub seed: u64,
    pub step: u64,
}

impl<T> Default for Bindings<T> {
    fn default() -> Self {
        Bindings {
            inputs: HashMap::new(),
            params: HashMap::new(),
            seed: 0,
            step: 0,
        }
    }
}

impl<T> Bindings<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn input(mut self, name: &str, value: ArrayD<T>) -> Self {
        self.inputs.insert(name.to_string(), value);
        self
    }

    pub fn param(mut self, name: &str, value: ArrayD<T>) -> Self {
        self.params.insert(name.to_string(), value);
        self
    }

    pub fn seed(mut self, seed: u64, step: u64) -> Self {
        self.seed = seed;
        self.step = step;
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum InterpError {
    /// The graph broke a structural invariant.
    Invalid(VerifyError),
    /// No value was bound for an `Input` or `Param` leaf.
    Unbound { kind: &'static str, name: String },
    /// A bound value has the wrong shape.
    WrongShape {
        kind: &'static str,
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    /// A requested node is not in the graph.
    NoSuchNode(NodeId),
}

impl fmt::Display for InterpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterpError::Invalid(err) => write!(f, "invalid graph: {err}"),
            InterpError::Unbound { kind, name } => write!(f, "no value bound for {kind} `{name}`"),
            InterpError::WrongShape {
                kind,
                name,
                expected,
                got,
            } => write!(
                f,
                "{kind} `{name}` must have shape {expected:?}, got {got:?}"
            ),
            InterpError::NoSuchNode(id) => write!(f, "node {id} is not in the graph"),
        }
    }
}

impl std::error::Error for InterpError {}

/// Evaluates the `wanted` nodes (and only what they depend on).
#[allow(
    clippy::expect_used,
    reason = "run() computes every node in `needed`, which includes the wanted ones"
)]
pub fn evaluate<T: Scalar>(
    graph: &Graph,
    bindings: &Bindings<T>,
    wanted: &[NodeId],
) -> Result<Vec<ArrayD<T>>, InterpError> {
    if let Some(&bad) = wanted.iter().find(|id| id.index() >= graph.len()) {
        return Err(InterpError::NoSuchNode(bad));
    }
    let mut needed = vec![false; graph.len()];
    for id in wanted {
        needed[id.index()] = true;
    }
    // Inputs precede users, so one backward sweep marks every ancestor.
    for index in (0..graph.len()).rev() {
        if needed[index] {
            for input in &graph.nodes[index].inputs {
                needed[input.index()] = true;
            }
        }
    }
    let values = run(graph, bindings, &needed)?;
    Ok(wanted
        .iter()
        .map(|id| {
            values[id.index()]
                .clone()
                .expect("wanted nodes are computed")
        })
        .collect())
}

/// Evaluates every node; `result[i]` is the value of `NodeId(i)`.
#[allow(
    clippy::expect_used,
    reason = "run() is given every node, so every value is computed"
)]
pub fn evaluate_all<T: Scalar>(
    graph: &Graph,
    bindings: &Bindings<T>,
) -> Result<Vec<ArrayD<T>>, InterpError> {
    let values = run(graph, bindings, &vec![true; graph.len()])?;
    Ok(values
        .into_iter()
        .map(|value| value.expect("all nodes are computed"))
        .collect())
}

/// The first node, in graph order, whose value holds an inf or NaN, given the values of
/// [`evaluate_all`]. Nodes that are non-finite by design are skipped: `Const` nodes and
/// `Im2Col` with a non-finite padding value (max pooling pads with -inf).
pub fn first_non_finite<T: Scalar>(graph: &Graph, values: &[ArrayD<T>]) -> Option<NodeId> {
    graph.ids().zip(values).find_map(|(id, value)| {
        let by_design = match &graph.node(id).op {
            Op::Const { .. } => true,
            Op::Im2Col(geom) => !geom.pad_value.is_finite(),
            _ => false,
        };
        let bad = !by_design && value.iter().any(|v| !v.is_finite());
        bad.then_some(id)
    })
}

fn run<T: Scalar>(
    graph: &Graph,
    bindings: &Bindings<T>,
    needed: &[bool],
) -> Result<Vec<Option<ArrayD<T>>>, InterpError> {
    verify(graph).map_err(InterpError::Invalid)?;
    let mut values: Vec<Option<ArrayD<T>>> = vec![None; graph.len()];
    for (index, node) in graph.nodes.iter().enumerate() {
        if !needed[index] {
            continue;
        }
        #[allow(
            clippy::expect_used,
            reason = "prim::verify checks that inputs precede their users, and run() goes in id order"
        )]
        let args: Vec<&ArrayD<T>> = node
            .inputs
            .iter()
            .map(|id| values[id.index()].as_ref().expect("inputs precede users"))
            .collect();
        let value = eval_node(&node.op, &args, &node.shape, bindings)?;
        debug_assert_eq!(value.shape(), node.shape.as_slice(), "{}", node.op.name());
        values[index] = Some(value);
    }
    Ok(values)
}

fn bound<T: Scalar>(
    kind: &'static str,
    map: &HashMap<String, ArrayD<T>>,
    name: &str,
    shape: &[usize],
) -> Result<ArrayD<T>, InterpError> {
    let value = map.get(name).ok_or_else(|| InterpError::Unbound {
        kind,
        name: name.to_string(),
    })?;
    if value.shape() != shape {
        return Err(InterpError::WrongShape {
            kind,
            name: name.to_string(),
            expected: shape.to_vec(),
            got: value.shape().to_vec(),
        });
    }
    Ok(value.as_standard_layout().into_owned())
}

/// One op on already computed operands; the semantics column of `docs/ir.md`.
#[allow(
    clippy::expect_used,
    reason = "prim::verify checked the node's shapes; the kernels produce numel(shape) values"
)]
fn eval_node<T: Scalar>(
    op: &Op,
    args: &[&ArrayD<T>],
    shape: &[usize],
    bindings: &Bindings<T>,
) -> Result<ArrayD<T>, InterpError> {
    let zero = T::zero();
    let one = T::one();
    Ok(match op {
        Op::Input { name } => bound("input", &bindings.inputs, name, shape)?,
        Op::Param { name } => bound("param", &bindings.params, name, shape)?,
        Op::Const { value } => ArrayD::from_elem(IxDyn(shape), T::of(*value)),
        Op::RandUniform { stream } => {
            let (seed, step) = (bindings.seed, bindings.step);
            let n = super::shape::numel(shape) as u64;
            let data = (0..n)
                .map(|index| T::of(nnc_runtime::rng::uniform(seed, step, *stream, index)))
                .collect();
            ArrayD::from_shape_vec(IxDyn(shape), data).expect("numel matches shape")
        }
        Op::Exp => args[0].mapv(T::exp),
        Op::Log => args[0].mapv(T::ln),
        Op::Sqrt => args[0].mapv(T::sqrt),
        Op::Recip => args[0].mapv(T::recip),
        Op::Sign => args[0].mapv(|x| {
            if x > zero {
                one
            } else if x < zero {
                -one
            } else {
                x // 0, -0 and NaN map to themselves; sign(-0) = -0 compares equal to 0.
            }
        }),
        Op::StopGrad => args[0].clone(),
        Op::Add => kernels::zip(args[0], args[1], |a, b| a + b),
        Op::Mul => kernels::zip(args[0], args[1], |a, b| a * b),
        Op::Max => kernels::zip(args[0], args[1], kernels::max),
        Op::CmpGt => kernels::zip(args[0], args[1], |a, b| if a > b { one } else { zero }),
        Op::Sum { axes } => kernels::reduce(args[0], axes, zero, |acc, x| acc + x),
        Op::MaxReduce { axes } => kernels::reduce(args[0], axes, T::neg_infinity(), kernels::max),
        Op::Reshape => kernels::reshape(args[0], shape),
        Op::Permute { perm } => kernels::materialize(args[0].view().permuted_axes(perm.clone())),
        Op::Broadcast => kernels::materialize(
            args[0]
                .broadcast(IxDyn(shape))
                .expect("shape inference checked the broadcast"),
        ),
        Op::Slice { axis, start, end } => kernels::slice(args[0], *axis, *start, *end),
        Op::Pad {
            axis,
            before,
            after: _,
        } => kernels::pad(args[0], *axis, *before, shape),
        Op::Concat { axis } => kernels::concat(args, *axis),
        Op::MatMul => kernels::matmul(args[0], args[1], shape),
        Op::Im2Col(geom) => kernels::im2col(args[0], geom, shape),
        Op::Col2Im(geom) => kernels::col2im(args[0], geom, shape),
        Op::Gather => kernels::gather(args[0], args[1], shape),
        Op::ScatterAdd => kernels::scatter_add(args[0], args[1], shape),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prim::Origin;
    use ndarray::{arr1, arr2};

    #[test]
    fn reports_unbound_and_misshapen_leaves() {
        let mut g = Graph::new();
        let x = g.input("x", &[2]);
        let w = g.param("w", &[2]);
        let y = g.add(x, w);
        let only_x = Bindings::new().input("x", arr1(&[1.0, 2.0]).into_dyn());
        let err = evaluate::<f64>(&g, &only_x, &[y]).unwrap_err();
        assert_eq!(err.to_string(), "no value bound for param `w`");
        // Only ancestors are needed: x alone evaluates.
        assert!(evaluate::<f64>(&g, &only_x, &[x]).is_ok());
        let wrong = only_x.param("w", arr1(&[1.0]).into_dyn());
        let err = evaluate::<f64>(&g, &wrong, &[y]).unwrap_err();
        assert!(matches!(err, InterpError::WrongShape { .. }), "{err}");
        assert!(evaluate::<f64>(&g, &wrong, &[NodeId(7)]).is_err());
    }

    #[test]
    fn names_the_first_non_finite_layer() {
        let mut g = Graph::new();
        let x = g.input("x", &[2]);
        let pad = g.constant(f64::NEG_INFINITY, &[2]);
        let y = g.with_origin("safe", |g| g.max(x, pad));
        let z = g.with_origin("blowup", |g| g.log(y));
        g.with_origin("after", |g| g.exp(z));
        let bindings = Bindings::new().input("x", arr1(&[1.0f32, 0.0]).into_dyn());
        let values = evaluate_all(&g, &bindings).unwrap();
        let bad = first_non_finite(&g, &values).unwrap();
        assert_eq!(bad, z);
        assert_eq!(g.node(bad).origin, Some(Origin::layer("blowup")));
        let fine = Bindings::new().input("x", arr1(&[1.0f32, 2.0]).into_dyn());
        assert_eq!(
            first_non_finite(&g, &evaluate_all(&g, &fine).unwrap()),
            None
        );
    }

    #[test]
    fn elementwise_edge_semantics() {
        let mut g = Graph::new();
        let a = g.input("a", &[4]);
        let b = g.input("b", &[4]);
        let max = g.max(a, b);
        let gt = g.cmp_gt(a, b);
        let sign = g.sign(a);
        let nan = f64::NAN;
        let bindings = Bindings::new()
            .input("a", arr1(&[1.0, nan, 2.0, -0.0]).into_dyn())
            .input("b", arr1(&[nan, 1.0, 2.0, 3.0]).into_dyn());
        let v = evaluate::<f64>(&g, &bindings, &[max, gt, sign]).unwrap();
        assert!(v[0][0].is_nan() && v[0][1].is_nan());
        assert_eq!(v[0][2], 2.0);
        assert_eq!(v[1].as_slice().unwrap(), &[0.0, 0.0, 0.0, 0.0]);
        assert_eq!(v[2][0], 1.0);
        assert!(v[2][1].is_nan());
        assert_eq!(v[2][3], 0.0);
    }

    #[test]
    fn rand_uniform_depends_on_seed_step_and_stream() {
        let mut g = Graph::new();
        let r0 = g.rand_uniform(0, &[2, 3]);
        let r1 = g.rand_uniform(1, &[2, 3]);
        let at = |seed, step| {
            let bindings = Bindings::<f32>::new().seed(seed, step);
            evaluate(&g, &bindings, &[r0, r1]).unwrap()
        };
        let base = at(1, 0);
        assert_eq!(base, at(1, 0));
        assert_ne!(base[0], base[1]);
        assert_ne!(base[0], at(2, 0)[0]);
        assert_ne!(base[0], at(1, 1)[0]);
        let expected = nnc_runtime::rng::uniform(1, 0, 1, 4) as f32;
        assert_eq!(base[1][[1, 1]], expected);
    }

    #[test]
    fn f32_and_f64_agree_on_a_small_graph() {
        let mut g = Graph::new();
        let x = g.input("x", &[2, 2]);
        let y = g.matmul(x, x);
        let s = g.softmax(y, 1);
        let data = arr2(&[[0.5, -1.0], [2.0, 0.25]]);
        let b64 = Bindings::new().input("x", data.clone().into_dyn());
        let b32 = Bindings::new().input("x", data.mapv(|v| v as f32).into_dyn());
        let v64 = evaluate::<f64>(&g, &b64, &[s]).unwrap();
        let v32 = evaluate::<f32>(&g, &b32, &[s]).unwrap();
        for (a, b) in v64[0].iter().zip(v32[0].iter()) {
            assert!((a - f64::from(*b)).abs() < 1e-6);
        }
    }
}
