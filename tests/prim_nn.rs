//! Layer math from `nnc::lower` (norms, XNOR-Net, dense), the loss of `nnc::train::loss` and
//! the helpers, checked against the papers.md test vectors (group norm, batch norm, layer
//! norm, ParseNet L2 norm, XNOR-Net), against direct loops (convolution and pooling
//! through Im2Col), and against finite differences (composite helpers and a small MLP
//! trained end to end in the interpreter).

// The papers.md vectors are copied digit for digit, including 1.414213 (not SQRT_2).
#![allow(clippy::approx_constant)]

use ndarray::{arr1, arr2, ArrayD, IxDyn};
use nnc::lower::{binary, dense, norm};
use nnc::prim::autodiff::differentiate;
use nnc::prim::gradcheck::{check_gradients, Tolerance};
use nnc::prim::interp::{evaluate, Bindings};
use nnc::prim::verify::verify;
use nnc::prim::{ConvGeom, Graph, NodeId};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn uniform(shape: &[usize], seed: u64, lo: f64, hi: f64) -> ArrayD<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = shape.iter().product();
    let data = (0..n).map(|_| rng.random_range(lo..hi)).collect();
    ArrayD::from_shape_vec(IxDyn(shape), data).unwrap()
}

fn array(shape: &[usize], data: &[f64]) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(shape), data.to_vec()).unwrap()
}

fn eval(g: &Graph, bindings: &Bindings<f64>, nodes: &[NodeId]) -> Vec<ArrayD<f64>> {
    verify(g).unwrap();
    evaluate(g, bindings, nodes).unwrap()
}

#[track_caller]
fn assert_close(got: &ArrayD<f64>, want: &[f64], tol: f64) {
    let got: Vec<f64> = got.iter().copied().collect();
    assert_eq!(got.len(), want.len(), "got {got:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "got {got:?}\nwant {want:?}");
    }
}

/// papers.md section 3, x2: sample 0 channels [[1,2],[4,-1],[0,3],[2,2]], sample 1
/// [[5,-3],[1,1],[2,0],[-2,6]], as [2, 4, 1, 2].
fn x2() -> ArrayD<f64> {
    let data = [
        1., 2., 4., -1., 0., 3., 2., 2., 5., -3., 1., 1., 2., 0., -2., 6.,
    ];
    array(&[2, 4, 1, 2], &data)
}

/// Per-channel `(gamma, beta)` for the four channels of `x2`.
type Affine = Option<([f64; 4], [f64; 4])>;

fn group_norm_of(x: ArrayD<f64>, groups: usize, affine: Affine) -> ArrayD<f64> {
    let mut g = Graph::new();
    let input = g.input("x", x.shape());
    let mut bindings = Bindings::new().input("x", x);
    let (gamma, beta) = match affine {
        Some((gamma, beta)) => {
            bindings = bindings
                .param("gamma", arr1(&gamma).into_dyn())
                .param("beta", arr1(&beta).into_dyn());
            (Some(g.param("gamma", &[4])), Some(g.param("beta", &[4])))
        }
        None => (None, None),
    };
    let y = norm::group_norm(&mut g, input, groups, gamma, beta, 1e-5);
    eval(&g, &bindings, &[y]).remove(0)
}

#[test]
fn group_norm_paper_vectors_arange() {
    let x = array(&[2, 4, 1, 2], &(0..16).map(f64::from).collect::<Vec<_>>());
    let g2 = [-1.341635, -0.447212, 0.447212, 1.341635];
    let want: Vec<f64> = g2.iter().cycle().take(16).copied().collect();
    // Contiguous groups; the interleaved-grouping bug would give [-1.212677, ...].
    assert_close(&group_norm_of(x.clone(), 2, None), &want, 1e-6);
    let g1 = [
        -1.527524, -1.091088, -0.654653, -0.218218, 0.218218, 0.654653, 1.091088, 1.527524,
    ];
    let want: Vec<f64> = g1.iter().cycle().take(16).copied().collect();
    assert_close(&group_norm_of(x.clone(), 1, None), &want, 1e-6);
    let g4 = [-0.99998, 0.99998];
    let want: Vec<f64> = g4.iter().cycle().take(16).copied().collect();
    assert_close(&group_norm_of(x, 4, None), &want, 1e-5);
}

#[test]
fn group_norm_paper_vectors_x2() {
    let cases: [(usize, Affine, [f64; 16]); 4] = [
        (
            1,
            None,
            [
                -0.41812, 0.250872, 1.588856, -1.756104, -1.087112, 0.919864, 0.250872, 0.250872,
                1.290994, -1.463126, -0.086066, -0.086066, 0.258199, -0.430331, -1.118861,
                1.635259,
            ],
        ),
        (
            2,
            None,
            [
                -0.27735, 0.27735, 1.386748, -1.386748, -1.605903, 1.147074, 0.229415, 0.229415,
                1.414213, -1.414213, 0.0, 0.0, 0.169031, -0.507092, -1.183215, 1.521277,
            ],
        ),
        (
            4,
            None,
            [
                -0.99998, 0.99998, 0.999999, -0.999999, -0.999998, 0.999998, 0.0, 0.0, 1.0, -1.0,
                0.0, 0.0, 0.999995, -0.999995, -1.0, 1.0,
            ],
        ),
        (
            2,
            Some(([1.0, 2.0, 0.5, -1.0], [0.0, 1.0, 0.0, 0.5])),
            [
                -0.27735, 0.27735, 3.773497, -1.773497, -0.802952, 0.573537, 0.270585, 0.270585,
                1.414213, -1.414213, 1.0, 1.0, 0.084515, -0.253546, 1.683215, -1.021277,
            ],
        ),
    ];
    for (groups, affine, want) in cases {
        // Six-decimal vectors: half a unit in the last place plus rounding. The 1 - 1e-5
        // style values of G=4 are given to 5 or 6 decimals, hence 1e-5 there.
        let tol = if groups == 4 { 1e-5 } else { 1.5e-6 };
        assert_close(&group_norm_of(x2(), groups, affine), &want, tol);
    }
}

#[test]
fn batch_norm_paper_vectors() {
    let mut g = Graph::new();
    let x = g.input("x", &[2, 4, 1, 2]);
    let bn = norm::batch_norm_train(&mut g, x, None, None, 1e-5);
    let count = norm::batch_norm_count(&g, x);
    assert_eq!(count, 4);
    // PyTorch running stats after one step from mean 0, var 1, momentum 0.1.
    let zero_mean = g.constant(0.0, &[4]);
    let unit_var = g.constant(1.0, &[4]);
    let unbiased = norm::unbiased_var(&mut g, bn.var, count);
    let running_mean = norm::ema_update(&mut g, zero_mean, bn.mean, 0.1);
    let running_var = norm::ema_update(&mut g, unit_var, unbiased, 0.1);
    let eval_y = norm::batch_norm_eval(&mut g, x, running_mean, running_var, None, None, 1e-5);
    let bindings = Bindings::new().input("x", x2());
    let nodes = [
        bn.y,
        bn.mean,
        bn.var,
        unbiased,
        running_mean,
        running_var,
        eval_y,
    ];
    let v = eval(&g, &bindings, &nodes);
    assert_close(
        &v[0],
        &[
            -0.08737, 0.262111, 1.540306, -1.26025, -0.962248, 1.347147, 0.0, 0.0, 1.310555,
            -1.485296, -0.140028, -0.140028, 0.577349, -0.962248, -1.414213, 1.414213,
        ],
        1.5e-6,
    );
    assert_close(&v[1], &[1.25, 1.25, 1.25, 2.0], 1e-12);
    assert_close(&v[2], &[8.1875, 3.1875, 1.6875, 8.0], 1e-12);
    assert_close(&v[3], &[10.916667, 4.25, 2.25, 10.666667], 1e-6);
    assert_close(&v[4], &[0.125, 0.125, 0.125, 0.2], 1e-12);
    assert_close(&v[5], &[1.991667, 1.325, 1.125, 1.966667], 1e-6);
    assert_close(
        &v[6],
        &[
            0.62001, 1.328593, 3.366372, -0.977334, -0.117851, 2.710564, 1.28353, 1.28353,
            3.454341, -2.214321, 0.760149, 0.760149, 1.767759, -0.117851, -1.568759, 4.135819,
        ],
        1.5e-6,
    );
}

#[test]
fn layer_norm_paper_vectors() {
    let mut g = Graph::new();
    let x = g.input("x", &[3, 4]);
    let y = norm::layer_norm(&mut g, x, 1, None, None, 1e-5);
    let data = arr2(&[
        [1.0, 2.0, 3.0, 4.0],
        [2.0, 2.0, 2.0, 2.0],
        [-1.0, 0.0, 0.0, 5.0],
    ]);
    let v = eval(&g, &Bindings::new().input("x", data.into_dyn()), &[y]);
    assert_close(
        &v[0],
        &[
            -1.341635, -0.447212, 0.447212, 1.341635, 0.0, 0.0, 0.0, 0.0, -0.852802, -0.426401,
            -0.426401, 1.705604,
        ],
        1e-6,
    );
    // Group norm with one group is layer norm over (C, H, W).
    let x = x2();
    let mut g = Graph::new();
    let input = g.input("x", x.shape());
    let ln = norm::layer_norm(&mut g, input, 3, None, None, 1e-5);
    let gn = norm::group_norm(&mut g, input, 1, None, None, 1e-5);
    let v = eval(&g, &Bindings::new().input("x", x), &[ln, gn]);
    assert_close(&v[0], v[1].as_slice().unwrap(), 1e-12);
}

#[test]
fn parsenet_l2_norm_paper_vectors() {
    let mut g = Graph::new();
    let x = g.input("x", &[1, 2, 2, 2]);
    let gamma = g.param("gamma", &[2]);
    let normalized = norm::l2_norm(&mut g, x, &[1], 1e-10);
    let y = norm::channel_affine(&mut g, normalized, Some(gamma), None);
    let across = g.square(x);
    let across = g.sum(across, &[1, 2, 3]);
    let across = g.add_scalar(across, 1e-10);
    let across = g.sqrt(across);
    let gap = g.mean(x, &[2, 3]);
    let gap = norm::l2_norm(&mut g, gap, &[1], 1e-10);
    let bindings = Bindings::new()
        .input("x", array(&[1, 2, 2, 2], &[3., 0., 1., 2., 4., 0., 1., 2.]))
        .param("gamma", arr1(&[10.0, 20.0]).into_dyn());
    let v = eval(&g, &bindings, &[y, across, gap]);
    assert_close(
        &v[0],
        &[
            6.0, 0.0, 7.071068, 7.071068, 16.0, 0.0, 14.142136, 14.142136,
        ],
        1e-6,
    );
    assert_close(&v[1], &[5.916080], 1e-6);
    assert_close(&v[2], &[0.650791, 0.759257], 1e-6);
}

#[test]
fn xnor_weight_ste_paper_vectors() {
    // One filter of n = 4: alpha = 1.0625, forward alpha * sign(W), and the STE gradient
    // g * (1/n + alpha * 1{|W| <= 1}) with upstream ones.
    let mut g = Graph::new();
    let w = g.param("w", &[1, 2, 2]);
    let binary = binary::xnor_weight_ste(&mut g, w);
    let loss = g.sum_all(binary);
    let grad = differentiate(&mut g, loss, &[w])[0];
    let bindings = Bindings::new().param("w", array(&[1, 2, 2], &[0.5, -1.5, 2.0, -0.25]));
    let v = eval(&g, &bindings, &[binary, grad]);
    assert_eq!(v[0], array(&[1, 2, 2], &[1.0625, -1.0625, 1.0625, -1.0625]));
    assert_eq!(v[1], array(&[1, 2, 2], &[1.3125, 0.25, 0.25, 1.3125]));

    // Two filters: alpha per filter.
    let mut g = Graph::new();
    let w = g.param("w", &[2, 2, 2]);
    let binary = binary::xnor_weight_ste(&mut g, w);
    let data = [1.0, -2.0, 3.0, -4.0, 0.1, 0.2, -0.3, 0.4];
    let bindings = Bindings::new().param("w", array(&[2, 2, 2], &data));
    let v = eval(&g, &bindings, &[binary]);
    assert_eq!(
        v[0],
        array(&[2, 2, 2], &[2.5, -2.5, 2.5, -2.5, 0.25, 0.25, -0.25, 0.25])
    );
}

#[test]
fn binary_activation_ste() {
    let mut g = Graph::new();
    let x = g.param("x", &[5]);
    let y = binary::binary_activation_ste(&mut g, x);
    let loss = g.sum_all(y);
    let grad = differentiate(&mut g, loss, &[x])[0];
    let bindings = Bindings::new().param("x", arr1(&[-2.0, -0.5, 0.0, 0.3, 1.5]).into_dyn());
    let v = eval(&g, &bindings, &[y, grad]);
    assert_eq!(v[0], arr1(&[-1.0, -1.0, 0.0, 1.0, 1.0]).into_dyn());
    assert_eq!(v[1], arr1(&[0.0, 1.0, 1.0, 1.0, 0.0]).into_dyn());
}

/// papers.md section 7, case 2: a 2x2 filter over a 2-channel 3x3 input, by Im2Col +
/// MatMul: the exact, BWN, binary and XNOR outputs.
#[test]
fn xnor_conv_paper_vectors() {
    let mut g = Graph::new();
    let image = g.input("image", &[1, 2, 3, 3]);
    let w = g.param("w", &[1, 2, 2, 2]);
    let geom = ConvGeom::square(2, 1, 0);
    let conv = |g: &mut Graph, image: NodeId, w: NodeId| {
        let cols = g.im2col(image, geom);
        let filters = g.reshape(w, &[1, 8]);
        let out = g.matmul(filters, cols);
        g.reshape(out, &[2, 2])
    };
    let exact = conv(&mut g, image, w);
    let w_bin = binary::xnor_weight_ste(&mut g, w);
    let bwn = conv(&mut g, image, w_bin);
    let sign_image = g.sign(image);
    let sign_w = g.sign(w);
    let binary = conv(&mut g, sign_image, sign_w);
    // K = box filter of A = mean over channels of |I|; alpha = mean |W|.
    let abs_image = g.abs(image);
    let a = g.mean(abs_image, &[1]);
    let a_cols = g.im2col(a, geom);
    let k = g.mean(a_cols, &[1]);
    let k = g.reshape(k, &[2, 2]);
    let abs_w = g.abs(w);
    let alpha = g.mean(abs_w, &[1, 2, 3]);
    let alpha = g.reshape(alpha, &[1, 1]);
    let alpha_b = g.broadcast(alpha, &[2, 2]);
    let scaled = g.mul(binary, k);
    let xnor = g.mul(scaled, alpha_b);
    let bindings = Bindings::new()
        .input(
            "image",
            array(
                &[1, 2, 3, 3],
                &[
                    1., -2., 3., 0.5, -0.5, 1., 2., 1., -3., -1., 1., 2., 1., -1., 0.5, -2., 3., 1.,
                ],
            ),
        )
        .param(
            "w",
            array(&[1, 2, 2, 2], &[0.5, -1.5, 2., -0.25, 1., 1., -1., 0.5]),
        );
    let v = eval(&g, &bindings, &[exact, bwn, binary, k, alpha, xnor]);
    assert_close(&v[0], &[3.125, -2.5, 8.25, -2.0], 1e-12);
    assert_close(&v[1], &[1.9375, -1.9375, 6.78125, 0.0], 1e-12);
    assert_close(&v[2], &[2.0, 0.0, 4.0, 0.0], 0.0);
    assert_close(&v[3], &[1.0, 1.375, 1.375, 1.375], 1e-12);
    assert_close(&v[4], &[0.96875], 0.0);
    assert_close(&v[5], &[1.9375, 0.0, 5.328125, 0.0], 1e-12);
}

fn conv_geom() -> impl Strategy<Value = (ConvGeom, [usize; 4])> {
    (
        (1usize..=2, 1usize..=3, 1usize..=6, 1usize..=6),
        [1usize..=3, 1usize..=3],
        [1usize..=3, 1usize..=3],
        [1usize..=2, 1usize..=2],
        [0usize..=2, 0usize..=2, 0usize..=2, 0usize..=2],
    )
        .prop_map(|((n, c, h, w), kernel, stride, dilation, pad)| {
            let geom = ConvGeom {
                kernel,
                stride,
                pad,
                dilation,
                pad_value: 0.0,
            };
            (geom, [n, c, h, w])
        })
        .prop_filter("window fits", |(geom, [_, _, h, w])| {
            geom.output_size(*h, *w).is_some()
        })
}

/// The image position read by output (y, x) at kernel tap (i, j), if not padding.
fn tap(
    geom: &ConvGeom,
    dims: [usize; 4],
    y: usize,
    x: usize,
    i: usize,
    j: usize,
) -> Option<(usize, usize)> {
    let h = (y * geom.stride[0] + i * geom.dilation[0]) as isize - geom.pad[0] as isize;
    let w = (x * geom.stride[1] + j * geom.dilation[1]) as isize - geom.pad[1] as isize;
    let inside = h >= 0 && w >= 0 && (h as usize) < dims[2] && (w as usize) < dims[3];
    inside.then_some((h as usize, w as usize))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// <Im2Col x, y> == <x, Col2Im y>: Col2Im is the adjoint of (zero-padded) Im2Col.
    #[test]
    fn col2im_is_the_adjoint_of_im2col((geom, dims) in conv_geom(), seed: u64) {
        let mut g = Graph::new();
        let x = g.input("x", &dims);
        let cols = g.im2col(x, geom);
        let cols_shape = g.shape(cols).to_vec();
        let y = g.input("y", &cols_shape);
        let back = g.col2im(y, geom, &dims);
        let xv = uniform(&dims, seed, -1.0, 1.0);
        let yv = uniform(&cols_shape, seed ^ 1, -1.0, 1.0);
        let bindings = Bindings::new().input("x", xv.clone()).input("y", yv.clone());
        let v = eval(&g, &bindings, &[cols, back]);
        let lhs = (&v[0] * &yv).sum();
        let rhs = (&xv * &v[1]).sum();
        prop_assert!((lhs - rhs).abs() < 1e-12 * (1.0 + lhs.abs()), "{lhs} vs {rhs}");
    }

    /// Convolution as Im2Col + MatMul equals the direct six-loop definition, and max
    /// pooling as Im2Col(pad -inf) + MaxReduce equals the direct window maximum.
    #[test]
    fn conv_and_max_pool_match_direct_loops((geom, dims) in conv_geom(), n_out in 1usize..=3, seed: u64) {
        let [n, c, _, _] = dims;
        let [kh, kw] = geom.kernel;
        let [oh, ow] = geom.output_size(dims[2], dims[3]).unwrap();
        let mut g = Graph::new();
        let x = g.input("x", &dims);
        let w = g.param("w", &[n_out, c, kh, kw]);
        let cols = g.im2col(x, geom);
        let filters = g.reshape(w, &[n_out, c * kh * kw]);
        let conv = g.matmul(filters, cols);
        let conv = g.reshape(conv, &[n, n_out, oh, ow]);
        let pool_geom = ConvGeom { pad_value: f64::NEG_INFINITY, ..geom };
        let pool_cols = g.im2col(x, pool_geom);
        let pool_cols = g.reshape(pool_cols, &[n, c, kh * kw, oh * ow]);
        let pool = g.max_reduce(pool_cols, &[2]);
        let pool = g.reshape(pool, &[n, c, oh, ow]);
        let xv = uniform(&dims, seed, -1.0, 1.0);
        let wv = uniform(&[n_out, c, kh, kw], seed ^ 1, -1.0, 1.0);
        let bindings = Bindings::new().input("x", xv.clone()).param("w", wv.clone());
        let v = eval(&g, &bindings, &[conv, pool]);
        for b in 0..n {
            for y in 0..oh {
                for xo in 0..ow {
                    for o in 0..n_out {
                        let mut total = 0.0;
                        for ch in 0..c {
                            for i in 0..kh {
                                for j in 0..kw {
                                    if let Some((h, wi)) = tap(&geom, dims, y, xo, i, j) {
                                        total += xv[[b, ch, h, wi]] * wv[[o, ch, i, j]];
                                    }
                                }
                            }
                        }
                        prop_assert!((v[0][[b, o, y, xo]] - total).abs() < 1e-12);
                    }
                    for ch in 0..c {
                        let mut best = f64::NEG_INFINITY;
                        for i in 0..kh {
                            for j in 0..kw {
                                if let Some((h, wi)) = tap(&geom, dims, y, xo, i, j) {
                                    best = best.max(xv[[b, ch, h, wi]]);
                                }
                            }
                        }
                        prop_assert_eq!(v[1][[b, ch, y, xo]], best);
                    }
                }
            }
        }
    }
}

/// Gradient-checks a composite helper on one random input of `shape`.
fn check_helper(
    shape: &[usize],
    seed: u64,
    lo: f64,
    hi: f64,
    build: impl Fn(&mut Graph, NodeId) -> NodeId,
) -> Result<(), TestCaseError> {
    let mut g = Graph::new();
    let x = g.param("x", shape);
    let y = build(&mut g, x);
    let y_shape = g.shape(y).to_vec();
    let w = g.input("w", &y_shape);
    let weighted = g.mul(y, w);
    let loss = g.sum_all(weighted);
    let bindings = Bindings::new()
        .param("x", uniform(shape, seed, lo, hi))
        .input("w", uniform(&y_shape, seed ^ 3, -1.0, 1.0));
    check_gradients(&g, loss, &[x], &bindings, &Tolerance::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn composite_helpers_gradcheck(dims in prop::collection::vec(2usize..=3, 4), seed: u64) {
        let shape = dims.clone();
        let axis = seed as usize % 4;
        check_helper(&shape, seed, -3.0, 3.0, |g, x| g.softmax(x, axis))?;
        check_helper(&shape, seed, -3.0, 3.0, |g, x| g.log_softmax(x, axis))?;
        check_helper(&shape, seed, -3.0, 3.0, |g, x| g.sigmoid(x))?;
        check_helper(&shape, seed, -3.0, 3.0, |g, x| g.tanh(x))?;
        check_helper(&shape, seed, -3.0, 3.0, |g, x| g.var(x, &[1, 3]))?;
        check_helper(&shape, seed, 0.5, 2.0, |g, x| g.powf(x, 1.5))?;
        check_helper(&shape, seed, 0.5, 2.0, |g, x| {
            let y = g.exp(x);
            g.div(y, x)
        })?;
        check_helper(&shape, seed, -3.0, 3.0, |g, x| norm::layer_norm(g, x, 2, None, None, 1e-5))?;
        check_helper(&shape, seed, -3.0, 3.0, |g, x| norm::batch_norm_train(g, x, None, None, 1e-5).y)?;
        check_helper(&shape, seed, -3.0, 3.0, |g, x| norm::l2_norm(g, x, &[1], 1e-10))?;
        let groups = if dims[1] == 2 { 2 } else { 1 };
        check_helper(&shape, seed, -3.0, 3.0, |g, x| norm::group_norm(g, x, groups, None, None, 1e-5))?;
    }
}

#[test]
fn softmax_gradient_is_finite_on_large_logits() {
    let mut g = Graph::new();
    let x = g.param("x", &[1, 3]);
    let labels = g.input("labels", &[1, 3]);
    let loss = nnc::train::loss::softmax_cross_entropy(&mut g, x, labels);
    let grad = differentiate(&mut g, loss, &[x])[0];
    let bindings = Bindings::new()
        .param("x", arr2(&[[1000.0, 0.0, -1000.0]]).into_dyn())
        .input("labels", arr2(&[[0.0, 1.0, 0.0]]).into_dyn());
    let v = eval(&g, &bindings, &[loss, grad]);
    assert_close(&v[0], &[1000.0], 1e-9);
    // d CE / d logits = softmax - onehot.
    assert_close(&v[1], &[1.0, -1.0, 0.0], 1e-12);
}

/// A 2-layer MLP with softmax cross-entropy, built in the IR.
struct Mlp {
    graph: Graph,
    loss: NodeId,
    params: Vec<NodeId>,
}

const PARAM_SHAPES: [(&str, &[usize]); 4] =
    [("w1", &[3, 5]), ("b1", &[5]), ("w2", &[5, 3]), ("b2", &[3])];

fn mlp() -> Mlp {
    let mut g = Graph::new();
    let x = g.input("x", &[4, 3]);
    let labels = g.input("labels", &[4, 3]);
    let params: Vec<NodeId> = PARAM_SHAPES
        .iter()
        .map(|(name, shape)| g.param(name, shape))
        .collect();
    let hidden = g.with_origin("dense1", |g| {
        let h = dense::dense(g, x, params[0], Some(params[1]));
        g.relu(h)
    });
    let logits = g.with_origin("dense2", |g| {
        dense::dense(g, hidden, params[2], Some(params[3]))
    });
    let loss = g.with_origin("loss", |g| {
        nnc::train::loss::softmax_cross_entropy(g, logits, labels)
    });
    g.output("loss", loss);
    Mlp {
        graph: g,
        loss,
        params,
    }
}

fn mlp_bindings() -> Bindings<f64> {
    let labels = arr2(&[
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.0, 1.0, 0.0],
    ]);
    let mut bindings = Bindings::new()
        .input("x", uniform(&[4, 3], 10, -1.0, 1.0))
        .input("labels", labels.into_dyn());
    for (seed, (name, shape)) in PARAM_SHAPES.iter().enumerate() {
        bindings = bindings.param(name, uniform(shape, seed as u64, -1.0, 1.0));
    }
    bindings
}

#[test]
fn mlp_gradients_match_finite_differences() {
    let model = mlp();
    let bindings = mlp_bindings();
    // No hidden pre-activation sits within the finite-difference step of the ReLU kink.
    let mut probe = model.graph.clone();
    let pre = probe
        .ids()
        .find(|&id| probe.node(id).op == nnc::prim::Op::Max)
        .unwrap();
    let pre = probe.node(pre).inputs[0];
    let pre_values = evaluate(&probe, &bindings, &[pre]).unwrap().remove(0);
    assert!(pre_values.iter().all(|v| v.abs() > 1e-3), "{pre_values}");
    check_gradients(
        &model.graph,
        model.loss,
        &model.params,
        &bindings,
        &Tolerance::default(),
    )
    .unwrap();
    // The f32 interpreter agrees with f64 on the loss and the gradients.
    let grads = differentiate(&mut probe, model.loss, &model.params);
    let mut wanted = vec![model.loss];
    wanted.extend(&grads);
    let f64_values = evaluate(&probe, &bindings, &wanted).unwrap();
    let mut b32 = Bindings::<f32>::new();
    for (name, value) in &bindings.inputs {
        b32 = b32.input(name, value.mapv(|v| v as f32));
    }
    for (name, value) in &bindings.params {
        b32 = b32.param(name, value.mapv(|v| v as f32));
    }
    let f32_values = evaluate(&probe, &b32, &wanted).unwrap();
    for (a, b) in f64_values.iter().zip(&f32_values) {
        for (x, y) in a.iter().zip(b.iter()) {
            assert!((x - f64::from(*y)).abs() < 1e-5, "{x} vs {y}");
        }
    }
}

#[test]
fn mlp_trains_with_sgd_in_the_ir() {
    // The update p - lr * grad is part of the same graph, as the training step will be.
    let mut model = mlp();
    let g = &mut model.graph;
    let grads = differentiate(g, model.loss, &model.params);
    for ((name, _), (&param, &grad)) in PARAM_SHAPES.iter().zip(model.params.iter().zip(&grads)) {
        let step = g.scale(grad, -0.5);
        let updated = g.add(param, step);
        g.output(format!("{name}.next"), updated);
    }
    verify(g).unwrap();
    let updates: Vec<NodeId> = g.outputs[1..].iter().map(|&(_, id)| id).collect();
    let mut bindings = mlp_bindings();
    let initial = evaluate(g, &bindings, &[model.loss]).unwrap()[0].sum();
    for _ in 0..200 {
        let next = evaluate(g, &bindings, &updates).unwrap();
        for ((name, _), value) in PARAM_SHAPES.iter().zip(next) {
            bindings.params.insert(name.to_string(), value);
        }
    }
    let last = evaluate(g, &bindings, &[model.loss]).unwrap()[0].sum();
    assert!(last < 0.1 * initial, "loss {initial} -> {last}");
}
