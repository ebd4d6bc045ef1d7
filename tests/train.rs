//! Training on the reference interpreter through the library: accuracy, determinism,
//! LSUV, and the non-finite check.

use nnc::train::{RunError, Trainer};
use std::path::Path;

fn no_files(_: &Path) -> std::io::Result<Vec<u8>> {
    Err(std::io::ErrorKind::NotFound.into())
}

fn trainer(spec: &str) -> Trainer {
    let checked = nnc::check_text("spec.nn", spec, &no_files);
    assert!(!checked.has_errors(), "{:?}", checked.diags);
    Trainer::new(&checked.program, &checked.program.trains[0], Path::new(".")).expect("trainer")
}

fn train(t: &mut Trainer) -> f64 {
    t.init().expect("init");
    while t.epoch() < t.decl().epochs {
        t.train_epoch(&mut |_| {}).expect("epoch");
    }
    t.evaluate(true).expect("eval").accuracy()
}

const MLP: &str = r#"
data digits {
  source: builtin("digits")
  scale: standardize
}
network mlp {
  input x: [64]
  let h = x |> dense(64) |> relu
  output logits = h |> dense(10)
}
train {
  network: mlp
  data: digits
  optimizer: sgd(lr: 0.05, momentum: 0.9)
  batch: 64
  epochs: 3
  seed: 7
}
"#;

#[test]
fn a_small_mlp_learns_digits() {
    let acc = train(&mut trainer(MLP));
    assert!(acc > 0.9, "accuracy {acc}");
}

#[test]
fn same_seed_same_bits_and_another_seed_differs() {
    let mut a = trainer(MLP);
    let mut b = trainer(MLP);
    train(&mut a);
    train(&mut b);
    assert_eq!(a.state(), b.state());
    let mut c = trainer(&MLP.replace("seed: 7", "seed: 8"));
    train(&mut c);
    assert_ne!(a.state(), c.state());
}

#[test]
fn lsuv_brings_every_layer_to_unit_variance() {
    let spec = MLP
        .replace(
            "optimizer:",
            "init: lsuv(tol: 0.05, max_iter: 10)\n  optimizer:",
        )
        .replace(
            "let h = x |> dense(64) |> relu",
            "let h = x |> dense(64) |> relu |> dense(64) |> tanh |> dense(32) |> relu",
        );
    let mut t = trainer(&spec);
    let reports = t.init().expect("init");
    assert_eq!(reports.len(), 4, "{reports:?}");
    for r in &reports {
        assert!((r.var_after - 1.0).abs() < 0.05, "{r:?}");
        assert!(r.iterations >= 1, "{r:?}");
    }
}

#[test]
fn divergence_names_the_epoch_step_and_layer() {
    let spec = MLP.replace("sgd(lr: 0.05, momentum: 0.9)", "sgd(lr: 1e30)");
    let mut t = trainer(&spec);
    t.init().unwrap();
    let mut err = None;
    while t.epoch() < 3 && err.is_none() {
        err = t.train_epoch(&mut |_| {}).err();
    }
    match err {
        Some(RunError::NonFinite {
            epoch, step, layer, ..
        }) => {
            assert_eq!(epoch, 1);
            assert!(step >= 1);
            assert!(!layer.is_empty());
        }
        other => panic!("expected a non-finite error, got {other:?}"),
    }
}

#[test]
fn data_that_does_not_fit_the_network_is_an_error() {
    let spec = MLP.replace("input x: [64]", "input x: [32]");
    let checked = nnc::check_text("spec.nn", &spec, &no_files);
    let err = Trainer::new(&checked.program, &checked.program.trains[0], Path::new(".")).err();
    assert!(err.is_some());
    let spec = MLP.replace("dense(10)", "dense(5)");
    let checked = nnc::check_text("spec.nn", &spec, &no_files);
    let err = Trainer::new(&checked.program, &checked.program.trains[0], Path::new(".")).err();
    assert!(matches!(err, Some(RunError::Config { .. })), "{err:?}");
}

/// An embedding's ids are checked on the host before training: a value that is not an
/// integer in [0, vocab) is a configuration error naming the example, never a clamp.
#[test]
fn embedding_ids_outside_the_table_are_an_error() {
    let spec = |vocab: u32, scale: &str| {
        format!(
            "data d {{\n  source: builtin(\"digits\")\n  scale: {scale}\n}}\n\
             network n {{\n  input x: [64]\n  output y = x |> embedding({vocab}, 2) |> dense(10)\n}}\n\
             train {{\n  network: n\n  data: d\n  epochs: 1\n}}\n"
        )
    };
    let run = |text: &str| {
        let checked = nnc::check_text("spec.nn", text, &no_files);
        assert!(!checked.has_errors(), "{:?}", checked.diags);
        Trainer::new(&checked.program, &checked.program.trains[0], Path::new(".")).err()
    };
    // Digits pixels are 0..16: 17 ids fit, 16 do not (16 is past the table).
    assert!(run(&spec(17, "none")).is_none());
    for (vocab, scale, value) in [(16, "none", "holds 16"), (17, "divide(by: 16)", "holds 0.")] {
        match run(&spec(vocab, scale)) {
            Some(RunError::Config { message, .. }) => {
                assert!(message.contains(value), "{message}");
                assert!(message.contains("integer ids in [0, "), "{message}");
            }
            other => panic!("vocab {vocab}, scale {scale}: {other:?}"),
        }
    }
}

#[test]
fn a_resumed_run_ends_bit_identical_to_an_uninterrupted_one() {
    let spec = MLP.replace("epochs: 3", "epochs: 4").replace(
        "let h = x |> dense(64) |> relu",
        "let h = x |> dense(64) |> batch_norm |> relu |> dropout(0.2)",
    );
    resume_after_two_epochs_matches(&spec, "plain");
}

#[test]
fn a_resumed_hard_mining_run_draws_the_same_batches() {
    let spec = MLP
        .replace("epochs: 3", "epochs: 4")
        .replace("batch: 64", "batch: 64\n  sampler: hard_mining(0.5)");
    let mut t = trainer(&spec);
    t.init().unwrap();
    t.train_epoch(&mut |_| {}).unwrap();
    let ck = t.to_checkpoint().unwrap();
    let memory = ck
        .values::<f32>(nnc::train::checkpoint::SAMPLER_LOSSES)
        .unwrap();
    assert!(memory.iter().any(|l| l.is_finite()), "no loss recorded");
    resume_after_two_epochs_matches(&spec, "hard");
    // Evaluation and --init-from take the weights and leave the sampler memory alone.
    let mut plain = trainer(MLP);
    plain.load_weights(&ck).unwrap();
    plain.init_from(&ck).unwrap();
}

fn resume_after_two_epochs_matches(spec: &str, tag: &str) {
    let spec = spec.to_string();
    let mut whole = trainer(&spec);
    train(&mut whole);

    let mut first = trainer(&spec);
    first.init().unwrap();
    first.train_epoch(&mut |_| {}).unwrap();
    first.train_epoch(&mut |_| {}).unwrap();
    let saved = first.to_checkpoint().unwrap();
    let bytes = saved.to_bytes().unwrap();
    drop(first);

    let mut second = trainer(&spec);
    let dir = std::env::temp_dir().join(format!("nnc-resume-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ck.safetensors");
    std::fs::write(&path, &bytes).unwrap();
    second
        .resume_from(&nnc_runtime::checkpoint::Checkpoint::load(&path).unwrap())
        .unwrap();
    assert_eq!(second.epoch(), 2);
    while second.epoch() < 4 {
        second.train_epoch(&mut |_| {}).unwrap();
    }
    assert_eq!(second.state(), whole.state());
    assert_eq!(
        second.to_checkpoint().unwrap().to_bytes().unwrap(),
        whole.to_checkpoint().unwrap().to_bytes().unwrap()
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_mismatched_checkpoint_is_refused_with_every_difference() {
    let mut t = trainer(MLP);
    t.init().unwrap();
    let mut ck = t.to_checkpoint().unwrap();
    ck.tensors.remove("dense1.bias");
    ck.insert(
        "extra.weight",
        nnc_runtime::checkpoint::Tensor::new(&[1], &[0.0f32]).unwrap(),
    );
    let err = t.resume_from(&ck).unwrap_err();
    let text = format!("{err}");
    assert!(matches!(err, RunError::Checkpoint(_)), "{text}");
    let report = format!("{:?}", miette::Report::new(err));
    assert!(
        report.contains("dense1.bias") && report.contains("extra.weight"),
        "{report}"
    );
    let other_seed = trainer(&MLP.replace("seed: 7", "seed: 9"));
    let mut other_seed = other_seed;
    let err = other_seed
        .resume_from(&t.to_checkpoint().unwrap())
        .unwrap_err();
    assert!(matches!(err, RunError::Config { .. }), "{err}");
}
