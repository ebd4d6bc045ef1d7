//! What `nnc compare` and `nnc diagnose` share: preparing a trainer for a spec (at a seed,
//! possibly with its text rewritten), and bringing it to the state to inspect.

use super::prepare::{seed_override, trainer_for};
use super::Failure;
use nnc::train::{Backend, Trainer};
use std::path::{Path, PathBuf};

/// A spec to inspect: its file, an optional replacement text (for `--depths`), the
/// overrides and the seed.
pub struct SpecRun<'a> {
    pub file: &'a Path,
    pub text: Option<String>,
    pub train: Option<&'a str>,
    pub overrides: &'a [String],
    pub seed: Option<u64>,
    pub backend: Backend,
}

/// Checks the spec (reporting its diagnostics) and prepares its trainer.
pub fn prepare(spec: &SpecRun) -> Result<(nnc::Checked, Trainer), Failure> {
    let mut overrides = spec.overrides.to_vec();
    if let Some(seed) = spec.seed {
        // A spec with several train blocks needs the block's name in the key.
        overrides.push(seed_override(spec.train, seed));
    }
    let file: PathBuf = spec.file.to_path_buf();
    let text = spec.text.clone();
    let read = move |p: &Path| -> std::io::Result<Vec<u8>> {
        match &text {
            Some(t) if p == file => Ok(t.clone().into_bytes()),
            _ => std::fs::read(p),
        }
    };
    let checked = nnc::check_path_with(spec.file, &read, &overrides);
    let trainer = trainer_for(&checked, spec.train, spec.file, spec.backend)?;
    let net = trainer.net();
    if nnc::hir::settings::heads::is_multi(net) {
        // Activations and gradients are measured on one input and one output.
        return Err(Failure::Report(miette::miette!(
            code = "nnc::run::config",
            help = "Compare or diagnose a network with one input and one output.",
            "network `{}` has {} inputs and {} outputs; `compare` and `diagnose` read one of each",
            net.name,
            net.inputs.len(),
            net.outputs.len()
        )));
    }
    Ok((checked, trainer))
}

/// Loads `checkpoint`, or trains the train block from its seed (`epochs: 0` leaves the
/// network at its initialisation).
pub fn bring_up(
    trainer: &mut Trainer,
    checkpoint: Option<&Path>,
    what: &str,
    show: bool,
) -> Result<(), Failure> {
    if let Some(path) = checkpoint {
        trainer.load_weights(&nnc_runtime::checkpoint::Checkpoint::load(path)?)?;
        return Ok(());
    }
    trainer.init()?;
    while trainer.epoch() < trainer.decl().epochs {
        let (loss, acc) = trainer.train_epoch(&mut |_| {})?;
        if show {
            eprintln!(
                "{what}: epoch {}/{} train loss {loss:.4} acc {acc:.4}",
                trainer.epoch(),
                trainer.decl().epochs
            );
        }
    }
    Ok(())
}

pub fn plot_error(e: nnc_runtime::plot::PlotError) -> Failure {
    Failure::Report(miette::Report::new(e))
}

pub fn inspect_error(e: nnc::inspect::InspectError) -> Failure {
    Failure::Report(miette::Report::new(e))
}

pub fn create_dir(out: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(out).map_err(|e| {
        Failure::Report(miette::miette!(
            code = "nnc::run::io",
            help = "Check that the folder is writable, or choose another with --out.",
            "cannot create {}: {e}",
            out.display()
        ))
    })
}

/// Folder for a command's plots: `--out`, else `runs/<stem>-<command>`.
pub fn out_dir(out: Option<&Path>, file: &Path, command: &str) -> PathBuf {
    out.map(Path::to_path_buf).unwrap_or_else(|| {
        let stem = file
            .file_stem()
            .map_or("spec".into(), |s| s.to_string_lossy().into_owned());
        Path::new("runs").join(format!("{stem}-{command}"))
    })
}

/// The mean of some values (0 for none).
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}
