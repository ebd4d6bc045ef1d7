//! Parsing a checkpoint file's bytes, with one precise error per way a file can be wrong.
//!
//! The `safetensors` crate does the validation (header JSON, dtypes, offsets covering the
//! data exactly). Its errors are too coarse to tell a user what happened, so a few cheap
//! checks before and after it sort failures into "not a safetensors file", "truncated" and
//! "corrupt header".

use super::{CheckpointError, DType, Tensor, METADATA_KEY};
use safetensors::{SafeTensorError, SafeTensors};
use std::collections::BTreeMap;
use std::path::Path;

/// The `safetensors` crate refuses larger headers; anything above it is not a header length.
const MAX_HEADER_LEN: u64 = 100_000_000;

type Parsed = (BTreeMap<String, Tensor>, BTreeMap<String, String>);

pub(super) fn parse(bytes: &[u8], path: &Path) -> Result<Parsed, CheckpointError> {
    let not_safetensors = |reason: String| CheckpointError::NotSafetensors {
        path: path.to_path_buf(),
        reason,
    };
    let file_len = bytes.len() as u64;
    let Some(len_prefix) = bytes.first_chunk::<8>() else {
        return Err(not_safetensors(match bytes.len() {
            0 => "the file is empty".to_string(),
            n => format!("the file has only {n} bytes"),
        }));
    };
    let header_len = u64::from_le_bytes(*len_prefix);
    if header_len > MAX_HEADER_LEN {
        return Err(not_safetensors(format!(
            "its first 8 bytes give a header length of {header_len} bytes, which is implausible"
        )));
    }
    if bytes.get(8).is_some_and(|&b| b != b'{') {
        return Err(not_safetensors(
            "the header after the 8-byte length is not a JSON object".to_string(),
        ));
    }
    if 8 + header_len > file_len {
        return Err(CheckpointError::Truncated {
            path: path.to_path_buf(),
            part: "header",
            expected: 8 + header_len,
            found: file_len,
        });
    }

    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|err| match err {
        SafeTensorError::MetadataIncompleteBuffer => data_length_error(bytes, header_len, path),
        other => CheckpointError::CorruptHeader {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    })?;

    let data_start = 8 + header_len as usize;
    let mut tensors = BTreeMap::new();
    for (name, info) in metadata.tensors() {
        let dtype = DType::from_safetensors(info.dtype).ok_or_else(|| {
            CheckpointError::UnsupportedDType {
                path: path.to_path_buf(),
                name: name.clone(),
                dtype: info.dtype.to_string(),
            }
        })?;
        let (start, end) = info.data_offsets;
        // read_metadata has checked the offsets; `get` keeps a bug there from panicking.
        let data = bytes
            .get(data_start + start..data_start + end)
            .ok_or_else(|| CheckpointError::CorruptHeader {
                path: path.to_path_buf(),
                reason: format!("the offsets of tensor `{name}` lie outside the file"),
            })?;
        let tensor = Tensor::from_le_bytes(dtype, &info.shape, data.to_vec()).map_err(|err| {
            CheckpointError::CorruptHeader {
                path: path.to_path_buf(),
                reason: format!("tensor `{name}`: {err}"),
            }
        })?;
        tensors.insert(name, tensor);
    }
    let metadata = metadata
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok((tensors, metadata))
}

/// The header is valid but its tensors do not end exactly at the end of the file: either
/// the file was cut short or something follows the data.
fn data_length_error(bytes: &[u8], header_len: u64, path: &Path) -> CheckpointError {
    let file_len = bytes.len() as u64;
    // Saturating: a corrupt header may declare offsets near u64::MAX.
    match declared_data_len(bytes, header_len).map(|len| (8 + header_len).saturating_add(len)) {
        Some(expected) if expected > file_len => CheckpointError::Truncated {
            path: path.to_path_buf(),
            part: "tensor data",
            expected,
            found: file_len,
        },
        Some(expected) => CheckpointError::CorruptHeader {
            path: path.to_path_buf(),
            reason: format!("{} bytes follow the last tensor", file_len - expected),
        },
        None => CheckpointError::CorruptHeader {
            path: path.to_path_buf(),
            reason: "the tensor offsets do not cover the data".to_string(),
        },
    }
}

/// The end of the last tensor's data as the header declares it.
fn declared_data_len(bytes: &[u8], header_len: u64) -> Option<u64> {
    let header = bytes.get(8..8 + header_len as usize)?;
    let header: BTreeMap<String, serde_json::Value> = serde_json::from_slice(header).ok()?;
    header
        .iter()
        .filter(|(name, _)| name.as_str() != METADATA_KEY)
        .map(|(_, info)| info.get("data_offsets")?.get(1)?.as_u64())
        .try_fold(0, |max, end| Some(max.max(end?)))
}
