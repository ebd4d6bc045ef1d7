//! Seeded k-means (k-means++ seeding, then Lloyd iterations) and cluster-centroid
//! undersampling: every class but the smallest is replaced by the centroids of `k` clusters
//! of its examples, as imbalanced-learn's `ClusterCentroids` with soft voting
//! (papers.md section 11).

use ndarray::{Array2, ArrayView2, Axis};
use rand::Rng;

use crate::rng::{rng_for, stream};
use crate::sampling_weights::SamplingError;

/// Lloyd iterations stop when no assignment changes, or after this many.
const MAX_ITERATIONS: usize = 100;

/// Sub-stream of `stream::SAMPLER` for k-means, away from the per-epoch sub-streams.
const KMEANS_STREAM: u64 = stream::SAMPLER + (1 << 55);

/// The `k` centroids (`k x d`) of the rows of `points`, seeded with k-means++ from
/// `rng_for(seed, stream)`. Errors unless `1 <= k <= n`.
pub fn kmeans(
    points: ArrayView2<f32>,
    k: usize,
    seed: u64,
    stream: u64,
) -> Result<Array2<f32>, SamplingError> {
    let (n, d) = points.dim();
    if k == 0 || k > n {
        return Err(SamplingError::KmeansTooLarge {
            k,
            class: "of the points".into(),
            count: n,
        });
    }
    let mut rng = rng_for(seed, stream);
    let dist2 = |a: usize, c: &Array2<f64>, j: usize| -> f64 {
        points
            .row(a)
            .iter()
            .zip(c.row(j))
            .map(|(&x, &m)| (x as f64 - m).powi(2))
            .sum()
    };
    // k-means++ (Arthur & Vassilvitskii 2007): each next centre drawn with probability
    // proportional to the squared distance to the nearest centre so far.
    let mut centres = Array2::<f64>::zeros((k, d));
    let first = rng.random_range(0..n);
    centres
        .row_mut(0)
        .assign(&points.row(first).mapv(f64::from));
    let mut nearest: Vec<f64> = (0..n).map(|i| dist2(i, &centres, 0)).collect();
    for j in 1..k {
        let total: f64 = nearest.iter().sum();
        let pick = if total > 0.0 {
            let mut target = rng.random::<f64>() * total;
            let mut pick = n - 1;
            for (i, &w) in nearest.iter().enumerate() {
                if target < w {
                    pick = i;
                    break;
                }
                target -= w;
            }
            pick
        } else {
            // Every point sits on a centre already (duplicates): any point will do.
            rng.random_range(0..n)
        };
        centres.row_mut(j).assign(&points.row(pick).mapv(f64::from));
        for (i, best) in nearest.iter_mut().enumerate() {
            *best = best.min(dist2(i, &centres, j));
        }
    }
    let mut assignment = vec![usize::MAX; n];
    for _ in 0..MAX_ITERATIONS {
        let mut changed = false;
        for (i, slot) in assignment.iter_mut().enumerate() {
            let best = (0..k)
                .map(|j| (dist2(i, &centres, j), j))
                .fold((f64::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a })
                .1;
            changed |= *slot != best;
            *slot = best;
        }
        if !changed {
            break;
        }
        let mut sums = Array2::<f64>::zeros((k, d));
        let mut counts = vec![0usize; k];
        for (i, &j) in assignment.iter().enumerate() {
            counts[j] += 1;
            let mut row = sums.row_mut(j);
            row += &points.row(i).mapv(f64::from);
        }
        // An empty cluster keeps its centre (it cannot stay empty for long: a point at
        // distance 0 of it exists only if it was seeded on a duplicate).
        for (j, &count) in counts.iter().enumerate() {
            if count > 0 {
                let mean = sums.row(j).mapv(|s| s / count as f64);
                centres.row_mut(j).assign(&mean);
            }
        }
    }
    Ok(centres.mapv(|v| v as f32))
}

/// Replaces every class but the smallest (the first smallest, on ties) by `k` k-means
/// centroids of its examples, class `c` seeded on sub-stream `c`. Returns the new features
/// (kept minority rows first, then the centroids class by class) and their labels. Errors
/// if `k` is 0 or larger than a class it replaces.
pub fn undersample(
    features: ArrayView2<f32>,
    labels: &[u32],
    n_classes: usize,
    k: usize,
    seed: u64,
    class_names: Option<&[String]>,
) -> Result<(Array2<f32>, Vec<u32>), SamplingError> {
    let mut by_class = vec![Vec::new(); n_classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    let minority = (0..n_classes)
        .filter(|&c| !by_class[c].is_empty())
        .min_by_key(|&c| by_class[c].len())
        .ok_or(SamplingError::NoSamples)?;
    if k == 0 {
        return Err(SamplingError::InvalidParameter {
            name: "kmeans",
            value: 0.0,
            expected: "at least 1 centroid per class",
        });
    }
    for (c, members) in by_class.iter().enumerate() {
        if c != minority && !members.is_empty() && members.len() < k {
            return Err(SamplingError::KmeansTooLarge {
                k,
                class: class_names
                    .and_then(|n| n.get(c))
                    .map_or(c.to_string(), |n| format!("{c} (`{n}`)")),
                count: members.len(),
            });
        }
    }
    let mut rows: Vec<Array2<f32>> = vec![features.select(Axis(0), &by_class[minority])];
    let mut out_labels = vec![minority as u32; by_class[minority].len()];
    for (c, members) in by_class.iter().enumerate() {
        if c == minority || members.is_empty() {
            continue;
        }
        let points = features.select(Axis(0), members);
        rows.push(kmeans(points.view(), k, seed, KMEANS_STREAM + c as u64)?);
        out_labels.extend(std::iter::repeat_n(c as u32, k));
    }
    let views: Vec<ArrayView2<f32>> = rows.iter().map(|r| r.view()).collect();
    #[allow(
        clippy::expect_used,
        reason = "every centroid row has the feature width of the points it came from"
    )]
    let stacked = ndarray::concatenate(Axis(0), &views).expect("rows share the feature width");
    Ok((stacked, out_labels))
}
