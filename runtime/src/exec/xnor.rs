//! Bit-packed binary products: XNOR + popcount over 64 entries per `u64`.
//!
//! [`Ternary`] packs scaled sign vectors (entries -s, 0, +s) as a sign plane and a
//! non-zero plane, so exact zeros are represented; padding bits are 0 in both planes and
//! drop out. The dot product of two such vectors over their common non-zeros `m` is the
//! integer `popcount(m) - 2 · popcount((sa ^ sb) & m)` ([`ternary_dots`]), exact, so a
//! product is the two scales times an exact integer. The popcount loop comes three ways:
//! with AVX-512 `vpopcntq`, with AVX2 byte-table popcounts (`xnor/avx2.rs`), and portable;
//! the fastest the CPU has (up to the capped level, `level.rs`) is picked at run time. All
//! three count exactly, so they give the same integers.
//!
//! [`pack_signs`] is the storage form of binary weights in a packed model file (one bit a
//! weight, set for `x >= 0`).

use super::level::Level;

#[cfg(target_arch = "x86_64")]
mod avx2;

/// Packs the signs of each row of a row-major `rows x k` matrix, `k.div_ceil(64)` words a row.
pub fn pack_signs(x: &[f32], rows: usize, k: usize) -> Vec<u64> {
    let words = k.div_ceil(64);
    let mut out = vec![0u64; rows * words];
    for (r, row) in x.chunks_exact(k).take(rows).enumerate() {
        for (w, chunk) in row.chunks(64).enumerate() {
            let mut bits = 0u64;
            for (i, v) in chunk.iter().enumerate() {
                bits |= u64::from(*v >= 0.0) << i;
            }
            out[r * words + w] = bits;
        }
    }
    out
}

/// Vectors with entries in {-s, 0, +s} (one magnitude `s` per vector), packed as two bit
/// planes, 64 entries per `u64`: the sign (set for negative) and the non-zero mask. This is
/// what the JIT's binary products run on: a sign tensor with exact zeros (a ReLU output, a
/// convolution's zero padding, `Sign(0) = 0`) is represented exactly, so there is no
/// fallback to f32 for zeros. Buffers grow once and are reused.
#[derive(Clone, Debug, Default)]
pub struct Ternary {
    words: usize,
    rows: usize,
    signs: Vec<u64>,
    mask: Vec<u64>,
    scale: Vec<f32>,
    /// Non-zero entries of each vector.
    nonzero: Vec<i32>,
    /// No vector has a zero entry (the mask plane is then not read).
    dense: bool,
}

impl Ternary {
    /// Packs `rows` vectors of length `k`, entry `p` of vector `r` at `base + r·rs + p·ps`.
    /// Returns false (leaving the contents unspecified) if a vector holds two different
    /// non-zero magnitudes (or a NaN): it is not a scaled sign vector.
    ///
    /// # Safety
    /// Every addressed element must be readable.
    pub unsafe fn pack(
        &mut self,
        base: *const f32,
        rows: usize,
        k: usize,
        rs: isize,
        ps: isize,
    ) -> bool {
        self.prepare(rows, k);
        #[cfg(target_arch = "x86_64")]
        {
            let level = super::level::level();
            if level == Level::Avx512 && (16 * ps).unsigned_abs() < 1 << 30 {
                return self.pack_avx512(base, rows, k, rs, ps);
            }
            if level >= Level::Avx2 && std::is_x86_feature_detected!("avx2") {
                return avx2::pack(self, base, rows, k, rs, ps);
            }
        }
        self.pack_portable(base, rows, k, rs, ps)
    }

    /// Records row `r`'s scale and count of non-zeros once its words are packed (every
    /// packing kernel ends a row this way).
    fn close_row(&mut self, r: usize, scale: f32, nonzero: u32, k: usize) {
        self.scale[r] = scale;
        self.nonzero[r] = nonzero as i32;
        self.dense &= nonzero as usize == k;
    }

    /// Sizes the planes for `rows` vectors of length `k`.
    fn prepare(&mut self, rows: usize, k: usize) {
        self.words = k.div_ceil(64);
        self.rows = rows;
        self.signs.resize(rows * self.words, 0);
        self.mask.resize(rows * self.words, 0);
        self.scale.resize(rows, 0.0);
        self.nonzero.resize(rows, 0);
        self.dense = true;
    }

    /// The magnitude of vector `r`: its first non-zero entry's.
    unsafe fn first_magnitude(row: *const f32, k: usize, ps: isize) -> f32 {
        (0..k)
            .map(|p| *row.offset(p as isize * ps))
            .find(|v| *v != 0.0)
            .map_or(0.0, f32::abs)
    }

    /// Sixteen entries at a time: one load (contiguous) or gather (strided, e.g. the
    /// columns of an unfolded image), three mask compares.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn pack_avx512(
        &mut self,
        base: *const f32,
        rows: usize,
        k: usize,
        rs: isize,
        ps: isize,
    ) -> bool {
        use std::arch::x86_64::*;
        let words = self.words;
        let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let offsets = _mm512_mullo_epi32(lane, _mm512_set1_epi32(ps as i32));
        let zero = _mm512_setzero_ps();
        let abs_bits = _mm512_set1_epi32(0x7fff_ffff);
        for r in 0..rows {
            let row = base.offset(r as isize * rs);
            let scale = Self::first_magnitude(row, k, ps);
            let scale_v = _mm512_set1_ps(scale);
            let (mut bad, mut nonzero) = (0u16, 0u32);
            for w in 0..words {
                let (mut signs, mut mask) = (0u64, 0u64);
                for q in 0..4 {
                    let p0 = w * 64 + q * 16;
                    if p0 >= k {
                        break;
                    }
                    let live: __mmask16 = if k - p0 >= 16 {
                        0xffff
                    } else {
                        (1u16 << (k - p0)) - 1
                    };
                    let at = row.offset(p0 as isize * ps);
                    let v = if ps == 1 {
                        _mm512_maskz_loadu_ps(live, at)
                    } else {
                        _mm512_mask_i32gather_ps::<4>(zero, live, offsets, at)
                    };
                    let nz = _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(v, zero); // NaN too
                    let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, zero);
                    let abs =
                        _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), abs_bits));
                    bad |= _mm512_mask_cmp_ps_mask::<_CMP_NEQ_UQ>(nz, abs, scale_v);
                    signs |= u64::from(neg) << (q * 16);
                    mask |= u64::from(nz) << (q * 16);
                }
                nonzero += mask.count_ones();
                self.signs[r * words + w] = signs;
                self.mask[r * words + w] = mask;
            }
            if bad != 0 {
                return false;
            }
            self.close_row(r, scale, nonzero, k);
        }
        true
    }

    /// Branch-free over each 64-entry word.
    unsafe fn pack_portable(
        &mut self,
        base: *const f32,
        rows: usize,
        k: usize,
        rs: isize,
        ps: isize,
    ) -> bool {
        let words = self.words;
        let mut chunk = [0.0f32; 64];
        for r in 0..rows {
            let row = base.offset(r as isize * rs);
            let at = |p: usize| *row.offset(p as isize * ps);
            let scale = Self::first_magnitude(row, k, ps);
            let (mut bad, mut nonzero) = (false, 0u32);
            for w in 0..words {
                let len = 64.min(k - w * 64);
                if ps == 1 {
                    chunk[..len].copy_from_slice(std::slice::from_raw_parts(row.add(w * 64), len));
                } else {
                    for (i, c) in chunk[..len].iter_mut().enumerate() {
                        *c = at(w * 64 + i);
                    }
                }
                chunk[len..].fill(0.0);
                let (mut signs, mut mask) = (0u64, 0u64);
                for (i, &v) in chunk.iter().enumerate() {
                    let nz = v != 0.0; // NaN too
                    bad |= nz & (v.abs() != scale);
                    mask |= u64::from(nz) << i;
                    signs |= u64::from(v < 0.0) << i;
                }
                nonzero += mask.count_ones();
                self.signs[r * words + w] = signs;
                self.mask[r * words + w] = mask;
            }
            if bad {
                return false;
            }
            self.close_row(r, scale, nonzero, k);
        }
        true
    }

    /// The magnitude of vector `r`.
    pub fn scale(&self, r: usize) -> f32 {
        self.scale[r]
    }
}

/// `dots[(i - rows.start)·b.rows + j]` = the dot product of vector `i` of `a` and vector `j`
/// of `b` divided by their magnitudes: `popcount(m) - 2·popcount((sa ^ sb) & m)` over the
/// words, with `m` the entries non-zero in both; when one side has no zeros, `popcount(m)`
/// is the other side's non-zero count and only one popcount a word is left. An exact
/// integer.
pub fn ternary_dots(a: &Ternary, b: &Ternary, rows: std::ops::Range<usize>, dots: &mut [i32]) {
    assert_eq!(a.words, b.words);
    assert!(dots.len() >= rows.len() * b.rows);
    #[cfg(target_arch = "x86_64")]
    {
        let level = super::level::level();
        if level == Level::Avx512 && std::is_x86_feature_detected!("avx512vpopcntdq") {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { dots_avx512(a, b, rows, dots) };
        }
        if level >= Level::Avx2 && std::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { avx2::dots(a, b, rows, dots) };
        }
    }
    dots_dispatch(a, b, rows, dots)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq,popcnt")]
unsafe fn dots_avx512(a: &Ternary, b: &Ternary, rows: std::ops::Range<usize>, dots: &mut [i32]) {
    dots_dispatch(a, b, rows, dots)
}

#[inline(always)]
fn dots_dispatch(a: &Ternary, b: &Ternary, rows: std::ops::Range<usize>, dots: &mut [i32]) {
    match (a.dense, b.dense) {
        (true, true) => dots_kernel::<false, false>(a, b, rows, dots),
        (false, true) => dots_kernel::<true, false>(a, b, rows, dots),
        (true, false) => dots_kernel::<false, true>(a, b, rows, dots),
        (false, false) => dots_kernel::<true, true>(a, b, rows, dots),
    }
}

/// The entries non-zero in both words, reading only the planes that have zeros.
#[inline(always)]
fn mask<const MA: bool, const MB: bool>(ma: u64, mb: u64) -> u64 {
    match (MA, MB) {
        (true, true) => ma & mb,
        (true, false) => ma,
        (false, true) => mb,
        (false, false) => u64::MAX,
    }
}

/// One pass over the words per pair of vectors, vectorized with `vpopcntq` (interleaving
/// four vectors of `b` in one pass measured 2.5x slower). `MA`, `MB`: whether that side's
/// mask plane is read (it has zeros).
#[inline(always)]
fn dots_kernel<const MA: bool, const MB: bool>(
    a: &Ternary,
    b: &Ternary,
    rows: std::ops::Range<usize>,
    dots: &mut [i32],
) {
    let words = a.words;
    let n = b.rows;
    for (o, i) in rows.enumerate() {
        let sa = &a.signs[i * words..(i + 1) * words];
        let ma = &a.mask[i * words..(i + 1) * words];
        for j in 0..n {
            let sb = &b.signs[j * words..(j + 1) * words];
            let mb = &b.mask[j * words..(j + 1) * words];
            // u64 sums: `vpopcntq` yields 64-bit lanes, and narrowing them costs more.
            let (mut both, mut differ) = (0u64, 0u64);
            for p in 0..words {
                let m = mask::<MA, MB>(ma[p], mb[p]);
                if MA && MB {
                    both += u64::from(m.count_ones());
                }
                differ += u64::from(((sa[p] ^ sb[p]) & m).count_ones());
            }
            let both = match (MA, MB) {
                (true, true) => both as i32,
                (true, false) => a.nonzero[i],
                (false, _) => b.nonzero[j],
            };
            dots[o * n + j] = both - 2 * differ as i32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ternary_dots_are_exact_and_reject_mixed_magnitudes() {
        let (m, n, k) = (3, 6, 130);
        let tern = |i: usize| [0.0f32, 1.0, -1.0][(i * 7 + i / 3) % 3];
        // Each side with and without zeros: the four kernel variants.
        for (a_zeros, b_zeros) in [(true, true), (true, false), (false, true), (false, false)] {
            let entry = |zeros: bool, i: usize| {
                let t = tern(i);
                if zeros || t != 0.0 {
                    t
                } else {
                    1.0
                }
            };
            // a: m x k row-major, scale 0.5; b: k x n row-major (vectors are its columns),
            // column j scaled by j + 1.
            let a: Vec<f32> = (0..m * k).map(|i| 0.5 * entry(a_zeros, i)).collect();
            let b: Vec<f32> = (0..k * n)
                .map(|i| (i % n + 1) as f32 * entry(b_zeros, i * 3 + 1))
                .collect();
            let (mut pa, mut pb) = (Ternary::default(), Ternary::default());
            unsafe {
                assert!(pa.pack(a.as_ptr(), m, k, k as isize, 1));
                assert!(pb.pack(b.as_ptr(), n, k, 1, n as isize));
            }
            assert_eq!((pa.dense, pb.dense), (!a_zeros, !b_zeros));
            // The portable packing (used where AVX-512 is missing) packs the same bits.
            let mut portable = Ternary::default();
            portable.prepare(n, k);
            assert!(unsafe { portable.pack_portable(b.as_ptr(), n, k, 1, n as isize) });
            assert_eq!(
                (
                    &portable.signs,
                    &portable.mask,
                    &portable.scale,
                    &portable.nonzero
                ),
                (&pb.signs, &pb.mask, &pb.scale, &pb.nonzero)
            );
            let mut dots = vec![0; m * n];
            ternary_dots(&pa, &pb, 0..m, &mut dots);
            for i in 0..m {
                for j in 0..n {
                    let exact: f64 = (0..k)
                        .map(|p| f64::from(a[i * k + p]) * f64::from(b[p * n + j]))
                        .sum();
                    let got = f64::from(pa.scale(i))
                        * f64::from(pb.scale(j))
                        * f64::from(dots[i * n + j]);
                    assert_eq!(got, exact, "{i} {j} zeros {a_zeros} {b_zeros}");
                }
            }
            let mut bad = a.clone();
            bad[k + 3] = 0.25; // row 1 now has magnitudes 0.5 and 0.25
            assert!(unsafe { !pa.pack(bad.as_ptr(), m, k, k as isize, 1) });
            bad[k + 3] = f32::NAN;
            assert!(unsafe { !pa.pack(bad.as_ptr(), m, k, k as isize, 1) });
        }
    }

    /// The AVX2 packing and popcounts give the portable code's bits and integers: odd
    /// vector counts (the 2x2 tiles' edges), lengths that are not whole 256-bit blocks, and
    /// one long enough to carry the byte counters over (more than 31 blocks of four words).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_kernels_agree_with_the_portable_ones() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        let planes = |t: &Ternary| {
            (
                t.signs.clone(),
                t.mask.clone(),
                t.scale.clone(),
                t.nonzero.clone(),
                t.dense,
            )
        };
        for (m, n, k) in [
            (1, 1, 1),
            (3, 5, 63),
            (4, 4, 256),
            (5, 3, 300),
            (3, 7, 8300),
        ] {
            for zeros in [false, true] {
                // a: m x k row-major; b: k x n row-major, its vectors strided columns.
                let entry = |i: usize| {
                    let v = [1.0f32, -1.0, 0.0][(i * 7 + i / 5) % 3];
                    if v == 0.0 && !zeros {
                        -1.0
                    } else {
                        v
                    }
                };
                let a: Vec<f32> = (0..m * k).map(|i| 0.25 * entry(i)).collect();
                let b: Vec<f32> = (0..k * n).map(|i| 2.0 * entry(3 * i + 1)).collect();
                let mut packed = Vec::new();
                for (x, rows, rs, ps) in [(&a, m, k as isize, 1), (&b, n, 1, n as isize)] {
                    let (mut fast, mut slow) = (Ternary::default(), Ternary::default());
                    fast.prepare(rows, k);
                    slow.prepare(rows, k);
                    unsafe {
                        assert!(avx2::pack(&mut fast, x.as_ptr(), rows, k, rs, ps));
                        assert!(slow.pack_portable(x.as_ptr(), rows, k, rs, ps));
                    }
                    assert_eq!(planes(&fast), planes(&slow), "{m}x{n}x{k}");
                    packed.push(fast);
                }
                let (pa, pb) = (&packed[0], &packed[1]);
                // Rows from 1: a part of `a`, as a thread's share would be.
                for rows in [0..m, m / 2..m] {
                    let mut want = vec![0; rows.len() * n];
                    let mut got = vec![-1; rows.len() * n];
                    dots_dispatch(pa, pb, rows.clone(), &mut want);
                    unsafe { avx2::dots(pa, pb, rows.clone(), &mut got) };
                    assert_eq!(got, want, "{m}x{n}x{k} zeros {zeros} rows {rows:?}");
                }
            }
        }
    }

    #[test]
    fn packing_is_32x_smaller_than_f32() {
        let k = 4096;
        let packed = pack_signs(&vec![1.0; 2 * k], 2, k);
        assert_eq!(packed.len() * 8 * 32, 2 * k * 4);
        assert!(packed.iter().all(|&w| w == u64::MAX));
    }
}
