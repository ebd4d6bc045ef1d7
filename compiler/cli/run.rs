//! `nnc run`: check the spec, prepare data, initialise, train, evaluate, and write the
//! run's files (metrics, checkpoint, resolved spec, plots) under `runs/<spec>/`.

use indicatif::{ProgressBar, ProgressStyle};
use nnc::train::{RunError, Trainer};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct RunArgs {
    pub file: PathBuf,
    pub train: Option<String>,
    pub overrides: Vec<String>,
    pub out: Option<PathBuf>,
    pub json: bool,
    pub quiet: bool,
}

/// The train block to run: the one named, or the only one.
pub fn select_train<'p>(
    program: &'p nnc::hir::Program,
    name: Option<&str>,
    file: &Path,
) -> Result<&'p nnc::hir::TrainDecl, miette::Report> {
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

/// Runs training; `Err` carries a report already meant for the user.
pub fn run(args: &RunArgs) -> Result<(), miette::Report> {
    let checked = nnc::check_path_with(&args.file, &|p| std::fs::read(p), &args.overrides);
    if crate::report(&checked) {
        return Err(miette::miette!("the spec has errors"));
    }
    let program = &checked.program;
    let decl = select_train(program, args.train.as_deref(), &args.file)?;
    let base = args.file.parent().unwrap_or(Path::new("."));
    let mut trainer = Trainer::new(program, decl, base).map_err(miette::Report::new)?;
    let lsuv = trainer.init().map_err(miette::Report::new)?;
    if !args.quiet && !args.json {
        for r in &lsuv {
            eprintln!(
                "lsuv {}: variance {:.4} -> {:.4} in {} iteration(s)",
                r.layer, r.var_before, r.var_after, r.iterations
            );
        }
    }
    let epochs = trainer.decl.epochs;
    let bar = if args.quiet || args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(epochs * trainer.steps_per_epoch())
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} epoch {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let start = Instant::now();
    let mut last = (0.0, 0.0);
    while trainer.epoch < epochs {
        let epoch_start = Instant::now();
        let mut samples = 0usize;
        let mut on_step = |s: nnc::train::StepReport| {
            samples += s.samples;
            let rate = samples as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "{}/{epochs} step {}/{} loss {:.4} acc {:.3} {:.0} samples/s",
                s.epoch + 1,
                s.step_in_epoch + 1,
                s.steps_per_epoch,
                s.loss,
                s.accuracy,
                rate
            ));
            bar.inc(1);
        };
        let (loss, acc) = trainer
            .train_epoch(&mut on_step)
            .map_err(miette::Report::new)?;
        let test = trainer
            .evaluate(true)
            .map_err(|e: RunError| miette::Report::new(e))?;
        last = (test.loss, test.accuracy());
        bar.println(format!(
            "epoch {:>3}/{epochs}  train loss {loss:.4} acc {acc:.4}  test loss {:.4} acc {:.4}",
            trainer.epoch,
            test.loss,
            test.accuracy()
        ));
    }
    bar.finish_and_clear();
    if args.json {
        outln!(
            "{}",
            serde_json::json!({"test": {"loss": last.0, "accuracy": last.1}, "epochs": epochs, "seconds": start.elapsed().as_secs_f64()})
        );
    } else {
        outln!(
            "test accuracy {:.4}, loss {:.4} ({:.1} s)",
            last.1,
            last.0,
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
