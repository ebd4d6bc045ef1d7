//! The output size of a window sliding over one axis (convolutions, pooling, the IR's
//! unfolding): the one formula the checker, the IR and the executor share.

/// `floor((size + pad_lo + pad_hi - dilation * (kernel - 1) - 1) / stride) + 1`, the floor
/// mode of PyTorch and Caffe convolutions (Caffe's ceil-mode pooling adds its extra rows to
/// `pad_hi` first). `None` when the kernel, stride or dilation is zero, when the dilated
/// kernel does not fit the padded input, or when a sum overflows.
pub fn out_size(
    size: u64,
    kernel: u64,
    stride: u64,
    pad_lo: u64,
    pad_hi: u64,
    dilation: u64,
) -> Option<u64> {
    if stride == 0 || dilation == 0 {
        return None;
    }
    let padded = size.checked_add(pad_lo)?.checked_add(pad_hi)?;
    let span = dilation
        .checked_mul(kernel.checked_sub(1)?)?
        .checked_add(1)?;
    (span <= padded).then(|| (padded - span) / stride + 1)
}

#[cfg(test)]
mod tests {
    use super::out_size;

    #[test]
    fn floor_mode_padding_dilation_and_misfits() {
        assert_eq!(out_size(227, 11, 4, 0, 0, 1), Some(55));
        assert_eq!(out_size(8, 3, 1, 1, 1, 2), Some(6));
        assert_eq!(out_size(5, 3, 2, 0, 0, 1), Some(2));
        // Caffe's ceil mode: one extra row at the end gives ceil((6 - 3) / 2) + 1.
        assert_eq!(out_size(6, 3, 2, 0, 1, 1), Some(3));
        assert_eq!(out_size(2, 3, 1, 0, 0, 1), None);
        assert_eq!(out_size(5, 0, 1, 0, 0, 1), None);
        assert_eq!(out_size(5, 3, 0, 0, 0, 1), None);
        assert_eq!(out_size(5, 3, 1, 0, 0, 0), None);
        assert_eq!(out_size(u64::MAX, 1, 1, 1, 0, 1), None);
    }
}
