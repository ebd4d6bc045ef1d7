//! CSV loader: round-trips, every CSV error, missing files and corrupt gzip.

mod common;

use common::*;
use ndarray::array;
use nnc_runtime::data::{load_csv, load_idx, load_npy, load_npz, CsvOptions, LabelColumn, Targets};
use tempfile::TempDir;

fn csv_default() -> CsvOptions {
    CsvOptions::default()
}

#[test]
fn csv_numeric_labels_last_column() {
    let dir = TempDir::new().unwrap();
    let path = write(dir.path(), "d.csv", b"1,2,0\r\n3,4.5,2\n\n-1,0,1\n");
    let dataset = load_csv(&path, &csv_default()).unwrap();
    assert_eq!(
        dataset.features(),
        &array![[1.0, 2.0], [3.0, 4.5], [-1.0, 0.0]]
    );
    assert_eq!(
        dataset.targets(),
        &Targets::Classes {
            labels: vec![0, 2, 1],
            n_classes: 3
        }
    );
    assert_eq!(dataset.feature_shape(), &[2]);
    assert_eq!(dataset.class_names(), None);
    assert_eq!(dataset.feature_names(), None);
    // Rows in messages are file lines, blank lines included.
    let err = expect_err(load_csv(
        write(dir.path(), "e.csv", b"1,2,0\n\n3,x,1\n"),
        &csv_default(),
    ));
    assert_error(err, "not_numeric", &["row 3"]);
}

#[test]
fn csv_text_labels_by_name_with_header_and_delimiter() {
    let dir = TempDir::new().unwrap();
    let text = "width;kind;height\n1;dog;2\n3;cat;4\n5;dog;6\n7;ant;8\n";
    let path = write(dir.path(), "d.csv", text.as_bytes());
    let options = CsvOptions {
        header: true,
        label: LabelColumn::Name("kind".into()),
        delimiter: b';',
    };
    let dataset = load_csv(&path, &options).unwrap();
    assert_eq!(
        dataset.features(),
        &array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]
    );
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
    let options = CsvOptions {
        label: LabelColumn::Index(0),
        ..csv_default()
    };
    let dataset = load_csv(&path, &options).unwrap();
    assert_eq!(dataset.features(), &array![[10.0, 20.0], [30.0, 40.0]]);
    assert_eq!(dataset.labels().unwrap(), [1, 0]);
}

#[test]
fn csv_errors_name_file_row_and_column() {
    let dir = TempDir::new().unwrap();
    let load = |name: &str, text: &[u8]| load_csv(write(dir.path(), name, text), &csv_default());
    let header = CsvOptions {
        header: true,
        ..csv_default()
    };

    assert_error(
        expect_err(load("ragged.csv", b"1,2,0\n1,2,0\n1,2\n")),
        "ragged_row",
        &["ragged.csv", "row 3", "2 fields", "expected 3"],
    );
    assert_error(
        expect_err(load("text.csv", b"1,2,0\n1,x,0\n")),
        "not_numeric",
        &["text.csv", "row 2", "column 2", "`x`"],
    );
    assert_error(
        expect_err(load("blank.csv", b"1,,0\n")),
        "not_numeric",
        &["row 1", "column 2", "(empty)"],
    );
    assert_error(
        expect_err(load("nan.csv", b"1,2,0\nNaN,2,0\n")),
        "non_finite",
        &["nan.csv", "row 2", "column 1", "NaN"],
    );
    assert_error(
        expect_err(load("inf.csv", b"1,inf,0\n")),
        "non_finite",
        &["row 1", "column 2"],
    );
    assert_error(
        expect_err(load("overflow.csv", b"1,1e60,0\n")),
        "non_finite",
        &["1e60"],
    );
    assert_error(
        expect_err(load("frac.csv", b"1,2,0\n1,2,2.5\n")),
        "bad_label",
        &["frac.csv", "row 2", "`2.5`"],
    );
    assert_error(
        expect_err(load("neg.csv", b"1,2,-1\n1,2,1\n")),
        "bad_label",
        &["row 1", "`-1`"],
    );
    assert_error(
        expect_err(load("huge.csv", b"1,2,1e9\n")),
        "bad_label",
        &["`1e9`"],
    );
    assert_error(
        expect_err(load("empty.csv", b"")),
        "empty",
        &["empty.csv", "no data rows"],
    );
    assert_error(
        expect_err(load("onecol.csv", b"1\n2\n")),
        "empty",
        &["no feature columns"],
    );
    assert_error(
        expect_err(load("utf8.csv", b"1,2,0\n\xff\xfe,2,0\n")),
        "bad_csv",
        &["utf8.csv", "row 2"],
    );
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
        load_csv(
            &path,
            &CsvOptions {
                header,
                label: LabelColumn::Name(name.into()),
                delimiter: b',',
            },
        )
    };
    assert_error(
        expect_err(by_name("klass", true)),
        "no_such_column",
        &["d.csv", "`klass`"],
    );
    assert_error(
        expect_err(by_name("label", false)),
        "no_such_column",
        &["`label`"],
    );
    let by_index = load_csv(
        &path,
        &CsvOptions {
            header: true,
            label: LabelColumn::Index(3),
            delimiter: b',',
        },
    );
    assert_error(expect_err(by_index), "no_such_column", &["column 3"]);
}

#[test]
fn label_out_of_range_for_declared_classes() {
    let dir = TempDir::new().unwrap();
    let dataset = load_csv(write(dir.path(), "d.csv", b"1,0\n2,4\n"), &csv_default()).unwrap();
    assert_eq!(dataset.n_classes(), 5);
    assert_eq!(dataset.clone().with_n_classes(7).unwrap().n_classes(), 7);
    let err = expect_err(dataset.with_n_classes(3));
    assert_error(
        err,
        "label_out_of_range",
        &["d.csv", "row 2", "label 4", "3 classes"],
    );
}

#[test]
fn missing_and_unreadable_files() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("nope.csv");
    assert_error(
        expect_err(load_csv(&missing, &csv_default())),
        "missing_file",
        &["nope.csv"],
    );
    assert_error(
        expect_err(load_npy(&missing, &missing)),
        "missing_file",
        &["nope.csv"],
    );
    assert_error(
        expect_err(load_npz(&missing, None, None)),
        "missing_file",
        &["nope.csv"],
    );
    assert_error(
        expect_err(load_idx(&missing, &missing)),
        "missing_file",
        &["nope.csv"],
    );
    // A directory exists but cannot be read as a file.
    assert_error(
        expect_err(load_csv(dir.path(), &csv_default())),
        "unreadable",
        &[],
    );
}

#[test]
fn corrupt_gzip() {
    let dir = TempDir::new().unwrap();
    let good = gzip(b"1,2,0\n");
    let truncated = write(dir.path(), "cut.csv.gz", &good[..good.len() - 6]);
    assert_error(
        expect_err(load_csv(&truncated, &csv_default())),
        "bad_gzip",
        &["cut.csv.gz"],
    );
    let garbage = write(
        dir.path(),
        "junk.csv.gz",
        b"\x1f\x8bthis is not deflate data",
    );
    assert_error(
        expect_err(load_csv(&garbage, &csv_default())),
        "bad_gzip",
        &["junk.csv.gz"],
    );
    let idx = write(dir.path(), "junk-idx.gz", b"\x1f\x8b\x08\x00garbage");
    assert_error(
        expect_err(load_idx(&idx, &idx)),
        "bad_gzip",
        &["junk-idx.gz"],
    );
}
