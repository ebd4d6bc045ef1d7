//! Per-epoch shuffling and batching of sample indices.
//!
//! Training draws batches as index lists into a [`super::Dataset`]; the compiled step then
//! gathers those rows. Sampling policies (balanced, weighted, ...) produce index lists too and
//! reuse [`batches`].

use rand::seq::SliceRandom;

use super::error::DataError;
use crate::rng::{rng_for, stream};

/// A permutation of `0..n` for `epoch`, drawn from `rng_for(seed, stream::SHUFFLE + epoch)`
/// (the epoch is taken modulo 2^56, the sub-stream space). Same seed and epoch, same order.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng_for(
        seed,
        stream::SHUFFLE + (epoch & ((1 << 56) - 1)),
    ));
    order
}

/// Consecutive batches of `batch_size` indices from `order`. The last batch is shorter when
/// `batch_size` does not divide the length, or left out with `drop_last` (then fewer than
/// `batch_size` indices give no batch at all).
pub fn batches(
    order: &[usize],
    batch_size: usize,
    drop_last: bool,
) -> Result<impl Iterator<Item = &[usize]>, DataError> {
    if batch_size == 0 {
        return Err(DataError::BadParameter {
            context: "batching".to_string(),
            param: "batch".to_string(),
            reason: "batch size is 0".to_string(),
            hint: "Use a batch size of at least 1, e.g. 64.".to_string(),
        });
    }
    Ok(order
        .chunks(batch_size)
        .filter(move |batch| !drop_last || batch.len() == batch_size))
}
