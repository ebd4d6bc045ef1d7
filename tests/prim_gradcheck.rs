//! Finite-difference gradient checks of every primitive op, as property tests over
//! random shapes and values (f64 interpreter, central differences; tolerances are
//! documented in `nnc::prim::gradcheck`).
//!
//! Each case feeds random `Param`s to one op and checks `d sum(out * w) / d params`,
//! where `w` is a random `Input`, so every output element has its own weight. Kinks are
//! kept more than the finite-difference step away: `Max`/`CmpGt` operands differ by at
//! least 0.01, `MaxReduce` inputs are distinct, `Sign` inputs are away from 0, and
//! `Log`/`Sqrt`/`Recip` inputs are away from 0.

use ndarray::{ArrayD, IxDyn};
use nnc::prim::autodiff::differentiate;
use nnc::prim::gradcheck::{check_gradients, Tolerance};
use nnc::prim::interp::{evaluate, Bindings};
use nnc::prim::verify::verify;
use nnc::prim::{ConvGeom, Graph, NodeId};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const CASES: u32 = 48;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn uniform(shape: &[usize], seed: u64, lo: f64, hi: f64) -> ArrayD<f64> {
    let mut rng = rng(seed);
    let n = shape.iter().product();
    let data = (0..n).map(|_| rng.random_range(lo..hi)).collect();
    ArrayD::from_shape_vec(IxDyn(shape), data).unwrap()
}

/// Magnitudes in [lo, hi) with random signs: away from 0 on both sides.
fn away_from_zero(shape: &[usize], seed: u64, lo: f64, hi: f64) -> ArrayD<f64> {
    let mut rng = rng(seed ^ 0xa5a5);
    uniform(shape, seed, lo, hi).mapv(|v| if rng.random_bool(0.5) { v } else { -v })
}

/// Pairwise-distinct values (gaps of at least 0.05) in random order.
fn distinct(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    let mut data: Vec<f64> = (0..n).map(|i| i as f64 * 0.05 - 1.0).collect();
    data.shuffle(&mut rng(seed));
    ArrayD::from_shape_vec(IxDyn(shape), data).unwrap()
}

/// A graph with one `Param` per value, `build` applied to them, and the loss
/// `sum(out * w)` for a random input `w`.
struct Case {
    graph: Graph,
    params: Vec<NodeId>,
    loss: NodeId,
    bindings: Bindings<f64>,
}

fn case(
    values: Vec<ArrayD<f64>>,
    seed: u64,
    build: impl Fn(&mut Graph, &[NodeId]) -> NodeId,
) -> Case {
    let mut graph = Graph::new();
    let params: Vec<NodeId> = values
        .iter()
        .enumerate()
        .map(|(i, v)| graph.param(&format!("p{i}"), v.shape()))
        .collect();
    let out = build(&mut graph, &params);
    let out_shape = graph.shape(out).to_vec();
    let weights = graph.input("w", &out_shape);
    let weighted = graph.mul(out, weights);
    let loss = graph.sum_all(weighted);
    let mut bindings = Bindings::new().input("w", uniform(&out_shape, seed ^ 0x77, -1.0, 1.0));
    for (i, v) in values.into_iter().enumerate() {
        bindings = bindings.param(&format!("p{i}"), v);
    }
    Case {
        graph,
        params,
        loss,
        bindings,
    }
}

fn check(
    values: Vec<ArrayD<f64>>,
    seed: u64,
    build: impl Fn(&mut Graph, &[NodeId]) -> NodeId,
) -> Result<(), TestCaseError> {
    let case = case(values, seed, build);
    verify(&case.graph).map_err(|e| TestCaseError::fail(e.to_string()))?;
    check_gradients(
        &case.graph,
        case.loss,
        &case.params,
        &case.bindings,
        &Tolerance::default(),
    )
    .map_err(|e| TestCaseError::fail(format!("{e}\n{}", case.graph)))
}

/// The analytic gradients, for ops whose gradient must be exactly zero.
fn analytic(
    values: Vec<ArrayD<f64>>,
    seed: u64,
    build: impl Fn(&mut Graph, &[NodeId]) -> NodeId,
) -> Vec<ArrayD<f64>> {
    let mut case = case(values, seed, build);
    let grads = differentiate(&mut case.graph, case.loss, &case.params);
    verify(&case.graph).unwrap();
    evaluate(&case.graph, &case.bindings, &grads).unwrap()
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4, 1..=3)
}

fn unary(
    shape: Vec<usize>,
    seed: u64,
    x: ArrayD<f64>,
    op: fn(&mut Graph, NodeId) -> NodeId,
) -> Result<(), TestCaseError> {
    assert_eq!(x.shape(), shape.as_slice());
    check(vec![x], seed, |g, p| op(g, p[0]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn exp(shape in shape(), seed: u64) {
        unary(shape.clone(), seed, uniform(&shape, seed, -2.0, 2.0), |g, x| g.exp(x))?;
    }

    #[test]
    fn log(shape in shape(), seed: u64) {
        unary(shape.clone(), seed, uniform(&shape, seed, 0.2, 3.0), |g, x| g.log(x))?;
    }

    #[test]
    fn sqrt(shape in shape(), seed: u64) {
        unary(shape.clone(), seed, uniform(&shape, seed, 0.2, 3.0), |g, x| g.sqrt(x))?;
    }

    #[test]
    fn recip(shape in shape(), seed: u64) {
        unary(shape.clone(), seed, away_from_zero(&shape, seed, 0.3, 2.0), |g, x| g.recip(x))?;
    }

    #[test]
    fn sign_stop_grad_and_cmp_gt_have_zero_gradient(shape in shape(), seed: u64) {
        // Sign and CmpGt are piecewise constant: finite differences agree with zero away
        // from the kinks. StopGrad is the identity forward, so only its zero is checked.
        let x = away_from_zero(&shape, seed, 0.1, 2.0);
        let y = &x + &away_from_zero(&shape, seed ^ 1, 0.01, 1.0);
        unary(shape.clone(), seed, x.clone(), |g, x| g.sign(x))?;
        check(vec![x.clone(), y.clone()], seed, |g, p| g.cmp_gt(p[0], p[1]))?;
        let zeros = ArrayD::<f64>::zeros(IxDyn(&shape));
        prop_assert_eq!(&analytic(vec![x.clone()], seed, |g, p| g.sign(p[0]))[0], &zeros);
        prop_assert_eq!(&analytic(vec![x.clone()], seed, |g, p| g.stop_grad(p[0]))[0], &zeros);
        let cmp = analytic(vec![x, y], seed, |g, p| g.cmp_gt(p[0], p[1]));
        prop_assert_eq!(&cmp[0], &zeros);
        prop_assert_eq!(&cmp[1], &zeros);
    }

    #[test]
    fn add_and_mul(shape in shape(), seed: u64) {
        let a = uniform(&shape, seed, -2.0, 2.0);
        let b = uniform(&shape, seed ^ 1, -2.0, 2.0);
        check(vec![a.clone(), b.clone()], seed, |g, p| g.add(p[0], p[1]))?;
        check(vec![a.clone(), b], seed, |g, p| g.mul(p[0], p[1]))?;
        // The same operand on both sides accumulates: d(x * x) = 2x.
        check(vec![a], seed, |g, p| g.mul(p[0], p[0]))?;
    }

    #[test]
    fn max(shape in shape(), seed: u64) {
        let a = uniform(&shape, seed, -2.0, 2.0);
        let b = &a + &away_from_zero(&shape, seed ^ 1, 0.01, 1.0);
        check(vec![a, b], seed, |g, p| g.max(p[0], p[1]))?;
    }

    #[test]
    fn sum(shape in shape(), mask: u8, seed: u64) {
        let axes: Vec<usize> = (0..shape.len()).filter(|a| mask & (1 << a) != 0).collect();
        check(vec![uniform(&shape, seed, -2.0, 2.0)], seed, |g, p| g.sum(p[0], &axes))?;
    }

    #[test]
    fn max_reduce(shape in shape(), mask: u8, seed: u64) {
        let axes: Vec<usize> = (0..shape.len()).filter(|a| mask & (1 << a) != 0).collect();
        check(vec![distinct(&shape, seed)], seed, |g, p| g.max_reduce(p[0], &axes))?;
    }

    #[test]
    fn reshape(shape in shape(), seed: u64) {
        // Any reordering of the dims, plus a size-1 axis, has the same element count.
        let mut target = shape.clone();
        target.shuffle(&mut rng(seed));
        target.insert(seed as usize % (target.len() + 1), 1);
        check(vec![uniform(&shape, seed, -2.0, 2.0)], seed, |g, p| g.reshape(p[0], &target))?;
    }

    #[test]
    fn permute(shape in shape(), seed: u64) {
        let mut perm: Vec<usize> = (0..shape.len()).collect();
        perm.shuffle(&mut rng(seed));
        check(vec![uniform(&shape, seed, -2.0, 2.0)], seed, |g, p| g.permute(p[0], &perm))?;
    }

    #[test]
    fn broadcast(out in shape(), mask: u8, seed: u64) {
        let from: Vec<usize> = out
            .iter()
            .enumerate()
            .map(|(a, &d)| if mask & (1 << a) != 0 { 1 } else { d })
            .collect();
        check(vec![uniform(&from, seed, -2.0, 2.0)], seed, |g, p| g.broadcast(p[0], &out))?;
    }

    #[test]
    fn slice(shape in shape(), seed: u64) {
        let mut rng = rng(seed);
        let axis = rng.random_range(0..shape.len());
        let start = rng.random_range(0..shape[axis]);
        let end = rng.random_range(start..=shape[axis]);
        check(vec![uniform(&shape, seed, -2.0, 2.0)], seed, |g, p| g.slice(p[0], axis, start, end))?;
    }

    #[test]
    fn pad(shape in shape(), before in 0usize..3, after in 0usize..3, seed: u64) {
        let axis = seed as usize % shape.len();
        check(vec![uniform(&shape, seed, -2.0, 2.0)], seed, |g, p| g.pad(p[0], axis, before, after))?;
    }

    #[test]
    fn concat(shape in shape(), sizes in prop::collection::vec(1usize..=3, 1..=3), seed: u64) {
        let axis = seed as usize % shape.len();
        let values = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                let mut part = shape.clone();
                part[axis] = size;
                uniform(&part, seed ^ i as u64, -2.0, 2.0)
            })
            .collect();
        check(values, seed, |g, p| g.concat(p, axis))?;
    }

    #[test]
    fn matmul(mode in 0usize..4, batch in prop::collection::vec(1usize..=3, 1..=2), m in 1usize..=4, k in 1usize..=4, n in 1usize..=4, seed: u64) {
        // Modes: plain, both batched, left batched with a shared right matrix, and the
        // reverse.
        let with_batch = |batched: bool, rows: usize, cols: usize| {
            let mut shape = if batched { batch.clone() } else { vec![] };
            shape.extend([rows, cols]);
            shape
        };
        let a = with_batch(mode == 1 || mode == 2, m, k);
        let b = with_batch(mode == 1 || mode == 3, k, n);
        let values = vec![uniform(&a, seed, -2.0, 2.0), uniform(&b, seed ^ 1, -2.0, 2.0)];
        check(values, seed, |g, p| g.matmul(p[0], p[1]))?;
    }

    #[test]
    fn im2col_and_col2im(
        n in 1usize..=2, c in 1usize..=2, h in 1usize..=5, w in 1usize..=5,
        kernel in [1usize..=3, 1usize..=3], stride in [1usize..=2, 1usize..=2],
        dilation in [1usize..=2, 1usize..=2], pad in [0usize..=2, 0usize..=2, 0usize..=2, 0usize..=2],
        pad_value in prop::sample::select(vec![0.0, 0.5]), seed: u64,
    ) {
        let geom = ConvGeom { kernel, stride, pad, dilation, pad_value };
        let out = geom.output_size(h, w);
        prop_assume!(out.is_some());
        let [oh, ow] = out.unwrap();
        let image = [n, c, h, w];
        check(vec![uniform(&image, seed, -2.0, 2.0)], seed, |g, p| g.im2col(p[0], geom))?;
        let cols = [n, c * kernel[0] * kernel[1], oh * ow];
        check(vec![uniform(&cols, seed, -2.0, 2.0)], seed, |g, p| g.col2im(p[0], geom, &image))?;
    }
}

/// Ids with repeats (so the scatter really adds several rows into one) drawn from `[0,
/// vocab)`, plus one id past the table that names no row (it reads zeros and gets nothing).
fn ids(count: usize, vocab: usize, seed: u64) -> ArrayD<f64> {
    let mut r = rng(seed);
    let mut ids: Vec<f64> = (0..count)
        .map(|_| r.random_range(0..vocab) as f64)
        .collect();
    if count > 1 {
        ids[1] = ids[0];
        ids[count - 1] = vocab as f64;
    }
    ArrayD::from_shape_vec(IxDyn(&[count]), ids).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Gather and ScatterAdd with respect to their rows; the ids are an `Input` (integers
    /// have no gradient), reshaped to `id_shape` so ids of any rank are covered.
    #[test]
    fn gather_and_scatter_add(vocab in 1usize..=4, dim in 1usize..=3,
                              id_shape in prop::collection::vec(1usize..=3, 1..=2), seed: u64) {
        let count: usize = id_shape.iter().product();
        let ids = ids(count, vocab, seed).into_shape_with_order(IxDyn(&id_shape)).unwrap();
        for scatter in [false, true] {
            let mut g = Graph::new();
            let id_node = g.input("ids", &id_shape);
            let mut rows_shape = id_shape.clone();
            rows_shape.push(dim);
            let (p, out) = if scatter {
                let p = g.param("p0", &rows_shape);
                (p, g.scatter_add(p, id_node, vocab))
            } else {
                let p = g.param("p0", &[vocab, dim]);
                (p, g.gather(p, id_node))
            };
            let out_shape = g.shape(out).to_vec();
            let weights = g.input("w", &out_shape);
            let weighted = g.mul(out, weights);
            let loss = g.sum_all(weighted);
            let p_shape = g.shape(p).to_vec();
            let bindings = Bindings::new()
                .input("w", uniform(&out_shape, seed ^ 0x77, -1.0, 1.0))
                .input("ids", ids.clone())
                .param("p0", uniform(&p_shape, seed, -2.0, 2.0));
            verify(&g).map_err(|e| TestCaseError::fail(e.to_string()))?;
            check_gradients(&g, loss, &[p], &bindings, &Tolerance::default())
                .map_err(|e| TestCaseError::fail(format!("{e}\n{g}")))?;
        }
    }
}

#[test]
fn gradient_with_respect_to_an_input() {
    // Inputs are perturbable leaves too (e.g. saliency with respect to the data).
    let mut g = Graph::new();
    let x = g.input("x", &[2, 3]);
    let w = g.param("w", &[3, 2]);
    let y = g.matmul(x, w);
    let t = g.tanh(y);
    let loss = g.sum_all(t);
    let bindings = Bindings::new()
        .input("x", uniform(&[2, 3], 1, -1.0, 1.0))
        .param("w", uniform(&[3, 2], 2, -1.0, 1.0));
    check_gradients(&g, loss, &[x, w], &bindings, &Tolerance::default()).unwrap();
}
