//! Unit tests of the executor: products, splits and kernels on two threads.

use super::*;

#[test]
fn gemm_with_strides_and_a_shared_operand() {
    // c[b] = a[b] · w^T, w stored [n, k] row-major and read transposed through strides.
    let (batch, m, k, n) = (2, 3, 4, 5);
    let a: Vec<f32> = (0..batch * m * k).map(|i| i as f32 * 0.5 - 3.0).collect();
    let w: Vec<f32> = (0..n * k).map(|i| (i as f32).sin()).collect();
    let mut c = vec![0.0f32; batch * m * n];
    let plan = Plan {
        bufs: vec![
            Buf {
                loc: Loc::Slot(0),
                len: a.len(),
            },
            Buf {
                loc: Loc::Slot(1),
                len: w.len(),
            },
            Buf {
                loc: Loc::Slot(2),
                len: c.len(),
            },
        ],
        arena_len: 0,
        steps: vec![Step::Gemm(Gemm {
            m,
            n,
            k,
            batch: vec![batch],
            a: Operand {
                buf: 0,
                offset: 0,
                rs: k as isize,
                cs: 1,
                batch_strides: vec![(m * k) as isize],
            },
            b: Operand {
                buf: 1,
                offset: 0,
                rs: 1,
                cs: k as isize,
                batch_strides: vec![0],
            },
            c: Operand {
                buf: 2,
                offset: 0,
                rs: n as isize,
                cs: 1,
                batch_strides: vec![(m * n) as isize],
            },
            binary: false,
            a_static: false,
            b_static: false,
        })],
        slots: vec![a.len(), w.len(), c.len()],
    };
    let mut ex = Executor::new(plan, 1);
    unsafe {
        ex.run(
            &[
                a.as_ptr() as *mut f32,
                w.as_ptr() as *mut f32,
                c.as_mut_ptr(),
            ],
            0,
            0,
        )
    };
    for b in 0..batch {
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k)
                    .map(|l| a[b * m * k + i * k + l] * w[j * k + l])
                    .sum();
                let got = c[b * m * n + i * n + j];
                assert!((want - got).abs() < 1e-4, "{want} vs {got}");
            }
        }
    }
}

/// A plan gets a second thread only if some step would really split: an unfolding of
/// a single image never does, however large.
#[test]
fn only_steps_that_split_move_a_run_to_the_pool() {
    let plan = |images: usize| {
        let window = Window {
            image: [images, 16, 64, 64],
            kernel: [3, 3],
            stride: [1, 1],
            pad: [1, 1, 1, 1],
            dilation: [1, 1],
            pad_value: 0.0,
        };
        assert!(unfold_work(&window) >= SPLIT_UNFOLD);
        Plan {
            bufs: vec![],
            arena_len: 0,
            steps: vec![Step::Im2Col {
                src: 0,
                dst: 1,
                window,
                positions_major: false,
            }],
            slots: vec![],
        }
    };
    assert!(Executor::new(plan(1), 2).partner.is_none());
    assert!(Executor::new(plan(2), 2).partner.is_some());
}

unsafe extern "C" fn double_it(bufs: *const *mut f32, begin: i64, end: i64, _: i64, _: i64) {
    let (src, dst) = (*bufs, *bufs.add(1));
    for i in begin..end {
        *dst.offset(i as isize) = 2.0 * *src.offset(i as isize);
    }
}

#[test]
fn split_kernels_compute_every_element_once() {
    let src: Vec<f32> = (0..1001).map(|i| i as f32).collect();
    let plan = Plan {
        bufs: vec![
            Buf {
                loc: Loc::Slot(0),
                len: 1001,
            },
            Buf {
                loc: Loc::Arena(0),
                len: 1001,
            },
            Buf {
                loc: Loc::Slot(1),
                len: 1001,
            },
        ],
        arena_len: 1001,
        steps: vec![
            Step::Kernel(Kernel {
                f: double_it,
                bufs: vec![0, 1],
                extent: 1001,
                split: true,
            }),
            Step::Kernel(Kernel {
                f: double_it,
                bufs: vec![1, 2],
                extent: 1001,
                split: false,
            }),
        ],
        slots: vec![1001, 1001],
    };
    let mut out = vec![0.0f32; 1001];
    let mut ex = Executor::new(plan, 2);
    unsafe { ex.run(&[src.as_ptr() as *mut f32, out.as_mut_ptr()], 0, 0) };
    assert!(out.iter().enumerate().all(|(i, v)| *v == 4.0 * i as f32));
}
