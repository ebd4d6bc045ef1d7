//! Differential testing of the JIT against the reference interpreter: the training step of
//! every spec (forward outputs, loss, gradients folded into the update, one optimizer step)
//! must agree within a documented tolerance (docs/testing.md); random graphs are in
//! tests/jit_random.rs. Also the maximum error of the transcendental functions.

mod common;

use ndarray::{ArrayD, IxDyn};
use nnc::lower::Mode;
use nnc::prim::interp::{self, Bindings};
use nnc::prim::{Graph, NodeId, Op};
use nnc::train::step;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// |jit - reference| <= ABS + REL * |reference|, per element.
const ABS: f32 = 1e-4;
const REL: f32 = 1e-3;

fn random_bindings(
    g: &Graph,
    seed: u64,
) -> (BTreeMap<String, ArrayD<f32>>, BTreeMap<String, ArrayD<f32>>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut inputs, mut params) = (BTreeMap::new(), BTreeMap::new());
    // Inputs read as ids by a `Gather` (embeddings) hold integers, one past the table too
    // (an id that names no row reads zeros in both backends).
    let ids: BTreeMap<NodeId, usize> = g
        .nodes
        .iter()
        .filter(|n| n.op == Op::Gather)
        .map(|n| (n.inputs[1], g.shape(n.inputs[0])[0]))
        .collect();
    for (index, node) in g.nodes.iter().enumerate() {
        if let Some(&vocab) = ids.get(&NodeId(index as u32)) {
            let Op::Input { name } = &node.op else {
                panic!("ids come from the data")
            };
            let n: usize = node.shape.iter().product();
            let data: Vec<f32> = (0..n).map(|_| rng.random_range(0..=vocab) as f32).collect();
            inputs.insert(
                name.clone(),
                ArrayD::from_shape_vec(IxDyn(&node.shape), data).unwrap(),
            );
            continue;
        }
        let (map, name) = match &node.op {
            Op::Input { name } => (&mut inputs, name),
            Op::Param { name } => (&mut params, name),
            _ => continue,
        };
        let n: usize = node.shape.iter().product();
        // Weights scaled like a real init (1/sqrt(fan-in)): with unit-scale weights a deep
        // net is chaotic and tiny rounding differences grow layer by layer.
        let scale = if node.shape.len() >= 2 && matches!(node.op, Op::Param { .. }) {
            1.0 / (node.shape[1..].iter().product::<usize>() as f32).sqrt()
        } else {
            1.0
        };
        // Variances stay positive and learning rates small, like real state.
        let data: Vec<f32> = (0..n)
            .map(|_| {
                let x: f32 = rng.random_range(-1.0..1.0);
                if name.contains("running_var")
                    || name.ends_with(".v")
                    || name.ends_with(".square_avg")
                    || name.starts_with("adam")
                {
                    x.abs() + 0.5
                } else if name == "lr" {
                    0.01
                } else {
                    x * scale
                }
            })
            .collect();
        map.insert(
            name.clone(),
            ArrayD::from_shape_vec(IxDyn(&node.shape), data).unwrap(),
        );
    }
    (inputs, params)
}

fn compare(label: &str, g: &Graph, wanted: &[NodeId], seed: u64, inference: bool) {
    let (inputs, params) = random_bindings(g, seed);
    let mut bindings = Bindings::new().seed(seed, 3);
    for (n, v) in &inputs {
        bindings = bindings.input(n, v.clone());
    }
    for (n, v) in &params {
        bindings = bindings.param(n, v.clone());
    }
    let reference =
        interp::evaluate::<f32>(g, &bindings, wanted).unwrap_or_else(|e| panic!("{label}: {e}"));
    let mut compiled = nnc::jit::compile(
        g,
        wanted,
        nnc::jit::Options {
            threads: 2,
            clif: false,
            inference,
        },
    )
    .unwrap_or_else(|e| panic!("{label}: {e}"));
    let input_slices: BTreeMap<&str, &[f32]> = inputs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice().unwrap()))
        .collect();
    let jit = compiled
        .run(&input_slices, &[&params], seed, 3)
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    for (k, (r, j)) in reference.iter().zip(jit).enumerate() {
        assert_eq!(r.shape(), j.shape(), "{label}: output {k}");
        for (i, (a, b)) in r.iter().zip(j.iter()).enumerate() {
            let ok = (a - b).abs() <= ABS + REL * a.abs() || (a.is_nan() && b.is_nan()) || a == b;
            assert!(
                ok,
                "{label}: output {k} element {i}: reference {a}, jit {b}"
            );
        }
    }
}

fn compare_finite(label: &str, g: &Graph, wanted: &[NodeId], seed: u64) {
    let (inputs, params) = random_bindings(g, seed);
    let mut compiled = nnc::jit::compile(
        g,
        wanted,
        nnc::jit::Options {
            threads: 2,
            clif: false,
            inference: false,
        },
    )
    .unwrap_or_else(|e| panic!("{label}: {e}"));
    let input_slices: BTreeMap<&str, &[f32]> = inputs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice().unwrap()))
        .collect();
    let jit = compiled
        .run(&input_slices, &[&params], seed, 3)
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    for (k, (w, j)) in wanted.iter().zip(jit).enumerate() {
        assert_eq!(j.shape(), g.shape(*w), "{label}: output {k}");
        assert!(
            j.iter().all(|x| x.is_finite()),
            "{label}: output {k} is not finite"
        );
    }
}

fn specs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["specs", "specs/bench"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "nn") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_spec_training_step_matches_the_interpreter() {
    for path in specs() {
        let checked = nnc::check_path(&path, &|p| std::fs::read(p));
        let Some(decl) = checked.program.trains.first() else {
            continue;
        };
        let net = checked.program.network(&decl.network).unwrap();
        let label = path.file_name().unwrap().to_string_lossy().into_owned();
        for (mode, grad) in [(Mode::Eval, false), (Mode::Train, true)] {
            let p = if grad {
                step::training_step(net, decl, 3)
            } else {
                step::forward_with_loss(net, decl, 3, mode)
            };
            let wanted: Vec<NodeId> = p.graph.outputs.iter().map(|(_, id)| *id).collect();
            if grad && p.graph.nodes.iter().any(|n| n.op == Op::Sign) {
                // Binary layers take the sign of batch-normalised values; in training mode a
                // channel of ReLU zeros normalises to exactly 0 in one summation order and to
                // +-1e-9 in another, so single signs may flip. Their forward pass is compared
                // in evaluation mode above; here only the shapes and finiteness.
                compare_finite(&format!("{label} ({mode:?})"), &p.graph, &wanted, 11);
                continue;
            }
            compare(&format!("{label} ({mode:?})"), &p.graph, &wanted, 11, false);
            if mode == Mode::Eval {
                // As `eval` and `bench` compile it: batch norms folded, parameter-only
                // part hoisted.
                compare(&format!("{label} (inference)"), &p.graph, &wanted, 11, true);
            }
        }
    }
}

/// The optimizers and loss options no spec uses, on digits' network: the JIT's step
/// matches the interpreter's.
#[test]
fn rmsprop_and_label_smoothing_steps_match_the_interpreter() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/digits.nn");
    for set in [
        "train.optimizer=rmsprop",
        "train.optimizer=rmsprop(lr: 0.001, momentum: 0.9, centered: true, weight_decay: 0.0001)",
        "train.loss=cross_entropy(label_smoothing: 0.1)",
    ] {
        let checked = nnc::check_path_with(&path, &|p| std::fs::read(p), &[set.to_string()]);
        assert!(!checked.has_errors(), "{set}: {:?}", checked.diags);
        let decl = &checked.program.trains[0];
        let net = checked.program.network(&decl.network).unwrap();
        let p = step::training_step(net, decl, 3);
        let wanted: Vec<NodeId> = p.graph.outputs.iter().map(|(_, id)| *id).collect();
        compare(set, &p.graph, &wanted, 11, false);
    }
}

/// exp is an inline f32x4 polynomial (jit/vexp.rs), log a call into Rust's `f32::ln`;
/// tanh and sigmoid are built from exp (prim/build.rs). Their maximum error against f64 `std` over
/// a grid of 20001 points in [-20, 20] (positive half for log) is printed and bounded
/// (docs/ir.md quotes the printed figures: `cargo test --test jit transcendentals --
/// --nocapture`).
#[test]
fn transcendentals_max_error_against_std() {
    let n = 20001;
    let xs: Vec<f32> = (0..n)
        .map(|i| -20.0 + 40.0 * i as f32 / (n - 1) as f32)
        .collect();
    let pos: Vec<f32> = xs.iter().map(|x| x.abs() + 1e-3).collect();
    let mut g = Graph::new();
    let x = g.input("x", &[n]);
    let p = g.input("p", &[n]);
    let cdf = nnc::lower::activation::normal_cdf(&mut g, x);
    let wanted = [g.exp(x), g.log(p), g.tanh(x), g.sigmoid(x), cdf];
    let mut compiled = nnc::jit::compile(
        &g,
        &wanted,
        nnc::jit::Options {
            threads: 1,
            clif: false,
            inference: false,
        },
    )
    .unwrap();
    let inputs: BTreeMap<&str, &[f32]> = [("x", xs.as_slice()), ("p", pos.as_slice())].into();
    let out = compiled.run(&inputs, &[], 0, 0).unwrap();
    let exact: [fn(f64) -> f64; 5] = [
        f64::exp,
        f64::ln,
        f64::tanh,
        |x| 1.0 / (1.0 + (-x).exp()),
        |x| 0.5 * (1.0 + common::erf(x / std::f64::consts::SQRT_2)),
    ];
    // (relative bound, absolute bound): exp and log within about one f32 ulp; tanh and
    // sigmoid, (1 - e)/(1 + e) and 1/(1 + e), lose relative accuracy near 0 by
    // cancellation, so their bound is absolute.
    let bounds = [
        ((3e-7, f64::INFINITY), "exp"),
        ((1.2e-7, f64::INFINITY), "log"),
        ((f64::INFINITY, 3e-7), "tanh"),
        ((f64::INFINITY, 2e-7), "sigmoid"),
        // GELU's normal CDF: Abramowitz & Stegun 7.1.26 is within 7.5e-8 in exact
        // arithmetic; f32 rounding in its polynomial (terms up to 1.45 summing to about 1)
        // and in 1 - q/2 adds about as much again.
        ((f64::INFINITY, 3e-7), "normal_cdf"),
    ];
    for (k, ((f, (bound, name)), got)) in exact.iter().zip(bounds).zip(out).enumerate() {
        let args = if k == 1 { &pos } else { &xs };
        let (mut max_abs, mut max_rel) = (0.0f64, 0.0f64);
        for (a, y) in args.iter().zip(got.iter()) {
            let want = f(f64::from(*a));
            let err = (f64::from(*y) - want).abs();
            max_abs = max_abs.max(err);
            max_rel = max_rel.max(err / want.abs().max(f64::MIN_POSITIVE));
        }
        eprintln!("{name}: max abs error {max_abs:.3e}, max rel error {max_rel:.3e}");
        let (rel_bound, abs_bound) = bound;
        assert!(
            max_rel <= rel_bound && max_abs <= abs_bound,
            "{name}: {max_abs:e} / {max_rel:e}"
        );
    }
}

/// GELU in both forms, forward and backward (the gradient of the output's sum with respect
/// to the input and every parameter), agrees with the interpreter.
#[test]
fn gelu_matches_the_interpreter() {
    let net = common::single(
        "[24]",
        "dense(32) |> gelu |> dense(16) |> gelu(approximate: tanh) |> dense(8)",
    );
    let lowered = common::lower(&net, Mode::Train, 8);
    let mut g = lowered.graph.clone();
    let y = lowered.outputs[0].1;
    let leaves = common::leaves(&lowered, &g);
    let total = g.sum_all(y);
    let mut wanted = vec![y];
    wanted.extend(nnc::prim::autodiff::differentiate(&mut g, total, &leaves));
    for seed in 0..3 {
        compare("gelu", &g, &wanted, seed, false);
    }
}

/// The layers of issue 12 (new activations, layer scale, 1-D and transposed convolutions,
/// attention with and without the causal mask, per-position dense and layer norm, and an
/// embedding fed integer ids), forward and gradients.
#[test]
fn sequence_and_new_layers_match_the_interpreter() {
    for (label, shape, layers) in [
        (
            "activations",
            "[4, 6]",
            "silu |> elu(0.5) |> softplus(beta: 2, threshold: 1) |> layer_scale(init: 0.5, axis: 1)",
        ),
        (
            "conv1d",
            "[4, 12]",
            "conv1d(6, 3, stride: 2, pad: 1, dilation: 2, groups: 2) |> silu |> conv1d(3, 1)",
        ),
        (
            "conv_transpose",
            "[3, 5, 4]",
            "conv_transpose(4, 3, stride: 2, pad: 1, output_pad: 1) |> elu |> conv_transpose(2, [2, 1], stride: [1, 2])",
        ),
        (
            "attention",
            "[5, 8]",
            "layer_norm(axes: last) |> attention(2) |> dense(8, flatten: false) |> attention(4, causal: true)",
        ),
        (
            "embedding",
            "[6]",
            "embedding(7, 4) |> attention(2, causal: true) |> layer_norm(axes: last) |> dense(3)",
        ),
    ] {
        let net = common::single(shape, layers);
        let lowered = common::lower(&net, Mode::Train, 3);
        let mut g = lowered.graph.clone();
        let y = lowered.outputs[0].1;
        let leaves = common::leaves(&lowered, &g);
        let total = g.sum_all(y);
        let mut wanted = vec![y];
        wanted.extend(nnc::prim::autodiff::differentiate(&mut g, total, &leaves));
        for seed in 0..2 {
            compare(label, &g, &wanted, seed, false);
        }
        compare(label, &g, &wanted[..1], 5, true);
    }
}

/// Recurrence (issue 14): lstm, gru, bidirectional and a scan over a user cell, forward
/// and gradients through time.
#[test]
fn recurrent_layers_match_the_interpreter() {
    let elman =
        "block elman(x, h) {\n  return (x |> dense(6)) + (h |> dense(6, bias: false)) |> tanh\n}\n";
    for (label, layers) in [
        ("lstm", "lstm(6) |> lstm(4, return_sequences: false)"),
        ("gru", "gru(6, reverse: true) |> layer_norm(axes: last) |> gru(4)"),
        ("bidirectional", "bidirectional(lstm(5)) |> flatten |> dense(3)"),
        ("scan", "scan(elman, state: [6]) |> bidirectional(scan(elman, state: [6], return_sequences: false))"),
    ] {
        let net = common::network(&format!(
            "{elman}network n {{\n  input x: [5, 4]\n  output y = x |> {layers}\n}}\n"
        ));
        let lowered = common::lower(&net, Mode::Train, 3);
        let mut g = lowered.graph.clone();
        let y = lowered.outputs[0].1;
        let leaves = common::leaves(&lowered, &g);
        let total = g.sum_all(y);
        let mut wanted = vec![y];
        wanted.extend(nnc::prim::autodiff::differentiate(&mut g, total, &leaves));
        for seed in 0..2 {
            compare(label, &g, &wanted, seed, false);
        }
        compare(label, &g, &wanted[..1], 5, true);
    }
}

/// The steps with logic rules (teacher q, predictions on a field, pi) and with a
/// distillation teacher (spliced forward, temperature) agree with the interpreter too.
#[test]
fn rules_and_distillation_steps_match_the_interpreter() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("specs/logic_rules.nn");
    let checked = nnc::check_path(&path, &|p| std::fs::read(p));
    let decl = &checked.program.trains[0];
    let trainer = nnc::train::Trainer::new(&checked.program, decl, path.parent().unwrap()).unwrap();
    assert!(trainer.extras().rules.is_some());
    compare_with_extras("logic_rules.nn", &checked, trainer.extras());

    let path = root.join("specs/distill_student.nn");
    let checked = nnc::check_path(&path, &|p| std::fs::read(p));
    let decl = &checked.program.trains[0];
    let spec = decl.teacher.as_ref().unwrap();
    let (t, w) = (spec.distill.temperature, spec.distill.weight);
    let teacher = checked.program.network(&spec.network).unwrap().clone();
    let extras = step::Extras {
        rules: None,
        distill: Some(step::Distill {
            teacher,
            temperature: t,
            weight: w,
        }),
    };
    compare_with_extras("distill_student.nn", &checked, &extras);
}

fn compare_with_extras(label: &str, checked: &nnc::Checked, extras: &step::Extras) {
    let decl = &checked.program.trains[0];
    let net = checked.program.network(&decl.network).unwrap();
    for mode in [Mode::Eval, Mode::Train] {
        let p = match mode {
            Mode::Train => step::training_step_with_extras(net, decl, 3, extras),
            Mode::Eval => step::forward_with_extras(net, decl, 3, mode, extras),
        };
        let wanted: Vec<NodeId> = p.graph.outputs.iter().map(|(_, id)| *id).collect();
        compare(
            &format!("{label} ({mode:?}, extras)"),
            &p.graph,
            &wanted,
            11,
            false,
        );
    }
}

/// Two threads split loop kernels and products into fixed halves (the second on the
/// executor's partner thread): repeated runs give the same bits, and the same bits as one
/// thread. The digits step at batch 64 has 256x256 updates and 64x256x256 products, both
/// above the split thresholds.
#[test]
fn two_thread_runs_are_bit_identical_to_each_other_and_to_one_thread() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/digits.nn");
    let checked = nnc::check_path(&path, &|p| std::fs::read(p));
    let decl = &checked.program.trains[0];
    let net = checked.program.network(&decl.network).unwrap();
    let p = step::training_step(net, decl, 64);
    let wanted: Vec<NodeId> = p.graph.outputs.iter().map(|(_, id)| *id).collect();
    let (inputs, params) = random_bindings(&p.graph, 5);
    let slices: BTreeMap<&str, &[f32]> = inputs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice().unwrap()))
        .collect();
    let run = |threads: usize, times: usize| {
        let options = nnc::jit::Options {
            threads,
            clif: false,
            inference: false,
        };
        let mut compiled = nnc::jit::compile(&p.graph, &wanted, options).unwrap();
        (0..times)
            .map(|_| compiled.run(&slices, &[&params], 5, 1).unwrap().to_vec())
            .collect::<Vec<_>>()
    };
    let two = run(2, 3);
    assert!(two.iter().all(|r| *r == two[0]));
    assert_eq!(run(1, 1)[0], two[0]);
}

/// Every check of this file again under each CPU level below this machine's (the
/// `NNC_CPU_LEVEL` cap, docs/testing.md): the test binary runs itself with the variable
/// set, so an AVX-512 machine tests the AVX2 and portable kernels (GEMM, generated code,
/// binary products) too. A run that already has the variable set (a child, or CI's capped
/// pass) skips this.
#[test]
fn lower_cpu_levels_match_the_interpreter_too() {
    use nnc_runtime::exec::level::{detected, LEVELS, VAR};
    if std::env::var_os(VAR).is_some() {
        return;
    }
    for level in LEVELS.into_iter().filter(|l| *l < detected()) {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--skip", "lower_cpu_levels"])
            .env(VAR, level.name())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}:\n{}\n{}",
            level.name(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("level {}: every check passed", level.name());
    }
}

/// Under a cap the kernels report the capped level.
#[test]
fn the_cap_sets_the_level() {
    use nnc_runtime::exec::level::{detected, Level, VAR};
    let Some(cap) = std::env::var(VAR).ok().and_then(|v| Level::parse(&v)) else {
        return;
    };
    assert_eq!(nnc_runtime::cpu_level(), cap.min(detected()).name());
}
