//! What the validation split decides after every epoch: whether the model improved (the
//! best model is kept), whether training stops early, and `reduce_on_plateau`'s step.
//! The test split never enters here.

use crate::hir::settings::{EarlyStopping, Monitor};

/// The watched metric's best value so far and the epochs since (Keras' `EarlyStopping`
/// with `restore_best_weights` kept as a separate file: an improvement is a change
/// beyond `min_delta` in the metric's good direction).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tracker {
    pub metric: Monitor,
    pub min_delta: f64,
    /// Stop after this many epochs without improvement (without early stopping: never).
    pub patience: Option<u64>,
    pub best: f64,
    /// The epoch (1-based) of the best value; 0 before the first.
    pub best_epoch: u64,
    /// Epochs since the best.
    pub wait: u64,
}

/// What one epoch's validation metric decided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    /// A new best: the caller keeps this model.
    pub improved: bool,
    /// No improvement for `patience` epochs: stop.
    pub stop: bool,
}

impl Tracker {
    /// Watches `early`'s metric, or the validation loss (for the best model only).
    pub fn new(early: Option<&EarlyStopping>) -> Tracker {
        let (metric, min_delta, patience) = match early {
            Some(e) => (e.metric, e.min_delta, Some(e.patience)),
            None => (Monitor::ValLoss, 0.0, None),
        };
        Tracker {
            metric,
            min_delta,
            patience,
            best: if metric.maximize() {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            },
            best_epoch: 0,
            wait: 0,
        }
    }

    /// Records epoch `epoch` (1-based) whose metric is `value`.
    pub fn observe(&mut self, epoch: u64, value: f64) -> Verdict {
        let improved = if self.metric.maximize() {
            value > self.best + self.min_delta
        } else {
            value < self.best - self.min_delta
        };
        if improved {
            self.best = value;
            self.best_epoch = epoch;
            self.wait = 0;
        } else {
            self.wait += 1;
        }
        Verdict {
            improved,
            stop: self.should_stop(),
        }
    }

    /// Whether training is over: `patience` epochs without improvement.
    pub fn should_stop(&self) -> bool {
        self.patience.is_some_and(|p| self.wait >= p)
    }

    /// Its state in a checkpoint's metadata: `best best_epoch wait`.
    pub fn to_text(&self) -> String {
        format!("{} {} {}", self.best, self.best_epoch, self.wait)
    }

    /// Restores [`Tracker::to_text`] into a tracker with the current settings.
    pub fn restore(&mut self, text: &str) -> Option<()> {
        let parts: Vec<&str> = text.split(' ').collect();
        let [best, best_epoch, wait] = parts.as_slice() else {
            return None;
        };
        self.best = best.parse().ok()?;
        self.best_epoch = best_epoch.parse().ok()?;
        self.wait = wait.parse().ok()?;
        Some(())
    }
}

/// The value of `metric` in a validation evaluation.
pub fn value_of(metric: Monitor, val: &super::Evaluation) -> f64 {
    match metric {
        Monitor::ValLoss => val.loss,
        Monitor::ValAccuracy => val.accuracy(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        let early = EarlyStopping {
            metric: Monitor::ValLoss,
            patience: 2,
            min_delta: 0.05,
        };
        let mut t = Tracker::new(Some(&early));
        let verdicts: Vec<(bool, bool)> = [1.0, 0.9, 0.87, 0.8, 0.9, 0.95]
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let v = t.observe(i as u64 + 1, v);
                (v.improved, v.stop)
            })
            .collect();
        // 0.87 is within min_delta of 0.9: not an improvement; 0.8 is (0.8 < 0.9 - 0.05).
        assert_eq!(
            verdicts,
            [
                (true, false),
                (true, false),
                (false, false),
                (true, false),
                (false, false),
                (false, true)
            ]
        );
        assert_eq!((t.best, t.best_epoch), (0.8, 4));
        let mut back = Tracker::new(Some(&early));
        back.restore(&t.to_text()).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn accuracy_improves_upwards_and_no_patience_never_stops() {
        let mut t = Tracker::new(None);
        assert_eq!(t.metric, Monitor::ValLoss);
        for epoch in 1..50 {
            assert!(!t.observe(epoch, 1.0).stop);
        }
        let early = EarlyStopping {
            metric: Monitor::ValAccuracy,
            patience: 1,
            min_delta: 0.0,
        };
        let mut t = Tracker::new(Some(&early));
        assert!(t.observe(1, 0.5).improved);
        assert!(t.observe(2, 0.6).improved);
        assert!(t.observe(3, 0.4).stop);
    }
}
