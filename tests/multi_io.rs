//! Networks with several inputs and outputs (issue 12): specs/multi_io.nn trains both heads
//! on both backends, the loss weights reach the gradients, per-output losses and target
//! columns are read by name, and `nnc run` / `nnc eval` report every head.

#[path = "common/cli.rs"]
mod cli;

use cli::{json, nnc, Dir};
use nnc::train::{Backend, Trainer};
use std::path::Path;

fn spec_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/multi_io.nn")
}

/// specs/multi_io.nn with `overrides` (`--set` syntax), ready to train.
fn trainer(overrides: &[&str]) -> Trainer {
    let path = spec_path();
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let checked = nnc::check_path_with(&path, &|p| std::fs::read(p), &overrides);
    assert!(!checked.has_errors(), "{:?}", checked.diags);
    let decl = &checked.program.trains[0];
    Trainer::new(&checked.program, decl, path.parent().unwrap()).unwrap()
}

#[test]
fn both_heads_learn_on_both_backends() {
    for backend in [Backend::Reference, Backend::Jit] {
        let mut t = trainer(&["train.epochs=3"]);
        t.set_backend(backend);
        t.init().unwrap();
        for _ in 0..3 {
            t.train_epoch(&mut |_| {}).unwrap();
        }
        let eval = t.evaluate(true).unwrap();
        let names: Vec<&str> = eval.heads.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["digit", "parity"], "{backend:?}");
        let digit = &eval.heads[0].1;
        let parity = &eval.heads[1].1;
        // Chance is 10% and 50%; three epochs of this network reach about 95% on each.
        assert!(
            digit.accuracy() > 0.85,
            "{backend:?}: digit {}",
            digit.accuracy()
        );
        assert!(
            parity.accuracy() > 0.85,
            "{backend:?}: parity {}",
            parity.accuracy()
        );
        assert_eq!((digit.n_classes, parity.n_classes), (10, 2));
        // The parity labels are the digit labels mod 2: the two heads read different columns.
        assert!(digit
            .labels
            .iter()
            .zip(&parity.labels)
            .all(|(d, p)| d % 2 == *p));
        assert!(digit.labels.iter().any(|&d| d > 1));
        // The reported loss is the weighted total: digit + 0.5 parity.
        let total = digit.loss + 0.5 * parity.loss;
        assert!(
            (eval.loss - total).abs() < 1e-4 * (1.0 + total),
            "{backend:?}: {} vs {total}",
            eval.loss
        );
        assert_eq!(eval.accuracy(), digit.accuracy());
    }
}

/// The parity head's own layer (the `dense` that makes `parity`).
fn parity_layer(t: &Trainer) -> String {
    let net = t.net();
    let out = net.outputs.iter().find(|o| o.name == "parity").unwrap();
    net.layer(out.layer).name.clone()
}

/// With weight 0 the parity loss sends no gradient: its layer keeps its init, while the
/// digit head and the shared layers train. With weight 1 the parity layer moves.
#[test]
fn a_zero_loss_weight_leaves_that_head_untrained() {
    for (weight, moves) in [("0", false), ("1", true)] {
        let mut t = trainer(&[
            "train.epochs=1",
            "train.optimizer=sgd(lr: 0.05)",
            &format!("train.loss_weights=(parity: {weight})"),
        ]);
        t.init().unwrap();
        let before = t.state().clone();
        t.train_epoch(&mut |_| {}).unwrap();
        let layer = parity_layer(&t);
        let mut own = 0;
        for p in t.params() {
            let changed = before[&p.name] != t.state()[&p.name];
            if p.layer == layer {
                own += 1;
                assert_eq!(changed, moves, "weight {weight}: {}", p.name);
            } else {
                assert!(changed, "weight {weight}: {} did not train", p.name);
            }
        }
        assert_eq!(own, 2, "the parity layer's weight and bias");
    }
}

/// A network with one output may learn another target column by name.
#[test]
fn one_output_learns_the_named_target_column() {
    let spec = r#"
data digits_multi {
  source: synthetic("digits_multi")
  scale: divide(by: 16)
  targets: (parity: 1)
}
network mlp {
  input x: [68]
  output parity = x |> dense(32) |> relu |> dense(2)
}
train {
  network: mlp
  data: digits_multi
  optimizer: adam(lr: 0.01)
  epochs: 2
}
"#;
    let checked = nnc::check_text("one.nn", spec, &|p| std::fs::read(p));
    assert!(!checked.has_errors(), "{:?}", checked.diags);
    let mut t = Trainer::new(&checked.program, &checked.program.trains[0], Path::new(".")).unwrap();
    t.init().unwrap();
    t.train_epoch(&mut |_| {}).unwrap();
    let eval = t.evaluate(true).unwrap();
    assert!(eval.heads.is_empty());
    assert_eq!(eval.n_classes, 2);
    assert!(eval.labels.iter().all(|&l| l < 2) && eval.labels.contains(&1));
    assert!(eval.accuracy() > 0.6, "{}", eval.accuracy());
}

#[test]
fn the_resolved_program_shows_the_per_name_fields() {
    let path = spec_path();
    let checked = nnc::check_path(&path, &|p| std::fs::read(p));
    assert!(!checked.has_errors(), "{:?}", checked.diags);
    let text = nnc::hir::display::print_program(&checked.program, &checked.sources);
    for line in [
        "inputs: (image: columns(from: 0, to: 64), meta: columns(from: 64, to: 68))",
        "targets: (digit: 0, parity: 1)",
        "loss: (digit: cross_entropy(label_smoothing: 0), parity: cross_entropy(label_smoothing: 0.05))",
        "loss_weights: (parity: 0.5)",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
}

#[test]
fn run_and_eval_report_every_head() {
    let dir = Dir::new("multi-io");
    let spec = std::fs::read_to_string(spec_path()).unwrap();
    dir.write("multi_io.nn", &spec);
    let run = nnc(
        &["run", "multi_io.nn", "--set", "train.epochs=2", "--json"],
        &dir.0,
    );
    let v = json(&run);
    for output in ["digit", "parity"] {
        for key in ["loss", "accuracy", "macro_f1"] {
            assert!(
                v["test"]["outputs"][output][key].as_f64().is_some(),
                "test.outputs.{output}.{key} in {v}"
            );
        }
        assert!(v["train"]["outputs"][output]["accuracy"].as_f64().is_some());
    }
    let metrics = std::fs::read_to_string(dir.0.join("runs/multi_io/metrics.jsonl")).unwrap();
    for line in metrics.lines() {
        let epoch: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(epoch["test"]["outputs"]["parity"]["accuracy"]
            .as_f64()
            .is_some());
    }
    let model = v["model"].as_str().unwrap().to_string();
    let eval = nnc(
        &["eval", "multi_io.nn", "--checkpoint", &model, "--json"],
        &dir.0,
    );
    let e = json(&eval);
    for output in ["digit", "parity"] {
        assert_eq!(
            e["test"]["outputs"][output]["accuracy"], v["test"]["outputs"][output]["accuracy"],
            "{output}"
        );
    }
    let text = nnc(&["eval", "multi_io.nn", "--checkpoint", &model], &dir.0);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("output digit: accuracy") && text.contains("output parity: accuracy"),
        "{text}"
    );
    // Prediction is refused with a report, not a panic.
    dir.write("rows.csv", &vec!["0"; 68].join(","));
    let predict = nnc(
        &[
            "predict",
            "multi_io.nn",
            "--checkpoint",
            &model,
            "--input",
            "rows.csv",
        ],
        &dir.0,
    );
    assert_eq!(predict.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&predict.stderr);
    assert!(stderr.contains("one input and one output"), "{stderr}");
}

/// One `loss` serves every output, each weighing 1 unless `loss_weights` says otherwise.
#[test]
fn a_single_loss_serves_every_output() {
    let path = spec_path();
    let overrides = vec![
        "train.loss=cross_entropy".to_string(),
        "train.loss_weights=(digit: 2)".to_string(),
    ];
    let checked = nnc::check_path_with(&path, &|p| std::fs::read(p), &overrides);
    assert!(!checked.has_errors(), "{:?}", checked.diags);
    let decl = &checked.program.trains[0];
    let net = checked.program.network(&decl.network).unwrap();
    let data = &checked.program.data[0];
    let heads = nnc::hir::settings::heads::heads(decl, net, data);
    let summary: Vec<(&str, String, f64, usize, usize)> = heads
        .iter()
        .map(|h| {
            (
                h.output.as_str(),
                h.loss.to_string(),
                h.weight,
                h.column,
                h.width,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "digit",
                "cross_entropy(label_smoothing: 0)".to_string(),
                2.0,
                0,
                10
            ),
            (
                "parity",
                "cross_entropy(label_smoothing: 0)".to_string(),
                1.0,
                1,
                2
            ),
        ]
    );
}
