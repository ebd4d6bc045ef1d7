//! The train block's `sampler` and the loss's `class_weights`, bound to the training split:
//! which examples each batch holds, and the weight of each example's loss.

use super::RunError;
use crate::hir::settings::{ClassWeights, Sampler as Spec};
use crate::hir::TrainDecl;
use ndarray::{Array1, ArrayD};
use nnc_runtime::data::Dataset;
use nnc_runtime::sampling::{kmeans, Policy, Sampler};
use nnc_runtime::sampling_weights::balanced_class_weights;

/// The policy the train block names (`undersample` changes the data first, then draws
/// uniformly).
fn policy_of(train: &TrainDecl) -> Policy {
    match &train.sampler {
        Spec::Uniform | Spec::Undersample { .. } => Policy::Uniform,
        Spec::Balanced => Policy::Balanced,
        Spec::Weighted { weights } => Policy::Weighted(weights.clone()),
        Spec::Oversample => Policy::Oversample,
        Spec::HardMining { fraction } => Policy::HardMining {
            fraction: *fraction,
        },
    }
}

/// `undersample(kmeans: K)`: the training split with every class but the smallest replaced
/// by K k-means centroids; other samplers leave it as it is.
pub fn prepare_split(train: &TrainDecl, split: Dataset) -> Result<Dataset, RunError> {
    let Spec::Undersample { kmeans: k } = train.sampler else {
        return Ok(split);
    };
    let Some(labels) = split.labels() else {
        return Ok(split);
    };
    let (features, labels) = kmeans::undersample(
        split.features().view(),
        labels,
        split.n_classes() as usize,
        k as usize,
        train.seed,
        split.class_names(),
    )?;
    Ok(split.with_rows(features, labels)?)
}

/// The sampler over `split` (uniform for real-valued targets: the checker allows no other).
pub fn sampler(train: &TrainDecl, split: &Dataset) -> Result<Sampler, RunError> {
    let sampler = match split.labels() {
        Some(labels) => Sampler::new(
            policy_of(train),
            labels,
            split.n_classes() as usize,
            train.seed,
        )?,
        None => Sampler::new(Policy::Uniform, &vec![0; split.n_samples()], 1, train.seed)?,
    };
    Ok(sampler)
}

/// The loss's class weights over `split`: `balanced` gives `N / (C n_c)`; a list must have
/// one weight per class. `None` without `class_weights`.
pub fn class_weights(train: &TrainDecl, split: &Dataset) -> Result<Option<Vec<f64>>, RunError> {
    let counts: Vec<u64> = split.class_counts().iter().map(|&c| c as u64).collect();
    match train.loss.class_weights() {
        None => Ok(None),
        Some(ClassWeights::Balanced) => Ok(Some(balanced_class_weights(&counts)?)),
        Some(ClassWeights::Given(weights)) => {
            if weights.len() != counts.len() {
                return Err(RunError::config(
                    format!(
                        "`class_weights` has {} weights, but the data has {} classes",
                        weights.len(),
                        counts.len()
                    ),
                    "Give one weight per class, in class order, or `class_weights: balanced`.",
                ));
            }
            Ok(Some(weights.clone()))
        }
    }
}

/// The per-example weights of a batch of `labels`, scaled to average 1 so the step's mean
/// is `sum(w l) / sum(w)`. A batch of zero-weight classes only gets zeros (no update).
pub fn example_weights(class_weights: &[f64], labels: &[u32]) -> ArrayD<f32> {
    let w: Vec<f64> = labels
        .iter()
        .map(|&l| class_weights.get(l as usize).copied().unwrap_or(0.0))
        .collect();
    let total: f64 = w.iter().sum();
    let scale = if total > 0.0 {
        labels.len() as f64 / total
    } else {
        0.0
    };
    Array1::from_iter(w.iter().map(|x| (x * scale) as f32)).into_dyn()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_weights_average_one() {
        let w = example_weights(&[0.5, 10.0], &[0, 0, 0, 1]);
        let v: Vec<f32> = w.iter().copied().collect();
        // raw [0.5, 0.5, 0.5, 10], sum 11.5, scaled by 4 / 11.5
        let expected = [0.5, 0.5, 0.5, 10.0].map(|x: f64| (x * 4.0 / 11.5) as f32);
        assert_eq!(v, expected);
        assert!(example_weights(&[0.0, 1.0], &[0, 0])
            .iter()
            .all(|&x| x == 0.0));
    }
}
