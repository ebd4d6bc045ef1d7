//! Layers over sequences of tokens: embedding lookups, self-attention and the recurrent
//! `lstm` and `gru`.

use super::{typed_init, Built, In, LayerCx};
use crate::diagnostics::{codes, Diagnostic};
use crate::hir::args::Bound;
use crate::hir::shapes::{numel, show};
use crate::hir::value::Value;
use crate::hir::{LayerKind, LayerOp};

impl LayerCx<'_> {
    /// `[...] -> [..., dim]`. The ids must come straight from the data: the trainer checks
    /// every id of every split before training (`lower::embedding::check_ids`), which it
    /// could not do for computed values.
    pub(super) fn embedding(&mut self, b: &Bound, x: &In) -> Built {
        let (vocab, dim) = (b.u64("vocab"), b.u64("dim"));
        if !x.data {
            let layer = self.layer;
            self.diags.push(
                Diagnostic::error(
                    codes::RESOLVE_STRUCTURE,
                    format!("`{layer}` reads integer ids, so its input must be a network input"),
                )
                .with_label(x.span, "a computed value")
                .with_help(
                    "Apply `embedding` to an `input` whose data holds the ids (with `scale: none`), such as `tokens |> embedding(100, 16)`.",
                ),
            );
            return None;
        }
        if vocab.checked_mul(dim).is_none() {
            return self.overflow("table");
        }
        let mut shape = x.shape.clone();
        shape.push(dim);
        numel(&shape).or_else(|| self.overflow("output"))?;
        let init = match b.get("init") {
            Some(Value::Ctor(c)) => {
                let init = typed_init(c, b.span("init"), self.diags)?;
                if !super::check_init(&init, b.span("init"), self.diags) {
                    return None;
                }
                Some(init)
            }
            _ => None,
        };
        Some((LayerOp::Embedding { vocab, dim, init }, shape))
    }

    /// `[tokens, features] -> [tokens, features]`; `heads` must divide the features.
    pub(super) fn attention(&mut self, b: &Bound, x: &In) -> Built {
        let [_, features] = x.shape[..] else {
            return self.rank(
                x,
                "[tokens, features]",
                "Give each example a sequence shape, such as `reshape([8, 8])` for 8 tokens of 8 features.",
            );
        };
        let heads = b.u64("heads");
        if !features.is_multiple_of(heads) {
            let layer = self.layer;
            self.diags.push(
                Diagnostic::error(
                    codes::SHAPE_GROUPS,
                    format!("`{layer}`: {features} features are not divisible by {heads} heads"),
                )
                .with_label(b.span("heads"), format!("{heads} heads"))
                .with_label(x.span, format!("shape {}", show(x.shape)))
                .with_help("Each head takes an equal share of the features: use a number of heads that divides them."),
            );
            return None;
        }
        if features.checked_mul(features.saturating_mul(4)).is_none() {
            return self.overflow("weight");
        }
        let weights = self.weights(b, features)?;
        Some((
            LayerOp::Attention {
                heads,
                causal: b.bool("causal"),
                weights,
            },
            x.shape.clone(),
        ))
    }

    /// `lstm` and `gru`: `[steps, features] -> [steps, units]`, or `[units]` without
    /// `return_sequences`.
    pub(super) fn recurrent(&mut self, kind: LayerKind, b: &Bound, x: &In) -> Built {
        let [_, features] = x.shape[..] else {
            return self.rank(
                x,
                "[steps, features]",
                "Give each example a sequence shape, such as `reshape([8, 8])` for 8 steps of 8 features.",
            );
        };
        let units = b.u64("units");
        let gates = if kind == LayerKind::Lstm { 4 } else { 3 };
        let fan_in = features.saturating_add(units);
        if units
            .checked_mul(gates)
            .and_then(|r| r.checked_mul(fan_in))
            .is_none()
        {
            return self.overflow("weight");
        }
        let weights = self.weights(b, features)?;
        let (sequences, reverse) = (b.bool("return_sequences"), b.bool("reverse"));
        let shape = if sequences {
            vec![x.shape[0], units]
        } else {
            vec![units]
        };
        let op = if kind == LayerKind::Lstm {
            LayerOp::Lstm {
                units,
                sequences,
                forget_bias: b.f64("forget_bias"),
                reverse,
                weights,
            }
        } else {
            LayerOp::Gru {
                units,
                sequences,
                reverse,
                weights,
            }
        };
        Some((op, shape))
    }
}
