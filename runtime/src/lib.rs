//! nnc runtime: what a compiled program needs around it to train and report, and nothing
//! about specs, ASTs or IR.
//!
//! - [`metrics`]: classification metrics and the CLI's final table.
//! - [`sampling_weights`]: class-imbalance weights and sampling probabilities.
//! - [`checkpoint`]: atomic `.safetensors` checkpoints.
//! - [`plot`]: PNG charts (training curves, ROC, heat-maps).

mod atomic;
pub mod checkpoint;
pub mod metrics;
pub mod plot;
pub mod sampling_weights;
