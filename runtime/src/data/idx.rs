//! IDX loader (the format of MNIST and Fashion-MNIST), plain or gzip-compressed.
//!
//! An IDX file is a big-endian header, `0x00 0x00 <type> <ndim>` followed by `ndim` u32 sizes,
//! then the elements in C order. Images are `ubyte` with 3 dimensions `(n, rows, cols)` and
//! become features of shape `[1, rows, cols]` with raw values 0..255 (scale them with
//! `divide(255)` or another scaler). Labels are `ubyte` with 1 dimension.

use std::path::Path;

use ndarray::Array2;

use super::dataset::{Dataset, Targets};
use super::error::DataError;
use super::file::{display, read_bytes};
use super::labels::classes_from_numbers;

const TYPE_UBYTE: u8 = 0x08;

/// Loads an images file and a labels file in IDX format (each optionally `.gz`).
pub fn load_idx(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Dataset, DataError> {
    let (images_path, labels_path) = (images.as_ref(), labels.as_ref());
    let images_file = display(images_path);
    let labels_file = display(labels_path);
    let image_bytes = read_bytes(images_path)?;
    let label_bytes = read_bytes(labels_path)?;
    let (image_dims, pixels) = parse_idx(&images_file, &image_bytes, 3, "images")?;
    let (label_dims, label_bytes) = parse_idx(&labels_file, &label_bytes, 1, "labels")?;
    let n_samples = image_dims[0];
    if label_dims[0] != n_samples {
        return Err(DataError::CountMismatch {
            features_file: images_file,
            n_features: n_samples,
            labels_file,
            n_labels: label_dims[0],
        });
    }
    let n_features = image_dims[1] * image_dims[2];
    if n_samples == 0 || n_features == 0 {
        return Err(DataError::Empty {
            file: images_file,
            what: format!("dimensions {image_dims:?}"),
        });
    }
    let classes = classes_from_numbers(
        &labels_file,
        label_bytes.iter().map(|&b| f64::from(b)),
        |i| (i as u64 + 1, label_bytes[i].to_string()),
    )?;
    let features = pixels.iter().map(|&p| f32::from(p)).collect();
    #[allow(
        clippy::expect_used,
        reason = "the pixel count was checked against the header's n_samples x n_features"
    )]
    let features = Array2::from_shape_vec((n_samples, n_features), features)
        .expect("size checked against the header");
    Dataset::new(
        &images_file,
        features,
        Targets::Classes {
            labels: classes.labels,
            n_classes: classes.n_classes,
        },
    )?
    .with_feature_shape(&[1, image_dims[1], image_dims[2]])
}

/// Checks the header of an unsigned-byte IDX file with `ndim` dimensions; returns the sizes
/// and the data bytes.
pub(crate) fn parse_idx<'a>(
    file: &str,
    bytes: &'a [u8],
    ndim: u8,
    what: &str,
) -> Result<(Vec<usize>, &'a [u8]), DataError> {
    let magic_error = |reason: String| DataError::IdxMagic {
        file: file.to_string(),
        expected: format!(
            "{what} (ubyte, {ndim} dimension{})",
            if ndim == 1 { "" } else { "s" }
        ),
        reason,
    };
    let header_len = 4 + 4 * usize::from(ndim);
    if bytes.len() < 4 {
        return Err(truncated(file, header_len as u64, bytes.len()));
    }
    let magic = &bytes[..4];
    if magic[..2] != [0, 0] {
        return Err(magic_error(format!(
            "magic number {} does not start with two zero bytes",
            hex(magic)
        )));
    }
    if magic[2] != TYPE_UBYTE {
        return Err(magic_error(format!(
            "element type 0x{:02X} is not unsigned byte (0x08)",
            magic[2]
        )));
    }
    if magic[3] != ndim {
        return Err(magic_error(format!("it has {} dimension(s)", magic[3])));
    }
    if bytes.len() < header_len {
        return Err(truncated(file, header_len as u64, bytes.len()));
    }
    let dims: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|size| u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize)
        .collect();
    // u64 arithmetic: three u32 sizes can overflow, and then the file is surely truncated.
    let data_len = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    let expected = (header_len as u64).saturating_add(data_len);
    let found = bytes.len() as u64;
    if found < expected {
        return Err(truncated(file, expected, bytes.len()));
    }
    if found > expected {
        return Err(DataError::IdxTrailing {
            file: file.to_string(),
            extra: found - expected,
        });
    }
    Ok((dims, &bytes[header_len..]))
}

fn truncated(file: &str, expected: u64, found: usize) -> DataError {
    DataError::IdxTruncated {
        file: file.to_string(),
        expected,
        found: found as u64,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold("0x".to_string(), |acc, b| format!("{acc}{b:02X}"))
}
