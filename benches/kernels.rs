//! Kernel benchmarks behind docs/performance.md (issue 4, items 3 and 7):
//! - `elementwise`: `relu(a*x+b)*c` as one JIT-compiled fused kernel (the codegen of
//!   `compiler/jit/clif.rs`, run on two threads the way the executor splits it), into a
//!   second buffer and in place, against a two-thread memcpy of the same bytes (read x,
//!   write y: 8 bytes an element);
//! - `gemm`: the matrix-multiply candidates at the shapes the specs use: the `gemm` crate on
//!   one and two threads, `matrixmultiply` on one, and a Cranelift f32x4 micro-kernel (4x8
//!   register tile, no packing) on one;
//! - `dense_256x256x4096`: the bit-packed XNOR product (`runtime/src/exec/xnor.rs`) against
//!   the f32 product of the same logical shape;
//! - `conv_*`: the executor's blocked convolution steps (`runtime/src/exec/convolve.rs`:
//!   forward, weight gradient, input gradient) on one and two threads at the shapes of W2's
//!   and W7's largest layers, and the forward pass as unfold-then-GEMM (the plan before the
//!   blocked steps); criterion's throughput is FLOP/s (2 per multiply-add).
//!
//! Run: `cargo bench --bench kernels` (all), or e.g. `cargo bench --bench kernels -- gemm`.
//! scripts/peers.sh reads the means from target/criterion/.

// A bench target is one file; its modules live in benches/kernels/, which cargo does not
// take for bench targets of their own.
#[path = "kernels/cranelift_gemm.rs"]
mod cranelift_gemm;

use cranelift_gemm::cranelift_gemm;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nnc::jit::clif::Codegen;
use nnc::jit::kernel::{BinOp, Inst, LoopKernel, Source, View};
use nnc_runtime::exec::xnor::{ternary_dots, Ternary};
use nnc_runtime::exec::{
    Buf, Conv, ConvKind, Executor, Gemm, KernelFn, Loc, Operand, Plan, Step, Window,
};
use std::time::Duration;

fn data(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        })
        .collect()
}

/// `y = relu(1.5 * x - 0.25) * 2` over `n` floats as the JIT compiles a fused chain.
fn fused_kernel(n: usize) -> (Codegen, KernelFn) {
    let kernel = LoopKernel {
        outer: vec![n],
        inner: vec![],
        reduce: None,
        loads: vec![Source::Buffer(View::contiguous(0, &[n]))],
        body: vec![
            Inst::Load(0),
            Inst::Const(1.5),
            Inst::Binary(BinOp::Mul, 0, 1),
            Inst::Const(-0.25),
            Inst::Binary(BinOp::Add, 2, 3),
            Inst::Const(0.0),
            Inst::Binary(BinOp::Max, 4, 5),
            Inst::Const(2.0),
            Inst::Binary(BinOp::Mul, 6, 7),
        ],
        out: View::contiguous(1, &[n]),
        origin: "bench".into(),
    };
    let mut cg = Codegen::new().expect("native ISA");
    let (id, _) = cg
        .compile(&kernel, &[0, 1], false)
        .expect("kernel compiles");
    cg.module.finalize_definitions().expect("finalize");
    let code = cg.module.get_finalized_function(id);
    // SAFETY: Codegen compiles every kernel with the KernelFn signature.
    let f = unsafe { std::mem::transmute::<*const u8, KernelFn>(code) };
    (cg, f)
}

#[derive(Clone, Copy)]
struct Ptrs([*mut f32; 2]);
// SAFETY: the two halves of a split run write disjoint ranges.
unsafe impl Send for Ptrs {}
unsafe impl Sync for Ptrs {}

impl Ptrs {
    /// The table (a method, so closures capture the whole `Send` wrapper).
    fn table(&self) -> *const *mut f32 {
        self.0.as_ptr()
    }
}

fn elementwise(c: &mut Criterion) {
    let mut g = c.benchmark_group("elementwise");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in [64 << 10, 64 << 20] {
        let x = data(n, 1);
        let mut y = vec![0.0f32; n];
        let (_cg, f) = fused_kernel(n);
        g.throughput(Throughput::Bytes(8 * n as u64));
        g.bench_function(BenchmarkId::new("jit_fused", n), |b| {
            let p = Ptrs([x.as_ptr() as *mut f32, y.as_mut_ptr()]);
            let half = (n / 2) as i64;
            // SAFETY: both buffers hold n floats; the halves are disjoint.
            b.iter(|| {
                rayon::join(
                    || unsafe { f(p.table(), 0, half, 0, 0) },
                    || unsafe { f(p.table(), half, n as i64, 0, 0) },
                )
            })
        });
        // In place (y = x), like jax.jit with a donated input buffer.
        let mut z = x.clone();
        g.bench_function(BenchmarkId::new("jit_fused_in_place", n), |b| {
            let p = Ptrs([z.as_mut_ptr(), z.as_mut_ptr()]);
            let half = (n / 2) as i64;
            // SAFETY: each element is read, then written, by the same thread.
            b.iter(|| {
                rayon::join(
                    || unsafe { f(p.table(), 0, half, 0, 0) },
                    || unsafe { f(p.table(), half, n as i64, 0, 0) },
                )
            })
        });
        g.bench_function(BenchmarkId::new("memcpy", n), |b| {
            b.iter(|| {
                let (ya, yb) = y.split_at_mut(n / 2);
                rayon::join(
                    || ya.copy_from_slice(&x[..n / 2]),
                    || yb.copy_from_slice(&x[n / 2..]),
                )
            })
        });
        let expect = (x[n - 1] * 1.5 - 0.25).max(0.0) * 2.0;
        // SAFETY: as above.
        unsafe {
            f(
                [x.as_ptr() as *mut f32, y.as_mut_ptr()].as_ptr(),
                0,
                n as i64,
                0,
                0,
            )
        };
        assert!((y[n - 1] - expect).abs() <= 1e-6 * expect.abs().max(1.0));
    }
    g.finish();
}

fn gemm_crate(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
    par: gemm::Parallelism,
) {
    // SAFETY: row-major contiguous operands of the stated shapes.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

fn gemm_candidates(c: &mut Criterion) {
    let (_module, cl) = cranelift_gemm();
    let mut g = c.benchmark_group("gemm");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    for (m, n, k) in [
        (64, 64, 256),
        (64, 256, 256),
        (512, 256, 256),
        (1024, 1024, 1024),
    ] {
        let (a, b) = (data(m * k, 2), data(k * n, 3));
        let mut out = vec![0.0f32; m * n];
        let id = format!("{m}x{n}x{k}");
        g.throughput(Throughput::Elements((2 * m * n * k) as u64));
        g.bench_function(BenchmarkId::new("gemm_1t", &id), |bch| {
            bch.iter(|| gemm_crate(&a, &b, &mut out, m, n, k, gemm::Parallelism::None))
        });
        let reference = out.clone();
        g.bench_function(BenchmarkId::new("gemm_2t", &id), |bch| {
            bch.iter(|| gemm_crate(&a, &b, &mut out, m, n, k, gemm::Parallelism::Rayon(2)))
        });
        g.bench_function(BenchmarkId::new("matrixmultiply_1t", &id), |bch| {
            // SAFETY: as for gemm_crate.
            bch.iter(|| unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr(),
                    k as isize,
                    1,
                    b.as_ptr(),
                    n as isize,
                    1,
                    0.0,
                    out.as_mut_ptr(),
                    n as isize,
                    1,
                )
            })
        });
        g.bench_function(BenchmarkId::new("cranelift_4x8_1t", &id), |bch| {
            // SAFETY: m % 4 == 0 and n % 8 == 0 for every shape here.
            bch.iter(|| unsafe {
                cl(
                    a.as_ptr(),
                    b.as_ptr(),
                    out.as_mut_ptr(),
                    m as i64,
                    n as i64,
                    k as i64,
                )
            })
        });
        let worst = out
            .iter()
            .zip(&reference)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 1e-3 * (k as f32).sqrt(),
            "cranelift gemm differs by {worst}"
        );
    }
    g.finish();
}

fn xnor_vs_f32(c: &mut Criterion) {
    let (m, n, k) = (256, 256, 4096);
    let (x, w) = (data(m * k, 4), data(n * k, 5));
    // The binary layer's operands as the JIT's binary product sees them: signs of the
    // input, alpha · signs of the weights (one alpha per unit).
    let sign = |v: &f32| if *v < 0.0 { -1.0f32 } else { 1.0 };
    let xs: Vec<f32> = x.iter().map(sign).collect();
    let ws: Vec<f32> = w.iter().map(|v| 0.5 * sign(v)).collect();
    let (mut xp, mut wp) = (Ternary::default(), Ternary::default());
    let pack = |xp: &mut Ternary, wp: &mut Ternary| unsafe {
        assert!(xp.pack(xs.as_ptr(), m, k, k as isize, 1));
        assert!(wp.pack(ws.as_ptr(), n, k, k as isize, 1));
    };
    pack(&mut xp, &mut wp);
    let mut dots = vec![0i32; m * n];
    // f32 dense with the weights as [k, n], i.e. x · wᵀ, the layout a dense layer multiplies.
    let mut wt = vec![0.0f32; k * n];
    for j in 0..n {
        for p in 0..k {
            wt[p * n + j] = w[j * k + p];
        }
    }
    let mut out = vec![0.0f32; m * n];
    let mut g = c.benchmark_group("dense_256x256x4096");
    g.sample_size(20);
    // The popcount product with its scaling, on packed operands (weights packed once).
    g.bench_function(BenchmarkId::new("xnor", "1T"), |b| {
        b.iter(|| {
            ternary_dots(&xp, &wp, 0..m, &mut dots);
            for i in 0..m {
                for j in 0..n {
                    out[i * n + j] = xp.scale(i) * wp.scale(j) * dots[i * n + j] as f32;
                }
            }
        })
    });
    // As a training step runs it: both operands packed from f32 on every call.
    g.bench_function(BenchmarkId::new("xnor_with_packing", "1T"), |b| {
        b.iter(|| {
            pack(&mut xp, &mut wp);
            ternary_dots(&xp, &wp, 0..m, &mut dots);
        })
    });
    g.bench_function(BenchmarkId::new("f32", "1T"), |b| {
        b.iter(|| gemm_crate(&x, &wt, &mut out, m, n, k, gemm::Parallelism::None))
    });
    g.finish();
}

/// A plan over three slots (image, weights, output) running `steps`.
fn conv_plan(lens: [usize; 3], steps: Vec<Step>, arena: usize) -> Plan {
    let mut bufs: Vec<Buf> = (0..3)
        .map(|i| Buf {
            loc: Loc::Slot(i),
            len: lens[i],
        })
        .collect();
    bufs.push(Buf {
        loc: Loc::Arena(0),
        len: arena,
    });
    Plan {
        bufs,
        arena_len: arena,
        steps,
        slots: lens.to_vec(),
    }
}

fn conv_kernels(c: &mut Criterion) {
    // (name, [N, C, H, W], filters, kernel, pad)
    let shapes = [
        ("w2_conv2_b64", [64, 16, 14, 14], 32, 5, 2),
        ("w7_u2conv2_b64", [64, 32, 16, 16], 32, 3, 1),
    ];
    for (name, image, filters, k, pad) in shapes {
        let window = Window {
            image,
            kernel: [k, k],
            stride: [1, 1],
            pad: [pad; 4],
            dilation: [1, 1],
            pad_value: 0.0,
        };
        let [oh, ow] = window.output();
        let (patch, positions) = (image[1] * k * k, oh * ow);
        let lens = [
            image.iter().product(),
            filters * patch,
            image[0] * filters * positions,
        ];
        let (x, w, y) = (data(lens[0], 1), data(lens[1], 2), data(lens[2], 3));
        let weight = Operand {
            buf: 1,
            offset: 0,
            rs: patch as isize,
            cs: 1,
            batch_strides: vec![],
        };
        let transposed = Operand {
            rs: 1,
            cs: patch as isize,
            ..weight.clone()
        };
        let out = Operand {
            buf: 2,
            offset: 0,
            rs: positions as isize,
            cs: 1,
            batch_strides: vec![(filters * positions) as isize],
        };
        let flops = 2 * image[0] * filters * patch * positions;
        let mut g = c.benchmark_group(format!("conv_{name}"));
        g.sample_size(10)
            .throughput(Throughput::Elements(flops as u64));
        let unfold_then_gemm = vec![
            Step::Im2Col {
                src: 0,
                dst: 3,
                window,
                positions_major: false,
            },
            Step::Gemm(Gemm {
                m: filters,
                n: positions,
                k: patch,
                batch: vec![image[0]],
                a: Operand {
                    batch_strides: vec![0],
                    ..weight.clone()
                },
                b: Operand {
                    buf: 3,
                    offset: 0,
                    rs: positions as isize,
                    cs: 1,
                    batch_strides: vec![(patch * positions) as isize],
                },
                c: out.clone(),
                binary: false,
                a_static: false,
                b_static: false,
            }),
        ];
        let cases = [
            (
                "unfold_then_gemm",
                unfold_then_gemm,
                image[0] * patch * positions,
            ),
            (
                "forward",
                vec![Step::Conv(Conv::new(
                    ConvKind::Forward,
                    window,
                    filters,
                    0,
                    weight.clone(),
                    out.clone(),
                ))],
                0,
            ),
            (
                "weight_grad",
                vec![Step::Conv(Conv::new(
                    ConvKind::WeightGrad,
                    window,
                    filters,
                    0,
                    weight.clone(),
                    out.clone(),
                ))],
                0,
            ),
            (
                "input_grad",
                vec![Step::Conv(Conv::new(
                    ConvKind::InputGrad,
                    window,
                    filters,
                    0,
                    transposed.clone(),
                    out.clone(),
                ))],
                0,
            ),
        ];
        for (kind, steps, arena) in cases {
            for threads in [1, 2] {
                let mut ex = Executor::new(conv_plan(lens, steps.clone(), arena), threads);
                let (mut x, mut w, mut y) = (x.clone(), w.clone(), y.clone());
                g.bench_function(BenchmarkId::new(kind, format!("{threads}T")), |b| {
                    b.iter(|| unsafe {
                        ex.run(&[x.as_mut_ptr(), w.as_mut_ptr(), y.as_mut_ptr()], 0, 0)
                    })
                });
            }
        }
        g.finish();
    }
}

criterion_group!(
    benches,
    elementwise,
    gemm_candidates,
    xnor_vs_f32,
    conv_kernels
);
criterion_main!(benches);
