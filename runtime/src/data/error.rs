//! `DataError`: everything that can go wrong while loading or preparing data.
//!
//! Each variant has a stable code `nnc::data::<name>` (tests and docs refer to it), a
//! lowercase message naming the file (and 1-based row/column where one applies) and a help
//! sentence saying how to fix the input. `file` fields hold the path as given, or a label such
//! as `builtin "digits"` for data that has no file.

use miette::Diagnostic;
use thiserror::Error;

/// An error from the data layer. Loaders never panic on bad input; they return one of these.
// Fields are the facts the message and help print; their names say what they hold.
#[allow(missing_docs)]
#[derive(Debug, Error, Diagnostic)]
#[non_exhaustive]
pub enum DataError {
    /// The file does not exist.
    #[error("data file `{file}` not found")]
    #[diagnostic(
        code(nnc::data::missing_file),
        help("Check the path; a relative path in a spec is resolved from the folder of the spec file that names it.")
    )]
    MissingFile { file: String },

    /// The file exists but could not be read.
    #[error("cannot read data file `{file}`: {reason}")]
    #[diagnostic(
        code(nnc::data::unreadable),
        help("Check the file's permissions and that it is a regular file.")
    )]
    Unreadable { file: String, reason: String },

    /// The gzip stream is corrupt or truncated.
    #[error("`{file}` is not a valid gzip stream: {reason}")]
    #[diagnostic(
        code(nnc::data::bad_gzip),
        help("The file looks gzip-compressed but does not decompress; re-download it or store it uncompressed.")
    )]
    BadGzip { file: String, reason: String },

    /// The CSV text could not be parsed (for example it is not UTF-8).
    #[error("cannot parse CSV `{file}` at row {row}: {reason}")]
    #[diagnostic(
        code(nnc::data::bad_csv),
        help("Save the file as UTF-8 text with one sample per line.")
    )]
    BadCsv {
        file: String,
        row: u64,
        reason: String,
    },

    /// A CSV row has a different number of fields than the first row.
    #[error("`{file}` row {row} has {found} fields, expected {expected}")]
    #[diagnostic(
        code(nnc::data::ragged_row),
        help("Every row needs the same number of fields; check for a missing or extra delimiter on that row.")
    )]
    RaggedRow {
        file: String,
        row: u64,
        expected: usize,
        found: usize,
    },

    /// A feature is not a number.
    #[error("`{file}` row {row}, column {column}: `{value}` is not a number")]
    #[diagnostic(
        code(nnc::data::not_numeric),
        help("Feature columns must hold numbers; encode categories as numbers first, or pick the right label column.")
    )]
    NotNumeric {
        file: String,
        row: u64,
        column: usize,
        value: String,
    },

    /// A feature is NaN or infinite.
    #[error("`{file}` row {row}, column {column}: feature is {value}")]
    #[diagnostic(
        code(nnc::data::non_finite),
        help("Features must be finite; impute or drop missing values before training.")
    )]
    NonFinite {
        file: String,
        row: u64,
        column: usize,
        value: String,
    },

    /// A label is negative or not an integer.
    #[error("`{file}` row {row}: label `{value}` is not a class index")]
    #[diagnostic(
        code(nnc::data::bad_label),
        help("Numeric labels must be integers 0..K-1; use text labels (mapped to classes in sorted order) otherwise.")
    )]
    BadLabel {
        file: String,
        row: u64,
        value: String,
    },

    /// A label is not below the declared number of classes.
    #[error("`{file}` row {row}: label {label} is out of range for {n_classes} classes")]
    #[diagnostic(
        code(nnc::data::label_out_of_range),
        help("Labels must be 0..{n_classes}-1; fix the label or declare more classes.")
    )]
    LabelOutOfRange {
        file: String,
        row: u64,
        label: u64,
        n_classes: u32,
    },

    /// A text label is not among the class names the data block declares.
    #[error(
        "`{file}` has the label `{label}`, which is not one of the declared classes ({declared})"
    )]
    #[diagnostic(
        code(nnc::data::undeclared_class),
        help("Add `{label}` to the data block's `classes`, or fix the label in the file; declared names are matched to the labels by name.")
    )]
    UndeclaredClass {
        file: String,
        label: String,
        declared: String,
    },

    /// The label column named or numbered does not exist.
    #[error("`{file}` has no column {column}")]
    #[diagnostic(
        code(nnc::data::no_such_column),
        help("Available columns: {available}.")
    )]
    NoSuchColumn {
        file: String,
        column: String,
        available: String,
    },

    /// The NPY element type is not supported.
    #[error("`{file}`: unsupported NPY dtype {dtype}")]
    #[diagnostic(
        code(nnc::data::npy_dtype),
        help("Save the array as float32, float64, uint8, int32 or int64 (for example `x.astype(np.float32)`).")
    )]
    NpyDtype { file: String, dtype: String },

    /// The NPY array has a shape the loader cannot use.
    #[error("`{file}`: array shape {shape:?} is not usable as {role}")]
    #[diagnostic(
        code(nnc::data::npy_shape),
        help("Features need shape (n, ...) and labels shape (n,) or (n, 1).")
    )]
    NpyShape {
        file: String,
        shape: Vec<usize>,
        role: String,
    },

    /// The NPY file is corrupt (bad header, missing or extra data).
    #[error("`{file}` is not a valid NPY array: {reason}")]
    #[diagnostic(
        code(nnc::data::bad_npy),
        help("Write the array with `numpy.save` (or `numpy.savez` for archives).")
    )]
    BadNpy { file: String, reason: String },

    /// The NPZ archive lacks the requested array.
    #[error("`{file}` has no array named `{key}`")]
    #[diagnostic(
        code(nnc::data::npz_missing_key),
        help("Arrays in the archive: {available}. Pass the right key, or save with `np.savez(path, x=..., y=...)`.")
    )]
    NpzMissingKey {
        file: String,
        key: String,
        available: String,
    },

    /// The IDX file does not start with a supported magic number.
    #[error("`{file}` is not an IDX {expected} file: {reason}")]
    #[diagnostic(
        code(nnc::data::idx_magic),
        help("IDX images are unsigned bytes with 3 dimensions (magic 0x00000803), labels unsigned bytes with 1 (0x00000801); check the files are not swapped.")
    )]
    IdxMagic {
        file: String,
        expected: String,
        reason: String,
    },

    /// The IDX file is shorter than its header says.
    #[error("`{file}` is truncated: expected {expected} bytes, found {found}")]
    #[diagnostic(
        code(nnc::data::idx_truncated),
        help("The download was probably cut short; fetch the file again.")
    )]
    IdxTruncated {
        file: String,
        expected: u64,
        found: u64,
    },

    /// The IDX file is longer than its header says.
    #[error("`{file}` has {extra} bytes after the data its header describes")]
    #[diagnostic(
        code(nnc::data::idx_trailing),
        help("The header and the data disagree; the file is corrupt or not IDX.")
    )]
    IdxTrailing { file: String, extra: u64 },

    /// Features and labels come from two files whose sample counts differ.
    #[error(
        "`{features_file}` has {n_features} samples but `{labels_file}` has {n_labels} labels"
    )]
    #[diagnostic(
        code(nnc::data::count_mismatch),
        help("The two files must describe the same samples in the same order; check they belong together.")
    )]
    CountMismatch {
        features_file: String,
        n_features: usize,
        labels_file: String,
        n_labels: usize,
    },

    /// The per-sample feature count does not fit the requested input shape.
    #[error(
        "`{file}` has {n_features} features per sample but input shape {shape:?} needs {needed}"
    )]
    #[diagnostic(
        code(nnc::data::shape_mismatch),
        help("Declare an input shape whose product is {n_features}, or use a data set that matches the network.")
    )]
    ShapeMismatch {
        file: String,
        n_features: usize,
        shape: Vec<usize>,
        needed: usize,
    },

    /// No samples (or no feature columns).
    #[error("`{file}` is empty: {what}")]
    #[diagnostic(
        code(nnc::data::empty),
        help("A data set needs at least one sample with at least one feature.")
    )]
    Empty { file: String, what: String },

    /// A stratified split would leave a class without train or test examples.
    #[error("splitting `{file}` with train fraction {fraction} leaves class {class} ({n_in_class} samples) with no {side} example")]
    #[diagnostic(
        code(nnc::data::split_empty_class),
        help("Move the train fraction away from 0 or 1, or collect more samples of that class.")
    )]
    SplitEmptyClass {
        file: String,
        fraction: f64,
        class: String,
        n_in_class: usize,
        side: String,
    },

    /// No builtin data set or generator has this name.
    #[error("unknown builtin data set `{name}`")]
    #[diagnostic(code(nnc::data::unknown_builtin), help("Builtin data sets: {known}."))]
    UnknownBuiltin { name: String, known: String },

    /// A parameter is unknown or has an invalid value.
    #[error("invalid parameter `{param}` for {context}: {reason}")]
    #[diagnostic(code(nnc::data::bad_parameter), help("{hint}"))]
    BadParameter {
        context: String,
        param: String,
        reason: String,
        hint: String,
    },
}

impl DataError {
    /// The stable diagnostic code, e.g. `nnc::data::missing_file`.
    pub fn code_str(&self) -> String {
        self.code().map(|code| code.to_string()).unwrap_or_default()
    }
}
