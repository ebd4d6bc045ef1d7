//! Naive kernels of the reference interpreter, one function per non-trivial op.
//!
//! In: operands already checked by shape inference. Out: freshly allocated arrays in
//! standard (row-major) layout. Loops are written for obviousness; the only library
//! kernel is ndarray's `dot` for MatMul.

use super::op::ConvGeom;
use ndarray::{ArrayD, ArrayViewD, Axis, Ix3, Ix4, IxDyn, LinalgScalar, Slice, Zip};
use num_traits::Float;
use std::fmt;

/// An element type the interpreter computes in.
pub trait Scalar: Float + LinalgScalar + fmt::Debug + fmt::Display + Send + Sync + 'static {
    /// Rounds an f64 (a `Const` value, a random number) to this type.
    fn of(value: f64) -> Self;
    fn as_f64(self) -> f64;
}

impl Scalar for f32 {
    fn of(value: f64) -> f32 {
        value as f32
    }
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Scalar for f64 {
    fn of(value: f64) -> f64 {
        value
    }
    fn as_f64(self) -> f64 {
        self
    }
}

/// Copies a view into a new standard-layout array, in logical row-major order.
pub fn materialize<T: Scalar>(view: ArrayViewD<'_, T>) -> ArrayD<T> {
    // ndarray copies strided views lane by lane; iterating an IxDyn view element by
    // element is an order of magnitude slower.
    view.as_standard_layout().into_owned()
}

/// `Max` semantics shared by the binary op and the reduction: NaN wins, and on equal
/// values (including 0 vs -0) the right operand is returned.
pub fn max<T: Scalar>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        T::nan()
    } else if a > b {
        a
    } else {
        b
    }
}

pub fn zip<T: Scalar>(a: &ArrayD<T>, b: &ArrayD<T>, f: impl Fn(T, T) -> T) -> ArrayD<T> {
    let out = Zip::from(a).and(b).map_collect(|&x, &y| f(x, y));
    out.as_standard_layout().into_owned()
}

/// Folds the elements of `axes` in row-major order into each output element; the reduced
/// axes are kept with size 1.
#[allow(
    clippy::expect_used,
    reason = "the output has numel(out_shape) values by construction"
)]
pub fn reduce<T: Scalar>(
    x: &ArrayD<T>,
    axes: &[usize],
    init: T,
    f: impl Fn(T, T) -> T,
) -> ArrayD<T> {
    let rank = x.ndim();
    let kept: Vec<usize> = (0..rank).filter(|a| !axes.contains(a)).collect();
    // Moving the reduced axes last makes each output element one contiguous run.
    let perm: Vec<usize> = kept.iter().chain(axes).copied().collect();
    let moved = materialize(x.view().permuted_axes(perm));
    let run: usize = axes.iter().map(|&a| x.shape()[a]).product();
    #[allow(
        clippy::expect_used,
        reason = "the kernels work on standard-layout arrays they build themselves (materialize)"
    )]
    let data = moved.as_slice().expect("standard layout");
    let mut out_shape = x.shape().to_vec();
    for &axis in axes {
        out_shape[axis] = 1;
    }
    let n_out: usize = out_shape.iter().product();
    let values: Vec<T> = (0..n_out)
        .map(|i| {
            data[i * run..(i + 1) * run]
                .iter()
                .fold(init, |acc, &v| f(acc, v))
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(&out_shape), values).expect("element count matches")
}

#[allow(
    clippy::expect_used,
    reason = "prim::verify checked the shapes of the node this kernel evaluates"
)]
pub fn reshape<T: Scalar>(x: &ArrayD<T>, shape: &[usize]) -> ArrayD<T> {
    let data = match x.as_slice() {
        Some(contiguous) => contiguous.to_vec(),
        None => materialize(x.view()).into_raw_vec_and_offset().0,
    };
    ArrayD::from_shape_vec(IxDyn(shape), data).expect("Reshape keeps numel")
}

pub fn slice<T: Scalar>(x: &ArrayD<T>, axis: usize, start: usize, end: usize) -> ArrayD<T> {
    materialize(x.slice_axis(Axis(axis), Slice::from(start..end)))
}

pub fn pad<T: Scalar>(x: &ArrayD<T>, axis: usize, before: usize, shape: &[usize]) -> ArrayD<T> {
    let mut out = ArrayD::zeros(IxDyn(shape));
    let inner = Slice::from(before..before + x.shape()[axis]);
    out.slice_axis_mut(Axis(axis), inner).assign(x);
    out
}

pub fn concat<T: Scalar>(parts: &[&ArrayD<T>], axis: usize) -> ArrayD<T> {
    let views: Vec<ArrayViewD<'_, T>> = parts.iter().map(|p| p.view()).collect();
    #[allow(
        clippy::expect_used,
        reason = "prim::verify checked the shapes of the node this kernel evaluates"
    )]
    let joined = ndarray::concatenate(Axis(axis), &views).expect("shape inference checked concat");
    joined.as_standard_layout().into_owned()
}

/// Batched matrix product. A rank-2 operand is shared by every batch entry of the other.
#[allow(
    clippy::expect_used,
    reason = "prim::verify checked the shapes of the node this kernel evaluates"
)]
pub fn matmul<T: Scalar>(a: &ArrayD<T>, b: &ArrayD<T>, shape: &[usize]) -> ArrayD<T> {
    let as_batch = |x: &ArrayD<T>| {
        let (batch, [rows, cols]) = super::shape::split_matrix(x.shape());
        let n: usize = batch.iter().product();
        let stacked = reshape(x, &[n, rows, cols]);
        (
            stacked.into_dimensionality::<Ix3>().expect("rank 3"),
            !batch.is_empty(),
        )
    };
    let (a3, a_batched) = as_batch(a);
    let (b3, b_batched) = as_batch(b);
    let n_batch = a3.shape()[0].max(b3.shape()[0]);
    let (m, n) = (a3.shape()[1], b3.shape()[2]);
    let mut out = ndarray::Array3::<T>::zeros((n_batch, m, n));
    for i in 0..n_batch {
        let lhs = a3.index_axis(Axis(0), if a_batched { i } else { 0 });
        let rhs = b3.index_axis(Axis(0), if b_batched { i } else { 0 });
        out.index_axis_mut(Axis(0), i).assign(&lhs.dot(&rhs));
    }
    reshape(&out.into_dyn(), shape)
}

/// Visits every (image position, column entry) pair of an Im2Col window: calls
/// `visit(n, c, h, w, row, col)` where `(h, w)` may lie in the padding (then it is
/// `None`). Im2Col and Col2Im share it so that they are adjoint by construction.
fn for_each_tap(
    image: [usize; 4],
    geom: &ConvGeom,
    mut visit: impl FnMut(usize, usize, Option<(usize, usize)>, usize, usize),
) {
    let [n_batch, n_chan, height, width] = image;
    let [kh, kw] = geom.kernel;
    let [sh, sw] = geom.stride;
    let [dh, dw] = geom.dilation;
    let [top, left, _, _] = geom.pad;
    #[allow(
        clippy::expect_used,
        reason = "prim::verify checked the shapes of the node this kernel evaluates"
    )]
    let [oh, ow] = geom
        .output_size(height, width)
        .expect("shape inference checked the window");
    for n in 0..n_batch {
        for c in 0..n_chan {
            for i in 0..kh {
                for j in 0..kw {
                    let row = (c * kh + i) * kw + j;
                    for y in 0..oh {
                        for x in 0..ow {
                            // Position in the unpadded image, if not in the padding.
                            let h = (y * sh + i * dh).checked_sub(top).filter(|&h| h < height);
                            let w = (x * sw + j * dw).checked_sub(left).filter(|&w| w < width);
                            visit(n, c, h.zip(w), row, y * ow + x);
                        }
                    }
                }
            }
        }
    }
}

pub fn im2col<T: Scalar>(x: &ArrayD<T>, geom: &ConvGeom, shape: &[usize]) -> ArrayD<T> {
    #[allow(
        clippy::expect_used,
        reason = "prim::verify checked the shapes of the node this kernel evaluates"
    )]
    let image = x.view().into_dimensionality::<Ix4>().expect("rank 4");
    let dims = [
        image.shape()[0],
        image.shape()[1],
        image.shape()[2],
        image.shape()[3],
    ];
    let pad_value = T::of(geom.pad_value);
    let mut out = ndarray::Array3::<T>::zeros((shape[0], shape[1], shape[2]));
    for_each_tap(dims, geom, |n, c, pos, row, col| {
        out[[n, row, col]] = match pos {
            Some((h, w)) => image[[n, c, h, w]],
            None => pad_value,
        };
    });
    out.into_dyn()
}

pub fn col2im<T: Scalar>(cols: &ArrayD<T>, geom: &ConvGeom, shape: &[usize]) -> ArrayD<T> {
    #[allow(
        clippy::expect_used,
        reason = "prim::verify checked the shapes of the node this kernel evaluates"
    )]
    let cols = cols.view().into_dimensionality::<Ix3>().expect("rank 3");
    let dims = [shape[0], shape[1], shape[2], shape[3]];
    let mut out = ndarray::Array4::<T>::zeros(dims);
    for_each_tap(dims, geom, |n, c, pos, row, col| {
        if let Some((h, w)) = pos {
            out[[n, c, h, w]] = out[[n, c, h, w]] + cols[[n, row, col]];
        }
    });
    out.into_dyn()
}

/// Rows of `table` [V, D] named by `ids` (see `Op::Gather`); ids that name no row read
/// zeros.
#[allow(
    clippy::expect_used,
    reason = "as_standard_layout gives a contiguous slice; out has numel(shape) values (prim::verify)"
)]
pub fn gather<T: Scalar>(table: &ArrayD<T>, ids: &ArrayD<T>, shape: &[usize]) -> ArrayD<T> {
    let (vocab, dim) = (table.shape()[0], table.shape()[1]);
    let table = table.as_standard_layout();
    let rows = table.as_slice().expect("standard layout");
    let mut out = Vec::with_capacity(ids.len() * dim);
    for id in ids.iter() {
        match nnc_runtime::exec::lookup::row(id.as_f64(), vocab) {
            Some(r) => out.extend_from_slice(&rows[r * dim..(r + 1) * dim]),
            None => out.extend(std::iter::repeat_n(T::zero(), dim)),
        }
    }
    ArrayD::from_shape_vec(IxDyn(shape), out).expect("numel matches shape")
}

/// The adjoint of [`gather`]: each values row added, in id order, to the row its id names.
#[allow(
    clippy::expect_used,
    reason = "as_standard_layout gives a contiguous slice; out has vocab * dim values"
)]
pub fn scatter_add<T: Scalar>(values: &ArrayD<T>, ids: &ArrayD<T>, shape: &[usize]) -> ArrayD<T> {
    let (vocab, dim) = (shape[0], shape[1]);
    let values = values.as_standard_layout();
    let values = values.as_slice().expect("standard layout");
    let mut out = vec![T::zero(); vocab * dim];
    for (i, id) in ids.iter().enumerate() {
        if let Some(r) = nnc_runtime::exec::lookup::row(id.as_f64(), vocab) {
            for (o, v) in out[r * dim..(r + 1) * dim]
                .iter_mut()
                .zip(&values[i * dim..(i + 1) * dim])
            {
                *o = *o + *v;
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(shape), out).expect("numel matches shape")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr2, arr3, s, Array};

    fn iota(shape: &[usize]) -> ArrayD<f64> {
        let n: usize = shape.iter().product();
        Array::from_shape_vec(IxDyn(shape), (0..n).map(|v| v as f64).collect()).unwrap()
    }

    #[test]
    fn im2col_hand_computed() {
        // One 3x3 channel 0..9, kernel 2x2, stride 1, pad 1 on top/left only, pad value -1:
        // output 3x3 positions (floor((3+1-2)/1)+1 = 3).
        let x = iota(&[1, 1, 3, 3]);
        let geom = ConvGeom {
            kernel: [2, 2],
            stride: [1, 1],
            pad: [1, 1, 0, 0],
            dilation: [1, 1],
            pad_value: -1.0,
        };
        let cols = im2col(&x, &geom, &[1, 4, 9]);
        let p = -1.0;
        let expected = arr3(&[[
            // Tap (0,0): top-left of each window.
            [p, p, p, p, 0.0, 1.0, p, 3.0, 4.0],
            // Tap (0,1).
            [p, p, p, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            // Tap (1,0).
            [p, 0.0, 1.0, p, 3.0, 4.0, p, 6.0, 7.0],
            // Tap (1,1).
            [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        ]]);
        assert_eq!(cols, expected.into_dyn());
    }

    #[test]
    fn im2col_stride_dilation_channels() {
        // Two channels of 1x5, kernel 1x2 dilated by 2, stride 2: windows {0,2}, {2,4}.
        let x = iota(&[1, 2, 1, 5]);
        let geom = ConvGeom {
            kernel: [1, 2],
            stride: [1, 2],
            pad: [0; 4],
            dilation: [1, 2],
            pad_value: 0.0,
        };
        let cols = im2col(&x, &geom, &[1, 4, 2]);
        let expected = arr3(&[[[0.0, 2.0], [2.0, 4.0], [5.0, 7.0], [7.0, 9.0]]]);
        assert_eq!(cols, expected.into_dyn());
        // Col2Im counts how often each pixel was read.
        let ones = ArrayD::from_elem(IxDyn(&[1, 4, 2]), 1.0);
        let counts = col2im(&ones, &geom, &[1, 2, 1, 5]);
        let per_channel = [1.0, 0.0, 2.0, 0.0, 1.0];
        let expected: Vec<f64> = per_channel.iter().chain(&per_channel).copied().collect();
        assert_eq!(counts.iter().copied().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn matmul_broadcasts_a_plain_matrix() {
        let a = iota(&[2, 2, 3]);
        let w = arr2(&[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]).into_dyn();
        let out = matmul(&a, &w, &[2, 2, 2]);
        let expected = arr3(&[[[2.0, 3.0], [8.0, 9.0]], [[14.0, 15.0], [20.0, 21.0]]]);
        assert_eq!(out, expected.into_dyn());
        // The same matrix on the left: w^T (2x3) times each [3, k] batch entry.
        let wt = arr2(&[[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]).into_dyn();
        let b = iota(&[2, 3, 1]);
        let out = matmul(&wt, &b, &[2, 2, 1]);
        let expected = arr3(&[[[2.0], [3.0]], [[8.0], [9.0]]]);
        assert_eq!(out, expected.into_dyn());
        // Equal batch dims pair up entry by entry: [0, 1].[0, 1] and [2, 3].[2, 3].
        let out = matmul(&iota(&[2, 1, 2]), &iota(&[2, 2, 1]), &[2, 1, 1]);
        assert_eq!(out.iter().copied().collect::<Vec<_>>(), vec![1.0, 13.0]);
    }

    #[test]
    fn reduce_keeps_axes_and_order() {
        let x = iota(&[2, 3, 2]);
        let sum = reduce(&x, &[0, 2], 0.0, |a, b| a + b);
        assert_eq!(sum.shape(), &[1, 3, 1]);
        // Columns c: elements {2c, 2c+1, 6+2c, 7+2c}.
        assert_eq!(
            sum.iter().copied().collect::<Vec<_>>(),
            vec![14.0, 22.0, 30.0]
        );
        let max = reduce(&x, &[1], f64::NEG_INFINITY, super::max);
        assert_eq!(
            max.iter().copied().collect::<Vec<_>>(),
            vec![4.0, 5.0, 10.0, 11.0]
        );
        let all = reduce(&x, &[], 0.0, |a, b| a + b);
        assert_eq!(all, x);
    }

    #[test]
    fn pad_slice_concat() {
        let x = iota(&[2, 2]);
        let padded = pad(&x, 1, 1, &[2, 4]);
        assert_eq!(
            padded,
            arr2(&[[0.0, 0.0, 1.0, 0.0], [0.0, 2.0, 3.0, 0.0]]).into_dyn()
        );
        assert_eq!(slice(&padded, 1, 1, 3), x);
        let joined = concat(&[&x, &x.slice(s![.., 0..1]).to_owned().into_dyn()], 1);
        assert_eq!(joined, arr2(&[[0.0, 1.0, 0.0], [2.0, 3.0, 2.0]]).into_dyn());
    }
}
