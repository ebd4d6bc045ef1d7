//! Stratified train/test split.
//!
//! Like scikit-learn's `train_test_split(..., stratify=y)` in spirit: the train set takes
//! `floor(fraction * n)` samples and every class contributes in proportion to its size.
//! Class `c` with `n_c` samples gets `floor(q_c)` or `floor(q_c) + 1` train samples, where
//! `q_c = n_train * n_c / n`; the leftover places go to the largest fractional parts (ties to
//! the lower class index), so each class is within one sample of its exact share. Which
//! samples go where is drawn from `rng_for(seed, stream::SPLIT)`: deterministic per seed,
//! different across seeds. The exact sample choice differs from scikit-learn's.
//!
//! Real-valued targets have no classes; they are split at random with the same counts.
//!
//! Unlabelled samples (semi-supervised data) cannot be scored, so they all train: the
//! fraction divides the labelled samples, and the unlabelled ones join the train side.

use rand::seq::SliceRandom;

use super::dataset::{Dataset, Targets};
use super::error::DataError;
use crate::rng::{rng_for, stream};

/// Sample indices of each side, in random order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Indices of training samples.
    pub train: Vec<usize>,
    /// Indices of held-out samples.
    pub test: Vec<usize>,
}

/// Splits `dataset` so that `train_fraction` (strictly between 0 and 1) of it trains.
///
/// Fails with `nnc::data::split_empty_class` if a class would have no train or no test
/// sample (classes with no samples at all are ignored).
pub fn stratified_split(
    dataset: &Dataset,
    train_fraction: f64,
    seed: u64,
) -> Result<Split, DataError> {
    stratified_split_stream(dataset, train_fraction, seed, stream::SPLIT)
}

/// [`stratified_split`] drawing from `rng_for(seed, stream_id)` (a validation split taken
/// out of the training part uses its own stream).
pub fn stratified_split_stream(
    dataset: &Dataset,
    train_fraction: f64,
    seed: u64,
    stream_id: u64,
) -> Result<Split, DataError> {
    if !(train_fraction > 0.0 && train_fraction < 1.0) {
        return Err(DataError::BadParameter {
            context: format!("splitting `{}`", dataset.origin()),
            param: "split".to_string(),
            reason: format!("train fraction {train_fraction} is not strictly between 0 and 1"),
            hint: "Give the share of samples used for training, e.g. 0.8.".to_string(),
        });
    }
    let unlabelled: Vec<usize> = (0..dataset.n_samples())
        .filter(|&i| !dataset.is_labelled(i))
        .collect();
    let n = dataset.n_samples() - unlabelled.len();
    if n == 0 {
        return Err(DataError::Empty {
            file: dataset.origin().to_string(),
            what: "no labelled samples to split".to_string(),
        });
    }
    let n_train = (train_fraction * n as f64).floor() as usize;
    let classes: Vec<Vec<usize>> = match dataset.targets() {
        Targets::Classes { labels, n_classes } => {
            let mut classes = vec![Vec::new(); *n_classes as usize];
            for (i, &label) in labels.iter().enumerate() {
                if dataset.is_labelled(i) {
                    classes[label as usize].push(i);
                }
            }
            classes
        }
        Targets::Real(_) => vec![(0..n).collect()],
    };
    let quotas = allocate(n_train, n, &classes);

    for (class, (members, &n_class_train)) in classes.iter().zip(&quotas).enumerate() {
        let side = match () {
            _ if members.is_empty() => continue,
            _ if n_class_train == 0 => "train",
            _ if n_class_train == members.len() => "test",
            _ => continue,
        };
        return Err(DataError::SplitEmptyClass {
            file: dataset.origin().to_string(),
            fraction: train_fraction,
            class: match dataset.targets() {
                Targets::Classes { .. } => dataset.class_label(class),
                Targets::Real(_) => "(all samples)".to_string(),
            },
            n_in_class: members.len(),
            side: side.to_string(),
        });
    }

    let mut rng = rng_for(seed, stream_id);
    let mut split = Split {
        train: Vec::with_capacity(n_train + unlabelled.len()),
        test: Vec::with_capacity(n - n_train),
    };
    for (mut members, n_class_train) in classes.into_iter().zip(quotas) {
        members.shuffle(&mut rng);
        split.train.extend_from_slice(&members[..n_class_train]);
        split.test.extend_from_slice(&members[n_class_train..]);
    }
    split.train.extend(unlabelled);
    // Without this the sides would be grouped by class.
    split.train.shuffle(&mut rng);
    split.test.shuffle(&mut rng);
    Ok(split)
}

/// Train samples per class: floors of the exact shares, plus one for the largest remainders.
/// Integer arithmetic, so the counts add up to exactly `n_train`.
fn allocate(n_train: usize, n: usize, classes: &[Vec<usize>]) -> Vec<usize> {
    let numerators: Vec<u128> = classes
        .iter()
        .map(|members| n_train as u128 * members.len() as u128)
        .collect();
    let mut quotas: Vec<usize> = numerators
        .iter()
        .map(|&num| (num / n as u128) as usize)
        .collect();
    let mut by_remainder: Vec<usize> = (0..classes.len()).collect();
    // Stable sort keeps lower class indices first among equal remainders.
    by_remainder.sort_by_key(|&c| std::cmp::Reverse(numerators[c] % n as u128));
    let leftover = n_train - quotas.iter().sum::<usize>();
    // Sum of remainders / n == leftover, so `leftover` classes have a non-zero remainder and
    // therefore room for one more (quota < share <= class size).
    for &class in &by_remainder[..leftover] {
        quotas[class] += 1;
    }
    quotas
}
