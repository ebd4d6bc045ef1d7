//! Data sources, scalings and metrics.

use super::*;

pub static SOURCE: CtorSet = CtorSet {
    what: "a data source",
    unknown_code: crate::diagnostics::codes::ARG_TYPE,
    sigs: &[
        sig(
            "builtin",
            1,
            &[&[p(
                "name",
                Ty::Str,
                Default::Required,
                "`\"digits\"`: 1,797 8x8 handwritten digits (UCI), bundled with nnc.",
            )]],
            "A data set bundled with nnc.",
        ),
        Sig {
            open: true,
            ..sig(
                "synthetic",
                1,
                &[&[p(
                    "name",
                    Ty::Str,
                    Default::Required,
                    "The generator; docs/data.md lists them with their parameters (`n`, `noise`, ...).",
                )]],
                "A seeded synthetic generator (seeded by the train seed); other named arguments are the generator's parameters.",
            )
        },
        sig(
            "csv",
            1,
            &[&[
                p(
                    "path",
                    Ty::Str,
                    Default::Required,
                    "File path, relative to the spec.",
                ),
                p(
                    "header",
                    Ty::Bool,
                    Default::Bool(false),
                    "Whether the first row holds column names.",
                ),
                p(
                    "label",
                    Ty::Column,
                    Default::Sym("last"),
                    "The label column.",
                ),
                p("delimiter", Ty::Str, Default::Str(","), "Field separator."),
            ]],
            "Comma-separated values, one example per row.",
        ),
        sig(
            "npy",
            2,
            &[&[
                p("x", Ty::Str, Default::Required, "Features, [n, ...]."),
                p("y", Ty::Str, Default::Required, "Labels, [n]."),
            ]],
            "A pair of NumPy .npy files.",
        ),
        sig(
            "npz",
            1,
            &[&[
                p("path", Ty::Str, Default::Required, "The .npz archive."),
                p("x", Ty::Str, Default::Str("x"), "Key of the features."),
                p("y", Ty::Str, Default::Str("y"), "Key of the labels."),
            ]],
            "A NumPy .npz archive.",
        ),
        sig(
            "idx",
            2,
            &[&[
                p(
                    "images",
                    Ty::Str,
                    Default::Required,
                    "IDX image file (e.g. train-images-idx3-ubyte, optionally .gz).",
                ),
                p("labels", Ty::Str, Default::Required, "IDX label file."),
            ]],
            "MNIST's IDX format.",
        ),
    ],
};

/// Where one of several network inputs reads its features (the data block's `inputs`).
pub static INPUT_COLUMNS: CtorSet = CtorSet {
    what: "an input's columns",
    unknown_code: crate::diagnostics::codes::ARG_TYPE,
    sigs: &[sig(
        "columns",
        2,
        &[&[
            p(
                "from",
                NONNEG_INT,
                Default::Required,
                "First feature column (0-based).",
            ),
            p(
                "to",
                POS_INT,
                Default::Required,
                "One past the last column.",
            ),
        ]],
        "Feature columns `from..to` of the source, reshaped to the input's shape.",
    )],
};

/// Names accepted by `builtin(name)`: real data shipped with nnc. Every other entry of the
/// runtime's table (`nnc_runtime::data::BUILTINS`) is a generator, used as `synthetic(name)`.
pub const BUILTIN: &[&str] = &["digits"];

pub static SCALE: CtorSet = CtorSet {
    what: "a feature scaling",
    unknown_code: crate::diagnostics::codes::ARG_TYPE,
    sigs: &[
        sig("none", 0, &[], "Features as stored."),
        sig(
            "standardize",
            0,
            &[],
            "Zero mean, unit variance per feature (fitted on the training split).",
        ),
        sig(
            "minmax",
            0,
            &[],
            "Each feature mapped to [0, 1] (fitted on the training split).",
        ),
        sig(
            "divide",
            1,
            &[&[p("by", POS_FLOAT, Default::Required, "Divisor.")]],
            "Every feature divided by a constant.",
        ),
    ],
};

pub const METRICS: &[&str] = &[
    "accuracy",
    "macro_f1",
    "per_class",
    "confusion",
    "roc_auc",
    "pr_auc",
];
