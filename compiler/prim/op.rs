//! The closed set of primitive operations.
//!
//! Every concern of the primitive IR (shape inference, interpretation, differentiation,
//! text form) is one exhaustive `match` over [`Op`]; adding a variant is a compile-error
//! driven checklist. `docs/ir.md` has the table of semantics, shape and gradient rules.

/// Geometry of an [`Op::Im2Col`] / [`Op::Col2Im`] pair on an `[N, C, H, W]` image.
///
/// Output positions along an axis: [`nnc_runtime::window::out_size`] (floor mode). Padding
/// is asymmetric so that ceil-mode pooling (Caffe) lowers exactly by adding the missing rows
/// to `pad` bottom/right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvGeom {
    /// Kernel extent `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Stride `[sh, sw]`, each at least 1.
    pub stride: [usize; 2],
    /// Padding `[top, left, bottom, right]`.
    pub pad: [usize; 4],
    /// Dilation `[dh, dw]`, each at least 1.
    pub dilation: [usize; 2],
    /// Value read at padded positions by `Im2Col` (0 for convolution, -inf for max
    /// pooling). `Col2Im` ignores it: padded positions receive nothing.
    pub pad_value: f64,
}

impl ConvGeom {
    /// A square kernel with the given stride and symmetric padding, no dilation, zero
    /// padding value: the common convolution case.
    pub fn square(kernel: usize, stride: usize, pad: usize) -> ConvGeom {
        ConvGeom {
            kernel: [kernel, kernel],
            stride: [stride, stride],
            pad: [pad; 4],
            dilation: [1, 1],
            pad_value: 0.0,
        }
    }

    /// Output size `[OH, OW]` for an `[H, W]` image, or `None` when the dilated kernel
    /// does not fit into the padded image (or a stride/dilation is zero).
    pub fn output_size(&self, height: usize, width: usize) -> Option<[usize; 2]> {
        let axis = |size: usize, k: usize, s: usize, d: usize, lo: usize, hi: usize| {
            let u = |v: usize| v as u64;
            nnc_runtime::window::out_size(u(size), u(k), u(s), u(lo), u(hi), u(d))
                .and_then(|v| usize::try_from(v).ok())
        };
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.stride;
        let [dh, dw] = self.dilation;
        let [top, left, bottom, right] = self.pad;
        Some([
            axis(height, kh, sh, dh, top, bottom)?,
            axis(width, kw, sw, dw, left, right)?,
        ])
    }
}

/// A primitive operation. Operands are the node's `inputs`; the node's `shape` is the
/// result shape and, for `Input`, `Param`, `Const`, `RandUniform`, `Reshape`,
/// `Broadcast` and `Col2Im`, also the operation's target shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    // Leaves.
    /// A value fed on every call (a batch of data, labels, a learning rate).
    Input {
        name: String,
    },
    /// Persistent state: weights, running statistics, optimizer moments.
    Param {
        name: String,
    },
    /// `value` in every element.
    Const {
        value: f64,
    },
    /// U[0, 1) per element from a counter-based hash of (seed, step, stream, index);
    /// see [`nnc_runtime::rng::uniform`].
    RandUniform {
        stream: u32,
    },

    // Unary elementwise.
    Exp,
    /// Natural logarithm.
    Log,
    Sqrt,
    /// `1 / x`.
    Recip,
    /// -1 for x < 0, 1 for x > 0; 0, -0 and NaN map to themselves.
    Sign,
    /// Identity forward, zero gradient (straight-through estimators).
    StopGrad,

    // Binary elementwise on equal shapes.
    Add,
    Mul,
    /// Elementwise maximum; NaN if either side is NaN.
    Max,
    /// 1 where `a > b`, else 0.
    CmpGt,

    // Reductions; reduced axes are kept with size 1. `axes` is strictly increasing.
    Sum {
        axes: Vec<usize>,
    },
    MaxReduce {
        axes: Vec<usize>,
    },

    // Movement.
    /// Same elements in row-major order, new shape.
    Reshape,
    /// `out.shape[i] = in.shape[perm[i]]`.
    Permute {
        perm: Vec<usize>,
    },
    /// Size-1 axes repeated to the node shape (same rank).
    Broadcast,
    /// `start..end` along `axis`.
    Slice {
        axis: usize,
        start: usize,
        end: usize,
    },
    /// Zeros added before and after along `axis`.
    Pad {
        axis: usize,
        before: usize,
        after: usize,
    },
    /// Inputs joined along `axis`.
    Concat {
        axis: usize,
    },

    // Compute.
    /// `[..., m, k] x [..., k, n] -> [..., m, n]`; batch dims equal, or one side rank 2.
    MatMul,
    /// `[N, C, H, W] -> [N, C*kh*kw, OH*OW]`; row `c*kh*kw + i*kw + j`, column `oh*OW + ow`.
    Im2Col(ConvGeom),
    /// The adjoint of `Im2Col`: scatter-add `[N, C*kh*kw, OH*OW] -> [N, C, H, W]`.
    Col2Im(ConvGeom),
}

/// The families of [`Op`] (docs/ir.md's table groups them the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpClass {
    /// No inputs: data, parameters, constants, random numbers.
    Leaf,
    /// One input, same shape, element by element.
    Unary,
    /// Two inputs of equal shape, element by element.
    Binary,
    /// Sums or maxima over axes.
    Reduce,
    /// Elements moved, repeated or dropped, never computed.
    Movement,
    MatMul,
    /// Convolution unfolding and its adjoint.
    Window,
}

/// How many inputs an op takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    Exactly(usize),
    AtLeast(usize),
}

impl Op {
    /// The variant name as printed in the text form.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "Input",
            Op::Param { .. } => "Param",
            Op::Const { .. } => "Const",
            Op::RandUniform { .. } => "RandUniform",
            Op::Exp => "Exp",
            Op::Log => "Log",
            Op::Sqrt => "Sqrt",
            Op::Recip => "Recip",
            Op::Sign => "Sign",
            Op::StopGrad => "StopGrad",
            Op::Add => "Add",
            Op::Mul => "Mul",
            Op::Max => "Max",
            Op::CmpGt => "CmpGt",
            Op::Sum { .. } => "Sum",
            Op::MaxReduce { .. } => "MaxReduce",
            Op::Reshape => "Reshape",
            Op::Permute { .. } => "Permute",
            Op::Broadcast => "Broadcast",
            Op::Slice { .. } => "Slice",
            Op::Pad { .. } => "Pad",
            Op::Concat { .. } => "Concat",
            Op::MatMul => "MatMul",
            Op::Im2Col(_) => "Im2Col",
            Op::Col2Im(_) => "Col2Im",
        }
    }

    /// The op's family, by one exhaustive match: every grouping below (arity, elementwise,
    /// movement...) derives from it, so a new op is classified in exactly one place.
    pub fn class(&self) -> OpClass {
        match self {
            Op::Input { .. } | Op::Param { .. } | Op::Const { .. } | Op::RandUniform { .. } => {
                OpClass::Leaf
            }
            Op::Exp | Op::Log | Op::Sqrt | Op::Recip | Op::Sign | Op::StopGrad => OpClass::Unary,
            Op::Add | Op::Mul | Op::Max | Op::CmpGt => OpClass::Binary,
            Op::Sum { .. } | Op::MaxReduce { .. } => OpClass::Reduce,
            Op::Reshape
            | Op::Permute { .. }
            | Op::Broadcast
            | Op::Slice { .. }
            | Op::Pad { .. }
            | Op::Concat { .. } => OpClass::Movement,
            Op::MatMul => OpClass::MatMul,
            Op::Im2Col(_) | Op::Col2Im(_) => OpClass::Window,
        }
    }

    pub fn arity(&self) -> Arity {
        match self.class() {
            OpClass::Leaf => Arity::Exactly(0),
            OpClass::Unary | OpClass::Reduce | OpClass::Window => Arity::Exactly(1),
            OpClass::Binary | OpClass::MatMul => Arity::Exactly(2),
            OpClass::Movement => match self {
                Op::Concat { .. } => Arity::AtLeast(1),
                _ => Arity::Exactly(1),
            },
        }
    }

    /// Whether the node's own shape is an operand of the op (it cannot be inferred from
    /// the inputs alone).
    pub fn takes_shape(&self) -> bool {
        matches!(
            self,
            Op::Input { .. }
                | Op::Param { .. }
                | Op::Const { .. }
                | Op::RandUniform { .. }
                | Op::Reshape
                | Op::Broadcast
                | Op::Col2Im(_)
        )
    }

    pub fn is_leaf(&self) -> bool {
        matches!(self.arity(), Arity::Exactly(0))
    }

    pub fn is_unary_elementwise(&self) -> bool {
        self.class() == OpClass::Unary
    }

    pub fn is_binary_elementwise(&self) -> bool {
        self.class() == OpClass::Binary
    }

    /// Unary or binary elementwise: what the JIT fuses into loop kernels.
    pub fn is_elementwise(&self) -> bool {
        matches!(self.class(), OpClass::Unary | OpClass::Binary)
    }

    pub fn is_reduce(&self) -> bool {
        self.class() == OpClass::Reduce
    }

    pub fn is_movement(&self) -> bool {
        self.class() == OpClass::Movement
    }

    pub fn is_commutative(&self) -> bool {
        matches!(self, Op::Add | Op::Mul | Op::Max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_size_floor_mode_and_asymmetric_pad() {
        // 5x5, k3 s2 p0: floor((5-3)/2)+1 = 2.
        assert_eq!(ConvGeom::square(3, 2, 0).output_size(5, 5), Some([2, 2]));
        // Caffe ceil mode for 6 with k3 s2: ceil((6-3)/2)+1 = 3, floor gives 2; one extra
        // bottom/right row recovers it.
        let mut geom = ConvGeom::square(3, 2, 0);
        assert_eq!(geom.output_size(6, 6), Some([2, 2]));
        geom.pad = [0, 0, 1, 1];
        assert_eq!(geom.output_size(6, 6), Some([3, 3]));
        // Dilation 2 makes a 3-kernel span 5.
        geom = ConvGeom::square(3, 1, 0);
        geom.dilation = [2, 2];
        assert_eq!(geom.output_size(5, 4), None);
        assert_eq!(geom.output_size(5, 5), Some([1, 1]));
        assert_eq!(ConvGeom::square(3, 0, 0).output_size(5, 5), None);
    }
}
