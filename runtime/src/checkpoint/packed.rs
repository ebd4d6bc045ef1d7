//! Binary weights stored as bits: `<name>.bits` (`U8`, one row of `ceil(n / 8)` bytes per
//! filter, bit `j` of byte `b` is element `8b + j`, set for a positive weight; bytes rather
//! than the kernel's `u64` words so a row wastes at most 7 bits, not 63) and
//! `<name>.scale` (`F32`, one alpha per filter, the mean absolute weight), with the logical
//! shape in the metadata entry `packed.<name>` (e.g. `[32,32,3,3]`). A binary layer computes
//! with `alpha · sign(w)` only, so this is all a deployed model needs: 1 bit a weight
//! instead of 32.
//!
//! One bit cannot hold `sign(0) = 0`, so a tensor with an exact zero (or a non-finite
//! value) stays `F32`: unpacking must give back the signs exactly.

use super::{Checkpoint, CheckpointError, Tensor};
use crate::exec::xnor::pack_signs;

/// Metadata key prefix of a packed tensor's logical shape.
pub const PACKED_PREFIX: &str = "packed.";

impl Checkpoint {
    /// Replaces each F32 tensor of `names` (shape `[filters, ...]`) by its bits and scales;
    /// tensors holding a zero or a non-finite value are left as they are. Returns the
    /// names packed.
    pub fn pack_binary(&mut self, names: &[&str]) -> Result<Vec<String>, CheckpointError> {
        let mut packed = Vec::new();
        for &name in names {
            let Some(tensor) = self.tensors.get(name) else {
                continue;
            };
            let Some(values) = tensor.to_vec::<f32>() else {
                continue;
            };
            let shape = tensor.shape().to_vec();
            if shape.is_empty() || values.iter().any(|v| *v == 0.0 || !v.is_finite()) {
                continue;
            }
            let filters = shape[0];
            let n: usize = shape[1..].iter().product();
            let scale: Vec<f32> = values
                .chunks_exact(n)
                .map(|row| (row.iter().map(|v| f64::from(v.abs())).sum::<f64>() / n as f64) as f32)
                .collect();
            // The little-endian bytes of each row's words, cut to the row's own length.
            let (words, bytes) = (n.div_ceil(64), n.div_ceil(8));
            let bits: Vec<u8> = pack_signs(&values, filters, n)
                .chunks_exact(words)
                .flat_map(|row| row.iter().flat_map(|w| w.to_le_bytes()).take(bytes))
                .collect();
            self.tensors.remove(name);
            self.insert(
                format!("{name}.bits"),
                Tensor::new(&[filters, bytes], &bits)?,
            );
            self.insert(format!("{name}.scale"), Tensor::new(&[filters], &scale)?);
            self.metadata
                .insert(format!("{PACKED_PREFIX}{name}"), shape_text(&shape));
            packed.push(name.to_string());
        }
        Ok(packed)
    }

    /// The checkpoint with every packed tensor expanded back to `F32` `±scale` values of
    /// its logical shape. Errors name the tensor if the bits or scales do not fit it.
    pub fn unpacked(&self) -> Result<Checkpoint, CheckpointError> {
        let mut out = self.clone();
        for (key, shape) in &self.metadata {
            let Some(name) = key.strip_prefix(PACKED_PREFIX) else {
                continue;
            };
            let bad = |reason: String| CheckpointError::BadPacking {
                path: self.path(),
                name: name.to_string(),
                reason,
            };
            let shape = parse_shape(shape).ok_or_else(|| {
                bad(format!(
                    "its logical shape `{shape}` is not a list of sizes"
                ))
            })?;
            let (filters, n) = match shape.split_first() {
                Some((&f, rest)) => (f, rest.iter().try_fold(1usize, |a, &d| a.checked_mul(d))),
                None => (0, None),
            };
            let n = n
                .filter(|n| *n > 0 && filters > 0)
                .ok_or_else(|| bad(format!("its logical shape {shape:?} is empty")))?;
            let words = n.div_ceil(8);
            let bits = self.values::<u8>(&format!("{name}.bits"))?;
            let scale = self.values::<f32>(&format!("{name}.scale"))?;
            if Some(bits.len()) != filters.checked_mul(words) {
                return Err(bad(format!(
                    "`{name}.bits` has {} bytes, {filters} filters of {n} signs need {filters} x {words}",
                    bits.len()
                )));
            }
            if scale.len() != filters {
                return Err(bad(format!(
                    "`{name}.scale` has {} values, expected one per filter ({filters})",
                    scale.len()
                )));
            }
            let mut values = Vec::with_capacity(filters * n);
            for (row, alpha) in bits.chunks_exact(words).zip(&scale) {
                values.extend((0..n).map(|j| {
                    if row[j / 8] >> (j % 8) & 1 == 1 {
                        *alpha
                    } else {
                        -*alpha
                    }
                }));
            }
            out.tensors.remove(&format!("{name}.bits"));
            out.tensors.remove(&format!("{name}.scale"));
            out.metadata.remove(key);
            out.insert(name, Tensor::new(&shape, &values)?);
        }
        Ok(out)
    }
}

fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", dims.join(","))
}

fn parse_shape(text: &str) -> Option<Vec<usize>> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?;
    inner
        .split(',')
        .map(|d| d.trim().parse::<usize>().ok())
        .collect()
}
