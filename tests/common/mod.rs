//! Helpers shared by the lowering, gradient and optimizer tests: check a spec given as
//! text, lower one of its networks, bind random values, and build a scalar loss.
#![allow(dead_code)]

use ndarray::{ArrayD, Dimension, IxDyn};
use nnc::hir::Network;
use nnc::lower::{lower_network, LowerOptions, Lowered, Mode};
use nnc::prim::gradcheck::{check_gradients, Tolerance};
use nnc::prim::interp::{evaluate, Bindings};
use nnc::prim::{Graph, NodeId, Op};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

/// Checks a spec given as text; panics with the diagnostics if it has errors.
pub fn check(text: &str) -> nnc::Checked {
    let no_files = |p: &Path| -> std::io::Result<Vec<u8>> {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            p.display().to_string(),
        ))
    };
    let checked = nnc::check_text("test.nn", text, &no_files);
    assert!(
        !checked.has_errors(),
        "spec has errors:\n{text}\n{:#?}",
        checked.diags
    );
    checked
}

/// The first network of a spec.
pub fn network(text: &str) -> Network {
    let checked = check(text);
    checked
        .program
        .networks
        .first()
        .expect("the spec has a network")
        .clone()
}

/// A one-layer network: `input x: <shape>`, `output y = x |> <layers>`.
pub fn single(shape: &str, layers: &str) -> Network {
    network(&format!(
        "network n {{\n  input x: {shape}\n  output y = x |> {layers}\n}}\n"
    ))
}

pub fn lower(net: &Network, mode: Mode, batch: usize) -> Lowered {
    lower_network(
        net,
        &LowerOptions {
            mode,
            batch,
            default_init: None,
        },
    )
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Uniform on [lo, hi).
pub fn uniform(rng: &mut StdRng, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_range(lo..hi))
}

/// Uniform magnitudes in [lo, hi) with random signs: stays at least `lo` away from 0
/// (the kinks of relu, abs, sign).
pub fn away_from_zero(rng: &mut StdRng, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        let m = rng.random_range(lo..hi);
        if rng.random_bool(0.5) {
            m
        } else {
            -m
        }
    })
}

/// Distinct values at least `gap` apart in a random order, centred near 0: max pooling
/// has no ties, and a finite-difference step below gap / 2 never changes a winner.
pub fn distinct(rng: &mut StdRng, shape: &[usize], gap: f64) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    let mut values: Vec<f64> = (0..n)
        .map(|i| (i as f64 - n as f64 / 2.0) * gap + rng.random_range(0.0..gap * 0.25))
        .collect();
    // Fisher-Yates with the test's own generator.
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        values.swap(i, j);
    }
    ArrayD::from_shape_vec(IxDyn(shape), values).unwrap()
}

pub fn arr(shape: &[usize], values: &[f64]) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(shape), values.to_vec()).unwrap()
}

/// The `Param` node called `name`.
pub fn param_node(graph: &Graph, name: &str) -> NodeId {
    graph
        .ids()
        .find(|&id| matches!(&graph.node(id).op, Op::Param { name: n } if n == name))
        .unwrap_or_else(|| panic!("no param {name}"))
}

/// Random values for every parameter and state buffer of `lowered`: weights and biases
/// uniform on [-1, 1), running variances on [0.5, 2).
pub fn random_params(lowered: &Lowered, rng: &mut StdRng) -> Bindings<f64> {
    let mut b = Bindings::new();
    for p in &lowered.params {
        b = b.param(&p.name, uniform(rng, &p.shape, -1.0, 1.0));
    }
    for s in &lowered.state {
        let value = if s.name.ends_with("running_var") {
            uniform(rng, &s.shape, 0.5, 2.0)
        } else {
            uniform(rng, &s.shape, -1.0, 1.0)
        };
        b = b.param(&s.name, value);
    }
    b
}

/// A graph whose scalar loss is `sum(output * proj)` for a random projection `proj` (an
/// input called "proj"): its gradient with respect to the output is `proj`.
pub struct Projected {
    pub graph: Graph,
    pub loss: NodeId,
    pub output: NodeId,
    pub proj: ArrayD<f64>,
}

pub fn projected(lowered: &Lowered, rng: &mut StdRng) -> Projected {
    let mut graph = lowered.graph.clone();
    let output = lowered.outputs[0].1;
    let shape = graph.shape(output).to_vec();
    let proj_node = graph.input("proj", &shape);
    let prod = graph.mul(output, proj_node);
    let loss = graph.sum_all(prod);
    Projected {
        graph,
        loss,
        output,
        proj: uniform(rng, &shape, -1.0, 1.0),
    }
}

/// The nodes to differentiate with respect to: every input, then every parameter.
pub fn leaves(lowered: &Lowered, graph: &Graph) -> Vec<NodeId> {
    let mut wrt: Vec<NodeId> = lowered.inputs.iter().map(|(_, id)| *id).collect();
    wrt.extend(lowered.params.iter().map(|p| param_node(graph, &p.name)));
    wrt
}

/// Finite-difference check of d(sum(output * proj)) with respect to the inputs and all
/// parameters. `inputs` are bound by position to `lowered.inputs`.
pub fn gradcheck(lowered: &Lowered, inputs: &[ArrayD<f64>], params: Bindings<f64>, seed: u64) {
    gradcheck_with(lowered, inputs, params, seed, &Tolerance::default());
}

pub fn gradcheck_with(
    lowered: &Lowered,
    inputs: &[ArrayD<f64>],
    params: Bindings<f64>,
    seed: u64,
    tol: &Tolerance,
) {
    let mut r = rng(seed ^ 0x5eed);
    let p = projected(lowered, &mut r);
    let mut bindings = params.input("proj", p.proj.clone());
    assert_eq!(inputs.len(), lowered.inputs.len());
    for ((name, _), value) in lowered.inputs.iter().zip(inputs) {
        bindings = bindings.input(name, value.clone());
    }
    let wrt = leaves(lowered, &p.graph);
    if let Err(err) = check_gradients(&p.graph, p.loss, &wrt, &bindings, tol) {
        let names: Vec<String> = wrt
            .iter()
            .map(|id| format!("{id} = {:?}", p.graph.node(*id).op))
            .collect();
        panic!("gradient check failed: {err}\nleaves: {names:#?}");
    }
}

/// Evaluates the network's first output for the given inputs and parameters.
pub fn forward(lowered: &Lowered, inputs: &[ArrayD<f64>], params: Bindings<f64>) -> ArrayD<f64> {
    let mut bindings = params;
    for ((name, _), value) in lowered.inputs.iter().zip(inputs) {
        bindings = bindings.input(name, value.clone());
    }
    evaluate::<f64>(&lowered.graph, &bindings, &[lowered.outputs[0].1])
        .unwrap()
        .remove(0)
}

/// Asserts that two arrays have the same shape and agree within `tol` (absolute).
#[track_caller]
pub fn assert_close(actual: &ArrayD<f64>, expected: &ArrayD<f64>, tol: f64) {
    assert_eq!(actual.shape(), expected.shape(), "shapes differ");
    for ((index, a), e) in actual.indexed_iter().zip(expected.iter()) {
        assert!(
            (a - e).abs() <= tol * (1.0 + e.abs()),
            "at {:?}: got {a}, expected {e}\nactual:\n{actual}\nexpected:\n{expected}",
            index.slice()
        );
    }
}

/// A fixed-seed proptest configuration: `cases` cases, no regression files.
pub fn config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x6e6e_6367),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}

/// The output of the network's first output, and autodiff's gradients of
/// `sum(output * proj)` with respect to the inputs and then every parameter (in the
/// order of `leaves`).
pub fn autodiff(
    lowered: &Lowered,
    inputs: &[ArrayD<f64>],
    params: Bindings<f64>,
    proj: &ArrayD<f64>,
) -> (ArrayD<f64>, Vec<ArrayD<f64>>) {
    let mut graph = lowered.graph.clone();
    let output = lowered.outputs[0].1;
    let shape = graph.shape(output).to_vec();
    let proj_node = graph.input("proj", &shape);
    let prod = graph.mul(output, proj_node);
    let loss = graph.sum_all(prod);
    let wrt = leaves(lowered, &graph);
    let grads = nnc::prim::autodiff::differentiate(&mut graph, loss, &wrt);
    let mut bindings = params.input("proj", proj.clone());
    for ((name, _), value) in lowered.inputs.iter().zip(inputs) {
        bindings = bindings.input(name, value.clone());
    }
    let mut wanted = vec![output];
    wanted.extend(grads);
    let mut values = evaluate::<f64>(&graph, &bindings, &wanted).unwrap();
    let out = values.remove(0);
    (out, values)
}

/// Convolution geometry for the reference loops.
#[derive(Clone, Copy, Debug)]
pub struct Geom {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// [top, left, bottom, right]
    pub pad: [usize; 4],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Geom {
    pub fn out_size(&self, h: usize, w: usize) -> [usize; 2] {
        let axis = |size: usize, k: usize, s: usize, d: usize, lo: usize, hi: usize| {
            (size + lo + hi - d * (k - 1) - 1) / s + 1
        };
        [
            axis(
                h,
                self.kernel[0],
                self.stride[0],
                self.dilation[0],
                self.pad[0],
                self.pad[2],
            ),
            axis(
                w,
                self.kernel[1],
                self.stride[1],
                self.dilation[1],
                self.pad[1],
                self.pad[3],
            ),
        ]
    }

    /// The input position read by output (oy, ox) at tap (i, j), if not in the padding.
    fn tap(
        &self,
        oy: usize,
        ox: usize,
        i: usize,
        j: usize,
        h: usize,
        w: usize,
    ) -> Option<[usize; 2]> {
        let y = (oy * self.stride[0] + i * self.dilation[0]).checked_sub(self.pad[0])?;
        let x = (ox * self.stride[1] + j * self.dilation[1]).checked_sub(self.pad[1])?;
        (y < h && x < w).then_some([y, x])
    }
}

/// Direct grouped, strided, padded, dilated cross-correlation: x [N, C, H, W],
/// w [F, C / groups, kh, kw], optional bias [F].
pub fn conv_ref(
    x: &ArrayD<f64>,
    w: &ArrayD<f64>,
    b: Option<&ArrayD<f64>>,
    g: &Geom,
) -> ArrayD<f64> {
    let (n, c, h, wd) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let f = w.shape()[0];
    let (cg, fg) = (c / g.groups, f / g.groups);
    let [oh, ow] = g.out_size(h, wd);
    let mut out = ArrayD::zeros(IxDyn(&[n, f, oh, ow]));
    for s in 0..n {
        for fi in 0..f {
            let group = fi / fg;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = b.map_or(0.0, |b| b[[fi]]);
                    for ci in 0..cg {
                        for i in 0..g.kernel[0] {
                            for j in 0..g.kernel[1] {
                                if let Some([y, xx]) = g.tap(oy, ox, i, j, h, wd) {
                                    acc += x[[s, group * cg + ci, y, xx]] * w[[fi, ci, i, j]];
                                }
                            }
                        }
                    }
                    out[[s, fi, oy, ox]] = acc;
                }
            }
        }
    }
    out
}

/// The gradients of `sum(conv_ref(x, w) * gout)` with respect to x and w, by the same
/// loops (each tap's product differentiated by hand).
pub fn conv_ref_grads(
    x: &ArrayD<f64>,
    w: &ArrayD<f64>,
    gout: &ArrayD<f64>,
    g: &Geom,
) -> (ArrayD<f64>, ArrayD<f64>) {
    let (n, c, h, wd) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let f = w.shape()[0];
    let (cg, fg) = (c / g.groups, f / g.groups);
    let [oh, ow] = g.out_size(h, wd);
    let mut dx = ArrayD::zeros(x.raw_dim());
    let mut dw = ArrayD::zeros(w.raw_dim());
    for s in 0..n {
        for fi in 0..f {
            let group = fi / fg;
            for oy in 0..oh {
                for ox in 0..ow {
                    let up = gout[[s, fi, oy, ox]];
                    for ci in 0..cg {
                        for i in 0..g.kernel[0] {
                            for j in 0..g.kernel[1] {
                                if let Some([y, xx]) = g.tap(oy, ox, i, j, h, wd) {
                                    let xc = group * cg + ci;
                                    dx[[s, xc, y, xx]] += up * w[[fi, ci, i, j]];
                                    dw[[fi, ci, i, j]] += up * x[[s, xc, y, xx]];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    (dx, dw)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolRef {
    Max,
    Avg,
}

/// Caffe's pooling layer (`pooling_layer.cpp`) with symmetric padding `pad`, in ceil
/// mode (Caffe's only mode) or PyTorch's floor mode with `count_include_pad`.
/// Output size: ceil((H + 2p - k) / s) + 1, minus one if the last window would start in
/// the padding or past the image (Caffe checks this only when p > 0, and with p = 0 and
/// stride > kernel keeps a window of nothing; nnc, like PyTorch, drops it). Max ignores
/// the padding. Avg divides by the window clipped to the padded
/// image, (min(start + k, H + p) - start), so a ceil-mode window hanging past the
/// padding counts only what it covers.
pub fn pool_ref(
    x: &ArrayD<f64>,
    kind: PoolRef,
    kernel: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    ceil: bool,
) -> ArrayD<f64> {
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let pooled = |size: usize, k: usize, s: usize, p: usize| {
        let span = size + 2 * p - k;
        let mut out = if ceil { span.div_ceil(s) } else { span / s } + 1;
        if (out - 1) * s >= size + p {
            out -= 1;
        }
        out
    };
    let oh = pooled(h, kernel[0], stride[0], pad[0]);
    let ow = pooled(w, kernel[1], stride[1], pad[1]);
    let mut out = ArrayD::zeros(IxDyn(&[n, c, oh, ow]));
    for s in 0..n {
        for ch in 0..c {
            for py in 0..oh {
                for px in 0..ow {
                    let hstart = (py * stride[0]) as i64 - pad[0] as i64;
                    let wstart = (px * stride[1]) as i64 - pad[1] as i64;
                    let value = match kind {
                        PoolRef::Max => {
                            let hend = (hstart + kernel[0] as i64).min(h as i64);
                            let wend = (wstart + kernel[1] as i64).min(w as i64);
                            let mut m = f64::NEG_INFINITY;
                            for y in hstart.max(0)..hend {
                                for xx in wstart.max(0)..wend {
                                    m = m.max(x[[s, ch, y as usize, xx as usize]]);
                                }
                            }
                            m
                        }
                        PoolRef::Avg => {
                            let hend = (hstart + kernel[0] as i64).min((h + pad[0]) as i64);
                            let wend = (wstart + kernel[1] as i64).min((w + pad[1]) as i64);
                            let size = ((hend - hstart) * (wend - wstart)) as f64;
                            let mut total = 0.0;
                            for y in hstart.max(0)..hend.min(h as i64) {
                                for xx in wstart.max(0)..wend.min(w as i64) {
                                    total += x[[s, ch, y as usize, xx as usize]];
                                }
                            }
                            total / size
                        }
                    };
                    out[[s, ch, py, px]] = value;
                }
            }
        }
    }
    out
}

/// erf in f64 from its everywhere-convergent series of positive terms, erf(z) = 2/sqrt(pi)
/// exp(-z^2) sum_n 2^n z^(2n+1) / (1·3·5···(2n+1)): no cancellation, so exact to f64
/// rounding (for |z| up to about 25, where exp(-z^2) underflows).
pub fn erf(z: f64) -> f64 {
    let (mut term, mut total, mut n) = (z, z, 0.0);
    while term.abs() > 1e-17 * total.abs() {
        n += 1.0;
        term *= 2.0 * z * z / (2.0 * n + 1.0);
        total += term;
    }
    2.0 / std::f64::consts::PI.sqrt() * (-z * z).exp() * total
}
