//! The fields of `data`, `train` and `rules` blocks, and of one rule.

use super::*;

pub static DATA_FIELDS: Sig = sig(
    "data",
    0,
    &[&[
        p(
            "source",
            Ty::Ctor(&SOURCE),
            Default::Required,
            "Where the examples come from.",
        ),
        p(
            "test",
            Ty::Ctor(&SOURCE),
            Default::Optional,
            "A separate test set (then `split` is not used).",
        ),
        p(
            "split",
            Ty::Float {
                min: 0.0,
                max: 1.0,
                open_min: true,
            },
            Default::Float(0.8),
            "Fraction of examples for training; the rest is the test set (stratified). Below 1 unless a `test` source is given.",
        ),
        p(
            "validation",
            Ty::Float {
                min: 0.0,
                max: 0.9,
                open_min: false,
            },
            Default::Float(0.0),
            "Fraction of the training part held out for validation (stratified, seeded); 0: none.",
        ),
        p(
            "scale",
            Ty::Ctor(&SCALE),
            Default::Ctor("none"),
            "Feature scaling.",
        ),
        p(
            "shape",
            Ty::Shape,
            Default::Optional,
            "Per-example shape the features are reshaped to (e.g. `[1, 8, 8]`).",
        ),
        p(
            "classes",
            Ty::StrList,
            Default::Optional,
            "Class names, class 0 first; text labels are matched to them by name.",
        ),
        p(
            "features",
            Ty::StrList,
            Default::Optional,
            "Feature names, for rules.",
        ),
        p(
            "inputs",
            Ty::PerName(&Ty::Ctor(&INPUT_COLUMNS)),
            Default::Optional,
            "The feature columns of each network input, e.g. `(image: columns(0, 64), meta: columns(64, 68))`.",
        ),
        p(
            "targets",
            Ty::PerName(&NONNEG_INT),
            Default::Optional,
            "The target column each network output learns, e.g. `(digit: 0, parity: 1)`.",
        ),
    ]],
    "A data set and how to prepare it.",
);

pub static DISTILL_FIELDS: Sig = sig(
    "distill",
    0,
    &[&[
        p(
            "temperature",
            POS_FLOAT,
            Default::Float(4.0),
            "Softmax temperature of the soft targets.",
        ),
        p(
            "weight",
            UNIT_CLOSED,
            Default::Float(0.9),
            "Weight of the soft-target loss; 1 - weight goes to the labels.",
        ),
    ]],
    "Distillation settings.",
);

pub static EARLY_STOPPING_FIELDS: Sig = sig(
    "early_stopping",
    0,
    &[&[
        p(
            "metric",
            Ty::Sym(MONITORED),
            Default::Sym("val_loss"),
            "The validation metric watched after every epoch.",
        ),
        p(
            "patience",
            POS_INT,
            Default::Int(5),
            "Epochs without improvement before training stops.",
        ),
        p(
            "min_delta",
            NONNEG_FLOAT,
            Default::Float(0.0),
            "Smallest change that counts as an improvement.",
        ),
    ]],
    "Early-stopping settings.",
);

pub static TRAIN_FIELDS: Sig = sig(
    "train",
    0,
    &[&[
        p(
            "network",
            Ty::ItemRef("network"),
            Default::Required,
            "The network to train.",
        ),
        p(
            "data",
            Ty::ItemRef("data"),
            Default::Required,
            "The data set.",
        ),
        p(
            "loss",
            Ty::OneOrPerName(&Ty::Ctor(&LOSS)),
            Default::Ctor("cross_entropy"),
            "The loss, or one per output: `(digit: cross_entropy, parity: cross_entropy)`.",
        ),
        p(
            "loss_weights",
            Ty::PerName(&NONNEG_FLOAT),
            Default::Optional,
            "Weight of each output's loss in the total (default 1 each).",
        ),
        p(
            "optimizer",
            Ty::Ctor(&OPTIMIZER),
            Default::Ctor("sgd"),
            "The optimizer.",
        ),
        p(
            "schedule",
            Ty::Ctor(&SCHEDULE),
            Default::Ctor("constant"),
            "The learning-rate schedule.",
        ),
        p(
            "warmup",
            NONNEG_INT,
            Default::Int(0),
            "Epochs of linear learning-rate warmup before the schedule.",
        ),
        p("batch", POS_INT, Default::Int(32), "Examples per step."),
        p(
            "epochs",
            POS_INT,
            Default::Int(10),
            "Passes over the training split.",
        ),
        p(
            "seed",
            NONNEG_INT,
            Default::Int(0),
            "Seeds init, shuffling, dropout and sampling.",
        ),
        p(
            "init",
            Ty::Ctor(&INIT),
            Default::Optional,
            "Default init scheme of every layer that names none (e.g. `lsuv(tol: 0.1)`).",
        ),
        p(
            "sampler",
            Ty::Ctor(&SAMPLER),
            Default::Ctor("uniform"),
            "How batches are drawn.",
        ),
        p(
            "metrics",
            Ty::SymList(METRICS),
            Default::List(&["accuracy", "macro_f1"]),
            "Metrics reported every epoch.",
        ),
        p(
            "rules",
            Ty::ItemRef("rules"),
            Default::Optional,
            "Logic rules distilled into the network.",
        ),
        p(
            "teacher",
            Ty::Teacher,
            Default::Optional,
            "A trained network whose soft predictions are distilled.",
        ),
        p(
            "distill",
            Ty::Record(&DISTILL_FIELDS),
            Default::Optional,
            "Distillation settings (with `teacher`).",
        ),
        p(
            "early_stopping",
            Ty::Record(&EARLY_STOPPING_FIELDS),
            Default::Optional,
            "Stop when a validation metric stops improving (needs the data block's `validation`).",
        ),
        p(
            "clip_norm",
            POS_FLOAT,
            Default::Optional,
            "Scale the gradients down so their global L2 norm is at most this.",
        ),
        p(
            "clip_value",
            POS_FLOAT,
            Default::Optional,
            "Clamp every gradient component to [-clip_value, clip_value].",
        ),
    ]],
    "How to train a network on a data set.",
);

pub static RULES_FIELDS: Sig = sig(
    "rules",
    0,
    &[&[
        p(
            "strength",
            NONNEG_FLOAT,
            Default::Float(6.0),
            "C: how strongly the teacher follows the rules.",
        ),
        p(
            "imitation",
            Ty::Formula,
            Default::Optional,
            "pi as an expression of `epoch`, e.g. `min(0.95, 1 - 0.9^epoch)`.",
        ),
    ]],
    "Soft first-order logic rules (Hu et al. 2016).",
);

pub static RULE_ARGS: Sig = sig(
    "rule",
    0,
    &[&[p(
        "weight",
        NONNEG_FLOAT,
        Default::Float(1.0),
        "lambda: the rule's weight.",
    )]],
    "One rule.",
);
