//! Helpers shared by the integration tests: error assertions and writers for test files.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write;
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use nnc_runtime::data::DataError;

/// Asserts the error's code, that its message contains every needle, and that it has help.
#[track_caller]
pub fn assert_error(err: DataError, code: &str, needles: &[&str]) {
    let message = err.to_string();
    assert_eq!(
        err.code_str(),
        format!("nnc::data::{code}"),
        "message: {message}"
    );
    for needle in needles {
        assert!(message.contains(needle), "`{message}` lacks `{needle}`");
    }
    let help = err.help().map(|help| help.to_string()).unwrap_or_default();
    assert!(
        help.ends_with('.'),
        "help of {code} should be a sentence: `{help}`"
    );
}

/// Unwraps the error of a result that must fail.
#[track_caller]
pub fn expect_err<T: std::fmt::Debug>(res: Result<T, DataError>) -> DataError {
    match res {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(err) => err,
    }
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// An NPY (version 1.0) file with any descriptor and shape, written by hand so tests can
/// produce dtypes and shapes numpy writers would not be asked for.
pub fn npy_bytes(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape_text = match shape {
        [single] => format!("({single},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let fortran = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_text}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Little-endian bytes of f32 values.
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Little-endian bytes of i64 values.
pub fn i64_bytes(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// An IDX file: magic `00 00 type ndim`, big-endian sizes, then `data`.
pub fn idx_bytes(type_code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, type_code, dims.len() as u8];
    for dim in dims {
        out.extend_from_slice(&dim.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// A stored or deflated zip archive of `(name, bytes)` entries, i.e. an NPZ file.
pub fn zip_bytes(entries: &[(&str, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// Seeded byte-level corruptions of `bytes`: truncations and single-byte changes.
pub fn corruptions(bytes: &[u8], n_flips: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let step = (bytes.len() / 40).max(1);
    for len in (0..bytes.len()).step_by(step) {
        out.push(bytes[..len].to_vec());
    }
    for k in 0..n_flips as u64 {
        let pick = nnc_runtime::rng::uniform(7, 0, 0, 2 * k) as f32;
        let value = nnc_runtime::rng::uniform(7, 0, 0, 2 * k + 1) as f32;
        let mut corrupt = bytes.to_vec();
        let pos = (pick * bytes.len() as f32) as usize % bytes.len();
        corrupt[pos] = (value * 256.0) as u8;
        out.push(corrupt);
    }
    out
}

/// An IDX images file of `n` 2x3 images with distinct pixel values.
pub fn idx_images(n: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..n * 6).map(|i| (i * 7 % 256) as u8).collect();
    idx_bytes(0x08, &[n, 2, 3], &pixels)
}

/// Writes a file with a writer that takes a path (e.g. `ndarray_npy::write_npy`).
pub fn write_path<E: std::fmt::Debug>(
    dir: &tempfile::TempDir,
    name: &str,
    writer: impl FnOnce(&Path) -> Result<(), E>,
) -> PathBuf {
    let path = dir.path().join(name);
    writer(&path).unwrap();
    path
}
