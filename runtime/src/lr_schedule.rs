//! Learning-rate schedules, evaluated per optimizer step.

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
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    pub base_lr: f64,
    pub shape: Shape,
    /// Steps of linear warmup (from base_lr / warmup up to base_lr).
    pub warmup_steps: u64,
    pub steps_per_epoch: u64,
    pub total_steps: u64,
}

impl Schedule {
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(shape: Shape, warmup_steps: u64) -> Schedule {
        Schedule {
            base_lr: 0.1,
            shape,
            warmup_steps,
            steps_per_epoch: 10,
            total_steps: 100,
        }
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
