//! Linear decodability (Hermann & Lampinen): a multinomial logistic-regression probe
//! trained on one layer's activations, scored on held-out examples.
//!
//! Features are standardised with the training examples' statistics; the probe is fitted
//! by full-batch gradient descent from zero weights, so it is deterministic.

use crate::train::loss::argmax;
use ndarray::{Array1, Array2, Axis};

/// Gradient-descent steps, step size and L2 penalty of the probe: enough for the
/// separable-within-a-few-percent cases nnc's specs produce, in well under a second for
/// a few thousand features.
pub const STEPS: usize = 300;
pub const LR: f64 = 0.5;
pub const L2: f64 = 1e-4;

pub struct Probe {
    mean: Array1<f64>,
    std: Array1<f64>,
    w: Array2<f64>,
    b: Array1<f64>,
}

fn softmax_rows(z: &mut Array2<f64>) {
    for mut row in z.axis_iter_mut(Axis(0)) {
        let max = row.fold(f64::NEG_INFINITY, |m, v| m.max(*v));
        row.mapv_inplace(|v| (v - max).exp());
        let total = row.sum();
        row.mapv_inplace(|v| v / total);
    }
}

impl Probe {
    /// Fits a probe predicting `labels` (0..classes) from the rows of `x`.
    pub fn fit(x: &Array2<f64>, labels: &[u32], classes: usize) -> Probe {
        let (n, d) = x.dim();
        let nf = n.max(1) as f64;
        let mean = x.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(d));
        let std = x
            .var_axis(Axis(0), 0.0)
            .mapv(|v| if v > 1e-12 { v.sqrt() } else { 1.0 });
        let xs = (x - &mean) / &std;
        let mut y = Array2::zeros((n, classes));
        for (i, &l) in labels.iter().enumerate() {
            y[[i, l as usize]] = 1.0;
        }
        let mut w = Array2::<f64>::zeros((d, classes));
        let mut b = Array1::<f64>::zeros(classes);
        for _ in 0..STEPS {
            let mut p = xs.dot(&w) + &b;
            softmax_rows(&mut p);
            let err = (p - &y) / nf;
            let gw = xs.t().dot(&err) + &(&w * L2);
            let gb = err.sum_axis(Axis(0));
            w -= &(gw * LR);
            b -= &(gb * LR);
        }
        Probe { mean, std, w, b }
    }

    pub fn predict(&self, x: &Array2<f64>) -> Vec<u32> {
        let xs = (x - &self.mean) / &self.std;
        let z = xs.dot(&self.w) + &self.b;
        z.axis_iter(Axis(0))
            .map(|row| argmax(row.iter().copied()) as u32)
            .collect()
    }

    pub fn accuracy(&self, x: &Array2<f64>, labels: &[u32]) -> f64 {
        let right = self
            .predict(x)
            .iter()
            .zip(labels)
            .filter(|(a, b)| a == b)
            .count();
        right as f64 / labels.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three classes separated along different directions, with a distractor feature:
    /// the probe decodes them; on a feature that carries no label information it is at
    /// chance.
    #[test]
    fn separable_data_is_decoded() {
        let make = |n: usize, offset: usize| {
            let labels: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
            let x = Array2::from_shape_fn((n, 3), |(i, j)| {
                let class = i % 3;
                // Deterministic jitter in [-0.4, 0.4).
                let jitter = (((i + offset) * 7919 + j * 104729) % 800) as f64 / 1000.0 - 0.4;
                match j {
                    0 => (class == 1) as u8 as f64 + jitter,
                    1 => (class == 2) as u8 as f64 + jitter,
                    _ => jitter * 10.0,
                }
            });
            (x, labels)
        };
        let (x, y) = make(300, 0);
        let (xt, yt) = make(150, 11);
        let probe = Probe::fit(&x, &y, 3);
        assert!(probe.accuracy(&xt, &yt) > 0.95);
        // Only the distractor column: chance level.
        let only = |m: &Array2<f64>| m.slice(ndarray::s![.., 2..3]).to_owned();
        let blind = Probe::fit(&only(&x), &y, 3);
        assert!(blind.accuracy(&only(&xt), &yt) < 0.6);
    }
}
