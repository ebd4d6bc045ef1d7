//! Convolution unfolding for the executor, with the IR's semantics (docs/ir.md):
//! `Im2Col` writes row `(c·kh + i)·kw + j`, column `y·OW + x` of each image's patch
//! matrix; positions in the padding take `pad_value`. `Col2Im` is its adjoint.

use super::Window;

/// For each (channel, kernel row, kernel column, output row): the source row in the image
/// (or `None` in the padding), then the columns; written as plain loops rustc vectorizes.
pub(super) unsafe fn im2col(src: *const f32, dst: *mut f32, w: &Window) {
    let [n_batch, n_chan, height, width] = w.image;
    let [kh, kw] = w.kernel;
    let [oh, ow] = w.output();
    let positions = oh * ow;
    let image_len = n_chan * height * width;
    let cols_len = n_chan * kh * kw * positions;
    for n in 0..n_batch {
        let image = std::slice::from_raw_parts(src.add(n * image_len), image_len);
        let cols = std::slice::from_raw_parts_mut(dst.add(n * cols_len), cols_len);
        for c in 0..n_chan {
            for i in 0..kh {
                for j in 0..kw {
                    let row = ((c * kh + i) * kw + j) * positions;
                    for y in 0..oh {
                        let out = &mut cols[row + y * ow..row + (y + 1) * ow];
                        let h = (y * w.stride[0] + i * w.dilation[0])
                            .checked_sub(w.pad[0])
                            .filter(|&h| h < height);
                        let Some(h) = h else {
                            out.fill(w.pad_value);
                            continue;
                        };
                        let line = &image[(c * height + h) * width..(c * height + h + 1) * width];
                        for (x, o) in out.iter_mut().enumerate() {
                            let col = (x * w.stride[1] + j * w.dilation[1])
                                .checked_sub(w.pad[1])
                                .filter(|&c| c < width);
                            *o = match col {
                                Some(col) => line[col],
                                None => w.pad_value,
                            };
                        }
                    }
                }
            }
        }
    }
}

pub(super) unsafe fn col2im(src: *const f32, dst: *mut f32, w: &Window) {
    let [n_batch, n_chan, height, width] = w.image;
    let [kh, kw] = w.kernel;
    let [oh, ow] = w.output();
    let positions = oh * ow;
    let image_len = n_chan * height * width;
    let cols_len = n_chan * kh * kw * positions;
    std::slice::from_raw_parts_mut(dst, n_batch * image_len).fill(0.0);
    for n in 0..n_batch {
        let image = std::slice::from_raw_parts_mut(dst.add(n * image_len), image_len);
        let cols = std::slice::from_raw_parts(src.add(n * cols_len), cols_len);
        for c in 0..n_chan {
            for i in 0..kh {
                for j in 0..kw {
                    let row = ((c * kh + i) * kw + j) * positions;
                    for y in 0..oh {
                        let Some(h) = (y * w.stride[0] + i * w.dilation[0])
                            .checked_sub(w.pad[0])
                            .filter(|&h| h < height)
                        else {
                            continue;
                        };
                        let line =
                            &mut image[(c * height + h) * width..(c * height + h + 1) * width];
                        for x in 0..ow {
                            if let Some(col) = (x * w.stride[1] + j * w.dilation[1])
                                .checked_sub(w.pad[1])
                                .filter(|&c| c < width)
                            {
                                line[col] += cols[row + y * ow + x];
                            }
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
            im2col(x.as_ptr(), cols.as_mut_ptr(), &w);
            col2im(y.as_ptr(), img.as_mut_ptr(), &w);
        }
        let lhs: f64 = cols.iter().zip(&y).map(|(a, b)| (*a * *b) as f64).sum();
        let rhs: f64 = x.iter().zip(&img).map(|(a, b)| (*a * *b) as f64).sum();
        assert!((lhs - rhs).abs() < 1e-6, "{lhs} vs {rhs}");
    }
}
