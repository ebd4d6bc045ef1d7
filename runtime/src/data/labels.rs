//! Turning raw label values into class indices, shared by all file loaders.
//!
//! Numeric labels are class indices as they stand: they must be integers `0..K-1`, and
//! `n_classes` is the largest label plus one. Text labels become classes in sorted (byte)
//! order and keep their text as class names.

use std::collections::BTreeMap;

use super::error::DataError;

/// Labels above this are rejected: they are almost surely not class indices, and accepting
/// them would allocate per-class tables of that size.
pub(crate) const MAX_CLASSES: u32 = 1 << 20;

/// Class indices plus, for text labels, the class names.
pub(crate) struct ClassLabels {
    pub labels: Vec<u32>,
    pub n_classes: u32,
    pub names: Option<Vec<String>>,
}

/// Labels from text fields; `rows` gives each value's 1-based row for messages.
pub(crate) fn classes_from_text(
    file: &str,
    values: &[String],
    rows: &[u64],
) -> Result<ClassLabels, DataError> {
    // Any non-numeric value means text labels; otherwise all must be valid indices, so that a
    // stray `2.5` among integers is an error rather than a silent extra class.
    if values.iter().all(|value| value.parse::<f64>().is_ok()) {
        let numbers = values
            .iter()
            .map(|value| value.parse::<f64>().unwrap_or(f64::NAN));
        return classes_from_numbers(file, numbers, |i| (rows[i], values[i].clone()));
    }
    let classes: BTreeMap<&str, u32> = values
        .iter()
        .map(|value| (value.as_str(), 0))
        .collect::<BTreeMap<_, _>>()
        .into_keys()
        .zip(0..)
        .collect();
    if classes.len() > MAX_CLASSES as usize {
        return Err(DataError::BadLabel {
            file: file.to_string(),
            row: rows[0],
            value: format!("({} distinct text labels)", classes.len()),
        });
    }
    Ok(ClassLabels {
        labels: values.iter().map(|value| classes[value.as_str()]).collect(),
        n_classes: classes.len() as u32,
        names: Some(classes.into_keys().map(str::to_string).collect()),
    })
}

/// Labels from numbers; `describe(i)` gives sample i's 1-based row and printed value.
pub(crate) fn classes_from_numbers(
    file: &str,
    numbers: impl Iterator<Item = f64>,
    describe: impl Fn(usize) -> (u64, String),
) -> Result<ClassLabels, DataError> {
    let mut labels = Vec::new();
    for (i, number) in numbers.enumerate() {
        let valid = number.fract() == 0.0 && (0.0..f64::from(MAX_CLASSES)).contains(&number);
        if !valid {
            let (row, value) = describe(i);
            return Err(DataError::BadLabel {
                file: file.to_string(),
                row,
                value,
            });
        }
        labels.push(number as u32);
    }
    let n_classes = labels.iter().max().map_or(0, |&max| max + 1);
    Ok(ClassLabels {
        labels,
        n_classes,
        names: None,
    })
}
