//! In-memory tensors of a checkpoint: an element type, a shape and little-endian bytes.

use super::CheckpointError;
use std::fmt;

/// Element types a checkpoint can hold. `F32` for parameters and optimizer state; `U64`
/// (or `U8`) for bit-packed binary weights, whose per-row scales are a separate `F32`
/// tensor; `I64` for counters and indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    U8,
    I64,
    U64,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::U8 => 1,
            DType::F32 => 4,
            DType::I64 | DType::U64 => 8,
        }
    }

    pub(super) fn to_safetensors(self) -> safetensors::Dtype {
        match self {
            DType::F32 => safetensors::Dtype::F32,
            DType::U8 => safetensors::Dtype::U8,
            DType::I64 => safetensors::Dtype::I64,
            DType::U64 => safetensors::Dtype::U64,
        }
    }

    pub(super) fn from_safetensors(dtype: safetensors::Dtype) -> Option<Self> {
        match dtype {
            safetensors::Dtype::F32 => Some(DType::F32),
            safetensors::Dtype::U8 => Some(DType::U8),
            safetensors::Dtype::I64 => Some(DType::I64),
            safetensors::Dtype::U64 => Some(DType::U64),
            _ => None,
        }
    }
}

impl fmt::Display for DType {
    /// The safetensors spelling (`F32`, `U8`, `I64`, `U64`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type stored as one [`DType`]: `f32`, `u8`, `i64` or `u64`.
pub trait Element: Copy + sealed::Sealed {
    const DTYPE: DType;
    #[doc(hidden)]
    fn extend_le(values: &[Self], out: &mut Vec<u8>);
    #[doc(hidden)]
    fn from_le(bytes: &[u8]) -> Vec<Self>;
}

macro_rules! element {
    ($ty:ty, $dtype:ident) => {
        impl sealed::Sealed for $ty {}
        impl Element for $ty {
            const DTYPE: DType = DType::$dtype;
            fn extend_le(values: &[Self], out: &mut Vec<u8>) {
                out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            }
            fn from_le(bytes: &[u8]) -> Vec<Self> {
                bytes
                    .chunks_exact(size_of::<$ty>())
                    .map(|chunk| {
                        let mut le = [0u8; size_of::<$ty>()];
                        le.copy_from_slice(chunk);
                        <$ty>::from_le_bytes(le)
                    })
                    .collect()
            }
        }
    };
}

element!(f32, F32);
element!(u8, U8);
element!(i64, I64);
element!(u64, U64);

/// A dense row-major tensor. The bytes are kept little-endian, as in the file, so saving
/// and loading are bit-exact (NaN payloads and -0.0 included).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    dtype: DType,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Tensor {
    /// A tensor of `values` in row-major order; errors if their count is not the product
    /// of `shape` (1 for the scalar shape `[]`).
    pub fn new<T: Element>(shape: &[usize], values: &[T]) -> Result<Self, CheckpointError> {
        check_len(shape, values.len())?;
        let mut bytes = Vec::with_capacity(values.len() * T::DTYPE.size());
        T::extend_le(values, &mut bytes);
        Ok(Tensor {
            dtype: T::DTYPE,
            shape: shape.to_vec(),
            bytes,
        })
    }

    /// A tensor from raw little-endian bytes, e.g. packed bits; errors if the byte count
    /// does not match `shape` and `dtype`.
    pub fn from_le_bytes(
        dtype: DType,
        shape: &[usize],
        bytes: Vec<u8>,
    ) -> Result<Self, CheckpointError> {
        let n_elements = element_count(shape)?;
        if n_elements.checked_mul(dtype.size()) != Some(bytes.len()) {
            return Err(CheckpointError::InvalidTensor {
                reason: format!(
                    "{} bytes of {dtype} cannot have shape {shape:?} ({n_elements} elements of {} bytes)",
                    bytes.len(),
                    dtype.size()
                ),
            });
        }
        Ok(Tensor {
            dtype,
            shape: shape.to_vec(),
            bytes,
        })
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The data as stored: little-endian, row-major.
    pub fn le_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The values as `T`, or `None` if the tensor holds another dtype.
    pub fn to_vec<T: Element>(&self) -> Option<Vec<T>> {
        (self.dtype == T::DTYPE).then(|| T::from_le(&self.bytes))
    }
}

fn element_count(shape: &[usize]) -> Result<usize, CheckpointError> {
    shape
        .iter()
        .try_fold(1usize, |acc, &dim| acc.checked_mul(dim))
        .ok_or_else(|| CheckpointError::InvalidTensor {
            reason: format!("shape {shape:?} has more elements than fit in memory"),
        })
}

fn check_len(shape: &[usize], n_values: usize) -> Result<(), CheckpointError> {
    let n_elements = element_count(shape)?;
    if n_elements == n_values {
        Ok(())
    } else {
        Err(CheckpointError::InvalidTensor {
            reason: format!(
                "{n_values} values cannot have shape {shape:?} ({n_elements} elements)"
            ),
        })
    }
}
