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
