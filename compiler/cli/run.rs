//! `nnc run`: check the spec, prepare data, initialise (or resume), train,
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
//! - `best.safetensors` (with a validation split): the deployed model of the epoch with the
//!   best validation metric so far (early stopping's metric, else the validation loss);
//! - `loss.png`, `accuracy.png`: train, validation and test curves per epoch;
//! - `roc.png`: the test split's ROC curve, for two classes.
//!
//! Every file is written to a temporary file and renamed, so an interrupted run leaves the
//! last good checkpoint intact.

use super::prepare::{prepare, seed_override};
use super::report::{heads_line, report_of, rules_report, split_json, tables};
use super::{Failure, Outcome, SpecArgs};
use nnc::hir::settings::EarlyStopping;
use nnc::train::lsuv::LsuvReport;
use nnc::train::{Backend, Evaluation};
use nnc_runtime::checkpoint::Checkpoint;
use nnc_runtime::files::write_atomic;
use nnc_runtime::metrics::ClassificationReport;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// The train block's seed (the same as `--set train.seed=S`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output folder (default: runs/<spec name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object with the results on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar and no per-epoch lines.
    #[arg(long)]
    pub quiet: bool,
    /// Continue the run saved in this checkpoint (optimizer state included).
    #[arg(long, value_name = "CHECKPOINT")]
    pub resume: Option<PathBuf>,
    /// Start from parameters saved elsewhere (safetensors; names like `fc1.weight`).
    #[arg(long, value_name = "WEIGHTS")]
    pub init_from: Option<PathBuf>,
    /// Execution engine: fused Cranelift kernels, or the reference interpreter.
    #[arg(long, value_enum, default_value_t = Backend::Jit)]
    pub backend: Backend,
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Failure {
    Failure::Report(miette::miette!(
        code = "nnc::run::io",
        help = "Check that the folder is writable, or choose another with --out.",
        "cannot write {what} {}: {e}",
        path.display()
    ))
}

/// The run folder: `--out`, else `runs/<spec file stem>`.
fn out_dir(args: &Args) -> PathBuf {
    args.out.clone().unwrap_or_else(|| {
        let stem = args
            .spec
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
    let has_validation = epochs.iter().any(|e| e.get("validation").is_some());
    for (key, file, title) in [
        ("loss", "loss.png", "Loss"),
        ("accuracy", "accuracy.png", "Accuracy"),
    ] {
        let (train, val, test) = (
            series("train", key),
            series("validation", key),
            series("test", key),
        );
        let chart = Chart::new(title).x_label("epoch").y_label(key);
        let mut lines = vec![("train", train.as_slice())];
        if has_validation {
            lines.push(("validation", val.as_slice()));
        }
        lines.push(("test", test.as_slice()));
        epoch_plot(&out.join(file), &chart, &lines)
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
pub fn run(args: &Args) -> Outcome {
    let mut spec = args.spec.clone();
    if let Some(seed) = args.seed {
        spec.overrides
            .push(seed_override(spec.train.as_deref(), seed));
    }
    let (checked, mut trainer) = prepare(&spec, args.backend)?;
    let out = out_dir(args);
    let checkpoint_path = out.join("checkpoint.safetensors");
    let model_path = out.join("model.safetensors");
    let show = !args.quiet && !args.json;

    let mut lines: Vec<String> = Vec::new();
    let mut lsuv: Vec<LsuvReport> = Vec::new();
    // The last checkpoint on disk and the epoch it holds (a diverged run names it).
    let mut intact: Option<(PathBuf, u64)> = None;
    if let Some(path) = &args.resume {
        let warnings = trainer.resume_from(&Checkpoint::load(path)?)?;
        intact = Some((path.clone(), trainer.epoch()));
        let epochs = trainer.decl().epochs;
        if let (Some(t), Some(e)) = (
            trainer.tracker().filter(|_| trainer.stopped_early()),
            trainer.decl().early_stopping,
        ) {
            let more = EarlyStopping {
                patience: t.wait + 1,
                ..e
            };
            return Err(miette::miette!(
                code = "nnc::run::config",
                help = format!(
                    "To train further, raise the patience: `--set 'train.early_stopping={more}'` \
                     allows one more epoch without improvement."
                ),
                "{} stopped early after epoch {}: `{}` has not improved for {} epochs (best at epoch {}), nothing is left to train",
                path.display(),
                trainer.epoch(),
                t.metric.name(),
                t.wait,
                t.best_epoch
            )
            .into());
        }
        if trainer.epoch() >= epochs {
            return Err(miette::miette!(
                code = "nnc::run::config",
                help = format!(
                    "To train further, raise the epochs: `--set train.epochs={}` trains one more \
                     epoch (a schedule that depends on the number of epochs, like `cosine`, then \
                     follows the new count from here on).",
                    trainer.epoch() + 1
                ),
                "{} has already trained all {epochs} epochs (it was written after epoch {}): nothing is left to train",
                path.display(),
                trainer.epoch()
            )
            .into());
        }
        // Keep the metrics of the epochs already done.
        if let Ok(text) = std::fs::read_to_string(out.join("metrics.jsonl")) {
            lines = text
                .lines()
                .take(trainer.epoch() as usize)
                .map(str::to_string)
                .collect();
        }
        if show {
            eprintln!(
                "resuming {} at epoch {}",
                path.display(),
                trainer.epoch() + 1
            );
        }
        // Printed even with --quiet and --json (stderr): the run is not what it seems.
        for w in &warnings {
            eprintln!("warning: {w}");
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
    // Only now that there is something to train: a failed start leaves no empty run folder.
    std::fs::create_dir_all(&out).map_err(|e| io_error("the run folder", &out, e))?;
    if show {
        for r in &lsuv {
            eprintln!(
                "lsuv {}: variance {:.4} -> {:.4} in {} iteration(s)",
                r.layer, r.var_before, r.var_after, r.iterations
            );
        }
    }
    let spec_text = std::fs::read_to_string(&spec.file).unwrap_or_default();
    let mut spec_out = String::new();
    for o in &spec.overrides {
        spec_out.push_str(&format!("// --set {o}\n"));
    }
    spec_out.push_str(&spec_text);
    write_atomic(&out.join("spec.nn"), spec_out.as_bytes())
        .map_err(|e| io_error("the spec copy", &out, e))?;
    let resolved = nnc::hir::display::print_program(&checked.program, &checked.sources);
    write_atomic(&out.join("resolved.txt"), resolved.as_bytes())
        .map_err(|e| io_error("the resolved spec", &out, e))?;

    let epochs = trainer.decl().epochs;
    let bar = super::progress::bar(epochs * trainer.steps_per_epoch(), show);
    bar.set_position(trainer.epoch() * trainer.steps_per_epoch());
    let start = Instant::now();
    let best_path = out.join("best.safetensors");
    let level = match args.backend {
        Backend::Jit => nnc_runtime::cpu_level(),
        Backend::Reference => "reference",
    };
    let mut history: Vec<Value> = Vec::new();
    let mut last: Option<(Evaluation, Option<Evaluation>)> = None;
    let mut stopped = false;
    while trainer.epoch() < epochs && !stopped {
        let epoch_start = Instant::now();
        let mut samples = 0usize;
        let mut on_step = |s: nnc::train::StepReport| {
            samples += s.samples;
            let rate = samples as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(super::progress::message(&s, epochs, rate));
            bar.inc(1);
        };
        let lr = trainer.lr();
        let (train_loss, train_acc) = match trainer.train_epoch(&mut on_step) {
            Ok(r) => r,
            Err(e) => {
                bar.finish_and_clear();
                return Err(match &intact {
                    Some((path, epoch)) => e.with_checkpoint(path, *epoch),
                    None => e,
                }
                .into());
            }
        };
        let end = trainer.end_epoch()?;
        let test = trainer.evaluate(true)?;
        let report = report_of(&test);
        let mut line = json!({
            "epoch": trainer.epoch(),
            "step": trainer.step(),
            "lr": lr,
            "seconds": epoch_start.elapsed().as_secs_f64(),
            "cpu_level": level,
            "train": {"loss": train_loss, "accuracy": train_acc},
            "test": split_json(&test, report.as_ref(), true),
        });
        if let Some(end) = &end {
            line["validation"] =
                split_json(&end.validation, report_of(&end.validation).as_ref(), false);
        }
        lines.push(line.to_string());
        write_atomic(
            &out.join("metrics.jsonl"),
            (lines.join("\n") + "\n").as_bytes(),
        )
        .map_err(|e| io_error("metrics", &out, e))?;
        trainer.to_checkpoint()?.save(&checkpoint_path)?;
        trainer.to_model()?.save(&model_path)?;
        intact = Some((checkpoint_path.clone(), trainer.epoch()));
        if end.as_ref().is_some_and(|e| e.verdict.improved) {
            trainer.to_model()?.save(&best_path)?;
        }
        plot_curves(&out, &lines)?;
        if show {
            // `suspend` prints whether or not stderr is a terminal (`println` would not).
            let line = format!(
                "epoch {:>3}/{epochs}  train loss {train_loss:.4} acc {train_acc:.4}  test loss {:.4} acc {:.4}{}",
                trainer.epoch(),
                test.loss,
                test.accuracy(),
                report.as_ref().map_or(String::new(), |r| requested(&trainer.decl().metrics, r)),
            );
            let line = match &test.q {
                Some(q) => format!("{line}  q acc {:.4}", q.accuracy()),
                None => format!("{line}{}", heads_line(&test)),
            };
            let line = match &end {
                Some(e) => format!(
                    "{line}  val loss {:.4} acc {:.4}{}",
                    e.validation.loss,
                    e.validation.accuracy(),
                    if e.verdict.improved { " *" } else { "" }
                ),
                None => line,
            };
            bar.suspend(|| eprintln!("{line}"));
            if let Some(lr) = end.as_ref().and_then(|e| e.lr_reduced) {
                bar.suspend(|| eprintln!("reduce_on_plateau: learning rate now {lr:e}"));
            }
        }
        let mut h = json!({"train_loss": train_loss, "test_loss": test.loss, "train_accuracy": train_acc, "test_accuracy": test.accuracy()});
        if let Some(e) = &end {
            h["val_loss"] = json!(e.validation.loss);
            h["val_accuracy"] = json!(e.validation.accuracy());
        }
        history.push(h);
        stopped = end.as_ref().is_some_and(|e| e.verdict.stop);
        if let (true, Some(t)) = (stopped && show, trainer.tracker()) {
            bar.suspend(|| {
                eprintln!(
                    "early stopping after epoch {}: `{}` has not improved for {} epochs; the best, epoch {}, is in {}",
                    trainer.epoch(),
                    t.metric.name(),
                    t.wait,
                    t.best_epoch,
                    best_path.display()
                )
            });
        }
        last = Some((test, end.map(|e| e.validation)));
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let (test, validation) = match last {
        Some(last) => last,
        None => (trainer.evaluate(true)?, None),
    };
    let train_eval = trainer.evaluate(false)?;
    let report = report_of(&test);
    let train_report = report_of(&train_eval);
    plot_roc(&out, &test, trainer.data().test.class_names())?;
    if args.json {
        let out_json = json!({
            "spec": spec.file.display().to_string(),
            "network": trainer.net().name,
            "epochs": epochs,
            "steps": trainer.step(),
            "seconds": seconds,
            "test": split_json(&test, report.as_ref(), true),
            "train": split_json(&train_eval, train_report.as_ref(), false),
            "checkpoint": checkpoint_path.display().to_string(),
            "model": model_path.display().to_string(),
            "out": out.display().to_string(),
            "init": {"lsuv": lsuv},
            "history": history,
            "backend": match args.backend { Backend::Jit => "jit", Backend::Reference => "reference" },
            "cpu_level": level,
        });
        let mut out_json = out_json;
        if let Some(v) = &validation {
            out_json["validation"] = split_json(v, report_of(v).as_ref(), false);
        }
        if let Some(t) = trainer.tracker() {
            out_json["best"] = json!({
                "metric": t.metric.name(),
                "value": t.best,
                "epoch": t.best_epoch,
                "model": best_path.display().to_string(),
            });
            out_json["stopped_early"] = json!(stopped);
        }
        outln!("{out_json}");
    } else {
        out!("{}", tables(&test, trainer.data().test.class_names()));
        out!("{}", rules_report(&test));
        outln!(
            "test accuracy {:.4}, loss {:.4}; train accuracy {:.4}, loss {:.4}; {} epochs in {seconds:.1} s",
            test.accuracy(),
            test.loss,
            train_eval.accuracy(),
            train_eval.loss,
            trainer.epoch()
        );
        if let Some(t) = trainer.tracker() {
            outln!(
                "best `{}` {:.4} at epoch {}: {}",
                t.metric.name(),
                t.best,
                t.best_epoch,
                best_path.display()
            );
        }
        outln!("wrote {}", out.display());
    }
    Ok(())
}
