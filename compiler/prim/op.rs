//! The closed set of primitive operations.
//!
//! Every concern of the primitive IR (shape inference, interpretation, differentiation,
//! text form) is one exhaustive `match` over [`Op`]; adding a variant is a compile-error
//! driven checklist. `docs/ir.md` has the table of semantics, shape and gradient rules.

/// Geometry of an [`Op::Im2Col`] / [`Op::Col2Im`] pair on an `[N, C, H, W]` image.
///
/// Output positions along an axis: [`nnc_runtime::window::out_size`] (floor mode). Padding is asymmetric so that ceil-mode pooling (Caffe)
/// lowers exactly by adding the missing rows to `pad` bottom/right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvGeom {
    /// Kernel extent `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Stride `[sh, sw]`, each at least 1.
    pub stride: [usize; 2],
    /// Padding `[top, left, bottom, right]`.
    pub pad: [usize; 4],
    /// Dilation `[dh, dw]`, each at least 1.
    pub dilation: [usize; 2],
    /// Value read at padded positions by `Im2Col` (0 for convolution, -inf for max
    /// pooling). `Col2Im` ignores it: padded positions receive nothing.
    pub pad_value: f64,
}

impl ConvGeom {
    /// A square kernel with the given stride and symmetric padding, no dilation, zero
    /// padding value: the common convolution case.
    pub fn square(kernel: usize, stride: usize, pad: usize) -> ConvGeom {
        ConvGeom {
            kernel: [kernel, kernel],
            stride: [stride, stride],
            pad: [pad; 4],
            dilation: [1, 1],
            pad_value: 0.0,
        }
    }

    /// Output size `[OH, OW]` for an `[H, W]` image, or `None` when the dilated kernel
    /// does not fit into the padded image (or a stride/dilation is zero).
    pub fn output_size(&self, height: usize, width: usize) -> Option<[usize; 2]> {
        let axis = |size: usize, k: usize, s: usize, d: usize, lo: usize, hi: usize| {
            let u = |v: usize| v as u64;
            nnc_runtime::window::out_size(u(size), u(k), u(s), u(lo), u(hi), u(d))
                .and_then(|v| usize::try_from(v).ok())
        };
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.stride;
        let [dh, dw] = self.dilation;
        let [top, left, bottom, right] = self.pad;
        Some([
            axis(height, kh, sh, dh, top, bottom)?,
            axis(width, kw, sw, dw, left, right)?,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_size_floor_mode_and_asymmetric_pad() {
        // 5x5, k3 s2 p0: floor((5-3)/2)+1 = 2.
        assert_eq!(ConvGeom::square(3, 2, 0).output_size(5, 5), Some([2, 2]));
        // Caffe ceil mode for 6 with k3 s2: ceil((6-3)/2)+1 = 3, floor gives 2; one extra
        // bottom/right row recovers it.
        let mut geom = ConvGeom::square(3, 2, 0);
        assert_eq!(geom.output_size(6, 6), Some([2, 2]));
        geom.pad = [0, 0, 1, 1];
        assert_eq!(geom.output_size(6, 6), Some([3, 3]));
        // Dilation 2 makes a 3-kernel span 5.
        geom = ConvGeom::square(3, 1, 0);
        geom.dilation = [2, 2];
        assert_eq!(geom.output_size(5, 4), None);
        assert_eq!(geom.output_size(5, 5), Some([1, 1]));
        assert_eq!(ConvGeom::square(3, 0, 0).output_size(5, 5), None);
    }
}
