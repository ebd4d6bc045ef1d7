//! Inference programs (`jit::Options::inference`): batch norms folded into the preceding
//! dense or convolution weights (opt/bnfold.rs), and the parameter-only part hoisted out of
//! the per-batch program (jit/hoist.rs) and recomputed only after `params_changed`; binary
//! layers' products on packed bits (jit/binary.rs, runtime exec/xnor.rs) with an f32 fallback.
//! (Values against the interpreter on every spec: tests/jit.rs.)

use ndarray::{ArrayD, IxDyn};
use nnc::lower::Mode;
use nnc::prim::interp::{self, Bindings};
use nnc::prim::{NodeId, Op};
use nnc::train::step;
use std::collections::BTreeMap;
use std::path::Path;

fn program(rel: &str, batch: usize) -> step::Program {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let checked = nnc::check_path(&path, &|p| std::fs::read(p));
    assert!(!checked.has_errors(), "{rel}");
    let decl = &checked.program.trains[0];
    let net = checked.program.network(&decl.network).unwrap();
    step::forward_with_loss(net, decl, batch, Mode::Eval)
}

fn folds(p: &step::Program) -> usize {
    let wanted: Vec<NodeId> = p.graph.outputs.iter().map(|(_, id)| *id).collect();
    let optimized = nnc::opt::optimize_inference(&p.graph, &wanted);
    optimized
        .trace
        .iter()
        .filter(|r| r.name == "bnfold")
        .map(|r| r.rules.get("scale into matmul").copied().unwrap_or(0))
        .sum()
}

#[test]
fn batch_norm_folds_into_dense_and_conv_weights() {
    // Two batch norms after dense layers, each scale (1/std, gamma) moved into the weights.
    assert_eq!(folds(&program("specs/digits.nn", 4)), 4);
    // Six conv + batch-norm blocks.
    assert_eq!(folds(&program("specs/distill_teacher.nn", 2)), 12);
    // No batch norm, nothing to fold.
    assert_eq!(folds(&program("specs/bench/w1_mlp.nn", 2)), 0);

    // What remains per batch: the products and one bias + ReLU loop per layer; the
    // normalisation's square roots run once, in the hoisted part.
    let p = program("specs/digits.nn", 4);
    let listing = nnc::jit::stage_text(&p.graph, "plan", true).unwrap();
    let (batch_part, hoisted) = listing.split_once("// hoisted").unwrap();
    assert!(!batch_part.contains("Sqrt"), "{batch_part}");
    assert_eq!(hoisted.matches("Sqrt").count(), 2);
    assert_eq!(batch_part.matches("gemm").count(), 3);
}

fn bindings_of(
    p: &step::Program,
) -> (BTreeMap<String, ArrayD<f32>>, BTreeMap<String, ArrayD<f32>>) {
    let (mut inputs, mut params) = (BTreeMap::new(), BTreeMap::new());
    for node in &p.graph.nodes {
        let n: usize = node.shape.iter().product();
        let value = |salt: usize| {
            let data = (0..n)
                .map(|i| (((i * 7919 + salt * 104729) % 1000) as f32 / 1000.0) - 0.3)
                .collect();
            ArrayD::from_shape_vec(IxDyn(&node.shape), data).unwrap()
        };
        match &node.op {
            Op::Input { name } => {
                inputs.insert(name.clone(), value(1));
            }
            Op::Param { name } => {
                let mut v = value(name.len());
                if name.contains("running_var") {
                    v.mapv_inplace(|x| x.abs() + 0.5);
                }
                params.insert(name.clone(), v);
            }
            _ => {}
        }
    }
    (inputs, params)
}

fn reference(
    p: &step::Program,
    inputs: &BTreeMap<String, ArrayD<f32>>,
    params: &BTreeMap<String, ArrayD<f32>>,
) -> ArrayD<f32> {
    let mut b = Bindings::new();
    for (n, v) in inputs {
        b = b.input(n, v.clone());
    }
    for (n, v) in params {
        b = b.param(n, v.clone());
    }
    interp::evaluate::<f32>(&p.graph, &b, &[p.prediction]).unwrap()[0].clone()
}

/// The program's inference compilation (one thread) and its inputs as slices.
fn compiled_inference<'a>(
    p: &step::Program,
    inputs: &'a BTreeMap<String, ArrayD<f32>>,
) -> (nnc::jit::Compiled, BTreeMap<&'a str, &'a [f32]>) {
    let options = nnc::jit::Options {
        threads: 1,
        clif: false,
        inference: true,
    };
    let compiled = nnc::jit::compile(&p.graph, &[p.prediction], options).unwrap();
    let slices = inputs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice().unwrap()))
        .collect();
    (compiled, slices)
}

fn close(a: &ArrayD<f32>, b: &ArrayD<f32>) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (x - y).abs() <= 1e-4 + 1e-3 * x.abs())
}

#[test]
fn hoisted_values_are_recomputed_after_params_changed() {
    let p = program("specs/digits.nn", 4);
    let (inputs, mut params) = bindings_of(&p);
    let (mut compiled, slices) = compiled_inference(&p, &inputs);
    assert!(compiled.listing.contains("Hoisted(0)"));
    let first = compiled.run(&slices, &[&params], 0, 0).unwrap()[0].clone();
    assert!(close(&reference(&p, &inputs, &params), &first));

    // New running statistics: folded into the weights, so invisible until the program is
    // told (the documented contract of a hoisted program) ...
    params
        .get_mut("batch_norm1.running_var")
        .unwrap()
        .mapv_inplace(|v| v * 4.0);
    let stale = compiled.run(&slices, &[&params], 0, 0).unwrap()[0].clone();
    assert_eq!(stale, first);
    // ... and used from the next run on once it is.
    compiled.params_changed();
    let fresh = compiled.run(&slices, &[&params], 0, 0).unwrap()[0].clone();
    assert_ne!(fresh, first);
    assert!(close(&reference(&p, &inputs, &params), &fresh));
}

/// Binary layers (specs/xnor.nn: three binary convolutions and a binary dense layer) run
/// their forward products on packed bits, in the training step and in inference; the
/// training step's values are checked against the interpreter in tests/jit.rs.
#[test]
fn binary_layers_run_packed_products() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/xnor.nn");
    let checked = nnc::check_path(&path, &|p| std::fs::read(p));
    let decl = &checked.program.trains[0];
    let net = checked.program.network(&decl.network).unwrap();
    for inference in [false, true] {
        let p = if inference {
            step::forward_with_loss(net, decl, 4, Mode::Eval)
        } else {
            step::training_step(net, decl, 4)
        };
        let wanted: Vec<NodeId> = p.graph.outputs.iter().map(|(_, id)| *id).collect();
        let (inputs, params) = bindings_of(&p);
        let options = nnc::jit::Options {
            threads: 2,
            clif: false,
            inference,
        };
        let mut compiled = nnc::jit::compile(&p.graph, &wanted, options).unwrap();
        assert_eq!(compiled.listing.matches("binary gemm").count(), 4);
        let slices: BTreeMap<&str, &[f32]> = inputs
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice().unwrap()))
            .collect();
        for _ in 0..2 {
            compiled.run(&slices, &[&params], 0, 0).unwrap();
        }
        let stats = compiled.stats();
        assert_eq!(
            (stats.binary_packed, stats.binary_fallback),
            (8, 0),
            "{inference}"
        );
    }
}

/// A product that looks binary but whose values are not scaled sign vectors (here each
/// column of `a` has its own scale, so a row mixes magnitudes) runs in f32, with the same
/// values as the interpreter.
#[test]
fn binary_products_fall_back_to_f32_when_values_do_not_pack() {
    let mut g = nnc::prim::Graph::new();
    let (m, k, n) = (3, 70, 4);
    let x = g.input("x", &[m, k]);
    let w = g.input("w", &[k, n]);
    let s = g.input("s", &[1, k]);
    let sx = g.sign(x);
    let s = g.broadcast(s, &[m, k]);
    let s = g.stop_grad(s);
    let a = g.mul(sx, s);
    let b = g.sign(w);
    let y = g.matmul(a, b);
    let data = |len: usize, salt: usize| -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 37 + salt) % 11) as f32 - 5.0)
            .collect()
    };
    let (xv, wv, sv) = (data(m * k, 1), data(k * n, 2), data(k, 3));
    let options = nnc::jit::Options {
        threads: 1,
        clif: false,
        inference: false,
    };
    let mut compiled = nnc::jit::compile(&g, &[y], options).unwrap();
    assert!(compiled.listing.contains("binary gemm"));
    let inputs: BTreeMap<&str, &[f32]> = [
        ("x", xv.as_slice()),
        ("w", wv.as_slice()),
        ("s", sv.as_slice()),
    ]
    .into();
    let got = compiled.run(&inputs, &[], 0, 0).unwrap()[0].clone();
    let stats = compiled.stats();
    assert_eq!((stats.binary_packed, stats.binary_fallback), (0, 1));
    let array =
        |v: &[f32], shape: &[usize]| ArrayD::from_shape_vec(IxDyn(shape), v.to_vec()).unwrap();
    let b = Bindings::new()
        .input("x", array(&xv, &[m, k]))
        .input("w", array(&wv, &[k, n]))
        .input("s", array(&sv, &[1, k]));
    let want = interp::evaluate::<f32>(&g, &b, &[y]).unwrap()[0].clone();
    assert!(close(&want, &got), "{want} vs {got}");
}

/// An inference program packs its binary weights once and keeps them; `params_changed`
/// drops them with the other hoisted values, so new weights are used.
#[test]
fn packed_binary_weights_follow_params_changed() {
    let p = program("specs/xnor.nn", 2);
    let (inputs, mut params) = bindings_of(&p);
    let (mut compiled, slices) = compiled_inference(&p, &inputs);
    let first = compiled.run(&slices, &[&params], 0, 0).unwrap()[0].clone();
    assert!(close(&reference(&p, &inputs, &params), &first));
    // Flip the signs of every third binary weight.
    for (name, w) in params.iter_mut() {
        if name.starts_with("xnor_conv") && name.ends_with("weight")
            || name == "binary_dense1.weight"
        {
            for (i, v) in w.iter_mut().enumerate() {
                if i % 3 == 0 {
                    *v = -*v;
                }
            }
        }
    }
    compiled.params_changed();
    let fresh = compiled.run(&slices, &[&params], 0, 0).unwrap()[0].clone();
    assert_ne!(fresh, first);
    assert!(close(&reference(&p, &inputs, &params), &fresh));
    let stats = compiled.stats();
    assert_eq!((stats.binary_packed, stats.binary_fallback), (8, 0));
}
