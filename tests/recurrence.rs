//! Recurrence (issue 14): `scan` over a user-defined cell, `lstm`, `gru` and
//! `bidirectional`. Forward values against loops written here from PyTorch's formulas,
//! gradients (backpropagation through the unrolled steps) against central differences,
//! shapes, names and weight sharing.

mod common;

use common::*;
use ndarray::{ArrayD, IxDyn};
use nnc::lower::Mode;
use nnc::prim::interp::Bindings;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `w [rows, cols] · v [cols]`.
fn matvec(w: &ArrayD<f64>, v: &[f64]) -> Vec<f64> {
    let (rows, cols) = (w.shape()[0], w.shape()[1]);
    (0..rows)
        .map(|r| (0..cols).map(|c| w[[r, c]] * v[c]).sum())
        .collect()
}

/// Random parameters for `lowered`, kept by name so the reference loops can read them.
fn params(lowered: &nnc::lower::Lowered, seed: u64) -> Vec<(String, ArrayD<f64>)> {
    let mut r = rng(seed);
    lowered
        .params
        .iter()
        .map(|p| (p.name.clone(), uniform(&mut r, &p.shape, -1.0, 1.0)))
        .collect()
}

fn bind(params: &[(String, ArrayD<f64>)]) -> Bindings<f64> {
    params
        .iter()
        .fold(Bindings::new(), |b, (n, v)| b.param(n, v.clone()))
}

fn get<'a>(params: &'a [(String, ArrayD<f64>)], name: &str) -> &'a ArrayD<f64> {
    &params.iter().find(|(n, _)| n == name).unwrap().1
}

/// One step of PyTorch's LSTM (gates i, f, g, o) or GRU (r, z, n) for one example.
fn reference_step(
    lstm: Option<f64>,
    p: &[(String, ArrayD<f64>)],
    layer: &str,
    x: &[f64],
    h: &[f64],
    c: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let units = h.len();
    let gi: Vec<f64> = matvec(get(p, &format!("{layer}.weight_ih")), x)
        .iter()
        .zip(get(p, &format!("{layer}.bias_ih")).iter())
        .map(|(a, b)| a + b)
        .collect();
    let gh: Vec<f64> = matvec(get(p, &format!("{layer}.weight_hh")), h)
        .iter()
        .zip(get(p, &format!("{layer}.bias_hh")).iter())
        .map(|(a, b)| a + b)
        .collect();
    let mut h2 = vec![0.0; units];
    let mut c2 = vec![0.0; units];
    for u in 0..units {
        let at = |k: usize| (gi[k * units + u], gh[k * units + u]);
        match lstm {
            Some(forget_bias) => {
                let i = sigmoid(at(0).0 + at(0).1);
                let f = sigmoid(at(1).0 + at(1).1 + forget_bias);
                let g = (at(2).0 + at(2).1).tanh();
                let o = sigmoid(at(3).0 + at(3).1);
                c2[u] = f * c[u] + i * g;
                h2[u] = o * c2[u].tanh();
            }
            None => {
                let r = sigmoid(at(0).0 + at(0).1);
                let z = sigmoid(at(1).0 + at(1).1);
                let n = (at(2).0 + r * at(2).1).tanh();
                h2[u] = (1.0 - z) * n + z * h[u];
            }
        }
    }
    (h2, c2)
}

/// The whole sequence of `x` `[N, T, F]` through the reference cell: every step's h,
/// `[N, T, units]`, in input order.
fn reference(
    lstm: Option<f64>,
    p: &[(String, ArrayD<f64>)],
    layer: &str,
    x: &ArrayD<f64>,
    units: usize,
    reverse: bool,
) -> ArrayD<f64> {
    let (n, t, f) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let mut out = ArrayD::zeros(IxDyn(&[n, t, units]));
    for b in 0..n {
        let (mut h, mut c) = (vec![0.0; units], vec![0.0; units]);
        let steps: Vec<usize> = if reverse {
            (0..t).rev().collect()
        } else {
            (0..t).collect()
        };
        for s in steps {
            let xs: Vec<f64> = (0..f).map(|k| x[[b, s, k]]).collect();
            (h, c) = reference_step(lstm, p, layer, &xs, &h, &c);
            for u in 0..units {
                out[[b, s, u]] = h[u];
            }
        }
    }
    out
}

#[test]
fn lstm_and_gru_follow_pytorch_formulas() {
    for (layer, lstm, reverse) in [
        ("lstm(3, forget_bias: 0.5)", Some(0.5), false),
        ("lstm(3, reverse: true)", Some(1.0), true),
        ("gru(3)", None, false),
        ("gru(3, reverse: true)", None, true),
    ] {
        let net = single("[4, 2]", layer);
        let lowered = lower(&net, Mode::Eval, 2);
        let p = params(&lowered, 7);
        let x = uniform(&mut rng(3), &[2, 4, 2], -1.0, 1.0);
        let y = forward(&lowered, std::slice::from_ref(&x), bind(&p));
        let name = &net.layers[1].name;
        assert_close(&y, &reference(lstm, &p, name, &x, 3, reverse), 1e-12);
    }
}

#[test]
fn return_sequences_false_is_the_last_step_computed() {
    for (layer, lstm, reverse, last) in [
        ("lstm(2, return_sequences: false)", Some(1.0), false, 4),
        (
            "gru(2, return_sequences: false, reverse: true)",
            None,
            true,
            0,
        ),
    ] {
        let net = single("[5, 3]", layer);
        assert_eq!(net.layers[1].shape, vec![2]);
        let lowered = lower(&net, Mode::Eval, 2);
        let p = params(&lowered, 1);
        let x = uniform(&mut rng(2), &[2, 5, 3], -1.0, 1.0);
        let y = forward(&lowered, std::slice::from_ref(&x), bind(&p));
        let all = reference(lstm, &p, &net.layers[1].name, &x, 2, reverse);
        let expected = all.index_axis(ndarray::Axis(1), last).to_owned().into_dyn();
        assert_close(&y, &expected, 1e-12);
    }
}

#[test]
fn bidirectional_joins_a_forward_and_a_reversed_copy() {
    let net = single("[4, 2]", "bidirectional(lstm(3))");
    let names: Vec<&str> = net.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "x",
            "bidirectional1.lstm1",
            "bidirectional1.lstm2",
            "bidirectional1"
        ]
    );
    assert_eq!(net.layers[3].shape, vec![4, 6]);
    let lowered = lower(&net, Mode::Eval, 2);
    let p = params(&lowered, 5);
    let x = uniform(&mut rng(6), &[2, 4, 2], -1.0, 1.0);
    let y = forward(&lowered, std::slice::from_ref(&x), bind(&p));
    let fwd = reference(Some(1.0), &p, "bidirectional1.lstm1", &x, 3, false);
    let bwd = reference(Some(1.0), &p, "bidirectional1.lstm2", &x, 3, true);
    let expected = ndarray::concatenate(ndarray::Axis(2), &[fwd.view(), bwd.view()]).unwrap();
    assert_close(&y, &expected, 1e-12);
}

const ELMAN: &str = "
block elman(x, h) {
  return (x |> dense(3)) + (h |> dense(3, bias: false)) |> tanh
}
";

fn scan_net(shape: &str, scan: &str) -> nnc::hir::Network {
    network(&format!(
        "{ELMAN}\nnetwork n {{\n  input x: {shape}\n  output y = x |> {scan}\n}}\n"
    ))
}

/// An Elman cell h' = tanh(W x + b + U h), written by the user as a block, against a loop.
#[test]
fn scan_applies_a_user_cell_with_shared_weights() {
    for (scan, reverse, sequences) in [
        ("scan(elman, state: [3])", false, true),
        (
            "scan(elman, state: [3], reverse: true, init: 0.5)",
            true,
            true,
        ),
        (
            "scan(elman, state: [3], return_sequences: false)",
            false,
            false,
        ),
    ] {
        let net = scan_net("[4, 2]", scan);
        let lowered = lower(&net, Mode::Eval, 2);
        // One weight per cell layer, whatever the number of steps.
        let names: Vec<&str> = lowered.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "elman1.dense1.weight",
                "elman1.dense1.bias",
                "elman1.dense2.weight"
            ]
        );
        let p = params(&lowered, 9);
        let x = uniform(&mut rng(8), &[2, 4, 2], -1.0, 1.0);
        let y = forward(&lowered, std::slice::from_ref(&x), bind(&p));
        let (w, b, u) = (
            get(&p, "elman1.dense1.weight"),
            get(&p, "elman1.dense1.bias"),
            get(&p, "elman1.dense2.weight"),
        );
        let init = if reverse { 0.5 } else { 0.0 };
        let mut expected = ArrayD::zeros(IxDyn(&[2, 4, 3]));
        let mut last = ArrayD::zeros(IxDyn(&[2, 3]));
        for n in 0..2 {
            let mut h = vec![init; 3];
            let steps: Vec<usize> = if reverse {
                (0..4).rev().collect()
            } else {
                (0..4).collect()
            };
            for t in steps {
                let xs = [x[[n, t, 0]], x[[n, t, 1]]];
                let (wx, uh) = (matvec(w, &xs), matvec(u, &h));
                h = (0..3).map(|k| (wx[k] + b[[k]] + uh[k]).tanh()).collect();
                for k in 0..3 {
                    expected[[n, t, k]] = h[k];
                    last[[n, k]] = h[k];
                }
            }
        }
        assert_close(&y, if sequences { &expected } else { &last }, 1e-12);
    }
}

/// Stepping along axis 1 of `[C, H, W]` (rows, as PixelRNN's Row LSTM will): each step sees
/// a `[C, W]` row and the states are stacked back on axis 1.
#[test]
fn scan_along_an_inner_axis_stacks_states_there() {
    let spec = "
block row(x, h) {
  return (x |> dense(4, flatten: false)) + h |> tanh
}
network n {
  input x: [2, 5, 3]
  let r = x |> reshape([2, 5, 3])
  output y = r |> scan(row, state: [2, 4], over: 1)
}
";
    let net = network(spec);
    let scan = net.layers.last().unwrap();
    assert_eq!(scan.shape, vec![2, 5, 4]);
    let lowered = lower(&net, Mode::Train, 2);
    let x = uniform(&mut rng(1), &[2, 2, 5, 3], -1.0, 1.0);
    let params = random_params(&lowered, &mut rng(2));
    gradcheck(&lowered, &[x], params, 3);
}

/// Backpropagation through time is autodiff of the unrolled steps.
#[test]
fn gradients_through_time_match_central_differences() {
    for (i, layers) in [
        "lstm(3)",
        "lstm(2, return_sequences: false, forget_bias: 0)",
        "gru(3, reverse: true)",
        "gru(2, return_sequences: false, bias: false)",
        "bidirectional(lstm(2))",
        "bidirectional(gru(2, return_sequences: false))",
        "lstm(3) |> lstm(2, reverse: true)",
    ]
    .into_iter()
    .enumerate()
    {
        let net = single("[4, 3]", layers);
        let lowered = lower(&net, Mode::Train, 2);
        let x = uniform(&mut rng(i as u64), &[2, 4, 3], -1.5, 1.5);
        let params = random_params(&lowered, &mut rng(i as u64 + 10));
        gradcheck(&lowered, &[x], params, i as u64);
    }
    for (i, scan) in [
        "scan(elman, state: [3])",
        "scan(elman, state: [3], reverse: true, return_sequences: false, init: 0.3)",
        "bidirectional(scan(elman, state: [3]))",
    ]
    .into_iter()
    .enumerate()
    {
        let net = scan_net("[5, 2]", scan);
        let lowered = lower(&net, Mode::Train, 2);
        let x = uniform(&mut rng(i as u64), &[2, 5, 2], -1.5, 1.5);
        let params = random_params(&lowered, &mut rng(i as u64 + 20));
        gradcheck(&lowered, &[x], params, i as u64);
    }
}

/// The cell's layers are reported with their last step's value (for the non-finite check
/// and LSUV), once, in network order.
#[test]
fn cell_layers_are_listed_once_in_layer_outputs() {
    let net = scan_net("[3, 2]", "scan(elman, state: [3])");
    let lowered = lower(&net, Mode::Eval, 1);
    let names: Vec<&str> = lowered
        .layer_outputs
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    let layers: Vec<&str> = net.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, layers);
}
