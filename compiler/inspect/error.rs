//! What `nnc compare` and `nnc diagnose` refuse, with the codes docs/diagnostics.md lists.

use miette::Diagnostic;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum InspectError {
    /// The two networks have no layer to compare, or a chosen layer differs.
    #[error("{message}")]
    #[diagnostic(code(nnc::inspect::layers_differ), help("{help}"))]
    LayersDiffer { message: String, help: String },

    /// Gradient diagnostics need one scalar input and one scalar output.
    #[error("{message}")]
    #[diagnostic(code(nnc::inspect::not_scalar), help("{help}"))]
    NotScalar { message: String, help: String },

    /// A probe target the data does not have.
    #[error("the data has no feature `{name}`")]
    #[diagnostic(code(nnc::inspect::unknown_feature), help("{help}"))]
    UnknownFeature { name: String, help: String },

    /// An option value that cannot be used (no layer of that name, a bad depth list, no
    /// `repeat` to vary...).
    #[error("{message}")]
    #[diagnostic(code(nnc::inspect::invalid), help("{help}"))]
    Invalid { message: String, help: String },
}

impl InspectError {
    pub fn invalid(message: impl Into<String>, help: impl Into<String>) -> InspectError {
        InspectError::Invalid {
            message: message.into(),
            help: help.into(),
        }
    }
}
