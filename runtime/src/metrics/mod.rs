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

mod monitor;
mod ranking;
mod table;

pub use monitor::Monitor;
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
mod tests;
