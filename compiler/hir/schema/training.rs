//! Optimizers, learning-rate schedules, losses and samplers.

use super::*;

// The options Adam and AdamW share (they differ in weight decay).
const ADAM_LR: Param = p("lr", POS_FLOAT, Default::Float(0.001), "Learning rate.");
const ADAM_BETA1: Param = p(
    "beta1",
    Ty::Float {
        min: 0.0,
        max: 0.999_999,
        open_min: false,
    },
    Default::Float(0.9),
    "First-moment decay.",
);
const ADAM_BETA2: Param = p(
    "beta2",
    Ty::Float {
        min: 0.0,
        max: 0.999_999_9,
        open_min: false,
    },
    Default::Float(0.999),
    "Second-moment decay.",
);
const ADAM_EPS: Param = p(
    "eps",
    POS_FLOAT,
    Default::Float(1e-8),
    "Added to the denominator.",
);

pub static OPTIMIZER: CtorSet = CtorSet {
    what: "an optimizer",
    unknown_code: crate::diagnostics::codes::ARG_TYPE,
    sigs: &[
        sig(
            "sgd",
            1,
            &[&[
                p("lr", POS_FLOAT, Default::Float(0.01), "Learning rate."),
                p(
                    "momentum",
                    Ty::Float {
                        min: 0.0,
                        max: 0.999_999,
                        open_min: false,
                    },
                    Default::Float(0.0),
                    "Heavy-ball momentum (PyTorch form: v = m v + g).",
                ),
                p(
                    "nesterov",
                    Ty::Bool,
                    Default::Bool(false),
                    "Nesterov momentum.",
                ),
                p(
                    "weight_decay",
                    NONNEG_FLOAT,
                    Default::Float(0.0),
                    "L2 penalty added to the gradient.",
                ),
            ]],
            "Stochastic gradient descent, with optional (Nesterov) momentum.",
        ),
        sig(
            "adam",
            1,
            &[&[
                ADAM_LR,
                ADAM_BETA1,
                ADAM_BETA2,
                ADAM_EPS,
                p(
                    "weight_decay",
                    NONNEG_FLOAT,
                    Default::Float(0.0),
                    "L2 penalty added to the gradient.",
                ),
            ]],
            "Kingma & Ba (2015).",
        ),
        sig(
            "adamw",
            1,
            &[&[
                ADAM_LR,
                ADAM_BETA1,
                ADAM_BETA2,
                ADAM_EPS,
                p(
                    "weight_decay",
                    NONNEG_FLOAT,
                    Default::Float(0.01),
                    "Decoupled weight decay (Loshchilov & Hutter 2019).",
                ),
            ]],
            "Adam with decoupled weight decay.",
        ),
        sig(
            "rmsprop",
            1,
            &[&[
                p("lr", POS_FLOAT, Default::Float(0.01), "Learning rate."),
                p(
                    "alpha",
                    Ty::Float {
                        min: 0.0,
                        max: 0.999_999,
                        open_min: false,
                    },
                    Default::Float(0.99),
                    "Decay of the running mean of squared gradients (rho).",
                ),
                p(
                    "eps",
                    POS_FLOAT,
                    Default::Float(1e-8),
                    "Added to the denominator.",
                ),
                p(
                    "momentum",
                    Ty::Float {
                        min: 0.0,
                        max: 0.999_999,
                        open_min: false,
                    },
                    Default::Float(0.0),
                    "Momentum of the scaled step (PyTorch form: b = m b + g / (sqrt(v) + eps)).",
                ),
                p(
                    "centered",
                    Ty::Bool,
                    Default::Bool(false),
                    "Divide by the gradient's estimated variance rather than its second moment.",
                ),
                p(
                    "weight_decay",
                    NONNEG_FLOAT,
                    Default::Float(0.0),
                    "L2 penalty added to the gradient.",
                ),
            ]],
            "RMSprop (Hinton's lecture 6e; centered: Graves 2013), as PyTorch defines it.",
        ),
    ],
};

pub static SCHEDULE: CtorSet = CtorSet {
    what: "a learning-rate schedule",
    unknown_code: crate::diagnostics::codes::ARG_TYPE,
    sigs: &[
        sig("constant", 0, &[], "The optimizer's lr throughout."),
        sig(
            "step",
            1,
            &[&[
                p(
                    "every",
                    POS_INT,
                    Default::Required,
                    "Epochs between decays.",
                ),
                p(
                    "gamma",
                    UNIT_OPEN,
                    Default::Float(0.1),
                    "Factor applied at each decay.",
                ),
            ]],
            "lr · gamma^floor(epoch / every).",
        ),
        sig(
            "cosine",
            0,
            &[&[p(
                "min_lr",
                NONNEG_FLOAT,
                Default::Float(0.0),
                "Final learning rate.",
            )]],
            "Cosine annealing from lr to min_lr over the run, per step.",
        ),
        sig(
            "one_cycle",
            0,
            &[&[
                p(
                    "pct_start",
                    UNIT_OPEN,
                    Default::Float(0.3),
                    "Share of the steps spent raising the learning rate.",
                ),
                p(
                    "div_factor",
                    POS_FLOAT,
                    Default::Float(25.0),
                    "The first learning rate is the optimizer's lr / div_factor.",
                ),
                p(
                    "final_div_factor",
                    POS_FLOAT,
                    Default::Float(10000.0),
                    "The last learning rate is the first / final_div_factor.",
                ),
            ]],
            "Smith's one-cycle policy as PyTorch's OneCycleLR (cosine annealing, per step): up to the optimizer's lr, then down.",
        ),
        sig(
            "reduce_on_plateau",
            0,
            &[&[
                p(
                    "metric",
                    Ty::Sym(MONITORED),
                    Default::Sym("val_loss"),
                    "The validation metric watched after every epoch.",
                ),
                p(
                    "factor",
                    UNIT_OPEN,
                    Default::Float(0.1),
                    "Factor applied to the learning rate at each reduction.",
                ),
                p(
                    "patience",
                    NONNEG_INT,
                    Default::Int(10),
                    "Epochs without improvement tolerated before a reduction.",
                ),
                p(
                    "threshold",
                    NONNEG_FLOAT,
                    Default::Float(1e-4),
                    "Relative improvement that counts (PyTorch's `threshold_mode: rel`).",
                ),
                p(
                    "cooldown",
                    NONNEG_INT,
                    Default::Int(0),
                    "Epochs after a reduction before bad epochs are counted again.",
                ),
                p(
                    "min_lr",
                    NONNEG_FLOAT,
                    Default::Float(0.0),
                    "The learning rate never goes below this.",
                ),
            ]],
            "PyTorch's ReduceLROnPlateau on a validation metric: the learning rate times factor after patience epochs without improvement.",
        ),
    ],
};

/// The validation metrics early stopping and `reduce_on_plateau` can watch.
pub const MONITORED: &[&str] = &["val_loss", "val_accuracy"];

pub static LOSS: CtorSet = CtorSet {
    what: "a loss",
    unknown_code: crate::diagnostics::codes::ARG_TYPE,
    sigs: &[
        sig(
            "cross_entropy",
            0,
            &[&[p(
                "label_smoothing",
                Ty::Float {
                    min: 0.0,
                    max: 0.999,
                    open_min: false,
                },
                Default::Float(0.0),
                "Mixes the one-hot target with the uniform distribution.",
            ), p(
                "class_weights",
                Ty::ClassWeights,
                Default::Optional,
                "Weights each example's loss by its class: `balanced` (N / (C n_c)) or one weight per class.",
            )]],
            "Softmax cross-entropy from logits (numerically stable).",
        ),
        sig(
            "mse",
            0,
            &[],
            "Mean squared error against real-valued targets.",
        ),
        sig(
            "binary_cross_entropy",
            0,
            &[],
            "Sigmoid cross-entropy from one logit per sample (labels 0 or 1).",
        ),
    ],
};

pub static SAMPLER: CtorSet = CtorSet {
    what: "a sampler",
    unknown_code: crate::diagnostics::codes::ARG_TYPE,
    sigs: &[
        sig("uniform", 0, &[], "Every example once per epoch, in a seeded random order."),
        sig("balanced", 0, &[], "Each class equally likely in every batch."),
        sig("weighted", 1, &[&[p("weights", Ty::FloatList, Default::Required, "One weight per class.")]],
            "Classes drawn with probability proportional to weight × count."),
        sig("oversample", 0, &[], "Minority classes repeated until every class has as many examples as the largest."),
        sig("hard_mining", 1, &[&[p("fraction", UNIT_CLOSED, Default::Float(0.5), "Share of each batch drawn from the highest-loss examples.")]],
            "That fraction of each batch comes from the examples with the highest loss at their last visit."),
        sig("undersample", 0, &[&[p("kmeans", POS_INT, Default::Required, "Centroids per majority class.")]],
            "Each majority class replaced by that many seeded k-means centroids before training."),
    ],
};
