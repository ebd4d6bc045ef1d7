//! Features without labels, for scoring new data (`nnc predict`): CSV, NPY, IDX images, or
//! PNG images (one file, or every `.png` of a folder in name order).
//!
//! PNG images are decoded to 8 bits per channel and kept at their size (never resized):
//! grayscale (with or without alpha) becomes one channel, colour (RGB, RGBA, palette)
//! three, alpha dropped, as features of shape `[channels, height, width]` with raw values
//! 0..255, like IDX images; the spec's scaling (e.g. `divide(255)`) then applies.

use std::path::{Path, PathBuf};

use csv::{ReaderBuilder, StringRecord, Trim};
use ndarray::Array2;

use super::csv_file::LabelColumn;
use super::error::DataError;
use super::file::{display, read_bytes};

/// Feature rows read from a file, and a name per row when the rows are files (PNG).
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    /// One row per example, `n x d`.
    pub values: Array2<f32>,
    /// The per-example shape the file gives (`[d]` for CSV, the array's for NPY, `[c, h,
    /// w]` for images).
    pub shape: Vec<usize>,
    /// The file of each row, for a folder of images.
    pub row_names: Option<Vec<String>>,
}

/// How to read a CSV file of features: `n_features` per row, or one more, the label
/// column `label` (then dropped, so a training file can be scored as it is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureCsv {
    /// Features per example (the network's input size).
    pub n_features: usize,
    /// The label column, if rows have one more field.
    pub label: LabelColumn,
    /// Field separator.
    pub delimiter: u8,
}

/// Reads features from `path`, by its extension (`.gz` aside): `npy`, `png` (or a folder
/// of them), `idx`/`ubyte` (IDX images), anything else CSV.
pub fn load_features(path: &Path, csv: &FeatureCsv) -> Result<Features, DataError> {
    if path.is_dir() {
        return png_folder(path);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let file = display(path);
    if name.ends_with(".npy") {
        npy(&file, &read_bytes(path)?)
    } else if name.ends_with(".png") {
        let (shape, values) = png_image(&file, &read_bytes(path)?)?;
        let n = values.len();
        Ok(Features {
            values: matrix(&file, 1, n, values)?,
            shape,
            row_names: Some(vec![file]),
        })
    } else if name.ends_with(".idx") || name.ends_with("ubyte") {
        idx(&file, &read_bytes(path)?)
    } else {
        csv_features(&file, &read_bytes(path)?, csv)
    }
}

fn npy(file: &str, bytes: &[u8]) -> Result<Features, DataError> {
    let x = super::npy::decode::<f32>(file, bytes)?;
    let Some((&n, shape)) = x.shape.split_first() else {
        return Err(DataError::Empty {
            file: file.to_string(),
            what: "a 0-dimensional array".to_string(),
        });
    };
    let shape = if shape.is_empty() {
        vec![1]
    } else {
        shape.to_vec()
    };
    let d: usize = shape.iter().product();
    if n == 0 || d == 0 {
        return Err(DataError::Empty {
            file: file.to_string(),
            what: format!("array shape {:?}", x.shape),
        });
    }
    finite(file, &x.values, d)?;
    Ok(Features {
        values: matrix(file, n, d, x.values)?,
        shape,
        row_names: None,
    })
}

fn idx(file: &str, bytes: &[u8]) -> Result<Features, DataError> {
    let (dims, pixels) = super::idx::parse_idx(file, bytes, 3, "images")?;
    let d = dims[1] * dims[2];
    if dims[0] == 0 || d == 0 {
        return Err(DataError::Empty {
            file: file.to_string(),
            what: format!("dimensions {dims:?}"),
        });
    }
    let values = pixels.iter().map(|&p| f32::from(p)).collect();
    Ok(Features {
        values: matrix(file, dims[0], d, values)?,
        shape: vec![1, dims[1], dims[2]],
        row_names: None,
    })
}

fn finite(file: &str, values: &[f32], d: usize) -> Result<(), DataError> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(DataError::NonFinite {
            file: file.to_string(),
            row: (i / d) as u64 + 1,
            column: i % d + 1,
            value: values[i].to_string(),
        }),
    }
}

/// CSV rows of numbers; a first row with a field that is not a number is a header.
fn csv_features(file: &str, text: &[u8], options: &FeatureCsv) -> Result<Features, DataError> {
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .delimiter(options.delimiter)
        .flexible(true)
        .trim(Trim::All)
        .from_reader(text);
    let mut records: Vec<StringRecord> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|err| DataError::BadCsv {
            file: file.to_string(),
            row: i as u64 + 1,
            reason: err.to_string(),
        })?;
        records.push(record);
    }
    let Some(first) = records.first() else {
        return Err(DataError::Empty {
            file: file.to_string(),
            what: "no rows".to_string(),
        });
    };
    let n_columns = first.len();
    let label = if n_columns == options.n_features + 1 {
        let found = match &options.label {
            LabelColumn::Last => Some(n_columns - 1),
            LabelColumn::Index(i) => Some(*i).filter(|&i| i < n_columns),
            LabelColumn::Name(name) => first.iter().position(|h| h == name),
        };
        Some(found.ok_or_else(|| DataError::NoSuchColumn {
            file: file.to_string(),
            column: format!("{:?}", options.label),
            available: format!("{n_columns} columns"),
        })?)
    } else if n_columns == options.n_features {
        None
    } else {
        return Err(DataError::ShapeMismatch {
            file: file.to_string(),
            n_features: n_columns,
            shape: vec![options.n_features],
            needed: options.n_features,
        });
    };
    let is_header = first
        .iter()
        .enumerate()
        .any(|(i, f)| Some(i) != label && f.parse::<f32>().is_err());
    let rows = &records[usize::from(is_header)..];
    let mut values = Vec::with_capacity(rows.len() * options.n_features);
    for (r, record) in rows.iter().enumerate() {
        let line = (r + usize::from(is_header)) as u64 + 1;
        if record.len() != n_columns {
            return Err(DataError::RaggedRow {
                file: file.to_string(),
                row: line,
                expected: n_columns,
                found: record.len(),
            });
        }
        for (c, field) in record.iter().enumerate().filter(|(c, _)| Some(*c) != label) {
            let v: f32 = field.parse().map_err(|_| DataError::NotNumeric {
                file: file.to_string(),
                row: line,
                column: c + 1,
                value: field.to_string(),
            })?;
            if !v.is_finite() {
                return Err(DataError::NonFinite {
                    file: file.to_string(),
                    row: line,
                    column: c + 1,
                    value: field.to_string(),
                });
            }
            values.push(v);
        }
    }
    if rows.is_empty() || options.n_features == 0 {
        return Err(DataError::Empty {
            file: file.to_string(),
            what: "no data rows".to_string(),
        });
    }
    Ok(Features {
        values: matrix(file, rows.len(), options.n_features, values)?,
        shape: vec![options.n_features],
        row_names: None,
    })
}

/// One PNG image as `[channels, height, width]` values 0..255 (see the module docs).
fn png_image(file: &str, bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>), DataError> {
    let bad = |reason: String| DataError::Unreadable {
        file: file.to_string(),
        reason: format!("not a readable PNG image: {reason}"),
    };
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| bad(e.to_string()))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| bad("the image is too large".into()))?;
    let mut buf = vec![0u8; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| bad(e.to_string()))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let (per_pixel, channels) = match info.color_type {
        png::ColorType::Grayscale => (1, 1),
        png::ColorType::GrayscaleAlpha => (2, 1),
        png::ColorType::Rgb => (3, 3),
        png::ColorType::Rgba => (4, 3),
        png::ColorType::Indexed => return Err(bad("palette not expanded".into())),
    };
    let mut values = vec![0f32; channels * h * w];
    for y in 0..h {
        let line = &buf[y * info.line_size..][..w * per_pixel];
        for x in 0..w {
            for c in 0..channels {
                values[(c * h + y) * w + x] = f32::from(line[x * per_pixel + c]);
            }
        }
    }
    Ok((vec![channels, h, w], values))
}

/// Every `.png` of a folder, in name order, one row each; all of one size.
fn png_folder(dir: &Path) -> Result<Features, DataError> {
    let folder = display(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::Unreadable {
            file: folder.clone(),
            reason: e.to_string(),
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
        .collect();
    files.sort();
    let mut shape: Option<Vec<usize>> = None;
    let mut values = Vec::new();
    let mut names = Vec::new();
    for path in &files {
        let file = display(path);
        let (s, v) = png_image(&file, &read_bytes(path)?)?;
        let want = shape.get_or_insert_with(|| s.clone());
        if *want != s {
            return Err(DataError::ShapeMismatch {
                file,
                n_features: v.len(),
                shape: want.clone(),
                needed: want.iter().product(),
            });
        }
        values.extend(v);
        names.push(
            path.file_name()
                .map_or(file.clone(), |n| n.to_string_lossy().into_owned()),
        );
    }
    let Some(shape) = shape else {
        return Err(DataError::Empty {
            file: folder,
            what: "no .png files".to_string(),
        });
    };
    let d = shape.iter().product();
    Ok(Features {
        values: matrix(&folder, names.len(), d, values)?,
        shape,
        row_names: Some(names),
    })
}

/// Writes `values` as a little-endian float32 `.npy` file, atomically.
pub fn write_npy(path: &Path, values: &Array2<f32>) -> Result<(), DataError> {
    use ndarray_npy::WriteNpyExt;
    let mut bytes = Vec::new();
    values
        .write_npy(&mut bytes)
        .map_err(|e| DataError::Unreadable {
            file: display(path),
            reason: e.to_string(),
        })?;
    crate::files::write_atomic(path, &bytes).map_err(|e| DataError::Unreadable {
        file: display(path),
        reason: format!("cannot write: {e}"),
    })
}

/// `values` as `rows x cols` (the callers checked the sizes; a mismatch is still an error,
/// not a panic).
fn matrix(
    file: &str,
    rows: usize,
    cols: usize,
    values: Vec<f32>,
) -> Result<Array2<f32>, DataError> {
    let n = values.len();
    Array2::from_shape_vec((rows, cols), values).map_err(|_| DataError::Unreadable {
        file: file.to_string(),
        reason: format!("{n} values do not fill {rows} rows of {cols}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_bytes(color: png::ColorType, w: u32, h: u32, pixels: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().unwrap();
        writer.write_image_data(pixels).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn png_images_become_channels_first_rows() {
        let gray = png_bytes(png::ColorType::Grayscale, 2, 1, &[7, 200]);
        assert_eq!(
            png_image("g.png", &gray).unwrap(),
            (vec![1, 1, 2], vec![7.0, 200.0])
        );
        // Two RGBA pixels: alpha dropped, channels first.
        let rgba = png_bytes(png::ColorType::Rgba, 2, 1, &[1, 2, 3, 255, 4, 5, 6, 0]);
        assert_eq!(
            png_image("c.png", &rgba).unwrap(),
            (vec![3, 1, 2], vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0])
        );
        assert_eq!(
            png_image("x.png", b"not a png").unwrap_err().code_str(),
            "nnc::data::unreadable"
        );
    }

    #[test]
    fn csv_features_detect_a_header_and_drop_the_label_column() {
        let opts = FeatureCsv {
            n_features: 2,
            label: LabelColumn::Last,
            delimiter: b',',
        };
        let f = csv_features("a.csv", b"x,y,label\n1,2,pos\n3,4,neg\n", &opts).unwrap();
        assert_eq!(f.values.as_slice().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
        let f = csv_features("b.csv", b"1,2\n3,4\n", &opts).unwrap();
        assert_eq!(f.values.nrows(), 2);
        let err = csv_features("c.csv", b"1,2,3,4\n", &opts).unwrap_err();
        assert_eq!(err.code_str(), "nnc::data::shape_mismatch");
        let err = csv_features("d.csv", b"1,2\n3,x\n", &opts).unwrap_err();
        assert_eq!(err.code_str(), "nnc::data::not_numeric");
    }
}
