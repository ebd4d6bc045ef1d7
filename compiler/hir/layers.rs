//! One function per layer family: bound arguments + input shapes -> the layer's op and
//! output shape, or diagnostics that name the shapes involved. Convolutions and pooling
//! (window geometry) are in `window.rs`.

mod sequence;
mod window;

use super::args::Bound;
use super::schema::VECTOR_INITS;
use super::shapes::{broadcast, numel, show};
use super::value::{Ctor, Value};
use super::{
    Arith, ConvKind, GeluApprox, Init, LayerKind, LayerOp, Mask, PoolKind, Shape, Weights,
};
use crate::diagnostics::{codes, Diagnostic, Diagnostics};
use crate::source::Span;

/// An input of a layer call: its shape and where it was written.
pub struct In<'a> {
    pub shape: &'a Shape,
    pub span: Span,
    /// A network input (data as fed), not a computed value.
    pub data: bool,
}

pub struct LayerCx<'a> {
    pub diags: &'a mut Diagnostics,
    pub call: Span,
    pub layer: &'a str,
}

type Built = Option<(LayerOp, Shape)>;

impl LayerCx<'_> {
    fn err(&mut self, code: &'static str, message: String, span: Span, label: String, help: &str) {
        self.diags.push(
            Diagnostic::error(code, message)
                .with_label(span, label)
                .with_help(help),
        );
    }

    fn overflow<T>(&mut self, what: &str) -> Option<T> {
        let (call, layer) = (self.call, self.layer);
        self.err(
            codes::SHAPE_OVERFLOW,
            format!("the {what} of `{layer}` overflows"),
            call,
            "more than 2^64 elements".into(),
            "Use smaller dimensions.",
        );
        None
    }

    fn rank(&mut self, input: &In, expected: &str, help: &str) -> Built {
        let layer = self.layer;
        self.err(
            codes::SHAPE_RANK,
            format!("`{layer}` expects {expected}, found {}", show(input.shape)),
            self.call,
            format!("input has shape {}", show(input.shape)),
            help,
        );
        None
    }

    /// Builds the op of a `kind` layer from its arguments and inputs.
    pub fn build(&mut self, kind: LayerKind, b: &Bound, inputs: &[In]) -> Built {
        use LayerKind as K;
        let x = &inputs[0];
        let binary_inputs = || b.sym("inputs") == "binary";
        match kind {
            K::Dense => self.dense(b, x, None),
            K::Lstm | K::Gru => self.recurrent(kind, b, x),
            K::Bidirectional | K::Scan => {
                unreachable!("`bidirectional` and `scan` are expanded by hir::network::recur, never built here")
            }
            K::BinaryDense => self.dense(b, x, Some(binary_inputs())),
            K::Embedding => self.embedding(b, x),
            K::Conv => self.conv(b, x, ConvKind::Plain),
            K::Conv1d => self.conv1d(b, x),
            K::ConvTranspose => self.conv_transpose(b, x),
            K::MaskedConv => {
                let mask = if b.sym("mask") == "A" {
                    Mask::A
                } else {
                    Mask::B
                };
                self.conv(b, x, ConvKind::Masked(mask))
            }
            K::BinaryConv => self.conv(
                b,
                x,
                ConvKind::Binary {
                    binary_inputs: binary_inputs(),
                },
            ),
            K::MaxPool => self.pool(b, x, PoolKind::Max),
            K::AvgPool => self.pool(b, x, PoolKind::Avg),
            K::GlobalAvgPool => {
                if x.shape.len() != 3 {
                    return self.rank(
                        x,
                        "[channels, height, width]",
                        "Apply it to the output of a convolution.",
                    );
                }
                Some((LayerOp::GlobalAvgPool, vec![x.shape[0]]))
            }
            K::Flatten => {
                let n = numel(x.shape).or_else(|| self.overflow("output"))?;
                Some((LayerOp::Flatten, vec![n]))
            }
            K::Reshape => self.reshape(b, x),
            K::Concat => self.concat(b, inputs),
            K::Unpool => {
                let size = b.size2("size");
                let c = match x.shape.as_slice() {
                    [c] | [c, 1, 1] => *c,
                    _ => {
                        return self.rank(
                            x,
                            "[channels] or [channels, 1, 1]",
                            "Apply it after `global_avg_pool`.",
                        )
                    }
                };
                Some((LayerOp::Unpool { size }, vec![c, size[0], size[1]]))
            }
            K::Dropout => Some((
                LayerOp::Dropout {
                    rate: b.f64("rate"),
                },
                x.shape.clone(),
            )),
            K::Relu => Some((LayerOp::Relu, x.shape.clone())),
            K::LeakyRelu => Some((
                LayerOp::LeakyRelu {
                    slope: b.f64("slope"),
                },
                x.shape.clone(),
            )),
            K::Tanh => Some((LayerOp::Tanh, x.shape.clone())),
            K::Sigmoid => Some((LayerOp::Sigmoid, x.shape.clone())),
            K::Gelu => {
                let approximate = if b.sym("approximate") == "tanh" {
                    GeluApprox::Tanh
                } else {
                    GeluApprox::None
                };
                Some((LayerOp::Gelu { approximate }, x.shape.clone()))
            }
            K::Silu => Some((LayerOp::Silu, x.shape.clone())),
            K::Elu => Some((
                LayerOp::Elu {
                    alpha: b.f64("alpha"),
                },
                x.shape.clone(),
            )),
            K::Softplus => Some((
                LayerOp::Softplus {
                    beta: b.f64("beta"),
                    threshold: b.f64("threshold"),
                },
                x.shape.clone(),
            )),
            K::Crelu => {
                let mut shape = x.shape.clone();
                shape[0] = shape[0]
                    .checked_mul(2)
                    .or_else(|| self.overflow("output"))?;
                Some((LayerOp::Crelu, shape))
            }
            K::Softmax => {
                let axis = self.axis(b, "axis", x)?;
                Some((LayerOp::Softmax { axis }, x.shape.clone()))
            }
            K::BatchNorm => Some((
                LayerOp::BatchNorm {
                    momentum: b.f64("momentum"),
                    eps: b.f64("eps"),
                    affine: b.bool("affine"),
                },
                x.shape.clone(),
            )),
            K::LayerNorm => Some((
                LayerOp::LayerNorm {
                    eps: b.f64("eps"),
                    affine: b.bool("affine"),
                    last: b.sym("axes") == "last",
                },
                x.shape.clone(),
            )),
            K::GroupNorm => {
                let groups = b.u64("groups");
                let c = x.shape[0];
                if !c.is_multiple_of(groups) {
                    let layer = self.layer;
                    self.diags.push(
                        Diagnostic::error(
                            codes::SHAPE_GROUPS,
                            format!("`{layer}`: {c} channels are not divisible by {groups} groups"),
                        )
                        .with_label(b.span("groups"), format!("{groups} groups"))
                        .with_label(x.span, format!("{c} channels, shape {}", show(x.shape)))
                        .with_help(format!(
                            "Use a number of groups that divides {c}, such as {}.",
                            divisor_near(c, groups)
                        )),
                    );
                    return None;
                }
                Some((
                    LayerOp::GroupNorm {
                        groups,
                        eps: b.f64("eps"),
                        affine: b.bool("affine"),
                    },
                    x.shape.clone(),
                ))
            }
            K::InstanceNorm => {
                if x.shape.len() < 2 {
                    return self.rank(
                        x,
                        "[channels, ...spatial]",
                        "Instance norm normalizes over spatial axes; use layer_norm for vectors.",
                    );
                }
                Some((
                    LayerOp::InstanceNorm {
                        eps: b.f64("eps"),
                        affine: b.bool("affine"),
                    },
                    x.shape.clone(),
                ))
            }
            K::L2Norm => Some((
                LayerOp::L2Norm {
                    scale: b.f64("scale"),
                    eps: b.f64("eps"),
                },
                x.shape.clone(),
            )),
            K::LayerScale => {
                let axis = self.axis(b, "axis", x)?;
                Some((
                    LayerOp::LayerScale {
                        init: b.f64("init"),
                        axis,
                    },
                    x.shape.clone(),
                ))
            }
            K::Attention => self.attention(b, x),
        }
    }

    fn axis(&mut self, b: &Bound, name: &str, x: &In) -> Option<usize> {
        let axis = b.u64(name) as usize;
        if axis >= x.shape.len() {
            let layer = self.layer;
            self.diags.push(
                Diagnostic::error(
                    codes::SHAPE_RANK,
                    format!(
                        "`{layer}`: axis {axis} is out of range for shape {}",
                        show(x.shape)
                    ),
                )
                .with_label(b.span(name), format!("axis {axis}"))
                .with_label(x.span, format!("{} axes", x.shape.len()))
                .with_help(format!(
                    "Axes count from 0 (the channel axis) to {}.",
                    x.shape.len().saturating_sub(1)
                )),
            );
            return None;
        }
        Some(axis)
    }

    fn weights(&mut self, b: &Bound, fan_in: u64) -> Option<Weights> {
        let init = match b.get("init") {
            Some(Value::Ctor(c)) => Some(typed_init(c, b.span("init"), self.diags)?),
            _ => None,
        };
        for (option, scheme) in [("init", init.clone()), ("bias_init", None)] {
            if let Some(scheme) = scheme {
                if !check_init(&scheme, b.span(option), self.diags) {
                    return None;
                }
            }
        }
        if let Some(Init::LooksLinear) = init {
            if !fan_in.is_multiple_of(2) {
                let layer = self.layer;
                self.diags.push(
                    Diagnostic::error(
                        codes::INIT_INVALID,
                        format!("`looks_linear` needs an even fan-in, but `{layer}` has {fan_in} inputs per output"),
                    )
                    .with_label(b.span("init"), "mirrors the weights as [W0, -W0]")
                    .with_help("Apply looks_linear to a layer that follows `crelu`, which doubles the channels."),
                );
                return None;
            }
        }
        let bias_init = match b.get("bias_init") {
            Some(Value::Ctor(c)) => {
                if !VECTOR_INITS.contains(&c.name.as_str()) {
                    self.diags.push(
                        Diagnostic::error(
                            codes::INIT_INVALID,
                            format!("`{}` cannot initialise a bias", c.name),
                        )
                        .with_label(b.span("bias_init"), "a matrix init scheme")
                        .with_help(format!(
                            "Biases take one of: {}.",
                            VECTOR_INITS
                                .iter()
                                .map(|n| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    );
                    return None;
                }
                let scheme = typed_init(c, b.span("bias_init"), self.diags)?;
                if !check_init(&scheme, b.span("bias_init"), self.diags) {
                    return None;
                }
                scheme
            }
            _ => Init::Zeros,
        };
        Some(Weights {
            bias: b.bool("bias"),
            init,
            bias_init,
        })
    }

    /// `binary`: `Some(binary_inputs)` for binary_dense (which always flattens).
    fn dense(&mut self, b: &Bound, x: &In, binary: Option<bool>) -> Built {
        let units = b.u64("units");
        let flatten = binary.is_some() || b.bool("flatten");
        // A value without axes has one feature either way.
        let (fan_in, shape) = match x.shape.split_last() {
            Some((last, rest)) if !flatten => {
                let mut shape = rest.to_vec();
                shape.push(units);
                numel(&shape).or_else(|| self.overflow("output"))?;
                (*last, shape)
            }
            _ => {
                let n = numel(x.shape).or_else(|| self.overflow("input"))?;
                (n, vec![units])
            }
        };
        if units.checked_mul(fan_in).is_none() {
            return self.overflow("weight");
        }
        let weights = self.weights(b, fan_in)?;
        Some((
            LayerOp::Dense {
                units,
                binary,
                flatten,
                weights,
            },
            shape,
        ))
    }

    fn reshape(&mut self, b: &Bound, x: &In) -> Built {
        let target: Vec<i64> = match b.get("shape") {
            Some(Value::List(v)) => v
                .iter()
                .map(|d| match d {
                    Value::Int(i) => *i,
                    _ => 1,
                })
                .collect(),
            _ => return None,
        };
        let total = numel(x.shape).or_else(|| self.overflow("input"))?;
        let known = target
            .iter()
            .filter(|d| **d > 0)
            .try_fold(1u64, |acc, d| acc.checked_mul(*d as u64));
        let known = known.or_else(|| self.overflow("target shape"))?;
        let mut shape: Shape = target.iter().map(|d| (*d).max(0) as u64).collect();
        let fits = if let Some(pos) = target.iter().position(|d| *d == -1) {
            if known > 0 && total % known == 0 {
                shape[pos] = total / known;
                true
            } else {
                false
            }
        } else {
            known == total
        };
        if !fits {
            let layer = self.layer;
            self.diags.push(
                Diagnostic::error(
                    codes::SHAPE_MISMATCH,
                    format!("`{layer}`: cannot reshape {} ({total} elements) to {:?}", show(x.shape), target),
                )
                .with_label(b.span("shape"), format!("{known} elements"))
                .with_label(x.span, format!("{total} elements, shape {}", show(x.shape)))
                .with_help("The target shape must hold the same number of elements; use -1 to infer one dimension."),
            );
            return None;
        }
        Some((LayerOp::Reshape, shape))
    }

    fn concat(&mut self, b: &Bound, inputs: &[In]) -> Built {
        let first = inputs[0].shape;
        let axis = b.u64("axis") as usize;
        let rank_ok = inputs.iter().all(|i| i.shape.len() == first.len());
        let axis_ok = axis < first.len();
        let mut out = first.clone();
        let mut ok = rank_ok && axis_ok;
        if ok {
            out[axis] = 0;
            for input in inputs {
                let same = input
                    .shape
                    .iter()
                    .zip(first.iter())
                    .enumerate()
                    .all(|(i, (a, f))| i == axis || a == f);
                ok &= same;
                out[axis] = out[axis].saturating_add(input.shape[axis]);
            }
        }
        if !ok {
            let layer = self.layer;
            let shapes: Vec<String> = inputs.iter().map(|i| show(i.shape)).collect();
            let mut diag = Diagnostic::error(
                codes::SHAPE_MISMATCH,
                format!(
                    "`{layer}`: cannot concatenate {} along axis {axis}",
                    shapes.join(" and ")
                ),
            );
            for input in inputs {
                diag = diag.with_label(input.span, format!("shape {}", show(input.shape)));
            }
            let help = if !axis_ok {
                format!(
                    "Axis {axis} does not exist; the inputs have {} axes.",
                    first.len()
                )
            } else {
                format!("All axes except axis {axis} must match.")
            };
            self.diags.push(diag.with_help(help));
            return None;
        }
        Some((LayerOp::Concat { axis }, out))
    }
}

/// The op and shape of `lhs ⊕ rhs` for two tensors, or a mismatch diagnostic.
pub fn arith(op: Arith, lhs: &In, rhs: &In, span: Span, diags: &mut Diagnostics) -> Built {
    match broadcast(lhs.shape, rhs.shape) {
        Some(shape) => Some((LayerOp::Arith(op), shape)),
        None => {
            let sym = match op {
                Arith::Add => "+",
                Arith::Sub => "-",
                Arith::Mul => "*",
                Arith::Div => "/",
            };
            diags.push(
                Diagnostic::error(
                    codes::SHAPE_MISMATCH,
                    format!("shape mismatch in `{sym}`: {} and {}", show(lhs.shape), show(rhs.shape)),
                )
                .with_label(lhs.span, format!("shape {}", show(lhs.shape)))
                .with_label(rhs.span, format!("shape {}", show(rhs.shape)))
                .with_help(format!(
                    "Elementwise operators need equal shapes, or shapes that broadcast (each axis equal or 1, aligned at the last axis){}.",
                    if lhs.shape.len() == rhs.shape.len() && lhs.shape.first() != rhs.shape.first() {
                        "; a 1x1 `conv` can change the channel count of a skip connection"
                    } else {
                        ""
                    }
                )),
            );
            let _ = span;
            None
        }
    }
}

/// Checks what the signature alone cannot: a uniform range must be non-empty.
pub fn check_init(init: &Init, span: Span, diags: &mut Diagnostics) -> bool {
    if let Init::Uniform { low, high } = init {
        if low >= high {
            diags.push(
                Diagnostic::error(
                    codes::INIT_INVALID,
                    format!("`uniform` needs low < high, found low {low} and high {high}"),
                )
                .with_label(span, "empty range")
                .with_help("Write `uniform(low: -0.05, high: 0.05)`."),
            );
            return false;
        }
    }
    true
}

/// An [`Init`] from a checked constructor call.
/// The typed scheme of an init option; a constructor that does not fit its typed form (a
/// schema row without one) is reported at the option.
pub(super) fn typed_init(c: &Ctor, at: Span, diags: &mut Diagnostics) -> Option<Init> {
    match Init::from_ctor(c) {
        Ok(init) => Some(init),
        Err(unfit) => {
            diags.push(
                Diagnostic::error(codes::ARG_TYPE, format!("init scheme: {unfit}"))
                    .with_label(at, "here")
                    .with_help("This is a bug in nnc's schema; please report it with the spec."),
            );
            None
        }
    }
}

/// A divisor of `c` near `g`, to suggest in a help line.
fn divisor_near(c: u64, g: u64) -> u64 {
    (1..=g.min(c))
        .rev()
        .find(|d| c.is_multiple_of(*d))
        .unwrap_or(1)
}
