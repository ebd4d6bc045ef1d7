//! The kernel IR, one level below the primitive IR: loop nests over strided views.
//!
//! A [`LoopKernel`] computes one tensor: for every index of its `outer` dimensions (and, for
//! a reduction, every index of its `inner` dimensions), it evaluates a small SSA `body` of
//! scalar instructions over `loads` (strided reads of buffers, or counter-based random
//! numbers), reduces over `inner` if asked, and stores the result through the strided
//! `out` view. Broadcasting is a zero stride; transposes and slices are strides and
//! offsets. Codegen (`clif.rs`) turns one kernel into one Cranelift function.

use std::fmt;

/// A strided view of a buffer: element `(i0, i1, ...)` is at
/// `offset + i0 * strides[0] + i1 * strides[1] + ...` (in f32 elements).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct View {
    pub buf: usize,
    pub offset: isize,
    pub shape: Vec<usize>,
    pub strides: Vec<isize>,
}

impl View {
    pub fn contiguous(buf: usize, shape: &[usize]) -> View {
        View {
            buf,
            offset: 0,
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
        }
    }

    /// Whether the view reads its buffer's elements in row-major order from its offset.
    pub fn is_contiguous(&self) -> bool {
        let natural = contiguous_strides(&self.shape);
        self.shape
            .iter()
            .zip(self.strides.iter().zip(&natural))
            .all(|(d, (s, n))| *d == 1 || s == n)
    }
}

pub fn contiguous_strides(shape: &[usize]) -> Vec<isize> {
    let mut strides = vec![0isize; shape.len()];
    let mut acc = 1isize;
    for d in (0..shape.len()).rev() {
        strides[d] = acc;
        acc *= shape[d] as isize;
    }
    strides
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    Exp,
    Log,
    Sqrt,
    Recip,
    Sign,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Mul,
    Max,
    CmpGt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum,
    Max,
}

/// What a load reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// A buffer through a strided view (strides over the kernel's outer ++ inner dims).
    Buffer(View),
    /// `RandUniform{stream}`: the element index is `offset + Σ i_d · strides[d]` (the
    /// node's own row-major position, whatever the kernel's loop order).
    Rand {
        stream: u32,
        offset: isize,
        strides: Vec<isize>,
    },
}

/// One scalar instruction; operands are indices of earlier instructions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Inst {
    Load(usize),
    Const(f32),
    Unary(UnOp, usize),
    Binary(BinOp, usize, usize),
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoopKernel {
    pub outer: Vec<usize>,
    /// Extents of the reduced dimensions (empty for an elementwise kernel).
    pub inner: Vec<usize>,
    pub reduce: Option<ReduceOp>,
    pub loads: Vec<Source>,
    /// The value at one index is the last instruction.
    pub body: Vec<Inst>,
    /// Strides over the outer dimensions.
    pub out: View,
    /// The spec layer the kernel computes (for dumps).
    pub origin: String,
}

impl LoopKernel {
    pub fn elements(&self) -> usize {
        self.outer.iter().product::<usize>() * self.inner.iter().product::<usize>()
    }
}

impl fmt::Display for LoopKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "loop {:?}", self.outer)?;
        if let Some(r) = self.reduce {
            write!(f, " {r:?} over {:?}", self.inner)?;
        }
        writeln!(
            f,
            " -> b{}{:?}+{}  // {}",
            self.out.buf, self.out.strides, self.out.offset, self.origin
        )?;
        for (i, l) in self.loads.iter().enumerate() {
            match l {
                Source::Buffer(v) => {
                    writeln!(f, "    in{i} = b{}{:?}+{}", v.buf, v.strides, v.offset)?
                }
                Source::Rand {
                    stream,
                    strides,
                    offset,
                } => writeln!(f, "    in{i} = rand{{stream={stream}}}{strides:?}+{offset}")?,
            }
        }
        for (i, inst) in self.body.iter().enumerate() {
            match inst {
                Inst::Load(l) => writeln!(f, "    v{i} = in{l}")?,
                Inst::Const(c) => writeln!(f, "    v{i} = {c:?}")?,
                Inst::Unary(op, a) => writeln!(f, "    v{i} = {op:?} v{a}")?,
                Inst::Binary(op, a, b) => writeln!(f, "    v{i} = {op:?} v{a}, v{b}")?,
            }
        }
        Ok(())
    }
}
