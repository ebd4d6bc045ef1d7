//! Convolutions (plain, grouped, PixelCNN-masked, binary, 1-D), transposed convolutions
//! (MatMul + Col2Im) and pooling, as Im2Col + MatMul.

use super::binary::{binary_activation_ste, xnor_weight_ste};
use super::dense::weight_init;
use super::norm::channel_affine;
use super::Cx;
use crate::hir::{ConvKind, Mask, PoolKind, Weights, Window};
use crate::prim::{ConvGeom, Graph, NodeId};

fn geom(w: &Window, pad_value: f64) -> ConvGeom {
    let u = |a: [u64; 2]| [a[0] as usize, a[1] as usize];
    ConvGeom {
        kernel: u(w.kernel),
        stride: u(w.stride),
        pad: w.pad.map(|p| p as usize),
        dilation: u(w.dilation),
        pad_value,
    }
}

/// The PixelCNN mask of a `kh x kw` kernel: taps above the centre row, and left of the
/// centre in its row, are 1; type B also keeps the centre (van den Oord et al. 2016).
fn mask(g: &mut Graph, kernel: [usize; 2], mask: Mask) -> NodeId {
    let [kh, kw] = kernel;
    let (ch, cw) = (kh / 2, kw / 2);
    let mut rows = Vec::new();
    if ch > 0 {
        rows.push(g.constant(1.0, &[ch, kw]));
    }
    let ones = match mask {
        Mask::A => cw,
        Mask::B => cw + 1,
    };
    rows.push(if ones == 0 {
        g.constant(0.0, &[1, kw])
    } else {
        let lead = g.constant(1.0, &[1, ones]);
        g.pad(lead, 1, 0, kw - ones)
    });
    if kh - ch - 1 > 0 {
        rows.push(g.constant(0.0, &[kh - ch - 1, kw]));
    }
    if rows.len() == 1 {
        rows[0]
    } else {
        g.concat(&rows, 0)
    }
}

pub(super) fn lower_conv(
    cx: &mut Cx,
    x: NodeId,
    window: &Window,
    groups: usize,
    kind: ConvKind,
    w: &Weights,
) -> NodeId {
    let out = cx.out_shape();
    let [n, filters, oh, ow] = out[..] else {
        unreachable!("conv output is 4-D")
    };
    let init = weight_init(cx, w);
    let weight = cx.param("weight", init);
    let wshape = cx.shape(weight);
    let kernel = [wshape[2], wshape[3]];
    let weight = match kind {
        ConvKind::Plain => weight,
        ConvKind::Masked(m) => {
            let m = mask(cx.g, kernel, m);
            let m = cx.g.reshape(m, &[1, 1, kernel[0], kernel[1]]);
            let m = cx.g.broadcast(m, &wshape);
            cx.g.mul(weight, m)
        }
        ConvKind::Binary { .. } => xnor_weight_ste(cx.g, weight),
    };
    let x = match kind {
        ConvKind::Binary {
            binary_inputs: true,
        } => binary_activation_ste(cx.g, x),
        _ => x,
    };
    let y = conv2d(cx.g, x, weight, geom(window, 0.0), groups);
    debug_assert_eq!(cx.g.shape(y), &[n, filters, oh, ow]);
    with_bias(cx, y, w)
}

fn with_bias(cx: &mut Cx, y: NodeId, w: &Weights) -> NodeId {
    if w.bias {
        let bias = cx.param("bias", w.bias_init.clone());
        channel_affine(cx.g, y, None, Some(bias))
    } else {
        y
    }
}

/// Cross-correlation of `x` [N, C, H, W] with `weight` [F, C / groups, kh, kw]: `[N, F,
/// OH, OW]`, as Im2Col + MatMul per group.
#[allow(
    clippy::expect_used,
    reason = "the checker (hir/layers/window.rs) rejected kernels that do not fit"
)]
pub fn conv2d(g: &mut Graph, x: NodeId, weight: NodeId, geom: ConvGeom, groups: usize) -> NodeId {
    let [n, channels, h, w] = g.shape(x)[..] else {
        unreachable!("conv input is 4-D")
    };
    let wshape = g.shape(weight).to_vec();
    let (filters, kernel) = (wshape[0], [wshape[2], wshape[3]]);
    let [oh, ow] = geom.output_size(h, w).expect("the kernel fits");
    let (cg, fg) = (channels / groups, filters / groups);
    let patch = cg * kernel[0] * kernel[1];
    let mut parts = Vec::with_capacity(groups);
    for gi in 0..groups {
        let xg = if groups == 1 {
            x
        } else {
            g.slice(x, 1, gi * cg, (gi + 1) * cg)
        };
        let cols = g.im2col(xg, geom);
        let wg = if groups == 1 {
            weight
        } else {
            g.slice(weight, 0, gi * fg, (gi + 1) * fg)
        };
        let wg = g.reshape(wg, &[fg, patch]);
        parts.push(g.matmul(wg, cols));
    }
    let y = if groups == 1 {
        parts[0]
    } else {
        g.concat(&parts, 1)
    };
    g.reshape(y, &[n, filters, oh, ow])
}

/// `conv1d` on `[N, C, L]`: the 2-D convolution of the `[N, C, 1, L]` image with the
/// `[F, C / groups, 1, k]` kernel (one row of taps over one row, so exactly the 1-D sum).
pub(super) fn lower_conv1d(
    cx: &mut Cx,
    x: NodeId,
    window: &Window,
    groups: usize,
    w: &Weights,
) -> NodeId {
    let [n, c, l] = cx.shape(x)[..] else {
        unreachable!("conv1d input is 3-D")
    };
    let init = weight_init(cx, w);
    let weight = cx.param("weight", init);
    let [f, cg, k] = cx.shape(weight)[..] else {
        unreachable!("conv1d weight is 3-D")
    };
    let image = cx.g.reshape(x, &[n, c, 1, l]);
    let kernel = cx.g.reshape(weight, &[f, cg, 1, k]);
    let y = conv2d(cx.g, image, kernel, geom(window, 0.0), groups);
    let out = cx.out_shape();
    let y = cx.g.reshape(y, &out);
    with_bias(cx, y, w)
}

/// `conv_transpose`: the adjoint of the convolution `window` from `[N, F, H', W']` to
/// `[N, C, H, W]` whose weight is `[C, F, kh, kw]`, applied to `x`: the columns W^T x
/// scatter-added by Col2Im (PyTorch's ConvTranspose2d, same weight layout).
pub(super) fn lower_conv_transpose(cx: &mut Cx, x: NodeId, window: &Window, w: &Weights) -> NodeId {
    let init = weight_init(cx, w);
    let weight = cx.param("weight", init);
    let out = cx.out_shape();
    let y = conv_transpose(cx.g, x, weight, geom(window, 0.0), &out);
    with_bias(cx, y, w)
}

/// `x` [N, C, H, W] through the adjoint of the convolution `geom` with weight [C, F, kh,
/// kw], into `out` = [N, F, H', W'].
pub fn conv_transpose(
    g: &mut Graph,
    x: NodeId,
    weight: NodeId,
    geom: ConvGeom,
    out: &[usize],
) -> NodeId {
    let [n, c, h, w] = g.shape(x)[..] else {
        unreachable!("conv_transpose input is 4-D")
    };
    let [_, f, kh, kw] = g.shape(weight)[..] else {
        unreachable!("conv_transpose weight is 4-D")
    };
    let matrix = g.reshape(weight, &[c, f * kh * kw]);
    let matrix_t = g.transpose(matrix, 0, 1);
    let rows = g.reshape(x, &[n, c, h * w]);
    let cols = g.matmul(matrix_t, rows);
    g.col2im(cols, geom, out)
}

/// Max pooling pads with -inf (padding never wins). Average pooling pads with zeros and
/// divides by the window clipped to the padded image, as Caffe (and PyTorch's
/// `count_include_pad`) do: padding counts, but the extra rows and columns that ceil
/// rounding hangs past the padding do not.
pub(super) fn lower_pool(
    cx: &mut Cx,
    x: NodeId,
    kind: PoolKind,
    window: &Window,
    ceil: bool,
) -> NodeId {
    let out = cx.out_shape();
    let [n, c, oh, ow] = out[..] else {
        unreachable!("pool output is 4-D")
    };
    let window_size = (window.kernel[0] * window.kernel[1]) as usize;
    let pad_value = match kind {
        PoolKind::Max => f64::NEG_INFINITY,
        PoolKind::Avg => 0.0,
    };
    let cols = cx.g.im2col(x, geom(window, pad_value));
    let cols = cx.g.reshape(cols, &[n, c, window_size, oh * ow]);
    let y = match kind {
        PoolKind::Max => cx.g.max_reduce(cols, &[2]),
        PoolKind::Avg => {
            let total = cx.g.sum(cols, &[2]);
            match ceil_counts(cx, x, window, ceil) {
                Some(counts) => {
                    let counts = cx.g.reshape(counts, &[1, 1, 1, oh * ow]);
                    let counts = cx.g.broadcast(counts, &[n, c, 1, oh * ow]);
                    cx.g.div(total, counts)
                }
                None => cx.g.scale(total, 1.0 / window_size as f64),
            }
        }
    };
    cx.g.reshape(y, &[n, c, oh, ow])
}

/// In ceil mode, the number of taps of each window inside the padded image, `[1, 1, OH *
/// OW]`, or `None` when every window lies inside it (then each counts the full kernel).
/// Ceil mode has symmetric padding, so the real bottom/right padding is `pad[0]`/`pad[1]`
/// and the rest of `pad[2]`/`pad[3]` is the extra that ceil rounding added. The counts
/// are the window sums of a ones image of the padded size, with the extra read as 0.
fn ceil_counts(cx: &mut Cx, x: NodeId, window: &Window, ceil: bool) -> Option<NodeId> {
    let [top, left, bottom, right] = window.pad.map(|p| p as usize);
    let (extra_h, extra_w) = (bottom - top.min(bottom), right - left.min(right));
    if !ceil || (extra_h == 0 && extra_w == 0) {
        return None;
    }
    let shape = cx.shape(x);
    let padded = [1, 1, shape[2] + 2 * top, shape[3] + 2 * left];
    let ones = cx.g.constant(1.0, &padded);
    let inside = ConvGeom {
        pad: [0, 0, extra_h, extra_w],
        ..geom(window, 0.0)
    };
    let cols = cx.g.im2col(ones, inside);
    Some(cx.g.sum(cols, &[1]))
}
