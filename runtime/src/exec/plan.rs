//! What the compiler hands the executor: a [`Plan`] of buffers and [`Step`]s, and the
//! descriptions of its products ([`Gemm`]) and convolution windows ([`Window`]).

use super::{Conv, ConvKind, Lookup};

/// A JIT-compiled loop kernel: `bufs` holds one base pointer per buffer the kernel names
/// (in its own order), `[begin, end)` is the part of its outermost loop to run, and `seed`
/// and `step` feed its counter-based random numbers.
pub type KernelFn =
    unsafe extern "C" fn(bufs: *const *mut f32, begin: i64, end: i64, seed: i64, step: i64);

/// Index of a buffer in [`Plan::bufs`].
pub type BufId = usize;

/// Where a buffer lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// At this offset (in f32 elements) in the executor's arena.
    Arena(usize),
    /// Bound by the caller for each run (inputs, parameters, state, outputs).
    Slot(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buf {
    pub loc: Loc,
    /// Length in f32 elements.
    pub len: usize,
}

/// A strided 2-D operand of a matrix product, possibly repeated over batch dimensions.
#[derive(Clone, Debug, PartialEq)]
pub struct Operand {
    pub buf: BufId,
    pub offset: isize,
    /// Row and column strides, in elements.
    pub rs: isize,
    pub cs: isize,
    /// Stride of each batch dimension (0: shared by every batch entry).
    pub batch_strides: Vec<isize>,
}

/// `c = a · b` for `m x k` times `k x n`, for every index of the batch dimensions.
#[derive(Clone, Debug, PartialEq)]
pub struct Gemm {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub batch: Vec<usize>,
    pub a: Operand,
    pub b: Operand,
    pub c: Operand,
    /// Both operands are scaled sign tensors (a binary layer's product): run the
    /// bit-packed kernel ([`xnor::ternary_dots`]) when every row of `a` and column of `b`
    /// packs, else this same product in f32.
    pub binary: bool,
    /// Operands that do not change until [`Executor::params_changed`] (weights of an
    /// inference program): a binary product packs them once.
    pub a_static: bool,
    pub b_static: bool,
}

impl Gemm {
    /// Offsets of batch entry `flat` (a flat index over `batch`) in `a`, `b` and `c`.
    pub(super) fn entry_offsets(&self, flat: usize) -> (isize, isize, isize) {
        let (mut oa, mut ob, mut oc) = (0isize, 0isize, 0isize);
        let mut rest = flat;
        for d in (0..self.batch.len()).rev() {
            let i = (rest % self.batch[d]) as isize;
            rest /= self.batch[d];
            oa += i * self.a.batch_strides[d];
            ob += i * self.b.batch_strides[d];
            oc += i * self.c.batch_strides[d];
        }
        (oa, ob, oc)
    }
}

/// Window geometry of [`Step::Im2Col`] and [`Step::Col2Im`] (the IR's `ConvGeom`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// [batch, channels, height, width] of the image.
    pub image: [usize; 4],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// [top, left, bottom, right]
    pub pad: [usize; 4],
    pub dilation: [usize; 2],
    pub pad_value: f32,
}

impl Window {
    /// `[OH, OW]`. The plan's windows come from the IR's `ConvGeom`, whose output size was
    /// checked when the graph was built, so a window that does not fit cannot reach here
    /// (it would read as 0 positions).
    pub fn output(&self) -> [usize; 2] {
        let axis = |a: usize| {
            let u = |v: usize| v as u64;
            crate::window::out_size(
                u(self.image[2 + a]),
                u(self.kernel[a]),
                u(self.stride[a]),
                u(self.pad[a]),
                u(self.pad[2 + a]),
                u(self.dilation[a]),
            )
            .map_or(0, |v| v as usize)
        };
        [axis(0), axis(1)]
    }
}

/// A compiled loop kernel and the buffers it names.
#[derive(Clone, Debug)]
pub struct Kernel {
    pub f: KernelFn,
    pub bufs: Vec<BufId>,
    /// Length of the outermost loop.
    pub extent: usize,
    /// Run the outer range in two halves on two threads.
    pub split: bool,
}

/// One step of a plan, generic over how a fused loop (`K`) and a matrix product (`G`) are
/// given: the executor runs `Step` (compiled [`Kernel`]s, resolved [`Gemm`] operands); the
/// JIT's scheduler builds the same steps over its own loop and product descriptions
/// (`jit::schedule::Task`) and compiles them with [`Step::map`]. Every other step is the
/// same in both, so a new kind of step is added once.
#[derive(Clone, Debug, PartialEq)]
pub enum Step<K = Kernel, G = Gemm> {
    /// A fused loop (elementwise, broadcast, reduction chains).
    Kernel(K),
    Gemm(G),
    /// `dst [N, C·kh·kw, OH·OW] <- src [N, C, H, W]` (both contiguous); `positions_major`:
    /// `dst` is stored `[N, OH·OW, C·kh·kw]` instead.
    Im2Col {
        src: BufId,
        dst: BufId,
        window: Window,
        positions_major: bool,
    },
    /// The adjoint: scatter-adds columns back into a zeroed image.
    Col2Im {
        src: BufId,
        dst: BufId,
        window: Window,
    },
    /// A convolution product run block by block (`convolve.rs`).
    Conv(Conv),
    /// Rows of a table gathered by id, or scattered back (`lookup.rs`).
    Lookup(Lookup),
    Fill {
        buf: BufId,
        value: f32,
    },
}

/// What a fused loop or a product reads and writes, for the liveness of buffers.
pub trait Buffers {
    fn reads(&self) -> Vec<BufId>;
    fn writes(&self) -> BufId;
}

impl<K: Buffers, G: Buffers> Step<K, G> {
    /// The buffers the step reads.
    pub fn reads(&self) -> Vec<BufId> {
        match self {
            Step::Kernel(k) => k.reads(),
            Step::Gemm(g) => g.reads(),
            Step::Im2Col { src, .. } | Step::Col2Im { src, .. } => vec![*src],
            Step::Conv(c) => match c.kind {
                ConvKind::Forward => vec![c.image, c.weight.buf],
                ConvKind::WeightGrad => vec![c.image, c.out.buf],
                ConvKind::InputGrad => vec![c.weight.buf, c.out.buf],
            },
            Step::Lookup(l) => vec![l.data, l.ids],
            Step::Fill { .. } => vec![],
        }
    }

    /// The buffer the step writes.
    pub fn writes(&self) -> BufId {
        match self {
            Step::Kernel(k) => k.writes(),
            Step::Gemm(g) => g.writes(),
            Step::Im2Col { dst, .. } | Step::Col2Im { dst, .. } => *dst,
            Step::Conv(c) => match c.kind {
                ConvKind::Forward => c.out.buf,
                ConvKind::WeightGrad => c.weight.buf,
                ConvKind::InputGrad => c.image,
            },
            Step::Lookup(l) => l.out,
            Step::Fill { buf, .. } => *buf,
        }
    }
}

impl<K, G> Step<K, G> {
    /// The same step with its loop kernel and product turned into another form (the JIT
    /// compiles its schedule this way); every other step is copied.
    pub fn map<K2, G2, E>(
        &self,
        kernel: impl FnOnce(&K) -> Result<K2, E>,
        gemm: impl FnOnce(&G) -> G2,
    ) -> Result<Step<K2, G2>, E> {
        Ok(match self {
            Step::Kernel(k) => Step::Kernel(kernel(k)?),
            Step::Gemm(g) => Step::Gemm(gemm(g)),
            Step::Im2Col {
                src,
                dst,
                window,
                positions_major,
            } => Step::Im2Col {
                src: *src,
                dst: *dst,
                window: *window,
                positions_major: *positions_major,
            },
            Step::Col2Im { src, dst, window } => Step::Col2Im {
                src: *src,
                dst: *dst,
                window: *window,
            },
            Step::Conv(c) => Step::Conv(c.clone()),
            Step::Lookup(l) => Step::Lookup(l.clone()),
            Step::Fill { buf, value } => Step::Fill {
                buf: *buf,
                value: *value,
            },
        })
    }
}

/// A compiled program: buffers and steps.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub bufs: Vec<Buf>,
    pub arena_len: usize,
    pub steps: Vec<Step>,
    /// Length of every slot, which the caller must bind.
    pub slots: Vec<usize>,
}
