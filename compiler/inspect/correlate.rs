//! Correlation and mutual information between units, and the autocorrelation of a
//! sequence. Activations are `[samples, units]` matrices in f64: a conv layer's channels
//! are units and every (example, position) pair is a sample, as in Li et al.

use ndarray::{Array2, ArrayD, Axis};

/// A layer's values `[batch, units]` or `[batch, channels, ...spatial]` as a
/// `[samples, units]` matrix: every spatial position of a channel is a sample.
pub fn units_matrix(values: &ArrayD<f32>) -> Array2<f64> {
    let shape = values.shape();
    let batch = shape.first().copied().unwrap_or(1);
    let units = shape.get(1).copied().unwrap_or(1);
    let positions: usize = shape.iter().skip(2).product();
    let mut out = Array2::zeros((batch * positions, units));
    let flat: Vec<f32> = values.iter().copied().collect();
    for b in 0..batch {
        for u in 0..units {
            for p in 0..positions {
                out[[b * positions + p, u]] = flat[(b * units + u) * positions + p] as f64;
            }
        }
    }
    out
}

/// Per-column mean and (population) standard deviation.
fn moments(x: &Array2<f64>) -> (Vec<f64>, Vec<f64>) {
    let n = x.nrows().max(1) as f64;
    let mean: Vec<f64> = x.axis_iter(Axis(1)).map(|c| c.sum() / n).collect();
    let std = x
        .axis_iter(Axis(1))
        .zip(&mean)
        .map(|(c, m)| (c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt())
        .collect();
    (mean, std)
}

/// The correlation `rho[i][j]` between unit i of `a` and unit j of `b` over the same
/// samples (rows). A unit that never varies (a dead ReLU) correlates 0 with everything:
/// it has no counterpart.
pub fn correlation(a: &Array2<f64>, b: &Array2<f64>) -> Vec<Vec<f64>> {
    let n = a.nrows().max(1) as f64;
    let (ma, sa) = moments(a);
    let (mb, sb) = moments(b);
    let mut ca = a.clone();
    for (mut col, m) in ca.axis_iter_mut(Axis(1)).zip(&ma) {
        col.mapv_inplace(|v| v - m);
    }
    let mut cb = b.clone();
    for (mut col, m) in cb.axis_iter_mut(Axis(1)).zip(&mb) {
        col.mapv_inplace(|v| v - m);
    }
    let cov = ca.t().dot(&cb) / n;
    (0..a.ncols())
        .map(|i| {
            (0..b.ncols())
                .map(|j| {
                    let d = sa[i] * sb[j];
                    if d > 1e-12 {
                        (cov[[i, j]] / d).clamp(-1.0, 1.0)
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect()
}

/// Bins of one unit's values: bin 0 holds the exact zeros (the ReLU's zero mass), bins
/// 1..=`bins` split the nonzero values at their percentiles.
fn percentile_bins(values: &[f64], bins: usize) -> Vec<usize> {
    let mut nonzero: Vec<f64> = values.iter().copied().filter(|v| *v != 0.0).collect();
    nonzero.sort_by(f64::total_cmp);
    let edges: Vec<f64> = (1..bins)
        .map(|k| {
            let i = (k * nonzero.len()) / bins;
            nonzero.get(i).copied().unwrap_or(f64::INFINITY)
        })
        .collect();
    values
        .iter()
        .map(|&v| {
            if v == 0.0 {
                0
            } else {
                1 + edges.iter().filter(|e| v >= **e).count()
            }
        })
        .collect()
}

/// Plug-in mutual information (nats) between every unit of `a` and every unit of `b`,
/// from 2-D histograms over percentile bins (`bins` for the nonzero values plus one for
/// zeros), minus the bias correction (#cells)/(2 N ln 2) of Li et al.'s code.
pub fn mutual_information(a: &Array2<f64>, b: &Array2<f64>, bins: usize) -> Vec<Vec<f64>> {
    let n = a.nrows();
    let k = bins + 1;
    let binned = |x: &Array2<f64>| -> Vec<Vec<usize>> {
        x.axis_iter(Axis(1))
            .map(|c| percentile_bins(&c.to_vec(), bins))
            .collect()
    };
    let (ba, bb) = (binned(a), binned(b));
    let correction = (k * k) as f64 / (2.0 * n.max(1) as f64 * std::f64::consts::LN_2);
    ba.iter()
        .map(|xa| {
            bb.iter()
                .map(|xb| {
                    let mut joint = vec![0usize; k * k];
                    let (mut pa, mut pb) = (vec![0usize; k], vec![0usize; k]);
                    for (&i, &j) in xa.iter().zip(xb) {
                        joint[i * k + j] += 1;
                        pa[i] += 1;
                        pb[j] += 1;
                    }
                    let nf = n.max(1) as f64;
                    let mut mi = 0.0;
                    for (i, &na) in pa.iter().enumerate() {
                        for (j, &nb) in pb.iter().enumerate() {
                            let c = joint[i * k + j];
                            if c > 0 {
                                let p = c as f64 / nf;
                                mi += p * (p * nf * nf / (na as f64 * nb as f64)).ln();
                            }
                        }
                    }
                    mi - correction
                })
                .collect()
        })
        .collect()
}

/// Lag-1 Pearson correlation of a sequence: corr(g[0..n-1], g[1..n]). `None` when either
/// part has zero variance (a constant gradient) or there are fewer than 3 values.
pub fn lag1_autocorrelation(g: &[f64]) -> Option<f64> {
    if g.len() < 3 {
        return None;
    }
    let (x, y) = (&g[..g.len() - 1], &g[1..]);
    let m = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / m, y.iter().sum::<f64>() / m);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    let scale = mx.abs().max(my.abs()).max(1e-300);
    // Relative to the values' size: a constant sequence in floating point still has
    // rounding noise that must not count as variance.
    if sxx.sqrt() <= 1e-9 * scale * m.sqrt() || syy.sqrt() <= 1e-9 * scale * m.sqrt() {
        return None;
    }
    Some(sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn correlation_of_known_columns() {
        let a = array![[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]];
        let b = array![[2.0, 3.0], [4.0, 2.0], [6.0, 1.0]];
        let rho = correlation(&a, &b);
        assert!((rho[0][0] - 1.0).abs() < 1e-12);
        assert!((rho[0][1] + 1.0).abs() < 1e-12);
        // A constant (dead) unit correlates with nothing.
        assert_eq!(rho[1], vec![0.0, 0.0]);
    }

    #[test]
    fn conv_positions_are_samples() {
        // [batch 2, channels 2, 2 positions]
        let v = ArrayD::from_shape_vec(vec![2, 2, 2], vec![1., 2., 10., 20., 3., 4., 30., 40.])
            .unwrap();
        let m = units_matrix(&v);
        assert_eq!(m.shape(), &[4, 2]);
        assert_eq!(m.column(0).to_vec(), vec![1., 2., 3., 4.]);
        assert_eq!(m.column(1).to_vec(), vec![10., 20., 30., 40.]);
    }

    #[test]
    fn autocorrelation_of_known_sequences() {
        // A line: every lag-1 pair moves together.
        let line: Vec<f64> = (0..50).map(|i| i as f64).collect();
        assert!((lag1_autocorrelation(&line).unwrap() - 1.0).abs() < 1e-12);
        // Alternating signs: perfectly anti-correlated.
        let alt: Vec<f64> = (0..50)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        assert!((lag1_autocorrelation(&alt).unwrap() + 1.0).abs() < 1e-12);
        // By hand: x = [1, 2, 1, 2, 3], pairs (1,2) (2,1) (1,2) (2,3).
        // mean x = 1.5, mean y = 2; sxy = -0.5*0 + 0.5*-1 + -0.5*0 + 0.5*1 = 0.
        let g = [1.0, 2.0, 1.0, 2.0, 3.0];
        assert!(lag1_autocorrelation(&g).unwrap().abs() < 1e-12);
        // A constant gradient has no autocorrelation.
        assert_eq!(lag1_autocorrelation(&[0.3; 10]), None);
        assert_eq!(lag1_autocorrelation(&[1.0, 2.0]), None);
    }

    #[test]
    fn mutual_information_separates_dependent_from_independent() {
        let n = 2000;
        let a = Array2::from_shape_fn((n, 1), |(i, _)| (i % 100) as f64);
        // b0 is a copy of a; b1 cycles with a coprime period, so independent of a.
        let b = Array2::from_shape_fn((n, 2), |(i, j)| {
            if j == 0 {
                (i % 100) as f64
            } else {
                ((i * 37) % 101) as f64
            }
        });
        let mi = mutual_information(&a, &b, 10);
        assert!(mi[0][0] > 1.5, "{mi:?}");
        assert!(mi[0][1].abs() < 0.1, "{mi:?}");
    }
}
