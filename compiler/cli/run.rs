//! `nnc run` and `nnc eval`: check the spec, prepare data, initialise (or resume), train,
//! evaluate, and write the run's files under `runs/<spec name>/` (or `--out`):
//!
//! - `metrics.jsonl`: one JSON object per epoch;
//! - `checkpoint.safetensors`: parameters, running statistics and optimizer state (what
//!   `--resume` continues from);
//! - `model.safetensors`: the deployed model, without optimizer state and with binary
//!   layers' weights packed 1 bit a weight plus their scales (what `nnc eval` and
//!   `--init-from` read; they read checkpoint.safetensors too);
//! - `spec.nn`: the spec as run (with the `--set` overrides noted), `resolved.txt`: every
//!   block with its defaults filled in;
//! - `loss.png`, `accuracy.png`: train and test curves per epoch;
//! - `roc.png`: the test split's ROC curve, for two classes.
//!
//! Every file is written to a temporary file and renamed, so an interrupted run leaves the
//! last good checkpoint intact.

use nnc::hir::{Program, TrainDecl};
use nnc::train::lsuv::LsuvReport;
use nnc::train::{Backend, Evaluation, RunError, Trainer};
use nnc_runtime::checkpoint::Checkpoint;
use nnc_runtime::files::write_atomic;
use nnc_runtime::metrics::ClassificationReport;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct RunArgs {
    pub file: PathBuf,
    pub train: Option<String>,
    pub overrides: Vec<String>,
    pub out: Option<PathBuf>,
    pub json: bool,
    pub quiet: bool,
    pub resume: Option<PathBuf>,
    pub init_from: Option<PathBuf>,
    pub backend: Backend,
}

/// Why a command failed: its diagnostics were already printed, or here is the report.
pub enum Failure {
    Reported,
    Report(miette::Report),
}

impl From<RunError> for Failure {
    fn from(e: RunError) -> Failure {
        Failure::Report(miette::Report::new(e))
    }
}

impl From<nnc_runtime::checkpoint::CheckpointError> for Failure {
    fn from(e: nnc_runtime::checkpoint::CheckpointError) -> Failure {
        Failure::Report(miette::Report::new(e))
    }
}

impl From<miette::Report> for Failure {
    fn from(r: miette::Report) -> Failure {
        Failure::Report(r)
    }
}

/// The train block to run: the one named, or the only one.
pub fn select_train<'p>(
    program: &'p Program,
    name: Option<&str>,
    file: &Path,
) -> Result<&'p TrainDecl, miette::Report> {
    match (name, program.trains.as_slice()) {
        (Some(name), trains) => trains
            .iter()
            .find(|t| t.name.as_deref() == Some(name))
            .ok_or_else(|| {
                miette::miette!(
                    code = "nnc::run::config",
                    help = "Name a train block of the spec with --train.",
                    "no train block named `{name}`"
                )
            }),
        (None, [only]) => Ok(only),
        (None, []) => Err(miette::miette!(
            code = "nnc::run::config",
            help = "Add a `train { network: ..., data: ... }` block.",
            "{} has no train block",
            file.display()
        )),
        (None, _) => Err(miette::miette!(
            code = "nnc::run::config",
            help = "Choose one with --train NAME.",
            "{} has several train blocks",
            file.display()
        )),
    }
}

/// Checks the spec and prepares its trainer.
pub fn prepare(
    file: &Path,
    train: Option<&str>,
    overrides: &[String],
    backend: Backend,
) -> Result<(nnc::Checked, Trainer), Failure> {
    let checked = nnc::check_path_with(file, &|p| std::fs::read(p), overrides);
    let trainer = trainer_for(&checked, train, file, backend)?;
    Ok((checked, trainer))
}

/// Reports the checked spec's diagnostics, then builds the trainer of its train block
/// `train`. Errors that point into the spec (a rule naming an unknown feature...) are
/// rendered with its source, as `nnc check` renders its own.
pub fn trainer_for(
    checked: &nnc::Checked,
    train: Option<&str>,
    file: &Path,
    backend: Backend,
) -> Result<Trainer, Failure> {
    if crate::report(checked) {
        return Err(Failure::Reported);
    }
    let decl = select_train(&checked.program, train, file)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut trainer =
        Trainer::new(&checked.program, decl, base).map_err(|e| match e.spec_diagnostic() {
            Some(d) => {
                eprint!(
                    "{}",
                    nnc::diagnostics::render(&[d], &checked.sources, crate::render_options())
                );
                Failure::Reported
            }
            None => e.into(),
        })?;
    trainer.backend = backend;
    Ok(trainer)
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Failure {
    Failure::Report(miette::miette!(
        code = "nnc::run::io",
        help = "Check that the folder is writable, or choose another with --out.",
        "cannot write {what} {}: {e}",
        path.display()
    ))
}

/// Metrics of one evaluation, from the trainer's predictions.
fn report_of(eval: &Evaluation) -> Option<ClassificationReport> {
    if eval.labels.is_empty() {
        return None;
    }
    let y_true: Vec<usize> = eval.labels.iter().map(|&l| l as usize).collect();
    let y_pred: Vec<usize> = eval.predicted.iter().map(|&l| l as usize).collect();
    let scores: Vec<f32> = eval.scores.iter().flatten().copied().collect();
    ClassificationReport::new(&y_true, &y_pred, Some(&scores), eval.n_classes).ok()
}

fn split_json(eval: &Evaluation, report: Option<&ClassificationReport>, full: bool) -> Value {
    let mut v = json!({"loss": eval.loss, "accuracy": eval.accuracy()});
    if let Some(r) = report {
        v["macro_f1"] = json!(r.macro_avg.f1);
        if let Some(auc) = r.roc_auc {
            v["roc_auc"] = json!(auc);
        }
        if full {
            v["per_class"] = json!(r.per_class);
            v["confusion"] = json!(r.confusion);
            v["weighted_f1"] = json!(r.weighted_avg.f1);
            if let Some(ap) = r.average_precision {
                v["pr_auc"] = json!(ap);
            }
        }
    }
    if let Some(q) = &eval.q {
        v["q"] = split_json(q, report_of(q).as_ref(), full);
    }
    if !eval.conditions.is_empty() {
        let rules: serde_json::Map<String, Value> = rule_subsets(eval)
            .into_iter()
            .map(|s| {
                let v = json!({"examples": s.examples, "accuracy": s.accuracy, "q_accuracy": s.q_accuracy});
                (s.rule, v)
            })
            .collect();
        v["rules"] = Value::Object(rules);
    }
    v
}

/// Accuracy of the student p and the rules' teacher q on the examples where a rule's
/// condition holds (the "but" sentences of the A-but-B rule).
struct RuleSubset {
    rule: String,
    examples: usize,
    accuracy: f64,
    q_accuracy: f64,
}

fn rule_subsets(eval: &Evaluation) -> Vec<RuleSubset> {
    let accuracy = |predicted: &[u32], held: &[bool]| {
        let (mut right, mut n) = (0usize, 0usize);
        for ((p, l), h) in predicted.iter().zip(&eval.labels).zip(held) {
            if *h {
                n += 1;
                right += usize::from(p == l);
            }
        }
        (n, right as f64 / n.max(1) as f64)
    };
    eval.conditions
        .iter()
        .map(|(rule, held)| {
            let (examples, acc) = accuracy(&eval.predicted, held);
            let q_acc = eval
                .q
                .as_ref()
                .map_or(f64::NAN, |q| accuracy(&q.predicted, held).1);
            RuleSubset {
                rule: rule.clone(),
                examples,
                accuracy: acc,
                q_accuracy: q_acc,
            }
        })
        .collect()
}

/// The rules' lines of the final report: the teacher q's accuracy, and both models on the
/// examples each rule speaks about.
fn rules_report(eval: &Evaluation) -> String {
    let mut out = String::new();
    if let Some(q) = &eval.q {
        out.push_str(&format!(
            "rules teacher q: test accuracy {:.4} (student p {:.4})\n",
            q.accuracy(),
            eval.accuracy()
        ));
    }
    for s in rule_subsets(eval) {
        out.push_str(&format!(
            "rule {}: its condition holds for {} test examples; accuracy there: student p {:.4}, teacher q {:.4}\n",
            s.rule, s.examples, s.accuracy, s.q_accuracy
        ));
    }
    out
}

/// The run folder: `--out`, else `runs/<spec file stem>`.
fn out_dir(args: &RunArgs) -> PathBuf {
    args.out.clone().unwrap_or_else(|| {
        let stem = args
            .file
            .file_stem()
            .map_or("spec".into(), |s| s.to_string_lossy().into_owned());
        Path::new("runs").join(stem)
    })
}

/// The train block's `metrics` beyond accuracy, for the per-epoch line (the final table
/// and the JSON always hold every metric).
fn requested(metrics: &[String], r: &ClassificationReport) -> String {
    let mut out = String::new();
    for m in metrics {
        match m.as_str() {
            "macro_f1" => out.push_str(&format!(" macro-F1 {:.4}", r.macro_avg.f1)),
            "roc_auc" => out.push_str(
                &r.roc_auc
                    .map_or(String::new(), |v| format!(" ROC-AUC {v:.4}")),
            ),
            "pr_auc" => out.push_str(
                &r.average_precision
                    .map_or(String::new(), |v| format!(" PR-AUC {v:.4}")),
            ),
            _ => {}
        }
    }
    out
}

/// `loss.png` and `accuracy.png` from the metrics lines of every epoch so far.
fn plot_curves(out: &Path, lines: &[String]) -> Result<(), Failure> {
    use nnc_runtime::plot::{epoch_plot, Chart};
    let epochs: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let series = |split: &str, key: &str| -> Vec<f64> {
        epochs
            .iter()
            .map(|e| e[split][key].as_f64().unwrap_or(f64::NAN))
            .collect()
    };
    for (key, file, title) in [
        ("loss", "loss.png", "Loss"),
        ("accuracy", "accuracy.png", "Accuracy"),
    ] {
        let (train, test) = (series("train", key), series("test", key));
        let chart = Chart::new(title).x_label("epoch").y_label(key);
        epoch_plot(
            &out.join(file),
            &chart,
            &[("train", &train), ("test", &test)],
        )
        .map_err(|e| Failure::Report(miette::Report::new(e)))?;
    }
    Ok(())
}

/// `roc.png`: the ROC curve of the test split's class-1 probabilities, when there are two
/// classes and both occur in the test split (otherwise the curve is undefined).
fn plot_roc(out: &Path, eval: &Evaluation, class_names: Option<&[String]>) -> Result<(), Failure> {
    use nnc_runtime::plot::{roc_plot, Chart};
    if eval.n_classes != 2 {
        return Ok(());
    }
    let positive: Vec<bool> = eval.labels.iter().map(|&l| l == 1).collect();
    if !positive.contains(&true) || !positive.contains(&false) {
        return Ok(());
    }
    let scores: Vec<f32> = eval.scores.iter().map(|s| s[1]).collect();
    let name = class_names
        .and_then(|n| n.get(1))
        .map_or("class 1".to_string(), |n| format!("`{n}`"));
    let chart = Chart::new(format!("ROC, test split, positive class {name}"))
        .x_label("false positive rate")
        .y_label("true positive rate");
    roc_plot(&out.join("roc.png"), &chart, &positive, &scores)
        .map_err(|e| Failure::Report(miette::Report::new(e)))
}

/// Runs training.
pub fn run(args: &RunArgs) -> Result<(), Failure> {
    let (checked, mut trainer) = prepare(
        &args.file,
        args.train.as_deref(),
        &args.overrides,
        args.backend,
    )?;
    let out = out_dir(args);
    std::fs::create_dir_all(&out).map_err(|e| io_error("the run folder", &out, e))?;
    let checkpoint_path = out.join("checkpoint.safetensors");
    let model_path = out.join("model.safetensors");
    let show = !args.quiet && !args.json;

    let mut lines: Vec<String> = Vec::new();
    let mut lsuv: Vec<LsuvReport> = Vec::new();
    if let Some(path) = &args.resume {
        trainer.resume_from(&Checkpoint::load(path)?)?;
        // Keep the metrics of the epochs already done.
        if let Ok(text) = std::fs::read_to_string(out.join("metrics.jsonl")) {
            lines = text
                .lines()
                .take(trainer.epoch as usize)
                .map(str::to_string)
                .collect();
        }
        if show {
            eprintln!("resuming {} at epoch {}", path.display(), trainer.epoch + 1);
        }
    } else {
        lsuv = trainer.init()?;
        if let Some(path) = &args.init_from {
            let loaded = trainer.init_from(&Checkpoint::load(path)?)?;
            if show {
                eprintln!("loaded {} tensors from {}", loaded.len(), path.display());
            }
        }
    }
    if show {
        for r in &lsuv {
            eprintln!(
                "lsuv {}: variance {:.4} -> {:.4} in {} iteration(s)",
                r.layer, r.var_before, r.var_after, r.iterations
            );
        }
    }
    let spec_text = std::fs::read_to_string(&args.file).unwrap_or_default();
    let mut spec_out = String::new();
    for o in &args.overrides {
        spec_out.push_str(&format!("// --set {o}\n"));
    }
    spec_out.push_str(&spec_text);
    write_atomic(&out.join("spec.nn"), spec_out.as_bytes())
        .map_err(|e| io_error("the spec copy", &out, e))?;
    let resolved = nnc::hir::display::print_program(&checked.program, &checked.sources);
    write_atomic(&out.join("resolved.txt"), resolved.as_bytes())
        .map_err(|e| io_error("the resolved spec", &out, e))?;

    let epochs = trainer.decl.epochs;
    let bar = super::progress::bar(epochs * trainer.steps_per_epoch(), show);
    bar.set_position(trainer.epoch * trainer.steps_per_epoch());
    let start = Instant::now();
    let mut history: Vec<(f64, f64, f64, f64)> = Vec::new();
    let mut last: Option<(Evaluation, Evaluation, f64, f64)> = None;
    while trainer.epoch < epochs {
        let epoch_start = Instant::now();
        let mut samples = 0usize;
        let mut on_step = |s: nnc::train::StepReport| {
            samples += s.samples;
            let rate = samples as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(super::progress::message(&s, epochs, rate));
            bar.inc(1);
        };
        let lr = trainer.lr();
        let (train_loss, train_acc) = trainer.train_epoch(&mut on_step)?;
        let test = trainer.evaluate(true)?;
        let report = report_of(&test);
        let line = json!({
            "epoch": trainer.epoch,
            "step": trainer.step,
            "lr": lr,
            "seconds": epoch_start.elapsed().as_secs_f64(),
            "train": {"loss": train_loss, "accuracy": train_acc},
            "test": split_json(&test, report.as_ref(), true),
        });
        lines.push(line.to_string());
        write_atomic(
            &out.join("metrics.jsonl"),
            (lines.join("\n") + "\n").as_bytes(),
        )
        .map_err(|e| io_error("metrics", &out, e))?;
        trainer.to_checkpoint()?.save(&checkpoint_path)?;
        trainer.to_model()?.save(&model_path)?;
        plot_curves(&out, &lines)?;
        if show {
            // `suspend` prints whether or not stderr is a terminal (`println` would not).
            let line = format!(
                "epoch {:>3}/{epochs}  train loss {train_loss:.4} acc {train_acc:.4}  test loss {:.4} acc {:.4}{}",
                trainer.epoch,
                test.loss,
                test.accuracy(),
                report.as_ref().map_or(String::new(), |r| requested(&trainer.decl.metrics, r)),
            );
            let line = match &test.q {
                Some(q) => format!("{line}  q acc {:.4}", q.accuracy()),
                None => line,
            };
            bar.suspend(|| eprintln!("{line}"));
        }
        history.push((train_loss, test.loss, train_acc, test.accuracy()));
        last = Some((test, Evaluation::default(), train_loss, train_acc));
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let test = match last {
        Some((test, ..)) => test,
        None => trainer.evaluate(true)?,
    };
    let train_eval = trainer.evaluate(false)?;
    let report = report_of(&test);
    let train_report = report_of(&train_eval);
    plot_roc(&out, &test, trainer.data.test.class_names())?;
    if args.json {
        let out_json = json!({
            "spec": args.file.display().to_string(),
            "network": trainer.net.name,
            "epochs": epochs,
            "steps": trainer.step,
            "seconds": seconds,
            "test": split_json(&test, report.as_ref(), true),
            "train": split_json(&train_eval, train_report.as_ref(), false),
            "checkpoint": checkpoint_path.display().to_string(),
            "model": model_path.display().to_string(),
            "out": out.display().to_string(),
            "init": {"lsuv": lsuv},
            "history": history.iter().map(|h| json!({"train_loss": h.0, "test_loss": h.1, "train_accuracy": h.2, "test_accuracy": h.3})).collect::<Vec<_>>(),
        });
        outln!("{out_json}");
    } else {
        if let Some(r) = &report {
            let names = trainer
                .data
                .test
                .class_names()
                .map(|n| n.iter().map(String::as_str).collect::<Vec<_>>());
            out!("{}", r.render_table(names.as_deref()));
        }
        out!("{}", rules_report(&test));
        outln!(
            "test accuracy {:.4}, loss {:.4}; train accuracy {:.4}, loss {:.4}; {epochs} epochs in {seconds:.1} s",
            test.accuracy(),
            test.loss,
            train_eval.accuracy(),
            train_eval.loss
        );
        outln!("wrote {}", out.display());
    }
    Ok(())
}

/// `nnc eval`: the test split's metrics for a checkpoint.
pub fn eval(
    file: &Path,
    train: Option<&str>,
    overrides: &[String],
    checkpoint: &Path,
    json_out: bool,
    backend: Backend,
) -> Result<(), Failure> {
    let (_, mut trainer) = prepare(file, train, overrides, backend)?;
    trainer.load_weights(&Checkpoint::load(checkpoint)?)?;
    let test = trainer.evaluate(true)?;
    let report = report_of(&test);
    if json_out {
        outln!(
            "{}",
            json!({"spec": file.display().to_string(), "checkpoint": checkpoint.display().to_string(), "test": split_json(&test, report.as_ref(), true)})
        );
    } else {
        if let Some(r) = &report {
            let names = trainer
                .data
                .test
                .class_names()
                .map(|n| n.iter().map(String::as_str).collect::<Vec<_>>());
            out!("{}", r.render_table(names.as_deref()));
        }
        outln!(
            "test accuracy {:.4}, loss {:.4}",
            test.accuracy(),
            test.loss
        );
    }
    Ok(())
}
