//! The evaluator: statements, expressions, operators and layer creation.

use super::scope::{Binding, Frame, Namers, Scope, Val};
use super::MAX_LAYERS;
use crate::diagnostics::{codes, did_you_mean, Diagnostic, Diagnostics};
use crate::hir::args::{describe, Binder};
use crate::hir::items::Items;
use crate::hir::layers::{arith, In};
use crate::hir::schema::Ty;
use crate::hir::shapes::numel;
use crate::hir::value::{LayerId, Value};
use crate::hir::{Arith, Layer, LayerKind, LayerOp, Network, Output};
use crate::source::Span;
use crate::syntax::ast::{self, BinaryOp, Expr, ExprKind, Ident, Stmt, UnaryOp};
use std::collections::HashMap;

/// Scopes with more names than this get no did-you-mean for an undefined name.
const MAX_SUGGESTED: usize = 256;

pub(super) struct Eval<'a, 'd> {
    pub(super) items: &'a Items<'a>,
    pub(super) diags: &'d mut Diagnostics,
    pub(super) scope: Scope,
    pub(super) layers: Vec<Layer>,
    pub(super) names: HashMap<String, Span>,
    pub(super) namers: Namers,
    pub(super) block_stack: Vec<(&'a str, Span)>,
    pub(super) exhausted: bool,
}

impl<'a, 'd> Eval<'a, 'd> {
    pub(super) fn new(items: &'a Items<'a>, diags: &'d mut Diagnostics) -> Self {
        Eval {
            items,
            diags,
            scope: Scope::default(),
            layers: Vec::new(),
            names: HashMap::new(),
            namers: Namers::default(),
            block_stack: Vec::new(),
            exhausted: false,
        }
    }

    pub(super) fn binder(&mut self) -> Binder<'_, Scope> {
        Binder {
            names: &self.scope,
            diags: self.diags,
        }
    }

    pub(super) fn error(
        &mut self,
        code: &'static str,
        message: String,
        span: Span,
        label: &str,
        help: String,
    ) -> Val {
        self.diags.push(
            Diagnostic::error(code, message)
                .with_label(span, label)
                .with_help(help),
        );
        Val::Error
    }

    pub(super) fn network(&mut self, net: &'a ast::Network) -> Option<Network> {
        let before = self.diags.len();
        self.scope.frames.push(Frame {
            vars: HashMap::new(),
            barrier: true,
        });
        let mut inputs = Vec::new();
        let mut outputs: Vec<Output> = Vec::new();
        for stmt in &net.body {
            if self.exhausted {
                break;
            }
            match stmt {
                Stmt::Input { name, shape, span } => match self.input(name, shape, *span) {
                    Some(id) => inputs.push(id),
                    // Uses of a failed input stay silent instead of cascading.
                    None => self.scope.bind(&name.name, Binding::Poisoned),
                },
                Stmt::Let { name, value, .. } => self.let_stmt(name, value),
                Stmt::Output { name, value, span } => {
                    let v = self.expr(value);
                    if let Some(prev) = outputs.iter().find(|o| o.name == name.name) {
                        let first = prev.span;
                        self.diags.push(
                            Diagnostic::error(
                                codes::RESOLVE_DUPLICATE,
                                format!("duplicate output `{}`", name.name),
                            )
                            .with_label(name.span, "declared again here")
                            .with_label(first, "first declared here")
                            .with_help("Give each output a different name."),
                        );
                        continue;
                    }
                    match v {
                        Val::Tensor(layer) => outputs.push(Output {
                            name: name.name.clone(),
                            layer,
                            span: *span,
                        }),
                        Val::Value(v) => {
                            self.not_a_tensor(value, &v, "an output");
                        }
                        Val::Error => {}
                    }
                }
                Stmt::Return { span, .. } => {
                    self.error(
                        codes::RESOLVE_STRUCTURE,
                        "`return` outside a block".into(),
                        *span,
                        "not in a block",
                        "Networks name their results with `output NAME = ...`.".into(),
                    );
                }
            }
        }
        self.scope.frames.pop();
        // Only a network that declares no input (or output) at all is told so; one whose
        // declarations failed already has its diagnostics.
        let count = |f: fn(&Stmt) -> bool| net.body.iter().filter(|s| f(s)).count();
        let (n_inputs, n_outputs) = (
            count(|s| matches!(s, Stmt::Input { .. })),
            count(|s| matches!(s, Stmt::Output { .. })),
        );
        if n_inputs == 0 {
            self.error(
                codes::RESOLVE_STRUCTURE,
                format!("network `{}` has no input", net.name.name),
                net.name.span,
                "no `input` statement",
                "Declare the input and its per-example shape, e.g. `input x: [64]`.".into(),
            );
        } else if n_outputs == 0 {
            self.error(
                codes::RESOLVE_STRUCTURE,
                format!("network `{}` has no output", net.name.name),
                net.name.span,
                "no `output` statement",
                "Name the network's result, e.g. `output logits = h |> dense(10)`.".into(),
            );
        }
        if self.diags.len() != before
            || inputs.len() != n_inputs
            || outputs.len() != n_outputs
            || self.exhausted
        {
            return None;
        }
        Some(Network {
            name: net.name.name.clone(),
            span: net.span,
            layers: std::mem::take(&mut self.layers),
            inputs,
            outputs,
        })
    }

    pub(super) fn input(&mut self, name: &Ident, shape: &Expr, span: Span) -> Option<LayerId> {
        let value = self.binder().coerce(&Ty::Shape, shape, "input")?;
        let Value::List(dims) = value else {
            return None;
        };
        let shape: Vec<u64> = dims
            .iter()
            .map(|d| match d {
                Value::Int(i) => *i as u64,
                _ => 1,
            })
            .collect();
        if numel(&shape).is_none() {
            self.error(
                codes::SHAPE_OVERFLOW,
                format!("input `{}` has more than 2^64 elements", name.name),
                span,
                "too large",
                "Use smaller dimensions.".into(),
            );
            return None;
        }
        if self.scope.get(&name.name).is_some() {
            self.duplicate_binding(name);
            return None;
        }
        let id = self.push_layer(
            Some((name.name.clone(), name.span)),
            "input",
            LayerOp::Input,
            vec![],
            shape,
            span,
            1.0,
            1.0,
        )?;
        self.scope.bind(&name.name, Binding::Tensor(id));
        Some(id)
    }

    pub(super) fn duplicate_binding(&mut self, name: &Ident) {
        let first = self.names.get(&name.name).copied();
        let mut diag = Diagnostic::error(
            codes::RESOLVE_DUPLICATE,
            format!("duplicate name `{}`", name.name),
        )
        .with_label(name.span, "defined again here");
        if let Some(first) = first {
            diag = diag.with_label(first, "first defined here");
        }
        self.diags
            .push(diag.with_help("Inputs need distinct names."));
    }

    pub(super) fn let_stmt(&mut self, name: &Ident, value: &Expr) {
        let v = match &value.kind {
            ExprKind::Repeat {
                count,
                body,
                result,
            } => self.repeat(name, count, body, result, value.span),
            _ => self.expr(value),
        };
        let binding = match v {
            Val::Tensor(id) => Binding::Tensor(id),
            Val::Value(v) => Binding::Value(v),
            Val::Error => Binding::Poisoned,
        };
        self.scope.bind(&name.name, binding);
    }

    pub(super) fn not_a_tensor(&mut self, expr: &Expr, value: &Value, what: &str) -> Val {
        self.error(
            codes::RESOLVE_NOT_A_TENSOR,
            format!("{what} must be a tensor, found {}", value.kind()),
            expr.span,
            "not a tensor",
            "Layers and outputs work on tensors: an `input`, or the result of a layer.".into(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn push_layer(
        &mut self,
        explicit: Option<(String, Span)>,
        kind: &str,
        op: LayerOp,
        inputs: Vec<LayerId>,
        shape: Vec<u64>,
        span: Span,
        lr_mult: f64,
        decay_mult: f64,
    ) -> Option<LayerId> {
        if self.layers.len() >= MAX_LAYERS {
            if !self.exhausted {
                self.exhausted = true;
                self.error(
                    codes::RESOLVE_TOO_LARGE,
                    format!("the network expands to more than {MAX_LAYERS} layers"),
                    span,
                    "while expanding this",
                    "Check `repeat` counts and blocks that call other blocks several times.".into(),
                );
            }
            return None;
        }
        let namer = self.namers.current();
        let name = match explicit {
            Some((name, name_span)) => {
                let full = format!("{}{name}", namer.prefix);
                if let Some(first) = self.names.get(&full) {
                    let first = *first;
                    self.diags.push(
                        Diagnostic::error(codes::RESOLVE_DUPLICATE, format!("duplicate layer name `{full}`"))
                            .with_label(name_span, "used again here")
                            .with_label(first, "first used here")
                            .with_help("Layer names must be unique in a network; they name checkpoint entries."),
                    );
                    return None;
                }
                self.names.insert(full.clone(), name_span);
                full
            }
            None => loop {
                let n = namer.counters.entry(kind.to_string()).or_insert(0);
                *n += 1;
                let candidate = format!("{}{kind}{n}", namer.prefix);
                if !self.names.contains_key(&candidate) {
                    self.names.insert(candidate.clone(), span);
                    break candidate;
                }
            },
        };
        let id = LayerId(self.layers.len() as u32);
        self.layers.push(Layer {
            name,
            op,
            inputs,
            shape,
            span,
            lr_mult,
            decay_mult,
        });
        Some(id)
    }

    pub(super) fn shape(&self, id: LayerId) -> &Vec<u64> {
        &self.layers[id.0 as usize].shape
    }

    pub(super) fn expr(&mut self, e: &Expr) -> Val {
        if self.exhausted {
            return Val::Error;
        }
        match &e.kind {
            ExprKind::Name(n) => match self.scope.get(n) {
                Some(Binding::Tensor(id)) => Val::Tensor(*id),
                Some(Binding::Value(v)) => Val::Value(v.clone()),
                Some(Binding::Poisoned) => Val::Error,
                None => self.undefined(n, e.span),
            },
            ExprKind::Call { callee, args } => self.call(callee, None, args, e.span),
            ExprKind::Pipe { head, stages } => {
                let mut v = self.expr(head);
                let mut prev_span = head.span;
                for (i, stage) in stages.iter().enumerate() {
                    let input = match v {
                        Val::Tensor(id) => id,
                        Val::Error => {
                            // Still check the rest of the chain: its mistakes are independent.
                            for later in &stages[i..] {
                                self.check_stage(later);
                            }
                            return Val::Error;
                        }
                        Val::Value(value) => return self.not_a_tensor(head, &value, "the left side of `|>`"),
                    };
                    v = match &stage.kind {
                        ExprKind::Call { callee, args } => self.call(callee, Some((input, prev_span)), args, stage.span),
                        ExprKind::Name(n) => {
                            let ident = Ident {
                                name: n.clone(),
                                span: stage.span,
                            };
                            self.call(&ident, Some((input, prev_span)), &[], stage.span)
                        }
                        _ => self.error(
                            codes::RESOLVE_STRUCTURE,
                            format!("the right side of `|>` must be a layer or block, found {}", describe(stage)),
                            stage.span,
                            "not a layer",
                            match &stage.kind {
                                ExprKind::Binary { .. } => "`|>` binds more loosely than arithmetic: `x |> f + y` means `x |> (f + y)`; write `(x |> f) + y`.".into(),
                                _ => "Write a layer or block call, e.g. `x |> dense(10)` or `x |> relu`.".into(),
                            },
                        ),
                    };
                    prev_span = head.span.to(stage.span);
                }
                v
            }
            ExprKind::Unary { op: UnaryOp::Neg, operand } => match self.expr(operand) {
                Val::Tensor(id) => self.scalar_layer(LayerOp::Scale { factor: -1.0 }, id, e.span),
                Val::Value(_) => self.value(e),
                Val::Error => Val::Error,
            },
            ExprKind::Binary { op, lhs, rhs }
                if matches!(op, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Pow) =>
            {
                self.binary(*op, lhs, rhs, e)
            }
            ExprKind::Unary { .. } | ExprKind::Binary { .. } => self.error(
                codes::RESOLVE_STRUCTURE,
                "logic and comparison operators are only allowed in rules".into(),
                e.span,
                "not allowed in a network",
                "Networks combine tensors with `+`, `-`, `*` and `/`; use a `rules` block for logic.".into(),
            ),
            ExprKind::Repeat { .. } => self.error(
                codes::RESOLVE_STRUCTURE,
                "`repeat` must be the value of a `let`".into(),
                e.span,
                "here",
                "Write `let h = repeat N { ... }`: the `let` names the value the repetitions thread through.".into(),
            ),
            ExprKind::Error => Val::Error,
            _ => self.value(e),
        }
    }

    /// A constant expression, evaluated by the binder.
    pub(super) fn value(&mut self, e: &Expr) -> Val {
        match self.binder().eval(e) {
            Some(Value::Sym(name)) => self.undefined(&name, e.span),
            Some(v) => Val::Value(v),
            None => Val::Error,
        }
    }

    pub(super) fn undefined(&mut self, name: &str, span: Span) -> Val {
        if LayerKind::from_name(name).is_some() || self.items.blocks.contains_key(name) {
            return self.error(
                codes::RESOLVE_NOT_A_TENSOR,
                format!("`{name}` is a layer, not a value"),
                span,
                "a layer",
                format!("Apply it to a tensor: `x |> {name}`."),
            );
        }
        // Listing and comparing every name for every undefined one would make a generated
        // spec with thousands of both take quadratic time.
        let count = self.scope.visible_count();
        let visible = match count > MAX_SUGGESTED {
            true => Vec::new(),
            false => self.scope.visible(),
        };
        let help = match did_you_mean(name, visible.iter().map(String::as_str)) {
            _ if count > MAX_SUGGESTED => {
                format!("Check the spelling: {count} names are defined here.")
            }
            Some(dym) => crate::hir::args::capitalize(&dym),
            None if visible.is_empty() => "Define it with `let` or `input` before using it.".into(),
            None => format!(
                "Names defined here: {}.",
                visible
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.error(
            codes::RESOLVE_UNDEFINED,
            format!("undefined name `{name}`"),
            span,
            "not defined",
            help,
        )
    }

    pub(super) fn scalar_layer(&mut self, op: LayerOp, input: LayerId, span: Span) -> Val {
        let shape = self.shape(input).clone();
        let kind = op.name();
        match self.push_layer(None, kind, op, vec![input], shape, span, 1.0, 1.0) {
            Some(id) => Val::Tensor(id),
            None => Val::Error,
        }
    }

    pub(super) fn binary(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr, whole: &Expr) -> Val {
        let a = self.expr(lhs);
        let b = self.expr(rhs);
        match (a, b) {
            (Val::Error, _) | (_, Val::Error) => Val::Error,
            (Val::Value(_), Val::Value(_)) => self.value(whole),
            (Val::Tensor(x), Val::Tensor(y)) => {
                let arith_op = match op {
                    BinaryOp::Add => Arith::Add,
                    BinaryOp::Sub => Arith::Sub,
                    BinaryOp::Mul => Arith::Mul,
                    BinaryOp::Div => Arith::Div,
                    _ => {
                        return self.error(
                            codes::RESOLVE_STRUCTURE,
                            "`^` is not defined on tensors".into(),
                            whole.span,
                            "tensor power",
                            "Raise constants only; multiply tensors with `*`.".into(),
                        )
                    }
                };
                let (sx, sy) = (self.shape(x).clone(), self.shape(y).clone());
                let built = arith(
                    arith_op,
                    &In {
                        shape: &sx,
                        span: lhs.span,
                        data: false,
                    },
                    &In {
                        shape: &sy,
                        span: rhs.span,
                        data: false,
                    },
                    whole.span,
                    self.diags,
                );
                match built {
                    Some((layer_op, shape)) => {
                        let kind = layer_op.name();
                        match self.push_layer(
                            None,
                            kind,
                            layer_op,
                            vec![x, y],
                            shape,
                            whole.span,
                            1.0,
                            1.0,
                        ) {
                            Some(id) => Val::Tensor(id),
                            None => Val::Error,
                        }
                    }
                    None => Val::Error,
                }
            }
            (Val::Tensor(t), Val::Value(v)) => self.mixed(op, t, v, true, rhs, whole),
            (Val::Value(v), Val::Tensor(t)) => self.mixed(op, t, v, false, lhs, whole),
        }
    }

    /// A tensor combined with a constant: `0.3 * h`, `h / 2`, `h + 1`, `1 - h`.
    pub(super) fn mixed(
        &mut self,
        op: BinaryOp,
        t: LayerId,
        v: Value,
        tensor_left: bool,
        value_expr: &Expr,
        whole: &Expr,
    ) -> Val {
        let Some(k) = v.as_f64() else {
            return self.error(
                codes::ARG_TYPE,
                format!("cannot combine a tensor with {}", v.kind()),
                value_expr.span,
                "not a number",
                "Tensors combine with tensors or numbers.".into(),
            );
        };
        let layer_op = match (op, tensor_left) {
            (BinaryOp::Mul, _) => LayerOp::Scale { factor: k },
            (BinaryOp::Div, true) if k != 0.0 => LayerOp::Scale { factor: 1.0 / k },
            (BinaryOp::Add, _) => LayerOp::Shift { offset: k },
            (BinaryOp::Sub, true) => LayerOp::Shift { offset: -k },
            (BinaryOp::Sub, false) => {
                // k - t = (-t) + k
                let Val::Tensor(neg) =
                    self.scalar_layer(LayerOp::Scale { factor: -1.0 }, t, whole.span)
                else {
                    return Val::Error;
                };
                return self.scalar_layer(LayerOp::Shift { offset: k }, neg, whole.span);
            }
            _ => {
                return self.error(
                    codes::RESOLVE_STRUCTURE,
                    format!(
                        "`{}` between a tensor and a number is not supported",
                        op.symbol()
                    ),
                    whole.span,
                    "unsupported",
                    "Tensors can be scaled (`0.5 * h`, `h / 2`) and shifted (`h + 1`).".into(),
                )
            }
        };
        self.scalar_layer(layer_op, t, whole.span)
    }
}
