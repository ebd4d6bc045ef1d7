//! How often ReLU units are active (> 0), alone and together: the co-activation
//! statistics of `nnc diagnose`. Samples are rows of a `[samples, units]` matrix (a conv
//! channel at every position is one unit sampled many times).

use ndarray::Array2;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Coactivation {
    /// Mean over samples of the fraction of units active.
    pub active_fraction: f64,
    /// Units never active over the data (dead).
    pub dead_units: usize,
    /// Mean over unit pairs of the fraction of samples where both are active.
    pub pair_rate: f64,
    /// What `pair_rate` would be if units fired independently at their own rates.
    pub pair_rate_independent: f64,
}

pub fn coactivation(x: &Array2<f64>) -> Coactivation {
    let (n, units) = x.dim();
    let active = x.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 });
    let nf = n.max(1) as f64;
    let rate: Vec<f64> = (0..units).map(|u| active.column(u).sum() / nf).collect();
    let active_fraction = rate.iter().sum::<f64>() / units.max(1) as f64;
    // Pair counts from one product: (A^T A)[i][j] = samples where i and j are active.
    let together = active.t().dot(&active);
    let (mut pairs, mut both, mut independent) = (0usize, 0.0, 0.0);
    for (i, &ri) in rate.iter().enumerate() {
        for (j, &rj) in rate.iter().enumerate().skip(i + 1) {
            pairs += 1;
            both += together[[i, j]] / nf;
            independent += ri * rj;
        }
    }
    let p = pairs.max(1) as f64;
    Coactivation {
        active_fraction,
        dead_units: rate.iter().filter(|r| **r == 0.0).count(),
        pair_rate: both / p,
        pair_rate_independent: independent / p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn counts_by_hand() {
        // Units 0 and 1 fire together on half the samples; unit 2 never fires.
        let x = array![
            [1.0, 2.0, 0.0],
            [0.0, 0.0, -1.0],
            [3.0, 1.0, 0.0],
            [0.0, 0.0, 0.0]
        ];
        let c = coactivation(&x);
        assert_eq!(c.dead_units, 1);
        assert!((c.active_fraction - 1.0 / 3.0).abs() < 1e-12);
        // Pairs (0,1): 0.5, (0,2): 0, (1,2): 0.
        assert!((c.pair_rate - 0.5 / 3.0).abs() < 1e-12);
        // Independent rates 0.5, 0.5, 0: 0.25 / 3.
        assert!((c.pair_rate_independent - 0.25 / 3.0).abs() < 1e-12);
    }
}
