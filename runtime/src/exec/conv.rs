//! Convolution unfolding for the executor, with the IR's semantics (docs/ir.md):
//! `Im2Col` writes row `(c·kh + i)·kw + j`, column `y·OW + x` of each image's patch
//! matrix; positions in the padding take `pad_value`. `Col2Im` is its adjoint.
//!
//! Both work one image at a time (`images`), so the executor can give each thread its own
//! images. For each (channel, kernel row, kernel column, output row) the columns whose
//! source lies inside the image form one range, computed up front: the inner loop is a
//! plain copy (stride 1) or a strided gather, with no bounds test per element.

use super::Window;
use std::ops::Range;

/// The output columns `x` whose source column `x·stride + offset - pad` lies in
/// `[0, width)`, for kernel column offset `offset` (= j·dilation).
fn inside(ow: usize, width: usize, stride: usize, offset: usize, pad: usize) -> Range<usize> {
    let lo = if offset >= pad {
        0
    } else {
        (pad - offset).div_ceil(stride)
    };
    let hi = (width + pad).saturating_sub(offset).div_ceil(stride);
    lo.min(ow)..hi.min(ow).max(lo.min(ow))
}

/// # Safety
/// `src` holds `image` elements for every image of `w`, `dst` the patch matrices.
pub(super) unsafe fn im2col(src: *const f32, dst: *mut f32, w: &Window, images: Range<usize>) {
    let [_, n_chan, height, width] = w.image;
    let [kh, kw] = w.kernel;
    let [oh, ow] = w.output();
    let image_len = n_chan * height * width;
    let cols_len = n_chan * kh * kw * oh * ow;
    for n in images {
        let image = std::slice::from_raw_parts(src.add(n * image_len), image_len);
        let cols = std::slice::from_raw_parts_mut(dst.add(n * cols_len), cols_len);
        unfold(image, w, 0..oh, cols);
    }
}

/// The patch matrix of one image restricted to output rows `rows`: `cols` is
/// `[C·kh·kw, rows.len()·OW]`, row-major (the columns of those output rows, in order).
pub(super) fn unfold(image: &[f32], w: &Window, rows: Range<usize>, cols: &mut [f32]) {
    let [_, n_chan, height, width] = w.image;
    let [kh, kw] = w.kernel;
    let [_, ow] = w.output();
    let (sy, sx) = (w.stride[0], w.stride[1]);
    let len = rows.len() * ow;
    for c in 0..n_chan {
        for i in 0..kh {
            for j in 0..kw {
                let row = ((c * kh + i) * kw + j) * len;
                let offset = j * w.dilation[1];
                let xs = inside(ow, width, sx, offset, w.pad[1]);
                for (r, y) in rows.clone().enumerate() {
                    let out = &mut cols[row + r * ow..row + (r + 1) * ow];
                    let h = (y * sy + i * w.dilation[0])
                        .checked_sub(w.pad[0])
                        .filter(|&h| h < height);
                    let Some(h) = h else {
                        out.fill(w.pad_value);
                        continue;
                    };
                    let line = &image[(c * height + h) * width..(c * height + h + 1) * width];
                    out[..xs.start].fill(w.pad_value);
                    out[xs.end..].fill(w.pad_value);
                    if xs.is_empty() {
                        continue;
                    }
                    // First source column: x·sx + offset - pad >= 0 for x in `xs`.
                    let first = xs.start * sx + offset - w.pad[1];
                    let dst = &mut out[xs.clone()];
                    if sx == 1 {
                        dst.copy_from_slice(&line[first..first + dst.len()]);
                    } else {
                        for (k, o) in dst.iter_mut().enumerate() {
                            *o = line[first + k * sx];
                        }
                    }
                }
            }
        }
    }
}

/// [`im2col`] into the transposed layout: each image's patch matrix stored as
/// `[OH·OW, C·kh·kw]`, one position's patch contiguous, which is how a binary product packs
/// its vectors fastest (`Ternary::pack` reads them with stride 1).
///
/// # Safety
/// As [`im2col`].
pub(super) unsafe fn im2col_positions(
    src: *const f32,
    dst: *mut f32,
    w: &Window,
    images: Range<usize>,
) {
    let [_, n_chan, height, width] = w.image;
    let [kh, kw] = w.kernel;
    let [oh, ow] = w.output();
    let patch = n_chan * kh * kw;
    let image_len = n_chan * height * width;
    let cols_len = patch * oh * ow;
    for n in images {
        let image = std::slice::from_raw_parts(src.add(n * image_len), image_len);
        let cols = std::slice::from_raw_parts_mut(dst.add(n * cols_len), cols_len);
        for (position, out) in cols.chunks_exact_mut(patch).enumerate() {
            let (y, x) = (position / ow, position % ow);
            let y0 = (y * w.stride[0]) as isize - w.pad[0] as isize;
            let x0 = (x * w.stride[1]) as isize - w.pad[1] as isize;
            let (dy, dx) = (w.dilation[0] as isize, w.dilation[1] as isize);
            let inside = y0 >= 0
                && x0 >= 0
                && y0 + dy * (kh as isize - 1) < height as isize
                && x0 + dx * (kw as isize - 1) < width as isize;
            for (ci, row) in out.chunks_exact_mut(kw).enumerate() {
                let (c, i) = (ci / kh, ci % kh);
                let h = y0 + i as isize * dy;
                if inside {
                    // The whole window is in the image: a plain (strided) copy.
                    let line = &image[(c * height + h as usize) * width..];
                    for (j, o) in row.iter_mut().enumerate() {
                        *o = line[(x0 + j as isize * dx) as usize];
                    }
                    continue;
                }
                for (j, o) in row.iter_mut().enumerate() {
                    let col = x0 + j as isize * dx;
                    *o = if h >= 0 && (h as usize) < height && col >= 0 && (col as usize) < width {
                        image[(c * height + h as usize) * width + col as usize]
                    } else {
                        w.pad_value
                    };
                }
            }
        }
    }
}

/// # Safety
/// As [`im2col`], with `src` the patch matrices and `dst` the images (overwritten).
pub(super) unsafe fn col2im(src: *const f32, dst: *mut f32, w: &Window, images: Range<usize>) {
    let [_, n_chan, height, width] = w.image;
    let [kh, kw] = w.kernel;
    let [oh, ow] = w.output();
    let image_len = n_chan * height * width;
    let cols_len = n_chan * kh * kw * oh * ow;
    for n in images {
        let image = std::slice::from_raw_parts_mut(dst.add(n * image_len), image_len);
        image.fill(0.0);
        let cols = std::slice::from_raw_parts(src.add(n * cols_len), cols_len);
        fold(cols, w, 0..oh, image);
    }
}

/// The adjoint of [`unfold`]: adds the columns of output rows `rows` (`cols` laid out as
/// there) into one image.
pub(super) fn fold(cols: &[f32], w: &Window, rows: Range<usize>, image: &mut [f32]) {
    let [_, n_chan, height, width] = w.image;
    let [kh, kw] = w.kernel;
    let [_, ow] = w.output();
    let (sy, sx) = (w.stride[0], w.stride[1]);
    let len = rows.len() * ow;
    for c in 0..n_chan {
        for i in 0..kh {
            for j in 0..kw {
                let row = ((c * kh + i) * kw + j) * len;
                let offset = j * w.dilation[1];
                let xs = inside(ow, width, sx, offset, w.pad[1]);
                if xs.is_empty() {
                    continue;
                }
                let first = xs.start * sx + offset - w.pad[1];
                for (r, y) in rows.clone().enumerate() {
                    let Some(h) = (y * sy + i * w.dilation[0])
                        .checked_sub(w.pad[0])
                        .filter(|&h| h < height)
                    else {
                        continue;
                    };
                    let line = &mut image[(c * height + h) * width..(c * height + h + 1) * width];
                    let from = &cols[row + r * ow + xs.start..row + r * ow + xs.end];
                    if sx == 1 {
                        for (l, v) in line[first..first + from.len()].iter_mut().zip(from) {
                            *l += v;
                        }
                    } else {
                        for (k, v) in from.iter().enumerate() {
                            line[first + k * sx] += v;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        let w = Window {
            image: [2, 3, 5, 4],
            kernel: [3, 2],
            stride: [2, 1],
            pad: [1, 0, 1, 1],
            dilation: [1, 2],
            pad_value: 0.0,
        };
        let [oh, ow] = w.output();
        let image_len = 2 * 3 * 5 * 4;
        let cols_len = 2 * 3 * 3 * 2 * oh * ow;
        let x: Vec<f32> = (0..image_len)
            .map(|i| ((i * 37 % 11) as f32) - 5.0)
            .collect();
        let y: Vec<f32> = (0..cols_len).map(|i| ((i * 13 % 7) as f32) - 3.0).collect();
        let mut cols = vec![0.0f32; cols_len];
        let mut img = vec![0.0f32; image_len];
        unsafe {
            im2col(x.as_ptr(), cols.as_mut_ptr(), &w, 0..2);
            col2im(y.as_ptr(), img.as_mut_ptr(), &w, 0..2);
        }
        let lhs: f64 = cols.iter().zip(&y).map(|(a, b)| (*a * *b) as f64).sum();
        let rhs: f64 = x.iter().zip(&img).map(|(a, b)| (*a * *b) as f64).sum();
        assert!((lhs - rhs).abs() < 1e-6, "{lhs} vs {rhs}");
    }

    /// The definition, element by element.
    fn naive_im2col(x: &[f32], w: &Window) -> Vec<f32> {
        let [nb, nc, height, width] = w.image;
        let [kh, kw] = w.kernel;
        let [oh, ow] = w.output();
        let mut out = Vec::new();
        for n in 0..nb {
            for c in 0..nc {
                for i in 0..kh {
                    for j in 0..kw {
                        for y in 0..oh {
                            for xo in 0..ow {
                                let h = (y * w.stride[0] + i * w.dilation[0]) as isize
                                    - w.pad[0] as isize;
                                let v = (xo * w.stride[1] + j * w.dilation[1]) as isize
                                    - w.pad[1] as isize;
                                let ok = (0..height as isize).contains(&h)
                                    && (0..width as isize).contains(&v);
                                out.push(if ok {
                                    x[((n * nc + c) * height + h as usize) * width + v as usize]
                                } else {
                                    w.pad_value
                                });
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Unfolding (and folding) in blocks of output rows gives the whole image's columns.
    #[test]
    fn row_blocks_make_up_the_whole_patch_matrix() {
        let w = Window {
            image: [1, 2, 7, 6],
            kernel: [3, 2],
            stride: [2, 1],
            pad: [2, 1, 1, 0],
            dilation: [1, 2],
            pad_value: 0.5,
        };
        let [oh, ow] = w.output();
        let patch = 2 * 3 * 2;
        let x: Vec<f32> = (0..2 * 7 * 6).map(|i| i as f32).collect();
        let mut whole = vec![0.0f32; patch * oh * ow];
        unfold(&x, &w, 0..oh, &mut whole);
        let mut folded_whole = vec![0.0f32; x.len()];
        fold(&whole, &w, 0..oh, &mut folded_whole);
        let mut folded = vec![0.0f32; x.len()];
        for rows in [0..1, 1..3, 3..oh] {
            let len = rows.len() * ow;
            let mut block = vec![f32::NAN; patch * len];
            unfold(&x, &w, rows.clone(), &mut block);
            for r in 0..patch {
                assert_eq!(
                    block[r * len..(r + 1) * len],
                    whole[r * oh * ow + rows.start * ow..r * oh * ow + rows.end * ow]
                );
            }
            fold(&block, &w, rows, &mut folded);
        }
        assert_eq!(folded, folded_whole);
    }

    #[test]
    fn im2col_matches_the_definition_for_strides_pads_and_dilations() {
        for (stride, pad, dilation, kernel) in [
            ([1, 1], [0, 0, 0, 0], [1, 1], [3, 3]),
            ([1, 1], [2, 2, 2, 2], [1, 1], [5, 5]),
            ([2, 3], [1, 2, 0, 1], [1, 1], [3, 2]),
            ([1, 2], [3, 0, 3, 4], [2, 3], [2, 3]),
            ([3, 3], [0, 5, 1, 5], [1, 1], [1, 1]),
        ] {
            let w = Window {
                image: [2, 2, 6, 7],
                kernel,
                stride,
                pad,
                dilation,
                pad_value: -7.0,
            };
            let x: Vec<f32> = (0..2 * 2 * 6 * 7).map(|i| i as f32).collect();
            let want = naive_im2col(&x, &w);
            let mut got = vec![f32::NAN; want.len()];
            unsafe { im2col(x.as_ptr(), got.as_mut_ptr(), &w, 0..2) };
            assert_eq!(got, want, "{w:?}");
            // The positions-major layout is each image's patch matrix transposed.
            let [oh, ow] = w.output();
            let (patch, positions) = (2 * kernel[0] * kernel[1], oh * ow);
            let mut t = vec![f32::NAN; want.len()];
            unsafe { im2col_positions(x.as_ptr(), t.as_mut_ptr(), &w, 0..2) };
            for n in 0..2 {
                for r in 0..patch {
                    for p in 0..positions {
                        let base = n * patch * positions;
                        assert_eq!(t[base + p * patch + r], want[base + r * positions + p]);
                    }
                }
            }
        }
    }
}
