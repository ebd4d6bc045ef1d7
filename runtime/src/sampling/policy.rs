//! The epoch's index list for each policy.

use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::seq::SliceRandom;
use rand::Rng;

use super::hard::LossMemory;
use crate::data::epoch_order;
use crate::rng::{rng_for, stream};
use crate::sampling_weights::{power_class_probabilities, SamplingError};

/// How the examples of an epoch are drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Policy {
    Uniform,
    Balanced,
    /// One weight per class.
    Weighted(Vec<f64>),
    Oversample,
    /// Share of each batch taken from the highest-loss examples, in `[0, 1]`.
    HardMining {
        fraction: f64,
    },
}

/// A policy bound to the training labels and the seed.
#[derive(Clone, Debug)]
pub struct Sampler {
    policy: Policy,
    seed: u64,
    n: usize,
    /// Example indices of each class.
    by_class: Vec<Vec<usize>>,
    /// Class probabilities of the drawing policies (balanced, weighted).
    class_probs: Vec<f64>,
    memory: LossMemory,
}

impl Sampler {
    /// Binds `policy` to `labels` (each below `n_classes`). Errors if there are no labels, or
    /// `Weighted` has not one finite, non-negative weight per class (with a positive total
    /// over the classes present).
    pub fn new(
        policy: Policy,
        labels: &[u32],
        n_classes: usize,
        seed: u64,
    ) -> Result<Sampler, SamplingError> {
        let mut by_class = vec![Vec::new(); n_classes];
        for (i, &l) in labels.iter().enumerate() {
            by_class[l as usize].push(i);
        }
        let counts: Vec<u64> = by_class.iter().map(|c| c.len() as u64).collect();
        let class_probs = match &policy {
            Policy::Balanced => power_class_probabilities(&counts, 0.0)?,
            Policy::Weighted(w) => weighted_probabilities(&counts, w)?,
            Policy::HardMining { fraction } if !(0.0..=1.0).contains(fraction) => {
                return Err(SamplingError::InvalidParameter {
                    name: "fraction",
                    value: *fraction,
                    expected: "a share of the batch in [0, 1]",
                })
            }
            _ => {
                if labels.is_empty() {
                    return Err(SamplingError::NoSamples);
                }
                Vec::new()
            }
        };
        Ok(Sampler {
            memory: LossMemory::new(labels.len()),
            policy,
            seed,
            n: labels.len(),
            by_class,
            class_probs,
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Examples per epoch: `N`, except oversampling's `C_present * max_c n_c`.
    pub fn epoch_len(&self) -> usize {
        match self.policy {
            Policy::Oversample => {
                let present = self.by_class.iter().filter(|c| !c.is_empty()).count();
                present * self.by_class.iter().map(Vec::len).max().unwrap_or(0)
            }
            _ => self.n,
        }
    }

    /// The example indices of epoch `epoch`, in order, [`Sampler::epoch_len`] of them (for
    /// hard mining: the uniform order its batches take their non-hard rows from). Cut it
    /// into batches with [`Sampler::batch`].
    pub fn epoch(&self, epoch: u64) -> Vec<usize> {
        let mut rng = rng_for(self.seed, stream::SAMPLER + (epoch & ((1 << 55) - 1)));
        match &self.policy {
            Policy::Uniform | Policy::HardMining { .. } => epoch_order(self.n, self.seed, epoch),
            Policy::Balanced | Policy::Weighted(_) => {
                // Only classes with a positive probability are drawn, and those have examples.
                #[allow(
                    clippy::expect_used,
                    reason = "Sampler::new checks that some class has a positive probability and examples"
                )]
                let classes = WeightedIndex::new(&self.class_probs)
                    .expect("class probabilities are checked in Sampler::new");
                (0..self.n)
                    .map(|_| {
                        let members = &self.by_class[classes.sample(&mut rng)];
                        members[rng.random_range(0..members.len())]
                    })
                    .collect()
            }
            Policy::Oversample => {
                let target = self.by_class.iter().map(Vec::len).max().unwrap_or(0);
                let mut out = Vec::with_capacity(self.epoch_len());
                for members in self.by_class.iter().filter(|c| !c.is_empty()) {
                    for _ in 0..target / members.len() {
                        out.extend_from_slice(members);
                    }
                    let rest = target % members.len();
                    out.extend(
                        rand::seq::index::sample(&mut rng, members.len(), rest)
                            .into_iter()
                            .map(|i| members[i]),
                    );
                }
                out.shuffle(&mut rng);
                out
            }
        }
    }

    /// The next batch of `size` rows of an epoch whose order is `order` (from
    /// [`Sampler::epoch`]). `cursor` is the position in `order` (0 at the start of each
    /// epoch); it advances by the rows taken from `order`. Hard mining adds the examples
    /// with the highest loss recorded so far by [`Sampler::record`].
    pub fn batch(&self, order: &[usize], cursor: &mut usize, size: usize) -> Vec<usize> {
        let hard = match self.policy {
            Policy::HardMining { fraction } => (fraction * size as f64).round() as usize,
            _ => 0,
        };
        let take = (size - hard.min(size)).min(order.len() - *cursor);
        let mut rows = order[*cursor..*cursor + take].to_vec();
        *cursor += take;
        if hard > 0 {
            let chosen = self.memory.hardest(hard, &rows);
            rows.extend(chosen);
            // Too few examples seen yet: the rest of the batch in uniform order.
            let missing = size - rows.len();
            let more = missing.min(order.len() - *cursor);
            rows.extend_from_slice(&order[*cursor..*cursor + more]);
            *cursor += more;
        }
        rows
    }

    /// The per-example losses of the rows of a batch just trained on (hard mining reads them).
    pub fn record(&mut self, rows: &[usize], losses: &[f32]) {
        self.memory.record(rows, losses);
    }

    /// The hard-mining loss memory, one loss per training example: run state that a
    /// checkpoint must carry for a resumed run to draw the same batches.
    pub fn memory(&self) -> &LossMemory {
        &self.memory
    }

    pub fn memory_mut(&mut self) -> &mut LossMemory {
        &mut self.memory
    }

    /// Whether the trainer must report per-example losses.
    pub fn wants_losses(&self) -> bool {
        matches!(self.policy, Policy::HardMining { .. })
    }

    /// Number of batches of `size` in an epoch.
    pub fn steps(&self, size: usize) -> usize {
        self.epoch_len().div_ceil(size.max(1))
    }
}

/// `P(c) ∝ w_c n_c`.
fn weighted_probabilities(counts: &[u64], weights: &[f64]) -> Result<Vec<f64>, SamplingError> {
    if weights.len() != counts.len() {
        return Err(SamplingError::WeightCount {
            expected: counts.len(),
            found: weights.len(),
        });
    }
    if let Some(&bad) = weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
        return Err(SamplingError::InvalidParameter {
            name: "weight",
            value: bad,
            expected: "a finite weight >= 0",
        });
    }
    let mass: Vec<f64> = counts
        .iter()
        .zip(weights)
        .map(|(&n, w)| n as f64 * w)
        .collect();
    let total: f64 = mass.iter().sum();
    if total <= 0.0 {
        return Err(SamplingError::InvalidParameter {
            name: "weights",
            value: total,
            expected: "a positive weight for at least one class with examples",
        });
    }
    Ok(mass.into_iter().map(|m| m / total).collect())
}
