//! Metrics on scores rather than hard predictions: ROC-AUC, the ROC curve, average
//! precision and top-k accuracy. Binary functions take `y_true: &[bool]` (true = positive)
//! and one score per sample, higher meaning "more positive".

use super::{check_labels, check_len, check_scores, MetricsError};
use std::cmp::Ordering;

/// Area under the ROC curve: P(s+ > s-) + P(s+ = s-) / 2, computed as the Mann-Whitney U
/// statistic with average ranks for tied scores, so all-equal scores give 0.5.
///
/// Errors if the lengths differ, a score is NaN, or either class is absent.
pub fn roc_auc(y_true: &[bool], scores: &[f32]) -> Result<f64, MetricsError> {
    let (n_pos, n_neg) = count_binary(y_true, scores)?;
    if n_pos == 0 || n_neg == 0 {
        return Err(MetricsError::SingleClass {
            n_positive: n_pos,
            n_negative: n_neg,
        });
    }
    let order = sorted_by_score(scores, Ordering::Less);
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut positive_rank_sum = 0.0;
    for group in tie_groups(&order, scores) {
        let first_rank = (group.start + 1) as f64;
        let last_rank = group.end as f64;
        let average_rank = (first_rank + last_rank) / 2.0;
        let positives_in_group = order[group].iter().filter(|&&i| y_true[i]).count();
        positive_rank_sum += average_rank * positives_in_group as f64;
    }
    let (p, n) = (n_pos as f64, n_neg as f64);
    Ok((positive_rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// ROC curve as `(false positive rate, true positive rate)` points from `(0, 0)` to
/// `(1, 1)`, one point per distinct score (tied scores make one diagonal step, as in
/// scikit-learn). The trapezoidal area under it equals [`roc_auc`].
pub fn roc_curve(y_true: &[bool], scores: &[f32]) -> Result<Vec<(f64, f64)>, MetricsError> {
    let (n_pos, n_neg) = count_binary(y_true, scores)?;
    if n_pos == 0 || n_neg == 0 {
        return Err(MetricsError::SingleClass {
            n_positive: n_pos,
            n_negative: n_neg,
        });
    }
    let order = sorted_by_score(scores, Ordering::Greater);
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0usize, 0usize);
    for group in tie_groups(&order, scores) {
        for &i in &order[group] {
            if y_true[i] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        points.push((fp as f64 / n_neg as f64, tp as f64 / n_pos as f64));
    }
    Ok(points)
}

/// Average precision (scikit-learn's PR-AUC): `sum_n (R_n - R_{n-1}) * P_n` over the
/// distinct score thresholds from high to low, with no interpolation.
///
/// Errors if the lengths differ, a score is NaN, or there is no positive sample.
pub fn average_precision(y_true: &[bool], scores: &[f32]) -> Result<f64, MetricsError> {
    let (n_pos, n_neg) = count_binary(y_true, scores)?;
    if n_pos == 0 {
        return Err(MetricsError::SingleClass {
            n_positive: n_pos,
            n_negative: n_neg,
        });
    }
    let order = sorted_by_score(scores, Ordering::Greater);
    let (mut tp, mut seen) = (0usize, 0usize);
    let (mut ap, mut previous_recall) = (0.0, 0.0);
    for group in tie_groups(&order, scores) {
        seen += group.len();
        tp += order[group].iter().filter(|&&i| y_true[i]).count();
        let recall = tp as f64 / n_pos as f64;
        let precision = tp as f64 / seen as f64;
        ap += (recall - previous_recall) * precision;
        previous_recall = recall;
    }
    Ok(ap)
}

/// Fraction of samples whose true class is among the `k` highest of its `n_classes`
/// scores (`scores` is `n x n_classes`, row-major).
///
/// Ties are broken by expectation rather than by index: if `g` classes score strictly
/// higher than the true class and `t` others tie with it, the sample counts
/// `clamp((k - g) / (t + 1), 0, 1)`. So an untrained model with all-equal scores gets
/// `k / n_classes`, not 1 or 0.
pub fn top_k_accuracy(
    y_true: &[usize],
    scores: &[f32],
    n_classes: usize,
    k: usize,
) -> Result<f64, MetricsError> {
    check_labels(y_true, n_classes, "true label")?;
    check_scores(scores, y_true.len(), n_classes)?;
    if k == 0 {
        return Err(MetricsError::InvalidArgument {
            message: "top-k accuracy with k = 0".into(),
            help: "Use k >= 1; k = 1 is plain accuracy of argmax predictions.",
        });
    }
    let total: f64 = y_true
        .iter()
        .zip(scores.chunks_exact(n_classes))
        .map(|(&label, row)| {
            let target = row[label];
            let higher = row.iter().filter(|&&s| s > target).count();
            let tied = row.iter().filter(|&&s| s == target).count() - 1;
            let slots_left = k.saturating_sub(higher) as f64;
            (slots_left / (tied + 1) as f64).min(1.0)
        })
        .sum();
    Ok(total / y_true.len() as f64)
}

/// Applies a binary `metric` per class. K = 2 evaluates class 1 only (the positive class,
/// as scikit-learn's binary case); K > 2 averages one-vs-rest over the classes for which
/// `qualifies(n_positive, n_negative)` holds. Returns the mean (None if no class
/// qualified) and the classes skipped.
pub(super) fn one_vs_rest(
    y_true: &[usize],
    scores: &[f32],
    n_classes: usize,
    qualifies: fn(usize, usize) -> bool,
    metric: fn(&[bool], &[f32]) -> Result<f64, MetricsError>,
) -> Result<(Option<f64>, Vec<usize>), MetricsError> {
    let classes = if n_classes == 2 { 1..2 } else { 0..n_classes };
    let (mut sum, mut n_used, mut skipped) = (0.0, 0usize, Vec::new());
    for class in classes {
        let is_class: Vec<bool> = y_true.iter().map(|&label| label == class).collect();
        let n_pos = is_class.iter().filter(|&&b| b).count();
        if !qualifies(n_pos, is_class.len() - n_pos) {
            skipped.push(class);
            continue;
        }
        let column: Vec<f32> = scores
            .chunks_exact(n_classes)
            .map(|row| row[class])
            .collect();
        sum += metric(&is_class, &column)?;
        n_used += 1;
    }
    let mean = (n_used > 0).then(|| sum / n_used as f64);
    Ok((mean, skipped))
}

fn count_binary(y_true: &[bool], scores: &[f32]) -> Result<(usize, usize), MetricsError> {
    if y_true.is_empty() {
        return Err(MetricsError::Empty);
    }
    check_len("scores", y_true.len(), scores.len())?;
    if let Some(index) = scores.iter().position(|s| s.is_nan()) {
        return Err(MetricsError::NanScore { index });
    }
    let n_pos = y_true.iter().filter(|&&b| b).count();
    Ok((n_pos, y_true.len() - n_pos))
}

/// Sample indices sorted by score, ascending (`Less`) or descending (`Greater`).
fn sorted_by_score(scores: &[f32], direction: Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        let ord = scores[a].total_cmp(&scores[b]);
        if direction == Ordering::Less {
            ord
        } else {
            ord.reverse()
        }
    });
    order
}

/// Ranges of `order` whose scores are equal. Uses `==`, so -0.0 and 0.0 tie (NaN is
/// rejected before this point).
fn tie_groups<'a>(
    order: &'a [usize],
    scores: &'a [f32],
) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start == order.len() {
            return None;
        }
        let score = scores[order[start]];
        let len = order[start..]
            .iter()
            .take_while(|&&i| scores[i] == score)
            .count();
        let group = start..start + len;
        start += len;
        Some(group)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bools(labels: &[u8]) -> Vec<bool> {
        labels.iter().map(|&l| l == 1).collect()
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-9,
            "expected {expected}, got {actual}"
        );
    }

    #[test]
    fn roc_auc_papers_vectors() {
        let auc = roc_auc(&bools(&[0, 0, 1, 1]), &[0.1, 0.4, 0.35, 0.8]).unwrap();
        assert_close(auc, 0.75);
        // One tie between a positive and a negative counts one half.
        let auc = roc_auc(&bools(&[0, 1, 0, 1]), &[0.5, 0.5, 0.2, 0.9]).unwrap();
        assert_close(auc, 0.875);
        let auc = roc_auc(&bools(&[0, 1, 1, 0, 1]), &[0.3; 5]).unwrap();
        assert_close(auc, 0.5);
    }

    #[test]
    fn roc_auc_extremes_and_errors() {
        assert_close(roc_auc(&bools(&[0, 1]), &[0.0, 1.0]).unwrap(), 1.0);
        assert_close(roc_auc(&bools(&[1, 0]), &[0.0, 1.0]).unwrap(), 0.0);
        assert_eq!(
            roc_auc(&bools(&[1, 1]), &[0.2, 0.3]),
            Err(MetricsError::SingleClass {
                n_positive: 2,
                n_negative: 0
            })
        );
        assert!(matches!(
            roc_auc(&bools(&[0, 1]), &[0.2]),
            Err(MetricsError::LengthMismatch { .. })
        ));
        assert_eq!(roc_auc(&[], &[]), Err(MetricsError::Empty));
    }

    #[test]
    fn roc_curve_area_matches_auc() {
        let cases: [(&[u8], &[f32]); 3] = [
            (&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]),
            (&[0, 1, 0, 1], &[0.5, 0.5, 0.2, 0.9]),
            (&[1, 0, 1, 0, 0, 1], &[0.2, 0.2, 0.7, 0.1, 0.7, 0.9]),
        ];
        for (labels, scores) in cases {
            let y = bools(labels);
            let curve = roc_curve(&y, scores).unwrap();
            assert_eq!(curve.first(), Some(&(0.0, 0.0)));
            assert_eq!(curve.last(), Some(&(1.0, 1.0)));
            let area: f64 = curve
                .windows(2)
                .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
                .sum();
            assert_close(area, roc_auc(&y, scores).unwrap());
        }
    }

    #[test]
    fn average_precision_matches_sklearn() {
        // sklearn.metrics.average_precision_score on the same inputs.
        let ap = average_precision(&bools(&[0, 0, 1, 1]), &[0.1, 0.4, 0.35, 0.8]).unwrap();
        assert_close(ap, 5.0 / 6.0);
        // Ties form one threshold: both samples enter at once, P = 1/2, R = 1.
        let ap = average_precision(&bools(&[0, 1]), &[0.5, 0.5]).unwrap();
        assert_close(ap, 0.5);
        // Perfect ranking.
        let ap = average_precision(&bools(&[1, 0, 1]), &[0.9, 0.1, 0.8]).unwrap();
        assert_close(ap, 1.0);
        assert!(average_precision(&bools(&[0, 0]), &[0.1, 0.2]).is_err());
    }

    #[test]
    fn top_k_accuracy_counts_ties_by_expectation() {
        #[rustfmt::skip]
        let scores = [
            0.5, 0.3, 0.2,   // true 1: second -> in top 2, not top 1
            0.1, 0.2, 0.7,   // true 0: last
            0.4, 0.4, 0.2,   // true 0: tied for first with class 1
        ];
        let y = [1, 0, 0];
        assert_close(top_k_accuracy(&y, &scores, 3, 1).unwrap(), 0.5 / 3.0);
        assert_close(top_k_accuracy(&y, &scores, 3, 2).unwrap(), 2.0 / 3.0);
        assert_close(top_k_accuracy(&y, &scores, 3, 3).unwrap(), 1.0);
        // All-equal scores: k / K.
        assert_close(top_k_accuracy(&[2], &[0.0; 4], 4, 3).unwrap(), 0.75);
        assert!(top_k_accuracy(&y, &scores, 3, 0).is_err());
    }
}
