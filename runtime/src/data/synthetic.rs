//! Small seeded generators for experiments: `blobs`, `spirals`, `xor`, `grid1d`.
//!
//! Each draws from `rng_for(seed, stream::GENERATOR)` in a fixed order (documented per
//! generator), computes in f64 and stores f32, so a seed reproduces the data bit for bit.
//! Parameters and defaults are listed in [`super::builtin::BUILTINS`].

use std::f64::consts::PI;

use ndarray::{Array1, Array2, Axis};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::dataset::{Dataset, Targets};
use super::error::DataError;
use super::params::Params;
use crate::rng::{rng_for, stream};

/// Gaussian clusters. Draws the centres first (uniform in `[-box, box]^dim`, centre by
/// centre), then for each sample `i` of class `i mod centers` its `dim` normal offsets
/// scaled by `std`.
pub(crate) fn blobs(seed: u64, params: &Params) -> Result<Dataset, DataError> {
    let n = params.count("n")?;
    let n_centers = params.count_in("centers", 1, 1000)?;
    let dim = params.count_in("dim", 1, 10_000)?;
    let std = params.non_negative("std")?;
    let half_width = params.positive("box")?;
    let mut rng = rng_for(seed, stream::GENERATOR);
    let centers: Vec<f64> = (0..n_centers * dim)
        .map(|_| rng.random_range(-half_width..half_width))
        .collect();
    let mut features = Array2::zeros((n, dim));
    let mut labels = Vec::with_capacity(n);
    for (i, mut row) in features.rows_mut().into_iter().enumerate() {
        let class = i % n_centers;
        for (j, value) in row.iter_mut().enumerate() {
            *value = (centers[class * dim + j] + std * normal(&mut rng)) as f32;
        }
        labels.push(class as u32);
    }
    let names = (0..dim).map(|j| format!("x{j}")).collect();
    Dataset::new(
        "builtin \"blobs\"",
        features,
        Targets::Classes {
            labels,
            n_classes: n_centers as u32,
        },
    )?
    .with_feature_names(names)
}

/// Two spirals. Sample `i` is class `i mod 2`; it draws `t ~ U[0, 1)`, then noise for x and
/// y. The point is radius `t` at angle `2*pi*turns*t + pi*class`, so the arms are point
/// reflections of each other.
pub(crate) fn spirals(seed: u64, params: &Params) -> Result<Dataset, DataError> {
    let n = params.count("n")?;
    let turns = params.positive("turns")?;
    let noise = params.non_negative("noise")?;
    let mut rng = rng_for(seed, stream::GENERATOR);
    let mut features = Array2::zeros((n, 2));
    let mut labels = Vec::with_capacity(n);
    for (i, mut row) in features.rows_mut().into_iter().enumerate() {
        let class = i % 2;
        let t: f64 = rng.random();
        let angle = 2.0 * PI * turns * t + PI * class as f64;
        row[0] = (t * angle.cos() + noise * normal(&mut rng)) as f32;
        row[1] = (t * angle.sin() + noise * normal(&mut rng)) as f32;
        labels.push(class as u32);
    }
    Dataset::new(
        "builtin \"spirals\"",
        features,
        Targets::Classes {
            labels,
            n_classes: 2,
        },
    )?
    .with_feature_names(vec!["x".to_string(), "y".to_string()])
}

/// XOR. Sample `i` is corner `i mod 4` of `(0,0), (0,1), (1,0), (1,1)` with label `a xor b`,
/// plus `noise` times two normal draws (none are drawn when `noise` is 0, so the default is
/// the exact truth table for every seed).
pub(crate) fn xor(seed: u64, params: &Params) -> Result<Dataset, DataError> {
    let n = params.count("n")?;
    let noise = params.non_negative("noise")?;
    let mut rng = rng_for(seed, stream::GENERATOR);
    let mut features = Array2::zeros((n, 2));
    let mut labels = Vec::with_capacity(n);
    for (i, mut row) in features.rows_mut().into_iter().enumerate() {
        let (a, b) = ((i % 4) / 2, i % 2);
        for (value, bit) in row.iter_mut().zip([a, b]) {
            let jitter = if noise > 0.0 {
                noise * normal(&mut rng)
            } else {
                0.0
            };
            *value = (bit as f64 + jitter) as f32;
        }
        labels.push((a ^ b) as u32);
    }
    Dataset::new(
        "builtin \"xor\"",
        features,
        Targets::Classes {
            labels,
            n_classes: 2,
        },
    )?
    .with_feature_names(vec!["a".to_string(), "b".to_string()])
}

/// A 1-D grid for gradient-shattering experiments (Balduzzi et al. 2017 use 256 points in
/// [-2, 2]). `x_i = lo + (hi - lo) * i / (n - 1)`; the real-valued target is
/// `sin(freq * pi * x_i)` plus one normal draw times `noise` per point (none when 0).
pub(crate) fn grid1d(seed: u64, params: &Params) -> Result<Dataset, DataError> {
    let n = params.count_in("n", 2, 10_000_000)?;
    let (lo, hi) = params.ordered("lo", "hi")?;
    let freq = params.get("freq");
    let noise = params.non_negative("noise")?;
    let mut rng = rng_for(seed, stream::GENERATOR);
    let xs: Vec<f64> = (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
        .collect();
    let targets = xs
        .iter()
        .map(|&x| {
            let jitter = if noise > 0.0 {
                noise * normal(&mut rng)
            } else {
                0.0
            };
            ((freq * PI * x).sin() + jitter) as f32
        })
        .collect();
    let column = |values: Vec<f32>| Array1::from(values).insert_axis(Axis(1));
    let features = column(xs.iter().map(|&x| x as f32).collect());
    let targets = column(targets);
    Dataset::new("builtin \"grid1d\"", features, Targets::Real(targets))?
        .with_feature_names(vec!["x".to_string()])
}

/// One standard normal draw.
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}
