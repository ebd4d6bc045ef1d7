//! Corrupt files (truncations, byte changes) give errors, never panics or huge allocations.

mod common;

use common::*;
use ndarray::array;
use ndarray_npy::WriteNpyExt;
use nnc_runtime::data::{load_csv, load_idx, load_npy, load_npz, CsvOptions};
use tempfile::TempDir;

#[test]
fn corrupt_files_return_errors_not_panics() {
    let dir = TempDir::new().unwrap();
    let csv = gzip(b"a,b,label\n1,2,x\n3,4,y\n5,6.5,x\n");
    let mut npy = Vec::new();
    array![[1.0f32, 2.0], [3.0, 4.0]]
        .write_npy(&mut npy)
        .unwrap();
    let mut npy_y = Vec::new();
    array![0i64, 1].write_npy(&mut npy_y).unwrap();
    let npz = zip_bytes(&[("x.npy", npy.clone()), ("y.npy", npy_y.clone())], true);
    let images = idx_images(2);
    let labels = idx_bytes(0x08, &[2], &[0, 1]);
    let y_path = write(dir.path(), "y.npy", &npy_y);
    let labels_path = write(dir.path(), "labels", &labels);
    let header = CsvOptions {
        header: true,
        ..CsvOptions::default()
    };

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
        let _ = load_npz(write(dir.path(), "d.npz", &bytes), None, None);
        n_cases += 1;
    }
    for bytes in corruptions(&images, 200)
        .into_iter()
        .chain(corruptions(&gzip(&images), 100))
    {
        let _ = load_idx(write(dir.path(), "images", &bytes), &labels_path);
        n_cases += 1;
    }
    assert!(n_cases > 1000);
}
