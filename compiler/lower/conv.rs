//! Convolutions (plain, grouped, PixelCNN-masked, binary) and pooling, as Im2Col + MatMul.

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
    let channels = cx.shape(x)[1];
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
    let geom = geom(window, 0.0);
    let (cg, fg) = (channels / groups, filters / groups);
    let patch = cg * kernel[0] * kernel[1];
    let mut parts = Vec::with_capacity(groups);
    for gi in 0..groups {
        let xg = if groups == 1 {
            x
        } else {
            cx.g.slice(x, 1, gi * cg, (gi + 1) * cg)
        };
        let cols = cx.g.im2col(xg, geom);
        let wg = if groups == 1 {
            weight
        } else {
            cx.g.slice(weight, 0, gi * fg, (gi + 1) * fg)
        };
        let wg = cx.g.reshape(wg, &[fg, patch]);
        parts.push(cx.g.matmul(wg, cols));
    }
    let y = if groups == 1 {
        parts[0]
    } else {
        cx.g.concat(&parts, 1)
    };
    let y = cx.g.reshape(y, &[n, filters, oh, ow]);
    if w.bias {
        let bias = cx.param("bias", w.bias_init.clone());
        channel_affine(cx.g, y, None, Some(bias))
    } else {
        y
    }
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
