//! Weight initialisation: fills a tensor from its scheme, its fans and a seeded stream.
//!
//! Fans follow PyTorch: a weight of shape [out, in, k...] has fan_in = in·k... and
//! fan_out = out·k.... Orthogonal matrices come from the QR decomposition of a Gaussian
//! matrix with the sign fix of Mezzadri (2007), so they are uniformly distributed; the
//! flattened weight (rows = shape[0]) has orthonormal rows when rows <= columns and
//! orthonormal columns otherwise (Saxe et al. 2014; LSUV's pre-init).

use nalgebra::DMatrix;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, StandardNormal, Uniform};

/// A scheme with everything it needs except the shape and the random stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scheme {
    Zeros,
    Constant(f64),
    Gaussian {
        mean: f64,
        std: f64,
    },
    Uniform {
        low: f64,
        high: f64,
    },
    Xavier {
        normal: bool,
        gain: f64,
    },
    He {
        normal: bool,
        fan_out: bool,
    },
    Orthogonal {
        gain: f64,
    },
    /// [W0, -W0] along the input axis (axis 1), W0 orthogonal: the layer after a CReLU
    /// computes W0·x at init (Balduzzi et al. 2017).
    LooksLinear,
}

/// (fan_in, fan_out) of a weight shape; vectors have fan_in = fan_out = len.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [out, inp, rest @ ..] => {
            let field: usize = rest.iter().product();
            (inp * field, out * field)
        }
    }
}

/// A tensor of `shape` (row-major) filled by `scheme`.
pub fn fill(scheme: Scheme, shape: &[usize], rng: &mut ChaCha8Rng) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let (fan_in, fan_out) = fans(shape);
    // A spec's numbers are finite, but a range or a deviation near f64::MAX is not (`uniform(
    // low: -1e308, high: 1e308)`, a gain of 1e308): such weights are far beyond f32 anyway,
    // so they are all non-finite, and the trainer's non-finite check names the layer.
    let normal = |rng: &mut ChaCha8Rng, mean: f64, std: f64| -> Vec<f32> {
        match Normal::new(mean, std.max(0.0)) {
            Ok(dist) => (0..n).map(|_| dist.sample(rng) as f32).collect(),
            Err(_) => vec![f32::NAN; n],
        }
    };
    let uniform = |rng: &mut ChaCha8Rng, low: f64, high: f64| -> Vec<f32> {
        if high <= low {
            return vec![low as f32; n];
        }
        match Uniform::new(low, high) {
            Ok(dist) => (0..n).map(|_| dist.sample(rng) as f32).collect(),
            Err(_) => vec![f32::NAN; n],
        }
    };
    match scheme {
        Scheme::Zeros => vec![0.0; n],
        Scheme::Constant(v) => vec![v as f32; n],
        Scheme::Gaussian { mean, std } => normal(rng, mean, std),
        Scheme::Uniform { low, high } => uniform(rng, low, high),
        Scheme::Xavier { normal: true, gain } => {
            normal(rng, 0.0, gain * (2.0 / (fan_in + fan_out) as f64).sqrt())
        }
        Scheme::Xavier {
            normal: false,
            gain,
        } => {
            let a = gain * (6.0 / (fan_in + fan_out) as f64).sqrt();
            uniform(rng, -a, a)
        }
        Scheme::He {
            normal: is_normal,
            fan_out: use_out,
        } => {
            let fan = if use_out { fan_out } else { fan_in } as f64;
            if is_normal {
                normal(rng, 0.0, (2.0 / fan).sqrt())
            } else {
                let a = (6.0 / fan).sqrt();
                uniform(rng, -a, a)
            }
        }
        Scheme::Orthogonal { gain } => orthogonal(shape, gain, rng),
        Scheme::LooksLinear => looks_linear(shape, rng),
    }
}

/// Orthogonal init of `shape`, flattened to [shape[0], prod(shape[1..])].
pub fn orthogonal(shape: &[usize], gain: f64, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let rows = shape.first().copied().unwrap_or(1);
    let cols: usize = shape.iter().skip(1).product::<usize>().max(1);
    let q = orthonormal(rows.max(cols), rows.min(cols), rng);
    // q has orthonormal columns (long x short); transpose it when the weight is wide.
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            let v = if rows >= cols { q[(r, c)] } else { q[(c, r)] };
            out.push((gain * v) as f32);
        }
    }
    out
}

/// A `long x short` matrix with orthonormal columns, uniformly distributed.
fn orthonormal(long: usize, short: usize, rng: &mut ChaCha8Rng) -> DMatrix<f64> {
    let a = DMatrix::from_fn(long, short, |_, _| -> f64 { StandardNormal.sample(rng) });
    let qr = a.qr();
    let mut q = qr.q();
    let r = qr.r();
    // Sign fix: makes the distribution uniform (Haar) rather than biased by QR's convention.
    for j in 0..short {
        if r[(j, j)] < 0.0 {
            q.column_mut(j).neg_mut();
        }
    }
    q
}

fn looks_linear(shape: &[usize], rng: &mut ChaCha8Rng) -> Vec<f32> {
    let out_dim = shape.first().copied().unwrap_or(1);
    let in_dim = shape.get(1).copied().unwrap_or(1);
    let field: usize = shape.iter().skip(2).product();
    let half = in_dim / 2;
    let mut half_shape = shape.to_vec();
    if half_shape.len() >= 2 {
        half_shape[1] = half;
    }
    let w0 = orthogonal(&half_shape, 1.0, rng);
    let mut out = vec![0.0f32; out_dim * in_dim * field];
    for o in 0..out_dim {
        for i in 0..half {
            for k in 0..field {
                let v = w0[(o * half + i) * field + k];
                out[(o * in_dim + i) * field + k] = v;
                out[(o * in_dim + half + i) * field + k] = -v;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{rng_for, stream};

    #[test]
    fn ranges_beyond_f64_give_non_finite_weights_not_a_panic() {
        // A spec may write any finite number: `uniform(low: -1e308, high: 1e308)` has a
        // width of inf, which rand_distr rejects; the weights are non-finite instead, and
        // the trainer's non-finite check names the layer.
        let mut rng = rng_for(1, stream::INIT);
        for scheme in [
            Scheme::Uniform {
                low: -1e308,
                high: 1e308,
            },
            Scheme::Xavier {
                normal: false,
                gain: 1e308,
            },
            Scheme::Gaussian {
                mean: 0.0,
                std: f64::INFINITY,
            },
        ] {
            let w = fill(scheme, &[3, 4], &mut rng);
            assert_eq!(w.len(), 12);
            assert!(w.iter().all(|v| !v.is_finite()), "{scheme:?}: {w:?}");
        }
    }

    fn gram(w: &[f32], rows: usize, cols: usize, by_rows: bool) -> Vec<f64> {
        let k = if by_rows { rows } else { cols };
        let mut g = vec![0.0; k * k];
        for a in 0..k {
            for b in 0..k {
                let mut s = 0.0;
                let len = if by_rows { cols } else { rows };
                for i in 0..len {
                    let (x, y) = if by_rows {
                        (w[a * cols + i], w[b * cols + i])
                    } else {
                        (w[i * cols + a], w[i * cols + b])
                    };
                    s += x as f64 * y as f64;
                }
                g[a * k + b] = s;
            }
        }
        g
    }

    fn assert_identity(g: &[f64], k: usize) {
        for a in 0..k {
            for b in 0..k {
                let want = if a == b { 1.0 } else { 0.0 };
                assert!(
                    (g[a * k + b] - want).abs() < 1e-5,
                    "gram[{a}][{b}] = {}",
                    g[a * k + b]
                );
            }
        }
    }

    // papers.md section 2, test case 4.
    #[test]
    fn orthogonal_conv_kernel_has_orthonormal_rows() {
        let mut rng = rng_for(1, stream::INIT);
        let w = fill(Scheme::Orthogonal { gain: 1.0 }, &[4, 2, 3, 3], &mut rng);
        assert_identity(&gram(&w, 4, 18, true), 4);
    }

    #[test]
    fn orthogonal_tall_weight_has_orthonormal_columns() {
        let mut rng = rng_for(2, stream::INIT);
        let w = fill(Scheme::Orthogonal { gain: 1.0 }, &[20, 2, 1, 1], &mut rng);
        assert_identity(&gram(&w, 20, 2, false), 2);
    }

    #[test]
    fn looks_linear_mirrors_an_orthogonal_half() {
        let mut rng = rng_for(3, stream::INIT);
        let w = fill(Scheme::LooksLinear, &[3, 8], &mut rng);
        for o in 0..3 {
            for i in 0..4 {
                assert_eq!(w[o * 8 + i], -w[o * 8 + 4 + i]);
            }
        }
        let half: Vec<f32> = (0..3).flat_map(|o| w[o * 8..o * 8 + 4].to_vec()).collect();
        assert_identity(&gram(&half, 3, 4, true), 3);
    }

    #[test]
    fn variance_scaled_schemes_have_the_documented_spread() {
        let shape = [256, 512];
        let var = |w: &[f32]| w.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / w.len() as f64;
        let mut rng = rng_for(4, stream::INIT);
        let he = fill(
            Scheme::He {
                normal: true,
                fan_out: false,
            },
            &shape,
            &mut rng,
        );
        assert!((var(&he) / (2.0 / 512.0) - 1.0).abs() < 0.05);
        let xu = fill(
            Scheme::Xavier {
                normal: false,
                gain: 1.0,
            },
            &shape,
            &mut rng,
        );
        assert!((var(&xu) / (2.0 / 768.0) - 1.0).abs() < 0.05);
        let xn = fill(
            Scheme::Xavier {
                normal: true,
                gain: 2.0,
            },
            &shape,
            &mut rng,
        );
        assert!((var(&xn) / (4.0 * 2.0 / 768.0) - 1.0).abs() < 0.05);
        let hu = fill(
            Scheme::He {
                normal: false,
                fan_out: true,
            },
            &shape,
            &mut rng,
        );
        assert!((var(&hu) / (2.0 / 256.0) - 1.0).abs() < 0.05);
        let g = fill(
            Scheme::Gaussian {
                mean: 0.0,
                std: 0.01,
            },
            &shape,
            &mut rng,
        );
        assert!((var(&g) / 1e-4 - 1.0).abs() < 0.05);
        let u = fill(
            Scheme::Uniform {
                low: -0.5,
                high: 0.5,
            },
            &shape,
            &mut rng,
        );
        assert!(u.iter().all(|x| (-0.5..0.5).contains(x)));
        assert_eq!(fill(Scheme::Constant(0.25), &[3], &mut rng), vec![0.25; 3]);
        assert_eq!(fill(Scheme::Zeros, &[2, 2], &mut rng), vec![0.0; 4]);
    }

    #[test]
    fn same_seed_same_weights() {
        let a = fill(
            Scheme::Orthogonal { gain: 1.0 },
            &[5, 7],
            &mut rng_for(9, stream::INIT),
        );
        let b = fill(
            Scheme::Orthogonal { gain: 1.0 },
            &[5, 7],
            &mut rng_for(9, stream::INIT),
        );
        let c = fill(
            Scheme::Orthogonal { gain: 1.0 },
            &[5, 7],
            &mut rng_for(10, stream::INIT),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn fans_follow_pytorch() {
        assert_eq!(fans(&[10, 64]), (64, 10));
        assert_eq!(fans(&[16, 3, 5, 5]), (75, 400));
    }
}
