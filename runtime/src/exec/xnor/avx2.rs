//! The binary products' AVX2 kernels, for CPUs without AVX-512's `vpopcntq` (issue 13 item
//! 7): packing eight entries per compare, and popcounts of 256 bits at a time.
//!
//! AVX2 has no vector popcount. [`byte_counts`] looks each nibble up in a 16-entry table with
//! `vpshufb` (Muła, Kurz and Lemire, "Faster population counts using AVX2 instructions",
//! 2018) and adds the two halves: per-byte counts of at most 8. Those are summed in bytes for
//! up to [`BYTE_ROUNDS`] blocks of four words before one `vpsadbw` widens them to 64-bit
//! lanes, so a word costs about a quarter of the scalar loop's instructions. A tile of two
//! vectors of `a` by two of `b` reuses every load twice.
//!
//! The counts are exact integers, as in the portable kernel: both give the same dots
//! (`tests` in `xnor.rs` compare them).

use super::{mask, Ternary};
use std::arch::x86_64::*;
use std::ops::Range;

/// Blocks of four words whose byte counts (at most 8 each) are summed before they could
/// overflow a byte: 31 · 8 = 248.
const BYTE_ROUNDS: usize = 31;

/// The number of set bits in each byte of `v`.
#[inline(always)]
unsafe fn byte_counts(v: __m256i) -> __m256i {
    let table = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, //
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let lo = _mm256_and_si256(v, low);
    let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), low);
    _mm256_add_epi8(
        _mm256_shuffle_epi8(table, lo),
        _mm256_shuffle_epi8(table, hi),
    )
}

/// The sum of the four 64-bit lanes.
#[inline(always)]
unsafe fn lanes(v: __m256i) -> u64 {
    let mut out = [0u64; 4];
    _mm256_storeu_si256(out.as_mut_ptr().cast(), v);
    out.iter().sum()
}

#[inline(always)]
unsafe fn load(words: &[u64], at: usize) -> __m256i {
    _mm256_loadu_si256(words.as_ptr().add(at).cast())
}

/// As [`super::ternary_dots`], with the AVX2 popcount.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn dots(a: &Ternary, b: &Ternary, rows: Range<usize>, out: &mut [i32]) {
    match (a.dense, b.dense) {
        (true, true) => dots_kernel::<false, false>(a, b, rows, out),
        (false, true) => dots_kernel::<true, false>(a, b, rows, out),
        (true, false) => dots_kernel::<false, true>(a, b, rows, out),
        (false, false) => dots_kernel::<true, true>(a, b, rows, out),
    }
}

/// Tiles of two vectors of `a` by two of `b`; an odd last vector repeats its neighbour's
/// index (computed twice, written once).
#[inline(always)]
unsafe fn dots_kernel<const MA: bool, const MB: bool>(
    a: &Ternary,
    b: &Ternary,
    rows: Range<usize>,
    out: &mut [i32],
) {
    let n = b.rows;
    if rows.is_empty() || n == 0 {
        return;
    }
    let mut i = rows.start;
    while i < rows.end {
        let is = [i, (i + 1).min(rows.end - 1)];
        let mut j = 0;
        while j < n {
            let js = [j, (j + 1).min(n - 1)];
            let counts = tile::<MA, MB>(a, b, is, js);
            for (ti, &ii) in is.iter().enumerate() {
                for (tj, &jj) in js.iter().enumerate() {
                    let (both, differ) = counts[ti * 2 + tj];
                    let both = match (MA, MB) {
                        (true, true) => both as i32,
                        (true, false) => a.nonzero[ii],
                        (false, _) => b.nonzero[jj],
                    };
                    out[(ii - rows.start) * n + jj] = both - 2 * differ as i32;
                }
            }
            j += 2;
        }
        i += 2;
    }
}

/// (common non-zeros, differing signs among them) of the four pairs `is` x `js`, in the
/// order (i0, j0), (i0, j1), (i1, j0), (i1, j1).
#[inline(always)]
unsafe fn tile<const MA: bool, const MB: bool>(
    a: &Ternary,
    b: &Ternary,
    is: [usize; 2],
    js: [usize; 2],
) -> [(u64, u64); 4] {
    let words = a.words;
    let row = |t: &[u64], r: usize| -> *const u64 { t.as_ptr().add(r * words) };
    let sa = [row(&a.signs, is[0]), row(&a.signs, is[1])];
    let ma = [row(&a.mask, is[0]), row(&a.mask, is[1])];
    let sb = [row(&b.signs, js[0]), row(&b.signs, js[1])];
    let mb = [row(&b.mask, js[0]), row(&b.mask, js[1])];
    let slice = |p: *const u64| std::slice::from_raw_parts(p, words);
    let zero = _mm256_setzero_si256();
    let (mut both64, mut differ64) = ([zero; 4], [zero; 4]);
    let blocks = words / 4;
    let mut block = 0;
    while block < blocks {
        let end = (block + BYTE_ROUNDS).min(blocks);
        let (mut both8, mut differ8) = ([zero; 4], [zero; 4]);
        for q in block..end {
            let at = q * 4;
            let va = [load(slice(sa[0]), at), load(slice(sa[1]), at)];
            let vb = [load(slice(sb[0]), at), load(slice(sb[1]), at)];
            let wa = if MA {
                [load(slice(ma[0]), at), load(slice(ma[1]), at)]
            } else {
                [zero; 2]
            };
            let wb = if MB {
                [load(slice(mb[0]), at), load(slice(mb[1]), at)]
            } else {
                [zero; 2]
            };
            for p in 0..4 {
                let (x, y) = (p / 2, p % 2);
                let x_or = _mm256_xor_si256(va[x], vb[y]);
                let differ = match (MA, MB) {
                    (true, true) => {
                        let m = _mm256_and_si256(wa[x], wb[y]);
                        both8[p] = _mm256_add_epi8(both8[p], byte_counts(m));
                        _mm256_and_si256(x_or, m)
                    }
                    (true, false) => _mm256_and_si256(x_or, wa[x]),
                    (false, true) => _mm256_and_si256(x_or, wb[y]),
                    (false, false) => x_or,
                };
                differ8[p] = _mm256_add_epi8(differ8[p], byte_counts(differ));
            }
        }
        for p in 0..4 {
            differ64[p] = _mm256_add_epi64(differ64[p], _mm256_sad_epu8(differ8[p], zero));
            if MA && MB {
                both64[p] = _mm256_add_epi64(both64[p], _mm256_sad_epu8(both8[p], zero));
            }
        }
        block = end;
    }
    let mut counts = [(0u64, 0u64); 4];
    for (p, c) in counts.iter_mut().enumerate() {
        let (x, y) = (p / 2, p % 2);
        let (mut both, mut differ) = (lanes(both64[p]), lanes(differ64[p]));
        // The last words, one at a time.
        for w in blocks * 4..words {
            let m = mask::<MA, MB>(*ma[x].add(w), *mb[y].add(w));
            if MA && MB {
                both += u64::from(m.count_ones());
            }
            differ += u64::from(((*sa[x].add(w) ^ *sb[y].add(w)) & m).count_ones());
        }
        *c = (both, differ);
    }
    counts
}

/// [`Ternary::pack`] eight entries at a time: one load (contiguous) or eight scalar reads
/// (strided), two compares and a `movemask` each for the signs and the non-zeros.
///
/// # Safety
/// As [`Ternary::pack`]; the CPU must have AVX2.
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn pack(
    t: &mut Ternary,
    base: *const f32,
    rows: usize,
    k: usize,
    rs: isize,
    ps: isize,
) -> bool {
    let words = t.words;
    let zero = _mm256_setzero_ps();
    let abs_bits = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let mut lane = [0.0f32; 8];
    for r in 0..rows {
        let row = base.offset(r as isize * rs);
        let scale = Ternary::first_magnitude(row, k, ps);
        let scale_v = _mm256_set1_ps(scale);
        let (mut bad, mut nonzero) = (0i32, 0u32);
        for w in 0..words {
            let (mut signs, mut mask) = (0u64, 0u64);
            for q in 0..8 {
                let p0 = w * 64 + q * 8;
                if p0 >= k {
                    break;
                }
                let live = (k - p0).min(8);
                let v = if live == 8 && ps == 1 {
                    _mm256_loadu_ps(row.add(p0))
                } else {
                    for (l, x) in lane.iter_mut().enumerate() {
                        *x = if l < live {
                            *row.offset((p0 + l) as isize * ps)
                        } else {
                            0.0
                        };
                    }
                    _mm256_loadu_ps(lane.as_ptr())
                };
                let nz = _mm256_cmp_ps::<_CMP_NEQ_UQ>(v, zero); // NaN too
                let neg = _mm256_cmp_ps::<_CMP_LT_OQ>(v, zero);
                let off = _mm256_cmp_ps::<_CMP_NEQ_UQ>(_mm256_and_ps(v, abs_bits), scale_v);
                bad |= _mm256_movemask_ps(_mm256_and_ps(nz, off));
                signs |= u64::from(_mm256_movemask_ps(neg) as u8) << (q * 8);
                mask |= u64::from(_mm256_movemask_ps(nz) as u8) << (q * 8);
            }
            nonzero += mask.count_ones();
            t.signs[r * words + w] = signs;
            t.mask[r * words + w] = mask;
        }
        if bad != 0 {
            return false;
        }
        t.close_row(r, scale, nonzero, k);
    }
    true
}
