//! Logic rules and distillation in training: the rules' loss with pi = 0 is plain
//! cross-entropy bit for bit, the rules' teacher q is evaluated, a teacher checkpoint is
//! loaded (and refused when it does not match), all before any long training.

use nnc::train::{Backend, RunError, Trainer};
use std::path::{Path, PathBuf};

fn no_files(_: &Path) -> std::io::Result<Vec<u8>> {
    Err(std::io::ErrorKind::NotFound.into())
}

fn trainer(spec: &str, train: usize) -> Result<Trainer, RunError> {
    let checked = nnc::check_text("spec.nn", spec, &no_files);
    assert!(!checked.has_errors(), "{:?}", checked.diags);
    Trainer::new(
        &checked.program,
        &checked.program.trains[train],
        Path::new("."),
    )
}

const SENTIMENT: &str = r#"
data sentences {
  source: synthetic("but_sentiment", n: 300, dim: 4, but_fraction: 0.2)
  classes: ["negative", "positive"]
  scale: standardize
}
network net {
  input x: [9]
  output logits = x |> dense(8) |> relu |> dense(2)
}
rules r {
  strength: 6
  imitation: IMITATION
  rule a_but_b (weight: 1.0):
    feature("has_but") => (class == positive <=> predict(field("clause_b")) == positive)
}
train with_rules {
  network: net
  data: sentences
  rules: r
  optimizer: adam(lr: 0.01)
  batch: 32
  epochs: 2
}
train plain {
  network: net
  data: sentences
  optimizer: adam(lr: 0.01)
  batch: 32
  epochs: 2
}
"#;

/// Per-step losses and the final state of a run.
fn run(t: &mut Trainer) -> (Vec<u32>, Vec<(String, Vec<u32>)>) {
    t.init().unwrap();
    let mut losses = Vec::new();
    while t.epoch < t.decl.epochs {
        t.train_epoch(&mut |s| losses.push((s.loss as f32).to_bits()))
            .unwrap();
    }
    let state = t
        .state
        .iter()
        .map(|(n, v)| (n.clone(), v.iter().map(|x| x.to_bits()).collect()))
        .collect();
    (losses, state)
}

#[test]
fn rules_at_pi_zero_train_exactly_as_plain_cross_entropy() {
    let spec = SENTIMENT.replace("IMITATION", "0 * epoch");
    for backend in [Backend::Reference, Backend::Jit] {
        let mut with = trainer(&spec, 0).unwrap();
        let mut plain = trainer(&spec, 1).unwrap();
        with.backend = backend;
        plain.backend = backend;
        assert!(with.extras.rules.is_some() && plain.extras.rules.is_none());
        assert_eq!(run(&mut with), run(&mut plain), "{backend:?}");
    }
}

#[test]
fn rules_change_training_and_report_the_teacher() {
    let spec = SENTIMENT.replace("IMITATION", "min(0.9, 0.5 + epoch)");
    let mut with = trainer(&spec, 0).unwrap();
    let mut plain = trainer(&spec, 1).unwrap();
    assert_ne!(run(&mut with).0, run(&mut plain).0);
    let eval = with.evaluate(true).unwrap();
    let q = eval.q.as_ref().expect("the teacher q is evaluated");
    assert_eq!(q.predicted.len(), eval.predicted.len());
    assert!(q
        .scores
        .iter()
        .all(|s| (s.iter().sum::<f32>() - 1.0).abs() < 1e-4));
    let (name, held) = &eval.conditions[0];
    assert_eq!(name, "a_but_b");
    // 20% of the examples have "but"; the test split has some of them.
    let n_but = held.iter().filter(|h| **h).count();
    assert!(n_but > 0 && n_but < held.len(), "{n_but}");
    // Without "but" the rule is vacuous: q equals p.
    for ((h, qs), ps) in held.iter().zip(&q.scores).zip(&eval.scores) {
        if !h {
            assert!((qs[0] - ps[0]).abs() < 1e-5, "{qs:?} {ps:?}");
        }
    }
    assert!(plain.evaluate(true).unwrap().q.is_none());
}

const TEACHER: &str = r#"
data digits {
  source: builtin("digits")
  scale: standardize
}
network deep {
  input x: [64]
  output logits = x |> dense(WIDTH) |> relu |> dense(10)
}
network shallow {
  input x: [64]
  output logits = x |> dense(16) |> relu |> dense(10)
}
train teacher {
  network: deep
  data: digits
  optimizer: adam(lr: 0.01)
  batch: 128
  epochs: 1
}
train student {
  network: shallow
  data: digits
  teacher: deep from "CHECKPOINT"
  distill: (temperature: 4, weight: 0.9)
  optimizer: adam(lr: 0.01)
  batch: 128
  epochs: 1
}
"#;

fn temp_checkpoint(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nnc-rules-train-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("teacher.safetensors")
}

#[test]
fn a_student_distills_from_its_teacher_checkpoint() {
    let path = temp_checkpoint("ok");
    let spec = TEACHER
        .replace("WIDTH", "32")
        .replace("CHECKPOINT", &path.display().to_string());
    let mut teacher = trainer(&spec, 0).unwrap();
    teacher.init().unwrap();
    teacher.train_epoch(&mut |_| {}).unwrap();
    teacher.to_checkpoint().unwrap().save(&path).unwrap();

    let mut student = trainer(&spec, 1).unwrap();
    let d = student.extras.distill.as_ref().expect("a teacher");
    assert_eq!((d.temperature, d.weight), (4.0, 0.9));
    assert!(student.fixed.keys().all(|k| k.starts_with("teacher.")));
    assert!(!student.fixed.is_empty());
    student.init().unwrap();
    let (loss, _) = student.train_epoch(&mut |_| {}).unwrap();
    assert!(loss.is_finite());
    // The teacher's weights are read, not trained, and not saved with the student.
    let ck = student.to_checkpoint().unwrap();
    assert!(ck.tensors.keys().all(|k| !k.starts_with("teacher.")));

    // A teacher network that is not the one the checkpoint holds.
    let wrong = TEACHER
        .replace("WIDTH", "48")
        .replace("CHECKPOINT", &path.display().to_string());
    match trainer(&wrong, 1) {
        Err(RunError::Config { message, .. }) => {
            assert!(
                message.contains("does not match network `deep`"),
                "{message}"
            )
        }
        other => panic!("{:?}", other.err()),
    }
    // No checkpoint at all.
    let missing = TEACHER
        .replace("WIDTH", "32")
        .replace("CHECKPOINT", "no/such/teacher.safetensors");
    match trainer(&missing, 1) {
        Err(RunError::Config { message, help, .. }) => {
            assert!(
                message.contains("cannot read the teacher checkpoint"),
                "{message}"
            );
            assert!(help.contains("Train the teacher first"), "{help}");
        }
        other => panic!("{:?}", other.err()),
    }
    std::fs::remove_dir_all(path.parent().unwrap()).ok();
}
