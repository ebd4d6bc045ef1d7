//! Checkpoints: named tensors plus string metadata in a `.safetensors` file.
//!
//! In: a [`Checkpoint`] (tensors by name, metadata by key). Out: a file that PyTorch, numpy
//! and anything else with a safetensors reader can open, and back. Writes are atomic (see
//! `atomic.rs`): an interrupted save leaves the previous checkpoint in place. Loading checks
//! everything a damaged or foreign file can get wrong and says what, with the file's path.
//!
//! # File layout
//!
//! ```text
//! offset 0       u64, little-endian: N, the length of the JSON header in bytes
//! offset 8       N bytes of UTF-8 JSON, padded with spaces so that 8 + N is a multiple of 8:
//!                {"__metadata__":{"epoch":"3","nnc_version":"0.1.0"},
//!                 "fc1.bias":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},
//!                 "fc1.weight":{"dtype":"F32","shape":[4,3],"data_offsets":[16,64]}}
//! offset 8 + N   the tensors' data, little-endian and row-major (C order), back to back
//!                with no gaps; `data_offsets` are [start, end) relative to this point
//! ```
//!
//! `__metadata__` maps strings to strings only (numbers are written as text) and is
//! omitted when empty. Tensors are laid out 8-byte types first (`U64`, `I64`), then `F32`,
//! then `U8`, each group by name: every tensor is then aligned to its element size, and
//! the bytes depend only on the content, so saving the same checkpoint twice gives
//! identical files. This is the order of the `safetensors` crate's own writer; nnc writes
//! the header itself only because that crate keeps metadata in a `HashMap`, whose order
//! changes from run to run.
//!
//! # Names
//!
//! Parameters are named `<layer>.<parameter>` (`fc1.weight`, `fc1.bias`,
//! `bn1.running_mean`), optimizer state `opt.<parameter name>.<slot>`
//! (`opt.fc1.weight.momentum`). Bit-packed binary weights are a `U8` tensor
//! `<name>.bits` next to an `F32` tensor `<name>.scale`, with the logical shape in the
//! metadata entry `packed.<name>` (`packed.rs`: [`Checkpoint::pack_binary`],
//! [`Checkpoint::unpacked`]). Conventional metadata keys are in [`keys`].
//!
//! ```
//! use nnc_runtime::checkpoint::{keys, Checkpoint, Tensor};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("model.safetensors");
//! let mut checkpoint = Checkpoint::new();
//! checkpoint.insert("fc1.bias", Tensor::new(&[2], &[0.5f32, -1.0]).unwrap());
//! checkpoint.metadata.insert(keys::EPOCH.into(), "3".into());
//! checkpoint.save(&path).unwrap();
//!
//! let loaded = Checkpoint::load(&path).unwrap();
//! loaded.check_against(&[("fc1.bias", &[2])]).unwrap();
//! assert_eq!(loaded.values::<f32>("fc1.bias").unwrap(), [0.5, -1.0]);
//! ```

mod error;
mod packed;
mod read;
mod tensor;
#[cfg(test)]
mod tests;

pub use error::{CheckpointError, ShapeMismatch};
pub use packed::PACKED_PREFIX;
pub use tensor::{DType, Element, Tensor};

use serde::ser::{Serialize, SerializeMap, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Conventional `__metadata__` keys.
pub mod keys {
    /// Version of nnc that wrote the checkpoint.
    pub const NNC_VERSION: &str = "nnc_version";
    /// Hash of the spec the parameters belong to.
    pub const SPEC_HASH: &str = "spec_hash";
    /// Completed epochs.
    pub const EPOCH: &str = "epoch";
    /// Completed optimizer steps.
    pub const STEP: &str = "step";
    /// Free-form notes on tensor layouts, e.g. how binary weights are packed.
    pub const LAYOUT: &str = "layout";
}

const METADATA_KEY: &str = "__metadata__";
/// What errors call a checkpoint that was built in memory rather than loaded.
const IN_MEMORY: &str = "<in-memory checkpoint>";

/// Named tensors and string metadata.
#[derive(Debug, Clone, Default)]
pub struct Checkpoint {
    pub tensors: BTreeMap<String, Tensor>,
    pub metadata: BTreeMap<String, String>,
    /// The file it was loaded from, for error messages.
    source: Option<PathBuf>,
}

impl Checkpoint {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a tensor.
    pub fn insert(&mut self, name: impl Into<String>, tensor: Tensor) {
        self.tensors.insert(name.into(), tensor);
    }

    /// The file's bytes (see the module docs for the layout).
    pub fn to_bytes(&self) -> Result<Vec<u8>, CheckpointError> {
        if self.tensors.contains_key(METADATA_KEY) {
            return Err(CheckpointError::InvalidTensor {
                reason: format!("`{METADATA_KEY}` is reserved for the metadata"),
            });
        }
        let mut order: Vec<(&String, &Tensor)> = self.tensors.iter().collect();
        order.sort_by(|(a_name, a), (b_name, b)| {
            // Descending safetensors dtype order puts wider types first (see module docs).
            let (a_dtype, b_dtype) = (a.dtype().to_safetensors(), b.dtype().to_safetensors());
            b_dtype.cmp(&a_dtype).then_with(|| a_name.cmp(b_name))
        });

        let mut entries = Vec::with_capacity(order.len());
        let mut offset = 0;
        for (name, tensor) in &order {
            let end = offset + tensor.le_bytes().len();
            let info = safetensors::tensor::TensorInfo {
                dtype: tensor.dtype().to_safetensors(),
                shape: tensor.shape().to_vec(),
                data_offsets: (offset, end),
            };
            entries.push((name.as_str(), info));
            offset = end;
        }
        let header = Header {
            metadata: &self.metadata,
            entries,
        };
        let mut header_bytes =
            serde_json::to_vec(&header).map_err(|err| CheckpointError::InvalidTensor {
                reason: format!("the header cannot be encoded: {err}"),
            })?;
        header_bytes.resize(header_bytes.len().next_multiple_of(8), b' ');

        let mut bytes = Vec::with_capacity(8 + header_bytes.len() + offset);
        bytes.extend((header_bytes.len() as u64).to_le_bytes());
        bytes.extend(header_bytes);
        for (_, tensor) in order {
            bytes.extend(tensor.le_bytes());
        }
        Ok(bytes)
    }

    /// Writes the checkpoint to `path` atomically: a temporary file in the same directory
    /// is written, flushed to disk and renamed over `path`. On error `path` is unchanged.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let bytes = self.to_bytes()?;
        crate::atomic::write_atomically(path, |file| file.write_all(&bytes)).map_err(|source| {
            CheckpointError::WriteFailed {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// Reads and validates a checkpoint. Every tensor must be F32, U8, I64 or U64.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => CheckpointError::NotFound {
                path: path.to_path_buf(),
            },
            _ => CheckpointError::ReadFailed {
                path: path.to_path_buf(),
                source,
            },
        })?;
        let (tensors, metadata) = read::parse(&bytes, path)?;
        Ok(Checkpoint {
            tensors,
            metadata,
            source: Some(path.to_path_buf()),
        })
    }

    /// The values of tensor `name` as `T`; errors name the tensor, the dtypes and the file.
    pub fn values<T: Element>(&self, name: &str) -> Result<Vec<T>, CheckpointError> {
        let tensor = self
            .tensors
            .get(name)
            .ok_or_else(|| CheckpointError::MissingTensor {
                path: self.path(),
                name: name.to_string(),
            })?;
        tensor.to_vec().ok_or_else(|| CheckpointError::WrongDType {
            path: self.path(),
            name: name.to_string(),
            expected: T::DTYPE,
            found: tensor.dtype(),
        })
    }

    /// Checks that the checkpoint holds exactly the tensors `expected` (name, shape) and
    /// reports every missing name, unexpected name and shape mismatch in one error.
    pub fn check_against(&self, expected: &[(&str, &[usize])]) -> Result<(), CheckpointError> {
        let mut missing = Vec::new();
        let mut shape_mismatches = Vec::new();
        for &(name, shape) in expected {
            match self.tensors.get(name) {
                None => missing.push(name.to_string()),
                Some(tensor) if tensor.shape() != shape => shape_mismatches.push(ShapeMismatch {
                    name: name.to_string(),
                    expected: shape.to_vec(),
                    found: tensor.shape().to_vec(),
                }),
                Some(_) => {}
            }
        }
        let expected_names: BTreeSet<&str> = expected.iter().map(|&(name, _)| name).collect();
        let unexpected: Vec<String> = self
            .tensors
            .keys()
            .filter(|name| !expected_names.contains(name.as_str()))
            .cloned()
            .collect();
        if missing.is_empty() && unexpected.is_empty() && shape_mismatches.is_empty() {
            Ok(())
        } else {
            Err(CheckpointError::Mismatch {
                path: self.path(),
                missing,
                unexpected,
                shape_mismatches,
            })
        }
    }

    fn path(&self) -> PathBuf {
        self.source
            .clone()
            .unwrap_or_else(|| PathBuf::from(IN_MEMORY))
    }
}

/// The JSON header in file order: metadata first, then tensors by data offset.
struct Header<'a> {
    metadata: &'a BTreeMap<String, String>,
    entries: Vec<(&'a str, safetensors::tensor::TensorInfo)>,
}

impl Serialize for Header<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let has_metadata = !self.metadata.is_empty();
        let mut map = serializer.serialize_map(Some(self.entries.len() + has_metadata as usize))?;
        if has_metadata {
            map.serialize_entry(METADATA_KEY, self.metadata)?;
        }
        for (name, info) in &self.entries {
            map.serialize_entry(name, info)?;
        }
        map.end()
    }
}
