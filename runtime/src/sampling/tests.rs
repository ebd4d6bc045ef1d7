//! Each policy against the class frequencies it must produce.

use super::kmeans::{kmeans, undersample};
use super::*;
use crate::sampling_weights::SamplingError;
use ndarray::Array2;

/// 950 examples of class 0 and 50 of class 1 (1:19), interleaved.
fn labels() -> Vec<u32> {
    (0..1000).map(|i| u32::from(i % 20 == 7)).collect()
}

fn class_counts(rows: &[usize], labels: &[u32]) -> [usize; 2] {
    let mut c = [0; 2];
    for &r in rows {
        c[labels[r] as usize] += 1;
    }
    c
}

#[test]
fn uniform_visits_every_example_once() {
    let y = labels();
    let s = Sampler::new(Policy::Uniform, &y, 2, 3).unwrap();
    let mut order = s.epoch(0);
    assert_ne!(order, (0..1000).collect::<Vec<_>>());
    order.sort_unstable();
    assert_eq!(order, (0..1000).collect::<Vec<_>>());
}

#[test]
fn balanced_draws_each_class_half_the_time() {
    let y = labels();
    let s = Sampler::new(Policy::Balanced, &y, 2, 3).unwrap();
    let (mut total, mut minority_seen) = ([0usize; 2], std::collections::HashSet::new());
    for epoch in 0..20 {
        let order = s.epoch(epoch);
        assert_eq!(order.len(), 1000);
        let c = class_counts(&order, &y);
        total[0] += c[0];
        total[1] += c[1];
        minority_seen.extend(order.iter().filter(|&&r| y[r] == 1).copied());
    }
    // 20,000 draws at p = 1/2: the standard deviation of the share is 0.0035.
    let share = total[1] as f64 / 20_000.0;
    assert!((share - 0.5).abs() < 0.02, "minority share {share}");
    // Within a class, every example is drawn.
    assert_eq!(minority_seen.len(), 50);
}

#[test]
fn weighted_draws_in_proportion_to_weight_times_count() {
    let y = labels();
    // P(1) = 50 * 19 / (950 * 1 + 50 * 19) = 1/2; with [1, 4]: 200 / 1150.
    for (w, expected) in [([1.0, 19.0], 0.5), ([1.0, 4.0], 200.0 / 1150.0)] {
        let s = Sampler::new(Policy::Weighted(w.to_vec()), &y, 2, 5).unwrap();
        let n: usize = (0..20).map(|e| class_counts(&s.epoch(e), &y)[1]).sum();
        let share = n as f64 / 20_000.0;
        assert!((share - expected).abs() < 0.02, "{w:?}: {share}");
    }
}

#[test]
fn oversample_equalises_class_counts_exactly() {
    let y = labels();
    let s = Sampler::new(Policy::Oversample, &y, 2, 1).unwrap();
    assert_eq!(s.epoch_len(), 1900);
    let order = s.epoch(0);
    assert_eq!(class_counts(&order, &y), [950, 950]);
    // Majority examples once each; minority 19 times each (950 = 19 * 50).
    let mut per = vec![0; 1000];
    for &r in &order {
        per[r] += 1;
    }
    assert!((0..1000).all(|i| per[i] == if y[i] == 1 { 19 } else { 1 }));
    // A remainder is drawn without replacement: 3 classes of 10, 4 and 3.
    let y3: Vec<u32> = [vec![0; 10], vec![1; 4], vec![2; 3]].concat();
    let s3 = Sampler::new(Policy::Oversample, &y3, 3, 1).unwrap();
    let mut per = [0usize; 3];
    let order = s3.epoch(2);
    for &r in &order {
        per[y3[r] as usize] += 1;
    }
    assert_eq!(per, [10, 10, 10]);
    let twice_or_thrice = (14..17).map(|i| order.iter().filter(|&&r| r == i).count());
    assert!(twice_or_thrice.clone().all(|c| c == 3 || c == 4));
    assert_eq!(twice_or_thrice.sum::<usize>(), 10);
}

#[test]
fn hard_mining_fills_its_fraction_with_the_highest_losses() {
    let y = labels();
    let mut s = Sampler::new(Policy::HardMining { fraction: 0.25 }, &y, 2, 9).unwrap();
    // First batch: nothing seen yet, so all uniform.
    let order = s.epoch(0);
    let mut cursor = 0;
    let first = s.batch(&order, &mut cursor, 64);
    assert_eq!((first.as_slice(), cursor), (&order[..64], 64));
    // Every example seen once, minority examples with the higher loss.
    let all: Vec<usize> = (0..1000).collect();
    let losses: Vec<f32> = y.iter().map(|&l| 0.1 + l as f32).collect();
    s.record(&all, &losses);
    let (mut cursor, mut batches) = (0, Vec::new());
    for _ in 0..s.steps(64) {
        let size = 64.min(1000 - batches.len() * 64);
        let rows = s.batch(&order, &mut cursor, size);
        assert_eq!(rows.len(), size);
        // 16 of 64 are hard: the minority, at least that share of the batch.
        let hard = &rows[rows.len() - (0.25 * size as f64).round() as usize..];
        assert!(hard.iter().all(|&r| y[r] == 1), "{hard:?}");
        batches.push(rows);
    }
    // The uniform part walked through the epoch's order in sequence.
    assert_eq!(batches[1][..48], order[48..96]);
    // A loss update changes which examples are hard.
    s.record(&[0], &[100.0]);
    let rows = s.batch(&order, &mut 0, 64);
    assert_eq!(rows[48], 0);
}

#[test]
fn policies_are_reproducible() {
    let y = labels();
    for policy in [
        Policy::Balanced,
        Policy::Weighted(vec![1.0, 3.0]),
        Policy::Oversample,
    ] {
        let a = Sampler::new(policy.clone(), &y, 2, 7).unwrap();
        let b = Sampler::new(policy.clone(), &y, 2, 7).unwrap();
        let c = Sampler::new(policy.clone(), &y, 2, 8).unwrap();
        assert_eq!(a.epoch(4), b.epoch(4), "{policy:?}");
        assert_ne!(a.epoch(4), c.epoch(4), "{policy:?}");
        assert_ne!(a.epoch(4), a.epoch(5), "{policy:?}");
    }
}

#[test]
fn bad_policies_are_errors() {
    let y = labels();
    assert_eq!(
        Sampler::new(Policy::Weighted(vec![1.0]), &y, 2, 0).err(),
        Some(SamplingError::WeightCount {
            expected: 2,
            found: 1
        })
    );
    assert!(Sampler::new(Policy::Weighted(vec![1.0, -1.0]), &y, 2, 0).is_err());
    assert!(Sampler::new(Policy::Weighted(vec![0.0, 0.0]), &y, 2, 0).is_err());
    assert!(Sampler::new(Policy::HardMining { fraction: 1.5 }, &y, 2, 0).is_err());
    assert!(Sampler::new(Policy::Balanced, &[], 2, 0).is_err());
}

/// Three well-separated blobs of 10 points in 2-D.
fn blobs() -> Array2<f32> {
    let centres = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)];
    Array2::from_shape_fn((30, 2), |(i, j)| {
        let (cx, cy) = centres[i / 10];
        let jitter = ((i * 7 + j * 3) % 5) as f32 * 0.1 - 0.2;
        if j == 0 {
            cx + jitter
        } else {
            cy + jitter
        }
    })
}

#[test]
fn kmeans_finds_separated_blobs() {
    let points = blobs();
    let c = kmeans(points.view(), 3, 0, 0).unwrap();
    let mut found: Vec<(i32, i32)> = c
        .rows()
        .into_iter()
        .map(|r| (r[0].round() as i32, r[1].round() as i32))
        .collect();
    found.sort_unstable();
    assert_eq!(found, vec![(0, 0), (0, 10), (10, 0)]);
    assert_eq!(kmeans(points.view(), 3, 4, 1).unwrap().dim(), (3, 2));
    assert!(kmeans(points.view(), 31, 0, 0).is_err());
    assert!(kmeans(points.view(), 0, 0, 0).is_err());
}

#[test]
fn undersample_replaces_majority_classes_by_k_centroids() {
    let points = blobs();
    // Class 0: the first 24 points; class 1 (the minority): the last 6.
    let y: Vec<u32> = (0..30).map(|i| u32::from(i >= 24)).collect();
    let (x, labels) = undersample(points.view(), &y, 2, 4, 11, None).unwrap();
    assert_eq!(x.nrows(), 10);
    assert_eq!(labels, [vec![1; 6], vec![0; 4]].concat());
    // The minority rows are kept as they are.
    assert_eq!(x.row(0), points.row(24));
    let again = undersample(points.view(), &y, 2, 4, 11, None).unwrap();
    assert_eq!(x, again.0);
    // K larger than the class it replaces.
    let names = vec!["other".to_string(), "three".to_string()];
    let err = undersample(points.view(), &y, 2, 25, 11, Some(&names)).unwrap_err();
    assert_eq!(
        err,
        SamplingError::KmeansTooLarge {
            k: 25,
            class: "0 (`other`)".into(),
            count: 24
        }
    );
    // K larger than the minority alone is fine: the minority is kept, not clustered.
    assert_eq!(
        undersample(points.view(), &y, 2, 8, 11, None)
            .unwrap()
            .1
            .len(),
        14
    );
}
