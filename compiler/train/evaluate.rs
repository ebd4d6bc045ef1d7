//! Evaluation: loss and predictions of the network (and the rules' teacher q) over a split,
//! in evaluation mode (running statistics, no dropout).

use super::engine::Reads;
use super::loss::{argmax, classify, host_cross_entropy, n_classes};
use super::{batch, rules, RunError, Trainer};
use crate::lower::Mode;

/// Loss and predictions of a whole split.
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    pub loss: f64,
    /// Argmax class per example (classification).
    pub predicted: Vec<u32>,
    pub labels: Vec<u32>,
    /// Softmax probabilities (or sigmoid for one logit), one row per example.
    pub scores: Vec<Vec<f32>>,
    pub n_classes: usize,
    /// The rules' teacher q on the same examples (with rules).
    pub q: Option<Box<Evaluation>>,
    /// For each rule `CONDITION => ...` whose condition reads only features: its name and
    /// whether the condition holds, per example.
    pub conditions: Vec<(String, Vec<bool>)>,
    /// With several outputs: each output's own evaluation, by name (the loss is then the
    /// weighted total, the predictions and labels the first output's).
    pub heads: Vec<(String, Evaluation)>,
}

impl Evaluation {
    pub fn accuracy(&self) -> f64 {
        if self.labels.is_empty() {
            return 0.0;
        }
        let right = self
            .labels
            .iter()
            .zip(&self.predicted)
            .filter(|(a, b)| a == b)
            .count();
        right as f64 / self.labels.len() as f64
    }
}

/// Which split to evaluate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Validation,
    Test,
}

impl Trainer {
    /// Loss and predictions over the test split (`test`) or the training split.
    pub fn evaluate(&mut self, test: bool) -> Result<Evaluation, RunError> {
        self.evaluate_split(if test { Split::Test } else { Split::Train })
    }

    /// Loss and predictions over a split (the validation split must exist).
    pub fn evaluate_split(&mut self, split: Split) -> Result<Evaluation, RunError> {
        let batch_size = self.batch();
        let width = self.width();
        let ds = match split {
            Split::Train => &self.data.train,
            Split::Test => &self.data.test,
            Split::Validation => self
                .data
                .validation
                .as_ref()
                .ok_or_else(|| RunError::internal("no validation split"))?,
        };
        let (loss, column) = match self.heads.first() {
            Some((h, _)) => (h.loss.clone(), h.column),
            None => (self.engine.decl().loss.clone(), 0),
        };
        let several = self.heads.len() > 1;
        let mut heads: Vec<(String, Evaluation)> = self
            .heads
            .iter()
            .filter(|_| several)
            .map(|(h, _)| {
                let e = Evaluation {
                    n_classes: n_classes(&h.loss, h.width),
                    ..Evaluation::default()
                };
                (h.output.clone(), e)
            })
            .collect();
        // Unlabelled training examples cannot be scored.
        let rows: Vec<usize> = (0..ds.n_samples()).filter(|&r| ds.is_labelled(r)).collect();
        let n = rows.len();
        let mut out = Evaluation {
            predicted: Vec::with_capacity(n),
            labels: Vec::with_capacity(n),
            scores: Vec::with_capacity(n),
            n_classes: n_classes(&loss, width),
            ..Evaluation::default()
        };
        let rules = self.engine.extras().rules.clone();
        let mut q = rules.as_ref().map(|_| Evaluation {
            n_classes: width,
            ..Evaluation::default()
        });
        let mut conditions: Vec<Vec<bool>> =
            vec![Vec::with_capacity(n); rules.as_ref().map_or(0, |r| r.rules.len())];
        let mut loss_sum = 0.0;
        // Batch sizes whose program has run in this evaluation (the last chunk may be short).
        let mut ran: Vec<usize> = Vec::new();
        for chunk in rows.chunks(batch_size) {
            out.labels.extend(batch::labels_of(ds, column, chunk).0);
            let mut inputs = batch::feeds(&self.feeds, ds, chunk);
            inputs.extend(batch::aims(&self.heads, ds, chunk));
            let raw = rules
                .as_ref()
                .map(|_| batch::raw_features(ds, &self.data.scaler, chunk));
            if let Some(raw) = &raw {
                inputs.push((rules::RAW_FEATURES, raw.clone()));
            }
            let reads = Reads {
                weights: [&self.state, &self.fixed],
                seed: self.engine.decl().seed,
                step: self.step,
                same_weights: ran.contains(&chunk.len()),
            };
            ran.push(chunk.len());
            let values = self
                .engine
                .run(Mode::Eval, chunk.len(), &inputs, &reads, false)?;
            if let (Some(q), Some(raw), Some(rules)) = (&mut q, &raw, &rules) {
                let q_values = values
                    .last()
                    .ok_or_else(|| RunError::internal("the evaluation program has no q"))?;
                for row in batch::rows(q_values, chunk.len(), width) {
                    q.predicted.push(argmax(row.iter().copied()) as u32);
                    q.scores.push(row);
                }
                let f = raw.shape()[1];
                for example in raw.iter().copied().collect::<Vec<f32>>().chunks(f) {
                    for (held, c) in conditions.iter_mut().zip(rules.conditions(example)) {
                        held.push(c.unwrap_or(false));
                    }
                }
            }
            loss_sum +=
                values[0].iter().next().copied().unwrap_or(f32::NAN) as f64 * chunk.len() as f64;
            // Each output's prediction and loss follow the first two values (no updates here).
            for (k, ((h, _), (_, e))) in self.heads.iter().zip(heads.iter_mut()).enumerate() {
                let (prediction, head_loss) = (&values[2 + 2 * k], &values[3 + 2 * k]);
                e.labels.extend(batch::labels_of(ds, h.column, chunk).0);
                e.loss += head_loss.iter().next().copied().unwrap_or(f32::NAN) as f64
                    * chunk.len() as f64;
                for row in batch::rows(prediction, chunk.len(), h.width) {
                    let (class, probs) = classify(&row, &h.loss);
                    e.predicted.push(class);
                    e.scores.push(probs);
                }
            }
            for row in batch::rows(&values[1], chunk.len(), width) {
                let (class, probs) = classify(&row, &loss);
                out.predicted.push(class);
                out.scores.push(probs);
            }
        }
        out.loss = loss_sum / n.max(1) as f64;
        for (_, e) in &mut heads {
            e.loss /= n.max(1) as f64;
        }
        out.heads = heads;
        if let (Some(mut q), Some(rules)) = (q, &rules) {
            q.labels = out.labels.clone();
            q.loss = host_cross_entropy(&q.scores, &q.labels);
            out.q = Some(Box::new(q));
            out.conditions = rules
                .rules
                .iter()
                .zip(conditions)
                .zip(rules.conditions(&vec![0.0; rules.n_features]))
                .filter(|(_, has)| has.is_some())
                .map(|((rule, held), _)| (rule.name.clone(), held))
                .collect();
        }
        Ok(out)
    }
}
