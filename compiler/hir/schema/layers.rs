//! Init schemes and layers.

use super::*;
use crate::hir::LayerKind;

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

/// One row per [`LayerKind`], in `LayerKind::ALL` order (`hir/kind.rs` checks it at compile
/// time).
pub static LAYERS: &[Sig; LayerKind::ALL.len()] = &[
    sig("dense", 1, &[&[
            p("units", POS_INT, Default::Required, "Output features."),
            p("flatten", Ty::Bool, Default::Bool(true), "`true`: flattens the input (Caffe's InnerProduct); `false`: applies to the last axis at every position of the others (PyTorch's `Linear`)."),
        ], WEIGHTED, TRAINABLE, COMMON],
        "Fully connected (Caffe InnerProduct): flattens its input, y = W x + b."),
    sig("embedding", 2, &[&[
            p("vocab", POS_INT, Default::Required, "Number of ids: the input holds integers in [0, vocab)."),
            p("dim", POS_INT, Default::Required, "Length of each id's vector."),
            p("init", Ty::Ctor(&INIT), Default::Optional, "Init scheme of the table (default: gaussian(std: 1), as PyTorch's `Embedding`)."),
        ], TRAINABLE, COMMON],
        "A learned vector per integer id (ids stored as numbers): [...] -> [..., dim]."),
    sig("conv", 2, &[&[
            p("filters", POS_INT, Default::Required, "Output channels."),
            p("kernel", Ty::Size2 { min: 1 }, Default::Required, "Kernel size."),
        ], CONV_GEOMETRY, GROUPS, WEIGHTED, TRAINABLE, COMMON],
        "2-D convolution (cross-correlation) over [channels, height, width]."),
    sig("conv1d", 2, &[&[
            p("filters", POS_INT, Default::Required, "Output channels."),
            p("kernel", POS_INT, Default::Required, "Kernel size."),
            p("stride", POS_INT, Default::Int(1), "Step between windows."),
            p("pad", NONNEG_INT, Default::Int(0), "Zero padding on each side."),
            p("dilation", POS_INT, Default::Int(1), "Spacing between kernel taps."),
        ], GROUPS, WEIGHTED, TRAINABLE, COMMON],
        "1-D convolution (cross-correlation) over [channels, length]."),
    sig("conv_transpose", 2, &[&[
            p("filters", POS_INT, Default::Required, "Output channels."),
            p("kernel", Ty::Size2 { min: 1 }, Default::Required, "Kernel size."),
            p("stride", Ty::Size2 { min: 1 }, Default::Int(1), "Step between the input's positions in the output."),
            p("pad", Ty::Size2 { min: 0 }, Default::Int(0), "Rows and columns removed from each side of the output."),
            p("output_pad", Ty::Size2 { min: 0 }, Default::Int(0), "Rows and columns added at the bottom and right of the output (less than the stride)."),
        ], WEIGHTED, TRAINABLE, COMMON],
        "2-D transposed convolution (the adjoint of `conv`) over [channels, height, width]."),
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
    sig("leaky_relu", 1, &[&[p("slope", NONNEG_FLOAT, Default::Float(0.01), "Slope for x < 0.")], COMMON], "x for x > 0, slope·x otherwise."),
    sig("tanh", 0, &[COMMON], "Hyperbolic tangent."),
    sig("sigmoid", 0, &[COMMON], "1 / (1 + exp(-x))."),
    sig("gelu", 0, &[&[p("approximate", Ty::Sym(&["none", "tanh"]), Default::Sym("none"), "`none`: the exact x·Φ(x) with the erf form of Φ; `tanh`: the tanh approximation (PyTorch's `approximate`).")], COMMON],
        "Gaussian error linear unit (Hendrycks & Gimpel 2016): x·Φ(x), Φ the standard normal CDF."),
    sig("silu", 0, &[COMMON], "x·sigmoid(x) (SiLU, also called swish)."),
    sig("elu", 1, &[&[p("alpha", NONNEG_FLOAT, Default::Float(1.0), "Scale of the negative part.")], COMMON],
        "x for x > 0, alpha·(exp(x) - 1) otherwise."),
    sig("softplus", 0, &[&[
            p("beta", POS_FLOAT, Default::Float(1.0), "Sharpness: log(1 + exp(beta·x)) / beta."),
            p("threshold", POS_FLOAT, Default::Float(20.0), "Above beta·x > threshold the output is x."),
        ], COMMON],
        "log(1 + exp(beta·x)) / beta, linear above the threshold (PyTorch's Softplus)."),
    sig("crelu", 0, &[COMMON], "Concatenated ReLU [relu(x), relu(-x)] along the channel axis: doubles the channels."),
    sig("softmax", 0, &[&[p("axis", Ty::Axis, Default::Int(0), "Axis to normalize over.")], COMMON], "exp(x) / sum exp(x) along an axis."),
    sig("batch_norm", 0, &[&[
            p("momentum", Ty::Float { min: 0.0, max: 1.0, open_min: true }, Default::Float(0.1), "Running statistics: r = (1 - m) r + m batch (unbiased variance), as PyTorch."),
            EPS, AFFINE,
        ], TRAINABLE, COMMON],
        "Batch normalization over the batch and spatial axes, per channel; running statistics at evaluation."),
    sig("layer_norm", 0, &[&[
            EPS, AFFINE,
            p("axes", Ty::Sym(&["all", "last"]), Default::Sym("all"), "`all`: over every axis of the example; `last`: over the last axis at every position of the others (a transformer's LayerNorm(features))."),
        ], TRAINABLE, COMMON],
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
    sig("layer_scale", 0, &[&[
            p("init", POS_FLOAT, Default::Float(1e-6), "Initial value of every scale."),
            p("axis", Ty::Axis, Default::Int(0), "The axis that holds the channels (`channel` = 0; 1 for the features of a `[tokens, features]` sequence)."),
        ], TRAINABLE, COMMON],
        "CaiT's LayerScale (Touvron et al. 2021): multiplies each channel by a learned scale."),
    sig("attention", 1, &[&[
            p("heads", POS_INT, Default::Required, "Number of heads; must divide the features."),
            p("causal", Ty::Bool, Default::Bool(false), "Each token attends only to itself and the tokens before it."),
            p("bias", Ty::Bool, Default::Bool(true), "Whether the projections have biases."),
            p("init", Ty::Ctor(&INIT), Default::Optional, "Init scheme of the projection weights (default: the train block's `init`, else `xavier`)."),
        ], TRAINABLE, COMMON],
        "Multi-head scaled dot-product self-attention over [tokens, features] (PyTorch's MultiheadAttention)."),
    sig("lstm", 1, &[&[
            p("units", POS_INT, Default::Required, "Features of the hidden state h (and of the cell c)."),
            p("return_sequences", Ty::Bool, Default::Bool(true), "`true`: h at every step, [steps, units]; `false`: the last step's h only, [units]."),
            p("forget_bias", ANY_FLOAT, Default::Float(1.0), "Added to the forget gate's pre-activation, as if its bias started at this value (Jozefowicz et al. 2015); 0 is PyTorch's plain LSTM."),
            p("reverse", Ty::Bool, Default::Bool(false), "Reads the sequence from its last step to its first; outputs stay in input order."),
        ], WEIGHTED, TRAINABLE, COMMON],
        "Long short-term memory over [steps, features], PyTorch's gate order and formulas (i, f, g, o)."),
    sig("gru", 1, &[&[
            p("units", POS_INT, Default::Required, "Features of the hidden state h."),
            p("return_sequences", Ty::Bool, Default::Bool(true), "`true`: h at every step, [steps, units]; `false`: the last step's h only, [units]."),
            p("reverse", Ty::Bool, Default::Bool(false), "Reads the sequence from its last step to its first; outputs stay in input order."),
        ], WEIGHTED, TRAINABLE, COMMON],
        "Gated recurrent unit over [steps, features], PyTorch's gate order and formulas (r, z, n)."),
    sig("bidirectional", 1, &[&[
            p("layer", Ty::Formula, Default::Required, "A call of `lstm`, `gru` or `scan`, written without its input: `bidirectional(lstm(32))`."),
        ], COMMON],
        "Runs the layer forward and, as a second copy with its own weights, reversed; joins both outputs on the last axis."),
    sig("scan", 1, &[&[
            p("cell", Ty::ItemRef("cell"), Default::Required, "A block of two tensor parameters `(x, h)`, the step's input and the previous state, that returns the next state."),
            p("state", Ty::Shape, Default::Required, "The state's per-example shape: what `h` is and what the cell returns."),
            p("over", Ty::Axis, Default::Int(0), "The input axis the cell steps along; each step sees the input without it."),
            p("init", ANY_FLOAT, Default::Float(0.0), "The initial state's value, in every element."),
            p("return_sequences", Ty::Bool, Default::Bool(true), "`true`: the state after every step, stacked on axis `over`; `false`: the last state only."),
            p("reverse", Ty::Bool, Default::Bool(false), "Steps from the last position to the first; outputs stay in input order."),
        ], COMMON],
        "Recurrence: applies a user-defined cell block along an axis with a carried state; the cell's layers share their weights across steps."),
];
