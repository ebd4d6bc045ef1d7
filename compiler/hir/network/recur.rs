//! Recurrence: `scan` (a user-defined cell block applied along an axis with a carried
//! state) and the `bidirectional` wrapper.
//!
//! A scan's cell is expanded once, like a block call, between two placeholder layers (the
//! step's input and the previous state) and the `Scan` layer itself; the lowering unrolls
//! those layers once per step with shared weights (docs/ir.md, "Recurrence").

use super::eval::Eval;
use super::scope::{Binding, Frame, Val};
use crate::diagnostics::{codes, did_you_mean, Diagnostic};
use crate::hir::args::Bound;
use crate::hir::shapes::{numel, show};
use crate::hir::value::{LayerId, Value};
use crate::hir::{LayerKind, LayerOp};
use crate::source::Span;
use crate::syntax::ast::{Arg, Expr, ExprKind, Ident};
use std::collections::HashMap;

impl Eval<'_, '_> {
    fn recurrence_error(&mut self, message: String, span: Span, label: &str, help: String) -> Val {
        self.error(codes::RESOLVE_RECURRENCE, message, span, label, help)
    }

    /// `x |> scan(cell, state: [...], over: axis, ...)`.
    pub(super) fn scan(&mut self, b: &Bound, (x, x_span): (LayerId, Span), span: Span) -> Val {
        let (cell, cell_span) = (b.sym("cell").to_string(), b.span("cell"));
        let Some(block) = self.items.blocks.get(cell.as_str()).copied() else {
            let help = if LayerKind::from_name(&cell).is_some() {
                format!("`{cell}` is a layer; wrap it in a block of the step's input and the state, such as `block step(x, h) {{ return ... }}`.")
            } else if let Some(dym) = did_you_mean(&cell, self.items.blocks.keys().copied()) {
                crate::hir::args::capitalize(&dym)
            } else {
                "Define the cell as `block NAME(x, h) { ... return NEXT_STATE }`.".into()
            };
            return self.recurrence_error(
                format!("the cell of `scan` must be a block, and `{cell}` is not one"),
                cell_span,
                "not a block",
                help,
            );
        };
        if block.params.len() != 2 {
            self.diags.push(
                Diagnostic::error(
                    codes::RESOLVE_RECURRENCE,
                    format!(
                        "the cell `{cell}` must take two parameters, the step's input and the state; it takes {}",
                        block.params.len()
                    ),
                )
                .with_label(cell_span, "used as a cell")
                .with_label(block.name.span, "defined here")
                .with_help("Declare the cell as `block NAME(x, h) { ... }`: `x` is the input at one step, `h` the previous state, and the block returns the next state."),
            );
            return Val::Error;
        }
        let x_shape = self.shape(x).clone();
        let axis = b.u64("over") as usize;
        if x_shape.len() < 2 || axis >= x_shape.len() {
            let at = if b.explicit("over") {
                b.span("over")
            } else {
                span
            };
            self.diags.push(
                Diagnostic::error(
                    codes::SHAPE_RANK,
                    format!(
                        "`scan` steps along axis {axis}, which needs an input of at least {} axes; found {}",
                        (axis + 1).max(2),
                        show(&x_shape)
                    ),
                )
                .with_label(at, format!("axis {axis}"))
                .with_label(x_span, format!("shape {}", show(&x_shape)))
                .with_help("The input needs the axis to step along and at least one more: reshape a sequence of 8 numbers to `[8, 1]`, or choose an axis of the input."),
            );
            return Val::Error;
        }
        let steps = x_shape[axis];
        let state: Vec<u64> = match b.get("state") {
            Some(Value::List(dims)) => dims
                .iter()
                .map(|d| match d {
                    Value::Int(i) => *i as u64,
                    _ => 1,
                })
                .collect(),
            _ => return Val::Error,
        };
        let sequences = b.bool("return_sequences");
        if sequences && axis > state.len() {
            self.diags.push(
                Diagnostic::error(
                    codes::SHAPE_RANK,
                    format!(
                        "`scan` stacks its states on axis {axis}, but the state {} has {} axes",
                        show(&state),
                        state.len()
                    ),
                )
                .with_label(b.span("over"), format!("axis {axis}"))
                .with_label(b.span("state"), "the state")
                .with_help("The states are stacked on the axis the scan steps along: step along an axis at most the state's rank, or give `return_sequences: false`."),
            );
            return Val::Error;
        }
        let mut shape = state.clone();
        if sequences {
            shape.insert(axis, steps);
        }
        if numel(&shape).is_none() || numel(&state).is_none() {
            return self.error(
                codes::SHAPE_OVERFLOW,
                "the output of `scan` overflows".into(),
                span,
                "more than 2^64 elements",
                "Use smaller dimensions.".into(),
            );
        }
        let callee = Ident {
            name: cell.clone(),
            span: cell_span,
        };
        if !self.may_expand(block, &callee, span) {
            return Val::Error;
        }
        let mut step_shape = x_shape.clone();
        step_shape.remove(axis);
        self.enter_instance(block, cell_span);
        let (input_param, state_param) = (&block.params[0], &block.params[1]);
        let body = self.push_layer(
            Some((input_param.name.clone(), input_param.span)),
            "step",
            LayerOp::StepInput,
            Vec::new(),
            step_shape,
            span,
            1.0,
            1.0,
        );
        let previous = self.push_layer(
            Some((state_param.name.clone(), state_param.span)),
            "step",
            LayerOp::StepState,
            Vec::new(),
            state.clone(),
            span,
            1.0,
            1.0,
        );
        let (Some(body), Some(previous)) = (body, previous) else {
            self.leave_instance();
            return Val::Error;
        };
        let vars = HashMap::from([
            (input_param.name.clone(), Binding::Tensor(body)),
            (state_param.name.clone(), Binding::Tensor(previous)),
        ]);
        self.scope.frames.push(Frame {
            vars,
            barrier: true,
        });
        let value = self.block_body(block);
        self.scope.frames.pop();
        self.leave_instance();
        let Val::Tensor(result) = value else {
            return Val::Error;
        };
        let returned = self.shape(result).clone();
        if returned != state {
            let at = self.layers[result.0 as usize].span;
            self.diags.push(
                Diagnostic::error(
                    codes::SHAPE_MISMATCH,
                    format!(
                        "the cell `{cell}` returns shape {}, but the state is {}",
                        show(&returned),
                        show(&state)
                    ),
                )
                .with_label(b.span("state"), format!("state {}", show(&state)))
                .with_label(at, format!("returns {}", show(&returned)))
                .with_help("The cell's result is the next state, so it must have the state's shape: end the cell with a layer of that size, or declare `state` as the cell returns it."),
            );
            return Val::Error;
        }
        let stateful = (body.0 as usize..self.layers.len())
            .find(|&i| matches!(self.layers[i].op, LayerOp::BatchNorm { .. }));
        if let Some(i) = stateful {
            let at = self.layers[i].span;
            return self.recurrence_error(
                format!("`batch_norm` cannot be used in the cell `{cell}`"),
                at,
                "in a scan's cell",
                "Its running statistics would be updated once per step; normalise with `layer_norm`, which keeps none.".into(),
            );
        }
        let op = LayerOp::Scan {
            axis,
            init: b.f64("init"),
            sequences,
            reverse: b.bool("reverse"),
            body,
            result,
        };
        let explicit = match b.get("name") {
            Some(Value::Str(s)) => Some((s.clone(), b.span("name"))),
            _ => None,
        };
        match self.push_layer(explicit, "scan", op, vec![x], shape, span, 1.0, 1.0) {
            Some(id) => Val::Tensor(id),
            None => Val::Error,
        }
    }

    /// `x |> bidirectional(lstm(32))`: the layer forward and, with its own weights,
    /// reversed, joined on the last axis. Its two copies are named `<name>.<layer><n>`.
    pub(super) fn bidirectional(&mut self, b: &Bound, x: (LayerId, Span), span: Span) -> Val {
        let Some(Value::Formula(inner)) = b.get("layer") else {
            return Val::Error;
        };
        let (callee, args): (Ident, Vec<Arg>) = match &inner.kind {
            ExprKind::Call { callee, args } => (callee.clone(), args.clone()),
            ExprKind::Name(n) => (
                Ident {
                    name: n.clone(),
                    span: inner.span,
                },
                Vec::new(),
            ),
            _ => (
                Ident {
                    name: String::new(),
                    span: inner.span,
                },
                Vec::new(),
            ),
        };
        let kind = LayerKind::from_name(&callee.name)
            .filter(|k| matches!(k, LayerKind::Lstm | LayerKind::Gru | LayerKind::Scan));
        let Some(kind) = kind else {
            return self.recurrence_error(
                "`bidirectional` wraps a recurrent layer: `lstm`, `gru` or `scan`".into(),
                inner.span,
                "not a recurrent layer",
                "Write the layer's call without its input, such as `x |> bidirectional(lstm(32))`."
                    .into(),
            );
        };
        if let Some(given) = args
            .iter()
            .filter_map(|a| a.name.as_ref())
            .find(|n| n.name == "reverse")
        {
            return self.recurrence_error(
                "`bidirectional` sets `reverse` of the layer it wraps".into(),
                given.span,
                "given here",
                "Remove `reverse`: the first copy reads forward, the second backward.".into(),
            );
        }
        let explicit = match b.get("name") {
            Some(Value::Str(s)) => Some((s.clone(), b.span("name"))),
            _ => None,
        };
        let namer = self.namers.current();
        let prefix = match &explicit {
            Some((name, _)) => format!("{}{name}.", namer.prefix),
            None => {
                let n = namer.counters.get("bidirectional").copied().unwrap_or(0) + 1;
                format!("{}bidirectional{n}.", namer.prefix)
            }
        };
        let mut backward_args = args.clone();
        backward_args.push(Arg {
            name: Some(Ident {
                name: "reverse".into(),
                span: inner.span,
            }),
            value: Expr {
                kind: ExprKind::Bool(true),
                span: inner.span,
            },
        });
        self.namers.enter(prefix);
        let forward = self.call_layer(kind, Some(x), &args, inner.span);
        let backward = match forward {
            Val::Tensor(_) => self.call_layer(kind, Some(x), &backward_args, inner.span),
            _ => Val::Error,
        };
        self.namers.leave();
        let (Val::Tensor(forward), Val::Tensor(backward)) = (forward, backward) else {
            return Val::Error;
        };
        let mut shape = self.shape(forward).clone();
        let axis = shape.len() - 1;
        shape[axis] = shape[axis].saturating_mul(2);
        let op = LayerOp::Concat { axis };
        let inputs = vec![forward, backward];
        match self.push_layer(explicit, "bidirectional", op, inputs, shape, span, 1.0, 1.0) {
            Some(id) => Val::Tensor(id),
            None => Val::Error,
        }
    }
}
