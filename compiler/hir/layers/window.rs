//! Layers that slide a window: convolutions (plain, masked, binary) and pooling.

use super::{Built, In, LayerCx};
use crate::diagnostics::{codes, Diagnostic};
use crate::hir::args::Bound;
use crate::hir::shapes::{ceil_pool_out, show, window_out};
use crate::hir::{ConvKind, LayerOp, PoolKind, Window};

impl LayerCx<'_> {
    pub(super) fn conv(&mut self, b: &Bound, x: &In, kind: ConvKind) -> Built {
        let [c, h, w] = x.shape[..] else {
            return self.rank(
                x,
                "[channels, height, width]",
                "Give the data a spatial shape (`shape: [1, 8, 8]` in the data block) or `reshape` first.",
            );
        };
        let filters = b.u64("filters");
        let window = Window {
            kernel: b.size2("kernel"),
            stride: b.size2("stride"),
            pad: b.pad4("pad"),
            dilation: b.size2("dilation"),
        };
        // A masked convolution has no `groups` option.
        let groups = match kind {
            ConvKind::Masked(_) => 1,
            ConvKind::Plain | ConvKind::Binary { .. } => b.u64("groups"),
        };
        if !self.groups_divide(b, x, c, filters, groups) {
            return None;
        }
        let layer = self.layer;
        if let ConvKind::Masked(_) = kind {
            let [kh, kw] = window.kernel;
            if kh % 2 == 0 || kw % 2 == 0 {
                self.err(
                    codes::ARG_RANGE,
                    format!("`{layer}`: a masked convolution needs an odd kernel, found {kh}x{kw}"),
                    b.span("kernel"),
                    "even kernel".into(),
                    "PixelCNN masks are defined around a centre tap; use 3, 5 or 7.",
                );
                return None;
            }
        }
        let (oh, ow) = self.window_fits(&window, h, w, b, x)?;
        let fan_in = (c / groups).checked_mul(window.kernel[0] * window.kernel[1]);
        let fan_in = fan_in.or_else(|| self.overflow("weight"))?;
        if filters.checked_mul(fan_in).is_none() {
            return self.overflow("weight");
        }
        let weights = self.weights(b, fan_in)?;
        Some((
            LayerOp::Conv {
                filters,
                window,
                groups,
                kind,
                weights,
            },
            vec![filters, oh, ow],
        ))
    }

    /// `[C, L] -> [filters, L']`, as a 2-D convolution of unit height (exact: one row of
    /// taps over one row of input).
    pub(super) fn conv1d(&mut self, b: &Bound, x: &In) -> Built {
        let [c, l] = x.shape[..] else {
            return self.rank(
                x,
                "[channels, length]",
                "Give the data a sequence shape (`shape: [1, 64]` in the data block) or `reshape` first.",
            );
        };
        let filters = b.u64("filters");
        let pad = b.u64("pad");
        let window = Window {
            kernel: [1, b.u64("kernel")],
            stride: [1, b.u64("stride")],
            pad: [0, pad, 0, pad],
            dilation: [1, b.u64("dilation")],
        };
        let groups = b.u64("groups");
        if !self.groups_divide(b, x, c, filters, groups) {
            return None;
        }
        let (_, ol) = self.window_fits(&window, 1, l, b, x)?;
        let fan_in = (c / groups).checked_mul(window.kernel[1]);
        let fan_in = fan_in.or_else(|| self.overflow("weight"))?;
        if filters.checked_mul(fan_in).is_none() {
            return self.overflow("weight");
        }
        let weights = self.weights(b, fan_in)?;
        Some((
            LayerOp::Conv1d {
                filters,
                window,
                groups,
                weights,
            },
            vec![filters, ol],
        ))
    }

    /// `[C, H, W] -> [filters, H', W']` with PyTorch's rule H' = (H - 1)·stride - 2·pad +
    /// kernel + output_pad. `window` is the geometry of the convolution it is the adjoint
    /// of, which maps [H', W'] back to [H, W] (output_pad < stride makes that exact).
    pub(super) fn conv_transpose(&mut self, b: &Bound, x: &In) -> Built {
        let [c, h, w] = x.shape[..] else {
            return self.rank(
                x,
                "[channels, height, width]",
                "Give the data a spatial shape (`shape: [1, 8, 8]` in the data block) or `reshape` first.",
            );
        };
        let filters = b.u64("filters");
        let (kernel, stride) = (b.size2("kernel"), b.size2("stride"));
        let (pad, output_pad) = (b.size2("pad"), b.size2("output_pad"));
        let layer = self.layer;
        if output_pad[0] >= stride[0] || output_pad[1] >= stride[1] {
            self.err(
                codes::ARG_RANGE,
                format!("`{layer}`: `output_pad` must be smaller than the stride"),
                b.span("output_pad"),
                format!("stride {}x{}", stride[0], stride[1]),
                "output_pad picks one of the `stride` output sizes that map to the same input size; use 0 .. stride - 1.",
            );
            return None;
        }
        let axis = |n: u64, i: usize| {
            (n - 1)
                .checked_mul(stride[i])?
                .checked_add(kernel[i] + output_pad[i])?
                .checked_sub(2 * pad[i])
                .filter(|&o| o > 0)
        };
        let (Some(oh), Some(ow)) = (axis(h, 0), axis(w, 1)) else {
            self.err(
                codes::SHAPE_KERNEL,
                format!("`{layer}`: the padding removes the whole {h}x{w} input's output"),
                b.span("pad"),
                format!("pad {}x{}", pad[0], pad[1]),
                "Use less padding: the output is (input - 1)·stride - 2·pad + kernel + output_pad.",
            );
            return None;
        };
        let window = Window {
            kernel,
            stride,
            pad: [pad[0], pad[1], pad[0], pad[1]],
            dilation: [1, 1],
        };
        let fan_in = c.checked_mul(kernel[0] * kernel[1]);
        let fan_in = fan_in.or_else(|| self.overflow("weight"))?;
        if filters.checked_mul(fan_in).is_none() || oh.checked_mul(ow).is_none() {
            return self.overflow("weight");
        }
        // PyTorch's fan-in of a transposed weight [in, out, kh, kw] is out·kh·kw.
        let weights = self.weights(b, filters * kernel[0] * kernel[1])?;
        Some((
            LayerOp::ConvTranspose {
                filters,
                window,
                output_pad,
                weights,
            },
            vec![filters, oh, ow],
        ))
    }

    /// Whether `groups` divides both the channels and the filters (else a diagnostic).
    fn groups_divide(&mut self, b: &Bound, x: &In, c: u64, filters: u64, groups: u64) -> bool {
        let layer = self.layer;
        for (what, n) in [("input channels", c), ("filters", filters)] {
            if n % groups != 0 {
                self.diags.push(
                    Diagnostic::error(
                        codes::SHAPE_GROUPS,
                        format!("`{layer}`: {n} {what} are not divisible by {groups} groups"),
                    )
                    .with_label(b.span("groups"), format!("{groups} groups"))
                    .with_label(
                        if what == "filters" {
                            b.span("filters")
                        } else {
                            x.span
                        },
                        format!("{n} {what}"),
                    )
                    .with_help(
                        "Both the input channels and the filters must be multiples of `groups`.",
                    ),
                );
                return false;
            }
        }
        true
    }

    /// The output size of a window over [h, w], or a kernel-too-large diagnostic.
    fn window_fits(
        &mut self,
        win: &Window,
        h: u64,
        w: u64,
        b: &Bound,
        x: &In,
    ) -> Option<(u64, u64)> {
        let oh = window_out(
            h,
            win.kernel[0],
            win.stride[0],
            win.pad[0],
            win.pad[2],
            win.dilation[0],
        );
        let ow = window_out(
            w,
            win.kernel[1],
            win.stride[1],
            win.pad[1],
            win.pad[3],
            win.dilation[1],
        );
        match (oh, ow) {
            (Some(oh), Some(ow)) => Some((oh, ow)),
            _ => {
                self.kernel_too_large(win, h, w, b, x);
                None
            }
        }
    }

    fn kernel_too_large(&mut self, win: &Window, h: u64, w: u64, b: &Bound, x: &In) {
        let eff = |i: usize| {
            win.dilation[i]
                .saturating_mul(win.kernel[i].saturating_sub(1))
                .saturating_add(1)
        };
        let ph = h.saturating_add(win.pad[0]).saturating_add(win.pad[2]);
        let pw = w.saturating_add(win.pad[1]).saturating_add(win.pad[3]);
        let layer = self.layer;
        self.diags.push(
            Diagnostic::error(
                codes::SHAPE_KERNEL,
                format!(
                    "`{layer}`: the {}x{} kernel is larger than its {ph}x{pw} (padded) input",
                    eff(0),
                    eff(1)
                ),
            )
            .with_label(b.span("kernel"), format!("kernel {}x{}", eff(0), eff(1)))
            .with_label(x.span, format!("input {}", show(x.shape)))
            .with_help(
                "Use a smaller kernel, more padding, or fewer downsampling layers before this one.",
            ),
        );
    }

    pub(super) fn pool(&mut self, b: &Bound, x: &In, kind: PoolKind) -> Built {
        let [c, h, w] = x.shape[..] else {
            return self.rank(
                x,
                "[channels, height, width]",
                "Pooling works on spatial feature maps.",
            );
        };
        let mut window = Window {
            kernel: b.size2("kernel"),
            stride: b.size2("stride"),
            pad: b.pad4("pad"),
            dilation: [1, 1],
        };
        // A window of padding alone has no maximum and no meaningful mean (Caffe refuses it).
        let [kh, kw] = window.kernel;
        if window.pad[0].max(window.pad[2]) >= kh || window.pad[1].max(window.pad[3]) >= kw {
            let layer = self.layer;
            self.err(
                codes::ARG_RANGE,
                format!("`{layer}`: padding must be smaller than the {kh}x{kw} window"),
                b.span("pad"),
                "as large as the window".into(),
                "Pad by less than the kernel size, usually kernel / 2.",
            );
            return None;
        }
        let ceil = b.bool("ceil");
        let (oh, ow) = if ceil {
            if window.pad[0] != window.pad[2] || window.pad[1] != window.pad[3] {
                let layer = self.layer;
                self.err(
                    codes::ARG_RANGE,
                    format!("`{layer}`: `ceil: true` needs symmetric padding"),
                    b.span("pad"),
                    "asymmetric".into(),
                    "Caffe's ceil rounding is defined for `pad: p` or `pad: [h, w]`.",
                );
                return None;
            }
            let rh = ceil_pool_out(h, window.kernel[0], window.stride[0], window.pad[0]);
            let rw = ceil_pool_out(w, window.kernel[1], window.stride[1], window.pad[1]);
            match (rh, rw) {
                (Some((oh, eh)), Some((ow, ew))) => {
                    // The extra bottom/right padding makes a floor-mode window produce
                    // Caffe's ceil-mode size.
                    window.pad[2] += eh;
                    window.pad[3] += ew;
                    (oh, ow)
                }
                _ => {
                    self.kernel_too_large(&window, h, w, b, x);
                    return None;
                }
            }
        } else {
            self.window_fits(&window, h, w, b, x)?
        };
        Some((LayerOp::Pool { kind, window, ceil }, vec![c, oh, ow]))
    }
}
