//! From a spec on disk to a trainer: check it (printing its diagnostics), pick its train
//! block, build the trainer. Shared by every command that trains or evaluates.

use super::{render_options, report, Failure, SpecArgs};
use nnc::hir::{Program, TrainDecl};
use nnc::train::{Backend, Trainer};
use std::path::Path;

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

/// The `--set` override that sets the seed of train block `train` (the block's name is part
/// of the key when the spec names it).
pub fn seed_override(train: Option<&str>, seed: u64) -> String {
    match train {
        Some(name) => format!("train.{name}.seed={seed}"),
        None => format!("train.seed={seed}"),
    }
}

/// Checks the spec and prepares its trainer.
pub fn prepare(spec: &SpecArgs, backend: Backend) -> Result<(nnc::Checked, Trainer), Failure> {
    let checked = nnc::check_path_with(&spec.file, &|p| std::fs::read(p), &spec.overrides);
    let trainer = trainer_for(&checked, spec.train.as_deref(), &spec.file, backend)?;
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
    if report(checked) {
        return Err(Failure::Reported);
    }
    let decl = select_train(&checked.program, train, file)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut trainer =
        Trainer::new(&checked.program, decl, base).map_err(|e| match e.spec_diagnostic() {
            Some(d) => {
                eprint!(
                    "{}",
                    nnc::diagnostics::render(&[d], &checked.sources, render_options())
                );
                Failure::Reported
            }
            None => e.into(),
        })?;
    trainer.set_backend(backend);
    Ok(trainer)
}
