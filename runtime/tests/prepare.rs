//! Preparation: stratified split, scaling fitted on train only, shuffling and batching.

mod common;

use common::*;
use ndarray::{array, Array2};
use nnc_runtime::data::{
    batches, builtin, builtin_with, epoch_order, scale_split, stratified_split, Dataset, Scaler,
    Scaling, Targets,
};

fn classes(labels: Vec<u32>, n_classes: u32) -> Dataset {
    let features = Array2::from_shape_fn((labels.len(), 2), |(i, j)| (i * 2 + j) as f32);
    Dataset::new("mem", features, Targets::Classes { labels, n_classes }).unwrap()
}

#[test]
fn digits_split_keeps_class_proportions() {
    let digits = builtin("digits").unwrap();
    let split = stratified_split(&digits, 0.8, 0).unwrap();
    // sklearn's stratified 80/20 split of digits has 1437 train and 360 test samples.
    assert_eq!((split.train.len(), split.test.len()), (1437, 360));
    let mut seen: Vec<usize> = split.train.iter().chain(&split.test).copied().collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..1797).collect::<Vec<_>>(),
        "sides are disjoint and cover everything"
    );

    let train_counts = digits.subset(&split.train).class_counts();
    let test_counts = digits.subset(&split.test).class_counts();
    for (class, &n_class) in digits.class_counts().iter().enumerate() {
        let share = 1437.0 * n_class as f64 / 1797.0;
        assert!(
            (train_counts[class] as f64 - share).abs() < 1.0,
            "class {class} train"
        );
        let share = 360.0 * n_class as f64 / 1797.0;
        assert!(
            (test_counts[class] as f64 - share).abs() < 1.0,
            "class {class} test"
        );
    }
}

#[test]
fn split_is_deterministic_per_seed_and_differs_across_seeds() {
    let digits = builtin("digits").unwrap();
    let a = stratified_split(&digits, 0.8, 7).unwrap();
    assert_eq!(a, stratified_split(&digits, 0.8, 7).unwrap());
    let b = stratified_split(&digits, 0.8, 8).unwrap();
    assert_ne!(a.test, b.test);
    let (mut a_test, mut b_test) = (a.test.clone(), b.test.clone());
    a_test.sort_unstable();
    b_test.sort_unstable();
    assert_ne!(
        a_test, b_test,
        "different seeds pick different samples, not just another order"
    );
}

#[test]
fn split_uneven_classes_and_real_targets() {
    // 3 + 7 samples, 50%: shares 1.5 and 3.5, leftover place goes to the lower class index.
    let dataset = classes(vec![0, 1, 1, 0, 1, 1, 0, 1, 1, 1], 3);
    let split = stratified_split(&dataset, 0.5, 1).unwrap();
    let train = dataset.subset(&split.train);
    assert_eq!(train.class_counts(), [2, 3, 0]);

    let grid = builtin("grid1d").unwrap();
    let split = stratified_split(&grid, 0.75, 3).unwrap();
    assert_eq!((split.train.len(), split.test.len()), (192, 64));
}

#[test]
fn split_errors() {
    let singleton = classes(vec![0, 0, 0, 1], 2);
    let err = expect_err(stratified_split(&singleton, 0.8, 0));
    assert_error(
        err,
        "split_empty_class",
        &["mem", "class 1", "1 samples", "no test example"],
    );
    let err = expect_err(stratified_split(&classes(vec![0, 0, 1, 1], 2), 0.2, 0));
    assert_error(err, "split_empty_class", &["no train example"]);
    let named = classes(vec![0, 0, 0, 1], 2)
        .with_class_names(vec!["cat".into(), "dog".into()])
        .unwrap();
    assert_error(
        expect_err(stratified_split(&named, 0.5, 0)),
        "split_empty_class",
        &["`dog`"],
    );
    for fraction in [0.0, 1.0, -0.5, f64::NAN] {
        let err = expect_err(stratified_split(&singleton, fraction, 0));
        assert_error(err, "bad_parameter", &["train fraction"]);
    }
}

fn two_splits() -> (Dataset, Dataset) {
    let train_x = array![[0.0f32, 5.0, 1.0], [2.0, 5.0, 3.0], [4.0, 5.0, 5.0]];
    let test_x = array![[10.0f32, 7.0, 1.0], [-2.0, 5.0, 2.0]];
    let targets = |n: usize| Targets::Classes {
        labels: vec![0; n],
        n_classes: 1,
    };
    (
        Dataset::new("train", train_x, targets(3)).unwrap(),
        Dataset::new("test", test_x, targets(2)).unwrap(),
    )
}

#[test]
fn standardize_is_fitted_on_train_only() {
    let (mut train, mut test) = two_splits();
    let scaler = scale_split(Scaling::Standardize, &mut train, &mut test).unwrap();
    // Column 0 of train is 0, 2, 4: mean 2, population std sqrt(8/3). Column 1 is constant.
    let std = scaler.scale()[0];
    assert!((std - (8.0f32 / 3.0).sqrt()).abs() < 1e-6);
    assert_eq!(scaler.shift(), [2.0, 5.0, 3.0]);
    assert_eq!(scaler.scale(), [std, 1.0, std]);
    for column in train.features().columns() {
        assert!(column.mean().unwrap().abs() < 1e-6);
    }
    // The constant column becomes 0 on train instead of NaN; test uses train statistics.
    assert_eq!(train.features().column(1).to_vec(), [0.0, 0.0, 0.0]);
    assert_eq!(
        test.features().row(0).to_vec(),
        [8.0 / std, 2.0, -2.0 / std]
    );
}

#[test]
fn minmax_none_and_divide() {
    let (mut train, mut test) = two_splits();
    let scaler = scale_split(Scaling::MinMax, &mut train, &mut test).unwrap();
    assert_eq!(scaler.shift(), [0.0, 5.0, 1.0]);
    assert_eq!(scaler.scale(), [4.0, 1.0, 4.0]);
    assert_eq!(
        train.features(),
        &array![[0.0, 0.0, 0.0], [0.5, 0.0, 0.5], [1.0, 0.0, 1.0]]
    );
    assert_eq!(
        test.features().row(0).to_vec(),
        [2.5, 2.0, 0.0],
        "test may leave [0, 1]"
    );

    let (mut train, mut test) = two_splits();
    let before = test.features().clone();
    scale_split(Scaling::None, &mut train, &mut test).unwrap();
    assert_eq!(test.features(), &before);

    let digits = builtin("digits").unwrap();
    let mut half = digits.subset(&(0..900).collect::<Vec<_>>());
    let mut rest = digits.subset(&(900..1797).collect::<Vec<_>>());
    scale_split(Scaling::Divide(16.0), &mut half, &mut rest).unwrap();
    assert_eq!(rest.features().fold(0.0f32, |acc, &v| acc.max(v)), 1.0);

    for k in [0.0, f32::NAN, f32::INFINITY] {
        let err = expect_err(Scaler::fit(Scaling::Divide(k), &train));
        assert_error(err, "bad_parameter", &["divisor"]);
    }
    let scaler = Scaler::fit(Scaling::Standardize, &train).unwrap();
    let mut other = classes(vec![0, 1], 2);
    assert_error(
        expect_err(scaler.transform(&mut other)),
        "shape_mismatch",
        &["mem"],
    );
}

#[test]
fn scaling_overflow_is_reported() {
    let near_constant = array![[1.0f32], [1.0 + f32::EPSILON]];
    let labels = Targets::Classes {
        labels: vec![0, 0],
        n_classes: 1,
    };
    let mut train = Dataset::new("train", near_constant, labels.clone()).unwrap();
    let mut test = Dataset::new("test", array![[3.0e38f32], [1.0]], labels).unwrap();
    let err = expect_err(scale_split(Scaling::Standardize, &mut train, &mut test));
    assert_error(err, "non_finite", &["test (after scaling)", "row 1"]);
}

#[test]
fn epoch_order_is_a_seeded_permutation() {
    let order = epoch_order(100, 42, 0);
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    assert_eq!(order, epoch_order(100, 42, 0));
    assert_ne!(order, epoch_order(100, 42, 1), "epochs differ");
    assert_ne!(order, epoch_order(100, 43, 0), "seeds differ");
    assert!(epoch_order(0, 1, 0).is_empty());
}

#[test]
fn batches_with_and_without_drop_last() {
    let order: Vec<usize> = (0..10).collect();
    let sizes = |drop_last| {
        batches(&order, 4, drop_last)
            .unwrap()
            .map(<[usize]>::len)
            .collect::<Vec<_>>()
    };
    assert_eq!(sizes(false), [4, 4, 2]);
    assert_eq!(sizes(true), [4, 4]);
    let all: Vec<usize> = batches(&order, 3, false)
        .unwrap()
        .flatten()
        .copied()
        .collect();
    assert_eq!(all, order);
    assert_eq!(batches(&order, 20, true).unwrap().count(), 0);
    assert_eq!(batches(&order, 20, false).unwrap().count(), 1);
    assert_error(
        expect_err(batches(&order, 0, false).map(|b| b.count())),
        "bad_parameter",
        &["batch size is 0"],
    );
}

#[test]
fn full_pipeline_on_imbalanced_digits() {
    let dataset = builtin_with("imbalanced_digits", 3, &[("ratio", 20.0)]).unwrap();
    let split = stratified_split(&dataset, 0.8, 3).unwrap();
    let (mut train, mut test) = (dataset.subset(&split.train), dataset.subset(&split.test));
    assert_eq!(train.class_counts(), [1295, 65]);
    assert_eq!(test.class_counts(), [324, 16]);
    scale_split(Scaling::Standardize, &mut train, &mut test).unwrap();
    let order = epoch_order(train.n_samples(), 3, 0);
    assert_eq!(
        batches(&order, 64, true).unwrap().count(),
        train.n_samples() / 64
    );
}
