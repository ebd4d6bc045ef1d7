//! `nnc run` and `nnc eval` end to end, through the binary: the files a run writes, its
//! JSON, reproducibility of checkpoints, and bad input giving exit code 1 and a report.

#[path = "common/cli.rs"]
mod cli;

use cli::{json, nnc, Dir};
use std::path::PathBuf;

const SPEC: &str = r#"
data digits {
  source: builtin("digits")
  scale: standardize
}
network mlp {
  input x: [64]
  let h = x |> dense(32, init: lsuv) |> batch_norm |> relu
  output logits = h |> dense(10)
}
train {
  network: mlp
  data: digits
  optimizer: adam(lr: 0.01)
  batch: 64
  epochs: 2
  seed: 3
}
"#;

#[test]
fn a_run_writes_its_files_and_reports_json() {
    let dir = Dir::new("cli-files");
    dir.write("mlp.nn", SPEC);
    let out = nnc(&["run", "mlp.nn", "--json"], &dir.0);
    let v = json(&out);
    for key in ["accuracy", "loss", "macro_f1"] {
        assert!(v["test"][key].as_f64().is_some(), "test.{key} in {v}");
    }
    assert!(v["train"]["accuracy"].as_f64().unwrap() > 0.8, "{v}");
    assert_eq!(v["epochs"], 2);
    assert!(v["seconds"].as_f64().is_some());
    let lsuv = v["init"]["lsuv"].as_array().unwrap();
    assert_eq!(lsuv.len(), 1);
    for key in ["layer", "var_before", "var_after", "iterations"] {
        assert!(!lsuv[0][key].is_null(), "{key}");
    }
    let run = dir.0.join("runs/mlp");
    let checkpoint = PathBuf::from(v["checkpoint"].as_str().unwrap());
    assert!(dir.0.join(&checkpoint).is_file());
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2);
    for line in metrics.lines() {
        let epoch: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(epoch["test"]["accuracy"].as_f64().is_some());
    }
    assert!(run.join("spec.nn").is_file() && run.join("resolved.txt").is_file());
    // No temporary files are left behind.
    for entry in std::fs::read_dir(&run).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp"), "{name}");
    }

    // nnc eval agrees with the run's final test accuracy.
    let eval = json(&nnc(
        &[
            "eval",
            "mlp.nn",
            "--checkpoint",
            "runs/mlp/checkpoint.safetensors",
            "--json",
        ],
        &dir.0,
    ));
    assert_eq!(eval["test"]["accuracy"], v["test"]["accuracy"]);
    // So does the deployed model, which has no optimizer state.
    assert!(dir.0.join(v["model"].as_str().unwrap()).is_file());
    let eval = json(&nnc(
        &[
            "eval",
            "mlp.nn",
            "--checkpoint",
            "runs/mlp/model.safetensors",
            "--json",
        ],
        &dir.0,
    ));
    assert_eq!(eval["test"]["accuracy"], v["test"]["accuracy"]);
}

#[test]
fn same_seed_same_checkpoint_bytes_and_another_seed_differs() {
    let dir = Dir::new("cli-seeds");
    dir.write("mlp.nn", SPEC);
    let read = |name: &str| std::fs::read(dir.0.join(name).join("checkpoint.safetensors")).unwrap();
    for (out, seed) in [("a", "3"), ("b", "3"), ("c", "4")] {
        let o = nnc(
            &["run", "mlp.nn", "--quiet", "--out", out, "--seed", seed],
            &dir.0,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(read("a"), read("b"));
    assert_ne!(read("a"), read("c"));
}

#[test]
fn set_overrides_and_their_mistakes() {
    let dir = Dir::new("cli-set");
    dir.write("mlp.nn", SPEC);
    let v = json(&nnc(
        &["run", "mlp.nn", "--json", "--set", "train.epochs=1"],
        &dir.0,
    ));
    assert_eq!(v["epochs"], 1);
    let o = nnc(&["run", "mlp.nn", "--set", "train.epochs=zero"], &dir.0);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--set train.epochs=zero"));
}

#[test]
fn bad_input_is_exit_code_1_with_a_report() {
    let dir = Dir::new("cli-bad");
    // A missing data file.
    dir.write(
        "csv.nn",
        &SPEC.replace("builtin(\"digits\")", "csv(\"nowhere.csv\")"),
    );
    let o = nnc(&["run", "csv.nn", "--quiet"], &dir.0);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("nnc::data::missing_file") && err.contains("nowhere.csv"),
        "{err}"
    );
    // A corrupt checkpoint.
    dir.write("mlp.nn", SPEC);
    dir.write("bad.safetensors", "not a checkpoint");
    let o = nnc(
        &["eval", "mlp.nn", "--checkpoint", "bad.safetensors"],
        &dir.0,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.safetensors"));
    // Divergence names where it happened; a spec with errors is not run.
    dir.write(
        "nan.nn",
        &SPEC
            .replace("adam(lr: 0.01)", "sgd(lr: 1e30)")
            .replace("init: lsuv", "init: he"),
    );
    let o = nnc(&["run", "nan.nn", "--quiet"], &dir.0);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("nnc::run::non_finite") && err.contains("epoch 1"),
        "{err}"
    );
    // A rule naming a feature the data does not have: rendered with the spec's source.
    dir.write(
        "rule.nn",
        r#"
data sentences {
  source: synthetic("but_sentiment", n: 100, dim: 4, but_fraction: 0.1)
  classes: ["negative", "positive"]
}
network net {
  input x: [9]
  output logits = x |> dense(2)
}
rules r {
  rule a (weight: 1.0):
    feature("has_buut") => class == positive
}
train {
  network: net
  data: sentences
  rules: r
}
"#,
    );
    let o = nnc(&["run", "rule.nn", "--quiet"], &dir.0);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("nnc::run::config")
            && err.contains("rule.nn:12:13")
            && err.contains("Did you mean `has_but`?"),
        "{err}"
    );
    dir.write(
        "broken.nn",
        "network n { input x: [4] output y = x |> dense(0) }",
    );
    let o = nnc(&["run", "broken.nn"], &dir.0);
    assert_eq!(o.status.code(), Some(1));
    assert!(!o.stderr.is_empty());
}

/// `nnc ir` shows the step `nnc run` trains: with a rules block, its teacher q and pi are
/// in the training step (they need the data, which `nnc ir` then loads).
#[test]
fn ir_stages_include_the_rules_terms() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let spec = root.join("specs/logic_rules.nn");
    for stage in ["prim", "grad"] {
        let out = nnc(&["ir", spec.to_str().unwrap(), "--stage", stage], &root);
        assert!(out.status.success(), "{stage}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Input{name=\"rules.pi\"}"), "{stage}");
        assert!(text.contains("// rules sentiment_rules"), "{stage}");
    }
}

/// `nnc ir --eval` shows the inference program: folded batch norms in the pass trace, the
/// hoisted part in the plan, binary products; it has no `grad` stage.
#[test]
fn ir_eval_shows_the_inference_program() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let ir = |spec: &str, stage: &str| {
        let path = root.join(spec);
        nnc(
            &[
                "ir",
                path.to_str().unwrap(),
                "--stage",
                stage,
                "--eval",
                "--batch",
                "2",
            ],
            &root,
        )
    };
    let opt = ir("specs/digits.nn", "opt");
    assert!(opt.status.success());
    let text = String::from_utf8_lossy(&opt.stdout);
    assert!(text.contains("(inference)"));
    assert!(text.contains("// pass bnfold: ") && text.contains("scale into matmul x4"));
    let plan = ir("specs/xnor.nn", "plan");
    assert!(plan.status.success());
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(text.contains("// hoisted: computed once per parameter change"));
    assert_eq!(text.matches("binary gemm").count(), 4);
    let grad = ir("specs/digits.nn", "grad");
    assert_eq!(grad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&grad.stderr).contains("no `grad` stage"));
}

/// A command-line mistake exits 1 like every other failure; a flag that names a train or
/// data field points to `--set`; `--help` exits 0.
#[test]
fn command_line_mistakes_exit_1_with_a_set_hint() {
    let dir = Dir::new("cli-usage");
    dir.write("mlp.nn", SPEC);
    let out = nnc(&["run", "mlp.nn", "--epochs", "3"], &dir.0);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--set train.epochs=3"), "{err}");
    assert!(!err.contains("-- --epochs"), "{err}");
    let out = nnc(&["frobnicate"], &dir.0);
    assert_eq!(out.status.code(), Some(1));
    let out = nnc(&["run", "--help"], &dir.0);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--set <KEY=VALUE>"));
}

/// Resuming a run that has done all its epochs says so, exits 1 and writes no run folder;
/// raising the epochs continues it.
#[test]
fn resuming_a_finished_run_trains_nothing_and_says_how_to_continue() {
    let dir = Dir::new("cli-resume-done");
    dir.write("mlp.nn", SPEC);
    let out = nnc(&["run", "mlp.nn", "--quiet", "--out", "first"], &dir.0);
    assert!(out.status.success());
    let ck = dir.0.join("first/checkpoint.safetensors");
    let ck = ck.to_str().unwrap();
    let out = nnc(
        &["run", "mlp.nn", "--resume", ck, "--out", "second"],
        &dir.0,
    );
    assert_eq!(out.status.code(), Some(1));
    // The report is wrapped to the terminal's width: compare its words.
    let err = String::from_utf8_lossy(&out.stderr).replace('│', " ");
    let err = err.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(err.contains("nothing is left to train"), "{err}");
    assert!(err.contains("--set train.epochs=3"), "{err}");
    assert!(!dir.0.join("second").exists(), "no half-empty run folder");
    let args = [
        "run",
        "mlp.nn",
        "--quiet",
        "--resume",
        ck,
        "--set",
        "train.epochs=3",
    ];
    let out = nnc(&[&args[..], &["--out", "second"]].concat(), &dir.0);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.0.join("second/checkpoint.safetensors").exists());
}
