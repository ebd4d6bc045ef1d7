//! Forward values of the sequence and newer layers against independent computations:
//! silu, elu and softplus against PyTorch's definitions, layer_scale and per-position
//! layers, conv1d and transposed convolution against direct loops, attention against
//! PyTorch-style loops, embedding lookups, and their parameter counts.

mod common;

use common::*;
use ndarray::{ArrayD, Axis, IxDyn};
use nnc::lower::Mode;
use nnc::prim::interp::Bindings;
use proptest::prelude::*;

// ------------------------------------------------------------------ issue 12's layers

/// SiLU, ELU and softplus as PyTorch's docs define them (`F.silu`, `F.elu`, `F.softplus`
/// with `beta` and `threshold`).
#[test]
fn silu_elu_softplus_match_pytorch_definitions() {
    let xs: Vec<f64> = (0..=240).map(|i| -30.0 + 0.25 * i as f64).collect();
    let x = ArrayD::from_shape_vec(IxDyn(&[1, xs.len()]), xs.clone()).unwrap();
    let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
    let softplus = |v: f64, beta: f64, threshold: f64| {
        if beta * v > threshold {
            v
        } else {
            (1.0 + (beta * v).exp()).ln() / beta
        }
    };
    type Reference = Box<dyn Fn(f64) -> f64>;
    let cases: Vec<(&str, Reference)> = vec![
        ("silu", Box::new(move |v| v * sigmoid(v))),
        (
            "elu",
            Box::new(|v: f64| if v > 0.0 { v } else { v.exp() - 1.0 }),
        ),
        (
            "elu(alpha: 0.3)",
            Box::new(|v: f64| if v > 0.0 { v } else { 0.3 * (v.exp() - 1.0) }),
        ),
        ("softplus", Box::new(move |v| softplus(v, 1.0, 20.0))),
        (
            "softplus(beta: 2, threshold: 5)",
            Box::new(move |v| softplus(v, 2.0, 5.0)),
        ),
    ];
    for (layer, reference) in cases {
        let net = single(&format!("[{}]", xs.len()), layer);
        let y = forward(
            &lower(&net, Mode::Eval, 1),
            std::slice::from_ref(&x),
            Bindings::new(),
        );
        for (xi, yi) in xs.iter().zip(y.iter()) {
            let want = reference(*xi);
            // f64 throughout; softplus is computed as max(z, 0) + log(1 + exp(-|z|)), which
            // equals log(1 + exp(z)) up to rounding.
            assert!(
                (yi - want).abs() <= 1e-12 * (1.0 + want.abs()),
                "{layer} at {xi}: {yi} vs {want}"
            );
        }
    }
}

#[test]
fn layer_scale_and_per_position_layers_forward() {
    let mut r = rng(8);
    let x = uniform(&mut r, &[2, 3, 4], -1.0, 1.0);
    // layer_scale: channel c (axis 0, or axis 1 of [tokens, features]) times gamma_c.
    for (layer, axis) in [("layer_scale", 0usize), ("layer_scale(axis: 1)", 1)] {
        let lowered = lower(&single("[3, 4]", layer), Mode::Eval, 2);
        let gamma = uniform(&mut r, &lowered.params[0].shape, 0.5, 2.0);
        let y = forward(
            &lowered,
            std::slice::from_ref(&x),
            Bindings::new().param(&lowered.params[0].name, gamma.clone()),
        );
        let mut expected = x.clone();
        for ((_, i, j), v) in expected
            .view_mut()
            .into_dimensionality::<ndarray::Ix3>()
            .unwrap()
            .indexed_iter_mut()
        {
            *v *= gamma[[if axis == 0 { i } else { j }]];
        }
        assert_close(&y, &expected, 1e-15);
    }
    // The default initial scale is 1e-6.
    let lowered = lower(&single("[3, 4]", "layer_scale"), Mode::Eval, 2);
    assert_eq!(
        lowered.params[0].init,
        nnc::hir::Init::Constant { value: 1e-6 }
    );

    // dense(flatten: false) is x W^T + b on every row; layer_norm(axes: last) normalizes
    // every row over its 4 features (biased variance, as PyTorch).
    let lowered = lower(&single("[3, 4]", "dense(5, flatten: false)"), Mode::Eval, 2);
    let w = uniform(&mut r, &[5, 4], -1.0, 1.0);
    let b = uniform(&mut r, &[5], -1.0, 1.0);
    let y = forward(
        &lowered,
        std::slice::from_ref(&x),
        Bindings::new()
            .param("dense1.weight", w.clone())
            .param("dense1.bias", b.clone()),
    );
    let rows = x.clone().into_shape_with_order((6, 4)).unwrap();
    let w2 = w.into_dimensionality::<ndarray::Ix2>().unwrap();
    let expected = (rows.dot(&w2.t()) + &b)
        .into_shape_with_order(IxDyn(&[2, 3, 5]))
        .unwrap();
    assert_close(&y, &expected, 1e-14);

    let lowered = lower(
        &single("[3, 4]", "layer_norm(axes: last, affine: false)"),
        Mode::Eval,
        2,
    );
    let y = forward(&lowered, std::slice::from_ref(&x), Bindings::new());
    let mut expected = x.clone();
    for mut row in expected.lanes_mut(Axis(2)) {
        let mean = row.mean().unwrap();
        let var = row.mapv(|v| (v - mean).powi(2)).mean().unwrap();
        row.mapv_inplace(|v| (v - mean) / (var + 1e-5).sqrt());
    }
    assert_close(&y, &expected, 1e-12);
}

proptest! {
    #![proptest_config(config(24))]

    /// conv1d against PyTorch's definition as a direct loop:
    /// y[f, o] = b[f] + sum over c in f's group, t of w[f, c, t] x[c, o·s - p + t·d].
    #[test]
    fn conv1d_matches_direct_loops(cg in 1usize..3, groups in 1usize..3, fg in 1usize..3,
                                   k in 1usize..4, s in 1usize..3, d in 1usize..3,
                                   p in 0usize..3, extra in 0usize..4, seed: u64) {
        let (c, f) = (cg * groups, fg * groups);
        let l = (d * (k - 1) + 1).saturating_sub(2 * p).max(1) + extra;
        let layer = format!("conv1d({f}, {k}, stride: {s}, pad: {p}, dilation: {d}, groups: {groups})");
        let lowered = lower(&single(&format!("[{c}, {l}]"), &layer), Mode::Eval, 2);
        let mut r = rng(seed);
        let x = uniform(&mut r, &[2, c, l], -1.0, 1.0);
        let w = uniform(&mut r, &[f, cg, k], -1.0, 1.0);
        let b = uniform(&mut r, &[f], -1.0, 1.0);
        let y = forward(&lowered, std::slice::from_ref(&x),
                        Bindings::new().param("conv1d1.weight", w.clone()).param("conv1d1.bias", b.clone()));
        let ol = (l + 2 * p - d * (k - 1) - 1) / s + 1;
        let mut expected = ArrayD::zeros(IxDyn(&[2, f, ol]));
        for n in 0..2 {
            for fi in 0..f {
                let group = fi / fg;
                for o in 0..ol {
                    let mut acc = b[[fi]];
                    for ci in 0..cg {
                        for t in 0..k {
                            let pos = (o * s + t * d) as isize - p as isize;
                            if pos >= 0 && (pos as usize) < l {
                                acc += w[[fi, ci, t]] * x[[n, group * cg + ci, pos as usize]];
                            }
                        }
                    }
                    expected[[n, fi, o]] = acc;
                }
            }
        }
        assert_close(&y, &expected, 1e-13);
    }

    /// conv_transpose against PyTorch's ConvTranspose2d as a scatter loop: input pixel (i,
    /// j) of channel c adds w[c, f, a, b] x[c, i, j] to output (i·s - p + a, j·s - p + b),
    /// with H' = (H - 1)·s - 2p + k + output_pad.
    #[test]
    fn conv_transpose_matches_scatter_loops(c in 1usize..3, f in 1usize..3,
                                            k in (1usize..4, 1usize..4), s in (1usize..4, 1usize..4),
                                            p in (0usize..2, 0usize..2), op in (0usize..3, 0usize..3),
                                            h in 1usize..4, w in 1usize..4, seed: u64) {
        let (kh, kw) = k;
        let (sh, sw) = s;
        let (oph, opw) = (op.0 % sh, op.1 % sw);
        let (ph, pw) = (p.0.min((kh - 1) / 2), p.1.min((kw - 1) / 2));
        let layer = format!("conv_transpose({f}, [{kh}, {kw}], stride: [{sh}, {sw}], pad: [{ph}, {pw}], output_pad: [{oph}, {opw}])");
        let net = single(&format!("[{c}, {h}, {w}]"), &layer);
        let (oh, ow) = ((h - 1) * sh + kh + oph - 2 * ph, (w - 1) * sw + kw + opw - 2 * pw);
        prop_assert_eq!(&net.layers[1].shape, &vec![f as u64, oh as u64, ow as u64]);
        let lowered = lower(&net, Mode::Eval, 2);
        let mut r = rng(seed);
        let x = uniform(&mut r, &[2, c, h, w], -1.0, 1.0);
        let wt = uniform(&mut r, &[c, f, kh, kw], -1.0, 1.0);
        let b = uniform(&mut r, &[f], -1.0, 1.0);
        let y = forward(&lowered, std::slice::from_ref(&x),
                        Bindings::new().param("conv_transpose1.weight", wt.clone()).param("conv_transpose1.bias", b.clone()));
        let mut expected = ArrayD::zeros(IxDyn(&[2, f, oh, ow]));
        for n in 0..2 {
            for fi in 0..f {
                for yi in 0..oh {
                    for xi in 0..ow {
                        expected[[n, fi, yi, xi]] = b[[fi]];
                    }
                }
                for ci in 0..c {
                    for i in 0..h {
                        for j in 0..w {
                            for a in 0..kh {
                                for bb in 0..kw {
                                    let (yi, xi) = ((i * sh + a) as isize - ph as isize, (j * sw + bb) as isize - pw as isize);
                                    if yi >= 0 && xi >= 0 && (yi as usize) < oh && (xi as usize) < ow {
                                        expected[[n, fi, yi as usize, xi as usize]] += wt[[ci, fi, a, bb]] * x[[n, ci, i, j]];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_close(&y, &expected, 1e-13);
    }
}

/// PyTorch's `MultiheadAttention` forward (batch-first, self-attention) written as loops:
/// q, k, v = x W_q^T + b_q, ... from the stacked `in_proj_weight`, per head softmax of
/// q·k / sqrt(E / H) over the keys (only keys j <= i with `causal`), the heads joined and
/// projected by `out_proj`.
fn attention_ref(
    x: &ArrayD<f64>,
    params: &[ArrayD<f64>; 4],
    heads: usize,
    causal: bool,
) -> ArrayD<f64> {
    let [in_w, in_b, out_w, out_b] = params;
    let (n, t, e) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let dh = e / heads;
    let proj = |row: usize, b: usize, i: usize| -> f64 {
        in_b[[row]] + (0..e).map(|m| in_w[[row, m]] * x[[b, i, m]]).sum::<f64>()
    };
    let mut y = ArrayD::zeros(IxDyn(&[n, t, e]));
    for b in 0..n {
        let mut joined = vec![vec![0.0; e]; t];
        for h in 0..heads {
            for (i, row) in joined.iter_mut().enumerate() {
                let keys: Vec<usize> = (0..t).filter(|&j| !causal || j <= i).collect();
                let scores: Vec<f64> = keys
                    .iter()
                    .map(|&j| {
                        (0..dh)
                            .map(|d| proj(h * dh + d, b, i) * proj(e + h * dh + d, b, j))
                            .sum::<f64>()
                            / (dh as f64).sqrt()
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f64 = exps.iter().sum();
                for d in 0..dh {
                    row[h * dh + d] = keys
                        .iter()
                        .zip(&exps)
                        .map(|(&j, ex)| ex / total * proj(2 * e + h * dh + d, b, j))
                        .sum();
                }
            }
        }
        for i in 0..t {
            for o in 0..e {
                y[[b, i, o]] =
                    out_b[[o]] + (0..e).map(|m| out_w[[o, m]] * joined[i][m]).sum::<f64>();
            }
        }
    }
    y
}

#[test]
fn attention_matches_pytorch_loops() {
    for (i, (t, e, heads, causal)) in [(3, 4, 1, false), (4, 6, 2, false), (5, 6, 3, true)]
        .into_iter()
        .enumerate()
    {
        let layer = format!("attention({heads}, causal: {causal})");
        let lowered = lower(&single(&format!("[{t}, {e}]"), &layer), Mode::Eval, 2);
        let names: Vec<&str> = lowered.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "attention1.in_proj_weight",
                "attention1.in_proj_bias",
                "attention1.out_proj.weight",
                "attention1.out_proj.bias"
            ]
        );
        let mut r = rng(i as u64);
        let x = uniform(&mut r, &[2, t, e], -1.0, 1.0);
        let params = [
            uniform(&mut r, &[3 * e, e], -1.0, 1.0),
            uniform(&mut r, &[3 * e], -1.0, 1.0),
            uniform(&mut r, &[e, e], -1.0, 1.0),
            uniform(&mut r, &[e], -1.0, 1.0),
        ];
        let mut bindings = Bindings::new();
        for (p, v) in lowered.params.iter().zip(&params) {
            bindings = bindings.param(&p.name, v.clone());
        }
        let y = forward(&lowered, std::slice::from_ref(&x), bindings);
        assert_close(&y, &attention_ref(&x, &params, heads, causal), 1e-12);
    }
}

#[test]
fn embedding_reads_rows_and_zeros_for_ids_that_name_none() {
    let lowered = lower(&single("[2, 3]", "embedding(4, 2)"), Mode::Eval, 1);
    assert_eq!(
        lowered.params[0].init,
        nnc::hir::Init::Gaussian {
            mean: 0.0,
            std: 1.0
        }
    );
    let table = arr(&[4, 2], &[0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]);
    let ids = arr(&[1, 2, 3], &[3.0, 0.0, 3.0, 1.0, 4.0, 0.5]);
    let y = forward(
        &lowered,
        &[ids],
        Bindings::new().param("embedding1.weight", table),
    );
    let expected = arr(
        &[1, 2, 3, 2],
        &[3.5, 4.0, 0.5, 1.0, 3.5, 4.0, 1.5, 2.0, 0.0, 0.0, 0.0, 0.0],
    );
    assert_close(&y, &expected, 0.0);
}

/// What `nnc summary` counts for the new layers (docs/language.md, "Counting").
#[test]
fn new_layers_are_counted() {
    let net = network(
        "network n {\n  input x: [6]\n  input img: [3, 5, 5]\n  input seq: [4, 10]\n\
           let e = x |> embedding(100, 8)\n\
           let t = e |> dense(12, flatten: false) |> attention(3) |> layer_norm(axes: last) |> layer_scale(axis: 1)\n\
           let c = img |> conv_transpose(2, 3, stride: 2, pad: 1, output_pad: 1)\n\
           let s = seq |> conv1d(6, 3, pad: 1, groups: 2)\n\
           output a = t\n  output b = c\n  output d = s\n}\n",
    );
    let row = |name: &str| {
        let id = nnc::hir::LayerId(net.layers.iter().position(|l| l.name == name).unwrap() as u32);
        let params: Vec<(String, Vec<u64>)> = nnc::hir::params::params(&net, id)
            .into_iter()
            .map(|p| (p.name.to_string(), p.shape))
            .collect();
        (
            params,
            nnc::hir::params::macs(&net, id),
            net.layer(id).shape.clone(),
        )
    };
    let p = |v: &[(&str, &[u64])]| -> Vec<(String, Vec<u64>)> {
        v.iter().map(|(n, s)| (n.to_string(), s.to_vec())).collect()
    };
    assert_eq!(
        row("embedding1"),
        (p(&[("weight", &[100, 8])]), 0, vec![6, 8])
    );
    // Per position: 12 x 8 weights used at each of 6 positions.
    assert_eq!(
        row("dense1"),
        (
            p(&[("weight", &[12, 8]), ("bias", &[12])]),
            12 * 8 * 6,
            vec![6, 12]
        )
    );
    // 4 E^2 projection weights per token, plus T^2 E twice.
    assert_eq!(
        row("attention1"),
        (
            p(&[
                ("in_proj_weight", &[36, 12]),
                ("in_proj_bias", &[36]),
                ("out_proj.weight", &[12, 12]),
                ("out_proj.bias", &[12])
            ]),
            4 * 144 * 6 + 2 * 36 * 12,
            vec![6, 12]
        )
    );
    assert_eq!(
        row("layer_norm1"),
        (p(&[("weight", &[12]), ("bias", &[12])]), 0, vec![6, 12])
    );
    assert_eq!(
        row("layer_scale1"),
        (p(&[("gamma", &[12])]), 0, vec![6, 12])
    );
    // (5 - 1)·2 - 2 + 3 + 1 = 10; each weight used once per input pixel.
    assert_eq!(
        row("conv_transpose1"),
        (
            p(&[("weight", &[3, 2, 3, 3]), ("bias", &[2])]),
            3 * 2 * 9 * 25,
            vec![2, 10, 10]
        )
    );
    assert_eq!(
        row("conv1d1"),
        (
            p(&[("weight", &[6, 2, 3]), ("bias", &[6])]),
            6 * 2 * 3 * 10,
            vec![6, 10]
        )
    );
}
