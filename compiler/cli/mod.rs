//! The binary's half of nnc: one module per command, each with its clap `Args` and its
//! `run`, plus what they share (the flags every spec command takes, how a failure is
//! reported, how diagnostics are rendered). Only this folder and `main.rs` print or write
//! files; the library (`nnc::`) returns data and diagnostics.

pub mod bench;
pub mod check;
pub mod compare;
pub mod diagnose;
pub mod eval;
pub mod fmt;
pub mod inspect_common;
pub mod ir;
pub mod predict;
pub mod prepare;
pub mod progress;
pub mod report;
pub mod run;
pub mod summary;
pub mod usage;

use nnc::diagnostics::{self, RenderOptions};
use nnc::train::RunError;
use nnc::Checked;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The flags of every command that works on one train block of a spec.
#[derive(clap::Args, Clone, Debug)]
pub struct SpecArgs {
    /// The spec (`.nn` file).
    pub file: PathBuf,
    /// Which train block, when the spec has several.
    #[arg(long)]
    pub train: Option<String>,
    /// Override a field: `--set train.epochs=3`, `--set data.split=0.5` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
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

/// A command's result: `Ok`, or a failure already explained on stderr.
pub type Outcome = Result<(), Failure>;

/// Ok when `ok`, else a failure whose diagnostics were printed.
/// Says which environment variables nnc reads but cannot use (each is then ignored).
pub fn warn_about_environment() {
    let problems = [
        nnc_runtime::exec::level::setting_problem(),
        nnc::budget::setting_problem(),
    ];
    for problem in problems.into_iter().flatten() {
        eprintln!("warning: {problem}");
    }
}

pub fn ok_if(ok: bool) -> Outcome {
    if ok {
        Ok(())
    } else {
        Err(Failure::Reported)
    }
}

pub fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}

pub fn render_options() -> RenderOptions {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100);
    RenderOptions { color, width }
}

/// Prints diagnostics to stderr; returns whether there were errors.
pub fn report(checked: &Checked) -> bool {
    if !checked.diags.is_empty() {
        eprint!(
            "{}",
            diagnostics::render(&checked.diags, &checked.sources, render_options())
        );
    }
    checked.has_errors()
}
