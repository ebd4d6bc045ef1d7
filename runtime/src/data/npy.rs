//! NPY and NPZ loaders: a feature array `x` of shape `(n, ...)` and a label array `y` of
//! shape `(n,)` or `(n, 1)`.
//!
//! Supported element types: float32, float64, uint8, int32 and int64, either byte order, C or
//! Fortran order (values are always taken in logical C order). Headers are parsed by
//! `ndarray-npy`; the data size is checked against the header before anything is allocated,
//! so a corrupt header cannot trigger a huge allocation. NPZ archives (plain or compressed)
//! are read entry by entry and each entry goes through the same NPY path.

use std::io::{Cursor, Read};
use std::path::Path;

use ndarray::ArrayD;
use ndarray_npy::npy::header::Header;
use ndarray_npy::{ReadNpyExt, ReadableElement};

use super::dataset::{Dataset, Targets};
use super::error::DataError;
use super::file::{display, read_bytes};
use super::labels::classes_from_numbers;

/// Loads features from `x_path` and labels from `y_path`, both `.npy` files.
pub fn load_npy(x_path: impl AsRef<Path>, y_path: impl AsRef<Path>) -> Result<Dataset, DataError> {
    let (x_path, y_path) = (x_path.as_ref(), y_path.as_ref());
    let x = (display(x_path), read_bytes(x_path)?);
    let y = (display(y_path), read_bytes(y_path)?);
    build(x, y)
}

/// Loads features and labels from the arrays `x_key` and `y_key` of an `.npz` archive;
/// `None` means `"x"` and `"y"`, the names `np.savez(path, x=..., y=...)` gives them.
pub fn load_npz(
    path: impl AsRef<Path>,
    x_key: Option<&str>,
    y_key: Option<&str>,
) -> Result<Dataset, DataError> {
    let (x_key, y_key) = (x_key.unwrap_or("x"), y_key.unwrap_or("y"));
    let path = path.as_ref();
    let file = display(path);
    let bytes = std::fs::read(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => DataError::MissingFile { file: file.clone() },
        _ => DataError::Unreadable {
            file: file.clone(),
            reason: err.to_string(),
        },
    })?;
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|err| bad_npy(&file, format!("not a zip archive: {err}")))?;
    let x = (
        format!("{file}:{x_key}"),
        npz_entry(&mut archive, &file, x_key)?,
    );
    let y = (
        format!("{file}:{y_key}"),
        npz_entry(&mut archive, &file, y_key)?,
    );
    build(x, y)
}

fn npz_entry(
    archive: &mut zip::ZipArchive<Cursor<Vec<u8>>>,
    file: &str,
    key: &str,
) -> Result<Vec<u8>, DataError> {
    // numpy stores array `k` as entry `k.npy`; accept the bare name too, as ndarray-npy does.
    let entry_name = [format!("{key}.npy"), key.to_string()]
        .into_iter()
        .find(|name| archive.index_for_name(name).is_some());
    let Some(entry_name) = entry_name else {
        let available: Vec<String> = archive
            .file_names()
            .map(|name| format!("`{}`", name.strip_suffix(".npy").unwrap_or(name)))
            .collect();
        return Err(DataError::NpzMissingKey {
            file: file.to_string(),
            key: key.to_string(),
            available: if available.is_empty() {
                "none".to_string()
            } else {
                available.join(", ")
            },
        });
    };
    let mut bytes = Vec::new();
    archive
        .by_name(&entry_name)
        .and_then(|mut entry| entry.read_to_end(&mut bytes).map_err(Into::into))
        .map_err(|err| bad_npy(file, format!("cannot read entry `{entry_name}`: {err}")))?;
    Ok(bytes)
}

fn build(
    (x_file, x_bytes): (String, Vec<u8>),
    (y_file, y_bytes): (String, Vec<u8>),
) -> Result<Dataset, DataError> {
    let x = decode::<f32>(&x_file, &x_bytes)?;
    let y = decode::<f64>(&y_file, &y_bytes)?;
    let Some((&n_samples, sample_shape)) = x.shape.split_first() else {
        return Err(shape_error(
            &x_file,
            &x.shape,
            "features (need at least 1 dimension)",
        ));
    };
    // A 1-D feature array is one scalar feature per sample.
    let sample_shape = if sample_shape.is_empty() {
        vec![1]
    } else {
        sample_shape.to_vec()
    };
    let n_features: usize = sample_shape.iter().product();
    if n_samples == 0 || n_features == 0 {
        return Err(DataError::Empty {
            file: x_file,
            what: format!("array shape {:?}", x.shape),
        });
    }
    let labels_ok = matches!(y.shape.as_slice(), [_] | [_, 1]);
    if !labels_ok {
        return Err(shape_error(
            &y_file,
            &y.shape,
            "labels (need (n,) or (n, 1))",
        ));
    }
    if y.shape[0] != n_samples {
        return Err(DataError::CountMismatch {
            features_file: x_file,
            n_features: n_samples,
            labels_file: y_file,
            n_labels: y.shape[0],
        });
    }
    let classes = classes_from_numbers(&y_file, y.values.iter().copied(), |i| {
        (i as u64 + 1, y.values[i].to_string())
    })?;
    #[allow(
        clippy::expect_used,
        reason = "the element count was checked against the header's shape"
    )]
    let features = ndarray::Array2::from_shape_vec((n_samples, n_features), x.values)
        .expect("element count matches the checked shape");
    Dataset::new(
        &x_file,
        features,
        Targets::Classes {
            labels: classes.labels,
            n_classes: classes.n_classes,
        },
    )?
    .with_feature_shape(&sample_shape)
}

/// A decoded array: its shape and its values in C order.
pub(crate) struct Decoded<T> {
    pub(crate) shape: Vec<usize>,
    pub(crate) values: Vec<T>,
}

/// The types arrays are decoded into: `f32` for features, `f64` for labels (exact for every
/// supported type except int64 beyond 2^53, which is no usable class index anyway).
pub(crate) trait Value: Copy {
    fn from_f64(v: f64) -> Self;
    fn from_f32(v: f32) -> Self;
}

impl Value for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn from_f32(v: f32) -> Self {
        v
    }
}

impl Value for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
    fn from_f32(v: f32) -> Self {
        f64::from(v)
    }
}

pub(crate) fn decode<T: Value>(file: &str, bytes: &[u8]) -> Result<Decoded<T>, DataError> {
    let mut cursor = Cursor::new(bytes);
    let header = Header::from_reader(&mut cursor).map_err(|err| bad_npy(file, err.to_string()))?;
    let descriptor = header.type_descriptor.to_string();
    let dtype = descriptor.trim_matches(|c| c == '\'' || c == '"');
    let item_size = match dtype.get(1..) {
        Some("f4" | "i4") => 4,
        Some("f8" | "i8") => 8,
        Some("u1") => 1,
        _ => {
            return Err(DataError::NpyDtype {
                file: file.to_string(),
                dtype: descriptor,
            })
        }
    };
    let available = (bytes.len() as u64).saturating_sub(cursor.position());
    let needed = header
        .shape
        .iter()
        .try_fold(item_size as u64, |acc, &d| acc.checked_mul(d as u64))
        .ok_or_else(|| bad_npy(file, format!("shape {:?} is too large", header.shape)))?;
    if needed != available {
        return Err(bad_npy(
            file,
            format!("header promises {needed} data bytes, file has {available}"),
        ));
    }
    let values = match dtype.get(1..) {
        Some("f4") => read_as::<f32, T>(file, bytes, T::from_f32)?,
        Some("f8") => read_as::<f64, T>(file, bytes, T::from_f64)?,
        Some("u1") => read_as::<u8, T>(file, bytes, |v| T::from_f32(v.into()))?,
        Some("i4") => read_as::<i32, T>(file, bytes, |v| T::from_f64(v.into()))?,
        _ => read_as::<i64, T>(file, bytes, |v| T::from_f64(v as f64))?,
    };
    Ok(Decoded {
        shape: header.shape,
        values,
    })
}

fn read_as<A: ReadableElement + Copy, T>(
    file: &str,
    bytes: &[u8],
    convert: impl Fn(A) -> T,
) -> Result<Vec<T>, DataError> {
    let array = ArrayD::<A>::read_npy(bytes).map_err(|err| bad_npy(file, err.to_string()))?;
    // `iter` walks logical (C) order whatever the memory order, so Fortran files come out right.
    Ok(array.iter().map(|&v| convert(v)).collect())
}

fn bad_npy(file: &str, reason: String) -> DataError {
    DataError::BadNpy {
        file: file.to_string(),
        reason,
    }
}

fn shape_error(file: &str, shape: &[usize], role: &str) -> DataError {
    DataError::NpyShape {
        file: file.to_string(),
        shape: shape.to_vec(),
        role: role.to_string(),
    }
}
