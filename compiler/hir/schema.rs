//! The signatures of everything that takes arguments: layers, init schemes, optimizers,
//! schedules, losses, samplers, data sources, and the fields of `data`, `train` and
//! `rules` blocks. One table drives argument checking (unknown option, wrong type, missing
//! argument, did-you-mean) and the reference tables in docs/language.md, which a test
//! keeps in sync with it.

/// The type an argument must have.
#[derive(Clone, Copy, Debug)]
pub enum Ty {
    /// An integer >= min.
    Int {
        min: i64,
    },
    /// A number in [min, max] (`open_min`: min itself excluded).
    Float {
        min: f64,
        max: f64,
        open_min: bool,
    },
    Bool,
    Str,
    /// One of these bare names.
    Sym(&'static [&'static str]),
    /// An integer or `[h, w]`, each >= min.
    Size2 {
        min: i64,
    },
    /// Padding: `p`, `[h, w]` or `[top, left, bottom, right]`, each >= 0.
    Pad,
    /// A tensor shape: a list of positive integers (per sample, without the batch).
    Shape,
    /// A reshape target: positive integers and at most one -1.
    ReshapeShape,
    /// An axis of the per-sample shape: an integer >= 0 or `channel` (= 0).
    Axis,
    FloatList,
    StrList,
    /// A list of names from this set.
    SymList(&'static [&'static str]),
    /// A bare name or a call of one of the constructors of a set.
    Ctor(&'static CtorSet),
    /// The name of another item (a network, a data block, a rules block).
    ItemRef(&'static str),
    /// `network_name from "checkpoint"`.
    Teacher,
    /// `(key: value, ...)` with the fields of this signature.
    Record(&'static Sig),
    /// An expression kept as written (an imitation schedule, a rule formula).
    Formula,
    /// A CSV label column: an index, a column name, or `last`.
    Column,
    /// `balanced`, or a list of one non-negative weight per class.
    ClassWeights,
}

impl Ty {
    /// How the type is named in messages and in the docs.
    pub fn describe(&self) -> String {
        match self {
            Ty::Int { min } if *min <= 0 => "an integer >= 0".into(),
            Ty::Int { min } => format!("an integer >= {min}"),
            Ty::Float { min, max, open_min } => {
                let lo = if *open_min { ">" } else { ">=" };
                match (min.is_finite(), max.is_finite()) {
                    (true, true) => format!("a number {lo} {min} and <= {max}"),
                    (true, false) => format!("a number {lo} {min}"),
                    _ => "a number".into(),
                }
            }
            Ty::Bool => "`true` or `false`".into(),
            Ty::Str => "a string".into(),
            Ty::Sym(names) => one_of(names),
            Ty::Size2 { .. } => "an integer or `[h, w]`".into(),
            Ty::Pad => "an integer, `[h, w]` or `[top, left, bottom, right]`".into(),
            Ty::Shape => "a shape such as `[3, 32, 32]`".into(),
            Ty::ReshapeShape => "a shape such as `[16, -1]`".into(),
            Ty::Axis => "an axis (an integer or `channel`)".into(),
            Ty::FloatList => "a list of numbers".into(),
            Ty::StrList => "a list of strings".into(),
            Ty::SymList(names) => format!("a list of {}", one_of(names)),
            Ty::Ctor(set) => format!("{} ({})", set.what, one_of(&set.names())),
            Ty::ItemRef(what) => format!("the name of a {what} block"),
            Ty::Teacher => "`network from \"checkpoint.safetensors\"`".into(),
            Ty::Record(_) => "a record `(key: value, ...)`".into(),
            Ty::Formula => "an expression".into(),
            Ty::Column => "a column index, a column name, or `last`".into(),
            Ty::ClassWeights => "`balanced` or a list of class weights".into(),
        }
    }
}

fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The default of an argument.
#[derive(Clone, Copy, Debug)]
pub enum Default {
    Required,
    /// May be left out; then it has no value.
    Optional,
    Int(i64),
    Float(f64),
    Bool(bool),
    Sym(&'static str),
    /// A constructor called with its own defaults: `Ctor("sgd")` = `sgd()`.
    Ctor(&'static str),
    Str(&'static str),
    List(&'static [&'static str]),
    /// The value of another argument of the same call (a pool's stride is its kernel).
    SameAs(&'static str),
}

#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub ty: Ty,
    pub default: Default,
    pub doc: &'static str,
}

/// A signature: the arguments of a layer, a constructor, or the fields of a block.
#[derive(Clone, Copy, Debug)]
pub struct Sig {
    pub name: &'static str,
    pub doc: &'static str,
    /// The parameters, in groups (own parameters first, then shared groups).
    pub groups: &'static [&'static [Param]],
    /// How many leading parameters may be given by position.
    pub positional: usize,
    /// Also accepts named numeric arguments not listed here (a generator's own
    /// parameters, checked against the runtime's table of generators).
    pub open: bool,
}

impl Sig {
    pub fn params(&self) -> impl Iterator<Item = &'static Param> + '_ {
        self.groups.iter().flat_map(|g| g.iter())
    }

    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params().find(|p| p.name == name)
    }
}

/// A family of constructors, such as the init schemes.
#[derive(Debug)]
pub struct CtorSet {
    pub what: &'static str,
    pub sigs: &'static [Sig],
    /// The diagnostic code for a name that is not in the set.
    pub unknown_code: &'static str,
}

impl CtorSet {
    pub fn get(&self, name: &str) -> Option<&'static Sig> {
        self.sigs.iter().find(|s| s.name == name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.sigs.iter().map(|s| s.name).collect()
    }
}

const fn p(name: &'static str, ty: Ty, default: Default, doc: &'static str) -> Param {
    Param {
        name,
        ty,
        default,
        doc,
    }
}

const fn sig(
    name: &'static str,
    positional: usize,
    groups: &'static [&'static [Param]],
    doc: &'static str,
) -> Sig {
    Sig {
        name,
        doc,
        groups,
        positional,
        open: false,
    }
}

const POS_INT: Ty = Ty::Int { min: 1 };
const NONNEG_INT: Ty = Ty::Int { min: 0 };
const ANY_FLOAT: Ty = Ty::Float {
    min: f64::NEG_INFINITY,
    max: f64::INFINITY,
    open_min: false,
};
const POS_FLOAT: Ty = Ty::Float {
    min: 0.0,
    max: f64::INFINITY,
    open_min: true,
};
const NONNEG_FLOAT: Ty = Ty::Float {
    min: 0.0,
    max: f64::INFINITY,
    open_min: false,
};
const UNIT_OPEN: Ty = Ty::Float {
    min: 0.0,
    max: 1.0,
    open_min: true,
};
const UNIT_CLOSED: Ty = Ty::Float {
    min: 0.0,
    max: 1.0,
    open_min: false,
};

// ------------------------------------------------------------------ init schemes

pub static INIT: CtorSet = CtorSet {
    what: "an init scheme",
    unknown_code: crate::diagnostics::codes::INIT_UNKNOWN,
    sigs: &[
        sig("zeros", 0, &[], "All zeros (the default for biases)."),
        sig(
            "constant",
            1,
            &[&[p("value", ANY_FLOAT, Default::Required, "The value of every element.")]],
            "Every element set to `value`.",
        ),
        sig(
            "gaussian",
            1,
            &[&[
                p("std", POS_FLOAT, Default::Float(0.01), "Standard deviation."),
                p("mean", ANY_FLOAT, Default::Float(0.0), "Mean."),
            ]],
            "Normal N(mean, std^2), as Caffe's `gaussian` filler.",
        ),
        sig(
            "uniform",
            2,
            &[&[
                p("low", ANY_FLOAT, Default::Float(-0.05), "Lower bound."),
                p("high", ANY_FLOAT, Default::Float(0.05), "Upper bound (> low)."),
            ]],
            "Uniform on [low, high).",
        ),
        sig(
            "xavier",
            0,
            &[&[
                p("distribution", Ty::Sym(&["uniform", "normal"]), Default::Sym("uniform"), "Uniform on ±gain·sqrt(6/(fan_in+fan_out)), or normal with std gain·sqrt(2/(fan_in+fan_out))."),
                p("gain", POS_FLOAT, Default::Float(1.0), "Scale factor."),
            ]],
            "Glorot & Bengio (2010).",
        ),
        sig(
            "he",
            0,
            &[&[
                p("distribution", Ty::Sym(&["normal", "uniform"]), Default::Sym("normal"), "Normal with std sqrt(2/fan), or uniform on ±sqrt(6/fan)."),
                p("mode", Ty::Sym(&["fan_in", "fan_out"]), Default::Sym("fan_in"), "Which fan to use."),
            ]],
            "He et al. (2015), for ReLU networks.",
        ),
        sig(
            "orthogonal",
            0,
            &[&[p("gain", POS_FLOAT, Default::Float(1.0), "Scale factor.")]],
            "Saxe et al. (2014): rows (or columns) orthonormal; conv kernels flattened over fan-in.",
        ),
        sig(
            "lsuv",
            0,
            &[&[
                p("tol", UNIT_OPEN, Default::Float(0.1), "Stop when |Var(output) - 1| < tol."),
                p("max_iter", POS_INT, Default::Int(10), "At most this many rescalings per layer."),
            ]],
            "Mishkin & Matas (2016): orthonormal, then rescaled layer by layer on a real batch until each output has unit variance.",
        ),
        sig(
            "looks_linear",
            0,
            &[],
            "Balduzzi et al. (2017): mirrored [W0, -W0] with W0 orthogonal, so W·crelu(x) = W0·x at init; needs an even fan-in (put it after `crelu`).",
        ),
    ],
};

/// Init schemes that make sense for a bias or a norm parameter.
pub const VECTOR_INITS: &[&str] = &["zeros", "constant", "gaussian", "uniform"];

// ------------------------------------------------------------------ layers

const COMMON: &[Param] = &[p(
    "name",
    Ty::Str,
    Default::Optional,
    "The layer's name in summaries and checkpoints (default: op name + counter, e.g. `dense2`).",
)];

const TRAINABLE: &[Param] = &[
    p(
        "lr_mult",
        NONNEG_FLOAT,
        Default::Float(1.0),
        "Multiplies the learning rate of this layer's parameters.",
    ),
    p(
        "decay_mult",
        NONNEG_FLOAT,
        Default::Float(1.0),
        "Multiplies the weight decay of this layer's parameters.",
    ),
];

const WEIGHTED: &[Param] = &[
    p(
        "bias",
        Ty::Bool,
        Default::Bool(true),
        "Whether the layer has a bias.",
    ),
    p(
        "init",
        Ty::Ctor(&INIT),
        Default::Optional,
        "Init scheme of the weights (default: the train block's `init`, else `xavier`).",
    ),
    p(
        "bias_init",
        Ty::Ctor(&INIT),
        Default::Ctor("zeros"),
        "Init scheme of the bias.",
    ),
];

const CONV_GEOMETRY: &[Param] = &[
    p(
        "stride",
        Ty::Size2 { min: 1 },
        Default::Int(1),
        "Step between windows.",
    ),
    p(
        "pad",
        Ty::Pad,
        Default::Int(0),
        "Zero padding on each side.",
    ),
    p(
        "dilation",
        Ty::Size2 { min: 1 },
        Default::Int(1),
        "Spacing between kernel taps.",
    ),
];

const GROUPS: &[Param] = &[p(
    "groups",
    POS_INT,
    Default::Int(1),
    "Split channels into this many independent groups (AlexNet's two towers use 2).",
)];

const BINARY_INPUTS: &[Param] = &[p(
    "inputs",
    Ty::Sym(&["real", "binary"]),
    Default::Sym("real"),
    "`binary` also binarizes the inputs (XNOR-Net); `real` binarizes the weights only (BWN).",
)];

const POOL: &[Param] = &[
    p(
        "kernel",
        Ty::Size2 { min: 1 },
        Default::Required,
        "Window size.",
    ),
    p(
        "stride",
        Ty::Size2 { min: 1 },
        Default::SameAs("kernel"),
        "Step between windows.",
    ),
    p(
        "pad",
        Ty::Pad,
        Default::Int(0),
        "Padding on each side (ignored by the max).",
    ),
    p(
        "ceil",
        Ty::Bool,
        Default::Bool(false),
        "Caffe's rounding: output ceil((H + 2p - k) / s) + 1 instead of floor.",
    ),
];

const EPS: Param = p(
    "eps",
    POS_FLOAT,
    Default::Float(1e-5),
    "Added to the variance.",
);
const AFFINE: Param = p(
    "affine",
    Ty::Bool,
    Default::Bool(true),
    "Learn a scale gamma and shift beta.",
);

pub static LAYERS: &[Sig] = &[
    sig("dense", 1, &[&[p("units", POS_INT, Default::Required, "Output features.")], WEIGHTED, TRAINABLE, COMMON],
        "Fully connected (Caffe InnerProduct): flattens its input, y = W x + b."),
    sig("conv", 2, &[&[
            p("filters", POS_INT, Default::Required, "Output channels."),
            p("kernel", Ty::Size2 { min: 1 }, Default::Required, "Kernel size."),
        ], CONV_GEOMETRY, GROUPS, WEIGHTED, TRAINABLE, COMMON],
        "2-D convolution (cross-correlation) over [channels, height, width]."),
    sig("masked_conv", 2, &[&[
            p("filters", POS_INT, Default::Required, "Output channels."),
            p("kernel", Ty::Size2 { min: 1 }, Default::Required, "Kernel size (odd)."),
            p("mask", Ty::Sym(&["A", "B"]), Default::Required, "PixelCNN mask: `A` hides the centre pixel (first layer), `B` keeps it."),
        ], CONV_GEOMETRY, WEIGHTED, TRAINABLE, COMMON],
        "PixelCNN convolution (van den Oord et al. 2016): taps below and right of the centre are zero."),
    sig("binary_dense", 1, &[&[p("units", POS_INT, Default::Required, "Output features.")], BINARY_INPUTS, WEIGHTED, TRAINABLE, COMMON],
        "XNOR-Net dense layer: weights sign(W) scaled per output by alpha = mean |W|."),
    sig("binary_conv", 2, &[&[
            p("filters", POS_INT, Default::Required, "Output channels."),
            p("kernel", Ty::Size2 { min: 1 }, Default::Required, "Kernel size."),
        ], CONV_GEOMETRY, GROUPS, BINARY_INPUTS, WEIGHTED, TRAINABLE, COMMON],
        "XNOR-Net convolution: binary weights with a per-filter scale; with `inputs: binary` also binary inputs."),
    sig("max_pool", 1, &[POOL, COMMON], "Max over windows of each channel."),
    sig("avg_pool", 1, &[POOL, COMMON], "Mean over windows of each channel (padding counts, as in Caffe)."),
    sig("global_avg_pool", 0, &[COMMON], "Mean over the spatial axes: [C, H, W] -> [C]."),
    sig("flatten", 0, &[COMMON], "[d1, d2, ...] -> [d1 * d2 * ...]."),
    sig("reshape", 1, &[&[p("shape", Ty::ReshapeShape, Default::Required, "Target shape; one -1 is inferred.")], COMMON],
        "Reinterprets the per-sample shape."),
    sig("concat", 0, &[&[p("axis", Ty::Axis, Default::Int(0), "Axis to join along (`channel` = 0).")], COMMON],
        "Joins tensors along an axis; the other axes must match."),
    sig("unpool", 1, &[&[p("size", Ty::Size2 { min: 1 }, Default::Required, "Spatial size [h, w] to broadcast to.")], COMMON],
        "ParseNet's unpooling: [C] or [C, 1, 1] -> [C, h, w] by repetition."),
    sig("dropout", 1, &[&[p("rate", Ty::Float { min: 0.0, max: 0.999, open_min: false }, Default::Float(0.5), "Probability of zeroing a unit while training.")], COMMON],
        "Inverted dropout: identity at evaluation."),
    sig("relu", 0, &[COMMON], "max(x, 0)."),
    sig("leaky_relu", 1, &[&[p("slope", NONNEG_FLOAT, Default::Float(0.01), "Slope for x < 0.")], COMMON], "max(x, slope·x)."),
    sig("tanh", 0, &[COMMON], "Hyperbolic tangent."),
    sig("sigmoid", 0, &[COMMON], "1 / (1 + exp(-x))."),
    sig("crelu", 0, &[COMMON], "Concatenated ReLU [relu(x), relu(-x)] along the channel axis: doubles the channels."),
    sig("softmax", 0, &[&[p("axis", Ty::Axis, Default::Int(0), "Axis to normalize over.")], COMMON], "exp(x) / sum exp(x) along an axis."),
    sig("batch_norm", 0, &[&[
            p("momentum", Ty::Float { min: 0.0, max: 1.0, open_min: true }, Default::Float(0.1), "Running statistics: r = (1 - m) r + m batch (unbiased variance), as PyTorch."),
            EPS, AFFINE,
        ], TRAINABLE, COMMON],
        "Batch normalization over the batch and spatial axes, per channel; running statistics at evaluation."),
    sig("layer_norm", 0, &[&[EPS, AFFINE], TRAINABLE, COMMON],
        "Normalizes each sample over all its axes; per-element affine (as PyTorch's LayerNorm(shape))."),
    sig("group_norm", 1, &[&[
            p("groups", POS_INT, Default::Int(32), "Number of contiguous channel groups; must divide the channels."),
            EPS, AFFINE,
        ], TRAINABLE, COMMON],
        "Wu & He (2018): per sample, over each group of channels and the spatial axes; per-channel affine."),
    sig("instance_norm", 0, &[&[EPS, AFFINE], TRAINABLE, COMMON],
        "Per sample and channel, over the spatial axes; per-channel affine."),
    sig("l2_norm", 1, &[&[
            p("scale", POS_FLOAT, Default::Float(1.0), "Initial value of the learned per-channel scale."),
            p("eps", POS_FLOAT, Default::Float(1e-10), "Added under the square root."),
        ], TRAINABLE, COMMON],
        "ParseNet: divides by the L2 norm across channels at each position, then multiplies by a learned per-channel scale."),
];

pub fn layer(name: &str) -> Option<&'static Sig> {
    LAYERS.iter().find(|s| s.name == name)
}

// ------------------------------------------------------------------ training constructors

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
                p("lr", POS_FLOAT, Default::Float(0.001), "Learning rate."),
                p(
                    "beta1",
                    Ty::Float {
                        min: 0.0,
                        max: 0.999_999,
                        open_min: false,
                    },
                    Default::Float(0.9),
                    "First-moment decay.",
                ),
                p(
                    "beta2",
                    Ty::Float {
                        min: 0.0,
                        max: 0.999_999_9,
                        open_min: false,
                    },
                    Default::Float(0.999),
                    "Second-moment decay.",
                ),
                p(
                    "eps",
                    POS_FLOAT,
                    Default::Float(1e-8),
                    "Added to the denominator.",
                ),
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
                p("lr", POS_FLOAT, Default::Float(0.001), "Learning rate."),
                p(
                    "beta1",
                    Ty::Float {
                        min: 0.0,
                        max: 0.999_999,
                        open_min: false,
                    },
                    Default::Float(0.9),
                    "First-moment decay.",
                ),
                p(
                    "beta2",
                    Ty::Float {
                        min: 0.0,
                        max: 0.999_999_9,
                        open_min: false,
                    },
                    Default::Float(0.999),
                    "Second-moment decay.",
                ),
                p(
                    "eps",
                    POS_FLOAT,
                    Default::Float(1e-8),
                    "Added to the denominator.",
                ),
                p(
                    "weight_decay",
                    NONNEG_FLOAT,
                    Default::Float(0.01),
                    "Decoupled weight decay (Loshchilov & Hutter 2019).",
                ),
            ]],
            "Adam with decoupled weight decay.",
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
    ],
};

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

// ------------------------------------------------------------------ blocks' fields

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
            "Fraction of examples for training; the rest is the test set (stratified).",
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
            "Class names, in label order.",
        ),
        p(
            "features",
            Ty::StrList,
            Default::Optional,
            "Feature names, for rules.",
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
            Ty::Ctor(&LOSS),
            Default::Ctor("cross_entropy"),
            "The loss.",
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

/// Whether `name` is a setting a spec can pass around as a value: a constructor (init
/// scheme, optimizer, ...) or a symbolic option value (`A`, `binary`, `fan_out`...).
pub fn is_setting_name(name: &str) -> bool {
    let sets = [
        &INIT, &OPTIMIZER, &SCHEDULE, &LOSS, &SAMPLER, &SCALE, &SOURCE,
    ];
    if sets.iter().any(|s| s.get(name).is_some()) || name == "channel" {
        return true;
    }
    let symbol_in = |sig: &Sig| {
        sig.params().any(|p| match p.ty {
            Ty::Sym(names) | Ty::SymList(names) => names.contains(&name),
            _ => false,
        })
    };
    LAYERS
        .iter()
        .chain(sets.iter().flat_map(|s| s.sigs.iter()))
        .any(symbol_in)
}
