//! Calls: layers, blocks (with their own scope and names) and `repeat`.

use super::eval::Eval;
use super::scope::{Binding, Frame, Val};
use super::{MAX_BLOCK_DEPTH, MAX_LAYERS};
use crate::diagnostics::{codes, did_you_mean, Diagnostic};
use crate::hir::layers::{In, LayerCx};
use crate::hir::schema::{self, Ty};
use crate::hir::value::{LayerId, Value};
use crate::hir::LayerKind;
use crate::source::Span;
use crate::syntax::ast::{self, Arg, Expr, ExprKind, Ident, Stmt};
use std::collections::HashMap;

impl<'a, 'd> Eval<'a, 'd> {
    pub(super) fn repeat(
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

    pub(super) fn call(
        &mut self,
        callee: &Ident,
        piped: Option<(LayerId, Span)>,
        args: &[Arg],
        span: Span,
    ) -> Val {
        if let Some(block) = self.items.blocks.get(callee.name.as_str()) {
            return self.call_block(block, callee, piped, args, span);
        }
        if let Some(kind) = LayerKind::from_name(&callee.name) {
            return self.call_layer(kind, piped, args, span);
        }
        let mut candidates: Vec<&str> = LayerKind::ALL.iter().map(|k| k.name()).collect();
        candidates.extend(self.items.blocks.keys().copied());
        let help = if let Some(dym) = did_you_mean(&callee.name, candidates.iter().copied()) {
            crate::hir::args::capitalize(&dym)
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
    pub(super) fn check_stage(&mut self, stage: &Expr) {
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
        let Some(kind) = LayerKind::from_name(&callee.name) else {
            self.call(&callee, None, &[], stage.span);
            return;
        };
        if kind.joins_inputs() {
            return;
        }
        let sig = kind.schema();
        let (positional, named) = crate::hir::args::split_args(args);
        let what = format!("layer `{}`", sig.name);
        self.binder()
            .bind(sig, &positional, &named, stage.span, &what);
    }

    pub(super) fn call_layer(
        &mut self,
        kind: LayerKind,
        piped: Option<(LayerId, Span)>,
        args: &[Arg],
        span: Span,
    ) -> Val {
        let sig = kind.schema();
        let many = kind.joins_inputs();
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
        // They expand a block or another layer call rather than build one layer.
        if kind == LayerKind::Scan {
            return self.scan(&bound, inputs[0], span);
        }
        if kind == LayerKind::Bidirectional {
            return self.bidirectional(&bound, inputs[0], span);
        }
        let shapes: Vec<Vec<u64>> = inputs
            .iter()
            .map(|(id, _)| self.shape(*id).clone())
            .collect();
        let ins: Vec<In> = shapes
            .iter()
            .zip(&inputs)
            .map(|(shape, (id, span))| In {
                shape,
                span: *span,
                data: matches!(self.layers[id.0 as usize].op, crate::hir::LayerOp::Input),
            })
            .collect();
        let mut cx = LayerCx {
            diags: self.diags,
            call: span,
            layer: sig.name,
        };
        let Some((op, shape)) = cx.build(kind, &bound, &ins) else {
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

    pub(super) fn call_block(
        &mut self,
        block: &'a ast::Block,
        callee: &Ident,
        piped: Option<(LayerId, Span)>,
        args: &[Arg],
        span: Span,
    ) -> Val {
        if !self.may_expand(block, callee, span) {
            return Val::Error;
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
                                crate::hir::args::capitalize(&d),
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

        self.enter_instance(block, callee.span);
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
        self.leave_instance();
        result
    }

    /// Whether `block` may be expanded here: it is not already being expanded (recursion)
    /// and blocks are not nested too deep. Reports why not.
    pub(super) fn may_expand(&mut self, block: &'a ast::Block, callee: &Ident, span: Span) -> bool {
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
            return false;
        }
        if self.block_stack.len() >= MAX_BLOCK_DEPTH {
            self.error(
                codes::RESOLVE_TOO_LARGE,
                format!("blocks nested more than {MAX_BLOCK_DEPTH} deep"),
                span,
                "while expanding this",
                "Flatten the block structure.".into(),
            );
            return false;
        }
        true
    }

    /// Enters a new instance of `block`: its layers get the prefix `<block><n>.`.
    pub(super) fn enter_instance(&mut self, block: &'a ast::Block, callee: Span) {
        let instance = {
            let namer = self.namers.current();
            let n = namer.counters.entry(block.name.name.clone()).or_insert(0);
            *n += 1;
            format!("{}{}{n}.", namer.prefix, block.name.name)
        };
        self.namers.enter(instance);
        self.block_stack.push((&block.name.name, callee));
    }

    pub(super) fn leave_instance(&mut self) {
        self.block_stack.pop();
        self.namers.leave();
    }

    /// A block argument that is a setting rather than a tensor or a number: a bare name
    /// that is neither bound nor a layer (`orthogonal`), or a call of a constructor that is
    /// not a layer (`orthogonal(gain: 2)`, `sgd(lr: 0.1)`).
    pub(super) fn setting(&mut self, e: &Expr) -> Option<Value> {
        let is_layer = |this: &Self, n: &str| {
            LayerKind::from_name(n).is_some() || this.items.blocks.contains_key(n)
        };
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

    pub(super) fn block_body(&mut self, block: &'a ast::Block) -> Val {
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
