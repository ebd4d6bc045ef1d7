//! Memory planning: every temporary buffer gets an offset in one arena, reusing the space
//! of buffers no later task reads (liveness over the task order, best-fit free list).
//! An elementwise loop kernel writes in place over an input that dies with it when it
//! reads that input at exactly the element it writes (same view, no reduction): each
//! element is loaded before it is stored, in the same iteration and vector.

use super::kernel::Source;
use super::schedule::{BufKind, Schedule, Task};

/// Offsets (in f32 elements) of the arena buffers, by buffer id, and the arena's length.
pub fn plan(s: &Schedule) -> (Vec<Option<usize>>, usize) {
    let n = s.bufs.len();
    let mut first = vec![usize::MAX; n];
    let mut last = vec![0usize; n];
    for (t, task) in s.tasks.iter().enumerate() {
        for b in task
            .reads()
            .into_iter()
            .chain(std::iter::once(task.writes()))
        {
            first[b] = first[b].min(t);
            last[b] = last[b].max(t);
        }
    }
    let mut offsets = vec![None; n];
    // (offset, len) of free blocks, kept sorted by offset.
    let mut free: Vec<(usize, usize)> = Vec::new();
    let mut top = 0usize;
    let mut ending: Vec<Vec<usize>> = vec![Vec::new(); s.tasks.len()];
    for t in 0..s.tasks.len() {
        if let Some((dead, out)) = in_place(s, t, &first, &last) {
            offsets[out] = offsets[dead];
            ending[t].retain(|&b| b != dead);
            ending[last[out]].push(out);
        }
        for b in 0..n {
            if first[b] != t || s.bufs[b].kind != BufKind::Arena || offsets[b].is_some() {
                continue;
            }
            // Keep every buffer 16-byte aligned (4 floats) for vector loads and stores.
            let len = s.bufs[b].len.div_ceil(4) * 4;
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, (_, l))| *l >= len)
                .min_by_key(|(_, (_, l))| *l)
                .map(|(i, _)| i);
            let offset = match best {
                Some(i) => {
                    let (o, l) = free[i];
                    if l == len {
                        free.remove(i);
                    } else {
                        free[i] = (o + len, l - len);
                    }
                    o
                }
                None => {
                    top += len;
                    top - len
                }
            };
            offsets[b] = Some(offset);
            ending[last[b]].push(b);
        }
        for &b in &ending[t] {
            let len = s.bufs[b].len.div_ceil(4) * 4;
            #[allow(
                clippy::expect_used,
                reason = "a buffer is allocated at its first task, before the last one that frees it"
            )]
            let offset = offsets[b].expect("allocated");
            free.push((offset, len));
            free.sort_unstable();
            // Merge neighbours.
            let mut merged: Vec<(usize, usize)> = Vec::with_capacity(free.len());
            for (o, l) in free.drain(..) {
                match merged.last_mut() {
                    Some((mo, ml)) if *mo + *ml == o => *ml += l,
                    _ => merged.push((o, l)),
                }
            }
            free = merged;
        }
    }
    (offsets, top)
}

/// `(input, output)` when task `t` may write its fresh arena output over an arena input
/// whose last use it is.
fn in_place(s: &Schedule, t: usize, first: &[usize], last: &[usize]) -> Option<(usize, usize)> {
    let Task::Kernel(k) = &s.tasks[t] else {
        return None;
    };
    let out = k.out.buf;
    let arena = |b: usize| s.bufs[b].kind == BufKind::Arena;
    if k.reduce.is_some() || first[out] != t || !arena(out) {
        return None;
    }
    let views = || {
        k.loads.iter().filter_map(|l| match l {
            Source::Buffer(v) => Some(v),
            Source::Rand { .. } => None,
        })
    };
    views()
        .map(|v| v.buf)
        .find(|&b| {
            b != out
                && arena(b)
                && last[b] == t
                && s.bufs[b].len == s.bufs[out].len
                && views().filter(|v| v.buf == b).all(|v| {
                    v.offset == k.out.offset && v.strides == k.out.strides && v.shape == k.out.shape
                })
        })
        .map(|b| (b, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jit::kernel::{Inst, LoopKernel, Source, View};
    use crate::jit::schedule::{BufInfo, Task};

    fn copy(src: usize, dst: usize) -> Task {
        Task::Kernel(LoopKernel {
            outer: vec![8],
            inner: vec![],
            reduce: None,
            loads: vec![Source::Buffer(View::contiguous(src, &[8]))],
            body: vec![Inst::Load(0)],
            out: View::contiguous(dst, &[8]),
            origin: String::new(),
        })
    }

    fn arena(len: usize) -> BufInfo {
        BufInfo {
            len,
            kind: BufKind::Arena,
        }
    }

    /// `dst[i] = src[i % 4]`: reads `src` through a broadcast, so never in place.
    fn spread(src: usize, dst: usize) -> Task {
        Task::Kernel(LoopKernel {
            outer: vec![2, 4],
            inner: vec![],
            reduce: None,
            loads: vec![Source::Buffer(View {
                buf: src,
                offset: 0,
                shape: vec![2, 4],
                strides: vec![0, 1],
            })],
            body: vec![Inst::Load(0)],
            out: View::contiguous(dst, &[2, 4]),
            origin: String::new(),
        })
    }

    #[test]
    fn elementwise_kernels_write_over_dying_inputs() {
        // in -> a -> b -> c -> out: each copy reads its input at the element it writes.
        let s = Schedule {
            bufs: vec![
                BufInfo {
                    len: 8,
                    kind: BufKind::Input("x".into()),
                },
                arena(8),
                arena(8),
                arena(8),
                BufInfo {
                    len: 8,
                    kind: BufKind::Output(0),
                },
            ],
            tasks: vec![copy(0, 1), copy(1, 2), copy(2, 3), copy(3, 4)],
        };
        let (offsets, len) = plan(&s);
        assert_eq!(len, 8, "{offsets:?}");
        assert_eq!(offsets[1], offsets[2]);
        assert_eq!(offsets[2], offsets[3]);
    }

    #[test]
    fn no_in_place_through_a_different_view() {
        // a (8) -> spread -> b (8): b[i] reads a[i % 4], so a must survive the kernel.
        let s = Schedule {
            bufs: vec![
                BufInfo {
                    len: 8,
                    kind: BufKind::Input("x".into()),
                },
                arena(8),
                arena(8),
                BufInfo {
                    len: 8,
                    kind: BufKind::Output(0),
                },
            ],
            tasks: vec![copy(0, 1), spread(1, 2), copy(2, 3)],
        };
        let (offsets, len) = plan(&s);
        assert_ne!(offsets[1], offsets[2]);
        assert_eq!(len, 16);
    }

    #[test]
    fn dead_buffers_are_reused() {
        // in -> a -> b -> c -> out through broadcasts: a and c share memory, b lives
        // between them.
        let arena = arena(8);
        let s = Schedule {
            bufs: vec![
                BufInfo {
                    len: 8,
                    kind: BufKind::Input("x".into()),
                },
                arena.clone(),
                arena.clone(),
                arena,
                BufInfo {
                    len: 8,
                    kind: BufKind::Output(0),
                },
            ],
            tasks: vec![copy(0, 1), spread(1, 2), spread(2, 3), copy(3, 4)],
        };
        let (offsets, len) = plan(&s);
        assert_eq!(offsets[0], None);
        assert_eq!(offsets[4], None);
        assert_eq!(len, 16, "{offsets:?}");
        assert_ne!(offsets[1], offsets[2]);
        assert_ne!(offsets[2], offsets[3]);
    }
}
