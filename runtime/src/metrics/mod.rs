//! Classification metrics: what `nnc run` reports after training or evaluation.
//!
//! In: true labels, predicted labels and optionally per-class scores (`n x K`, row-major,
//! probabilities or logits: only their order matters). Out: a [`ClassificationReport`]
//! (serde-serializable, for `--json` output and run logs) and a plain-text table for the CLI.
//!
//! Conventions follow scikit-learn, so numbers can be cross-checked against it:
//! - the confusion matrix has rows = true class, columns = predicted class;
//! - a ratio whose denominator is zero is 0 (`zero_division=0`);
//! - macro F1 is the mean of the per-class F1 scores, not the harmonic mean of macro
//!   precision and macro recall;
//! - ROC-AUC is the Mann-Whitney statistic with average ranks for ties;
//! - average precision is `sum_n (R_n - R_{n-1}) P_n` over distinct score thresholds.
//!
//! ```
//! use nnc_runtime::metrics::ClassificationReport;
//!
//! let y_true = [0, 0, 1, 1];
//! let y_pred = [0, 1, 1, 1];
//! let report = ClassificationReport::new(&y_true, &y_pred, None, 2).unwrap();
//! assert_eq!(report.accuracy, 0.75);
//! print!("{}", report.render_table(None));
//! ```

mod ranking;
mod table;

pub use ranking::{average_precision, roc_auc, roc_curve, top_k_accuracy};
pub use table::MAX_CONFUSION_CLASSES;

use serde::{Deserialize, Serialize};

/// Why a metric could not be computed. Codes are `nnc::metrics::<name>`.
#[derive(Debug, Clone, PartialEq, thiserror::Error, miette::Diagnostic)]
pub enum MetricsError {
    #[error("{what} has {found} entries, expected {expected}")]
    #[diagnostic(
        code(nnc::metrics::length_mismatch),
        help("Every sample needs exactly one true label, one prediction and one row of scores.")
    )]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        found: usize,
    },

    #[error("no samples to evaluate")]
    #[diagnostic(
        code(nnc::metrics::empty),
        help(
            "Metrics are undefined on an empty set; check that the evaluation split is not empty."
        )
    )]
    Empty,

    #[error("{what} {label} at index {index} is out of range for {n_classes} classes")]
    #[diagnostic(
        code(nnc::metrics::label_out_of_range),
        help("Labels must be class indices in 0..{n_classes}.")
    )]
    LabelOutOfRange {
        what: &'static str,
        index: usize,
        label: usize,
        n_classes: usize,
    },

    #[error("score at index {index} is NaN")]
    #[diagnostic(
        code(nnc::metrics::nan_score),
        help("NaN scores usually mean training diverged; lower the learning rate or check the inputs.")
    )]
    NanScore { index: usize },

    #[error(
        "roc-auc needs both classes, got {n_positive} positive and {n_negative} negative samples"
    )]
    #[diagnostic(
        code(nnc::metrics::single_class),
        help("Evaluate on a split that contains both positive and negative samples.")
    )]
    SingleClass {
        n_positive: usize,
        n_negative: usize,
    },

    #[error("invalid argument: {message}")]
    #[diagnostic(code(nnc::metrics::invalid_argument), help("{help}"))]
    InvalidArgument { message: String, help: &'static str },
}

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Number of samples whose true label is this class.
    pub support: u64,
}

/// An average of per-class precision, recall and F1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Averages {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Top-k accuracy for one `k`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TopK {
    pub k: usize,
    pub accuracy: f64,
}

/// All metrics of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    pub n_samples: usize,
    pub n_classes: usize,
    /// `confusion[true][predicted]` = number of samples.
    pub confusion: Vec<Vec<u64>>,
    /// Fraction of correct predictions (= micro-averaged P, R and F1).
    pub accuracy: f64,
    /// One entry per class, indexed by class.
    pub per_class: Vec<ClassMetrics>,
    /// Unweighted mean over classes of P, R and F1 (all classes, including absent ones).
    pub macro_avg: Averages,
    /// Mean over classes weighted by support.
    pub weighted_avg: Averages,
    /// Binary (K = 2): AUC of the class-1 scores. K > 2: macro one-vs-rest AUC over the
    /// classes that have both positive and negative samples. `None` without scores or when
    /// no class qualifies.
    pub roc_auc: Option<f64>,
    /// Classes left out of `roc_auc` because they had no positive or no negative samples.
    pub roc_auc_skipped: Vec<usize>,
    /// Average precision (PR-AUC), binary or macro one-vs-rest like `roc_auc`; classes
    /// with no positive sample are left out (their recall is undefined).
    pub average_precision: Option<f64>,
    /// Classes left out of `average_precision`.
    pub average_precision_skipped: Vec<usize>,
    /// Top-k accuracy for k in [`ClassificationReport::TOP_K`] below `n_classes` (with scores).
    pub top_k: Vec<TopK>,
}

impl ClassificationReport {
    /// The `k`s reported by [`ClassificationReport::new`]; others via [`top_k_accuracy`].
    pub const TOP_K: [usize; 2] = [3, 5];

    /// Computes every metric. `scores`, if given, is `n x n_classes` row-major; it adds
    /// ROC-AUC, average precision and top-k accuracy. `y_pred` is taken as given (use
    /// [`predictions_from_scores`] for argmax predictions).
    pub fn new(
        y_true: &[usize],
        y_pred: &[usize],
        scores: Option<&[f32]>,
        n_classes: usize,
    ) -> Result<Self, MetricsError> {
        let confusion = confusion_matrix(y_true, y_pred, n_classes)?;
        let n_samples = y_true.len();
        let n_total = n_samples as f64;

        let per_class: Vec<ClassMetrics> = (0..n_classes)
            .map(|class| {
                let tp = confusion[class][class];
                let support: u64 = confusion[class].iter().sum();
                let predicted: u64 = confusion.iter().map(|row| row[class]).sum();
                let (fp, fn_) = (predicted - tp, support - tp);
                ClassMetrics {
                    precision: ratio(tp, predicted),
                    recall: ratio(tp, support),
                    // 2PR/(P+R) written with counts, so 0/0 -> 0 needs one check.
                    f1: ratio(2 * tp, 2 * tp + fp + fn_),
                    support,
                }
            })
            .collect();

        let mean = |get: fn(&ClassMetrics) -> f64| {
            per_class.iter().map(get).sum::<f64>() / n_classes as f64
        };
        let weighted = |get: fn(&ClassMetrics) -> f64| {
            per_class
                .iter()
                .map(|m| get(m) * m.support as f64)
                .sum::<f64>()
                / n_total
        };
        let macro_avg = Averages {
            precision: mean(|m| m.precision),
            recall: mean(|m| m.recall),
            f1: mean(|m| m.f1),
        };
        let weighted_avg = Averages {
            precision: weighted(|m| m.precision),
            recall: weighted(|m| m.recall),
            f1: weighted(|m| m.f1),
        };
        let correct: u64 = (0..n_classes).map(|c| confusion[c][c]).sum();

        let mut report = ClassificationReport {
            n_samples,
            n_classes,
            accuracy: correct as f64 / n_total,
            confusion,
            per_class,
            macro_avg,
            weighted_avg,
            roc_auc: None,
            roc_auc_skipped: Vec::new(),
            average_precision: None,
            average_precision_skipped: Vec::new(),
            top_k: Vec::new(),
        };
        if let Some(scores) = scores {
            report.add_score_metrics(y_true, scores)?;
        }
        Ok(report)
    }

    fn add_score_metrics(&mut self, y_true: &[usize], scores: &[f32]) -> Result<(), MetricsError> {
        check_scores(scores, self.n_samples, self.n_classes)?;
        let (auc, auc_skipped) = ranking::one_vs_rest(
            y_true,
            scores,
            self.n_classes,
            |n_pos, n_neg| n_pos > 0 && n_neg > 0,
            roc_auc,
        )?;
        let (ap, ap_skipped) = ranking::one_vs_rest(
            y_true,
            scores,
            self.n_classes,
            |n_pos, _| n_pos > 0,
            average_precision,
        )?;
        self.roc_auc = auc;
        self.roc_auc_skipped = auc_skipped;
        self.average_precision = ap;
        self.average_precision_skipped = ap_skipped;
        self.top_k = Self::TOP_K
            .iter()
            .filter(|&&k| k < self.n_classes)
            .map(|&k| {
                top_k_accuracy(y_true, scores, self.n_classes, k)
                    .map(|accuracy| TopK { k, accuracy })
            })
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    /// Plain-text table for the CLI: per-class rows, averages, accuracy, score metrics and
    /// the confusion matrix (only up to [`MAX_CONFUSION_CLASSES`] classes; larger ones
    /// belong in a heat-map). `class_names` defaults to the class indices.
    pub fn render_table(&self, class_names: Option<&[&str]>) -> String {
        table::render(self, class_names)
    }
}

impl std::fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render_table(None))
    }
}

/// `confusion[true][predicted]` counts. Errors on empty input, length mismatch or a label
/// outside `0..n_classes`.
pub fn confusion_matrix(
    y_true: &[usize],
    y_pred: &[usize],
    n_classes: usize,
) -> Result<Vec<Vec<u64>>, MetricsError> {
    check_labels(y_true, n_classes, "true label")?;
    check_len("predictions", y_true.len(), y_pred.len())?;
    check_labels(y_pred, n_classes, "predicted label")?;
    let mut confusion = vec![vec![0u64; n_classes]; n_classes];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        confusion[t][p] += 1;
    }
    Ok(confusion)
}

/// Argmax of each row of `scores` (`n x n_classes`, row-major); ties go to the lowest
/// class index, as numpy's `argmax`.
pub fn predictions_from_scores(
    scores: &[f32],
    n_classes: usize,
) -> Result<Vec<usize>, MetricsError> {
    if n_classes == 0 {
        return Err(no_classes());
    }
    check_scores(scores, scores.len() / n_classes, n_classes)?;
    Ok(scores
        .chunks_exact(n_classes)
        .map(|row| {
            let mut best = 0;
            for (class, &score) in row.iter().enumerate() {
                if score > row[best] {
                    best = class;
                }
            }
            best
        })
        .collect())
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

fn no_classes() -> MetricsError {
    MetricsError::InvalidArgument {
        message: "the number of classes is 0".into(),
        help: "Pass the number of classes of the model's output (at least 1).",
    }
}

fn check_len(what: &'static str, expected: usize, found: usize) -> Result<(), MetricsError> {
    if expected == found {
        Ok(())
    } else {
        Err(MetricsError::LengthMismatch {
            what,
            expected,
            found,
        })
    }
}

fn check_labels(
    labels: &[usize],
    n_classes: usize,
    what: &'static str,
) -> Result<(), MetricsError> {
    if n_classes == 0 {
        return Err(no_classes());
    }
    if labels.is_empty() {
        return Err(MetricsError::Empty);
    }
    match labels.iter().position(|&label| label >= n_classes) {
        Some(index) => Err(MetricsError::LabelOutOfRange {
            what,
            index,
            label: labels[index],
            n_classes,
        }),
        None => Ok(()),
    }
}

fn check_scores(scores: &[f32], n_samples: usize, n_classes: usize) -> Result<(), MetricsError> {
    if scores.is_empty() {
        return Err(MetricsError::Empty);
    }
    check_len("scores", n_samples * n_classes, scores.len())?;
    match scores.iter().position(|s| s.is_nan()) {
        Some(index) => Err(MetricsError::NanScore { index }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// papers.md section 11: the macro-F1 trap.
    const Y_TRUE: [usize; 10] = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2];
    const Y_PRED: [usize; 10] = [0, 0, 1, 2, 1, 1, 2, 2, 0, 1];

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-6,
            "expected {expected}, got {actual}"
        );
    }

    #[test]
    fn papers_vector_per_class() {
        let report = ClassificationReport::new(&Y_TRUE, &Y_PRED, None, 3).unwrap();
        let expected = [
            (0.666667, 0.5, 0.571429, 4),
            (0.5, 1.0, 0.666667, 2),
            (0.666667, 0.5, 0.571429, 4),
        ];
        for (m, (p, r, f1, support)) in report.per_class.iter().zip(expected) {
            assert_close(m.precision, p);
            assert_close(m.recall, r);
            assert_close(m.f1, f1);
            assert_eq!(m.support, support);
        }
        assert_eq!(
            report.confusion,
            vec![vec![2, 1, 1], vec![0, 2, 0], vec![1, 1, 2]]
        );
    }

    #[test]
    fn papers_vector_averages() {
        let report = ClassificationReport::new(&Y_TRUE, &Y_PRED, None, 3).unwrap();
        assert_close(report.macro_avg.precision, 0.611111);
        assert_close(report.macro_avg.recall, 0.666667);
        assert_close(report.macro_avg.f1, 0.603175);
        // The harmonic mean of macro P and R is the wrong answer papers.md warns about.
        let (p, r) = (report.macro_avg.precision, report.macro_avg.recall);
        assert_close(2.0 * p * r / (p + r), 0.637681);
        assert!((report.macro_avg.f1 - 0.637681).abs() > 1e-3);
        assert_close(report.accuracy, 0.6);
        assert_close(report.weighted_avg.f1, 0.590476);
    }

    #[test]
    fn zero_division_is_zero() {
        // Class 2 is never true and never predicted; class 1 is never predicted.
        let report = ClassificationReport::new(&[0, 1], &[0, 0], None, 3).unwrap();
        assert_eq!(report.per_class[1].precision, 0.0);
        assert_eq!(report.per_class[1].f1, 0.0);
        assert_eq!(
            report.per_class[2],
            ClassMetrics {
                precision: 0.0,
                recall: 0.0,
                f1: 0.0,
                support: 0
            }
        );
        assert_close(report.per_class[0].precision, 0.5);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert_eq!(
            confusion_matrix(&[0, 3], &[0, 0], 3),
            Err(MetricsError::LabelOutOfRange {
                what: "true label",
                index: 1,
                label: 3,
                n_classes: 3
            })
        );
        assert!(matches!(
            confusion_matrix(&[0], &[0, 1], 2),
            Err(MetricsError::LengthMismatch { .. })
        ));
        assert_eq!(confusion_matrix(&[], &[], 2), Err(MetricsError::Empty));
        assert!(matches!(
            confusion_matrix(&[0], &[0], 0),
            Err(MetricsError::InvalidArgument { .. })
        ));
        let scores = [0.1, f32::NAN, 0.3, 0.4];
        assert_eq!(
            ClassificationReport::new(&[0, 1], &[0, 1], Some(&scores), 2),
            Err(MetricsError::NanScore { index: 1 })
        );
        assert!(matches!(
            ClassificationReport::new(&[0, 1], &[0, 1], Some(&scores[..3]), 2),
            Err(MetricsError::LengthMismatch { what: "scores", .. })
        ));
    }

    #[test]
    fn argmax_predictions() {
        let scores = [0.1, 0.7, 0.2, 0.5, 0.5, 0.0];
        assert_eq!(predictions_from_scores(&scores, 3).unwrap(), vec![1, 0]);
        assert!(predictions_from_scores(&scores[..5], 3).is_err());
    }

    #[test]
    fn binary_report_with_scores() {
        // Columns are P(class 0), P(class 1); class-1 column is papers.md's first AUC vector.
        let y = [0, 0, 1, 1];
        let positive = [0.1f32, 0.4, 0.35, 0.8];
        let scores: Vec<f32> = positive.iter().flat_map(|&s| [1.0 - s, s]).collect();
        let pred = predictions_from_scores(&scores, 2).unwrap();
        let report = ClassificationReport::new(&y, &pred, Some(&scores), 2).unwrap();
        assert_close(report.roc_auc.unwrap(), 0.75);
        assert!(report.roc_auc_skipped.is_empty());
        // sklearn average_precision_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.833333.
        assert_close(report.average_precision.unwrap(), 0.833333);
        assert!(report.top_k.is_empty());
    }

    #[test]
    fn multiclass_ovr_skips_classes_without_both_kinds() {
        // Class 3 never occurs: skipped in AUC and AP, but still in the macro averages.
        let y = [0, 1, 2, 0, 1, 2];
        #[rustfmt::skip]
        let scores = [
            0.7, 0.1, 0.1, 0.1,
            0.2, 0.6, 0.1, 0.1,
            0.1, 0.1, 0.7, 0.1,
            0.3, 0.4, 0.2, 0.1,
            0.5, 0.3, 0.1, 0.1,
            0.2, 0.2, 0.5, 0.1,
        ];
        let pred = predictions_from_scores(&scores, 4).unwrap();
        let report = ClassificationReport::new(&y, &pred, Some(&scores), 4).unwrap();
        assert_eq!(report.roc_auc_skipped, vec![3]);
        assert_eq!(report.average_precision_skipped, vec![3]);
        let per_class: Vec<f64> = (0..3)
            .map(|c| {
                let is_c: Vec<bool> = y.iter().map(|&t| t == c).collect();
                let col: Vec<f32> = scores.chunks(4).map(|row| row[c]).collect();
                roc_auc(&is_c, &col).unwrap()
            })
            .collect();
        assert_close(report.roc_auc.unwrap(), per_class.iter().sum::<f64>() / 3.0);
        assert_eq!(
            report.top_k,
            vec![TopK {
                k: 3,
                accuracy: 1.0
            }]
        );
        assert_eq!(report.per_class.len(), 4);
    }

    #[test]
    fn report_round_trips_through_json() {
        let report = ClassificationReport::new(&Y_TRUE, &Y_PRED, None, 3).unwrap();
        let json = serde_json::to_string(&report).unwrap();
        let back: ClassificationReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
        assert!(json.contains("\"macro_avg\""));
    }
}
