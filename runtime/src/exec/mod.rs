//! The executor of compiled programs: a list of steps over f32 buffers.
//!
//! The compiler turns a training step (or a forward pass) into a [`Plan`]: where every
//! tensor lives (an offset in one arena, or a slot the caller binds: inputs, parameters,
//! state) and the steps that compute them, in order: JIT-compiled loop kernels (fused
//! elementwise and reduction chains; the compiler owns their machine code), matrix products
//! (the `gemm` crate), convolution unfolding (`Im2Col`/`Col2Im`, here in Rust), and fills.
//! This crate knows nothing about the IR: a step is a function pointer or a library call
//! with buffer indices, offsets and strides.
//!
//! Threads: a kernel step marked `split` runs its outer range in two halves on two threads
//! (each output element is computed by exactly one thread, with the same code, so results
//! do not depend on the split); products and unfoldings split by batch entries or rows.
//! The second half runs on the executor's own spinning partner thread (`partner.rs`);
//! only a single product above `GEMM_PARALLEL_WORK` uses `gemm`'s rayon mode. A fixed
//! plan and thread count give bit-identical results.

mod conv;
mod convolve;
pub mod level;
pub mod lookup;
mod partner;
mod plan;
pub mod xnor;

pub use convolve::{Conv, ConvKind};
use gemm::Parallelism;
pub use lookup::{Lookup, LookupKind};
pub use plan::{Buf, BufId, Buffers, Gemm, Kernel, KernelFn, Loc, Operand, Plan, Step, Window};

/// Matrix products (m·n·k, summed over the batch) at least this large run on two threads:
/// whole batch entries per thread, or half the rows (columns) of one product each; below,
/// waking the second thread costs more than it saves (measured: docs/performance.md; at
/// 2^20 with rayon's sleeping workers the batch-1 convnet's 32x196x400 product split and
/// its latency rose from 138 to about 200 us; with the spinning partner thread, 2^18 pays
/// for W1 and digits and leaves W4's 2^17 products on one thread).
pub const GEMM_SPLIT_WORK: usize = 1 << 18;

/// Convolution unfoldings of at least this many patch elements run on two threads.
pub const SPLIT_UNFOLD: usize = 1 << 16;

/// A single product at least this large uses gemm's own two-thread blocking instead.
pub const GEMM_PARALLEL_WORK: usize = 256 * 256 * 256;

/// Runs a plan; owns the arena so steady-state runs allocate nothing.
pub struct Executor {
    plan: Plan,
    arena: Vec<f32>,
    threads: usize,
    /// A kernel step's pointer table, reused so that a run allocates nothing.
    table: KernelTable,
    /// Packed operands and integer dot products of binary products, reused.
    xnor: XnorScratch,
    stats: Stats,
    /// The second thread, when there are two and some step splits.
    partner: Option<partner::Partner>,
    /// Two parts' scratch of the convolution steps (blocks of unfolded columns).
    conv_scratch: Vec<f32>,
}

/// What the binary products of the runs so far did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Ran on packed bits.
    pub binary_packed: u64,
    /// Held values that do not pack, and ran in f32.
    pub binary_fallback: u64,
}

#[derive(Default)]
struct XnorScratch {
    a: xnor::Ternary,
    b: xnor::Ternary,
    dots: Vec<i32>,
    /// Packed static operands by (step index, 0 for `a` / 1 for `b`); cleared by
    /// [`Executor::params_changed`].
    packed: std::collections::HashMap<(usize, u8), xnor::Ternary>,
}

/// Kernel argument pointers, kept between runs only as reusable capacity.
struct KernelTable(Vec<*mut f32>);
// SAFETY: the pointers are only dereferenced by the step that filled them, during a run.
unsafe impl Send for KernelTable {}

/// A raw pointer that may cross to the second worker thread: the two halves of a split
/// kernel write disjoint elements.
#[derive(Clone, Copy)]
struct SendPtr(*const *mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl Executor {
    /// `threads` is 1 or 2 (more is treated as 2).
    pub fn new(plan: Plan, threads: usize) -> Executor {
        let arena = vec![0.0; plan.arena_len];
        let splits = plan.steps.iter().any(|s| match s {
            Step::Kernel(k) => k.split,
            // Binary products run on one thread.
            Step::Gemm(g) => {
                !g.binary && g.m * g.n * g.k * g.batch.iter().product::<usize>() >= GEMM_SPLIT_WORK
            }
            // Split by whole images (`per_image`): one image never splits.
            Step::Im2Col { window, .. } | Step::Col2Im { window, .. } => {
                window.image[0] >= 2 && unfold_work(window) >= SPLIT_UNFOLD
            }
            Step::Conv(c) => c.halves().is_some() && c.work() >= GEMM_SPLIT_WORK,
            _ => false,
        });
        let conv_part = plan
            .steps
            .iter()
            .map(|s| match s {
                Step::Conv(c) => c.scratch(),
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        Executor {
            plan,
            arena,
            threads: threads.clamp(1, 2),
            table: KernelTable(Vec::with_capacity(16)),
            xnor: XnorScratch::default(),
            stats: Stats::default(),
            partner: (threads > 1 && splits)
                .then(partner::Partner::new)
                .flatten(),
            conv_scratch: vec![0.0; 2 * conv_part],
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The static operands of binary products (see [`Gemm::a_static`]) have changed: the
    /// next run packs them again.
    pub fn params_changed(&mut self) {
        self.xnor.packed.clear();
    }

    /// Runs every step.
    ///
    /// # Safety
    /// `slots[i]` must point to `plan.slots[i]` valid, writable f32 elements, and the
    /// kernels' function pointers must still be alive (their JIT module not freed).
    pub unsafe fn run(&mut self, slots: &[*mut f32], seed: u64, step: u64) {
        assert_eq!(
            slots.len(),
            self.plan.slots.len(),
            "every slot must be bound"
        );
        let mut ptrs = std::mem::take(&mut self.table.0);
        let arena = self.arena.as_mut_ptr();
        let conv_scratch = SendF32(self.conv_scratch.as_mut_ptr());
        let base = |buf: BufId| -> *mut f32 {
            match self.plan.bufs[buf].loc {
                Loc::Arena(offset) => arena.add(offset),
                Loc::Slot(i) => slots[i],
            }
        };
        for (index, s) in self.plan.steps.iter().enumerate() {
            match s {
                Step::Kernel(Kernel {
                    f,
                    bufs,
                    extent,
                    split,
                }) => {
                    ptrs.clear();
                    ptrs.extend(bufs.iter().map(|b| base(*b)));
                    let extent = *extent as i64;
                    let (seed, step) = (seed as i64, step as i64);
                    if *split && self.threads > 1 && extent > 1 {
                        let mid = extent / 2;
                        let p = SendPtr(ptrs.as_ptr());
                        let f = *f;
                        self.join(
                            || f(p.0, 0, mid, seed, step),
                            move || {
                                let p = p;
                                f(p.0, mid, extent, seed, step)
                            },
                        );
                    } else {
                        f(ptrs.as_ptr(), 0, extent, seed, step);
                    }
                }
                Step::Gemm(g) if g.binary => {
                    let mut scratch = std::mem::take(&mut self.xnor);
                    if binary_gemm(g, index, &base, &mut scratch) {
                        self.stats.binary_packed += 1;
                    } else {
                        self.stats.binary_fallback += 1;
                        self.gemm(g, &base);
                    }
                    self.xnor = scratch;
                }
                Step::Gemm(g) => self.gemm(g, &base),
                Step::Im2Col {
                    src,
                    dst,
                    window,
                    positions_major,
                } => {
                    let (src, dst) = (SendF32(base(*src)), SendF32(base(*dst)));
                    self.per_image(window, |images| {
                        if *positions_major {
                            conv::im2col_positions(src.get(), dst.get(), window, images)
                        } else {
                            conv::im2col(src.get(), dst.get(), window, images)
                        }
                    });
                }
                Step::Col2Im { src, dst, window } => {
                    let (src, dst) = (SendF32(base(*src)), SendF32(base(*dst)));
                    self.per_image(window, |images| {
                        conv::col2im(src.get(), dst.get(), window, images)
                    });
                }
                Step::Conv(c) => {
                    let p = convolve::Ptrs {
                        image: base(c.image),
                        weight: base(c.weight.buf),
                        out: base(c.out.buf),
                    };
                    self.conv(c, p, conv_scratch);
                }
                Step::Lookup(l) => l.run(base(l.data), base(l.ids), base(l.out)),
                Step::Fill { buf, value } => {
                    let len = self.plan.bufs[*buf].len;
                    std::slice::from_raw_parts_mut(base(*buf), len).fill(*value);
                }
            }
        }
        self.table.0 = ptrs;
    }

    /// Runs `mine` here and `theirs` on the second thread (both here without one).
    fn join(&self, mine: impl FnOnce(), theirs: impl Fn() + Sync) {
        match &self.partner {
            Some(p) => p.join(mine, &theirs),
            None => {
                mine();
                theirs();
            }
        }
    }

    /// Runs `f` over the images of `w`: half of them on each thread when there are two
    /// threads and enough work.
    fn per_image(&self, w: &Window, f: impl Fn(std::ops::Range<usize>) + Sync) {
        let n = w.image[0];
        if self.threads > 1 && n >= 2 && unfold_work(w) >= SPLIT_UNFOLD {
            self.join(|| f(0..n / 2), || f(n / 2..n));
        } else {
            f(0..n);
        }
    }

    /// A convolution step: its two fixed parts on two threads when there is enough work.
    unsafe fn conv(&self, c: &Conv, p: convolve::Ptrs, s0: SendF32) {
        let part = self.conv_scratch.len() / 2;
        let s1 = SendF32(s0.get().add(part));
        let weight = SendF32(p.weight.offset(c.weight.offset));
        let n = c.window.image[0];
        let Some([(i0, b0), (i1, b1)]) = c.halves() else {
            let blocks = 0..c.window.output()[0].div_ceil(c.rows);
            convolve::run_part(c, p, 0..n, blocks, s0.get(), weight.get());
            return;
        };
        // The weight gradient's second half sums into its own accumulator.
        let grad = c.kind == ConvKind::WeightGrad;
        let acc1 = if grad {
            SendF32(s1.get().add(c.block_floats()))
        } else {
            weight
        };
        let first = || convolve::run_part(c, p, i0.clone(), b0.clone(), s0.get(), weight.get());
        let second = || convolve::run_part(c, p, i1.clone(), b1.clone(), s1.get(), acc1.get());
        if self.threads > 1 && c.work() >= GEMM_SPLIT_WORK {
            self.join(first, second);
        } else {
            first();
            second();
        }
        if grad {
            convolve::add_halves(weight.get(), acc1.get(), c.weight_len());
        }
    }

    unsafe fn gemm(&self, g: &Gemm, base: &impl Fn(BufId) -> *mut f32) {
        let (a0, b0, c0) = (
            SendF32(base(g.a.buf).offset(g.a.offset)),
            SendF32(base(g.b.buf).offset(g.b.offset)),
            SendF32(base(g.c.buf).offset(g.c.offset)),
        );
        let count: usize = g.batch.iter().product();
        let work = g.m * g.n * g.k;
        let two = self.threads > 1 && work * count >= GEMM_SPLIT_WORK;
        if !two {
            gemm_entries(g, a0, b0, c0, 0..count, Parallelism::None);
        } else if count >= 2 {
            // Whole batch entries to each thread.
            let mid = count / 2;
            self.join(
                || gemm_entries(g, a0, b0, c0, 0..mid, Parallelism::None),
                || gemm_entries(g, a0, b0, c0, mid..count, Parallelism::None),
            );
        } else if work >= GEMM_PARALLEL_WORK {
            gemm_entries(g, a0, b0, c0, 0..1, Parallelism::Rayon(self.threads));
        } else {
            // One product: each thread computes half of the rows (or columns) of `c`.
            let (mut lo, mut hi) = (g.clone(), g.clone());
            let (a1, b1, c1) = if g.m >= g.n {
                lo.m = g.m / 2;
                hi.m = g.m - lo.m;
                let rows = lo.m as isize;
                (
                    SendF32(a0.0.offset(rows * g.a.rs)),
                    b0,
                    SendF32(c0.0.offset(rows * g.c.rs)),
                )
            } else {
                lo.n = g.n / 2;
                hi.n = g.n - lo.n;
                let cols = lo.n as isize;
                (
                    a0,
                    SendF32(b0.0.offset(cols * g.b.cs)),
                    SendF32(c0.0.offset(cols * g.c.cs)),
                )
            };
            self.join(
                || gemm_entries(&lo, a0, b0, c0, 0..1, Parallelism::None),
                || gemm_entries(&hi, a1, b1, c1, 0..1, Parallelism::None),
            );
        }
    }
}

/// A binary product on packed operands, on one thread (step `index` of the plan). Returns
/// false if some row of `a` or column of `b` is not a scaled sign vector; the caller then
/// runs the f32 product.
unsafe fn binary_gemm(
    g: &Gemm,
    index: usize,
    base: &impl Fn(BufId) -> *mut f32,
    s: &mut XnorScratch,
) -> bool {
    let count: usize = g.batch.iter().product();
    let (a0, b0, c0) = (
        base(g.a.buf).offset(g.a.offset),
        base(g.b.buf).offset(g.b.offset),
        base(g.c.buf).offset(g.c.offset),
    );
    // An operand shared by every batch entry (a convolution's weights) is packed once per
    // run, or once per parameter change if it is static.
    let shared = |strides: &[isize]| strides.iter().all(|&s| s == 0);
    let (a_shared, b_shared) = (shared(&g.a.batch_strides), shared(&g.b.batch_strides));
    let (a_kept, b_kept) = (g.a_static && a_shared, g.b_static && b_shared);
    let mut a = if a_kept {
        s.packed.remove(&(index, 0))
    } else {
        None
    };
    let mut b = if b_kept {
        s.packed.remove(&(index, 1))
    } else {
        None
    };
    let (a_cached, b_cached) = (a.is_some(), b.is_some());
    s.dots.resize(g.m * g.n, 0);
    let mut ok = true;
    for flat in 0..count {
        let (oa, ob, oc) = g.entry_offsets(flat);
        let pa = a.get_or_insert_with(|| std::mem::take(&mut s.a));
        let pb = b.get_or_insert_with(|| std::mem::take(&mut s.b));
        // A failed entry leaves earlier entries' outputs written; the f32 fallback then
        // overwrites all of `c`.
        let fresh_a = !a_cached && (flat == 0 || !a_shared);
        if fresh_a && !pa.pack(a0.offset(oa), g.m, g.k, g.a.rs, g.a.cs) {
            ok = false;
            break;
        }
        let fresh_b = !b_cached && (flat == 0 || !b_shared);
        if fresh_b && !pb.pack(b0.offset(ob), g.n, g.k, g.b.cs, g.b.rs) {
            ok = false;
            break;
        }
        xnor::ternary_dots(pa, pb, 0..g.m, &mut s.dots);
        let c = c0.offset(oc);
        for i in 0..g.m {
            for j in 0..g.n {
                *c.offset(i as isize * g.c.rs + j as isize * g.c.cs) =
                    pa.scale(i) * pb.scale(j) * s.dots[i * g.n + j] as f32;
            }
        }
    }
    // Keep what was packed: static operands for the next run, the rest as scratch.
    for (kept, packed, slot, key) in [(a_kept, a, &mut s.a, 0u8), (b_kept, b, &mut s.b, 1)] {
        match packed {
            Some(p) if kept && ok => {
                s.packed.insert((index, key), p);
            }
            Some(p) => *slot = p,
            None => {}
        }
    }
    ok
}

/// Patch elements an unfolding of `w` reads or writes.
fn unfold_work(w: &Window) -> usize {
    let [oh, ow] = w.output();
    w.image[0] * w.image[1] * w.kernel[0] * w.kernel[1] * oh * ow
}

/// A base pointer of a matrix operand that may cross to the second worker thread: the two
/// halves of a split product write disjoint parts of `c`.
#[derive(Clone, Copy)]
struct SendF32(*mut f32);
unsafe impl Send for SendF32 {}
unsafe impl Sync for SendF32 {}

impl SendF32 {
    /// The pointer (a method, so closures capture the whole `Send` wrapper).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// `c = a · b` for the batch entries `entries` (flat indices over `g.batch`).
fn gemm_entries(
    g: &Gemm,
    a0: SendF32,
    b0: SendF32,
    c0: SendF32,
    entries: std::ops::Range<usize>,
    parallelism: Parallelism,
) {
    for flat in entries {
        let (oa, ob, oc) = g.entry_offsets(flat);
        // SAFETY: the plan's operands lie within their buffers (checked when the plan was
        // built), and concurrent calls write disjoint parts of `c`.
        unsafe {
            level::gemm_f32(
                level::level(),
                (g.m, g.n, g.k),
                (c0.0.offset(oc), g.c.cs, g.c.rs),
                (a0.0.offset(oa), g.a.cs, g.a.rs),
                (b0.0.offset(ob), g.b.cs, g.b.rs),
                false,
                parallelism,
            );
        }
    }
}

#[cfg(test)]
mod tests;
