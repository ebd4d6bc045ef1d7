//! Plain-text rendering of a [`ClassificationReport`] for the CLI's final table.
//! Fixed 4-decimal numbers and no colour, so CLI snapshots stay stable.

use super::ClassificationReport;
use std::fmt::Write;

/// Above this many classes the confusion matrix is left out of the text table: it no
/// longer fits a terminal, and a heat-map shows it better.
pub const MAX_CONFUSION_CLASSES: usize = 20;

pub(super) fn render(report: &ClassificationReport, class_names: Option<&[&str]>) -> String {
    let names: Vec<String> = (0..report.n_classes)
        .map(
            |class| match class_names.and_then(|names| names.get(class)) {
                Some(name) => (*name).to_string(),
                None => class.to_string(),
            },
        )
        .collect();
    let label_width = names
        .iter()
        .map(|name| name.chars().count())
        .chain(["weighted avg".len()])
        .max()
        .unwrap_or(0);

    let mut out = String::new();
    // `write!` into a String cannot fail, so its results are ignored throughout.
    let _ = writeln!(
        out,
        "{:<label_width$}  {:>9}  {:>9}  {:>9}  {:>9}",
        "class", "precision", "recall", "f1", "support"
    );
    for (name, m) in names.iter().zip(&report.per_class) {
        let _ = writeln!(
            out,
            "{name:<label_width$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>9}",
            m.precision, m.recall, m.f1, m.support
        );
    }
    out.push('\n');
    let n = report.n_samples;
    for (label, avg) in [
        ("macro avg", &report.macro_avg),
        ("weighted avg", &report.weighted_avg),
    ] {
        let _ = writeln!(
            out,
            "{label:<label_width$}  {:>9.4}  {:>9.4}  {:>9.4}  {n:>9}",
            avg.precision, avg.recall, avg.f1
        );
    }
    let _ = writeln!(
        out,
        "{:<label_width$}  {:>9}  {:>9}  {:>9.4}  {n:>9}",
        "accuracy", "", "", report.accuracy
    );

    let scope = if report.n_classes == 2 {
        "binary, class 1 positive".to_string()
    } else {
        "macro one-vs-rest".to_string()
    };
    let score_lines = [
        ("roc-auc", report.roc_auc, &report.roc_auc_skipped),
        (
            "average precision",
            report.average_precision,
            &report.average_precision_skipped,
        ),
    ];
    let mut wrote_score_line = false;
    for (label, value, skipped) in score_lines {
        let Some(value) = value else { continue };
        if !wrote_score_line {
            out.push('\n');
            wrote_score_line = true;
        }
        let _ = write!(out, "{label} ({scope}): {value:.4}");
        if !skipped.is_empty() && report.n_classes > 2 {
            let skipped: Vec<&str> = skipped.iter().map(|&c| names[c].as_str()).collect();
            let _ = write!(out, " (skipped {})", skipped.join(", "));
        }
        out.push('\n');
    }
    for top in &report.top_k {
        let _ = writeln!(out, "top-{} accuracy: {:.4}", top.k, top.accuracy);
    }

    if report.n_classes <= MAX_CONFUSION_CLASSES {
        render_confusion(&mut out, report, &names);
    }
    out
}

fn render_confusion(out: &mut String, report: &ClassificationReport, names: &[String]) {
    let corner = "true \\ pred";
    let row_label_width = names
        .iter()
        .map(|name| name.chars().count())
        .chain([corner.len()])
        .max()
        .unwrap_or(0);
    let count_width = report
        .confusion
        .iter()
        .flatten()
        .map(|count| count.to_string().len())
        .chain(names.iter().map(|name| name.chars().count()))
        .max()
        .unwrap_or(1);
    let _ = write!(
        out,
        "\nconfusion matrix (rows = true, columns = predicted)\n{corner:<row_label_width$}"
    );
    for name in names {
        let _ = write!(out, "  {name:>count_width$}");
    }
    out.push('\n');
    for (name, row) in names.iter().zip(&report.confusion) {
        let _ = write!(out, "{name:<row_label_width$}");
        for count in row {
            let _ = write!(out, "  {count:>count_width$}");
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::super::ClassificationReport;

    #[test]
    fn renders_papers_vector() {
        let report = ClassificationReport::new(
            &[0, 0, 0, 0, 1, 1, 2, 2, 2, 2],
            &[0, 0, 1, 2, 1, 1, 2, 2, 0, 1],
            None,
            3,
        )
        .unwrap();
        let expected = "\
class         precision     recall         f1    support
cat              0.6667     0.5000     0.5714          4
dog              0.5000     1.0000     0.6667          2
bird             0.6667     0.5000     0.5714          4

macro avg        0.6111     0.6667     0.6032         10
weighted avg     0.6333     0.6000     0.5905         10
accuracy                               0.6000         10

confusion matrix (rows = true, columns = predicted)
true \\ pred   cat   dog  bird
cat             2     1     1
dog             0     2     0
bird            1     1     2
";
        assert_eq!(report.render_table(Some(&["cat", "dog", "bird"])), expected);
    }

    #[test]
    fn renders_score_metrics_and_default_names() {
        let scores = [0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.3, 0.7];
        let report =
            ClassificationReport::new(&[0, 1, 1, 0], &[0, 1, 0, 1], Some(&scores), 2).unwrap();
        let table = report.to_string();
        assert!(
            table.contains("roc-auc (binary, class 1 positive): 0.7500"),
            "{table}"
        );
        assert!(
            table.contains("average precision (binary, class 1 positive): 0.8333"),
            "{table}"
        );
        assert!(table.starts_with("class         precision"), "{table}");
        assert!(
            table.contains("true \\ pred  0  1\n0            1  1\n"),
            "{table}"
        );
    }
}
