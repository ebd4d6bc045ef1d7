//! Convolutions run block by block: the three products of a convolution layer (forward,
//! input gradient, weight gradient) without the unfolded matrix of the whole batch.
//!
//! The IR spells a convolution `MatMul(W, Im2Col(x))` and its gradients
//! `Sum_n MatMul(dY, Im2Col(x)^T)` and `Col2Im(MatMul(W^T, dY))` (docs/ir.md). Run as
//! written, the unfolded matrix `[N, C·kh·kw, OH·OW]` makes a round trip through memory
//! between two passes (20 MB for W2's second layer at batch 64, written in the forward pass
//! and read again in the backward pass). A [`Conv`] step instead unfolds one image a block
//! of output rows at a time into a scratch buffer of at most [`BLOCK_FLOATS`], which stays in
//! the L2 cache while the GEMM reads it: forward, `Y_n[:, block] = W · U`; weight gradient,
//! `dW += dY_n[:, block] · U^T`; input gradient, `U = W^T · dY_n[:, block]` folded back into
//! `dX_n` at once. The weight gradient accumulates in place instead of writing `N` products
//! and summing them.
//!
//! Threads: the forward pass and the input gradient give each thread half of the images
//! (the forward pass of one image, half of its row blocks); the weight gradient always sums
//! the images in two fixed halves, each into its own accumulator, and adds the second to the
//! first. The partition and the order of every sum are fixed by the shapes, never by the
//! thread count, so one and two threads give the same bits.

use super::level::{self, Level};
use super::{conv, BufId, Operand, Window};
use gemm::Parallelism;
use std::ops::Range;

/// The most floats a block of the unfolded matrix holds (256 KiB: half of the L2 cache of
/// the Zen 3 this was tuned on, leaving room for the GEMM's packed weights).
pub const BLOCK_FLOATS: usize = 1 << 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvKind {
    /// `out[n] = weight · unfold(image[n])`.
    Forward,
    /// `image[n] = fold(weight · out[n])`, `weight` being `W^T`; `image` is written.
    InputGrad,
    /// `weight = Σ_n out[n] · unfold(image[n])^T`; `weight` is written.
    WeightGrad,
}

/// One convolution product, run block by block (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    pub kind: ConvKind,
    /// The image geometry (`[N, C, H, W]`, kernel, stride, padding, dilation, pad value).
    pub window: Window,
    /// Output channels: the rows of `W`.
    pub filters: usize,
    /// The image, contiguous from offset 0: read, or written by the input gradient.
    pub image: BufId,
    /// `W` as `[filters, C·kh·kw]` (forward; written contiguous by the weight gradient) or
    /// `W^T` as `[C·kh·kw, filters]` (input gradient).
    pub weight: Operand,
    /// `[N, filters, OH·OW]`: written by the forward pass, read by the gradients
    /// (`batch_strides[0]` is the stride between images).
    pub out: Operand,
    /// Output rows per block.
    pub rows: usize,
}

impl Conv {
    pub fn new(
        kind: ConvKind,
        window: Window,
        filters: usize,
        image: BufId,
        weight: Operand,
        out: Operand,
    ) -> Conv {
        let [oh, ow] = window.output();
        let patch = patch(&window);
        let rows = (BLOCK_FLOATS / (patch * ow).max(1)).clamp(1, oh.max(1));
        Conv {
            kind,
            window,
            filters,
            image,
            weight,
            out,
            rows,
        }
    }

    /// Multiply-adds of the whole product.
    pub fn work(&self) -> usize {
        let [oh, ow] = self.window.output();
        self.window.image[0] * self.filters * patch(&self.window) * oh * ow
    }

    /// Floats of one block of unfolded columns.
    pub fn block_floats(&self) -> usize {
        patch(&self.window) * self.rows * self.window.output()[1]
    }

    /// Floats of the weight matrix.
    pub fn weight_len(&self) -> usize {
        self.filters * patch(&self.window)
    }

    /// Scratch floats each of the two parts needs: one block, and for the weight gradient
    /// the second part's accumulator.
    pub fn scratch(&self) -> usize {
        match self.kind {
            ConvKind::WeightGrad => self.block_floats() + self.weight_len(),
            _ => self.block_floats(),
        }
    }

    fn blocks(&self) -> usize {
        self.window.output()[0].div_ceil(self.rows)
    }

    /// The output rows of block `b`.
    fn block(&self, b: usize) -> Range<usize> {
        let oh = self.window.output()[0];
        b * self.rows..((b + 1) * self.rows).min(oh)
    }

    /// How the work splits into two parts (each a list of images and row blocks), fixed by
    /// the shapes: by images, or, for one image in the forward pass, by row blocks.
    /// `None`: one part.
    pub fn halves(&self) -> Option<[(Range<usize>, Range<usize>); 2]> {
        let (n, blocks) = (self.window.image[0], self.blocks());
        if n >= 2 {
            Some([(0..n / 2, 0..blocks), (n / 2..n, 0..blocks)])
        } else if self.kind == ConvKind::Forward && blocks >= 2 {
            Some([(0..1, 0..blocks / 2), (0..1, blocks / 2..blocks)])
        } else {
            None
        }
    }
}

fn patch(w: &Window) -> usize {
    w.image[1] * w.kernel[0] * w.kernel[1]
}

/// Base pointers of a step's buffers.
#[derive(Clone, Copy)]
pub(super) struct Ptrs {
    pub image: *mut f32,
    pub weight: *mut f32,
    pub out: *mut f32,
}
unsafe impl Send for Ptrs {}
unsafe impl Sync for Ptrs {}

/// Runs part `images` x `blocks` of `c` with `scratch` (at least [`Conv::block_floats`]
/// floats). The weight gradient's part writes its sum to `acc` (the weight buffer, or the
/// second part's accumulator: contiguous `[filters, C·kh·kw]`).
///
/// # Safety
/// The pointers hold the step's operands; parts that run concurrently write disjoint memory.
pub(super) unsafe fn run_part(
    c: &Conv,
    p: Ptrs,
    images: Range<usize>,
    blocks: Range<usize>,
    scratch: *mut f32,
    acc: *mut f32,
) {
    let w = &c.window;
    let [_, ow] = w.output();
    let patch = patch(w);
    let image_len = w.image[1] * w.image[2] * w.image[3];
    let lvl = level::level();
    let unfolded = std::slice::from_raw_parts_mut(scratch, c.block_floats());
    let mut first = true;
    for n in images {
        let image = p.image.add(n * image_len);
        let out_n = p
            .out
            .offset(n as isize * c.out.batch_strides[0] + c.out.offset);
        if c.kind == ConvKind::InputGrad {
            std::slice::from_raw_parts_mut(image, image_len).fill(0.0);
        }
        for b in blocks.clone() {
            let rows = c.block(b);
            let len = rows.len() * ow;
            // Column `y0·OW` of this image's output.
            let out_block = out_n.offset((rows.start * ow) as isize * c.out.cs);
            let u = &mut unfolded[..patch * len];
            match c.kind {
                ConvKind::Forward => {
                    let image = std::slice::from_raw_parts(image, image_len);
                    conv::unfold(image, w, rows, u);
                    product(
                        lvl,
                        (c.filters, len, patch),
                        (out_block, c.out.cs, c.out.rs),
                        (p.weight.offset(c.weight.offset), c.weight.cs, c.weight.rs),
                        (u.as_ptr(), 1, len as isize),
                        false,
                    );
                }
                ConvKind::WeightGrad => {
                    let image = std::slice::from_raw_parts(image, image_len);
                    conv::unfold(image, w, rows, u);
                    product(
                        lvl,
                        (c.filters, patch, len),
                        (acc, 1, patch as isize),
                        (out_block, c.out.cs, c.out.rs),
                        // U^T: U is [patch, len] row-major.
                        (u.as_ptr(), len as isize, 1),
                        !first,
                    );
                    first = false;
                }
                ConvKind::InputGrad => {
                    product(
                        lvl,
                        (patch, len, c.filters),
                        (u.as_mut_ptr(), 1, len as isize),
                        (p.weight.offset(c.weight.offset), c.weight.cs, c.weight.rs),
                        (out_block, c.out.cs, c.out.rs),
                        false,
                    );
                    let image = std::slice::from_raw_parts_mut(image, image_len);
                    conv::fold(u, w, rows, image);
                }
            }
        }
    }
    if first && c.kind == ConvKind::WeightGrad {
        // No image in this part: its sum is zero.
        std::slice::from_raw_parts_mut(acc, c.filters * patch).fill(0.0);
    }
}

/// `dst (+)= lhs · rhs`, operands as (pointer, column stride, row stride).
unsafe fn product(
    lvl: Level,
    mnk: (usize, usize, usize),
    dst: (*mut f32, isize, isize),
    lhs: (*const f32, isize, isize),
    rhs: (*const f32, isize, isize),
    accumulate: bool,
) {
    level::gemm_f32(lvl, mnk, dst, lhs, rhs, accumulate, Parallelism::None);
}

/// Adds the second half's accumulator to the weight gradient.
///
/// # Safety
/// `weight` and `acc` hold `len` floats each.
pub(super) unsafe fn add_halves(weight: *mut f32, acc: *const f32, len: usize) {
    let (w, a) = (
        std::slice::from_raw_parts_mut(weight, len),
        std::slice::from_raw_parts(acc, len),
    );
    for (w, a) in w.iter_mut().zip(a) {
        *w += a;
    }
}
