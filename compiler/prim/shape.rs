//! Shape inference: one rule per op.
//!
//! In: an op, its operand shapes and (for ops that take one) the node's declared shape.
//! Out: the result shape, or a [`ShapeError`] saying which rule was broken. Shapes are
//! concrete (`Vec<usize>`); a different batch size means a different graph.

use super::op::{Arity, ConvGeom, Op};
use std::fmt;

/// A broken shape rule. Graphs come from the compiler, so this is a programmer error;
/// the message names the op and the offending shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    pub message: String,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ShapeError {}

macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(ShapeError { message: format!($($arg)*) })
    };
}

/// Number of elements of a shape.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Infers the result shape of `op` applied to operands of shape `inputs`. `given` is the
/// node's declared shape; it is required by ops whose [`Op::takes_shape`] is true and
/// ignored by the others (the verifier compares it with the result).
pub fn infer_shape(
    op: &Op,
    inputs: &[&[usize]],
    given: Option<&[usize]>,
) -> Result<Vec<usize>, ShapeError> {
    let name = op.name();
    match op.arity() {
        Arity::Exactly(n) if inputs.len() != n => {
            bail!("{name} takes {n} input(s), got {}", inputs.len())
        }
        Arity::AtLeast(n) if inputs.len() < n => {
            bail!("{name} takes at least {n} input(s), got {}", inputs.len())
        }
        _ => {}
    }
    let given = || -> Result<Vec<usize>, ShapeError> {
        match given {
            Some(shape) => Ok(shape.to_vec()),
            None => Err(ShapeError {
                message: format!("{name} needs a declared result shape"),
            }),
        }
    };
    match op {
        Op::Input { .. } | Op::Param { .. } | Op::Const { .. } | Op::RandUniform { .. } => given(),
        Op::Exp | Op::Log | Op::Sqrt | Op::Recip | Op::Sign | Op::StopGrad => {
            Ok(inputs[0].to_vec())
        }
        Op::Add | Op::Mul | Op::Max | Op::CmpGt => {
            if inputs[0] != inputs[1] {
                bail!(
                    "{name} needs equal shapes (broadcast explicitly), got {:?} and {:?}",
                    inputs[0],
                    inputs[1]
                );
            }
            Ok(inputs[0].to_vec())
        }
        Op::Sum { axes } | Op::MaxReduce { axes } => {
            check_axes(name, axes, inputs[0].len())?;
            let mut out = inputs[0].to_vec();
            for &axis in axes {
                out[axis] = 1;
            }
            Ok(out)
        }
        Op::Reshape => {
            let out = given()?;
            if numel(&out) != numel(inputs[0]) {
                bail!(
                    "Reshape cannot change the element count: {:?} -> {:?}",
                    inputs[0],
                    out
                );
            }
            Ok(out)
        }
        Op::Permute { perm } => {
            let rank = inputs[0].len();
            let mut seen = vec![false; rank];
            if perm.len() != rank
                || perm
                    .iter()
                    .any(|&p| p >= rank || std::mem::replace(&mut seen[p], true))
            {
                bail!("Permute needs a permutation of 0..{rank}, got {perm:?}");
            }
            Ok(perm.iter().map(|&p| inputs[0][p]).collect())
        }
        Op::Broadcast => {
            let out = given()?;
            let from = inputs[0];
            let fits =
                from.len() == out.len() && from.iter().zip(&out).all(|(&f, &o)| f == o || f == 1);
            if !fits {
                bail!("Broadcast expands size-1 axes of the same rank only: {from:?} -> {out:?}");
            }
            Ok(out)
        }
        Op::Slice { axis, start, end } => {
            let mut out = inputs[0].to_vec();
            if *axis >= out.len() || start > end || *end > out[*axis] {
                bail!(
                    "Slice{{axis={axis}, {start}..{end}}} is out of range for {:?}",
                    inputs[0]
                );
            }
            out[*axis] = end - start;
            Ok(out)
        }
        Op::Pad {
            axis,
            before,
            after,
        } => {
            let mut out = inputs[0].to_vec();
            if *axis >= out.len() {
                bail!("Pad axis {axis} is out of range for {:?}", inputs[0]);
            }
            out[*axis] += before + after;
            Ok(out)
        }
        Op::Concat { axis } => {
            let first = inputs[0];
            if *axis >= first.len() {
                bail!("Concat axis {axis} is out of range for {first:?}");
            }
            let mut out = first.to_vec();
            out[*axis] = 0;
            for shape in inputs {
                let agrees = shape.len() == first.len()
                    && (0..first.len()).all(|i| i == *axis || shape[i] == first[i]);
                if !agrees {
                    bail!(
                        "Concat on axis {axis} needs equal other axes, got {first:?} and {shape:?}"
                    );
                }
                out[*axis] += shape[*axis];
            }
            Ok(out)
        }
        Op::MatMul => matmul_shape(inputs[0], inputs[1]),
        Op::Im2Col(geom) => {
            let x = inputs[0];
            let [n, c, h, w] = image_dims(name, x)?;
            let [oh, ow] = conv_output(geom, h, w)?;
            Ok(vec![n, c * geom.kernel[0] * geom.kernel[1], oh * ow])
        }
        Op::Col2Im(geom) => {
            let out = given()?;
            let [n, c, h, w] = image_dims(name, &out)?;
            let [oh, ow] = conv_output(geom, h, w)?;
            let expected = [n, c * geom.kernel[0] * geom.kernel[1], oh * ow];
            if inputs[0] != expected {
                bail!(
                    "Col2Im into {out:?} needs columns {expected:?}, got {:?}",
                    inputs[0]
                );
            }
            Ok(out)
        }
        Op::Gather => {
            let (table, ids) = (inputs[0], inputs[1]);
            let [_, dim] = table[..] else {
                bail!("Gather needs a [V, D] table, got {table:?}");
            };
            let mut out = ids.to_vec();
            out.push(dim);
            Ok(out)
        }
        Op::ScatterAdd => {
            let out = given()?;
            let (values, ids) = (inputs[0], inputs[1]);
            let [_, dim] = out[..] else {
                bail!("ScatterAdd needs a [V, D] result, got {out:?}");
            };
            if values.split_last() != Some((&dim, ids)) {
                bail!("ScatterAdd of {values:?} by ids {ids:?} needs values [...ids, {dim}]");
            }
            Ok(out)
        }
    }
}

fn check_axes(name: &str, axes: &[usize], rank: usize) -> Result<(), ShapeError> {
    let increasing = axes.windows(2).all(|w| w[0] < w[1]);
    if !increasing || axes.iter().any(|&a| a >= rank) {
        bail!("{name} axes must be strictly increasing and below rank {rank}, got {axes:?}");
    }
    Ok(())
}

fn image_dims(name: &str, shape: &[usize]) -> Result<[usize; 4], ShapeError> {
    match shape {
        &[n, c, h, w] => Ok([n, c, h, w]),
        _ => bail!("{name} works on [N, C, H, W] images, got {shape:?}"),
    }
}

fn conv_output(geom: &ConvGeom, h: usize, w: usize) -> Result<[usize; 2], ShapeError> {
    match geom.output_size(h, w) {
        Some(size) => Ok(size),
        None => bail!("the window {geom:?} does not fit a {h}x{w} image"),
    }
}

/// `[..., m, k] x [..., k, n] -> [..., m, n]`. Batch dims must be equal, or one side is
/// a plain matrix that is applied to every batch entry of the other.
pub fn matmul_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, ShapeError> {
    if a.len() < 2 || b.len() < 2 {
        bail!("MatMul needs rank >= 2 operands, got {a:?} and {b:?}");
    }
    let (a_batch, [m, k]) = split_matrix(a);
    let (b_batch, [k2, n]) = split_matrix(b);
    if k != k2 {
        bail!("MatMul inner dimensions differ: {a:?} x {b:?}");
    }
    let batch = match (a_batch.is_empty(), b_batch.is_empty()) {
        (_, true) => a_batch,
        (true, false) => b_batch,
        (false, false) if a_batch == b_batch => a_batch,
        _ => bail!("MatMul batch dims must be equal (or one side rank 2): {a:?} x {b:?}"),
    };
    let mut out = batch.to_vec();
    out.extend([m, n]);
    Ok(out)
}

/// Splits `[..., r, c]` into the batch dims and `[r, c]`.
pub fn split_matrix(shape: &[usize]) -> (&[usize], [usize; 2]) {
    let r = shape.len();
    (&shape[..r - 2], [shape[r - 2], shape[r - 1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(op: Op, inputs: &[&[usize]]) -> Result<Vec<usize>, ShapeError> {
        infer_shape(&op, inputs, None)
    }

    #[test]
    fn reductions_keep_axes() {
        let axes = vec![0, 2];
        assert_eq!(infer(Op::Sum { axes }, &[&[2, 3, 4]]), Ok(vec![1, 3, 1]));
        assert!(infer(Op::Sum { axes: vec![1, 0] }, &[&[2, 3]]).is_err());
        assert!(infer(Op::MaxReduce { axes: vec![2] }, &[&[2, 3]]).is_err());
    }

    #[test]
    fn matmul_batches() {
        assert_eq!(matmul_shape(&[2, 3], &[3, 4]), Ok(vec![2, 4]));
        assert_eq!(matmul_shape(&[5, 2, 3], &[3, 4]), Ok(vec![5, 2, 4]));
        assert_eq!(matmul_shape(&[2, 3], &[5, 6, 3, 4]), Ok(vec![5, 6, 2, 4]));
        assert_eq!(matmul_shape(&[5, 2, 3], &[5, 3, 4]), Ok(vec![5, 2, 4]));
        assert!(matmul_shape(&[5, 2, 3], &[6, 3, 4]).is_err());
        assert!(matmul_shape(&[2, 3], &[4, 4]).is_err());
        assert!(matmul_shape(&[3], &[3, 4]).is_err());
    }

    #[test]
    fn movement_rules() {
        let perm = vec![2, 0, 1];
        assert_eq!(
            infer(Op::Permute { perm }, &[&[2, 3, 4]]),
            Ok(vec![4, 2, 3])
        );
        assert!(infer(Op::Permute { perm: vec![0, 0] }, &[&[2, 3]]).is_err());
        let bcast = infer_shape(&Op::Broadcast, &[&[1, 3]], Some(&[4, 3]));
        assert_eq!(bcast, Ok(vec![4, 3]));
        assert!(infer_shape(&Op::Broadcast, &[&[2, 3]], Some(&[4, 3])).is_err());
        assert!(infer_shape(&Op::Broadcast, &[&[3]], Some(&[4, 3])).is_err());
        assert!(infer_shape(&Op::Reshape, &[&[2, 3]], Some(&[5])).is_err());
        let concat = infer(Op::Concat { axis: 1 }, &[&[2, 1], &[2, 3]]);
        assert_eq!(concat, Ok(vec![2, 4]));
        assert!(infer(Op::Concat { axis: 1 }, &[&[2, 1], &[3, 3]]).is_err());
        let slice = Op::Slice {
            axis: 0,
            start: 1,
            end: 3,
        };
        assert_eq!(infer(slice, &[&[3, 2]]), Ok(vec![2, 2]));
        assert!(infer(Op::Add, &[&[2], &[3]]).is_err());
        assert!(infer(Op::Add, &[&[2]]).is_err());
    }

    #[test]
    fn im2col_and_col2im_agree() {
        let geom = ConvGeom::square(3, 1, 1);
        let cols = infer(Op::Im2Col(geom), &[&[2, 3, 5, 5]]).unwrap();
        assert_eq!(cols, vec![2, 27, 25]);
        let back = infer_shape(&Op::Col2Im(geom), &[&cols], Some(&[2, 3, 5, 5]));
        assert_eq!(back, Ok(vec![2, 3, 5, 5]));
        assert!(infer_shape(&Op::Col2Im(geom), &[&cols], Some(&[2, 3, 4, 5])).is_err());
    }
}
