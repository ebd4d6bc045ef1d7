//! nnc runtime: what a compiled program needs around it to train and report. This crate
//! knows nothing about specs, ASTs or IR.
//!
//! - [`data`]: loads and prepares data sets.
//! - [`rng`]: every random number, from one seed.
//! - [`init`]: weight initialisation schemes.
//! - [`lr_schedule`]: learning-rate schedules.
//! - [`metrics`]: classification metrics and the CLI's final table.
//! - [`sampling`]: seeded batch-sampling policies and k-means undersampling.
//! - [`sampling_weights`]: class-imbalance weights and sampling probabilities.
//! - [`checkpoint`]: atomic `.safetensors` checkpoints.
//! - [`plot`]: PNG charts (training curves, ROC, heat-maps).
//! - [`files`]: atomic writes of any file.

mod atomic;
pub mod checkpoint;
pub mod data;
pub mod exec;
pub mod files;
pub mod init;
pub mod lr_schedule;
pub mod metrics;
pub mod plot;
pub mod rng;
pub mod sampling;
pub mod sampling_weights;
pub mod window;

/// The CPU feature level this process's kernels run at (`portable`, `avx2` or `avx512`):
/// results are bit-reproducible per level (docs/testing.md). `NNC_CPU_LEVEL` caps it.
pub fn cpu_level() -> &'static str {
    exec::level::level().name()
}
