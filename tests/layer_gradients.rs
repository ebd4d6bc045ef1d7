//! Every layer kind, lowered from a spec and differentiated by autodiff, against central
//! differences in f64 (`prim::gradcheck`). The scalar loss is a random linear projection
//! of the network's output, `sum(y * proj)`, so every output element carries a distinct
//! upstream gradient. Inputs and parameters are drawn away from kinks (relu's 0, ties of
//! max, the clamp of hardtanh) so central differences are exact to the tolerance.
//!
//! Binary layers have a zero true gradient almost everywhere; their straight-through
//! estimators are checked against the XNOR-Net formulas computed independently here.

mod common;

use common::*;
use ndarray::{ArrayD, Axis, IxDyn};
use nnc::lower::Mode;
use nnc::prim::gradcheck::{check_gradients, Tolerance};
use nnc::prim::interp::Bindings;
use proptest::prelude::*;

/// Lowers `layers` applied to an input of per-example `shape`, binds random parameters
/// and an input from `make_input`, and runs the finite-difference check.
fn check_layer(
    shape: &[usize],
    layers: &str,
    mode: Mode,
    batch: usize,
    seed: u64,
    make_input: impl Fn(&mut rand::rngs::StdRng, &[usize]) -> ArrayD<f64>,
) {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let net = single(&format!("[{}]", dims.join(", ")), layers);
    let lowered = lower(&net, mode, batch);
    let mut r = rng(seed);
    let mut full = vec![batch];
    full.extend_from_slice(shape);
    let x = make_input(&mut r, &full);
    let params = random_params(&lowered, &mut r).seed(seed, 3);
    gradcheck(&lowered, &[x], params, seed);
}

fn smooth_input(r: &mut rand::rngs::StdRng, shape: &[usize]) -> ArrayD<f64> {
    uniform(r, shape, -1.5, 1.5)
}

fn kinked_input(r: &mut rand::rngs::StdRng, shape: &[usize]) -> ArrayD<f64> {
    away_from_zero(r, shape, 0.05, 1.5)
}

// ------------------------------------------------------------------ dense and conv

proptest! {
    #![proptest_config(config(12))]

    #[test]
    fn dense(inputs in 1usize..5, spatial in 0usize..3, units in 1usize..4, bias: bool,
             batch in 1usize..4, seed: u64) {
        // Rank-1 inputs, or [inputs, s, s] inputs that dense flattens.
        let shape: Vec<usize> = if spatial == 0 { vec![inputs] } else { vec![inputs, spatial, 2] };
        check_layer(&shape, &format!("dense({units}, bias: {bias})"), Mode::Train, batch, seed,
                    smooth_input);
    }

    #[test]
    fn conv(cg in 1usize..3, groups in 1usize..3, fg in 1usize..3,
            kernel in (1usize..4, 1usize..4), stride in (1usize..3, 1usize..3),
            dilation in (1usize..3, 1usize..3), pad in (0usize..2, 0usize..2, 0usize..2, 0usize..2),
            extra in (0usize..3, 0usize..3), bias: bool, batch in 1usize..3, seed: u64) {
        let (kh, kw) = kernel;
        let (pt, pl, pb, pr) = pad;
        let h = (dilation.0 * (kh - 1) + 1).saturating_sub(pt + pb).max(1) + extra.0;
        let w = (dilation.1 * (kw - 1) + 1).saturating_sub(pl + pr).max(1) + extra.1;
        let layer = format!(
            "conv({}, [{kh}, {kw}], stride: [{}, {}], pad: [{pt}, {pl}, {pb}, {pr}], \
             dilation: [{}, {}], groups: {groups}, bias: {bias})",
            fg * groups, stride.0, stride.1, dilation.0, dilation.1
        );
        check_layer(&[cg * groups, h, w], &layer, Mode::Train, batch, seed, smooth_input);
    }
}

#[test]
fn masked_conv_a_and_b() {
    for (i, (mask, k)) in [("A", 3), ("B", 3), ("A", 5), ("B", 5)]
        .into_iter()
        .enumerate()
    {
        let layer = format!("masked_conv(3, {k}, mask: {mask}, pad: {})", k / 2);
        check_layer(&[2, 5, 4], &layer, Mode::Train, 2, i as u64, smooth_input);
    }
}

#[test]
fn masked_conv_gradient_is_zero_on_masked_taps() {
    // The raw weight behind a masked tap never reaches the output, so its gradient is 0.
    let net = single("[1, 3, 3]", "masked_conv(1, 3, mask: A, bias: false)");
    let lowered = lower(&net, Mode::Train, 1);
    let mut r = rng(9);
    let x = uniform(&mut r, &[1, 1, 3, 3], -1.0, 1.0);
    let params = random_params(&lowered, &mut r);
    let (_, grads) = autodiff(&lowered, &[x], params, &arr(&[1, 1, 1, 1], &[1.0]));
    let dw = &grads[1];
    let mask = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    for (g, m) in dw.iter().zip(mask) {
        assert_eq!(*g == 0.0, m == 0.0, "weight gradient {dw}");
    }
}

// ------------------------------------------------------------------ binary layers (STE)

/// A draw away from 0 and from |v| = 1, where sign and hardtanh have kinks.
fn off_kinks(r: &mut rand::rngs::StdRng, shape: &[usize]) -> ArrayD<f64> {
    use rand::Rng;
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        let m = if r.random_bool(0.5) {
            r.random_range(0.05..0.95)
        } else {
            r.random_range(1.05..2.0)
        };
        if r.random_bool(0.5) {
            m
        } else {
            -m
        }
    })
}

fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// XNOR-Net's binarized weight: alpha_f * sign(W) with alpha_f = mean |W_f| per filter
/// (axis 0), and the STE factor 1/n + alpha_f * 1{|W| < 1} of each element.
fn binarize(w: &ArrayD<f64>) -> (ArrayD<f64>, ArrayD<f64>) {
    let filters = w.shape()[0];
    let n = w.len() / filters;
    let mut wb = w.clone();
    let mut factor = w.clone();
    for f in 0..filters {
        let row = w.index_axis(Axis(0), f);
        let alpha = row.iter().map(|v| v.abs()).sum::<f64>() / n as f64;
        wb.index_axis_mut(Axis(0), f)
            .zip_mut_with(&row, |o, &v| *o = alpha * sign(v));
        factor
            .index_axis_mut(Axis(0), f)
            .zip_mut_with(&row, |o, &v| {
                *o = 1.0 / n as f64 + if v.abs() < 1.0 { alpha } else { 0.0 }
            });
    }
    (wb, factor)
}

proptest! {
    #![proptest_config(config(12))]

    /// binary_dense, `inputs: real` (BWN) and `inputs: binary` (XNOR): the output and
    /// autodiff's gradients against the paper's STE computed by hand:
    /// dW = (G^T xb) * (1/n + alpha 1{|W| < 1}), db = sum G,
    /// dx = G W~ (real) or (G W~) * 1{|x| < 1} (binary, the hardtanh STE).
    #[test]
    fn binary_dense_ste(n in 1usize..6, units in 1usize..4, batch in 1usize..4,
                        binary: bool, seed: u64) {
        let inputs = if binary { "binary" } else { "real" };
        let net = single(&format!("[{n}]"), &format!("binary_dense({units}, inputs: {inputs})"));
        let lowered = lower(&net, Mode::Train, batch);
        let mut r = rng(seed);
        let x = off_kinks(&mut r, &[batch, n]);
        let w = off_kinks(&mut r, &[units, n]);
        let b = uniform(&mut r, &[units], -1.0, 1.0);
        let gout = uniform(&mut r, &[batch, units], -1.0, 1.0);
        let names: Vec<&str> = lowered.params.iter().map(|p| p.name.as_str()).collect();
        prop_assert_eq!(names, vec!["binary_dense1.weight", "binary_dense1.bias"]);
        let params = Bindings::new()
            .param("binary_dense1.weight", w.clone())
            .param("binary_dense1.bias", b.clone());
        let (y, grads) = autodiff(&lowered, std::slice::from_ref(&x), params, &gout);

        let (wb, factor) = binarize(&w);
        let xb = if binary { x.mapv(sign) } else { x.clone() };
        let x2 = xb.view().into_dimensionality::<ndarray::Ix2>().unwrap();
        let w2 = wb.view().into_dimensionality::<ndarray::Ix2>().unwrap();
        let g2 = gout.view().into_dimensionality::<ndarray::Ix2>().unwrap();
        let expected_y = (x2.dot(&w2.t()) + &b).into_dyn();
        assert_close(&y, &expected_y, 1e-12);
        let dwb = g2.t().dot(&x2).into_dyn();
        assert_close(&grads[1], &(dwb * &factor), 1e-12);
        assert_close(&grads[2], &gout.sum_axis(Axis(0)), 1e-12);
        let mut dx = g2.dot(&w2).into_dyn();
        if binary {
            dx.zip_mut_with(&x, |d, &v| if v.abs() >= 1.0 { *d = 0.0 });
        }
        assert_close(&grads[0], &dx, 1e-12);
    }

    /// binary_conv (grouped, strided, padded), both input modes, against direct loops
    /// with the same STE.
    #[test]
    fn binary_conv_ste(groups in 1usize..3, cg in 1usize..3, fg in 1usize..3,
                       k in 1usize..4, stride in 1usize..3, pad in 0usize..2,
                       binary: bool, seed: u64) {
        let (c, f) = (cg * groups, fg * groups);
        let (h, w) = (k + 2, k + 1);
        let inputs = if binary { "binary" } else { "real" };
        let layer = format!("binary_conv({f}, {k}, stride: {stride}, pad: {pad}, groups: {groups}, \
                             inputs: {inputs}, bias: false)");
        let net = single(&format!("[{c}, {h}, {w}]"), &layer);
        let batch = 2;
        let lowered = lower(&net, Mode::Train, batch);
        let geom = Geom { kernel: [k, k], stride: [stride; 2], pad: [pad; 4], dilation: [1, 1], groups };
        let [oh, ow] = geom.out_size(h, w);
        let mut r = rng(seed);
        let x = off_kinks(&mut r, &[batch, c, h, w]);
        let wt = off_kinks(&mut r, &[f, cg, k, k]);
        let gout = uniform(&mut r, &[batch, f, oh, ow], -1.0, 1.0);
        let params = Bindings::new().param("binary_conv1.weight", wt.clone());
        let (y, grads) = autodiff(&lowered, std::slice::from_ref(&x), params, &gout);

        let (wb, factor) = binarize(&wt);
        let xb = if binary { x.mapv(sign) } else { x.clone() };
        assert_close(&y, &conv_ref(&xb, &wb, None, &geom), 1e-12);
        let (mut dx, dwb) = conv_ref_grads(&xb, &wb, &gout, &geom);
        assert_close(&grads[1], &(dwb * &factor), 1e-12);
        if binary {
            dx.zip_mut_with(&x, |d, &v| if v.abs() >= 1.0 { *d = 0.0 });
        }
        assert_close(&grads[0], &dx, 1e-12);
    }
}

/// papers.md section 7, test case 1: W = [[0.5, -1.5], [2.0, -0.25]] as one filter gives
/// alpha = 1.0625, W~ = +-1.0625, and with an upstream gradient of ones on W~ the STE
/// gradient [[1.3125, 0.25], [0.25, 1.3125]]. A 2x2 kernel on a 2x2 input of ones has
/// exactly one output position, so d(output)/dW~ is all ones.
#[test]
fn binary_weight_ste_papers_vector() {
    let w = arr(&[1, 1, 2, 2], &[0.5, -1.5, 2.0, -0.25]);
    let expected_grad = arr(&[1, 1, 2, 2], &[1.3125, 0.25, 0.25, 1.3125]);
    let net = single("[1, 2, 2]", "binary_conv(1, 2, bias: false)");
    let lowered = lower(&net, Mode::Train, 1);
    let x = arr(&[1, 1, 2, 2], &[1.0; 4]);
    let params = Bindings::new().param("binary_conv1.weight", w.clone());
    let (y, grads) = autodiff(&lowered, &[x], params, &arr(&[1, 1, 1, 1], &[1.0]));
    // Forward: sum of W~ = 1.0625 * (1 - 1 + 1 - 1) = 0.
    assert_close(&y, &arr(&[1, 1, 1, 1], &[0.0]), 1e-15);
    assert_close(&grads[1], &expected_grad, 1e-15);

    // The same filter as one dense unit over 4 inputs.
    let net = single("[4]", "binary_dense(1, bias: false)");
    let lowered = lower(&net, Mode::Train, 1);
    let params = Bindings::new().param(
        "binary_dense1.weight",
        w.into_shape_with_order(IxDyn(&[1, 4])).unwrap(),
    );
    let (_, grads) = autodiff(
        &lowered,
        &[arr(&[1, 4], &[1.0; 4])],
        params,
        &arr(&[1, 1], &[1.0]),
    );
    assert_close(
        &grads[1],
        &expected_grad.into_shape_with_order(IxDyn(&[1, 4])).unwrap(),
        1e-15,
    );
}

// ------------------------------------------------------------------ pooling

proptest! {
    #![proptest_config(config(16))]

    #[test]
    fn max_pool(c in 1usize..3, kernel in (1usize..4, 1usize..4), stride in (1usize..4, 1usize..4),
                pad in 0usize..2, ceil: bool, extra in (0usize..4, 0usize..4), seed: u64) {
        let (kh, kw) = kernel;
        // Padding must stay below the kernel (a window of padding only has no maximum).
        let pad = pad.min(kh - 1).min(kw - 1);
        let (h, w) = (kh + extra.0, kw + extra.1);
        let layer = format!("max_pool([{kh}, {kw}], stride: [{}, {}], pad: {pad}, ceil: {ceil})",
                            stride.0, stride.1);
        check_layer(&[c, h, w], &layer, Mode::Train, 2, seed, |r, s| distinct(r, s, 0.05));
    }

    #[test]
    fn avg_pool(c in 1usize..3, kernel in (1usize..4, 1usize..4), stride in (1usize..4, 1usize..4),
                pad in 0usize..2, ceil: bool, extra in (0usize..4, 0usize..4), seed: u64) {
        let (kh, kw) = kernel;
        let pad = pad.min(kh - 1).min(kw - 1);
        let (h, w) = (kh + extra.0, kw + extra.1);
        let layer = format!("avg_pool([{kh}, {kw}], stride: [{}, {}], pad: {pad}, ceil: {ceil})",
                            stride.0, stride.1);
        check_layer(&[c, h, w], &layer, Mode::Train, 2, seed, smooth_input);
    }
}

#[test]
fn global_avg_pool() {
    check_layer(
        &[3, 4, 5],
        "global_avg_pool",
        Mode::Train,
        2,
        1,
        smooth_input,
    );
}

// ------------------------------------------------------------------ shapes

#[test]
fn flatten_and_reshape() {
    check_layer(
        &[2, 3, 4],
        "flatten |> dense(3)",
        Mode::Train,
        2,
        2,
        smooth_input,
    );
    check_layer(
        &[2, 3, 4],
        "reshape([4, -1]) |> dense(2)",
        Mode::Train,
        2,
        3,
        smooth_input,
    );
    check_layer(
        &[12],
        "reshape([3, 2, 2]) |> conv(2, 2)",
        Mode::Train,
        2,
        4,
        smooth_input,
    );
}

/// Two inputs through one network, checked with respect to both.
fn check_two_inputs(
    a: &str,
    b: &str,
    body: &str,
    seed: u64,
    make_b: fn(&mut rand::rngs::StdRng, &[usize]) -> ArrayD<f64>,
) {
    let net = network(&format!(
        "network n {{\n  input a: {a}\n  input b: {b}\n  output y = {body}\n}}\n"
    ));
    let batch = 2;
    let lowered = lower(&net, Mode::Train, batch);
    let mut r = rng(seed);
    let shape_of = |i: usize| lowered.graph.shape(lowered.inputs[i].1).to_vec();
    assert_eq!(shape_of(0)[0], batch);
    let xa = uniform(&mut r, &shape_of(0), -1.5, 1.5);
    let xb = make_b(&mut r, &shape_of(1));
    let params = random_params(&lowered, &mut r);
    gradcheck(&lowered, &[xa, xb], params, seed);
}

#[test]
fn concat_along_each_axis() {
    check_two_inputs(
        "[2, 3, 4]",
        "[3, 3, 4]",
        "concat(a, b, axis: channel)",
        1,
        smooth_input,
    );
    check_two_inputs(
        "[2, 3, 4]",
        "[2, 1, 4]",
        "concat(a, b, axis: 1)",
        2,
        smooth_input,
    );
    check_two_inputs(
        "[2, 3, 4]",
        "[2, 3, 2]",
        "a |> concat(b, axis: 2)",
        3,
        smooth_input,
    );
    check_two_inputs("[5]", "[2]", "concat(a, b)", 4, smooth_input);
}

#[test]
fn unpool() {
    check_layer(&[3], "unpool([2, 3])", Mode::Train, 2, 5, smooth_input);
    check_layer(&[3, 1, 1], "unpool(4)", Mode::Train, 2, 6, smooth_input);
    // ParseNet's global context: pool, normalise, unpool, concatenate with local features.
    let net = network(
        "network n {\n  input x: [3, 2, 3]\n  let g = x |> global_avg_pool |> l2_norm(scale: 10) |> unpool([2, 3])\n  output y = concat(x |> l2_norm(scale: 20), g, axis: channel)\n}\n",
    );
    let lowered = lower(&net, Mode::Train, 2);
    let mut r = rng(7);
    let x = uniform(&mut r, &[2, 3, 2, 3], -1.5, 1.5);
    let params = random_params(&lowered, &mut r);
    gradcheck(&lowered, &[x], params, 7);
}

// ------------------------------------------------------------------ dropout

#[test]
fn dropout_eval_is_identity_and_differentiable() {
    let net = single("[4, 3]", "dropout(0.5)");
    let lowered = lower(&net, Mode::Eval, 2);
    let mut r = rng(1);
    let x = uniform(&mut r, &[2, 4, 3], -1.0, 1.0);
    assert_eq!(
        forward(&lowered, std::slice::from_ref(&x), Bindings::new()),
        x
    );
    check_layer(
        &[4, 3],
        "dropout(0.5) |> dense(2)",
        Mode::Eval,
        2,
        1,
        smooth_input,
    );
}

#[test]
fn dropout_train_with_fixed_seed() {
    // With the seed and step fixed the mask is a constant, so central differences see a
    // linear map with that mask.
    for (seed, rate) in [(1u64, 0.5), (2, 0.2), (3, 0.8)] {
        check_layer(
            &[4, 3],
            &format!("dropout({rate}) |> dense(2)"),
            Mode::Train,
            3,
            seed,
            smooth_input,
        );
        // Kept units are scaled by 1 / (1 - rate); the rest are 0.
        let net = single("[50, 20]", &format!("dropout({rate})"));
        let lowered = lower(&net, Mode::Train, 2);
        let x = ArrayD::from_elem(IxDyn(&[2, 50, 20]), 1.0);
        let y = forward(&lowered, &[x], Bindings::new().seed(seed, 5));
        let kept = y.iter().filter(|v| **v != 0.0).count() as f64 / y.len() as f64;
        assert!(y
            .iter()
            .all(|v| *v == 0.0 || (v - 1.0 / (1.0 - rate)).abs() < 1e-12));
        assert!(
            (kept - (1.0 - rate)).abs() < 0.05,
            "kept {kept} at rate {rate}"
        );
    }
}

// ------------------------------------------------------------------ activations

#[test]
fn activations() {
    for (i, layer) in [
        "relu",
        "leaky_relu",
        "leaky_relu(0.3)",
        "leaky_relu(slope: 1.5)",
        "tanh",
        "sigmoid",
        "gelu",
        "gelu(approximate: tanh)",
        "silu",
        "elu",
        "elu(0.5)",
        "elu(alpha: 2)",
        "softplus",
        "softplus(beta: 2)",
        "softplus(beta: 0.5, threshold: 0.25)",
        "crelu",
        "softmax",
        "softmax(axis: 1)",
        "softmax(axis: 2)",
    ]
    .into_iter()
    .enumerate()
    {
        check_layer(&[3, 2, 4], layer, Mode::Train, 2, i as u64, kinked_input);
    }
    check_layer(&[5], "crelu |> dense(3)", Mode::Train, 3, 11, kinked_input);
    check_layer(&[5], "softmax", Mode::Train, 3, 12, kinked_input);
}

// ------------------------------------------------------------------ normalizations

#[test]
fn batch_norm_train_and_eval() {
    for (i, (shape, layer)) in [
        (vec![4], "batch_norm"),
        (vec![3, 2, 2], "batch_norm"),
        (vec![3, 2, 2], "batch_norm(affine: false, eps: 0.001)"),
        (vec![2, 3, 1], "batch_norm(momentum: 0.3)"),
    ]
    .into_iter()
    .enumerate()
    {
        for mode in [Mode::Train, Mode::Eval] {
            check_layer(&shape, layer, mode, 3, i as u64, smooth_input);
        }
    }
}

#[test]
fn layer_group_instance_norms() {
    for (i, (shape, layer)) in [
        (vec![5], "layer_norm"),
        (vec![2, 3, 2], "layer_norm"),
        (vec![2, 3, 2], "layer_norm(affine: false)"),
        (vec![4, 2, 2], "group_norm(groups: 2)"),
        (vec![4, 2, 2], "group_norm(1)"),
        (vec![6, 1, 3], "group_norm(3, affine: false)"),
        (vec![4, 2, 2], "group_norm(groups: 4, eps: 0.01)"),
        (vec![3, 2, 3], "instance_norm"),
        (vec![3, 2, 3], "instance_norm(affine: false)"),
    ]
    .into_iter()
    .enumerate()
    {
        check_layer(&shape, layer, Mode::Train, 2, i as u64, smooth_input);
    }
}

#[test]
fn l2_norm() {
    check_layer(&[3, 2, 2], "l2_norm", Mode::Train, 2, 1, smooth_input);
    check_layer(
        &[3, 2, 2],
        "l2_norm(scale: 20, eps: 0.001)",
        Mode::Train,
        2,
        2,
        smooth_input,
    );
    check_layer(&[4], "l2_norm(10)", Mode::Train, 3, 3, smooth_input);
}

#[test]
fn layer_scale_and_per_position_layers() {
    for (i, (shape, layer)) in [
        (vec![3, 2, 2], "layer_scale"),
        (vec![3, 2, 2], "layer_scale(init: 0.5, axis: 2)"),
        (vec![4, 3], "layer_scale(init: 0.1, axis: 1)"),
        (vec![4, 3], "layer_norm(axes: last)"),
        (vec![2, 4, 3], "layer_norm(axes: last, affine: false)"),
        (vec![4, 3], "dense(5, flatten: false)"),
        (vec![2, 3, 4], "dense(2, flatten: false, bias: false)"),
    ]
    .into_iter()
    .enumerate()
    {
        check_layer(&shape, layer, Mode::Train, 2, i as u64, smooth_input);
    }
}

// ------------------------------------------------------------------ conv1d, conv_transpose

proptest! {
    #![proptest_config(config(12))]

    #[test]
    fn conv1d(cg in 1usize..3, groups in 1usize..3, fg in 1usize..3, k in 1usize..4,
              stride in 1usize..3, dilation in 1usize..3, pad in 0usize..2, extra in 0usize..3,
              bias: bool, batch in 1usize..3, seed: u64) {
        let l = (dilation * (k - 1) + 1).saturating_sub(2 * pad).max(1) + extra;
        let layer = format!(
            "conv1d({}, {k}, stride: {stride}, pad: {pad}, dilation: {dilation}, groups: {groups}, bias: {bias})",
            fg * groups
        );
        check_layer(&[cg * groups, l], &layer, Mode::Train, batch, seed, smooth_input);
    }

    #[test]
    fn conv_transpose(c in 1usize..4, f in 1usize..4, kernel in (1usize..4, 1usize..4),
                      stride in (1usize..4, 1usize..4), pad in (0usize..2, 0usize..2),
                      output_pad in (0usize..3, 0usize..3), size in (1usize..4, 1usize..4),
                      bias: bool, seed: u64) {
        let (kh, kw) = kernel;
        let (sh, sw) = stride;
        // PyTorch's constraints: output_pad < stride, and a non-empty output.
        let (oph, opw) = (output_pad.0 % sh, output_pad.1 % sw);
        let (ph, pw) = (pad.0.min((kh - 1) / 2), pad.1.min((kw - 1) / 2));
        let layer = format!(
            "conv_transpose({f}, [{kh}, {kw}], stride: [{sh}, {sw}], pad: [{ph}, {pw}], \
             output_pad: [{oph}, {opw}], bias: {bias})"
        );
        check_layer(&[c, size.0, size.1], &layer, Mode::Train, 2, seed, smooth_input);
    }
}

// ------------------------------------------------------------------ attention, embedding

#[test]
fn attention() {
    for (i, (shape, layer)) in [
        (vec![3, 4], "attention(1)"),
        (vec![3, 4], "attention(2)"),
        (vec![4, 6], "attention(3, causal: true)"),
        (vec![1, 2], "attention(2, causal: true)"),
        (vec![3, 4], "attention(heads: 4, bias: false)"),
    ]
    .into_iter()
    .enumerate()
    {
        check_layer(&shape, layer, Mode::Train, 2, i as u64, smooth_input);
    }
}

/// The table's gradient against central differences; the ids are integers (with repeats,
/// so rows collect several contributions, and one id that names no row) and have none.
#[test]
fn embedding_table_gradient() {
    let net = single("[5]", "embedding(4, 3) |> dense(2, flatten: false)");
    let lowered = lower(&net, Mode::Train, 2);
    let mut r = rng(4);
    let ids = arr(&[2, 5], &[0.0, 3.0, 3.0, 1.0, 7.0, 2.0, 0.0, 0.0, 3.0, 1.0]);
    let params = random_params(&lowered, &mut r);
    let p = projected(&lowered, &mut r);
    let bindings = params
        .input("proj", p.proj.clone())
        .input(&lowered.inputs[0].0, ids);
    let wrt: Vec<_> = lowered
        .params
        .iter()
        .map(|d| param_node(&p.graph, &d.name))
        .collect();
    check_gradients(&p.graph, p.loss, &wrt, &bindings, &Tolerance::default()).unwrap();
    // Id 2 appears once and id 7 names no row: the table's gradient at row 2 is exactly
    // the projection of one output row.
}

// ------------------------------------------------------------------ arithmetic

fn denominator(r: &mut rand::rngs::StdRng, shape: &[usize]) -> ArrayD<f64> {
    away_from_zero(r, shape, 0.5, 2.0)
}

#[test]
fn tensor_arithmetic_with_broadcasting() {
    let shapes = [
        ("[3, 4, 5]", "[3, 4, 5]"),
        ("[3, 4, 5]", "[4, 1]"),
        ("[3, 4, 5]", "[5]"),
        ("[3, 1, 5]", "[3, 4, 1]"),
        ("[1]", "[3, 2]"),
        ("[3, 1, 1]", "[3, 2, 2]"),
    ];
    let mut seed = 0;
    for (a, b) in shapes {
        for op in ["+", "-", "*", "/"] {
            seed += 1;
            check_two_inputs(a, b, &format!("a {op} b"), seed, denominator);
        }
    }
    // A residual connection: the same tensor on both sides of `+`.
    check_layer(&[3, 2, 2], "conv(3, 1)", Mode::Train, 2, 1, smooth_input);
    let net = network(
        "network n {\n  input x: [3, 2, 2]\n  let h = x |> conv(3, 3, pad: 1)\n  output y = (x + h) * h - x / 3\n}\n",
    );
    let lowered = lower(&net, Mode::Train, 2);
    let mut r = rng(3);
    let x = uniform(&mut r, &[2, 3, 2, 2], -1.0, 1.0);
    let params = random_params(&lowered, &mut r);
    gradcheck(&lowered, &[x], params, 3);
}

#[test]
fn scale_and_shift() {
    for (i, expr) in [
        "0.3 * x",
        "x * 2",
        "-x",
        "x / 4",
        "x + 1.5",
        "2 - x",
        "x - 0.5",
        "1 + x",
        "-(x * 3) + 1",
    ]
    .into_iter()
    .enumerate()
    {
        let net = network(&format!(
            "network n {{\n  input x: [3, 2]\n  output y = {expr}\n}}\n"
        ));
        let lowered = lower(&net, Mode::Train, 2);
        let mut r = rng(i as u64);
        let x = uniform(&mut r, &[2, 3, 2], -1.0, 1.0);
        gradcheck(
            &lowered,
            std::slice::from_ref(&x),
            Bindings::new(),
            i as u64,
        );
        let expected = match expr {
            "0.3 * x" => x.mapv(|v| 0.3 * v),
            "x * 2" => x.mapv(|v| v * 2.0),
            "-x" => x.mapv(|v| -v),
            "x / 4" => x.mapv(|v| v / 4.0),
            "x + 1.5" => x.mapv(|v| v + 1.5),
            "2 - x" => x.mapv(|v| 2.0 - v),
            "x - 0.5" => x.mapv(|v| v - 0.5),
            "1 + x" => x.mapv(|v| 1.0 + v),
            _ => x.mapv(|v| -(v * 3.0) + 1.0),
        };
        assert_close(&forward(&lowered, &[x], Bindings::new()), &expected, 1e-15);
    }
}

// ------------------------------------------------------------------ whole programs

/// A small conv net through `forward_with_loss` (cross-entropy on one-hot targets):
/// the gradient of the mean loss with respect to the input and every parameter, in
/// training mode (batch statistics) and evaluation mode (running statistics).
#[test]
fn conv_net_with_loss() {
    let text = "data d { source: builtin(\"digits\") }\n\
        network n {\n  input x: [2, 5, 5]\n\
          let h = x |> conv(4, 3, pad: 1) |> batch_norm |> tanh |> max_pool(2, ceil: true)\n\
          let h = h |> conv(4, 2, groups: 2, bias: false) |> group_norm(2) |> sigmoid\n\
          output logits = h |> flatten |> dropout(0.3) |> dense(3)\n}\n\
        train { network: n\n data: d\n loss: cross_entropy(label_smoothing: 0.1) }\n";
    let checked = check(text);
    let net = &checked.program.networks[0];
    let decl = &checked.program.trains[0];
    for mode in [Mode::Train, Mode::Eval] {
        let batch = 3;
        let p = nnc::train::step::forward_with_loss(net, decl, batch, mode);
        let mut r = rng(17);
        let x = uniform(&mut r, &[batch, 2, 5, 5], -1.5, 1.5);
        let mut y = ArrayD::zeros(IxDyn(&[batch, 3]));
        for i in 0..batch {
            y[[i, i % 3]] = 1.0;
        }
        let bindings = random_params(&p.lowered, &mut r)
            .input("x", x)
            .input(nnc::train::step::TARGETS, y)
            .seed(5, 2);
        let wrt = leaves(&p.lowered, &p.graph);
        check_gradients(&p.graph, p.loss, &wrt, &bindings, &Tolerance::default())
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
    }
}
