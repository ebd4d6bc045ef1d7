//! Stage 2, resolution: AST -> [`Program`], a resolved, shape-checked layer graph per
//! network plus validated `data`, `train` and `rules` blocks.
//!
//! Names are bound, blocks expanded (recursion is an error), `repeat` unrolled, every
//! option checked against its signature in [`schema`] and every shape inferred. Layers
//! stay high level here (dense, conv, group_norm...); the primitive IR comes later.

pub mod args;
pub mod display;
mod items;
mod kind;
mod layers;
mod network;
pub mod params;
mod rules_block;
pub mod schema;
mod sections;
pub mod settings;
mod shapes;
pub mod value;

pub use kind::LayerKind;
pub use rules_block::{RuleInfo, RulesDecl};
pub use sections::{DataDecl, TrainDecl};
pub use shapes::show as shapes_show;
pub use value::{LayerId, Value};

use crate::diagnostics::Diagnostics;
use crate::source::Span;
use crate::syntax::ast;

/// The per-sample shape of a tensor (the batch axis is implicit).
pub type Shape = Vec<u64>;

/// Everything a spec declares, resolved.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub networks: Vec<Network>,
    pub data: Vec<DataDecl>,
    pub trains: Vec<TrainDecl>,
    pub rules: Vec<RulesDecl>,
}

impl Program {
    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.name == name)
    }
}

#[derive(Clone, Debug)]
pub struct Network {
    pub name: String,
    pub span: Span,
    /// In topological order: every layer's inputs come before it.
    pub layers: Vec<Layer>,
    pub inputs: Vec<LayerId>,
    pub outputs: Vec<Output>,
}

impl Network {
    pub fn layer(&self, id: LayerId) -> &Layer {
        &self.layers[id.0 as usize]
    }

    /// The shapes of a layer's inputs.
    pub fn input_shapes(&self, id: LayerId) -> Vec<&Shape> {
        self.layer(id)
            .inputs
            .iter()
            .map(|i| &self.layer(*i).shape)
            .collect()
    }
}

#[derive(Clone, Debug)]
pub struct Output {
    pub name: String,
    pub layer: LayerId,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Layer {
    /// Unique in the network: `dense2`, `preact3.conv1`, or the `name:` option.
    pub name: String,
    pub op: LayerOp,
    pub inputs: Vec<LayerId>,
    pub shape: Shape,
    /// The call (or operator) that made this layer.
    pub span: Span,
    /// Learning-rate and weight-decay multipliers of its parameters.
    pub lr_mult: f64,
    pub decay_mult: f64,
}

/// An init scheme, validated.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    Zeros,
    Constant { value: f64 },
    Gaussian { mean: f64, std: f64 },
    Uniform { low: f64, high: f64 },
    Xavier { normal: bool, gain: f64 },
    He { normal: bool, fan_out: bool },
    Orthogonal { gain: f64 },
    Lsuv { tol: f64, max_iter: u32 },
    LooksLinear,
}

/// Options shared by layers with weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    pub bias: bool,
    /// `None`: the train block's `init`, else xavier.
    pub init: Option<Init>,
    pub bias_init: Init,
}

/// Window geometry of convolutions and pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub kernel: [u64; 2],
    pub stride: [u64; 2],
    /// [top, left, bottom, right]
    pub pad: [u64; 4],
    pub dilation: [u64; 2],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    A,
    B,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvKind {
    Plain,
    /// PixelCNN masked convolution.
    Masked(Mask),
    /// XNOR-Net: binary weights; `inputs` also binarizes the inputs.
    Binary {
        binary_inputs: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    Avg,
}

/// GELU's form of the normal CDF Φ (PyTorch's `approximate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeluApprox {
    /// Φ(x) = (1 + erf(x / sqrt 2)) / 2.
    None,
    /// Φ(x) ≈ (1 + tanh(sqrt(2/π) (x + 0.044715 x³))) / 2.
    Tanh,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LayerOp {
    Input,
    Dense {
        units: u64,
        /// `Some(binary_inputs)` for binary_dense.
        binary: Option<bool>,
        /// `false`: applied to the last axis at every position of the others.
        flatten: bool,
        weights: Weights,
    },
    /// A table lookup of integer ids (stored as numbers).
    Embedding {
        vocab: u64,
        dim: u64,
        /// `None`: N(0, 1), as PyTorch.
        init: Option<Init>,
    },
    Conv {
        filters: u64,
        window: Window,
        groups: u64,
        kind: ConvKind,
        weights: Weights,
    },
    /// A 1-D convolution over [channels, length]: `window` is the 2-D window of unit
    /// height it lowers through.
    Conv1d {
        filters: u64,
        window: Window,
        groups: u64,
        weights: Weights,
    },
    /// The adjoint of a convolution: `window` is that convolution's geometry (on the
    /// output), `output_pad` the extra bottom/right rows and columns.
    ConvTranspose {
        filters: u64,
        window: Window,
        output_pad: [u64; 2],
        weights: Weights,
    },
    Pool {
        kind: PoolKind,
        window: Window,
        /// Caffe's ceil rounding; the extra bottom/right padding it implies is already in
        /// `window.pad`'s effect on the output shape.
        ceil: bool,
    },
    GlobalAvgPool,
    Flatten,
    Reshape,
    Concat {
        axis: usize,
    },
    Unpool {
        size: [u64; 2],
    },
    Dropout {
        rate: f64,
    },
    Relu,
    LeakyRelu {
        slope: f64,
    },
    Tanh,
    Sigmoid,
    Gelu {
        approximate: GeluApprox,
    },
    Silu,
    Elu {
        alpha: f64,
    },
    Softplus {
        beta: f64,
        threshold: f64,
    },
    Crelu,
    Softmax {
        axis: usize,
    },
    BatchNorm {
        momentum: f64,
        eps: f64,
        affine: bool,
    },
    LayerNorm {
        eps: f64,
        affine: bool,
        /// Over the last axis only (per position), rather than every axis.
        last: bool,
    },
    GroupNorm {
        groups: u64,
        eps: f64,
        affine: bool,
    },
    InstanceNorm {
        eps: f64,
        affine: bool,
    },
    L2Norm {
        scale: f64,
        eps: f64,
    },
    LayerScale {
        init: f64,
        /// The channel axis of the example.
        axis: usize,
    },
    /// Multi-head self-attention over [tokens, features].
    Attention {
        heads: u64,
        causal: bool,
        weights: Weights,
    },
    /// Long short-term memory over [steps, features] (PyTorch's gates i, f, g, o).
    Lstm {
        units: u64,
        /// Every step's h, or the last one only.
        sequences: bool,
        /// Added to the forget gate's pre-activation.
        forget_bias: f64,
        reverse: bool,
        weights: Weights,
    },
    /// Gated recurrent unit over [steps, features] (PyTorch's gates r, z, n).
    Gru {
        units: u64,
        sequences: bool,
        reverse: bool,
        weights: Weights,
    },
    /// Inside a `scan`'s cell: the step's slice of the scanned input.
    StepInput,
    /// Inside a `scan`'s cell: the state carried from the previous step.
    StepState,
    /// A cell applied along axis `axis` of its input with a carried state. The cell's
    /// layers are the ones from `body` (its `StepInput`, then its `StepState`) up to this
    /// layer; `result` is the next state. They are lowered once per step, sharing weights.
    Scan {
        axis: usize,
        init: f64,
        sequences: bool,
        reverse: bool,
        body: LayerId,
        result: LayerId,
    },
    /// Two tensors combined elementwise with broadcasting (`a + b`, `a * b`...).
    Arith(Arith),
    /// A tensor times a constant (`0.3 * h`, `-h`, `h / 2`).
    Scale {
        factor: f64,
    },
    /// A tensor plus a constant.
    Shift {
        offset: f64,
    },
}

impl LayerOp {
    /// The layer a spec calls to make this op; `None` for inputs and operators.
    pub fn kind(&self) -> Option<LayerKind> {
        self.kind_or_name().ok()
    }

    /// The name shown in summaries and used for automatic layer names.
    pub fn name(&self) -> &'static str {
        match self.kind_or_name() {
            Ok(kind) => kind.name(),
            Err(name) => name,
        }
    }

    /// Whether its outputs are post-activation values ([`LayerKind::is_activation`]).
    pub fn is_activation(&self) -> bool {
        self.kind().is_some_and(LayerKind::is_activation)
    }

    /// The op's layer kind, or the name of an input or operator, which have no kind.
    fn kind_or_name(&self) -> Result<LayerKind, &'static str> {
        use LayerKind as K;
        Ok(match self {
            LayerOp::Input => return Err("input"),
            LayerOp::Arith(arith) => {
                return Err(match arith {
                    Arith::Add => "add",
                    Arith::Sub => "sub",
                    Arith::Mul => "mul",
                    Arith::Div => "div",
                })
            }
            LayerOp::Scale { .. } => return Err("scale"),
            LayerOp::Shift { .. } => return Err("shift"),
            LayerOp::StepInput | LayerOp::StepState => return Err("step"),
            LayerOp::Dense { binary: None, .. } => K::Dense,
            LayerOp::Dense {
                binary: Some(_), ..
            } => K::BinaryDense,
            LayerOp::Embedding { .. } => K::Embedding,
            LayerOp::Conv1d { .. } => K::Conv1d,
            LayerOp::ConvTranspose { .. } => K::ConvTranspose,
            LayerOp::Conv { kind, .. } => match kind {
                ConvKind::Plain => K::Conv,
                ConvKind::Masked(_) => K::MaskedConv,
                ConvKind::Binary { .. } => K::BinaryConv,
            },
            LayerOp::Pool { kind, .. } => match kind {
                PoolKind::Max => K::MaxPool,
                PoolKind::Avg => K::AvgPool,
            },
            LayerOp::GlobalAvgPool => K::GlobalAvgPool,
            LayerOp::Flatten => K::Flatten,
            LayerOp::Reshape => K::Reshape,
            LayerOp::Concat { .. } => K::Concat,
            LayerOp::Unpool { .. } => K::Unpool,
            LayerOp::Dropout { .. } => K::Dropout,
            LayerOp::Relu => K::Relu,
            LayerOp::LeakyRelu { .. } => K::LeakyRelu,
            LayerOp::Tanh => K::Tanh,
            LayerOp::Sigmoid => K::Sigmoid,
            LayerOp::Gelu { .. } => K::Gelu,
            LayerOp::Silu => K::Silu,
            LayerOp::Elu { .. } => K::Elu,
            LayerOp::Softplus { .. } => K::Softplus,
            LayerOp::Crelu => K::Crelu,
            LayerOp::Softmax { .. } => K::Softmax,
            LayerOp::BatchNorm { .. } => K::BatchNorm,
            LayerOp::LayerNorm { .. } => K::LayerNorm,
            LayerOp::GroupNorm { .. } => K::GroupNorm,
            LayerOp::InstanceNorm { .. } => K::InstanceNorm,
            LayerOp::L2Norm { .. } => K::L2Norm,
            LayerOp::LayerScale { .. } => K::LayerScale,
            LayerOp::Attention { .. } => K::Attention,
            LayerOp::Lstm { .. } => K::Lstm,
            LayerOp::Gru { .. } => K::Gru,
            LayerOp::Scan { .. } => K::Scan,
        })
    }
}

/// Resolves parsed files (the spec first, then its imports) into a program.
pub fn resolve(files: &[ast::File], diags: &mut Diagnostics) -> Program {
    let items = items::collect(files, diags);
    let mut program = Program {
        networks: network::resolve(&items, diags),
        ..Program::default()
    };
    sections::resolve(&items, &mut program, diags);
    program
}
