//! Validation and model selection through `nnc run`: a validation split held out of the
//! training part, early stopping and the best model chosen on it (never on the test
//! split), `reduce_on_plateau` following the validation loss, and what a run records for
//! resuming (planned epochs, CPU level) and says when it diverges.

#[path = "common/cli.rs"]
mod cli;

use cli::{json, nnc, Dir};
use nnc_runtime::checkpoint::Checkpoint;
use serde_json::Value;
use std::process::Command;

/// Pure noise: labels independent of the features, so once the network starts to
/// memorise the training part, the validation loss rises.
fn noise(n: usize, salt: u64) -> String {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ salt;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    (0..n)
        .map(|_| {
            let x: Vec<String> = (0..8)
                .map(|_| format!("{:.4}", next() * 2.0 - 1.0))
                .collect();
            format!("{},{}\n", x.join(","), u8::from(next() < 0.5))
        })
        .collect()
}

fn spec(test: &str, extra: &str) -> String {
    format!(
        r#"
data noise {{
  source: csv("noise.csv")
  test: csv("{test}")
  validation: 0.25
}}
network net {{
  input x: [8]
  let h = x |> dense(128) |> relu
  output logits = h |> dense(2)
}}
train {{
  network: net
  data: noise
  optimizer: adam(lr: 0.02)
  batch: 8
  epochs: 40
  seed: 2
{extra}
}}
"#
    )
}

fn history(v: &Value, key: &str) -> Vec<f64> {
    v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[key].as_f64().unwrap())
        .collect()
}

#[test]
fn early_stopping_keeps_the_best_validation_epoch_and_ignores_the_test_split() {
    let dir = Dir::new("validation-early");
    dir.write("noise.csv", &noise(200, 1));
    dir.write("test_a.csv", &noise(50, 2));
    dir.write("test_b.csv", &noise(50, 3));
    let early = "  early_stopping: (metric: val_loss, patience: 3)";
    let mut runs = Vec::new();
    for test in ["test_a.csv", "test_b.csv"] {
        let name = format!("{test}.nn");
        dir.write(&name, &spec(test, early));
        let out = format!("run-{test}");
        runs.push(json(&nnc(&["run", &name, "--json", "--out", &out], &dir.0)));
    }
    let v = &runs[0];
    let val = history(v, "val_loss");
    assert_eq!(v["stopped_early"], true, "{v}");
    let best = v["best"]["epoch"].as_u64().unwrap() as usize;
    let min = val.iter().copied().fold(f64::INFINITY, f64::min);
    // The first epoch with the smallest validation loss, then 3 epochs without improvement.
    assert_eq!(
        val.iter().position(|&l| l == min).unwrap() + 1,
        best,
        "{val:?}"
    );
    assert_eq!(val.len(), best + 3, "{val:?}");
    assert!(val.len() < 40);
    assert!(
        *val.last().unwrap() > min,
        "the validation loss rose: {val:?}"
    );
    assert_eq!(v["best"]["value"].as_f64().unwrap(), min);
    // The best model is the one of that epoch.
    let best_model = Checkpoint::load(&dir.0.join("run-test_a.csv/best.safetensors")).unwrap();
    assert_eq!(best_model.metadata["epoch"], best.to_string());
    // Another test split changes nothing that was chosen.
    assert_eq!(history(&runs[1], "val_loss"), val);
    assert_eq!(runs[1]["best"]["epoch"], v["best"]["epoch"]);
    assert_eq!(runs[1]["best"]["value"], v["best"]["value"]);
    // Every epoch's metrics have the validation split and the CPU level.
    let metrics = std::fs::read_to_string(dir.0.join("run-test_a.csv/metrics.jsonl")).unwrap();
    for line in metrics.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        assert!(e["validation"]["loss"].as_f64().is_some(), "{e}");
        assert!(e["cpu_level"].is_string(), "{e}");
    }
    // The stopped run has nothing left to train.
    let o = nnc(
        &[
            "run",
            "test_a.csv.nn",
            "--resume",
            "run-test_a.csv/checkpoint.safetensors",
            "--out",
            "again",
        ],
        &dir.0,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("stopped early"), "{err}");
    assert!(!dir.0.join("again").exists());
    // eval reads the best model.
    let e = json(&nnc(
        &[
            "eval",
            "test_a.csv.nn",
            "--checkpoint",
            "run-test_a.csv/best.safetensors",
            "--json",
        ],
        &dir.0,
    ));
    assert!(e["test"]["loss"].as_f64().is_some());
}

/// `reduce_on_plateau` against PyTorch's rule recomputed from the run's own validation
/// losses: factor 0.5, patience 1, threshold 1e-4 (relative), no cooldown.
#[test]
fn reduce_on_plateau_follows_the_validation_loss() {
    let dir = Dir::new("validation-plateau");
    dir.write("noise.csv", &noise(200, 1));
    dir.write("test.csv", &noise(50, 2));
    dir.write(
        "p.nn",
        &spec(
            "test.csv",
            "  schedule: reduce_on_plateau(factor: 0.5, patience: 1)",
        )
        .replace("epochs: 40", "epochs: 10"),
    );
    let v = json(&nnc(&["run", "p.nn", "--json", "--out", "run"], &dir.0));
    let val = history(&v, "val_loss");
    let metrics = std::fs::read_to_string(dir.0.join("run/metrics.jsonl")).unwrap();
    let lrs: Vec<f64> = metrics
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["lr"]
                .as_f64()
                .unwrap()
        })
        .collect();
    let (mut lr, mut best, mut bad) = (0.02, f64::INFINITY, 0);
    let mut want = Vec::new();
    for loss in &val {
        want.push(lr);
        if *loss < best * (1.0 - 1e-4) {
            best = *loss;
            bad = 0;
        } else {
            bad += 1;
        }
        if bad > 1 {
            lr *= 0.5;
            bad = 0;
        }
    }
    assert_eq!(lrs, want, "validation losses {val:?}");
    assert!(lrs.last() < lrs.first(), "the noise run plateaus: {lrs:?}");
}

#[test]
fn a_watched_metric_needs_a_validation_split_and_split_must_leave_a_test_set() {
    let dir = Dir::new("validation-check");
    dir.write(
        "s.nn",
        &spec("noise.csv", "  early_stopping: (patience: 2)").replace("  validation: 0.25\n", ""),
    );
    let o = nnc(&["check", "s.nn"], &dir.0);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("nnc::train::invalid") && err.contains("validation"),
        "{err}"
    );
    dir.write(
        "split.nn",
        "data d { source: builtin(\"digits\")\n split: 1 }\n\
         network n { input x: [64] output y = x |> dense(10) }\n\
         train { network: n data: d }\n",
    );
    for args in [vec!["check", "split.nn"], vec!["run", "split.nn"]] {
        let o = nnc(&args, &dir.0);
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("nnc::args::out_of_range") && err.contains("split.nn:2"),
            "{err}"
        );
    }
    // With a separate test source the split is not used.
    dir.write("noise.csv", &noise(40, 1));
    dir.write(
        "split_test.nn",
        "data d { source: csv(\"noise.csv\")\n test: csv(\"noise.csv\")\n split: 1 }\n\
         network n { input x: [8] output y = x |> dense(2) }\n\
         train { network: n data: d epochs: 1 }\n",
    );
    let o = nnc(&["run", "split_test.nn", "--quiet", "--out", "r"], &dir.0);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

const SMALL: &str = r#"
data digits {
  source: builtin("digits")
  scale: standardize
}
network mlp {
  input x: [64]
  output logits = x |> dense(32) |> relu |> dense(10)
}
train {
  network: mlp
  data: digits
  optimizer: sgd(lr: 0.05, momentum: 0.9)
  schedule: cosine
  batch: 64
  epochs: 2
  seed: 3
}
"#;

fn words(bytes: &[u8]) -> String {
    let err = String::from_utf8_lossy(bytes).replace('│', " ");
    err.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn checkpoints_record_planned_epochs_and_cpu_level_and_resumes_warn() {
    let dir = Dir::new("resume-meta");
    dir.write("mlp.nn", SMALL);
    let portable = Command::new(env!("CARGO_BIN_EXE_nnc"))
        .args(["run", "mlp.nn", "--quiet", "--out", "first"])
        .env("NNC_CPU_LEVEL", "portable")
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(portable.status.success(), "{}", words(&portable.stderr));
    let ck = Checkpoint::load(&dir.0.join("first/checkpoint.safetensors")).unwrap();
    assert_eq!(ck.metadata["epochs_planned"], "2");
    assert_eq!(ck.metadata["backend"], "jit");
    assert_eq!(ck.metadata["cpu_level"], "portable");
    let model = Checkpoint::load(&dir.0.join("first/model.safetensors")).unwrap();
    assert_eq!(model.metadata["data.scaler.shift"].split(' ').count(), 64);
    // More epochs under cosine: the schedule changes, and the run says so; at this
    // machine's own level (unless it is portable) it also warns about the bits.
    let o = nnc(
        &[
            "run",
            "mlp.nn",
            "--resume",
            "first/checkpoint.safetensors",
            "--set",
            "train.epochs=3",
            "--out",
            "second",
        ],
        &dir.0,
    );
    assert!(o.status.success(), "{}", words(&o.stderr));
    let err = words(&o.stderr);
    assert!(
        err.contains("planned for 2 epochs and this run has 3"),
        "{err}"
    );
    let level = String::from_utf8(
        Command::new(env!("CARGO_BIN_EXE_nnc"))
            .args([
                "run",
                "mlp.nn",
                "--json",
                "--out",
                "third",
                "--set",
                "train.epochs=1",
            ])
            .current_dir(&dir.0)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let level: Value = serde_json::from_str(&level).unwrap();
    if level["cpu_level"] != "portable" {
        assert!(err.contains("CPU level portable"), "{err}");
    }
    // The reference backend records no CPU level.
    let o = nnc(
        &[
            "run",
            "mlp.nn",
            "--quiet",
            "--backend",
            "reference",
            "--out",
            "ref",
            "--set",
            "train.epochs=1",
        ],
        &dir.0,
    );
    assert!(o.status.success());
    let ck = Checkpoint::load(&dir.0.join("ref/checkpoint.safetensors")).unwrap();
    assert_eq!(ck.metadata["backend"], "reference");
    assert!(!ck.metadata.contains_key("cpu_level"));
}

#[test]
fn divergence_mentions_a_checkpoint_only_when_one_exists() {
    let dir = Dir::new("diverge-help");
    dir.write("mlp.nn", SMALL);
    let o = nnc(
        &[
            "run",
            "mlp.nn",
            "--quiet",
            "--out",
            "a",
            "--set",
            "train.optimizer=sgd(lr: 1e30)",
        ],
        &dir.0,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = words(&o.stderr);
    assert!(
        err.contains("nnc::run::non_finite") && err.contains("epoch 1"),
        "{err}"
    );
    assert!(!err.contains("intact"), "no checkpoint was written: {err}");
    // Diverging in a resumed run's first epoch: the checkpoint it resumed is intact.
    let o = nnc(
        &[
            "run",
            "mlp.nn",
            "--quiet",
            "--out",
            "b",
            "--set",
            "train.epochs=1",
        ],
        &dir.0,
    );
    assert!(o.status.success());
    let o = nnc(
        &[
            "run",
            "mlp.nn",
            "--quiet",
            "--out",
            "c",
            "--resume",
            "b/checkpoint.safetensors",
        ]
        .into_iter()
        .chain(["--set", "train.optimizer=sgd(lr: 1e30, momentum: 0.9)"])
        .collect::<Vec<_>>(),
        &dir.0,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = words(&o.stderr);
    assert!(err.contains("epoch 2"), "{err}");
    assert!(
        err.contains("b/checkpoint.safetensors (after epoch 1) is intact"),
        "{err}"
    );
}
