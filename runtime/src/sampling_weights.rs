//! Class-imbalance weights and sampling probabilities, from per-class sample counts.
//!
//! The data pipeline's samplers (class-balanced, square-root, weighted) and weighted losses
//! take their numbers from here. Formulas are from papers.md section 11, with `n_c` the
//! count of class `c`, `N` the total and `C` the number of classes:
//!
//! | function | formula |
//! |---|---|
//! | [`balanced_class_weights`] | `w_c = N / (C n_c)` (scikit-learn `class_weight='balanced'`) |
//! | [`balanced_sample_probabilities`] | `p_i = 1 / (C n_{y_i})`: every class drawn with probability `1/C` |
//! | [`power_class_probabilities`] | `P(c) = n_c^q / sum_k n_k^q` (q = 1 instance-, 1/2 square-root-, 0 class-balanced) |
//! | [`effective_numbers`] | `E_c = (1 - beta^n_c) / (1 - beta)` (Cui et al. 2019) |
//! | [`effective_number_weights`] | `w_c ∝ 1 / E_c`, scaled so `sum_c w_c = C` (as the authors' code) |
//!
//! A class with no samples can never be drawn: it gets weight and probability 0 and does
//! not count in `C`, so probabilities still sum to 1.

/// Invalid counts or parameters. Codes are `nnc::sampling::<name>`.
#[derive(Debug, Clone, PartialEq, thiserror::Error, miette::Diagnostic)]
pub enum SamplingError {
    #[error("no samples: every class count is 0")]
    #[diagnostic(
        code(nnc::sampling::no_samples),
        help("Class weights need at least one labelled sample; check that the training set is not empty.")
    )]
    NoSamples,

    #[error("{name} = {value} is out of range, expected {expected}")]
    #[diagnostic(
        code(nnc::sampling::invalid_parameter),
        help("Change the sampling policy's parameter to a value in the stated range.")
    )]
    InvalidParameter {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },

    #[error("{found} class weights for {expected} classes")]
    #[diagnostic(
        code(nnc::sampling::weight_count),
        help("Give `weighted` one weight per class, in class order.")
    )]
    WeightCount { expected: usize, found: usize },

    #[error(
        "k-means with K = {k} centroids, but class {class} has only {count} training examples"
    )]
    #[diagnostic(
        code(nnc::sampling::kmeans_too_large),
        help("Use `undersample(kmeans: K)` with K at most the size of every class it replaces (all but the smallest).")
    )]
    KmeansTooLarge {
        k: usize,
        class: String,
        count: usize,
    },
}

/// `w_c = N / (C n_c)`: counts `[90, 9, 1]` give `[0.370370, 3.703704, 33.333333]`.
pub fn balanced_class_weights(counts: &[u64]) -> Result<Vec<f64>, SamplingError> {
    let (total, n_present) = totals(counts)?;
    Ok(map_present(counts, |n| total / (n_present * n)))
}

/// Per-sample probability `1 / (C n_c)` of drawing one given sample of class `c`, indexed
/// by class: counts `[90, 9, 1]` give `[0.003704, 0.037037, 0.333333]`.
pub fn balanced_sample_probabilities(counts: &[u64]) -> Result<Vec<f64>, SamplingError> {
    let (_, n_present) = totals(counts)?;
    Ok(map_present(counts, |n| 1.0 / (n_present * n)))
}

/// Class probabilities `n_c^q / sum_k n_k^q`: `q = 1/2` on `[90, 9, 1]` gives
/// `[0.703414, 0.222439, 0.074146]`. `q` must be finite.
pub fn power_class_probabilities(counts: &[u64], q: f64) -> Result<Vec<f64>, SamplingError> {
    if !q.is_finite() {
        return Err(SamplingError::InvalidParameter {
            name: "q",
            value: q,
            expected: "a finite exponent (0 class-balanced, 1/2 square-root, 1 instance)",
        });
    }
    totals(counts)?;
    let powered = map_present(counts, |n| n.powf(q));
    let sum: f64 = powered.iter().sum();
    Ok(powered.into_iter().map(|p| p / sum).collect())
}

/// Effective numbers `(1 - beta^n_c) / (1 - beta)`, `beta` in `[0, 1)`: `beta = 0.99` on
/// `[90, 9, 1]` gives `[59.526803, 8.648275, 1.0]`.
pub fn effective_numbers(counts: &[u64], beta: f64) -> Result<Vec<f64>, SamplingError> {
    if !(0.0..1.0).contains(&beta) {
        return Err(SamplingError::InvalidParameter {
            name: "beta",
            value: beta,
            expected: "0 <= beta < 1 (typically 0.9, 0.99 or 0.999)",
        });
    }
    totals(counts)?;
    // 1 - beta^n via expm1 keeps precision when beta is close to 1. An empty class is
    // handled apart because 0 * ln(0) would be NaN for beta = 0.
    Ok(map_present(counts, |n| {
        -(n * beta.ln()).exp_m1() / (1.0 - beta)
    }))
}

/// Class weights `1 / E_c` from [`effective_numbers`], scaled to sum to the number of
/// non-empty classes; empty classes get 0.
pub fn effective_number_weights(counts: &[u64], beta: f64) -> Result<Vec<f64>, SamplingError> {
    let effective = effective_numbers(counts, beta)?;
    let (_, n_present) = totals(counts)?;
    let inverse: Vec<f64> = counts
        .iter()
        .zip(&effective)
        .map(|(&n, &e)| if n == 0 { 0.0 } else { 1.0 / e })
        .collect();
    let sum: f64 = inverse.iter().sum();
    Ok(inverse.into_iter().map(|w| w * n_present / sum).collect())
}

/// `(N, C)` with `C` counting non-empty classes only.
fn totals(counts: &[u64]) -> Result<(f64, f64), SamplingError> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return Err(SamplingError::NoSamples);
    }
    let n_present = counts.iter().filter(|&&n| n > 0).count();
    Ok((total as f64, n_present as f64))
}

fn map_present(counts: &[u64], f: impl Fn(f64) -> f64) -> Vec<f64> {
    counts
        .iter()
        .map(|&n| if n == 0 { 0.0 } else { f(n as f64) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNTS: [u64; 3] = [90, 9, 1];

    fn assert_all_close(actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!(
                (a - e).abs() < 1e-6,
                "expected {expected:?}, got {actual:?}"
            );
        }
    }

    #[test]
    fn papers_vectors() {
        assert_all_close(
            &balanced_class_weights(&COUNTS).unwrap(),
            &[0.370370, 3.703704, 33.333333],
        );
        assert_all_close(
            &balanced_sample_probabilities(&COUNTS).unwrap(),
            &[0.003704, 0.037037, 0.333333],
        );
        assert_all_close(
            &power_class_probabilities(&COUNTS, 0.5).unwrap(),
            &[0.703414, 0.222439, 0.074146],
        );
        assert_all_close(
            &effective_numbers(&COUNTS, 0.99).unwrap(),
            &[59.526803, 8.648275, 1.0],
        );
    }

    #[test]
    fn power_endpoints_are_instance_and_class_balanced() {
        assert_all_close(
            &power_class_probabilities(&COUNTS, 1.0).unwrap(),
            &[0.9, 0.09, 0.01],
        );
        let third = 1.0 / 3.0;
        assert_all_close(
            &power_class_probabilities(&COUNTS, 0.0).unwrap(),
            &[third; 3],
        );
    }

    #[test]
    fn sample_probabilities_sum_to_one_over_the_data_set() {
        let counts = [90, 0, 9, 1];
        let p = balanced_sample_probabilities(&counts).unwrap();
        let total: f64 = counts.iter().zip(&p).map(|(&n, &p)| n as f64 * p).sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert_eq!(p[1], 0.0);
        assert_eq!(balanced_class_weights(&counts).unwrap()[1], 0.0);
    }

    #[test]
    fn effective_number_weights_sum_to_classes() {
        let w = effective_number_weights(&COUNTS, 0.99).unwrap();
        assert!((w.iter().sum::<f64>() - 3.0).abs() < 1e-12);
        assert!(w[0] < w[1] && w[1] < w[2]);
        // beta = 0: every E_c = 1, so all weights are equal.
        assert_all_close(&effective_number_weights(&COUNTS, 0.0).unwrap(), &[1.0; 3]);
        assert_eq!(effective_numbers(&[4, 0], 0.0).unwrap(), vec![1.0, 0.0]);
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert_eq!(
            balanced_class_weights(&[0, 0]),
            Err(SamplingError::NoSamples)
        );
        assert_eq!(balanced_class_weights(&[]), Err(SamplingError::NoSamples));
        assert!(effective_numbers(&COUNTS, 1.0).is_err());
        assert!(effective_numbers(&COUNTS, -0.1).is_err());
        assert!(effective_numbers(&COUNTS, f64::NAN).is_err());
        assert!(power_class_probabilities(&COUNTS, f64::INFINITY).is_err());
    }
}
