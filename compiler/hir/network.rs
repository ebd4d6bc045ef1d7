//! Evaluates networks: binds names, expands blocks and `repeat`, builds the layer graph.

use super::args::{describe, Binder, Lookup, Names};
use super::layers::{arith, In, LayerCx};
use super::schema::{self, Ty};
use super::sections;
use super::shapes::numel;
use super::value::{LayerId, Value};
use super::{Arith, Layer, LayerOp, Network, Output, Program};
use crate::diagnostics::{codes, did_you_mean, Diagnostic, Diagnostics};
use crate::source::Span;
use crate::syntax::ast::{self, Arg, BinaryOp, Expr, ExprKind, Ident, Item, Stmt, UnaryOp};
use std::collections::HashMap;

/// A network may expand to at most this many layers (blocks and `repeat` multiply).
pub const MAX_LAYERS: usize = 100_000;
/// Blocks may call blocks this deep.
pub const MAX_BLOCK_DEPTH: usize = 64;

/// The named items of all files.
pub struct Items<'a> {
    pub blocks: HashMap<&'a str, &'a ast::Block>,
    pub networks: Vec<&'a ast::Network>,
    pub data: Vec<&'a ast::Section>,
    pub trains: Vec<&'a ast::Section>,
    pub rules: Vec<&'a ast::Rules>,
}

pub fn resolve(files: &[ast::File], diags: &mut Diagnostics) -> Program {
    let items = collect(files, diags);
    let mut program = Program::default();
    for net in &items.networks {
        let mut eval = Eval::new(&items, diags);
        if let Some(network) = eval.network(net) {
            program.networks.push(network);
        }
    }
    sections::resolve(&items, &mut program, diags);
    program
}

/// Gathers items by kind; two items with one name is an error (one namespace for all).
fn collect<'a>(files: &'a [ast::File], diags: &mut Diagnostics) -> Items<'a> {
    let mut items = Items {
        blocks: HashMap::new(),
        networks: Vec::new(),
        data: Vec::new(),
        trains: Vec::new(),
        rules: Vec::new(),
    };
    let mut seen: HashMap<&str, (&str, Span)> = HashMap::new();
    for (index, file) in files.iter().enumerate() {
        for item in &file.items {
            // A train block is a run of its own file: imports bring in everything else.
            if index > 0 && matches!(item, Item::Train(_)) {
                continue;
            }
            if let Some(name) = item.name() {
                if let Some((kind, first)) = seen.get(name.name.as_str()) {
                    diags.push(
                        Diagnostic::error(codes::RESOLVE_DUPLICATE, format!("duplicate name `{}`", name.name))
                            .with_label(name.span, format!("{} `{}` defined again here", item.kind(), name.name))
                            .with_label(*first, format!("{kind} `{}` first defined here", name.name))
                            .with_help("Items (networks, blocks, data, train and rules blocks) share one namespace; rename one of them."),
                    );
                    continue;
                }
                seen.insert(&name.name, (item.kind(), name.span));
            }
            match item {
                Item::Import(_) => {}
                Item::Network(n) => items.networks.push(n),
                Item::Block(b) => {
                    items.blocks.insert(&b.name.name, b);
                }
                Item::Data(s) => items.data.push(s),
                Item::Train(s) => items.trains.push(s),
                Item::Rules(r) => items.rules.push(r),
            }
        }
    }
    for block in items.blocks.values() {
        let mut params: HashMap<&str, Span> = HashMap::new();
        for p in &block.params {
            if let Some(first) = params.insert(&p.name, p.span) {
                diags.push(
                    Diagnostic::error(
                        codes::RESOLVE_DUPLICATE,
                        format!("duplicate parameter `{}`", p.name),
                    )
                    .with_label(p.span, "declared again here")
                    .with_label(first, "first declared here")
                    .with_help("Give each block parameter a different name."),
                );
            }
        }
    }
    items
}

#[derive(Clone)]
enum Binding {
    Tensor(LayerId),
    Value(Value),
    /// Its definition failed; uses stay silent instead of cascading.
    Poisoned,
}

/// The result of evaluating an expression in a network.
#[derive(Clone)]
enum Val {
    Tensor(LayerId),
    Value(Value),
    /// A diagnostic was already reported.
    Error,
}

struct Frame {
    vars: HashMap<String, Binding>,
    /// A block instance: lookups stop here (blocks see only their parameters).
    barrier: bool,
}

#[derive(Default)]
struct Scope {
    frames: Vec<Frame>,
}

impl Scope {
    fn get(&self, name: &str) -> Option<&Binding> {
        for frame in self.frames.iter().rev() {
            if let Some(b) = frame.vars.get(name) {
                return Some(b);
            }
            if frame.barrier {
                break;
            }
        }
        None
    }

    fn bind(&mut self, name: &str, b: Binding) {
        if let Some(frame) = self.frames.last_mut() {
            frame.vars.insert(name.to_string(), b);
        }
    }

    fn visible(&self) -> Vec<String> {
        let mut out = Vec::new();
        for frame in self.frames.iter().rev() {
            out.extend(frame.vars.keys().cloned());
            if frame.barrier {
                break;
            }
        }
        out.sort();
        out
    }
}

impl Names for Scope {
    fn lookup(&self, name: &str) -> Lookup {
        match self.get(name) {
            Some(Binding::Value(v)) => Lookup::Value(v.clone()),
            Some(Binding::Tensor(_)) => Lookup::Tensor,
            // Poisoned names evaluate like unbound ones, but the binder's error for them
            // would be a cascade; callers check `is_poisoned` first where it matters.
            Some(Binding::Poisoned) | None => Lookup::Unbound,
        }
    }
    fn all(&self) -> Vec<String> {
        self.visible()
    }
}

/// Automatic layer names: one counter per op (or block) in each block instance.
struct Namer {
    prefix: String,
    counters: HashMap<String, u32>,
}

struct Eval<'a, 'd> {
    items: &'a Items<'a>,
    diags: &'d mut Diagnostics,
    scope: Scope,
    layers: Vec<Layer>,
    names: HashMap<String, Span>,
    namers: Vec<Namer>,
    block_stack: Vec<(&'a str, Span)>,
    exhausted: bool,
}

impl<'a, 'd> Eval<'a, 'd> {
    fn new(items: &'a Items<'a>, diags: &'d mut Diagnostics) -> Self {
        Eval {
            items,
            diags,
            scope: Scope::default(),
            layers: Vec::new(),
            names: HashMap::new(),
            namers: vec![Namer {
                prefix: String::new(),
                counters: HashMap::new(),
            }],
            block_stack: Vec::new(),
            exhausted: false,
        }
    }

    fn binder(&mut self) -> Binder<'_, Scope> {
        Binder {
            names: &self.scope,
            diags: self.diags,
        }
    }

    fn error(
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

    fn network(&mut self, net: &'a ast::Network) -> Option<Network> {
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

    fn input(&mut self, name: &Ident, shape: &Expr, span: Span) -> Option<LayerId> {
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

    fn duplicate_binding(&mut self, name: &Ident) {
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

    fn let_stmt(&mut self, name: &Ident, value: &Expr) {
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

    fn not_a_tensor(&mut self, expr: &Expr, value: &Value, what: &str) -> Val {
        self.error(
            codes::RESOLVE_NOT_A_TENSOR,
            format!("{what} must be a tensor, found {}", value.kind()),
            expr.span,
            "not a tensor",
            "Layers and outputs work on tensors: an `input`, or the result of a layer.".into(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn push_layer(
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
        let namer = self.namers.last_mut().expect("the network has a namer");
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

    fn shape(&self, id: LayerId) -> &Vec<u64> {
        &self.layers[id.0 as usize].shape
    }

    fn expr(&mut self, e: &Expr) -> Val {
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
    fn value(&mut self, e: &Expr) -> Val {
        match self.binder().eval(e) {
            Some(Value::Sym(name)) => self.undefined(&name, e.span),
            Some(v) => Val::Value(v),
            None => Val::Error,
        }
    }

    fn undefined(&mut self, name: &str, span: Span) -> Val {
        if schema::layer(name).is_some() || self.items.blocks.contains_key(name) {
            return self.error(
                codes::RESOLVE_NOT_A_TENSOR,
                format!("`{name}` is a layer, not a value"),
                span,
                "a layer",
                format!("Apply it to a tensor: `x |> {name}`."),
            );
        }
        let visible = self.scope.visible();
        let help = match did_you_mean(name, visible.iter().map(String::as_str)) {
            Some(dym) => super::args::capitalize(&dym),
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

    fn scalar_layer(&mut self, op: LayerOp, input: LayerId, span: Span) -> Val {
        let shape = self.shape(input).clone();
        let kind = op.name();
        match self.push_layer(None, kind, op, vec![input], shape, span, 1.0, 1.0) {
            Some(id) => Val::Tensor(id),
            None => Val::Error,
        }
    }

    fn binary(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr, whole: &Expr) -> Val {
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
                    },
                    &In {
                        shape: &sy,
                        span: rhs.span,
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
    fn mixed(
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

    fn repeat(
        &mut self,
        target: &Ident,
        count: &Expr,
        body: &[Stmt],
        result: &Expr,
        span: Span,
    ) -> Val {
        let Some(Value::Int(n)) = self.binder().coerce(&Ty::Int { min: 0 }, count, "repeat") else {
            return Val::Error;
        };
        if n as usize > MAX_LAYERS {
            return self.error(
                codes::RESOLVE_TOO_LARGE,
                format!("`repeat {n}` is too large"),
                count.span,
                "too many repetitions",
                format!("A network may have at most {MAX_LAYERS} layers."),
            );
        }
        let mut current = match self.scope.get(&target.name) {
            Some(Binding::Tensor(id)) => *id,
            Some(Binding::Poisoned) => return Val::Error,
            _ => {
                return self.error(
                    codes::RESOLVE_UNDEFINED,
                    format!(
                        "`repeat` threads `{}`, which is not defined before it",
                        target.name
                    ),
                    span,
                    "starts from the previous value of the `let` name",
                    format!(
                        "Define `{}` as a tensor before `let {} = repeat ...`.",
                        target.name, target.name
                    ),
                )
            }
        };
        for _ in 0..n {
            self.scope.frames.push(Frame {
                vars: HashMap::new(),
                barrier: false,
            });
            self.scope.bind(&target.name, Binding::Tensor(current));
            for stmt in body {
                if let Stmt::Let { name, value, .. } = stmt {
                    self.let_stmt(name, value);
                }
            }
            let v = self.expr(result);
            self.scope.frames.pop();
            match v {
                Val::Tensor(id) => current = id,
                Val::Error => return Val::Error,
                Val::Value(value) => {
                    return self.not_a_tensor(result, &value, "the result of `repeat`")
                }
            }
            if self.exhausted {
                return Val::Error;
            }
        }
        Val::Tensor(current)
    }

    fn call(
        &mut self,
        callee: &Ident,
        piped: Option<(LayerId, Span)>,
        args: &[Arg],
        span: Span,
    ) -> Val {
        if let Some(block) = self.items.blocks.get(callee.name.as_str()) {
            return self.call_block(block, callee, piped, args, span);
        }
        if let Some(sig) = schema::layer(&callee.name) {
            return self.call_layer(sig, piped, args, span);
        }
        let mut candidates: Vec<&str> = schema::LAYERS.iter().map(|s| s.name).collect();
        candidates.extend(self.items.blocks.keys().copied());
        let help = if let Some(dym) = did_you_mean(&callee.name, candidates.iter().copied()) {
            super::args::capitalize(&dym)
        } else if schema::INIT.get(&callee.name).is_some() {
            format!(
                "`{}` is an init scheme: give it to a layer as `init: {}`.",
                callee.name, callee.name
            )
        } else {
            "docs/language.md lists the layers; blocks are defined with `block NAME(params) { ... }`.".into()
        };
        self.error(
            codes::RESOLVE_UNKNOWN_LAYER,
            format!("unknown layer `{}`", callee.name),
            callee.span,
            "not a layer or block",
            help,
        )
    }

    /// Checks a pipe stage whose input failed: the layer must exist and its options must
    /// be valid, even though no shape can be inferred.
    fn check_stage(&mut self, stage: &Expr) {
        let (callee, args): (Ident, &[Arg]) = match &stage.kind {
            ExprKind::Call { callee, args } => (callee.clone(), args),
            ExprKind::Name(n) => (
                Ident {
                    name: n.clone(),
                    span: stage.span,
                },
                &[],
            ),
            _ => return,
        };
        if self.items.blocks.contains_key(callee.name.as_str()) {
            return;
        }
        let Some(sig) = schema::layer(&callee.name) else {
            self.call(&callee, None, &[], stage.span);
            return;
        };
        if sig.name == "concat" {
            return;
        }
        let positional: Vec<&Expr> = args
            .iter()
            .filter(|a| a.name.is_none())
            .map(|a| &a.value)
            .collect();
        let named: Vec<(&Ident, &Expr)> = args
            .iter()
            .filter_map(|a| a.name.as_ref().map(|n| (n, &a.value)))
            .collect();
        let what = format!("layer `{}`", sig.name);
        self.binder()
            .bind(sig, &positional, &named, stage.span, &what);
    }

    fn call_layer(
        &mut self,
        sig: &'static schema::Sig,
        piped: Option<(LayerId, Span)>,
        args: &[Arg],
        span: Span,
    ) -> Val {
        let many = sig.name == "concat";
        let mut inputs: Vec<(LayerId, Span)> = piped.into_iter().collect();
        let positional: Vec<&Expr> = args
            .iter()
            .filter(|a| a.name.is_none())
            .map(|a| &a.value)
            .collect();
        let mut rest = positional.as_slice();
        while let Some((first, tail)) = rest.split_first() {
            if !many && !inputs.is_empty() {
                break;
            }
            match self.expr(first) {
                Val::Tensor(id) => inputs.push((id, first.span)),
                Val::Error => return Val::Error,
                Val::Value(v) => {
                    if many {
                        return self.not_a_tensor(
                            first,
                            &v,
                            &format!("each positional argument of `{}`", sig.name),
                        );
                    }
                    break;
                }
            }
            rest = tail;
        }
        let needed = if many { 2 } else { 1 };
        if inputs.len() < needed {
            let help = if many {
                "Give the tensors to join: `concat(a, b, axis: channel)` or `a |> concat(b)`."
                    .to_string()
            } else {
                format!("Pipe a tensor into it: `x |> {}`.", call_text(sig))
            };
            return self.error(
                codes::ARG_MISSING,
                format!(
                    "`{}` needs {} input tensor{}",
                    sig.name,
                    if many { "at least two" } else { "an" },
                    if many { "s" } else { "" }
                ),
                span,
                "no input",
                help,
            );
        }
        let named: Vec<(&Ident, &Expr)> = args
            .iter()
            .filter_map(|a| a.name.as_ref().map(|n| (n, &a.value)))
            .collect();
        let what = format!("layer `{}`", sig.name);
        let Some(bound) = self.binder().bind(sig, rest, &named, span, &what) else {
            return Val::Error;
        };
        let shapes: Vec<Vec<u64>> = inputs
            .iter()
            .map(|(id, _)| self.shape(*id).clone())
            .collect();
        let ins: Vec<In> = shapes
            .iter()
            .zip(&inputs)
            .map(|(shape, (_, span))| In { shape, span: *span })
            .collect();
        let mut cx = LayerCx {
            diags: self.diags,
            call: span,
            layer: sig.name,
        };
        let Some((op, shape)) = cx.build(sig.name, &bound, &ins) else {
            return Val::Error;
        };
        let (lr, decay) = if sig.param("lr_mult").is_some() {
            (bound.f64("lr_mult"), bound.f64("decay_mult"))
        } else {
            (1.0, 1.0)
        };
        let explicit = match bound.get("name") {
            Some(Value::Str(s)) => Some((s.clone(), bound.span("name"))),
            _ => None,
        };
        let ids = inputs.iter().map(|(id, _)| *id).collect();
        match self.push_layer(explicit, sig.name, op, ids, shape, span, lr, decay) {
            Some(id) => Val::Tensor(id),
            None => Val::Error,
        }
    }

    fn call_block(
        &mut self,
        block: &'a ast::Block,
        callee: &Ident,
        piped: Option<(LayerId, Span)>,
        args: &[Arg],
        span: Span,
    ) -> Val {
        if let Some(pos) = self
            .block_stack
            .iter()
            .position(|(n, _)| *n == block.name.name)
        {
            let mut chain: Vec<&str> = self.block_stack[pos..].iter().map(|(n, _)| *n).collect();
            chain.push(&block.name.name);
            let mut diag = Diagnostic::error(
                codes::RESOLVE_RECURSION,
                format!("block `{}` calls itself", block.name.name),
            )
            .with_label(
                callee.span,
                format!("recursive call: {}", chain.join(" -> ")),
            )
            .with_label(block.name.span, "block defined here");
            if let Some((_, outer)) = self.block_stack.get(pos) {
                diag = diag.with_label(*outer, "first entered here");
            }
            self.diags.push(diag.with_help("Blocks are expanded inline, so they cannot recurse; use `repeat N { ... }` to stack copies."));
            return Val::Error;
        }
        if self.block_stack.len() >= MAX_BLOCK_DEPTH {
            return self.error(
                codes::RESOLVE_TOO_LARGE,
                format!("blocks nested more than {MAX_BLOCK_DEPTH} deep"),
                span,
                "while expanding this",
                "Flatten the block structure.".into(),
            );
        }
        // Bind parameters: the piped tensor first, then positional, then named arguments.
        let params = &block.params;
        let mut values: Vec<Option<(Binding, Span)>> = vec![None; params.len()];
        let mut next = 0;
        if let Some((id, s)) = piped {
            if params.is_empty() {
                return self.error(
                    codes::ARG_TOO_MANY,
                    format!("block `{}` takes no parameters", block.name.name),
                    span,
                    "a tensor is piped into it",
                    "Add a parameter for the input: `block NAME(x) { ... }`.".into(),
                );
            }
            values[0] = Some((Binding::Tensor(id), s));
            next = 1;
        }
        let mut ok = true;
        for arg in args {
            let index = match &arg.name {
                None => {
                    if next >= params.len() {
                        self.error(
                            codes::ARG_TOO_MANY,
                            format!("too many arguments for block `{}`", block.name.name),
                            arg.value.span,
                            "unexpected argument",
                            format!(
                                "`{}` takes {} parameter(s): {}.",
                                block.name.name,
                                params.len(),
                                param_list(params)
                            ),
                        );
                        ok = false;
                        break;
                    }
                    next += 1;
                    next - 1
                }
                Some(name) => match params.iter().position(|p| p.name == name.name) {
                    Some(i) => i,
                    None => {
                        let help = match did_you_mean(
                            &name.name,
                            params.iter().map(|p| p.name.as_str()),
                        ) {
                            Some(d) => format!(
                                "{} The parameters are: {}.",
                                super::args::capitalize(&d),
                                param_list(params)
                            ),
                            None => format!("The parameters are: {}.", param_list(params)),
                        };
                        self.error(
                            codes::ARG_UNKNOWN,
                            format!(
                                "unknown parameter `{}` for block `{}`",
                                name.name, block.name.name
                            ),
                            name.span,
                            "not a parameter",
                            help,
                        );
                        ok = false;
                        continue;
                    }
                },
            };
            if values[index].is_some() {
                self.error(
                    codes::ARG_DUPLICATE,
                    format!("parameter `{}` is given twice", params[index].name),
                    arg.value.span,
                    "given again",
                    "Give each parameter once.".into(),
                );
                ok = false;
                continue;
            }
            let evaluated = match self.setting(&arg.value) {
                Some(v) => Val::Value(v),
                None => self.expr(&arg.value),
            };
            let binding = match evaluated {
                Val::Tensor(id) => Binding::Tensor(id),
                Val::Value(v) => Binding::Value(v),
                Val::Error => {
                    ok = false;
                    Binding::Poisoned
                }
            };
            values[index] = Some((binding, arg.value.span));
        }
        let missing: Vec<&str> = params
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_none())
            .map(|(p, _)| p.name.as_str())
            .collect();
        if ok && !missing.is_empty() {
            self.error(
                codes::ARG_MISSING,
                format!(
                    "block `{}` needs `{}`",
                    block.name.name,
                    missing.join("`, `")
                ),
                span,
                "missing argument",
                format!("`{}` takes: {}.", block.name.name, param_list(params)),
            );
            ok = false;
        }
        if !ok {
            return Val::Error;
        }

        let instance = {
            let namer = self.namers.last_mut().expect("namer");
            let n = namer.counters.entry(block.name.name.clone()).or_insert(0);
            *n += 1;
            format!("{}{}{n}.", namer.prefix, block.name.name)
        };
        self.namers.push(Namer {
            prefix: instance,
            counters: HashMap::new(),
        });
        self.block_stack.push((&block.name.name, callee.span));
        let mut frame = Frame {
            vars: HashMap::new(),
            barrier: true,
        };
        for (param, value) in params.iter().zip(values) {
            if let Some((binding, _)) = value {
                frame.vars.insert(param.name.clone(), binding);
            }
        }
        self.scope.frames.push(frame);
        let result = self.block_body(block);
        self.scope.frames.pop();
        self.block_stack.pop();
        self.namers.pop();
        result
    }

    /// A block argument that is a setting rather than a tensor or a number: a bare name
    /// that is neither bound nor a layer (`orthogonal`), or a call of a constructor that is
    /// not a layer (`orthogonal(gain: 2)`, `sgd(lr: 0.1)`).
    fn setting(&mut self, e: &Expr) -> Option<Value> {
        let is_layer =
            |this: &Self, n: &str| schema::layer(n).is_some() || this.items.blocks.contains_key(n);
        match &e.kind {
            ExprKind::Name(n)
                if self.scope.get(n).is_none()
                    && !is_layer(self, n)
                    && schema::is_setting_name(n) =>
            {
                Some(Value::Sym(n.clone()))
            }
            ExprKind::Call { callee, .. } if !is_layer(self, &callee.name) => {
                let sets = [
                    &schema::INIT,
                    &schema::OPTIMIZER,
                    &schema::SCHEDULE,
                    &schema::LOSS,
                    &schema::SAMPLER,
                    &schema::SCALE,
                ];
                let set = sets.into_iter().find(|s| s.get(&callee.name).is_some())?;
                // Errors inside the call are reported; the argument is then poisoned.
                Some(
                    self.binder()
                        .coerce(&Ty::Ctor(set), e, &callee.name)
                        .unwrap_or(Value::Sym(String::new())),
                )
            }
            _ => None,
        }
    }

    fn block_body(&mut self, block: &'a ast::Block) -> Val {
        let mut result = None;
        for stmt in &block.body {
            if self.exhausted {
                return Val::Error;
            }
            if result.is_some() {
                return self.error(
                    codes::RESOLVE_STRUCTURE,
                    "statement after `return`".into(),
                    stmt.span(),
                    "never evaluated",
                    "`return` must be the last statement of a block.".into(),
                );
            }
            match stmt {
                Stmt::Let { name, value, .. } => self.let_stmt(name, value),
                Stmt::Return { value, .. } => result = Some(self.expr(value)),
                Stmt::Input { span, .. } | Stmt::Output { span, .. } => {
                    return self.error(
                        codes::RESOLVE_STRUCTURE,
                        "`input` and `output` are not allowed in a block".into(),
                        *span,
                        "in a block",
                        "Blocks receive tensors as parameters and give their result with `return`."
                            .into(),
                    );
                }
            }
        }
        match result {
            Some(Val::Value(v)) => {
                let span = block.span;
                self.error(
                    codes::RESOLVE_NOT_A_TENSOR,
                    format!(
                        "block `{}` returns {}, not a tensor",
                        block.name.name,
                        v.kind()
                    ),
                    span,
                    "in this block",
                    "Return the tensor the block computes.".into(),
                )
            }
            Some(v) => v,
            None => self.error(
                codes::RESOLVE_STRUCTURE,
                format!("block `{}` has no `return`", block.name.name),
                block.name.span,
                "no result",
                "End the block with `return EXPR`.".into(),
            ),
        }
    }
}

fn param_list(params: &[Ident]) -> String {
    if params.is_empty() {
        return "none".into();
    }
    params
        .iter()
        .map(|p| format!("`{}`", p.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `dense(...)` or `relu`, for help lines.
fn call_text(sig: &schema::Sig) -> String {
    let required: Vec<&str> = sig
        .params()
        .filter(|p| matches!(p.default, schema::Default::Required))
        .map(|p| p.name)
        .collect();
    if required.is_empty() {
        sig.name.to_string()
    } else {
        format!("{}({})", sig.name, required.join(", "))
    }
}
