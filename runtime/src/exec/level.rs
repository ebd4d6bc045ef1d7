//! The CPU feature level the kernels run at: the highest one this CPU has, capped by the
//! environment variable `NNC_CPU_LEVEL` (`portable`, `avx2` or `avx512`), read once per
//! process.
//!
//! Kernels picked by CPU features sum in different orders (the GEMM library's AVX-512
//! kernels use 16 lanes where its AVX2 kernels use 8), so results are bit-reproducible per
//! level, not across levels. The cap lets one machine run the lower levels' code: CI on an
//! AVX-512 machine tests the AVX2 and portable paths with it (docs/testing.md). Every
//! dispatch in the executor (the GEMM library, the binary products) and the JIT's choice of
//! instructions go through [`level`].

use std::sync::OnceLock;

/// A CPU feature level, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// No AVX: scalar GEMM, SSE vectors in the JIT's kernels, portable binary products.
    Portable,
    /// AVX2 and FMA (x86-64-v3).
    Avx2,
    /// AVX-512F on top of AVX2.
    Avx512,
}

/// Every level, lowest first.
pub const LEVELS: [Level; 3] = [Level::Portable, Level::Avx2, Level::Avx512];

/// The environment variable that caps the level.
pub const VAR: &str = "NNC_CPU_LEVEL";

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Portable => "portable",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    pub fn parse(text: &str) -> Option<Level> {
        LEVELS
            .into_iter()
            .find(|l| l.name() == text.trim().to_ascii_lowercase())
    }
}

/// The highest level this CPU supports (the GEMM library's own feature sets decide:
/// its AVX2 kernels need AVX2, FMA and F16C, its AVX-512 kernels add AVX-512F).
pub fn detected() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        use gemm_common::simd::{V3, V4};
        if V4::try_new().is_some() {
            return Level::Avx512;
        }
        if V3::try_new().is_some() {
            return Level::Avx2;
        }
    }
    Level::Portable
}

struct Setting {
    level: Level,
    /// The variable's value when it names no level (it is then ignored).
    invalid: Option<String>,
}

fn setting() -> &'static Setting {
    static SETTING: OnceLock<Setting> = OnceLock::new();
    SETTING.get_or_init(|| {
        let found = detected();
        match std::env::var(VAR) {
            Err(_) => Setting {
                level: found,
                invalid: None,
            },
            Ok(text) => match Level::parse(&text) {
                Some(cap) => Setting {
                    level: cap.min(found),
                    invalid: None,
                },
                None => Setting {
                    level: found,
                    invalid: Some(text),
                },
            },
        }
    })
}

/// The level kernels run at in this process: [`detected`], capped by `NNC_CPU_LEVEL`.
pub fn level() -> Level {
    setting().level
}

/// A sentence for the user when `NNC_CPU_LEVEL` is set to something that is not a level
/// (the variable is then ignored).
pub fn setting_problem() -> Option<String> {
    setting().invalid.as_ref().map(|text| {
        format!(
            "{VAR}={text:?} is not a CPU level (portable, avx2, avx512); using {}",
            level().name()
        )
    })
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` if `accumulate` (`m x k` times `k x n`, each
/// operand as (pointer, column stride, row stride)) with the GEMM library's kernels for
/// `level`: its own dispatch at the highest level, its AVX2 or scalar kernels below.
///
/// # Safety
/// As `gemm::gemm`: the operands lie within their allocations, `dst` is not aliased.
#[allow(clippy::too_many_arguments)]
#[allow(
    clippy::expect_used,
    reason = "level() selects this path only after detecting AVX2 and FMA"
)]
pub(super) unsafe fn gemm_f32(
    level: Level,
    (m, n, k): (usize, usize, usize),
    (dst, dst_cs, dst_rs): (*mut f32, isize, isize),
    (lhs, lhs_cs, lhs_rs): (*const f32, isize, isize),
    (rhs, rhs_cs, rhs_rs): (*const f32, isize, isize),
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    use gemm_common::gemm::gemm_basic_generic;
    let ((m, n, k), (dst, dst_cs, dst_rs), (lhs, lhs_cs, lhs_rs), (rhs, rhs_cs, rhs_rs)) =
        canonical(
            (m, n, k),
            (dst, dst_cs, dst_rs),
            (lhs, lhs_cs, lhs_rs),
            (rhs, rhs_cs, rhs_rs),
        );
    // `dst = alpha·dst + beta·lhs·rhs`, `dst` read only if `accumulate`.
    let alpha = 1.0f32;
    match level {
        Level::Avx512 => gemm::gemm(
            m,
            n,
            k,
            dst,
            dst_cs,
            dst_rs,
            accumulate,
            lhs,
            lhs_cs,
            lhs_rs,
            rhs,
            rhs_cs,
            rhs_rs,
            alpha,
            1.0,
            false,
            false,
            false,
            parallelism,
        ),
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => {
            // What `gemm`'s private `fma` module does, with its public parts.
            use gemm_f32::microkernel::fma::f32 as ukr;
            gemm_basic_generic::<
                _,
                f32,
                8,
                { ukr::MR_DIV_N * 8 },
                { ukr::NR },
                { ukr::MR_DIV_N },
                { ukr::H_M },
                { ukr::H_N },
            >(
                gemm_common::simd::V3::try_new().expect("level() checked AVX2"),
                m,
                n,
                k,
                dst,
                dst_cs,
                dst_rs,
                accumulate,
                lhs,
                lhs_cs,
                lhs_rs,
                rhs,
                rhs_cs,
                rhs_rs,
                alpha,
                1.0,
                false,
                false,
                false,
                |a, b, c| a * b + c,
                &ukr::UKR,
                &ukr::H_UKR,
                false,
                parallelism,
            )
        }
        _ => {
            use gemm_f32::microkernel::scalar::f32 as ukr;
            gemm_basic_generic::<
                _,
                f32,
                1,
                { ukr::MR_DIV_N },
                { ukr::NR },
                { ukr::MR_DIV_N },
                { ukr::H_M },
                { ukr::H_N },
            >(
                gemm_common::simd::Scalar,
                m,
                n,
                k,
                dst,
                dst_cs,
                dst_rs,
                accumulate,
                lhs,
                lhs_cs,
                lhs_rs,
                rhs,
                rhs_cs,
                rhs_rs,
                alpha,
                1.0,
                false,
                false,
                false,
                |a, b, c| a * b + c,
                &ukr::UKR,
                &ukr::H_UKR,
                false,
                parallelism,
            )
        }
    }
}

type Operand<P> = (P, isize, isize);

/// What `gemm::gemm` does before its own dispatch, and the per-level kernels above skip: a
/// row-major destination is computed as the transposed product (`dstᵀ = rhsᵀ · lhsᵀ`), since
/// the microkernels prefer column-major output, and negative strides are flipped. Without
/// it the AVX2 path ran about 13% more instructions per digits training step than the
/// library's own entry (callgrind, e407dd5 against 5ac166e).
///
/// # Safety
/// As `gemm::gemm`: the operands lie within their allocations.
#[allow(clippy::type_complexity)]
unsafe fn canonical(
    (m, n, k): (usize, usize, usize),
    dst: Operand<*mut f32>,
    lhs: Operand<*const f32>,
    rhs: Operand<*const f32>,
) -> (
    (usize, usize, usize),
    Operand<*mut f32>,
    Operand<*const f32>,
    Operand<*const f32>,
) {
    let (dst, dst_cs, dst_rs) = dst;
    let ((m, n), (mut dst_cs, mut dst_rs), mut lhs, mut rhs) = if dst_cs.abs() < dst_rs.abs() {
        // (lhs · rhs)ᵀ = rhsᵀ · lhsᵀ: swap the operands and each one's strides.
        (
            (n, m),
            (dst_rs, dst_cs),
            (rhs.0, rhs.2, rhs.1),
            (lhs.0, lhs.2, lhs.1),
        )
    } else {
        ((m, n), (dst_cs, dst_rs), lhs, rhs)
    };
    let mut dst = dst;
    if dst_rs < 0 && m > 0 {
        dst = dst.wrapping_offset((m - 1) as isize * dst_rs);
        dst_rs = -dst_rs;
        lhs.0 = lhs.0.wrapping_offset((m - 1) as isize * lhs.2);
        lhs.2 = -lhs.2;
    }
    if dst_cs < 0 && n > 0 {
        dst = dst.wrapping_offset((n - 1) as isize * dst_cs);
        dst_cs = -dst_cs;
        rhs.0 = rhs.0.wrapping_offset((n - 1) as isize * rhs.1);
        rhs.1 = -rhs.1;
    }
    if lhs.1 < 0 && k > 0 {
        lhs.0 = lhs.0.wrapping_offset((k - 1) as isize * lhs.1);
        lhs.1 = -lhs.1;
        rhs.0 = rhs.0.wrapping_offset((k - 1) as isize * rhs.2);
        rhs.2 = -rhs.2;
    }
    ((m, n, k), (dst, dst_cs, dst_rs), lhs, rhs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_cap_never_raises_the_level() {
        for l in LEVELS {
            assert_eq!(Level::parse(l.name()), Some(l));
        }
        assert_eq!(Level::parse(" AVX2 "), Some(Level::Avx2));
        assert_eq!(Level::parse("sse"), None);
        assert!(level() <= detected());
    }

    /// Every level's GEMM computes the same product (to rounding), on strided operands.
    #[test]
    fn every_available_level_multiplies() {
        let (m, n, k) = (37, 29, 67);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 13) as f32) - 6.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 11) as f32) * 0.5).collect();
        // Small integers: every order of summation gives the exact product.
        let want: Vec<f32> = (0..m * n)
            .map(|ij| {
                (0..k)
                    .map(|l| a[(ij / n) * k + l] * b[l * n + ij % n])
                    .sum()
            })
            .collect();
        for l in LEVELS.into_iter().filter(|l| *l <= detected()) {
            let mut c = vec![f32::NAN; m * n];
            unsafe {
                gemm_f32(
                    l,
                    (m, n, k),
                    (c.as_mut_ptr(), 1, n as isize),
                    (a.as_ptr(), 1, k as isize),
                    (b.as_ptr(), 1, n as isize),
                    false,
                    gemm::Parallelism::None,
                )
            };
            assert_eq!(c, want, "{l:?}");
            // The same product into a column-major destination, and into one whose rows
            // run backwards (a negative row stride, flipped by `canonical`).
            let mut t = vec![f32::NAN; m * n];
            let mut r = vec![f32::NAN; m * n];
            unsafe {
                gemm_f32(
                    l,
                    (m, n, k),
                    (t.as_mut_ptr(), m as isize, 1),
                    (a.as_ptr(), 1, k as isize),
                    (b.as_ptr(), 1, n as isize),
                    false,
                    gemm::Parallelism::None,
                );
                gemm_f32(
                    l,
                    (m, n, k),
                    (r.as_mut_ptr().add((m - 1) * n), 1, -(n as isize)),
                    (a.as_ptr(), 1, k as isize),
                    (b.as_ptr(), 1, n as isize),
                    false,
                    gemm::Parallelism::None,
                );
            }
            for i in 0..m {
                for j in 0..n {
                    assert_eq!(t[j * m + i], want[i * n + j], "{l:?} column-major");
                    assert_eq!(r[(m - 1 - i) * n + j], want[i * n + j], "{l:?} reversed");
                }
            }
        }
    }

    /// A row-major destination (nnc's layout) reaches the kernels as the transposed,
    /// column-major product, as `gemm::gemm` hands it to them: the untransposed problem ran
    /// ~13% more instructions per digits step on AVX2.
    #[test]
    fn row_major_products_are_transposed_for_the_kernels() {
        let (dst, lhs, rhs) = ([0f32; 6], [0f32; 6], [0f32; 9]);
        let (mnk, d, l, r) = unsafe {
            canonical(
                (2, 3, 3),
                (dst.as_ptr().cast_mut(), 1, 3),
                (lhs.as_ptr(), 1, 3),
                (rhs.as_ptr(), 1, 3),
            )
        };
        assert_eq!(mnk, (3, 2, 3));
        assert_eq!((d.1, d.2), (3, 1));
        assert_eq!((l.0, l.1, l.2), (rhs.as_ptr(), 3, 1));
        assert_eq!((r.0, r.1, r.2), (lhs.as_ptr(), 3, 1));
    }
}
