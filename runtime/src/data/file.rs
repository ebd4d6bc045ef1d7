//! Reading a data file into memory, decompressing gzip transparently.
//!
//! Whole files are read at once: the formats nnc loads (digits, MNIST-sized IDX, NPY) fit in
//! memory, and having all bytes lets the parsers check sizes before they allocate.

use std::io::{ErrorKind, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::error::DataError;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The file's bytes, gunzipped when they start with the gzip magic number (whatever the
/// extension, so a mislabelled file still loads).
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    let file = display(path);
    let bytes = std::fs::read(path).map_err(|err| match err.kind() {
        ErrorKind::NotFound => DataError::MissingFile { file: file.clone() },
        _ => DataError::Unreadable {
            file: file.clone(),
            reason: err.to_string(),
        },
    })?;
    gunzip_if_gzip(&file, bytes)
}

/// Decompresses `bytes` if they are gzip; `file` names them in errors.
pub(crate) fn gunzip_if_gzip(file: &str, bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    // MultiGzDecoder: `cat a.gz b.gz` is valid gzip and some tools write several members.
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|err| DataError::BadGzip {
            file: file.to_string(),
            reason: err.to_string(),
        })?;
    Ok(out)
}

/// How paths appear in messages: as the user gave them.
pub(crate) fn display(path: &Path) -> String {
    path.display().to_string()
}
