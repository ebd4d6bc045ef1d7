//! Learning-rate schedules, evaluated per optimizer step. [`Shape`] is the one form of a
//! schedule: the spec's `schedule:` setting is parsed straight into it.

use crate::metrics::Monitor;

/// The shape of the schedule after warmup.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Constant,
    /// lr · gamma^floor(epoch / every)
    Step {
        every: u64,
        gamma: f64,
    },
    /// Cosine annealing from lr to `min_lr` over the steps after warmup.
    Cosine {
        min_lr: f64,
    },
    /// PyTorch's `OneCycleLR` with its defaults `anneal_strategy='cos'`,
    /// `three_phase=False`: from `lr / div_factor` up to `lr` over the first
    /// `pct_start · total_steps - 1` steps, then down to `lr / div_factor /
    /// final_div_factor` at the last step, both halves cosine.
    OneCycle {
        pct_start: f64,
        div_factor: f64,
        final_div_factor: f64,
    },
    /// PyTorch's `ReduceLROnPlateau`: the learning rate changes only between epochs, by
    /// [`Schedule::end_epoch`].
    Plateau(Plateau),
}

impl Shape {
    /// Whether the learning rate of a step depends on the number of epochs planned (a
    /// resumed run with other `epochs` follows another curve from there on).
    pub fn depends_on_epochs(&self) -> bool {
        match self {
            Shape::Cosine { .. } | Shape::OneCycle { .. } => true,
            Shape::Constant | Shape::Step { .. } | Shape::Plateau(_) => false,
        }
    }

    /// The validation metric the schedule reads, if any.
    pub fn monitor(&self) -> Option<Monitor> {
        match self {
            Shape::Plateau(p) => Some(p.metric),
            Shape::Constant
            | Shape::Step { .. }
            | Shape::Cosine { .. }
            | Shape::OneCycle { .. } => None,
        }
    }
}

/// `ReduceLROnPlateau` with `threshold_mode='rel'` and `eps=1e-8` (its state is
/// [`Schedule::plateau`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plateau {
    /// The watched validation metric (its direction is PyTorch's `mode`).
    pub metric: Monitor,
    pub factor: f64,
    pub patience: u64,
    pub threshold: f64,
    pub cooldown: u64,
    pub min_lr: f64,
}

/// What `ReduceLROnPlateau` remembers between epochs (a checkpoint stores it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlateauState {
    /// The learning rate now.
    pub lr: f64,
    /// The best metric so far (+inf, or -inf when maximizing, before the first epoch).
    pub best: f64,
    pub bad_epochs: u64,
    pub cooldown_left: u64,
}

impl PlateauState {
    /// The state before the first epoch.
    pub fn new(lr: f64, maximize: bool) -> PlateauState {
        PlateauState {
            lr,
            best: if maximize {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            },
            bad_epochs: 0,
            cooldown_left: 0,
        }
    }

    /// Its text in a checkpoint: four numbers (Rust's shortest round-trip form).
    pub fn to_text(&self) -> String {
        format!(
            "{} {} {} {}",
            self.lr, self.best, self.bad_epochs, self.cooldown_left
        )
    }

    /// Reads [`PlateauState::to_text`].
    pub fn from_text(text: &str) -> Option<PlateauState> {
        let parts: Vec<&str> = text.split(' ').collect();
        match parts.as_slice() {
            [lr, best, bad, cooldown] => Some(PlateauState {
                lr: lr.parse().ok()?,
                best: best.parse().ok()?,
                bad_epochs: bad.parse().ok()?,
                cooldown_left: cooldown.parse().ok()?,
            }),
            _ => None,
        }
    }
}

impl Plateau {
    /// PyTorch's `step(metric)`: returns the new learning rate when it was reduced.
    pub fn step(&self, s: &mut PlateauState, metric: f64) -> Option<f64> {
        let better = if self.metric.maximize() {
            metric > s.best * (1.0 + self.threshold)
        } else {
            metric < s.best * (1.0 - self.threshold)
        };
        if better {
            s.best = metric;
            s.bad_epochs = 0;
        } else {
            s.bad_epochs += 1;
        }
        if s.cooldown_left > 0 {
            s.cooldown_left -= 1;
            s.bad_epochs = 0;
        }
        if s.bad_epochs > self.patience {
            s.cooldown_left = self.cooldown;
            s.bad_epochs = 0;
            let new = (s.lr * self.factor).max(self.min_lr);
            if s.lr - new > 1e-8 {
                s.lr = new;
                return Some(new);
            }
        }
        None
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    pub base_lr: f64,
    pub shape: Shape,
    /// Steps of linear warmup (from base_lr / warmup up to base_lr).
    pub warmup_steps: u64,
    pub steps_per_epoch: u64,
    pub total_steps: u64,
    /// `ReduceLROnPlateau`'s state, present exactly when the shape is [`Shape::Plateau`].
    pub plateau: Option<PlateauState>,
}

impl Schedule {
    pub fn new(
        base_lr: f64,
        shape: Shape,
        warmup_steps: u64,
        steps_per_epoch: u64,
        total_steps: u64,
    ) -> Schedule {
        Schedule {
            base_lr,
            shape,
            warmup_steps,
            steps_per_epoch,
            total_steps,
            plateau: shape
                .monitor()
                .map(|m| PlateauState::new(base_lr, m.maximize())),
        }
    }

    /// The learning rate of optimizer step `step` (0-based).
    pub fn lr(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return self.base_lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        match self.shape {
            Shape::Constant => self.base_lr,
            Shape::Step { every, gamma } => {
                let epoch = step / self.steps_per_epoch.max(1);
                self.base_lr * gamma.powi((epoch / every.max(1)) as i32)
            }
            Shape::Cosine { min_lr } => {
                let span = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
                let t = (step - self.warmup_steps) as f64 / span;
                min_lr
                    + (self.base_lr - min_lr)
                        * 0.5
                        * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
            }
            Shape::OneCycle {
                pct_start,
                div_factor,
                final_div_factor,
            } => {
                let initial = self.base_lr / div_factor;
                let last = initial / final_div_factor;
                let up_end = pct_start * self.total_steps as f64 - 1.0;
                let down_end = self.total_steps as f64 - 1.0;
                let t = step as f64;
                let (start, end, from, to) = if t <= up_end {
                    (0.0, up_end, initial, self.base_lr)
                } else {
                    (up_end, down_end, self.base_lr, last)
                };
                let pct = ((t - start) / (end - start)).min(1.0);
                to + (from - to) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0)
            }
            Shape::Plateau(_) => self.plateau.map_or(self.base_lr, |s| s.lr),
        }
    }

    /// Called after every epoch with the watched metric: `ReduceLROnPlateau` steps (and
    /// returns its new learning rate when it reduced it); other shapes ignore it.
    pub fn end_epoch(&mut self, metric: f64) -> Option<f64> {
        match (&self.shape, &mut self.plateau) {
            (Shape::Plateau(p), Some(state)) => p.step(state, metric),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(shape: Shape, warmup_steps: u64) -> Schedule {
        Schedule::new(0.1, shape, warmup_steps, 10, 100)
    }

    #[test]
    fn constant_step_and_warmup() {
        let s = sched(Shape::Constant, 0);
        assert_eq!(s.lr(0), 0.1);
        assert_eq!(s.lr(99), 0.1);
        let s = sched(
            Shape::Step {
                every: 3,
                gamma: 0.5,
            },
            0,
        );
        assert_eq!(s.lr(29), 0.1);
        assert_eq!(s.lr(30), 0.05);
        assert_eq!(s.lr(60), 0.025);
        let s = sched(Shape::Constant, 4);
        assert_eq!(s.lr(0), 0.025);
        assert_eq!(s.lr(3), 0.1);
        assert_eq!(s.lr(4), 0.1);
    }

    /// PyTorch 2.x `OneCycleLR(opt, max_lr=0.1, total_steps=100)` (pct_start 0.3,
    /// div_factor 25, final_div_factor 1e4), by hand from its `_anneal_func`: the first
    /// phase ends at step 29 = 0.3 · 100 - 1, the second at step 99.
    #[test]
    fn one_cycle_matches_pytorch_by_hand() {
        let s = sched(
            Shape::OneCycle {
                pct_start: 0.3,
                div_factor: 25.0,
                final_div_factor: 1e4,
            },
            0,
        );
        let cos = |start: f64, end: f64, pct: f64| {
            end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0)
        };
        let initial = 0.1 / 25.0;
        let last = initial / 1e4;
        assert!((s.lr(0) - initial).abs() < 1e-15);
        assert!((s.lr(29) - 0.1).abs() < 1e-15);
        assert!((s.lr(10) - cos(initial, 0.1, 10.0 / 29.0)).abs() < 1e-15);
        assert!((s.lr(64) - cos(0.1, last, 35.0 / 70.0)).abs() < 1e-15);
        assert!((s.lr(99) - last).abs() < 1e-15);
        // Halfway down is the mean of the two ends.
        assert!((s.lr(64) - (0.1 + last) / 2.0).abs() < 1e-12);
    }

    /// PyTorch `ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1, min_lr=0.03)`
    /// on the losses 1.0, 0.9, five times 0.95, then 0.8, by hand: a reduction after the second bad
    /// epoch in a row (bad > patience), then one cooldown epoch that counts nothing.
    #[test]
    fn plateau_matches_pytorch_by_hand() {
        let p = Plateau {
            metric: Monitor::ValLoss,
            factor: 0.5,
            patience: 1,
            threshold: 1e-4,
            cooldown: 1,
            min_lr: 0.03,
        };
        let mut s = sched(Shape::Plateau(p), 0);
        let lrs: Vec<f64> = [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.8]
            .into_iter()
            .map(|m| {
                s.end_epoch(m);
                s.lr(0)
            })
            .collect();
        // epochs: best, best, bad 1, bad 2 -> 0.05 (cooldown 1), cooldown (bad reset),
        // bad 1, bad 2 -> max(0.025, min_lr 0.03) = 0.03, then a new best.
        assert_eq!(lrs, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.03, 0.03]);
        let state = s.plateau.unwrap();
        assert_eq!(PlateauState::from_text(&state.to_text()), Some(state));
        assert_eq!(state.best, 0.8);
    }

    #[test]
    fn cosine_goes_from_base_to_min() {
        let s = sched(Shape::Cosine { min_lr: 0.0 }, 0);
        assert_eq!(s.lr(0), 0.1);
        assert!((s.lr(50) - 0.05).abs() < 1e-12);
        assert!(s.lr(99) < 0.001);
        let s = sched(Shape::Cosine { min_lr: 0.01 }, 10);
        assert!((s.lr(10) - 0.1).abs() < 1e-12);
        assert!((s.lr(100) - 0.01).abs() < 1e-12);
    }
}
