//! Looking inside networks: what `nnc compare` and `nnc diagnose` measure.
//!
//! - [`correlate`]: unit-by-unit correlation (and mutual information) between two sets of
//!   activations, and the lag-1 autocorrelation of a sequence;
//! - [`matching`]: greedy semi-matching and one-to-one (Hungarian) matching of units
//!   (Li et al., "Convergent learning", papers.md section 9);
//! - [`coactivation`]: how often ReLU units fire, alone and in pairs;
//! - [`probe`]: a logistic-regression probe on a layer's activations;
//! - [`activations`]: running a trained network to get its layers' values;
//! - [`shatter`]: input gradients over a 1-D grid (Balduzzi et al., "The shattered
//!   gradients problem", papers.md section 8).

pub mod activations;
pub mod coactivation;
pub mod correlate;
mod error;
pub mod matching;
pub mod probe;
pub mod shatter;

pub use error::InspectError;
