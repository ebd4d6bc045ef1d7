//! An evaluation as the commands report it: metrics from the trainer's predictions, their
//! JSON form, the per-class table and the rules' lines.

use nnc::train::Evaluation;
use nnc_runtime::metrics::ClassificationReport;
use serde_json::{json, Value};

/// Metrics of one evaluation, from the trainer's predictions.
pub fn report_of(eval: &Evaluation) -> Option<ClassificationReport> {
    if eval.labels.is_empty() {
        return None;
    }
    let y_true: Vec<usize> = eval.labels.iter().map(|&l| l as usize).collect();
    let y_pred: Vec<usize> = eval.predicted.iter().map(|&l| l as usize).collect();
    let scores: Vec<f32> = eval.scores.iter().flatten().copied().collect();
    ClassificationReport::new(&y_true, &y_pred, Some(&scores), eval.n_classes).ok()
}

pub fn split_json(eval: &Evaluation, report: Option<&ClassificationReport>, full: bool) -> Value {
    let mut v = json!({"loss": eval.loss, "accuracy": eval.accuracy()});
    if let Some(r) = report {
        v["macro_f1"] = json!(r.macro_avg.f1);
        if let Some(auc) = r.roc_auc {
            v["roc_auc"] = json!(auc);
        }
        if full {
            v["per_class"] = json!(r.per_class);
            v["confusion"] = json!(r.confusion);
            v["weighted_f1"] = json!(r.weighted_avg.f1);
            if let Some(ap) = r.average_precision {
                v["pr_auc"] = json!(ap);
            }
        }
    }
    if let Some(q) = &eval.q {
        v["q"] = split_json(q, report_of(q).as_ref(), full);
    }
    if !eval.heads.is_empty() {
        let outputs: serde_json::Map<String, Value> = eval
            .heads
            .iter()
            .map(|(name, e)| (name.clone(), split_json(e, report_of(e).as_ref(), full)))
            .collect();
        v["outputs"] = Value::Object(outputs);
    }
    if !eval.conditions.is_empty() {
        let rules: serde_json::Map<String, Value> = rule_subsets(eval)
            .into_iter()
            .map(|s| {
                let v = json!({"examples": s.examples, "accuracy": s.accuracy, "q_accuracy": s.q_accuracy});
                (s.rule, v)
            })
            .collect();
        v["rules"] = Value::Object(rules);
    }
    v
}

/// Accuracy of the student p and the rules' teacher q on the examples where a rule's
/// condition holds (the "but" sentences of the A-but-B rule).
struct RuleSubset {
    rule: String,
    examples: usize,
    accuracy: f64,
    q_accuracy: f64,
}

fn rule_subsets(eval: &Evaluation) -> Vec<RuleSubset> {
    let accuracy = |predicted: &[u32], held: &[bool]| {
        let (mut right, mut n) = (0usize, 0usize);
        for ((p, l), h) in predicted.iter().zip(&eval.labels).zip(held) {
            if *h {
                n += 1;
                right += usize::from(p == l);
            }
        }
        (n, right as f64 / n.max(1) as f64)
    };
    eval.conditions
        .iter()
        .map(|(rule, held)| {
            let (examples, acc) = accuracy(&eval.predicted, held);
            let q_acc = eval
                .q
                .as_ref()
                .map_or(f64::NAN, |q| accuracy(&q.predicted, held).1);
            RuleSubset {
                rule: rule.clone(),
                examples,
                accuracy: acc,
                q_accuracy: q_acc,
            }
        })
        .collect()
}

/// The rules' lines of the final report: the teacher q's accuracy, and both models on the
/// examples each rule speaks about.
pub fn rules_report(eval: &Evaluation) -> String {
    let mut out = String::new();
    if let Some(q) = &eval.q {
        out.push_str(&format!(
            "rules teacher q: test accuracy {:.4} (student p {:.4})\n",
            q.accuracy(),
            eval.accuracy()
        ));
    }
    for s in rule_subsets(eval) {
        out.push_str(&format!(
            "rule {}: its condition holds for {} test examples; accuracy there: student p {:.4}, teacher q {:.4}\n",
            s.rule, s.examples, s.accuracy, s.q_accuracy
        ));
    }
    out
}

/// With several outputs: each one's accuracy and loss, as `name acc A loss L` items.
pub fn heads_line(eval: &Evaluation) -> String {
    eval.heads
        .iter()
        .map(|(name, e)| format!("  {name} acc {:.4} loss {:.4}", e.accuracy(), e.loss))
        .collect()
}

/// The final report's tables: the per-class table of the one output (with `class_names`),
/// or one table per output (classes by number), each headed by its name and accuracy.
pub fn tables(eval: &Evaluation, class_names: Option<&[String]>) -> String {
    if eval.heads.is_empty() {
        return report_of(eval).map_or(String::new(), |r| class_table(&r, class_names));
    }
    let mut out = String::new();
    for (name, e) in &eval.heads {
        out.push_str(&format!(
            "output {name}: accuracy {:.4}, loss {:.4}\n",
            e.accuracy(),
            e.loss
        ));
        if let Some(r) = report_of(e) {
            out.push_str(&class_table(&r, None));
        }
    }
    out
}

/// The per-class table of `report`, with the data's class names when it has them.
pub fn class_table(report: &ClassificationReport, class_names: Option<&[String]>) -> String {
    let names = class_names.map(|n| n.iter().map(String::as_str).collect::<Vec<_>>());
    report.render_table(names.as_deref())
}
