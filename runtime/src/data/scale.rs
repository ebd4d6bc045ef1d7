//! Feature scaling fitted on the train split only, then applied to train and test alike.
//!
//! Every scaler is per column `x' = (x - shift) / scale`:
//!
//! | scaling       | shift      | scale                      |
//! |---------------|------------|----------------------------|
//! | `None`        | 0          | 1                          |
//! | `Standardize` | train mean | train std (population, ddof 0) |
//! | `MinMax`      | train min  | train max - train min      |
//! | `Divide(k)`   | 0          | k                          |
//!
//! A constant train column (std or range below 1e-12 times its magnitude, or 0) gets
//! scale 1, as scikit-learn does: it becomes 0 after standardizing (its value minus the
//! mean) instead of NaN/inf from a division by zero. Statistics are accumulated in f64.

use super::dataset::Dataset;
use super::error::DataError;

/// How to scale features.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scaling {
    /// Leave features as they are.
    None,
    /// Zero mean, unit (population) standard deviation per column.
    Standardize,
    /// Map each column's train range to [0, 1].
    MinMax,
    /// Divide by a constant, e.g. 16 for digits or 255 for 8-bit images.
    Divide(f32),
}

/// A fitted per-column affine map `x' = (x - shift) / scale`.
#[derive(Clone, Debug, PartialEq)]
pub struct Scaler {
    shift: Vec<f32>,
    scale: Vec<f32>,
}

impl Scaler {
    /// Fits `scaling` on `train`'s features.
    pub fn fit(scaling: Scaling, train: &Dataset) -> Result<Self, DataError> {
        let features = train.features();
        let n_features = features.ncols();
        let columns = features.columns().into_iter();
        let (shift, scale): (Vec<f64>, Vec<f64>) = match scaling {
            Scaling::None => (vec![0.0; n_features], vec![1.0; n_features]),
            Scaling::Divide(k) => {
                if !(k.is_finite() && k != 0.0) {
                    return Err(DataError::BadParameter {
                        context: format!("scaling `{}`", train.origin()),
                        param: "divide".to_string(),
                        reason: format!("divisor {k} is zero or not finite"),
                        hint: "Divide by a finite non-zero number, e.g. 16 for digits or 255 for 8-bit images.".to_string(),
                    });
                }
                (vec![0.0; n_features], vec![f64::from(k); n_features])
            }
            Scaling::Standardize => columns
                .map(|column| {
                    let n = column.len() as f64;
                    let mean = column.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
                    let var = column
                        .iter()
                        .map(|&v| (f64::from(v) - mean).powi(2))
                        .sum::<f64>()
                        / n;
                    (mean, non_degenerate(var.sqrt(), mean))
                })
                .unzip(),
            Scaling::MinMax => columns
                .map(|column| {
                    let min = column
                        .iter()
                        .fold(f64::INFINITY, |acc, &v| acc.min(v.into()));
                    let max = column
                        .iter()
                        .fold(f64::NEG_INFINITY, |acc, &v| acc.max(v.into()));
                    (min, non_degenerate(max - min, min.abs().max(max.abs())))
                })
                .unzip(),
        };
        Ok(Self {
            shift: shift.into_iter().map(|v| v as f32).collect(),
            scale: scale.into_iter().map(|v| v as f32).collect(),
        })
    }

    /// A scaler from stored statistics (a model file's): `None` if the lengths differ or
    /// a scale is zero or not finite.
    pub fn from_parts(shift: Vec<f32>, scale: Vec<f32>) -> Option<Self> {
        let ok = shift.len() == scale.len()
            && shift.iter().all(|v| v.is_finite())
            && scale.iter().all(|v| v.is_finite() && *v != 0.0);
        ok.then_some(Self { shift, scale })
    }

    /// Per-column shift (subtracted first).
    pub fn shift(&self) -> &[f32] {
        &self.shift
    }

    /// Per-column scale (divided by after the shift); never 0.
    pub fn scale(&self) -> &[f32] {
        &self.scale
    }

    /// Applies the fitted map to `dataset` in place.
    pub fn transform(&self, dataset: &mut Dataset) -> Result<(), DataError> {
        let origin = dataset.origin().to_string();
        self.transform_rows(&origin, dataset.features_mut())
    }

    /// Applies the fitted map to feature rows read from `origin` (new data to score).
    pub fn transform_rows(
        &self,
        origin: &str,
        features: &mut ndarray::Array2<f32>,
    ) -> Result<(), DataError> {
        if features.ncols() != self.shift.len() {
            return Err(DataError::ShapeMismatch {
                file: origin.to_string(),
                n_features: features.ncols(),
                shape: vec![self.shift.len()],
                needed: self.shift.len(),
            });
        }
        for (i, mut row) in features.rows_mut().into_iter().enumerate() {
            for (j, value) in row.iter_mut().enumerate() {
                let scaled = (*value - self.shift[j]) / self.scale[j];
                // Only a far-out test value over a tiny train spread can overflow; report it
                // rather than let inf reach training.
                if !scaled.is_finite() {
                    return Err(DataError::NonFinite {
                        file: format!("{origin} (after scaling)"),
                        row: i as u64 + 1,
                        column: j + 1,
                        value: scaled.to_string(),
                    });
                }
                *value = scaled;
            }
        }
        Ok(())
    }
}

/// Fits `scaling` on `train` only and applies it to both splits; returns the scaler so the
/// same map can be applied at inference.
pub fn scale_split(
    scaling: Scaling,
    train: &mut Dataset,
    test: &mut Dataset,
) -> Result<Scaler, DataError> {
    let scaler = Scaler::fit(scaling, train)?;
    scaler.transform(train)?;
    scaler.transform(test)?;
    Ok(scaler)
}

/// `spread`, or 1 when it is negligible next to the column's `magnitude` (constant column).
fn non_degenerate(spread: f64, magnitude: f64) -> f64 {
    if spread <= 1e-12 * magnitude.abs().max(1.0) {
        1.0
    } else {
        spread
    }
}
