//! NPY, NPZ and IDX loaders: round-trips and every error they report.

mod common;

use common::*;
use ndarray::{array, Array2, Array3};
use ndarray_npy::{write_npy, NpzWriter, WriteNpyExt};
use nnc_runtime::data::{load_idx, load_npy, load_npz, Targets};
use tempfile::TempDir;

// ---------------------------------------------------------------- NPY / NPZ

#[test]
fn npy_round_trip_for_each_dtype() {
    let dir = TempDir::new().unwrap();
    let y = write_path(&dir, "y.npy", |p| write_npy(p, &array![1i64, 0, 2]));
    let expected = array![[1.0f32, 2.0], [3.0, 4.0], [5.0, 250.0]];
    let paths = [
        write_path(&dir, "f4.npy", |p| write_npy(p, &expected)),
        write_path(&dir, "f8.npy", |p| write_npy(p, &expected.mapv(f64::from))),
        write_path(&dir, "u1.npy", |p| {
            write_npy(p, &expected.mapv(|v| v as u8))
        }),
        write_path(&dir, "i4.npy", |p| {
            write_npy(p, &expected.mapv(|v| v as i32))
        }),
        write_path(&dir, "i8.npy", |p| {
            write_npy(p, &expected.mapv(|v| v as i64))
        }),
    ];
    for x in paths {
        let dataset = load_npy(&x, &y).unwrap_or_else(|err| panic!("{}: {err}", x.display()));
        assert_eq!(dataset.features(), &expected, "{}", x.display());
        assert_eq!(
            dataset.targets(),
            &Targets::Classes {
                labels: vec![1, 0, 2],
                n_classes: 3
            }
        );
    }
}

#[test]
fn npy_image_shape_fortran_order_and_label_column() {
    let dir = TempDir::new().unwrap();
    let images = Array3::from_shape_fn((2, 2, 3), |(n, r, c)| (100 * n + 10 * r + c) as u8);
    let x = write_path(&dir, "x.npy", |p| write_npy(p, &images));
    let y = write_path(&dir, "y.npy", |p| write_npy(p, &array![[0u8], [1]]));
    let dataset = load_npy(&x, &y).unwrap();
    assert_eq!(dataset.feature_shape(), &[2, 3]);
    assert_eq!(
        dataset.features().row(1).to_vec(),
        [100.0, 101.0, 102.0, 110.0, 111.0, 112.0]
    );

    // Fortran order: memory holds columns first, values must come out in logical C order.
    let logical = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let column_major = f32_bytes(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    let x = write(
        dir.path(),
        "xf.npy",
        &npy_bytes("<f4", true, &[2, 3], &column_major),
    );
    assert_eq!(load_npy(&x, &y).unwrap().features(), &logical);

    // A 1-D feature array is one feature per sample.
    let x = write_path(&dir, "x1.npy", |p| write_npy(p, &array![0.5f32, 1.5]));
    let dataset = load_npy(&x, &y).unwrap();
    assert_eq!(dataset.features(), &array![[0.5], [1.5]]);
}

#[test]
fn npy_errors() {
    let dir = TempDir::new().unwrap();
    let x = write_path(&dir, "x.npy", |p| {
        write_npy(p, &array![[1.0f32, 2.0], [3.0, 4.0]])
    });
    let y = write_path(&dir, "y.npy", |p| write_npy(p, &array![0i64, 1]));
    let raw = |name: &str, descr: &str, shape: &[usize], data: &[u8]| {
        write(dir.path(), name, &npy_bytes(descr, false, shape, data))
    };

    let i2 = raw("i2.npy", "<i2", &[2, 2], &[0; 8]);
    assert_error(
        expect_err(load_npy(&i2, &y)),
        "npy_dtype",
        &["i2.npy", "<i2"],
    );
    let text = raw("u.npy", "<U3", &[2], &[0; 24]);
    assert_error(expect_err(load_npy(&x, &text)), "npy_dtype", &["u.npy"]);

    let y2d = write_path(&dir, "y2d.npy", |p| {
        write_npy(p, &array![[0i64, 1], [1, 0]])
    });
    assert_error(
        expect_err(load_npy(&x, &y2d)),
        "npy_shape",
        &["y2d.npy", "[2, 2]"],
    );
    let scalar = raw("scalar.npy", "<f4", &[], &f32_bytes(&[1.0]));
    assert_error(
        expect_err(load_npy(&scalar, &y)),
        "npy_shape",
        &["scalar.npy"],
    );

    let y3 = write_path(&dir, "y3.npy", |p| write_npy(p, &array![0i64, 1, 1]));
    assert_error(
        expect_err(load_npy(&x, &y3)),
        "count_mismatch",
        &["x.npy", "y3.npy", "2 samples", "3 labels"],
    );

    let frac = write_path(&dir, "frac.npy", |p| write_npy(p, &array![0.0f32, 0.5]));
    assert_error(
        expect_err(load_npy(&x, &frac)),
        "bad_label",
        &["frac.npy", "row 2", "`0.5`"],
    );
    let neg = write_path(&dir, "neg.npy", |p| write_npy(p, &array![-3i32, 1]));
    assert_error(
        expect_err(load_npy(&x, &neg)),
        "bad_label",
        &["row 1", "`-3`"],
    );

    let nan = write_path(&dir, "nan.npy", |p| {
        write_npy(p, &array![[1.0f64, 2.0], [3.0, f64::NAN]])
    });
    assert_error(
        expect_err(load_npy(&nan, &y)),
        "non_finite",
        &["nan.npy", "row 2", "column 2"],
    );
    let big = write_path(&dir, "big.npy", |p| {
        write_npy(p, &array![[1.0f64, 1e300], [3.0, 4.0]])
    });
    assert_error(
        expect_err(load_npy(&big, &y)),
        "non_finite",
        &["row 1", "column 2"],
    );

    let empty = raw("empty.npy", "<f4", &[0, 3], &[]);
    let y0 = raw("y0.npy", "<i8", &[0], &[]);
    assert_error(expect_err(load_npy(&empty, &y0)), "empty", &["empty.npy"]);

    // Corrupt files: short data, extra data, a header promising far more than the file holds
    // (must fail before allocating), and no header at all.
    let short = raw("short.npy", "<f4", &[2, 2], &f32_bytes(&[1.0, 2.0, 3.0]));
    assert_error(
        expect_err(load_npy(&short, &y)),
        "bad_npy",
        &["short.npy", "16", "12"],
    );
    let long = raw("long.npy", "<i8", &[2], &i64_bytes(&[0, 1, 2]));
    assert_error(expect_err(load_npy(&x, &long)), "bad_npy", &["long.npy"]);
    let huge = raw("huge.npy", "<f8", &[1 << 40, 1 << 20], &[0; 8]);
    assert_error(expect_err(load_npy(&huge, &y)), "bad_npy", &["huge.npy"]);
    let junk = write(dir.path(), "junk.npy", b"definitely not numpy");
    assert_error(expect_err(load_npy(&junk, &y)), "bad_npy", &["junk.npy"]);
}

#[test]
fn npz_round_trip_plain_and_compressed() {
    let dir = TempDir::new().unwrap();
    let x = array![[1.0f64, 2.0], [3.0, 4.0], [5.0, 6.0]];
    let y = array![2u8, 0, 1];

    let path = dir.path().join("d.npz");
    let mut npz = NpzWriter::new(std::fs::File::create(&path).unwrap());
    npz.add_array("x", &x).unwrap();
    npz.add_array("y", &y).unwrap();
    npz.finish().unwrap();
    let dataset = load_npz(&path, None, None).unwrap();
    assert_eq!(dataset.features(), &x.mapv(|v| v as f32));
    assert_eq!(dataset.labels().unwrap(), [2, 0, 1]);

    // np.savez_compressed writes deflated entries; custom keys.
    let mut x_bytes = Vec::new();
    x.write_npy(&mut x_bytes).unwrap();
    let mut y_bytes = Vec::new();
    y.write_npy(&mut y_bytes).unwrap();
    let archive = zip_bytes(&[("features.npy", x_bytes), ("labels.npy", y_bytes)], true);
    let path = write(dir.path(), "c.npz", &archive);
    let dataset = load_npz(&path, Some("features"), Some("labels")).unwrap();
    assert_eq!(dataset.features(), &x.mapv(|v| v as f32));

    assert_error(
        expect_err(load_npz(&path, None, Some("labels"))),
        "npz_missing_key",
        &["c.npz", "`x`"],
    );
    let err = expect_err(load_npz(&path, Some("features"), None));
    assert!(err.to_string().contains("`y`"));
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(help.contains("`features`, `labels`"), "{help}");

    let not_zip = write(dir.path(), "nz.npz", b"PK but not really a zip archive");
    assert_error(
        expect_err(load_npz(&not_zip, None, None)),
        "bad_npy",
        &["nz.npz", "zip"],
    );
}

// ---------------------------------------------------------------- IDX

#[test]
fn idx_round_trip_plain_and_gzip() {
    let dir = TempDir::new().unwrap();
    for gz in [false, true] {
        let maybe_gz = |bytes: Vec<u8>| if gz { gzip(&bytes) } else { bytes };
        let images = write(dir.path(), "images.idx3-ubyte", &maybe_gz(idx_images(4)));
        let labels = write(
            dir.path(),
            "labels.idx1-ubyte",
            &maybe_gz(idx_bytes(0x08, &[4], &[3, 1, 4, 1])),
        );
        let dataset = load_idx(&images, &labels).unwrap();
        assert_eq!(dataset.feature_shape(), &[1, 2, 3]);
        assert_eq!(dataset.n_samples(), 4);
        assert_eq!(
            dataset.features().row(1).to_vec(),
            [42.0, 49.0, 56.0, 63.0, 70.0, 77.0]
        );
        assert_eq!(
            dataset.targets(),
            &Targets::Classes {
                labels: vec![3, 1, 4, 1],
                n_classes: 5
            }
        );
    }
}

#[test]
fn idx_errors() {
    let dir = TempDir::new().unwrap();
    let images = write(dir.path(), "images", &idx_images(3));
    let labels = write(dir.path(), "labels", &idx_bytes(0x08, &[3], &[0, 1, 2]));

    // Swapped files: each has the other's number of dimensions.
    assert_error(
        expect_err(load_idx(&labels, &images)),
        "idx_magic",
        &["labels`", "1 dimension(s)"],
    );
    let floats = write(dir.path(), "floats", &idx_bytes(0x0D, &[3, 2, 3], &[0; 72]));
    assert_error(
        expect_err(load_idx(&floats, &labels)),
        "idx_magic",
        &["floats", "0x0D"],
    );
    let png = write(dir.path(), "png", b"\x89PNG\r\n\x1a\n....");
    assert_error(
        expect_err(load_idx(&png, &labels)),
        "idx_magic",
        &["png", "0x89504E47"],
    );

    let cut = idx_images(3);
    let short = write(dir.path(), "short", &cut[..cut.len() - 1]);
    assert_error(
        expect_err(load_idx(&short, &labels)),
        "idx_truncated",
        &["short", "expected 34 bytes, found 33"],
    );
    let header_cut = write(dir.path(), "hcut", &cut[..9]);
    assert_error(
        expect_err(load_idx(&header_cut, &labels)),
        "idx_truncated",
        &["hcut"],
    );
    let tiny = write(dir.path(), "tiny", &[0, 0]);
    assert_error(
        expect_err(load_idx(&tiny, &labels)),
        "idx_truncated",
        &["tiny"],
    );
    // Sizes whose product overflows must not allocate.
    let huge = write(
        dir.path(),
        "huge",
        &idx_bytes(0x08, &[u32::MAX, u32::MAX, u32::MAX], &[1]),
    );
    assert_error(
        expect_err(load_idx(&huge, &labels)),
        "idx_truncated",
        &["huge"],
    );

    let mut long = idx_images(3);
    long.extend_from_slice(&[0, 0]);
    let long = write(dir.path(), "long", &long);
    assert_error(
        expect_err(load_idx(&long, &labels)),
        "idx_trailing",
        &["long", "2 bytes"],
    );

    let labels4 = write(dir.path(), "labels4", &idx_bytes(0x08, &[4], &[0, 1, 2, 3]));
    assert_error(
        expect_err(load_idx(&images, &labels4)),
        "count_mismatch",
        &["3 samples", "4 labels"],
    );

    let none = write(dir.path(), "none", &idx_bytes(0x08, &[0, 28, 28], &[]));
    let no_labels = write(dir.path(), "nolabels", &idx_bytes(0x08, &[0], &[]));
    assert_error(expect_err(load_idx(&none, &no_labels)), "empty", &["none"]);
}

#[test]
fn feature_shape_checks() {
    let dir = TempDir::new().unwrap();
    let x = write_path(&dir, "x.npy", |p| {
        write_npy(p, &Array2::<f32>::zeros((2, 12)))
    });
    let y = write_path(&dir, "y.npy", |p| write_npy(p, &array![0u8, 1]));
    let dataset = load_npy(&x, &y).unwrap();
    assert_eq!(
        dataset
            .clone()
            .with_feature_shape(&[3, 2, 2])
            .unwrap()
            .feature_shape(),
        &[3, 2, 2]
    );
    assert_error(
        expect_err(dataset.check_input_shape(&[1, 3, 3])),
        "shape_mismatch",
        &["x.npy", "12 features", "[1, 3, 3]", "needs 9"],
    );
    assert!(dataset.check_input_shape(&[]).is_err());
}
