//! CSV loader: one sample per row, numeric feature columns and one label column.
//!
//! Rows in messages are the file's 1-based line numbers (the header counts), columns are
//! 1-based field positions including the label column, so both point into the file as an
//! editor shows it.

use std::path::Path;

use csv::{ReaderBuilder, StringRecord, Trim};
use ndarray::Array2;

use super::dataset::{Dataset, Targets};
use super::error::DataError;
use super::file::{display, read_bytes};
use super::labels::classes_from_text;

/// Which column holds the label.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LabelColumn {
    /// The last column (the default, as in the digits file).
    #[default]
    Last,
    /// A 0-based column index.
    Index(usize),
    /// A column named in the header (needs `header: true`).
    Name(String),
}

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// Whether the first row names the columns (names become feature names).
    pub header: bool,
    /// Which column holds the label; the others are features.
    pub label: LabelColumn,
    /// Field separator, `b','` by default.
    pub delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            header: false,
            label: LabelColumn::Last,
            delimiter: b',',
        }
    }
}

/// Loads a CSV file (gzip-compressed or not) as a classification data set.
///
/// Classes are the distinct label values: integers `0..K-1` taken as they are, or text
/// mapped to classes in sorted order with the text kept as class names.
pub fn load_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Dataset, DataError> {
    let path = path.as_ref();
    parse_csv(&display(path), &read_bytes(path)?, options)
}

/// Parses CSV text already in memory; `file` names it in messages.
pub(crate) fn parse_csv(
    file: &str,
    text: &[u8],
    options: &CsvOptions,
) -> Result<Dataset, DataError> {
    let mut reader = ReaderBuilder::new()
        .has_headers(options.header)
        .delimiter(options.delimiter)
        .flexible(true) // ragged rows are reported below, with both counts
        .trim(Trim::All)
        .from_reader(text);
    let header = if options.header {
        Some(
            reader
                .headers()
                .map_err(|err| csv_error(file, text, &err))?
                .clone(),
        )
    } else {
        None
    };

    let mut n_columns = header.as_ref().map(StringRecord::len);
    let mut label_idx = None;
    let mut features = Vec::new();
    let mut label_values = Vec::new();
    let mut label_rows = Vec::new();
    let mut record = StringRecord::new();
    let mut lines = LineCounter {
        text,
        byte: 0,
        line: 1,
    };
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(err) => return Err(csv_error(file, text, &err)),
        }
        let row = lines.line_at(record.position().map_or(0, |pos| pos.byte()));
        let expected = *n_columns.get_or_insert(record.len());
        if record.len() != expected {
            return Err(DataError::RaggedRow {
                file: file.to_string(),
                row,
                expected,
                found: record.len(),
            });
        }
        let label_idx = *label_idx.get_or_insert(resolve_label_column(
            file,
            &options.label,
            header.as_ref(),
            expected,
        )?);
        for (column_idx, field) in record.iter().enumerate() {
            if column_idx == label_idx {
                label_values.push(field.to_string());
                label_rows.push(row);
                continue;
            }
            features.push(parse_feature(file, row, column_idx + 1, field)?);
        }
    }

    let n_columns = n_columns.unwrap_or(0);
    if label_values.is_empty() {
        return Err(DataError::Empty {
            file: file.to_string(),
            what: "no data rows".to_string(),
        });
    }
    if n_columns < 2 {
        return Err(DataError::Empty {
            file: file.to_string(),
            what: "no feature columns besides the label".to_string(),
        });
    }
    let classes = classes_from_text(file, &label_values, &label_rows)?;
    let features = Array2::from_shape_vec((label_values.len(), n_columns - 1), features)
        .expect("every row has n_columns - 1 features");
    let mut dataset = Dataset::new(
        file,
        features,
        Targets::Classes {
            labels: classes.labels,
            n_classes: classes.n_classes,
        },
    )?;
    if let Some(names) = classes.names {
        dataset = dataset.with_label_names(names)?;
    }
    if let (Some(header), Some(label_idx)) = (header, label_idx) {
        let names = header
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != label_idx)
            .map(|(_, name)| name.to_string())
            .collect();
        dataset = dataset.with_feature_names(names)?;
    }
    Ok(dataset)
}

fn resolve_label_column(
    file: &str,
    label: &LabelColumn,
    header: Option<&StringRecord>,
    n_columns: usize,
) -> Result<usize, DataError> {
    let found = match label {
        LabelColumn::Last => n_columns.checked_sub(1),
        LabelColumn::Index(idx) => Some(*idx).filter(|&idx| idx < n_columns),
        LabelColumn::Name(name) => header.and_then(|header| header.iter().position(|h| h == name)),
    };
    found.ok_or_else(|| DataError::NoSuchColumn {
        file: file.to_string(),
        column: match label {
            LabelColumn::Name(name) => format!("`{name}`"),
            LabelColumn::Index(idx) => idx.to_string(),
            LabelColumn::Last => "(last)".to_string(),
        },
        available: match header {
            Some(header) => header
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", "),
            None => format!(
                "indices 0..{} (the file has no header, so columns have no names)",
                n_columns
            ),
        },
    })
}

fn parse_feature(file: &str, row: u64, column: usize, field: &str) -> Result<f32, DataError> {
    let value: f32 = field.parse().map_err(|_| DataError::NotNumeric {
        file: file.to_string(),
        row,
        column,
        value: if field.is_empty() {
            "(empty)".to_string()
        } else {
            field.to_string()
        },
    })?;
    if !value.is_finite() {
        return Err(DataError::NonFinite {
            file: file.to_string(),
            row,
            column,
            value: field.to_string(),
        });
    }
    Ok(value)
}

fn csv_error(file: &str, text: &[u8], err: &csv::Error) -> DataError {
    let byte = err.position().map_or(0, |pos| pos.byte());
    DataError::BadCsv {
        file: file.to_string(),
        row: LineCounter {
            text,
            byte: 0,
            line: 1,
        }
        .line_at(byte),
        reason: err.to_string(),
    }
}

/// File line numbers from byte offsets. The csv crate neither counts blank lines nor starts a
/// record's position after them, so rows are counted here: skip the line breaks at the
/// offset, then count newlines before it. Offsets only grow, so the pass is linear.
struct LineCounter<'a> {
    text: &'a [u8],
    byte: u64,
    line: u64,
}

impl LineCounter<'_> {
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut end = (byte as usize).min(self.text.len());
        while self
            .text
            .get(end)
            .is_some_and(|b| matches!(b, b'\r' | b'\n'))
        {
            end += 1;
        }
        let start = (self.byte as usize).min(end);
        self.line += self.text[start..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.byte = self.byte.max(end as u64);
        self.line
    }
}

#[cfg(test)]
mod class_name_tests {
    use super::*;

    fn text_labels() -> Dataset {
        let csv = b"1,neg\n2,pos\n3,neg\n4,pos\n";
        let options = CsvOptions {
            label: LabelColumn::Last,
            ..CsvOptions::default()
        };
        parse_csv("t.csv", csv, &options).unwrap()
    }

    /// Declared class names are matched to text labels by name, not by sorted position.
    #[test]
    fn declared_classes_are_matched_to_text_labels_by_name() {
        let ds = text_labels()
            .with_class_names(vec!["pos".into(), "neg".into()])
            .unwrap();
        assert_eq!(ds.labels(), Some(&[1, 0, 1, 0][..]));
        assert_eq!(ds.class_names().unwrap(), ["pos", "neg"]);
        // A declared class the file lacks is still a class.
        let ds = text_labels()
            .with_class_names(vec!["neg".into(), "neutral".into(), "pos".into()])
            .unwrap();
        assert_eq!(ds.labels(), Some(&[0, 2, 0, 2][..]));
        assert_eq!(ds.n_classes(), 3);
    }

    #[test]
    fn a_label_not_declared_is_an_error() {
        let err = text_labels()
            .with_class_names(vec!["pos".into(), "negative".into()])
            .unwrap_err();
        assert_eq!(err.code_str(), "nnc::data::undeclared_class");
        assert!(err.to_string().contains("`neg`"), "{err}");
    }
}
