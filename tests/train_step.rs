//! The training step as one graph (`train::step`): the optimizer updates against
//! PyTorch's formulas computed by hand for two steps, with per-layer `lr_mult` and
//! `decay_mult`; and the losses against their definitions, including logits of +-1000.

mod common;

use common::*;
use ndarray::{Array1, Array2, ArrayD, Axis, Ix1, Ix2, IxDyn};
use nnc::lower::Mode;
use nnc::prim::autodiff::differentiate;
use nnc::prim::interp::{evaluate, Bindings};
use nnc::train::step::{self, forward_with_loss, training_step};
use std::collections::HashMap;

// ------------------------------------------------------------------ optimizers

#[derive(Clone, Copy, Debug)]
enum Opt {
    Sgd {
        lr: f64,
        momentum: f64,
        nesterov: bool,
        wd: f64,
    },
    Adam {
        lr: f64,
        b1: f64,
        b2: f64,
        eps: f64,
        wd: f64,
        decoupled: bool,
    },
    RmsProp {
        lr: f64,
        alpha: f64,
        eps: f64,
        momentum: f64,
        centered: bool,
        wd: f64,
    },
}

/// A two-layer linear network with mse, so the gradients are easy by hand. The first
/// layer learns twice as fast and decays half as much; the second layer does not decay.
fn spec(optimizer: &str) -> String {
    format!(
        "data d {{ source: builtin(\"digits\") }}\n\
         network n {{\n  input x: [3]\n\
           let h = x |> dense(4, lr_mult: 2, decay_mult: 0.5)\n\
           output y = h |> dense(2, decay_mult: 0)\n}}\n\
         train {{\n  network: n\n  data: d\n  loss: mse\n  optimizer: {optimizer}\n}}\n"
    )
}

/// (lr_mult, decay_mult) of each parameter, as the spec says.
fn multipliers(name: &str) -> (f64, f64) {
    if name.starts_with("dense1") {
        (2.0, 0.5)
    } else {
        (1.0, 0.0)
    }
}

fn m2(a: &ArrayD<f64>) -> Array2<f64> {
    a.clone().into_dimensionality::<Ix2>().unwrap()
}

fn m1(a: &ArrayD<f64>) -> Array1<f64> {
    a.clone().into_dimensionality::<Ix1>().unwrap()
}

/// Gradients of mean((p - y)^2) for p = (x W1^T + b1) W2^T + b2, by hand.
fn grads(
    w: &HashMap<String, ArrayD<f64>>,
    x: &Array2<f64>,
    y: &Array2<f64>,
) -> HashMap<String, ArrayD<f64>> {
    let (w1, b1) = (m2(&w["dense1.weight"]), m1(&w["dense1.bias"]));
    let (w2, b2) = (m2(&w["dense2.weight"]), m1(&w["dense2.bias"]));
    let h = x.dot(&w1.t()) + &b1;
    let p = h.dot(&w2.t()) + &b2;
    let dp = (&p - y) * (2.0 / p.len() as f64);
    let dh = dp.dot(&w2);
    HashMap::from([
        ("dense2.weight".to_string(), dp.t().dot(&h).into_dyn()),
        ("dense2.bias".to_string(), dp.sum_axis(Axis(0)).into_dyn()),
        ("dense1.weight".to_string(), dh.t().dot(x).into_dyn()),
        ("dense1.bias".to_string(), dh.sum_axis(Axis(0)).into_dyn()),
    ])
}

/// One optimizer step by hand (PyTorch conventions): returns the new weights and
/// optimizer slots, named as nnc names them.
fn hand_step(
    opt: Opt,
    t: i32,
    w: &HashMap<String, ArrayD<f64>>,
    slots: &HashMap<String, ArrayD<f64>>,
    g: &HashMap<String, ArrayD<f64>>,
) -> HashMap<String, ArrayD<f64>> {
    let mut out = HashMap::new();
    for (name, value) in w {
        let (lr_mult, decay_mult) = multipliers(name);
        let grad = &g[name];
        match opt {
            Opt::Sgd {
                lr,
                momentum,
                nesterov,
                wd,
            } => {
                // d_p = g + wd * p; buf = momentum * buf + d_p; nesterov: d_p + momentum * buf.
                let d = grad + &(value * (wd * decay_mult));
                let step = if momentum > 0.0 {
                    let key = format!("opt.{name}.momentum");
                    let buf = &slots[&key] * momentum + &d;
                    let step = if nesterov {
                        &d + &(&buf * momentum)
                    } else {
                        buf.clone()
                    };
                    out.insert(key, buf);
                    step
                } else {
                    d
                };
                out.insert(name.clone(), value - &(step * (lr * lr_mult)));
            }
            Opt::Adam {
                lr,
                b1,
                b2,
                eps,
                wd,
                decoupled,
            } => {
                let (lr, wd) = (lr * lr_mult, wd * decay_mult);
                let d = if decoupled {
                    grad.clone()
                } else {
                    grad + &(value * wd)
                };
                let (mk, vk) = (format!("opt.{name}.m"), format!("opt.{name}.v"));
                let m = &slots[&mk] * b1 + &(&d * (1.0 - b1));
                let v = &slots[&vk] * b2 + &(d.mapv(|x| x * x) * (1.0 - b2));
                let m_hat = &m / (1.0 - b1.powi(t));
                let v_hat = &v / (1.0 - b2.powi(t));
                // AdamW: p *= 1 - lr * wd, then the Adam step.
                let base = if decoupled {
                    value * (1.0 - lr * wd)
                } else {
                    value.clone()
                };
                let step = m_hat / v_hat.mapv(|x| x.sqrt() + eps) * lr;
                out.insert(name.clone(), base - step);
                out.insert(mk, m);
                out.insert(vk, v);
            }
            Opt::RmsProp {
                lr,
                alpha,
                eps,
                momentum,
                centered,
                wd,
            } => {
                // torch.optim.RMSprop: g += wd p; v = a v + (1 - a) g^2; centered:
                // c = a c + (1 - a) g, avg = sqrt(v - c^2) + eps, else sqrt(v) + eps;
                // momentum: b = m b + g / avg, p -= lr b; else p -= lr g / avg.
                let d = grad + &(value * (wd * decay_mult));
                let vk = format!("opt.{name}.square_avg");
                let v = &slots[&vk] * alpha + &(d.mapv(|x| x * x) * (1.0 - alpha));
                let var = if centered {
                    let ck = format!("opt.{name}.grad_avg");
                    let c = &slots[&ck] * alpha + &(&d * (1.0 - alpha));
                    let var = &v - &c.mapv(|x| x * x);
                    out.insert(ck, c);
                    var
                } else {
                    v.clone()
                };
                let scaled = &d / &var.mapv(|x| x.sqrt() + eps);
                let step = if momentum > 0.0 {
                    let bk = format!("opt.{name}.momentum_buffer");
                    let b = &slots[&bk] * momentum + &scaled;
                    out.insert(bk, b.clone());
                    b
                } else {
                    scaled
                };
                out.insert(name.clone(), value - &(step * (lr * lr_mult)));
                out.insert(vk, v);
            }
        }
    }
    out
}

fn check_optimizer(text: &str, opt: Opt) {
    let checked = check(text);
    let net = &checked.program.networks[0];
    let decl = &checked.program.trains[0];
    let batch = 3;
    let p = training_step(net, decl, batch);
    let names: Vec<&str> = p.lowered.params.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "dense1.weight",
            "dense1.bias",
            "dense2.weight",
            "dense2.bias"
        ]
    );
    for d in &p.lowered.params {
        assert_eq!(
            (d.lr_mult, d.decay_mult),
            multipliers(&d.name),
            "{}",
            d.name
        );
    }
    let mut r = rng(42);
    let mut weights: HashMap<String, ArrayD<f64>> = p
        .lowered
        .params
        .iter()
        .map(|d| (d.name.clone(), uniform(&mut r, &d.shape, -1.0, 1.0)))
        .collect();
    let mut slots: HashMap<String, ArrayD<f64>> = p
        .opt_state
        .iter()
        .map(|s| {
            assert_eq!(s.init, 0.0);
            (s.name.clone(), ArrayD::zeros(IxDyn(&s.shape)))
        })
        .collect();
    let expected_slots = match opt {
        Opt::Sgd { momentum, .. } if momentum > 0.0 => 4,
        Opt::Sgd { .. } => 0,
        Opt::Adam { .. } => 8,
        Opt::RmsProp {
            momentum, centered, ..
        } => 4 * (1 + usize::from(momentum > 0.0) + usize::from(centered)),
    };
    assert_eq!(slots.len(), expected_slots, "{:?}", p.opt_state);
    let (lr, b1, b2) = match opt {
        Opt::Sgd { lr, .. } => (lr, 0.0, 0.0),
        Opt::Adam { lr, b1, b2, .. } => (lr, b1, b2),
        Opt::RmsProp { lr, .. } => (lr, 0.0, 0.0),
    };
    for t in 1..=2 {
        let x = uniform(&mut r, &[batch, 3], -1.0, 1.0);
        let y = uniform(&mut r, &[batch, 2], -1.0, 1.0);
        let mut bindings = Bindings::new()
            .input("x", x.clone())
            .input(step::TARGETS, y.clone())
            .input(step::LR, ArrayD::from_elem(IxDyn(&[]), lr));
        if let Opt::Adam { .. } = opt {
            // The host's bias corrections, as the trainer computes them.
            let c1 = 1.0 / (1.0 - b1.powi(t));
            let c2 = 1.0 / (1.0 - b2.powi(t)).sqrt();
            bindings = bindings
                .input(step::ADAM_C1, ArrayD::from_elem(IxDyn(&[]), c1))
                .input(step::ADAM_C2, ArrayD::from_elem(IxDyn(&[]), c2));
        }
        for (name, value) in weights.iter().chain(slots.iter()) {
            bindings = bindings.param(name, value.clone());
        }
        let wanted: Vec<_> = p.updates.iter().map(|(_, id)| *id).collect();
        let values = evaluate::<f64>(&p.graph, &bindings, &wanted).unwrap();
        let got: HashMap<&str, &ArrayD<f64>> = p
            .updates
            .iter()
            .map(|(n, _)| n.as_str())
            .zip(values.iter())
            .collect();

        let g = grads(&weights, &m2(&x), &m2(&y));
        let expected = hand_step(opt, t, &weights, &slots, &g);
        assert_eq!(got.len(), expected.len(), "updates {:?}", got.keys());
        for (name, want) in &expected {
            let have = got
                .get(name.as_str())
                .unwrap_or_else(|| panic!("no update for {name}"));
            assert_close(have, want, 1e-12);
        }
        for (name, value) in expected {
            if name.starts_with("opt.") {
                slots.insert(name, value);
            } else {
                weights.insert(name, value);
            }
        }
    }
}

#[test]
fn sgd_plain() {
    let opt = Opt::Sgd {
        lr: 0.1,
        momentum: 0.0,
        nesterov: false,
        wd: 0.0,
    };
    check_optimizer(&spec("sgd(lr: 0.1)"), opt);
}

#[test]
fn sgd_weight_decay() {
    let opt = Opt::Sgd {
        lr: 0.1,
        momentum: 0.0,
        nesterov: false,
        wd: 0.05,
    };
    check_optimizer(&spec("sgd(lr: 0.1, weight_decay: 0.05)"), opt);
}

#[test]
fn sgd_momentum() {
    let opt = Opt::Sgd {
        lr: 0.1,
        momentum: 0.9,
        nesterov: false,
        wd: 0.0,
    };
    check_optimizer(&spec("sgd(0.1, momentum: 0.9)"), opt);
}

#[test]
fn sgd_nesterov_with_weight_decay() {
    let opt = Opt::Sgd {
        lr: 0.05,
        momentum: 0.8,
        nesterov: true,
        wd: 0.01,
    };
    check_optimizer(
        &spec("sgd(lr: 0.05, momentum: 0.8, nesterov: true, weight_decay: 0.01)"),
        opt,
    );
}

#[test]
fn adam() {
    // PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, no weight decay.
    let opt = Opt::Adam {
        lr: 0.01,
        b1: 0.9,
        b2: 0.999,
        eps: 1e-8,
        wd: 0.0,
        decoupled: false,
    };
    check_optimizer(&spec("adam(lr: 0.01)"), opt);
}

#[test]
fn adam_l2_weight_decay() {
    let opt = Opt::Adam {
        lr: 0.02,
        b1: 0.8,
        b2: 0.99,
        eps: 1e-3,
        wd: 0.1,
        decoupled: false,
    };
    check_optimizer(
        &spec("adam(lr: 0.02, beta1: 0.8, beta2: 0.99, eps: 0.001, weight_decay: 0.1)"),
        opt,
    );
}

#[test]
fn adamw() {
    // PyTorch's AdamW default weight decay is 0.01.
    let opt = Opt::Adam {
        lr: 0.01,
        b1: 0.9,
        b2: 0.999,
        eps: 1e-8,
        wd: 0.01,
        decoupled: true,
    };
    check_optimizer(&spec("adamw(0.01)"), opt);
    let opt = Opt::Adam {
        lr: 0.05,
        b1: 0.5,
        b2: 0.9,
        eps: 1e-4,
        wd: 0.3,
        decoupled: true,
    };
    check_optimizer(
        &spec("adamw(lr: 0.05, beta1: 0.5, beta2: 0.9, eps: 0.0001, weight_decay: 0.3)"),
        opt,
    );
}

#[test]
fn rmsprop() {
    // PyTorch's defaults: lr 0.01, alpha 0.99, eps 1e-8, no momentum, not centered.
    let opt = Opt::RmsProp {
        lr: 0.01,
        alpha: 0.99,
        eps: 1e-8,
        momentum: 0.0,
        centered: false,
        wd: 0.0,
    };
    check_optimizer(&spec("rmsprop"), opt);
}

#[test]
fn rmsprop_centered_with_momentum_and_weight_decay() {
    let opt = Opt::RmsProp {
        lr: 0.02,
        alpha: 0.9,
        eps: 1e-6,
        momentum: 0.5,
        centered: true,
        wd: 0.1,
    };
    check_optimizer(
        &spec("rmsprop(lr: 0.02, alpha: 0.9, eps: 0.000001, momentum: 0.5, centered: true, weight_decay: 0.1)"),
        opt,
    );
}

/// lr_mult 0 freezes a layer, even under weight decay and momentum; the step also
/// returns the running statistics of batch norm.
#[test]
fn frozen_layers_and_state_updates() {
    let text = "data d { source: builtin(\"digits\") }\n\
        network n {\n  input x: [3]\n\
          let h = x |> dense(4, lr_mult: 0) |> batch_norm\n\
          output y = h |> dense(2)\n}\n\
        train {\n  network: n\n  data: d\n  loss: mse\n  optimizer: sgd(lr: 0.1, momentum: 0.9, weight_decay: 0.1)\n}\n";
    let checked = check(text);
    let p = training_step(&checked.program.networks[0], &checked.program.trains[0], 4);
    let mut r = rng(3);
    let mut bindings = random_params(&p.lowered, &mut r)
        .input("x", uniform(&mut r, &[4, 3], -1.0, 1.0))
        .input(step::TARGETS, uniform(&mut r, &[4, 2], -1.0, 1.0))
        .input(step::LR, ArrayD::from_elem(IxDyn(&[]), 0.1));
    for s in &p.opt_state {
        bindings = bindings.param(&s.name, uniform(&mut r, &s.shape, -1.0, 1.0));
    }
    let names: Vec<&str> = p.updates.iter().map(|(n, _)| n.as_str()).collect();
    for wanted in [
        "dense1.weight",
        "batch_norm1.running_mean",
        "batch_norm1.running_var",
    ] {
        assert!(names.contains(&wanted), "{names:?}");
    }
    let wanted: Vec<_> = p.updates.iter().map(|(_, id)| *id).collect();
    let values = evaluate::<f64>(&p.graph, &bindings, &wanted).unwrap();
    for ((name, _), value) in p.updates.iter().zip(&values) {
        if name.starts_with("dense1.") {
            assert_eq!(value, &bindings.params[name], "{name} must not move");
        } else if !name.starts_with("opt.") {
            assert_ne!(value, &bindings.params[name], "{name} must move");
        }
    }
}

// ------------------------------------------------------------------ losses

/// Logits fed straight into the loss: the network's output is its input.
fn loss_program(width: usize, loss: &str, batch: usize) -> step::Program {
    let text = format!(
        "data d {{ source: builtin(\"digits\") }}\n\
         network n {{\n  input x: [{width}]\n  output logits = x\n}}\n\
         train {{\n  network: n\n  data: d\n  loss: {loss}\n}}\n"
    );
    let checked = check(&text);
    forward_with_loss(
        &checked.program.networks[0],
        &checked.program.trains[0],
        batch,
        Mode::Eval,
    )
}

/// The per-example losses, the mean loss and its gradient with respect to the logits.
fn loss_and_grad(
    p: &step::Program,
    z: &ArrayD<f64>,
    y: &ArrayD<f64>,
) -> (ArrayD<f64>, f64, ArrayD<f64>) {
    let mut g = p.graph.clone();
    let input = p.lowered.inputs[0].1;
    let grad = differentiate(&mut g, p.loss, &[input])[0];
    let bindings = Bindings::new()
        .input("x", z.clone())
        .input(step::TARGETS, y.clone());
    let v = evaluate::<f64>(&g, &bindings, &[p.per_example, p.loss, grad]).unwrap();
    (v[0].clone(), v[1].sum(), v[2].clone())
}

fn one_hot(labels: &[usize], width: usize) -> ArrayD<f64> {
    let mut y = ArrayD::zeros(IxDyn(&[labels.len(), width]));
    for (i, &l) in labels.iter().enumerate() {
        y[[i, l]] = 1.0;
    }
    y
}

#[test]
fn cross_entropy_is_negative_log_softmax_picked() {
    let z = arr(
        &[4, 3],
        &[
            1.0, 2.0, 0.5, -1.0, 0.0, 3.0, 1000.0, -1000.0, 0.0, -1000.0, 999.0, 1000.0,
        ],
    );
    let labels = [1, 2, 1, 0];
    for smoothing in [0.0, 0.1, 0.3] {
        let loss = if smoothing == 0.0 {
            "cross_entropy".to_string()
        } else {
            format!("cross_entropy(label_smoothing: {smoothing})")
        };
        let p = loss_program(3, &loss, 4);
        let (per, mean, grad) = loss_and_grad(&p, &z, &one_hot(&labels, 3));
        for (i, &label) in labels.iter().enumerate() {
            let row: Vec<f64> = (0..3).map(|k| z[[i, k]]).collect();
            let max = row.iter().copied().fold(f64::MIN, f64::max);
            let lse = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            // PyTorch: target (1 - e) one_hot + e / K.
            let target =
                |k: usize| (1.0 - smoothing) * f64::from(u8::from(k == label)) + smoothing / 3.0;
            let expected: f64 = (0..3).map(|k| -target(k) * (row[k] - lse)).sum();
            assert!(
                (per[[i]] - expected).abs() < 1e-9 * (1.0 + expected.abs()),
                "{per} vs {expected}"
            );
            for k in 0..3 {
                let softmax = (row[k] - lse).exp();
                let want = (softmax - target(k)) / 4.0;
                assert!(
                    (grad[[i, k]] - want).abs() < 1e-12,
                    "grad {grad} at {i},{k}: {want}"
                );
            }
        }
        assert!((mean - per.mean().unwrap()).abs() < 1e-12);
        assert!(grad.iter().all(|v| v.is_finite()));
    }
    // Without smoothing: -log softmax at the label. Row 2 puts 1000 on class 0 and the
    // label is 1 (-1000): the loss is 2000, exactly.
    let p = loss_program(3, "cross_entropy", 4);
    let (per, _, _) = loss_and_grad(&p, &z, &one_hot(&labels, 3));
    assert_eq!(per[[2]], 2000.0);
}

#[test]
fn mse() {
    let p = loss_program(3, "mse", 2);
    let mut r = rng(5);
    let z = uniform(&mut r, &[2, 3], -2.0, 2.0);
    let y = uniform(&mut r, &[2, 3], -2.0, 2.0);
    let (per, mean, grad) = loss_and_grad(&p, &z, &y);
    let diff = &z - &y;
    let expected = diff.mapv(|d| d * d).mean_axis(Axis(1)).unwrap();
    assert_close(&per, &expected, 1e-14);
    assert!((mean - expected.mean().unwrap()).abs() < 1e-14);
    assert_close(&grad, &(diff * (2.0 / 6.0)), 1e-14);
}

#[test]
fn binary_cross_entropy_is_stable_for_huge_logits() {
    let z = arr(
        &[8, 1],
        &[1000.0, -1000.0, 1000.0, -1000.0, 0.0, 0.0, 2.0, -0.5],
    );
    let y = arr(&[8, 1], &[1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
    let p = loss_program(1, "binary_cross_entropy", 8);
    let (per, mean, grad) = loss_and_grad(&p, &z, &y);
    let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
    // -[y ln s + (1 - y) ln(1 - s)] where it is representable, the limits otherwise.
    let mut expected = vec![0.0, 1000.0, 1000.0, 0.0];
    for i in 4..8 {
        let (s, t) = (sigmoid(z[[i, 0]]), y[[i, 0]]);
        expected.push(-(t * s.ln() + (1.0 - t) * (1.0 - s).ln()));
    }
    assert_close(&per, &arr(&[8], &expected), 1e-12);
    assert!(mean.is_finite());
    assert!((mean - expected.iter().sum::<f64>() / 8.0).abs() < 1e-12);
    // d/dz = (sigmoid(z) - y) / batch, also at z = 0 where the stable form has kinks.
    let want = ArrayD::from_shape_fn(IxDyn(&[8, 1]), |i| {
        (sigmoid(z[[i[0], 0]]) - y[[i[0], 0]]) / 8.0
    });
    assert_close(&grad, &want, 1e-12);
}
