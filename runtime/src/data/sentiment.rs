//! `but_sentiment`: a synthetic stand-in for the "A but B" sentences of Hu et al. (2016).
//!
//! Each sample has two clause vectors of `dim` features and a binary `has_but` feature:
//!
//! ```text
//! columns: a0 .. a{dim-1} | b0 .. b{dim-1} | has_but
//! fields:  clause_a       | clause_b       | has_but
//! ```
//!
//! A random unit direction `w` carries sentiment. With label `y` (0 = negative,
//! 1 = positive) and `s = 2y - 1`, clause B is `s * signal * w + noise * N(0, I)`. Clause A
//! carries the same sentiment, except in "but" samples, where it carries the opposite one:
//! the label follows clause B. Only `round(but_fraction * n)` samples contain "but", so a
//! plain classifier mostly learns "A and B agree" and gets "but" samples wrong, which is what
//! the rule `has_but => (positive <=> predict(clause_b) positive)` fixes.
//!
//! `unlabelled_but` withholds the label of that share of the "but" samples (rounded, the
//! first ones in sample order): semi-supervised data where few labelled examples contain
//! "but", as in the paper's use of rules on unlabelled text. Unlabelled samples always train
//! (see `split`) and are never scored.
//!
//! Draw order for a seed: `w` (dim normals, normalised), the "but" sample indices (a sample
//! without replacement), then per sample its label (fair coin), clause A noise, clause B
//! noise. `unlabelled_but` draws nothing, so it changes no feature or label.

use ndarray::Array2;
use rand::Rng;

use super::dataset::{Dataset, Targets};
use super::error::DataError;
use super::params::Params;
use super::synthetic::normal;
use crate::rng::{rng_for, stream};

pub(crate) fn but_sentiment(seed: u64, params: &Params) -> Result<Dataset, DataError> {
    let n = params.count("n")?;
    let dim = params.count_in("dim", 1, 10_000)?;
    let but_fraction = params.fraction("but_fraction")?;
    let signal = params.non_negative("signal")?;
    let noise = params.non_negative("noise")?;
    let unlabelled_but = params.fraction("unlabelled_but")?;
    let mut rng = rng_for(seed, stream::GENERATOR);

    let mut direction: Vec<f64> = (0..dim).map(|_| normal(&mut rng)).collect();
    let norm = direction
        .iter()
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    direction.iter_mut().for_each(|v| *v /= norm);

    let n_but = ((but_fraction * n as f64).round() as usize).min(n);
    let n_hidden = (unlabelled_but * n_but as f64).round() as usize;
    if n_hidden > 0 && n_hidden == n {
        return Err(params.error(
            "unlabelled_but",
            format!("{unlabelled_but} would leave none of the {n} samples labelled"),
        ));
    }
    let mut has_but = vec![false; n];
    for i in rand::seq::index::sample(&mut rng, n, n_but) {
        has_but[i] = true;
    }

    let mut features = Array2::zeros((n, 2 * dim + 1));
    let mut labels = Vec::with_capacity(n);
    for (i, mut row) in features.rows_mut().into_iter().enumerate() {
        let label = rng.random_bool(0.5);
        let sign = if label { 1.0 } else { -1.0 };
        let sign_a = if has_but[i] { -sign } else { sign };
        for (j, &w) in direction.iter().enumerate() {
            row[j] = (sign_a * signal * w + noise * normal(&mut rng)) as f32;
        }
        for (j, &w) in direction.iter().enumerate() {
            row[dim + j] = (sign * signal * w + noise * normal(&mut rng)) as f32;
        }
        row[2 * dim] = f32::from(u8::from(has_but[i]));
        labels.push(u32::from(label));
    }

    let mut hidden = vec![false; n];
    for i in (0..n).filter(|&i| has_but[i]).take(n_hidden) {
        hidden[i] = true;
    }

    let names = (0..dim)
        .map(|j| format!("a{j}"))
        .chain((0..dim).map(|j| format!("b{j}")))
        .chain(["has_but".to_string()])
        .collect();
    Dataset::new(
        "builtin \"but_sentiment\"",
        features,
        Targets::Classes {
            labels,
            n_classes: 2,
        },
    )?
    .with_class_names(vec!["negative".to_string(), "positive".to_string()])?
    .with_feature_names(names)?
    .with_field("clause_a", 0..dim)?
    .with_field("clause_b", dim..2 * dim)?
    .with_field("has_but", 2 * dim..2 * dim + 1)?
    .with_unlabelled(hidden)
}
