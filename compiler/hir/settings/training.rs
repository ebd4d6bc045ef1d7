//! Optimizers, losses, learning-rate schedules, samplers and distillation.

use super::{call, Arg, Args, Built};
use crate::hir::value::{Ctor, Value};
pub use nnc_runtime::lr_schedule::{Plateau, Shape};
pub use nnc_runtime::metrics::Monitor;
use std::fmt;

/// An optimizer with every number of its schema row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    Sgd {
        lr: f64,
        momentum: f64,
        nesterov: bool,
        weight_decay: f64,
    },
    Adam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        /// L2 penalty added to the gradient.
        weight_decay: f64,
    },
    AdamW {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        /// Decoupled: `w -= lr * weight_decay * w` before the Adam step.
        weight_decay: f64,
    },
    /// PyTorch's RMSprop (Hinton's lecture 6e; centered: Graves 2013).
    RmsProp {
        lr: f64,
        alpha: f64,
        eps: f64,
        momentum: f64,
        centered: bool,
        weight_decay: f64,
    },
}

impl Optimizer {
    pub fn from_ctor(c: &Ctor) -> Built<Optimizer> {
        let a = Args(c);
        Ok(match c.name.as_str() {
            "sgd" => Optimizer::Sgd {
                lr: a.f64("lr")?,
                momentum: a.f64("momentum")?,
                nesterov: a.bool("nesterov")?,
                weight_decay: a.f64("weight_decay")?,
            },
            "adam" => Optimizer::Adam {
                lr: a.f64("lr")?,
                beta1: a.f64("beta1")?,
                beta2: a.f64("beta2")?,
                eps: a.f64("eps")?,
                weight_decay: a.f64("weight_decay")?,
            },
            "adamw" => Optimizer::AdamW {
                lr: a.f64("lr")?,
                beta1: a.f64("beta1")?,
                beta2: a.f64("beta2")?,
                eps: a.f64("eps")?,
                weight_decay: a.f64("weight_decay")?,
            },
            "rmsprop" => Optimizer::RmsProp {
                lr: a.f64("lr")?,
                alpha: a.f64("alpha")?,
                eps: a.f64("eps")?,
                momentum: a.f64("momentum")?,
                centered: a.bool("centered")?,
                weight_decay: a.f64("weight_decay")?,
            },
            _ => return a.unknown(),
        })
    }

    /// The base learning rate (the schedule scales it).
    pub fn lr(&self) -> f64 {
        match *self {
            Optimizer::Sgd { lr, .. }
            | Optimizer::Adam { lr, .. }
            | Optimizer::AdamW { lr, .. }
            | Optimizer::RmsProp { lr, .. } => lr,
        }
    }

    /// Adam's (beta1, beta2), whose bias corrections the host computes per step.
    pub fn adam_betas(&self) -> Option<(f64, f64)> {
        match *self {
            Optimizer::Adam { beta1, beta2, .. } | Optimizer::AdamW { beta1, beta2, .. } => {
                Some((beta1, beta2))
            }
            Optimizer::Sgd { .. } | Optimizer::RmsProp { .. } => None,
        }
    }
}

impl fmt::Display for Optimizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Arg::{Bool, Num};
        match *self {
            Optimizer::Sgd {
                lr,
                momentum,
                nesterov,
                weight_decay,
            } => call(
                f,
                "sgd",
                &[
                    ("lr", Num(lr)),
                    ("momentum", Num(momentum)),
                    ("nesterov", Bool(nesterov)),
                    ("weight_decay", Num(weight_decay)),
                ],
            ),
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
            }
            | Optimizer::AdamW {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                let name = if matches!(self, Optimizer::Adam { .. }) {
                    "adam"
                } else {
                    "adamw"
                };
                call(
                    f,
                    name,
                    &[
                        ("lr", Num(lr)),
                        ("beta1", Num(beta1)),
                        ("beta2", Num(beta2)),
                        ("eps", Num(eps)),
                        ("weight_decay", Num(weight_decay)),
                    ],
                )
            }
            Optimizer::RmsProp {
                lr,
                alpha,
                eps,
                momentum,
                centered,
                weight_decay,
            } => call(
                f,
                "rmsprop",
                &[
                    ("lr", Num(lr)),
                    ("alpha", Num(alpha)),
                    ("eps", Num(eps)),
                    ("momentum", Num(momentum)),
                    ("centered", Bool(centered)),
                    ("weight_decay", Num(weight_decay)),
                ],
            ),
        }
    }
}

/// The loss's class weights.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassWeights {
    /// `N / (C n_c)` from the training split's counts.
    Balanced,
    /// One weight per class, in class order.
    Given(Vec<f64>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Loss {
    /// Softmax cross-entropy against `(1 - label_smoothing) onehot + label_smoothing / K`.
    CrossEntropy {
        label_smoothing: f64,
        class_weights: Option<ClassWeights>,
    },
    Mse,
    BinaryCrossEntropy,
}

impl Loss {
    pub fn from_ctor(c: &Ctor) -> Built<Loss> {
        let a = Args(c);
        Ok(match c.name.as_str() {
            "cross_entropy" => Loss::CrossEntropy {
                label_smoothing: a.f64("label_smoothing")?,
                class_weights: match c.get("class_weights") {
                    None => None,
                    Some(Value::Sym(s)) if s == "balanced" => Some(ClassWeights::Balanced),
                    Some(_) => Some(ClassWeights::Given(a.floats("class_weights")?)),
                },
            },
            "mse" => Loss::Mse,
            "binary_cross_entropy" => Loss::BinaryCrossEntropy,
            _ => return a.unknown(),
        })
    }

    /// Whether targets are class labels (one-hot encoded for the graph).
    pub fn is_classification(&self) -> bool {
        match self {
            Loss::CrossEntropy { .. } | Loss::BinaryCrossEntropy => true,
            Loss::Mse => false,
        }
    }

    pub fn class_weights(&self) -> Option<&ClassWeights> {
        match self {
            Loss::CrossEntropy { class_weights, .. } => class_weights.as_ref(),
            Loss::Mse | Loss::BinaryCrossEntropy => None,
        }
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loss::CrossEntropy {
                label_smoothing,
                class_weights,
            } => {
                let mut args = vec![("label_smoothing", Arg::Num(*label_smoothing))];
                match class_weights {
                    None => {}
                    Some(ClassWeights::Balanced) => {
                        args.push(("class_weights", Arg::Sym("balanced")))
                    }
                    Some(ClassWeights::Given(w)) => args.push(("class_weights", Arg::Nums(w))),
                }
                call(f, "cross_entropy", &args)
            }
            Loss::Mse => call(f, "mse", &[]),
            Loss::BinaryCrossEntropy => call(f, "binary_cross_entropy", &[]),
        }
    }
}

/// The learning-rate schedule after warmup: the runtime's [`Shape`], which evaluates it (one
/// enum for the concept; this wrapper only parses and prints it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule(pub Shape);

impl Schedule {
    pub fn from_ctor(c: &Ctor) -> Built<Schedule> {
        let a = Args(c);
        Ok(Schedule(match c.name.as_str() {
            "constant" => Shape::Constant,
            "step" => Shape::Step {
                every: a.u64("every")?,
                gamma: a.f64("gamma")?,
            },
            "cosine" => Shape::Cosine {
                min_lr: a.f64("min_lr")?,
            },
            "one_cycle" => Shape::OneCycle {
                pct_start: a.f64("pct_start")?,
                div_factor: a.f64("div_factor")?,
                final_div_factor: a.f64("final_div_factor")?,
            },
            "reduce_on_plateau" => Shape::Plateau(Plateau {
                metric: Monitor::from_name(&a.str("metric")?).ok_or_else(|| a.unfit("metric"))?,
                factor: a.f64("factor")?,
                patience: a.u64("patience")?,
                threshold: a.f64("threshold")?,
                cooldown: a.u64("cooldown")?,
                min_lr: a.f64("min_lr")?,
            }),
            _ => return a.unknown(),
        }))
    }
}

/// Stop training when `metric` has not improved by more than `min_delta` for `patience`
/// epochs (Keras' and Lightning's `EarlyStopping`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EarlyStopping {
    pub metric: Monitor,
    pub patience: u64,
    pub min_delta: f64,
}

impl EarlyStopping {
    /// From the bound `early_stopping` record (defaults filled from the schema).
    pub fn from_record(fields: &[(String, Value)]) -> Built<EarlyStopping> {
        let c = Ctor {
            name: "early_stopping".into(),
            args: fields.to_vec(),
        };
        let a = Args(&c);
        Ok(EarlyStopping {
            metric: Monitor::from_name(&a.str("metric")?).ok_or_else(|| a.unfit("metric"))?,
            patience: a.u64("patience")?,
            min_delta: a.f64("min_delta")?,
        })
    }
}

impl fmt::Display for EarlyStopping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(metric: {}, patience: {}, min_delta: {})",
            self.metric.name(),
            self.patience,
            crate::hir::value::fmt_f64(self.min_delta)
        )
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Shape::Constant => call(f, "constant", &[]),
            Shape::Step { every, gamma } => call(
                f,
                "step",
                &[
                    ("every", Arg::Num(every as f64)),
                    ("gamma", Arg::Num(gamma)),
                ],
            ),
            Shape::Cosine { min_lr } => call(f, "cosine", &[("min_lr", Arg::Num(min_lr))]),
            Shape::OneCycle {
                pct_start,
                div_factor,
                final_div_factor,
            } => call(
                f,
                "one_cycle",
                &[
                    ("pct_start", Arg::Num(pct_start)),
                    ("div_factor", Arg::Num(div_factor)),
                    ("final_div_factor", Arg::Num(final_div_factor)),
                ],
            ),
            Shape::Plateau(Plateau {
                metric,
                factor,
                patience,
                threshold,
                cooldown,
                min_lr,
            }) => call(
                f,
                "reduce_on_plateau",
                &[
                    ("metric", Arg::Sym(metric.name())),
                    ("factor", Arg::Num(factor)),
                    ("patience", Arg::Num(patience as f64)),
                    ("threshold", Arg::Num(threshold)),
                    ("cooldown", Arg::Num(cooldown as f64)),
                    ("min_lr", Arg::Num(min_lr)),
                ],
            ),
        }
    }
}

/// How batches are drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Sampler {
    Uniform,
    Balanced,
    Weighted {
        weights: Vec<f64>,
    },
    Oversample,
    HardMining {
        fraction: f64,
    },
    /// Every class but the smallest replaced by `kmeans` centroids before training.
    Undersample {
        kmeans: u64,
    },
}

impl Sampler {
    pub fn from_ctor(c: &Ctor) -> Built<Sampler> {
        let a = Args(c);
        Ok(match c.name.as_str() {
            "uniform" => Sampler::Uniform,
            "balanced" => Sampler::Balanced,
            "weighted" => Sampler::Weighted {
                weights: a.floats("weights")?,
            },
            "oversample" => Sampler::Oversample,
            "hard_mining" => Sampler::HardMining {
                fraction: a.f64("fraction")?,
            },
            "undersample" => Sampler::Undersample {
                kmeans: a.u64("kmeans")?,
            },
            _ => return a.unknown(),
        })
    }

    /// The sampler's name in the spec.
    pub fn name(&self) -> &'static str {
        match self {
            Sampler::Uniform => "uniform",
            Sampler::Balanced => "balanced",
            Sampler::Weighted { .. } => "weighted",
            Sampler::Oversample => "oversample",
            Sampler::HardMining { .. } => "hard_mining",
            Sampler::Undersample { .. } => "undersample",
        }
    }

    /// Whether it changes the class frequencies the loss sees (as class weights do).
    pub fn rebalances(&self) -> bool {
        match self {
            Sampler::Balanced
            | Sampler::Weighted { .. }
            | Sampler::Oversample
            | Sampler::Undersample { .. } => true,
            Sampler::Uniform | Sampler::HardMining { .. } => false,
        }
    }
}

impl fmt::Display for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        match self {
            Sampler::Uniform | Sampler::Balanced | Sampler::Oversample => call(f, name, &[]),
            Sampler::Weighted { weights } => call(f, name, &[("weights", Arg::Nums(weights))]),
            Sampler::HardMining { fraction } => call(f, name, &[("fraction", Arg::Num(*fraction))]),
            Sampler::Undersample { kmeans } => {
                call(f, name, &[("kmeans", Arg::Num(*kmeans as f64))])
            }
        }
    }
}

/// Distillation settings (Hinton et al. 2015): the soft targets' temperature and weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Distill {
    pub temperature: f64,
    pub weight: f64,
}

impl Distill {
    /// From the bound `distill` record (defaults filled from the schema).
    pub fn from_record(fields: &[(String, Value)]) -> Built<Distill> {
        let c = Ctor {
            name: "distill".into(),
            args: fields.to_vec(),
        };
        let a = Args(&c);
        Ok(Distill {
            temperature: a.f64("temperature")?,
            weight: a.f64("weight")?,
        })
    }
}

/// A trained network whose soft predictions the student learns.
#[derive(Clone, Debug, PartialEq)]
pub struct Teacher {
    pub network: String,
    /// Relative to the current directory, like the `runs/` folder `nnc run` writes.
    pub checkpoint: String,
    /// The train block's `distill`, or the schema's defaults.
    pub distill: Distill,
}
