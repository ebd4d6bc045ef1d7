//! Bit-packed binary dense products: XNOR + popcount over 64 signs per `u64`.
//!
//! A sign vector of length `k` packs into `k.div_ceil(64)` words, bit set for `x >= 0`.
//! One bit has no room for the IR's `Sign(0) = 0`: an exact zero counts as +1 here, so a
//! caller must treat exact zeros (probability ~0 for trained weights and normalised
//! inputs) as a case this kernel does not cover. Padding bits are 0 in every operand, so
//! they agree and are subtracted back out. The dot product of two ±1 vectors is
//! `k - 2 · popcount(a ^ w)`, an exact integer, so `out = alpha · dot` equals the f32 product
//! of the signs times alpha bit for bit (both are one rounding of the same integer times
//! alpha). The popcount loop is compiled three times: with AVX-512 `vpopcntq`, with the
//! scalar `popcnt` instruction, and portable; the fastest the CPU has is picked at run time.

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

/// `out[i, j] = alpha[j] · Σ_p sign(a[i, p]) · sign(w[j, p])` for packed `a` (`m` rows)
/// and packed `w` (`n` rows, one per output unit), both of logical length `k`;
/// `out` is row-major `m x n`.
pub fn xnor_dense(
    a: &[u64],
    w: &[u64],
    m: usize,
    n: usize,
    k: usize,
    alpha: &[f32],
    out: &mut [f32],
) {
    let words = k.div_ceil(64);
    assert!(a.len() >= m * words && w.len() >= n * words && alpha.len() >= n);
    assert!(out.len() >= m * n);
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512vpopcntdq")
            && std::is_x86_feature_detected!("avx512f")
        {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { dense_avx512(a, w, m, n, k, alpha, out) };
        }
        if std::is_x86_feature_detected!("popcnt") {
            // SAFETY: as above.
            return unsafe { dense_popcnt(a, w, m, n, k, alpha, out) };
        }
    }
    dense_portable(a, w, m, n, k, alpha, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq,popcnt")]
unsafe fn dense_avx512(
    a: &[u64],
    w: &[u64],
    m: usize,
    n: usize,
    k: usize,
    alpha: &[f32],
    out: &mut [f32],
) {
    dense_portable(a, w, m, n, k, alpha, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn dense_popcnt(
    a: &[u64],
    w: &[u64],
    m: usize,
    n: usize,
    k: usize,
    alpha: &[f32],
    out: &mut [f32],
) {
    dense_portable(a, w, m, n, k, alpha, out)
}

/// Four output units at a time, so each word of `a` is loaded once for four of `w`.
#[inline(always)]
fn dense_portable(
    a: &[u64],
    w: &[u64],
    m: usize,
    n: usize,
    k: usize,
    alpha: &[f32],
    out: &mut [f32],
) {
    let words = k.div_ceil(64);
    for i in 0..m {
        let ar = &a[i * words..(i + 1) * words];
        let orow = &mut out[i * n..(i + 1) * n];
        let mut j = 0;
        while j + 4 <= n {
            let w0 = &w[j * words..(j + 1) * words];
            let w1 = &w[(j + 1) * words..(j + 2) * words];
            let w2 = &w[(j + 2) * words..(j + 3) * words];
            let w3 = &w[(j + 3) * words..(j + 4) * words];
            let (mut d0, mut d1, mut d2, mut d3) = (0u64, 0u64, 0u64, 0u64);
            for p in 0..words {
                let x = ar[p];
                d0 += u64::from((x ^ w0[p]).count_ones());
                d1 += u64::from((x ^ w1[p]).count_ones());
                d2 += u64::from((x ^ w2[p]).count_ones());
                d3 += u64::from((x ^ w3[p]).count_ones());
            }
            for (q, d) in [d0, d1, d2, d3].into_iter().enumerate() {
                orow[j + q] = alpha[j + q] * (k as i64 - 2 * d as i64) as f32;
            }
            j += 4;
        }
        for j in j..n {
            let wr = &w[j * words..(j + 1) * words];
            let d: u64 = ar
                .iter()
                .zip(wr)
                .map(|(x, y)| u64::from((x ^ y).count_ones()))
                .sum();
            orow[j] = alpha[j] * (k as i64 - 2 * d as i64) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The f32 path: signs (0 counts as +1) multiplied out, then scaled by alpha.
    fn dense_f32(a: &[f32], w: &[f32], m: usize, n: usize, k: usize, alpha: &[f32]) -> Vec<f32> {
        let s = |v: f32| if v >= 0.0 { 1.0f32 } else { -1.0 };
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let dot: f32 = (0..k).map(|p| s(a[i * k + p]) * s(w[j * k + p])).sum();
                out[i * n + j] = alpha[j] * dot;
            }
        }
        out
    }

    #[test]
    fn xnor_matches_f32_signs_exactly() {
        // Lengths that are not multiples of 64 exercise the padding bits; n = 7 the tail.
        for (m, n, k) in [(3, 7, 1), (5, 8, 63), (2, 9, 64), (4, 5, 130), (3, 12, 300)] {
            let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ (k as u64);
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            };
            let a: Vec<f32> = (0..m * k).map(|_| next()).collect();
            let mut w: Vec<f32> = (0..n * k).map(|_| next()).collect();
            w[0] = 0.0; // sign(0) = +1
            let alpha: Vec<f32> = (0..n).map(|_| next().abs() + 0.1).collect();
            let mut out = vec![f32::NAN; m * n];
            xnor_dense(
                &pack_signs(&a, m, k),
                &pack_signs(&w, n, k),
                m,
                n,
                k,
                &alpha,
                &mut out,
            );
            let expect = dense_f32(&a, &w, m, n, k, &alpha);
            assert_eq!(out, expect, "m={m} n={n} k={k}");
            let mut portable = vec![f32::NAN; m * n];
            dense_portable(
                &pack_signs(&a, m, k),
                &pack_signs(&w, n, k),
                m,
                n,
                k,
                &alpha,
                &mut portable,
            );
            assert_eq!(portable, expect);
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
