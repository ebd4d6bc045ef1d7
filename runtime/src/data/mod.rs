//! The data layer: load a data set, split it, scale it, and hand out batches.
//!
//! ```text
//! builtin / load_csv / load_npy / load_npz / load_idx  ->  Dataset
//! stratified_split(&dataset, 0.8, seed)                ->  Split { train, test } (indices)
//! dataset.subset(&split.train)                         ->  train Dataset (same for test)
//! scale_split(Scaling::Standardize, &mut train, &mut test)   (fitted on train only)
//! epoch_order(n, seed, epoch) + batches(&order, 64, drop_last)  ->  index batches
//! ```
//!
//! Every fallible step returns [`DataError`], a miette diagnostic with a stable
//! `nnc::data::*` code; loaders never panic on bad files. All randomness comes from
//! [`crate::rng`], so the same seed gives the same data, split and batch order.

#![warn(missing_docs)]

mod batch;
mod builtin;
mod csv_file;
mod dataset;
mod error;
mod features;
mod file;
mod idx;
mod labels;
mod npy;
mod params;
mod scale;
mod sentiment;
mod split;
mod synthetic;

pub use batch::{batches, epoch_order};
pub use builtin::{builtin, builtin_with, BUILTINS};
pub use csv_file::{load_csv, CsvOptions, LabelColumn};
pub use dataset::{Dataset, Field, Targets};
pub use error::DataError;
pub use features::{load_features, write_npy, FeatureCsv, Features};
pub use idx::load_idx;
pub use npy::{load_npy, load_npz};
pub use params::{BuiltinInfo, ParamInfo};
pub use scale::{scale_split, Scaler, Scaling};
pub use split::{stratified_split, stratified_split_stream, Split};
