//! File loaders: CSV, NPY, NPZ and IDX round-trips, every loader error, and corrupt inputs.

mod common;

use common::*;
use ndarray::{array, Array2, Array3};
use ndarray_npy::{write_npy, NpzWriter, WriteNpyExt};
use nnc_runtime::data::{load_csv, load_idx, load_npy, load_npz, CsvOptions, LabelColumn, Targets};
use tempfile::TempDir;

fn csv_default() -> CsvOptions {
    CsvOptions::default()
}

// ---------------------------------------------------------------- CSV

#[test]
fn csv_numeric_labels_last_column() {
    let dir = TempDir::new().unwrap();
    let path = write(dir.path(), "d.csv", b"1,2,0\n3,4.5,2\n-1,0,1\n");
    let dataset = load_csv(&path, &csv_default()).unwrap();
    assert_eq!(dataset.features(), &array![[1.0, 2.0], [3.0, 4.5], [-1.0, 0.0]]);
    assert_eq!(dataset.targets(), &Targets::Classes { labels: vec![0, 2, 1], n_classes: 3 });
    assert_eq!(dataset.feature_shape(), &[2]);
    assert_eq!(dataset.class_names(), None);
    assert_eq!(dataset.feature_names(), None);
}

#[test]
fn csv_text_labels_by_name_with_header_and_delimiter() {
    let dir = TempDir::new().unwrap();
    let text = "width;kind;height\n1;dog;2\n3;cat;4\n5;dog;6\n7;ant;8\n";
    let path = write(dir.path(), "d.csv", text.as_bytes());
    let options = CsvOptions { header: true, label: LabelColumn::Name("kind".into()), delimiter: b';' };
    let dataset = load_csv(&path, &options).unwrap();
    assert_eq!(dataset.features(), &array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]);
    // Text classes in sorted order.
    assert_eq!(dataset.class_names().unwrap(), ["ant", "cat", "dog"]);
    assert_eq!(dataset.labels().unwrap(), [2, 1, 2, 0]);
    assert_eq!(dataset.feature_names().unwrap(), ["width", "height"]);
    assert_eq!(dataset.feature_index("height"), Some(1));
}

#[test]
fn csv_label_by_index_and_gzip() {
    let dir = TempDir::new().unwrap();
    let path = write(dir.path(), "d.csv.gz", &gzip(b"1, 10, 20\n0, 30, 40\n"));
    let options = CsvOptions { label: LabelColumn::Index(0), ..csv_default() };
    let dataset = load_csv(&path, &options).unwrap();
    assert_eq!(dataset.features(), &array![[10.0, 20.0], [30.0, 40.0]]);
    assert_eq!(dataset.labels().unwrap(), [1, 0]);
}

#[test]
fn csv_errors_name_file_row_and_column() {
    let dir = TempDir::new().unwrap();
    let load = |name: &str, text: &[u8]| load_csv(write(dir.path(), name, text), &csv_default());
    let header = CsvOptions { header: true, ..csv_default() };

    assert_error(expect_err(load("ragged.csv", b"1,2,0\n1,2,0\n1,2\n")), "ragged_row", &["ragged.csv", "row 3", "2 fields", "expected 3"]);
    assert_error(expect_err(load("text.csv", b"1,2,0\n1,x,0\n")), "not_numeric", &["text.csv", "row 2", "column 2", "`x`"]);
    assert_error(expect_err(load("blank.csv", b"1,,0\n")), "not_numeric", &["row 1", "column 2", "(empty)"]);
    assert_error(expect_err(load("nan.csv", b"1,2,0\nNaN,2,0\n")), "non_finite", &["nan.csv", "row 2", "column 1", "NaN"]);
    assert_error(expect_err(load("inf.csv", b"1,inf,0\n")), "non_finite", &["row 1", "column 2"]);
    assert_error(expect_err(load("overflow.csv", b"1,1e60,0\n")), "non_finite", &["1e60"]);
    assert_error(expect_err(load("frac.csv", b"1,2,0\n1,2,2.5\n")), "bad_label", &["frac.csv", "row 2", "`2.5`"]);
    assert_error(expect_err(load("neg.csv", b"1,2,-1\n1,2,1\n")), "bad_label", &["row 1", "`-1`"]);
    assert_error(expect_err(load("huge.csv", b"1,2,1e9\n")), "bad_label", &["`1e9`"]);
    assert_error(expect_err(load("empty.csv", b"")), "empty", &["empty.csv", "no data rows"]);
    assert_error(expect_err(load("onecol.csv", b"1\n2\n")), "empty", &["no feature columns"]);
    assert_error(expect_err(load("utf8.csv", b"1,2,0\n\xff\xfe,2,0\n")), "bad_csv", &["utf8.csv", "row 2"]);
    let header_only = load_csv(write(dir.path(), "header.csv", b"a,b,label\n"), &header);
    assert_error(expect_err(header_only), "empty", &["header.csv"]);
    // A ragged row right after the header is numbered as the file shows it.
    let ragged = load_csv(write(dir.path(), "hr.csv", b"a,b,label\n1,2\n"), &header);
    assert_error(expect_err(ragged), "ragged_row", &["row 2", "expected 3"]);
}

#[test]
fn csv_label_column_errors() {
    let dir = TempDir::new().unwrap();
    let path = write(dir.path(), "d.csv", b"a,b,label\n1,2,0\n");
    let by_name = |name: &str, header: bool| {
        load_csv(&path, &CsvOptions { header, label: LabelColumn::Name(name.into()), delimiter: b',' })
    };
    assert_error(expect_err(by_name("klass", true)), "no_such_column", &["d.csv", "`klass`"]);
    assert_error(expect_err(by_name("label", false)), "no_such_column", &["`label`"]);
    let by_index = load_csv(&path, &CsvOptions { header: true, label: LabelColumn::Index(3), delimiter: b',' });
    assert_error(expect_err(by_index), "no_such_column", &["column 3"]);
}

#[test]
fn label_out_of_range_for_declared_classes() {
    let dir = TempDir::new().unwrap();
    let dataset = load_csv(write(dir.path(), "d.csv", b"1,0\n2,4\n"), &csv_default()).unwrap();
    assert_eq!(dataset.n_classes(), 5);
    assert_eq!(dataset.clone().with_n_classes(7).unwrap().n_classes(), 7);
    let err = expect_err(dataset.with_n_classes(3));
    assert_error(err, "label_out_of_range", &["d.csv", "row 2", "label 4", "3 classes"]);
}

#[test]
fn missing_and_unreadable_files() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("nope.csv");
    assert_error(expect_err(load_csv(&missing, &csv_default())), "missing_file", &["nope.csv"]);
    assert_error(expect_err(load_npy(&missing, &missing)), "missing_file", &["nope.csv"]);
    assert_error(expect_err(load_npz(&missing, "x", "y")), "missing_file", &["nope.csv"]);
    assert_error(expect_err(load_idx(&missing, &missing)), "missing_file", &["nope.csv"]);
    // A directory exists but cannot be read as a file.
    assert_error(expect_err(load_csv(dir.path(), &csv_default())), "unreadable", &[]);
}

#[test]
fn corrupt_gzip() {
    let dir = TempDir::new().unwrap();
    let good = gzip(b"1,2,0\n");
    let truncated = write(dir.path(), "cut.csv.gz", &good[..good.len() - 6]);
    assert_error(expect_err(load_csv(&truncated, &csv_default())), "bad_gzip", &["cut.csv.gz"]);
    let garbage = write(dir.path(), "junk.csv.gz", b"\x1f\x8bthis is not deflate data");
    assert_error(expect_err(load_csv(&garbage, &csv_default())), "bad_gzip", &["junk.csv.gz"]);
    let idx = write(dir.path(), "junk-idx.gz", b"\x1f\x8b\x08\x00garbage");
    assert_error(expect_err(load_idx(&idx, &idx)), "bad_gzip", &["junk-idx.gz"]);
}

// ---------------------------------------------------------------- NPY / NPZ

#[test]
fn npy_round_trip_for_each_dtype() {
    let dir = TempDir::new().unwrap();
    let y = write_path(&dir, "y.npy", |p| write_npy(p, &array![1i64, 0, 2]));
    let expected = array![[1.0f32, 2.0], [3.0, 4.0], [5.0, 250.0]];
    let paths = [
        write_path(&dir, "f4.npy", |p| write_npy(p, &expected)),
        write_path(&dir, "f8.npy", |p| write_npy(p, &expected.mapv(f64::from))),
        write_path(&dir, "u1.npy", |p| write_npy(p, &expected.mapv(|v| v as u8))),
        write_path(&dir, "i4.npy", |p| write_npy(p, &expected.mapv(|v| v as i32))),
        write_path(&dir, "i8.npy", |p| write_npy(p, &expected.mapv(|v| v as i64))),
    ];
    for x in paths {
        let dataset = load_npy(&x, &y).unwrap_or_else(|err| panic!("{}: {err}", x.display()));
        assert_eq!(dataset.features(), &expected, "{}", x.display());
        assert_eq!(dataset.targets(), &Targets::Classes { labels: vec![1, 0, 2], n_classes: 3 });
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
    assert_eq!(dataset.features().row(1).to_vec(), [100.0, 101.0, 102.0, 110.0, 111.0, 112.0]);

    // Fortran order: memory holds columns first, values must come out in logical C order.
    let logical = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let column_major = f32_bytes(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    let x = write(dir.path(), "xf.npy", &npy_bytes("<f4", true, &[2, 3], &column_major));
    assert_eq!(load_npy(&x, &y).unwrap().features(), &logical);

    // A 1-D feature array is one feature per sample.
    let x = write_path(&dir, "x1.npy", |p| write_npy(p, &array![0.5f32, 1.5]));
    let dataset = load_npy(&x, &y).unwrap();
    assert_eq!(dataset.features(), &array![[0.5], [1.5]]);
}

#[test]
fn npy_errors() {
    let dir = TempDir::new().unwrap();
    let x = write_path(&dir, "x.npy", |p| write_npy(p, &array![[1.0f32, 2.0], [3.0, 4.0]]));
    let y = write_path(&dir, "y.npy", |p| write_npy(p, &array![0i64, 1]));
    let raw = |name: &str, descr: &str, shape: &[usize], data: &[u8]| {
        write(dir.path(), name, &npy_bytes(descr, false, shape, data))
    };

    let i2 = raw("i2.npy", "<i2", &[2, 2], &[0; 8]);
    assert_error(expect_err(load_npy(&i2, &y)), "npy_dtype", &["i2.npy", "<i2"]);
    let text = raw("u.npy", "<U3", &[2], &[0; 24]);
    assert_error(expect_err(load_npy(&x, &text)), "npy_dtype", &["u.npy"]);

    let y2d = write_path(&dir, "y2d.npy", |p| write_npy(p, &array![[0i64, 1], [1, 0]]));
    assert_error(expect_err(load_npy(&x, &y2d)), "npy_shape", &["y2d.npy", "[2, 2]"]);
    let scalar = raw("scalar.npy", "<f4", &[], &f32_bytes(&[1.0]));
    assert_error(expect_err(load_npy(&scalar, &y)), "npy_shape", &["scalar.npy"]);

    let y3 = write_path(&dir, "y3.npy", |p| write_npy(p, &array![0i64, 1, 1]));
    assert_error(expect_err(load_npy(&x, &y3)), "count_mismatch", &["x.npy", "y3.npy", "2 samples", "3 labels"]);

    let frac = write_path(&dir, "frac.npy", |p| write_npy(p, &array![0.0f32, 0.5]));
    assert_error(expect_err(load_npy(&x, &frac)), "bad_label", &["frac.npy", "row 2", "`0.5`"]);
    let neg = write_path(&dir, "neg.npy", |p| write_npy(p, &array![-3i32, 1]));
    assert_error(expect_err(load_npy(&x, &neg)), "bad_label", &["row 1", "`-3`"]);

    let nan = write_path(&dir, "nan.npy", |p| write_npy(p, &array![[1.0f64, 2.0], [3.0, f64::NAN]]));
    assert_error(expect_err(load_npy(&nan, &y)), "non_finite", &["nan.npy", "row 2", "column 2"]);
    let big = write_path(&dir, "big.npy", |p| write_npy(p, &array![[1.0f64, 1e300], [3.0, 4.0]]));
    assert_error(expect_err(load_npy(&big, &y)), "non_finite", &["row 1", "column 2"]);

    let empty = raw("empty.npy", "<f4", &[0, 3], &[]);
    let y0 = raw("y0.npy", "<i8", &[0], &[]);
    assert_error(expect_err(load_npy(&empty, &y0)), "empty", &["empty.npy"]);

    // Corrupt files: short data, extra data, a header promising far more than the file holds
    // (must fail before allocating), and no header at all.
    let short = raw("short.npy", "<f4", &[2, 2], &f32_bytes(&[1.0, 2.0, 3.0]));
    assert_error(expect_err(load_npy(&short, &y)), "bad_npy", &["short.npy", "16", "12"]);
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
    let dataset = load_npz(&path, "x", "y").unwrap();
    assert_eq!(dataset.features(), &x.mapv(|v| v as f32));
    assert_eq!(dataset.labels().unwrap(), [2, 0, 1]);

    // np.savez_compressed writes deflated entries; custom keys.
    let mut x_bytes = Vec::new();
    x.write_npy(&mut x_bytes).unwrap();
    let mut y_bytes = Vec::new();
    y.write_npy(&mut y_bytes).unwrap();
    let archive = zip_bytes(&[("features.npy", x_bytes), ("labels.npy", y_bytes)], true);
    let path = write(dir.path(), "c.npz", &archive);
    let dataset = load_npz(&path, "features", "labels").unwrap();
    assert_eq!(dataset.features(), &x.mapv(|v| v as f32));

    assert_error(
        expect_err(load_npz(&path, "x", "labels")),
        "npz_missing_key",
        &["c.npz", "`x`"],
    );
    let err = expect_err(load_npz(&path, "features", "y"));
    assert!(err.to_string().contains("`y`"));
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(help.contains("`features`, `labels`"), "{help}");

    let not_zip = write(dir.path(), "nz.npz", b"PK but not really a zip archive");
    assert_error(expect_err(load_npz(&not_zip, "x", "y")), "bad_npy", &["nz.npz", "zip"]);
}

// ---------------------------------------------------------------- IDX

fn idx_images(n: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..n * 6).map(|i| (i * 7 % 256) as u8).collect();
    idx_bytes(0x08, &[n, 2, 3], &pixels)
}

#[test]
fn idx_round_trip_plain_and_gzip() {
    let dir = TempDir::new().unwrap();
    for gz in [false, true] {
        let maybe_gz = |bytes: Vec<u8>| if gz { gzip(&bytes) } else { bytes };
        let images = write(dir.path(), "images.idx3-ubyte", &maybe_gz(idx_images(4)));
        let labels = write(dir.path(), "labels.idx1-ubyte", &maybe_gz(idx_bytes(0x08, &[4], &[3, 1, 4, 1])));
        let dataset = load_idx(&images, &labels).unwrap();
        assert_eq!(dataset.feature_shape(), &[1, 2, 3]);
        assert_eq!(dataset.n_samples(), 4);
        assert_eq!(dataset.features().row(1).to_vec(), [42.0, 49.0, 56.0, 63.0, 70.0, 77.0]);
        assert_eq!(dataset.targets(), &Targets::Classes { labels: vec![3, 1, 4, 1], n_classes: 5 });
    }
}

#[test]
fn idx_errors() {
    let dir = TempDir::new().unwrap();
    let images = write(dir.path(), "images", &idx_images(3));
    let labels = write(dir.path(), "labels", &idx_bytes(0x08, &[3], &[0, 1, 2]));

    // Swapped files: each has the other's number of dimensions.
    assert_error(expect_err(load_idx(&labels, &images)), "idx_magic", &["labels`", "1 dimension(s)"]);
    let floats = write(dir.path(), "floats", &idx_bytes(0x0D, &[3, 2, 3], &[0; 72]));
    assert_error(expect_err(load_idx(&floats, &labels)), "idx_magic", &["floats", "0x0D"]);
    let png = write(dir.path(), "png", b"\x89PNG\r\n\x1a\n....");
    assert_error(expect_err(load_idx(&png, &labels)), "idx_magic", &["png", "0x89504E47"]);

    let cut = idx_images(3);
    let short = write(dir.path(), "short", &cut[..cut.len() - 1]);
    assert_error(expect_err(load_idx(&short, &labels)), "idx_truncated", &["short", "expected 34 bytes, found 33"]);
    let header_cut = write(dir.path(), "hcut", &cut[..9]);
    assert_error(expect_err(load_idx(&header_cut, &labels)), "idx_truncated", &["hcut"]);
    let tiny = write(dir.path(), "tiny", &[0, 0]);
    assert_error(expect_err(load_idx(&tiny, &labels)), "idx_truncated", &["tiny"]);
    // Sizes whose product overflows must not allocate.
    let huge = write(dir.path(), "huge", &idx_bytes(0x08, &[u32::MAX, u32::MAX, u32::MAX], &[1]));
    assert_error(expect_err(load_idx(&huge, &labels)), "idx_truncated", &["huge"]);

    let mut long = idx_images(3);
    long.extend_from_slice(&[0, 0]);
    let long = write(dir.path(), "long", &long);
    assert_error(expect_err(load_idx(&long, &labels)), "idx_trailing", &["long", "2 bytes"]);

    let labels4 = write(dir.path(), "labels4", &idx_bytes(0x08, &[4], &[0, 1, 2, 3]));
    assert_error(expect_err(load_idx(&images, &labels4)), "count_mismatch", &["3 samples", "4 labels"]);

    let none = write(dir.path(), "none", &idx_bytes(0x08, &[0, 28, 28], &[]));
    let no_labels = write(dir.path(), "nolabels", &idx_bytes(0x08, &[0], &[]));
    assert_error(expect_err(load_idx(&none, &no_labels)), "empty", &["none"]);
}

// ---------------------------------------------------------------- corrupt inputs never panic

#[test]
fn corrupt_files_return_errors_not_panics() {
    let dir = TempDir::new().unwrap();
    let csv = gzip(b"a,b,label\n1,2,x\n3,4,y\n5,6.5,x\n");
    let mut npy = Vec::new();
    array![[1.0f32, 2.0], [3.0, 4.0]].write_npy(&mut npy).unwrap();
    let mut npy_y = Vec::new();
    array![0i64, 1].write_npy(&mut npy_y).unwrap();
    let npz = zip_bytes(&[("x.npy", npy.clone()), ("y.npy", npy_y.clone())], true);
    let images = idx_images(2);
    let labels = idx_bytes(0x08, &[2], &[0, 1]);
    let y_path = write(dir.path(), "y.npy", &npy_y);
    let labels_path = write(dir.path(), "labels", &labels);
    let header = CsvOptions { header: true, ..csv_default() };

    let mut n_cases = 0;
    for bytes in corruptions(&csv, 200) {
        let _ = load_csv(write(dir.path(), "c.csv.gz", &bytes), &header);
        n_cases += 1;
    }
    for bytes in corruptions(&npy, 200) {
        let _ = load_npy(write(dir.path(), "x.npy", &bytes), &y_path);
        n_cases += 1;
    }
    for bytes in corruptions(&npz, 300) {
        let _ = load_npz(write(dir.path(), "d.npz", &bytes), "x", "y");
        n_cases += 1;
    }
    for bytes in corruptions(&images, 200).into_iter().chain(corruptions(&gzip(&images), 100)) {
        let _ = load_idx(write(dir.path(), "images", &bytes), &labels_path);
        n_cases += 1;
    }
    assert!(n_cases > 1000);
}

fn write_path<E: std::fmt::Debug>(
    dir: &TempDir,
    name: &str,
    writer: impl FnOnce(&std::path::Path) -> Result<(), E>,
) -> std::path::PathBuf {
    let path = dir.path().join(name);
    writer(&path).unwrap();
    path
}

#[test]
fn feature_shape_checks() {
    let dir = TempDir::new().unwrap();
    let x = write_path(&dir, "x.npy", |p| write_npy(p, &Array2::<f32>::zeros((2, 12))));
    let y = write_path(&dir, "y.npy", |p| write_npy(p, &array![0u8, 1]));
    let dataset = load_npy(&x, &y).unwrap();
    assert_eq!(dataset.clone().with_feature_shape(&[3, 2, 2]).unwrap().feature_shape(), &[3, 2, 2]);
    assert_error(expect_err(dataset.check_input_shape(&[1, 3, 3])), "shape_mismatch", &["x.npy", "12 features", "[1, 3, 3]", "needs 9"]);
    assert!(dataset.check_input_shape(&[]).is_err());
}
