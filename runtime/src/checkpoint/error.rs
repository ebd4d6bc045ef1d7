//! Checkpoint errors: each names the file and has a stable `nnc::checkpoint::<name>` code.

use super::DType;
use std::fmt::Write;
use std::io;
use std::path::PathBuf;

/// Why a checkpoint could not be saved, loaded or matched against a model.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CheckpointError {
    #[error("checkpoint `{}` does not exist", path.display())]
    #[diagnostic(
        code(nnc::checkpoint::not_found),
        help("Check the path, or start without resuming to write a first checkpoint.")
    )]
    NotFound { path: PathBuf },

    #[error("cannot read checkpoint `{}`: {source}", path.display())]
    #[diagnostic(
        code(nnc::checkpoint::read_failed),
        help("Check that the file is readable by this user.")
    )]
    ReadFailed { path: PathBuf, source: io::Error },

    #[error("cannot write checkpoint `{}`: {source}", path.display())]
    #[diagnostic(
        code(nnc::checkpoint::write_failed),
        help("Check that the directory exists, is writable and has free space; any previous checkpoint at this path is unchanged.")
    )]
    WriteFailed { path: PathBuf, source: io::Error },

    #[error("`{}` is not a safetensors file: {reason}", path.display())]
    #[diagnostic(
        code(nnc::checkpoint::not_safetensors),
        help("A checkpoint starts with an 8-byte little-endian header length and a JSON header; pass a `.safetensors` file written by nnc or by the `safetensors` library.")
    )]
    NotSafetensors { path: PathBuf, reason: String },

    #[error("checkpoint `{}` is truncated: its {part} needs {expected} bytes, the file has {found}", path.display())]
    #[diagnostic(
        code(nnc::checkpoint::truncated),
        help("The file was cut short, e.g. by an interrupted copy; nnc itself writes checkpoints atomically. Use an earlier checkpoint or copy it again.")
    )]
    Truncated {
        path: PathBuf,
        part: &'static str,
        expected: u64,
        found: u64,
    },

    #[error("checkpoint `{}` has a corrupt header: {reason}", path.display())]
    #[diagnostic(
        code(nnc::checkpoint::corrupt_header),
        help("The JSON header does not describe the data that follows it; the file is damaged or was not written by a safetensors writer.")
    )]
    CorruptHeader { path: PathBuf, reason: String },

    #[error("tensor `{name}` in checkpoint `{}` has dtype {dtype}, which nnc does not load", path.display())]
    #[diagnostic(
        code(nnc::checkpoint::unsupported_dtype),
        help("nnc checkpoints hold F32, U8, I64 and U64 tensors; convert the tensor to F32 (e.g. `tensor.float()` in PyTorch) before saving.")
    )]
    UnsupportedDType {
        path: PathBuf,
        name: String,
        dtype: String,
    },

    #[error("tensor `{name}` in checkpoint `{}` has dtype {found}, expected {expected}", path.display())]
    #[diagnostic(
        code(nnc::checkpoint::wrong_dtype),
        help("The checkpoint was written for a different model or precision; check that it matches the spec.")
    )]
    WrongDType {
        path: PathBuf,
        name: String,
        expected: DType,
        found: DType,
    },

    #[error("checkpoint `{}` has no tensor `{name}`", path.display())]
    #[diagnostic(
        code(nnc::checkpoint::missing_tensor),
        help("The checkpoint was written for a different model; check that it matches the spec.")
    )]
    MissingTensor { path: PathBuf, name: String },

    #[error("checkpoint `{}` does not match the model:{}", path.display(), mismatch_details(.missing, .unexpected, .shape_mismatches))]
    #[diagnostic(
        code(nnc::checkpoint::mismatch),
        help("The checkpoint was written for a different spec; retrain, or use the checkpoint of this spec.")
    )]
    Mismatch {
        path: PathBuf,
        missing: Vec<String>,
        unexpected: Vec<String>,
        shape_mismatches: Vec<ShapeMismatch>,
    },

    #[error("packed binary tensor `{name}` in checkpoint `{}` is damaged: {reason}", path.display())]
    #[diagnostic(
        code(nnc::checkpoint::bad_packing),
        help("A packed tensor needs `<name>.bits` (U8, filters x ceil(n / 8) bytes), `<name>.scale` (F32, one per filter) and its shape in the metadata `packed.<name>`; re-save the model with `nnc run`, or use the run's checkpoint.safetensors, which holds the real-valued weights.")
    )]
    BadPacking {
        path: PathBuf,
        name: String,
        reason: String,
    },

    #[error("invalid tensor: {reason}")]
    #[diagnostic(
        code(nnc::checkpoint::invalid_tensor),
        help("A tensor needs exactly as many values as the product of its shape, and a name other than `__metadata__`.")
    )]
    InvalidTensor { reason: String },
}

/// A tensor present in both the checkpoint and the model, with different shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    pub name: String,
    pub expected: Vec<usize>,
    pub found: Vec<usize>,
}

fn mismatch_details(
    missing: &[String],
    unexpected: &[String],
    shape_mismatches: &[ShapeMismatch],
) -> String {
    let mut out = String::new();
    // `write!` into a String cannot fail.
    for name in missing {
        let _ = write!(out, "\n  missing tensor `{name}`");
    }
    for name in unexpected {
        let _ = write!(out, "\n  unexpected tensor `{name}`");
    }
    for m in shape_mismatches {
        let _ = write!(
            out,
            "\n  tensor `{}` has shape {:?}, expected {:?}",
            m.name, m.found, m.expected
        );
    }
    out
}
