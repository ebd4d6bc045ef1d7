//! `data`, `train` and `rules` blocks: fields checked against their signatures, references
//! to other items resolved. They run in later stages; here they are only validated.

use super::args::{Binder, Bound, NoNames};
use super::layers::init_of;
use super::network::Items;
use super::schema::{self, Sig};
use super::value::{Ctor, Value};
use super::{Init, Program};
use crate::diagnostics::{codes, did_you_mean, Diagnostic, Diagnostics};
use crate::source::Span;
use crate::syntax::ast::{self, BinaryOp, Expr, ExprKind, Ident, UnaryOp};

#[derive(Clone, Debug)]
pub struct DataDecl {
    pub name: String,
    pub span: Span,
    pub source: Ctor,
    pub test: Option<Ctor>,
    pub split: f64,
    pub scale: Ctor,
    pub shape: Option<Vec<u64>>,
    pub classes: Option<Vec<String>>,
    pub features: Option<Vec<String>>,
}

#[derive(Clone, Debug)]
pub struct TrainDecl {
    pub name: Option<String>,
    pub span: Span,
    pub network: String,
    pub data: String,
    pub loss: Ctor,
    pub optimizer: Ctor,
    pub schedule: Ctor,
    pub warmup: u64,
    pub batch: u64,
    pub epochs: u64,
    pub seed: u64,
    pub init: Option<Init>,
    pub sampler: Ctor,
    pub metrics: Vec<String>,
    pub rules: Option<String>,
    /// (network, checkpoint path)
    pub teacher: Option<(String, String)>,
    /// (temperature, weight)
    pub distill: Option<(f64, f64)>,
}

#[derive(Clone, Debug)]
pub struct RuleInfo {
    pub name: String,
    pub weight: f64,
    pub formula: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct RulesDecl {
    pub name: String,
    pub span: Span,
    pub strength: f64,
    pub imitation: Option<Expr>,
    pub rules: Vec<RuleInfo>,
}

/// Binds a block's fields. The fields that are valid are returned even if others are not,
/// so that their own checks (references, data set names) still run; `ok` says whether
/// every field was valid.
fn bind_section(
    section: &ast::Section,
    sig: &Sig,
    what: &str,
    diags: &mut Diagnostics,
) -> (Bound, bool) {
    let named: Vec<(&Ident, &Expr)> = section.fields.iter().map(|f| (&f.key, &f.value)).collect();
    let span = section.name.as_ref().map_or(section.span, |n| n.span);
    let mut binder = Binder {
        names: &NoNames,
        diags,
    };
    binder.bind_all(sig, &[], &named, span, what)
}

fn ctor(b: &Bound, name: &str) -> Option<Ctor> {
    match b.get(name) {
        Some(Value::Ctor(c)) => Some(c.clone()),
        _ => None,
    }
}

fn strings(b: &Bound, name: &str) -> Option<Vec<String>> {
    match b.get(name) {
        Some(Value::List(items)) => Some(
            items
                .iter()
                .map(|v| match v {
                    Value::Str(s) | Value::Sym(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        ),
        _ => None,
    }
}

pub fn resolve(items: &Items, program: &mut Program, diags: &mut Diagnostics) {
    for section in &items.data {
        let name = section
            .name
            .as_ref()
            .map_or(String::new(), |n| n.name.clone());
        let (b, ok) = bind_section(
            section,
            &schema::DATA_FIELDS,
            &format!("data block `{name}`"),
            diags,
        );
        match data_decl(name, section.span, &b, diags) {
            Some(decl) if ok => program.data.push(decl),
            _ => {}
        }
    }
    for rules in &items.rules {
        if let Some(decl) = rules_decl(rules, diags) {
            program.rules.push(decl);
        }
    }
    for section in &items.trains {
        let what = match &section.name {
            Some(n) => format!("train block `{}`", n.name),
            None => "the train block".to_string(),
        };
        let (b, ok) = bind_section(section, &schema::TRAIN_FIELDS, &what, diags);
        match train_decl(section, &b, items, diags) {
            Some(decl) if ok => program.trains.push(decl),
            _ => {}
        }
    }
}

fn data_decl(name: String, span: Span, b: &Bound, diags: &mut Diagnostics) -> Option<DataDecl> {
    let source = ctor(b, "source")?;
    let test = ctor(b, "test");
    for (field, c) in [("source", Some(&source)), ("test", test.as_ref())] {
        if let Some(c) = c {
            check_source(c, b.span(field), diags)?;
        }
    }
    let shape = match b.get("shape") {
        Some(Value::List(dims)) => Some(
            dims.iter()
                .map(|d| match d {
                    Value::Int(i) => *i as u64,
                    _ => 1,
                })
                .collect(),
        ),
        _ => None,
    };
    Some(DataDecl {
        name,
        span,
        source,
        test,
        split: b.f64("split"),
        scale: ctor(b, "scale")?,
        shape,
        classes: strings(b, "classes"),
        features: strings(b, "features"),
    })
}

/// `builtin` names real data shipped with nnc, `synthetic` a generator; a generator's
/// parameters are checked against the runtime's table, which also documents them.
fn check_source(c: &Ctor, span: Span, diags: &mut Diagnostics) -> Option<()> {
    use nnc_runtime::data::BUILTINS;
    let known: Vec<&str> = match c.name.as_str() {
        "builtin" => schema::BUILTIN.to_vec(),
        "synthetic" => BUILTINS
            .iter()
            .map(|b| b.name)
            .filter(|n| !schema::BUILTIN.contains(n))
            .collect(),
        _ => return Some(()),
    };
    let set = c.sym("name");
    if !known.contains(&set) {
        let mut help = format!(
            "`{}` knows: {}.",
            c.name,
            known
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(dym) = did_you_mean(set, known.iter().copied()) {
            help = format!("{} {help}", super::args::capitalize(&dym));
        }
        diags.push(
            Diagnostic::error(
                codes::ARG_TYPE,
                format!("unknown {} data set \"{set}\"", c.name),
            )
            .with_label(span, "not a known data set")
            .with_help(help),
        );
        return None;
    }
    let info = BUILTINS.iter().find(|b| b.name == set)?;
    for (arg, _) in c.args.iter().filter(|(n, _)| n != "name") {
        if !info.params.iter().any(|p| p.name == arg) {
            let names: Vec<&str> = info.params.iter().map(|p| p.name).collect();
            let mut help = if names.is_empty() {
                format!("\"{set}\" takes no parameters.")
            } else {
                format!(
                    "\"{set}\" takes: {}.",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            if let Some(dym) = did_you_mean(arg, names.iter().copied()) {
                help = format!("{} {help}", super::args::capitalize(&dym));
            }
            diags.push(
                Diagnostic::error(
                    codes::ARG_UNKNOWN,
                    format!("unknown parameter `{arg}` for \"{set}\""),
                )
                .with_label(span, "in this source")
                .with_help(help),
            );
            return None;
        }
    }
    Some(())
}

fn missing_reference(
    diags: &mut Diagnostics,
    what: &str,
    name: &str,
    span: Span,
    candidates: &[&str],
) {
    let help = match did_you_mean(name, candidates.iter().copied()) {
        Some(dym) => super::args::capitalize(&dym),
        None if candidates.is_empty() => format!("Define one: `{what} {name} {{ ... }}`."),
        None => format!(
            "The {what} blocks are: {}.",
            candidates
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    diags.push(
        Diagnostic::error(
            codes::TRAIN_REFERENCE,
            format!("no {what} block named `{name}`"),
        )
        .with_label(span, format!("not a {what}"))
        .with_help(help),
    );
}

fn train_decl(
    section: &ast::Section,
    b: &Bound,
    items: &Items,
    diags: &mut Diagnostics,
) -> Option<TrainDecl> {
    let networks: Vec<&str> = items
        .networks
        .iter()
        .map(|n| n.name.name.as_str())
        .collect();
    let data: Vec<&str> = items
        .data
        .iter()
        .filter_map(|d| d.name.as_ref())
        .map(|n| n.name.as_str())
        .collect();
    let rules: Vec<&str> = items
        .rules
        .iter()
        .filter_map(|r| r.section.name.as_ref())
        .map(|n| n.name.as_str())
        .collect();
    let mut ok = true;
    let mut reference =
        |field: &str, what: &str, known: &[&str], diags: &mut Diagnostics| -> Option<String> {
            let name = match b.get(field) {
                Some(Value::Sym(s)) => s.clone(),
                _ => return None,
            };
            if !known.contains(&name.as_str()) {
                missing_reference(diags, what, &name, b.span(field), known);
                ok = false;
            }
            Some(name)
        };
    let network = reference("network", "network", &networks, diags);
    let data_name = reference("data", "data", &data, diags);
    let rules_name = reference("rules", "rules", &rules, diags);
    let teacher = match b.get("teacher") {
        Some(Value::From(net, path)) => {
            if !networks.contains(&net.as_str()) {
                missing_reference(diags, "network", net, b.span("teacher"), &networks);
                ok = false;
            }
            Some((net.clone(), path.clone()))
        }
        _ => None,
    };
    let distill = match b.get("distill") {
        Some(Value::Record(fields)) => {
            // Missing fields take the defaults of schema::DISTILL_FIELDS.
            let get = |k: &str, default: f64| {
                fields
                    .iter()
                    .find(|(n, _)| n == k)
                    .and_then(|(_, v)| v.as_f64())
                    .unwrap_or(default)
            };
            Some((get("temperature", 4.0), get("weight", 0.9)))
        }
        _ => None,
    };
    if distill.is_some() && teacher.is_none() {
        diags.push(
            Diagnostic::error(codes::TRAIN_INVALID, "`distill` needs a `teacher`")
                .with_label(b.span("distill"), "no teacher to distill from")
                .with_help("Add `teacher: NETWORK from \"checkpoint.safetensors\"`."),
        );
        ok = false;
    }
    let loss = ctor(b, "loss")?;
    let sampler = ctor(b, "sampler")?;
    if loss.name == "mse" && sampler.name != "uniform" {
        diags.push(
            Diagnostic::error(
                codes::TRAIN_INVALID,
                format!(
                    "sampler `{}` needs class labels, but the loss is `mse`",
                    sampler.name
                ),
            )
            .with_label(b.span("sampler"), "a class-based sampler")
            .with_label(b.span("loss"), "a regression loss")
            .with_help("Use `sampler: uniform` for regression, or a classification loss."),
        );
        ok = false;
    }
    let rebalancing = ["balanced", "weighted", "oversample", "undersample"];
    if loss.get("class_weights").is_some() && rebalancing.contains(&sampler.name.as_str()) {
        // Both fix the class frequencies the loss sees: together they over-correct, e.g.
        // balanced batches and balanced weights weigh a 1:20 minority 400 times more.
        diags.push(
            Diagnostic::warning(
                codes::TRAIN_DOUBLE_CORRECTION,
                format!(
                    "sampler `{}` and the loss's `class_weights` both correct the class imbalance",
                    sampler.name
                ),
            )
            .with_label(b.span("sampler"), "re-balances the batches")
            .with_label(b.span("loss"), "re-weights the classes")
            .with_help("Keep one of the two: `sampler: uniform` with class weights, or the sampler without `class_weights`."),
        );
    }
    let init = match b.get("init") {
        Some(Value::Ctor(c)) => {
            let init = init_of(c);
            if !super::layers::check_init(&init, b.span("init"), diags) {
                ok = false;
            }
            if init == Init::LooksLinear {
                diags.push(
                    Diagnostic::error(
                        codes::INIT_INVALID,
                        "`looks_linear` cannot be a default for every layer",
                    )
                    .with_label(b.span("init"), "applies to layers after `crelu` only")
                    .with_help("Give `init: looks_linear` to the layers that follow `crelu`."),
                );
                ok = false;
            }
            Some(init)
        }
        _ => None,
    };
    let _ = section;
    if !ok {
        return None;
    }
    Some(TrainDecl {
        name: section.name.as_ref().map(|n| n.name.clone()),
        span: section.span,
        network: network?,
        data: data_name?,
        loss,
        optimizer: ctor(b, "optimizer")?,
        schedule: ctor(b, "schedule")?,
        warmup: b.u64("warmup"),
        batch: b.u64("batch"),
        epochs: b.u64("epochs"),
        seed: b.u64("seed"),
        init,
        sampler,
        metrics: strings(b, "metrics").unwrap_or_default(),
        rules: rules_name,
        teacher,
        distill,
    })
}

fn rules_decl(rules: &ast::Rules, diags: &mut Diagnostics) -> Option<RulesDecl> {
    let name = rules
        .section
        .name
        .as_ref()
        .map_or(String::new(), |n| n.name.clone());
    let (b, fields_ok) = bind_section(
        &rules.section,
        &schema::RULES_FIELDS,
        &format!("rules block `{name}`"),
        diags,
    );
    let before = diags.len();
    let imitation = match b.get("imitation") {
        Some(Value::Formula(e)) => {
            check_formula(e, &Formula::Schedule, diags);
            Some((**e).clone())
        }
        _ => None,
    };
    let mut out = Vec::new();
    let mut seen: Vec<(&str, Span)> = Vec::new();
    for rule in &rules.rules {
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == rule.name.name) {
            diags.push(
                Diagnostic::error(
                    codes::RESOLVE_DUPLICATE,
                    format!("duplicate rule `{}`", rule.name.name),
                )
                .with_label(rule.name.span, "declared again here")
                .with_label(*first, "first declared here")
                .with_help("Give each rule a different name."),
            );
            continue;
        }
        seen.push((&rule.name.name, rule.name.span));
        let (positional, named) = super::args::split_args(&rule.args);
        let mut binder = Binder {
            names: &NoNames,
            diags,
        };
        let Some(args) = binder.bind(
            &schema::RULE_ARGS,
            &positional,
            &named,
            rule.span,
            &format!("rule `{}`", rule.name.name),
        ) else {
            continue;
        };
        check_formula(&rule.formula, &Formula::Rule, diags);
        out.push(RuleInfo {
            name: rule.name.name.clone(),
            weight: args.f64("weight"),
            formula: rule.formula.clone(),
            span: rule.span,
        });
    }
    if diags.len() != before || !fields_ok {
        return None;
    }
    Some(RulesDecl {
        name,
        span: rules.section.span,
        strength: b.f64("strength"),
        imitation,
        rules: out,
    })
}

enum Formula {
    /// pi as a function of `epoch`: numbers, arithmetic, min, max.
    Schedule,
    /// A rule: features, fields, predictions, the class, connectives.
    Rule,
}

/// Checks the structure of a formula: known functions with the right arity, operators
/// allowed in its kind. Names (classes, features) are checked against the data later.
fn check_formula(e: &Expr, kind: &Formula, diags: &mut Diagnostics) {
    let bad = |diags: &mut Diagnostics, span: Span, msg: String, help: &str| {
        diags.push(
            Diagnostic::error(codes::RULES_INVALID, msg)
                .with_label(span, "here")
                .with_help(help),
        );
    };
    match (&e.kind, kind) {
        (ExprKind::Number(_), _) | (ExprKind::Error, _) => {}
        (ExprKind::Name(n), Formula::Schedule) => {
            if n != "epoch" {
                bad(
                    diags,
                    e.span,
                    format!("unknown name `{n}` in the imitation schedule"),
                    "The schedule is an expression of `epoch`, e.g. `min(0.95, 1 - 0.9^epoch)`.",
                );
            }
        }
        (ExprKind::Name(_), Formula::Rule) | (ExprKind::Str(_), Formula::Rule) => {}
        (ExprKind::Unary { op, operand }, _) => {
            if *op == UnaryOp::Not && matches!(kind, Formula::Schedule) {
                bad(
                    diags,
                    e.span,
                    "`not` in the imitation schedule".into(),
                    "The schedule is arithmetic on `epoch`.",
                );
            }
            check_formula(operand, kind, diags);
        }
        (ExprKind::Binary { op, lhs, rhs }, _) => {
            let logic = matches!(
                op,
                BinaryOp::Iff
                    | BinaryOp::Implies
                    | BinaryOp::Or
                    | BinaryOp::And
                    | BinaryOp::Eq
                    | BinaryOp::Ne
                    | BinaryOp::Lt
                    | BinaryOp::Le
                    | BinaryOp::Gt
                    | BinaryOp::Ge
            );
            if *op == BinaryOp::From || (logic && matches!(kind, Formula::Schedule)) {
                bad(
                    diags,
                    e.span,
                    format!("`{}` is not allowed here", op.symbol()),
                    "Check the formula against docs/language.md, section Rules.",
                );
            }
            check_formula(lhs, kind, diags);
            check_formula(rhs, kind, diags);
        }
        (ExprKind::Call { callee, args }, _) => {
            let arity = match (callee.name.as_str(), kind) {
                ("min" | "max", _) => 2,
                ("feature" | "field" | "predict", Formula::Rule) => 1,
                _ => {
                    let known = match kind {
                        Formula::Schedule => "`min` and `max`",
                        Formula::Rule => "`feature`, `field`, `predict`, `min` and `max`",
                    };
                    bad(
                        diags,
                        callee.span,
                        format!("unknown function `{}`", callee.name),
                        &format!("The functions here are {known}."),
                    );
                    return;
                }
            };
            if args.len() != arity || args.iter().any(|a| a.name.is_some()) {
                bad(
                    diags,
                    e.span,
                    format!("`{}` takes {arity} positional argument(s)", callee.name),
                    "See docs/language.md, section Rules.",
                );
                return;
            }
            for a in args {
                check_formula(&a.value, kind, diags);
            }
        }
        _ => bad(
            diags,
            e.span,
            "this expression is not allowed in a formula".into(),
            "See docs/language.md, section Rules.",
        ),
    }
}
