//! Shape arithmetic with overflow checks: window output sizes, broadcasting, products.

use super::Shape;

/// Product of dimensions, `None` on overflow.
pub fn numel(shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
}

/// Output size of a window sliding over `size` (floor mode): the formula the IR and the
/// executor use too.
pub use nnc_runtime::window::out_size as window_out;

/// Caffe's pooling output: ceil((size + 2p - k) / s) + 1, minus one if the last window
/// would start in the padding or past the image. Returns the size and the extra padding
/// at the end needed to compute it with a floor-mode window.
///
/// Caffe applies the "minus one" only when `p > 0`, so with `p = 0` and a stride larger
/// than the kernel its last window can lie entirely past the image (a max of nothing, an
/// average over no taps). Like PyTorch's `ceil_mode`, nnc drops that window too; for
/// every other geometry this is exactly Caffe's size.
pub fn ceil_pool_out(size: u64, kernel: u64, stride: u64, pad: u64) -> Option<(u64, u64)> {
    let padded = size.checked_add(2 * pad)?;
    if kernel > padded {
        return None;
    }
    let mut out = (padded - kernel).div_ceil(stride) + 1;
    if (out - 1) * stride >= size + pad {
        out -= 1;
    }
    let needed = (out - 1) * stride + kernel;
    Some((out, needed.saturating_sub(padded)))
}

/// NumPy broadcasting of two shapes (aligned at the last axis).
pub fn broadcast(a: &Shape, b: &Shape) -> Option<Shape> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i < rank - a.len() {
            1
        } else {
            a[i - (rank - a.len())]
        };
        let db = if i < rank - b.len() {
            1
        } else {
            b[i - (rank - b.len())]
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// `[3, 32, 32]`
pub fn show(shape: &[u64]) -> String {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    format!("[{}]", dims.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caffe_ceil_matches_known_nets() {
        // AlexNet: 55 -> 27 with k3 s2 (ceil), GoogLeNet: 112 -> 56 with k3 s2.
        assert_eq!(ceil_pool_out(55, 3, 2, 0).map(|r| r.0), Some(27));
        assert_eq!(ceil_pool_out(112, 3, 2, 0), Some((56, 1)));
        assert_eq!(ceil_pool_out(14, 3, 2, 0).map(|r| r.0), Some(7));
        // The padding rule: the last window may not start in the padding.
        assert_eq!(ceil_pool_out(5, 2, 2, 1).map(|r| r.0), Some(3));
        // A window entirely past the image (stride > kernel, no padding) is dropped.
        assert_eq!(ceil_pool_out(2, 1, 2, 0), Some((1, 0)));
        assert_eq!(ceil_pool_out(7, 2, 3, 0), Some((3, 1)));
    }

    #[test]
    fn broadcasting_and_products() {
        assert_eq!(
            broadcast(&vec![16, 1, 1], &vec![16, 8, 8]),
            Some(vec![16, 8, 8])
        );
        assert_eq!(broadcast(&vec![8], &vec![4, 8]), Some(vec![4, 8]));
        assert_eq!(broadcast(&vec![3], &vec![4]), None);
        assert_eq!(numel(&[u64::MAX, 2]), None);
    }
}
