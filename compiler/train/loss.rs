//! The loss terms of the step program and the host's reading of a prediction: one
//! cross-entropy, one argmax, one softmax for every caller (step, rules, distillation,
//! evaluation, `nnc compare`/`diagnose`).

use crate::hir::settings::Loss;
use crate::prim::{Graph, NodeId};
use num_traits::Float;

/// `-Σ_k target[n, k] log softmax(logits)[n, k]` per example, `[batch]`, for `[batch, K]`
/// logits and one-hot, smoothed or soft targets (numerically stable through log-softmax).
pub fn cross_entropy(g: &mut Graph, target: NodeId, logits: NodeId) -> NodeId {
    let batch = g.shape(logits)[0];
    let log_probs = g.log_softmax(logits, 1);
    let picked = g.mul(target, log_probs);
    let total = g.sum(picked, &[1]);
    let per = g.neg(total);
    g.reshape(per, &[batch])
}

/// The batch mean of [`cross_entropy`], rank 0.
pub fn softmax_cross_entropy(g: &mut Graph, logits: NodeId, targets: NodeId) -> NodeId {
    let per = cross_entropy(g, targets, logits);
    g.mean_all(per)
}

/// `(1 - e) onehot + e / K` (PyTorch's `label_smoothing`); the targets as they are for e = 0.
pub fn smoothed(g: &mut Graph, onehot: NodeId, label_smoothing: f64) -> NodeId {
    if label_smoothing == 0.0 {
        return onehot;
    }
    let classes = g.shape(onehot)[1];
    let kept = g.scale(onehot, 1.0 - label_smoothing);
    g.add_scalar(kept, label_smoothing / classes as f64)
}

/// Mean over examples of `-ln p[label]`, from class probabilities on the host.
pub fn host_cross_entropy(probs: &[Vec<f32>], labels: &[u32]) -> f64 {
    let total: f64 = probs
        .iter()
        .zip(labels)
        .map(|(p, &l)| -(p[l as usize].max(f32::MIN_POSITIVE) as f64).ln())
        .sum();
    total / labels.len().max(1) as f64
}

/// The index of the largest value, the first on ties; NaNs are never the largest.
pub fn argmax<T: Float>(row: impl IntoIterator<Item = T>) -> usize {
    row.into_iter()
        .enumerate()
        .fold((0, T::neg_infinity()), |best, (i, x)| {
            if x > best.1 {
                (i, x)
            } else {
                best
            }
        })
        .0
}

/// Softmax of one row of logits, on the host.
pub fn softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = row.iter().map(|x| (x - max).exp()).collect();
    let total: f32 = exps.iter().sum();
    exps.iter().map(|e| e / total).collect()
}

/// The predicted class and the class probabilities of one row of the network's output.
pub fn classify(row: &[f32], loss: &Loss) -> (u32, Vec<f32>) {
    match loss {
        Loss::BinaryCrossEntropy => {
            let p = 1.0 / (1.0 + (-row[0]).exp());
            ((p >= 0.5) as u32, vec![1.0 - p, p])
        }
        Loss::CrossEntropy { .. } | Loss::Mse => (argmax(row.iter().copied()) as u32, softmax(row)),
    }
}

/// How many classes the predictions score: one logit scores two.
pub fn n_classes(loss: &Loss, width: usize) -> usize {
    match loss {
        Loss::BinaryCrossEntropy => 2,
        Loss::CrossEntropy { .. } | Loss::Mse => width,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_ties_and_skips_nan() {
        assert_eq!(argmax([1.0f32, 3.0, 3.0]), 1);
        assert_eq!(argmax([f64::NAN, 2.0, 1.0]), 1);
        assert_eq!(argmax::<f32>([]), 0);
    }

    #[test]
    fn host_cross_entropy_is_the_mean_negative_log_probability() {
        let probs = vec![vec![0.25, 0.75], vec![0.5, 0.5]];
        let want = -(0.75f64.ln() + 0.5f64.ln()) / 2.0;
        assert!((host_cross_entropy(&probs, &[1, 0]) - want).abs() < 1e-12);
    }
}
