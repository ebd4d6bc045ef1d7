//! Every spec in specs/ with a train block trains for one epoch (short settings through
//! `--set`), and the default spec reaches the accuracy the README promises.

use nnc::train::{RunError, Trainer};
use std::path::{Path, PathBuf};

fn specs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nn"))
        .collect();
    out.sort();
    out
}

fn trainer(path: &Path, overrides: &[&str]) -> Result<Option<Trainer>, RunError> {
    let plain = nnc::check_path(path, &|p| std::fs::read(p));
    if plain.program.trains.is_empty() {
        return Ok(None);
    }
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let checked = nnc::check_path_with(path, &|p| std::fs::read(p), &overrides);
    assert!(
        !checked.has_errors(),
        "{}: {:?}",
        path.display(),
        checked.diags
    );
    let Some(decl) = checked.program.trains.first() else {
        return Ok(None);
    };
    Trainer::new(&checked.program, decl, path.parent().unwrap()).map(Some)
}

/// Reads its teacher's checkpoint from runs/ (relative to the current directory), which
/// exists only after `nnc run specs/distill_teacher.nn`.
const NEEDS_TEACHER: &str = "distill_student.nn";

#[test]
fn every_spec_trains_one_epoch() {
    for path in specs() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // The A-but-B spec learns slowly at its own rate (0.001); one epoch needs more.
        let overrides: &[&str] = if name == "logic_rules.nn" {
            &["train.epochs=1", "train.optimizer=adam(lr: 0.01)"]
        } else {
            &["train.epochs=1"]
        };
        match trainer(&path, overrides) {
            Ok(None) => continue, // AlexNet, GoogLeNet: no data here.
            Ok(Some(mut t)) => {
                t.init().unwrap_or_else(|e| panic!("{name}: {e}"));
                let (loss, _) = t
                    .train_epoch(&mut |_| {})
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let eval = t.evaluate(true).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(
                    loss.is_finite() && eval.loss.is_finite(),
                    "{name}: loss {loss}, test {}",
                    eval.loss
                );
                assert!(
                    eval.accuracy() > 1.5 / eval.n_classes as f64,
                    "{name}: accuracy {}",
                    eval.accuracy()
                );
            }
            Err(RunError::Config { message, .. }) if name == NEEDS_TEACHER => {
                assert!(
                    message.contains("cannot read the teacher checkpoint"),
                    "{name}: {message}"
                );
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
}

#[test]
fn the_default_spec_reaches_97_percent() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/digits.nn");
    let mut t = trainer(&path, &[]).unwrap().unwrap();
    t.init().unwrap();
    while t.epoch() < t.decl().epochs {
        t.train_epoch(&mut |_| {}).unwrap();
    }
    let acc = t.evaluate(true).unwrap().accuracy();
    assert!(acc >= 0.97, "test accuracy {acc}");
}

/// The header comments of specs/transformer.nn and specs/embedding.nn promise at least 90%.
#[test]
fn the_transformer_and_embedding_specs_reach_90_percent() {
    for spec in ["specs/transformer.nn", "specs/embedding.nn"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(spec);
        let mut t = trainer(&path, &[]).unwrap().unwrap();
        t.init().unwrap();
        while t.epoch() < t.decl().epochs {
            t.train_epoch(&mut |_| {}).unwrap();
        }
        let acc = t.evaluate(true).unwrap().accuracy();
        assert!(acc >= 0.9, "{spec}: test accuracy {acc}");
    }
}

/// The header comment of specs/lstm_digits.nn promises at least 95% (issue 14).
#[test]
fn the_lstm_spec_reaches_95_percent() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/lstm_digits.nn");
    let mut t = trainer(&path, &[]).unwrap().unwrap();
    t.init().unwrap();
    while t.epoch() < t.decl().epochs {
        t.train_epoch(&mut |_| {}).unwrap();
    }
    let acc = t.evaluate(true).unwrap().accuracy();
    assert!(acc >= 0.95, "test accuracy {acc}");
}

#[test]
fn the_lsuv_spec_brings_every_lsuv_layer_within_tol_of_unit_variance() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/lsuv_deep.nn");
    let mut t = trainer(&path, &[]).unwrap().unwrap();
    let tol = match t.decl().init {
        Some(nnc::hir::Init::Lsuv { tol, .. }) => tol,
        ref other => panic!("lsuv_deep.nn should default to LSUV, has {other:?}"),
    };
    let reports = t.init().unwrap();
    let lsuv_layers = t
        .params()
        .iter()
        .filter(|p| p.kind == nnc::hir::params::ParamKind::Weight)
        .count();
    assert_eq!(reports.len(), lsuv_layers);
    for r in &reports {
        assert!((r.var_after - 1.0).abs() < tol, "{r:?}");
    }
}
