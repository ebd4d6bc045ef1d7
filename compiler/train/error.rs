//! What can go wrong once a spec checks: its data, its numbers, its checkpoints.

use crate::diagnostics::Diagnostic as SpecDiagnostic;
use crate::source::Span;
use miette::Diagnostic;
use nnc_runtime::checkpoint::CheckpointError;
use nnc_runtime::data::DataError;
use nnc_runtime::sampling_weights::SamplingError;
use thiserror::Error;

/// The code of [`RunError::Config`], also when it is rendered as a spec diagnostic.
pub const CONFIG: &str = "nnc::run::config";

#[derive(Debug, Error, Diagnostic)]
pub enum RunError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Data(#[from] DataError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Checkpoint(#[from] CheckpointError),

    /// A sampler or class weights that do not fit the training data.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sampling(#[from] SamplingError),

    /// The spec checks, but cannot be trained as written. `at` is the part of the spec to
    /// blame when there is one: the command line renders it with the source, like `nnc check`.
    #[error("{message}")]
    #[diagnostic(code(nnc::run::config), help("{help}"))]
    Config {
        message: String,
        help: String,
        at: Option<Span>,
    },

    #[error(
        "training diverged at epoch {epoch}, step {step}: the output of `{layer}` is not finite"
    )]
    #[diagnostic(code(nnc::run::non_finite))]
    NonFinite {
        epoch: u64,
        step: u64,
        layer: String,
        /// What to do; [`RunError::with_checkpoint`] adds which checkpoint is intact.
        #[help]
        help: String,
    },

    #[error("internal error: {0}")]
    #[diagnostic(
        code(nnc::run::internal),
        help("This is a bug in nnc; please report it with the spec.")
    )]
    Internal(String),
}

impl RunError {
    pub fn config(message: impl Into<String>, help: impl Into<String>) -> RunError {
        RunError::Config {
            message: message.into(),
            help: help.into(),
            at: None,
        }
    }

    /// A [`RunError::config`] that points at `at` in the spec.
    pub fn config_at(at: Span, message: impl Into<String>, help: impl Into<String>) -> RunError {
        RunError::Config {
            message: message.into(),
            help: help.into(),
            at: Some(at),
        }
    }

    /// The error as a diagnostic of the spec, if it points at a part of it.
    pub fn spec_diagnostic(&self) -> Option<SpecDiagnostic> {
        match self {
            RunError::Config {
                message,
                help,
                at: Some(at),
            } => Some(
                SpecDiagnostic::error(CONFIG, message.clone())
                    .with_label(*at, "here")
                    .with_help(help.clone()),
            ),
            _ => None,
        }
    }

    /// The help of a diverged run, without checkpoint: nothing was written yet.
    pub const DIVERGED_HELP: &'static str =
        "Lower the learning rate, add normalisation, or check the data for extreme values.";

    /// For a diverged run whose caller wrote `path` after the last good epoch: says so.
    pub fn with_checkpoint(self, path: &std::path::Path, epoch: u64) -> RunError {
        match self {
            RunError::NonFinite {
                epoch: at,
                step,
                layer,
                help,
            } => RunError::NonFinite {
                epoch: at,
                step,
                layer,
                help: format!(
                    "{help} {} (after epoch {epoch}) is intact: `--resume` it after the fix.",
                    path.display()
                ),
            },
            other => other,
        }
    }

    pub fn internal(err: impl std::fmt::Display) -> RunError {
        RunError::Internal(err.to_string())
    }
}
