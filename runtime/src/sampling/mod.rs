//! Seeded batch-sampling policies against class imbalance (papers.md section 11).
//!
//! A [`Sampler`] turns the training labels into the example indices of each epoch:
//!
//! | policy | one epoch |
//! |---|---|
//! | [`Policy::Uniform`] | every example once, in a seeded random order |
//! | [`Policy::Balanced`] | `N` draws with replacement, each class with probability `1/C` |
//! | [`Policy::Weighted`] | `N` draws with replacement, class `c` with probability ∝ `w_c n_c` |
//! | [`Policy::Oversample`] | every class repeated (whole copies, then a seeded remainder) up to the largest class's count |
//! | [`Policy::HardMining`] | per batch, a fraction from the highest-loss examples at their last visit, the rest in uniform order |
//!
//! Cluster undersampling changes the data set itself, before training: see
//! [`kmeans::undersample`]. Every draw comes from `rng_for(seed, stream::SAMPLER + epoch)`,
//! so a seed reproduces an epoch bit for bit, independently of the epochs before it.

mod hard;
pub mod kmeans;
mod policy;
#[cfg(test)]
mod tests;

pub use hard::LossMemory;
pub use policy::{Policy, Sampler};
