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
                return None;
            }
        }
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
