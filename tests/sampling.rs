//! Sampling policies and the class-weighted loss through the trainer: every policy trains
//! on specs/imbalance.nn on both backends, the bad inputs of the issue fail before any
//! training, and the run reports imbalance metrics (JSON, table, ROC curve).

use nnc::train::{Backend, RunError, Trainer};
use std::path::{Path, PathBuf};

fn spec(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("specs")
        .join(name)
}

fn check(path: &Path, overrides: &[&str]) -> nnc::Checked {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    nnc::check_path_with(path, &|p| std::fs::read(p), &overrides)
}

fn trainer(overrides: &[&str]) -> Result<Trainer, RunError> {
    let path = spec("imbalance.nn");
    let checked = check(&path, overrides);
    assert!(!checked.has_errors(), "{:?}", checked.diags);
    Trainer::new(
        &checked.program,
        &checked.program.trains[0],
        path.parent().unwrap(),
    )
}

/// Minority share of the rows of one epoch, through the trainer's sampler.
fn minority_share(t: &Trainer) -> f64 {
    let labels = t.data().train.labels().unwrap();
    let order = t.sampler().epoch(0);
    let mut cursor = 0;
    let rows = t.sampler().batch(&order, &mut cursor, order.len());
    rows.iter().filter(|&&r| labels[r] == 1).count() as f64 / rows.len() as f64
}

#[test]
fn every_sampler_trains_on_both_backends() {
    for sampler in [
        "uniform",
        "balanced",
        "weighted([1, 20])",
        "oversample",
        "undersample(kmeans: 50)",
        "hard_mining(0.5)",
    ] {
        let mut losses = Vec::new();
        for backend in [Backend::Reference, Backend::Jit] {
            let set = format!("train.sampler={sampler}");
            let mut t = trainer(&[&set, "train.epochs=2"]).unwrap();
            t.set_backend(backend);
            t.init().unwrap();
            for _ in 0..2 {
                let (loss, _) = t.train_epoch(&mut |_| {}).unwrap();
                assert!(loss.is_finite(), "{sampler}: {loss}");
                losses.push(loss);
            }
        }
        // Same batches on both backends: the losses agree to float rounding.
        for (r, j) in losses[..2].iter().zip(&losses[2..]) {
            assert!(
                (r - j).abs() < 1e-3 * r.abs().max(1.0),
                "{sampler}: {losses:?}"
            );
        }
    }
}

#[test]
fn the_trainer_draws_the_class_frequencies_of_its_policy() {
    let base = minority_share(&trainer(&["train.sampler=uniform"]).unwrap());
    assert!(
        (0.04..0.06).contains(&base),
        "1:20 data, minority share {base}"
    );
    let balanced = minority_share(&trainer(&[]).unwrap());
    assert!((0.45..0.55).contains(&balanced), "balanced: {balanced}");
    let over = trainer(&["train.sampler=oversample"]).unwrap();
    assert_eq!(minority_share(&over), 0.5);
    assert_eq!(
        over.steps_per_epoch() as usize,
        over.sampler().epoch_len().div_ceil(over.batch())
    );
    let under = trainer(&["train.sampler=undersample(kmeans: 50)"]).unwrap();
    assert_eq!(under.data().train.class_counts()[0], 50);
    let minority = under.data().train.class_counts()[1];
    assert_eq!(under.data().train.n_samples(), 50 + minority);
}

#[test]
fn kmeans_larger_than_a_class_fails_before_training() {
    let err = trainer(&["train.sampler=undersample(kmeans: 5000)"])
        .err()
        .expect("K = 5000 is larger than the majority class");
    let text = format!("{err}");
    assert!(
        text.contains("K = 5000") && text.contains("`other`"),
        "{text}"
    );
    let code = miette::Diagnostic::code(&err).map(|c| c.to_string());
    assert_eq!(code.as_deref(), Some("nnc::sampling::kmeans_too_large"));
}

#[test]
fn a_sampler_on_a_regression_loss_is_a_check_error() {
    let text = r#"
data wave {
  source: synthetic("grid1d", n: 64)
}
network fit {
  input x: [1]
  output y = x |> dense(8) |> tanh |> dense(1)
}
train {
  network: fit
  data: wave
  loss: mse
  sampler: balanced
}
"#;
    let checked = nnc::check_text("reg.nn", text, &|p| std::fs::read(p));
    let errors: Vec<&str> = checked
        .diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code)
        .collect();
    assert_eq!(errors, ["nnc::train::invalid"]);
}

#[test]
fn sampling_and_loss_weighting_together_warn() {
    let path = spec("imbalance.nn");
    let warnings = |overrides: &[&str]| -> Vec<&'static str> {
        check(&path, overrides)
            .diags
            .iter()
            .filter(|d| !d.is_error())
            .map(|d| d.code)
            .collect()
    };
    let both = ["train.loss=cross_entropy(class_weights: balanced)"];
    assert_eq!(warnings(&both), ["nnc::train::double_correction"]);
    let weights_only = [both[0], "train.sampler=uniform"];
    assert!(warnings(&weights_only).is_empty());
    assert!(warnings(&[]).is_empty());
    // Weights and hard mining fight different things: no warning.
    assert!(warnings(&[both[0], "train.sampler=hard_mining(0.3)"]).is_empty());
}

/// Trains two epochs and returns the state.
fn trained(overrides: &[&str]) -> nnc::train::State {
    let mut t = trainer(overrides).unwrap();
    t.init().unwrap();
    t.train_epoch(&mut |_| {}).unwrap();
    t.train_epoch(&mut |_| {}).unwrap();
    t.state().clone()
}

#[test]
fn class_weights_of_one_are_plain_cross_entropy_bit_for_bit() {
    let plain = trained(&["train.sampler=uniform"]);
    let ones = trained(&[
        "train.sampler=uniform",
        "train.loss=cross_entropy(class_weights: [1, 1])",
    ]);
    assert_eq!(plain, ones);
    let balanced = trained(&[
        "train.sampler=uniform",
        "train.loss=cross_entropy(class_weights: balanced)",
    ]);
    assert_ne!(plain, balanced);
}

/// The data block names its classes, so `nnc check` counts the weights.
#[test]
fn class_weights_need_one_weight_per_class() {
    let checked = check(
        &spec("imbalance.nn"),
        &["train.loss=cross_entropy(class_weights: [1, 2, 3])"],
    );
    let d = checked
        .diags
        .iter()
        .find(|d| d.code == nnc::diagnostics::codes::TRAIN_INVALID)
        .expect("3 weights for 2 classes");
    assert!(d.message.contains("3 weights"), "{}", d.message);
}

#[test]
fn a_run_reports_imbalance_metrics_and_a_roc_curve() {
    let out = std::env::temp_dir().join(format!("nnc-imbalance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = |json: bool| {
        let mut args = vec!["run", "imbalance.nn", "--quiet", "--set", "train.epochs=2"];
        if json {
            args.push("--json");
        }
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_nnc"))
            .args(&args)
            .arg("--out")
            .arg(&out)
            .current_dir(spec(""))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let v: serde_json::Value = serde_json::from_str(&run(true)).unwrap();
    let test = &v["test"];
    let per_class = test["per_class"].as_array().unwrap();
    assert_eq!(per_class.len(), 2);
    let f1: Vec<f64> = per_class
        .iter()
        .map(|c| c["f1"].as_f64().unwrap())
        .collect();
    let macro_f1 = test["macro_f1"].as_f64().unwrap();
    assert!((macro_f1 - (f1[0] + f1[1]) / 2.0).abs() < 1e-12, "{test}");
    assert!(per_class[1]["recall"].as_f64().is_some());
    let auc = test["roc_auc"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&auc), "{auc}");
    let png = std::fs::read(out.join("roc.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let table = run(false);
    assert!(
        table.contains("three") && table.contains("macro avg"),
        "{table}"
    );
    assert!(
        table.contains("roc-auc (binary, class 1 positive)"),
        "{table}"
    );
    let _ = std::fs::remove_dir_all(&out);
}
