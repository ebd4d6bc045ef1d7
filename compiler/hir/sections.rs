//! `data`, `train` and `rules` blocks: fields checked against their signatures, references
//! to other items resolved. They run in later stages; here they are only validated.

use super::args::{Binder, Bound, NoNames};
use super::items::Items;
use super::layers::typed_init;
use super::schema::{self, Sig};
use super::settings::heads::{Named, PerName};
use super::settings::{
    self, Distill, EarlyStopping, Loss, Optimizer, Sampler, Scale, Schedule, Source, Teacher,
};
use super::value::{Ctor, Value};
use super::{Init, Program};
use crate::diagnostics::{codes, did_you_mean, Diagnostic, Diagnostics};
use crate::source::Span;
use crate::syntax::ast::{self, Expr, ExprKind, Ident};
use std::ops::Range;

#[derive(Clone, Debug)]
pub struct DataDecl {
    pub name: String,
    pub span: Span,
    pub source: Source,
    pub test: Option<Source>,
    pub split: f64,
    /// Fraction of the training part held out for validation (0: none).
    pub validation: f64,
    pub scale: Scale,
    pub shape: Option<Vec<u64>>,
    pub classes: Option<Vec<String>>,
    pub features: Option<Vec<String>>,
    /// The feature columns of each network input (networks with several inputs).
    pub inputs: Option<PerName<Range<usize>>>,
    /// The target column of each network output (networks with several outputs).
    pub targets: Option<PerName<u64>>,
}

#[derive(Clone, Debug)]
pub struct TrainDecl {
    pub name: Option<String>,
    pub span: Span,
    pub network: String,
    pub data: String,
    pub loss: Loss,
    pub optimizer: Optimizer,
    pub schedule: Schedule,
    pub warmup: u64,
    pub batch: u64,
    pub epochs: u64,
    pub seed: u64,
    pub init: Option<Init>,
    pub sampler: Sampler,
    pub metrics: Vec<String>,
    pub rules: Option<String>,
    /// The distillation teacher, with its `distill` settings.
    pub teacher: Option<Teacher>,
    pub early_stopping: Option<EarlyStopping>,
    /// Gradient clipping: the global L2 norm's bound, and each component's.
    pub clip_norm: Option<f64>,
    pub clip_value: Option<f64>,
    /// One loss per output, when `loss` is a record (`loss` is then the first of them).
    pub losses: Option<PerName<Loss>>,
    /// Each output's weight in the total loss; outputs left out weigh 1.
    pub loss_weights: Option<PerName<f64>>,
}

/// Binds a block's fields. The fields that are valid are returned even if others are not,
/// so that their own checks (references, data set names) still run; `ok` says whether
/// every field was valid.
pub(super) fn bind_section(
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

fn ctor<'b>(b: &'b Bound, name: &str) -> Option<&'b Ctor> {
    match b.get(name) {
        Some(Value::Ctor(c)) => Some(c),
        _ => None,
    }
}

/// The typed form of the constructor in field `name`. The binder checked the call against
/// the schema; a call that still does not fit its typed form is reported at the field.
fn typed<T>(
    b: &Bound,
    name: &str,
    build: fn(&Ctor) -> Result<T, settings::Unfit>,
    diags: &mut Diagnostics,
) -> Option<T> {
    match build(ctor(b, name)?) {
        Ok(t) => Some(t),
        Err(unfit) => {
            diags.push(
                Diagnostic::error(codes::ARG_TYPE, format!("`{name}`: {unfit}"))
                    .with_label(b.span(name), "here")
                    .with_help("This is a bug in nnc's schema; please report it with the spec."),
            );
            None
        }
    }
}

/// A field bound as a record of one value per name (`Ty::PerName`), with the spans of the
/// names read from the section's syntax; `convert` types each value.
fn per_name<T>(
    b: &Bound,
    section: &ast::Section,
    field: &str,
    convert: impl Fn(&Value) -> Option<T>,
) -> Option<PerName<T>> {
    let Some(Value::Record(values)) = b.get(field) else {
        return None;
    };
    let keys: Vec<&Ident> = section
        .fields
        .iter()
        .filter(|f| f.key.name == field)
        .find_map(|f| match &f.value.kind {
            ExprKind::Record(entries) => Some(entries.iter().map(|(k, _)| k).collect()),
            _ => None,
        })
        .unwrap_or_default();
    let items = values
        .iter()
        .map(|(name, value)| {
            Some(Named {
                name: name.clone(),
                span: keys
                    .iter()
                    .find(|k| &k.name == name)
                    .map_or(b.span(field), |k| k.span),
                value: convert(value)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(PerName {
        span: b.span(field),
        items,
    })
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
        match data_decl(name, section, &b, diags) {
            Some(decl) if ok => program.data.push(decl),
            _ => {}
        }
    }
    for rules in &items.rules {
        if let Some(decl) = super::rules_block::rules_decl(rules, diags) {
            program.rules.push(decl);
        }
    }
    for section in &items.trains {
        let what = match &section.name {
            Some(n) => format!("train block `{}`", n.name),
            None => "the train block".to_string(),
        };
        let (b, ok) = bind_section(section, &schema::TRAIN_FIELDS, &what, diags);
        match train_decl(section, &b, items, program, diags) {
            Some(decl) if ok => program.trains.push(decl),
            _ => {}
        }
    }
}

fn data_decl(
    name: String,
    section: &ast::Section,
    b: &Bound,
    diags: &mut Diagnostics,
) -> Option<DataDecl> {
    let span = section.span;
    for field in ["source", "test"] {
        if let Some(c) = ctor(b, field) {
            check_source(c, b.span(field), diags)?;
        }
    }
    let source = typed(b, "source", Source::from_ctor, diags)?;
    let test = match ctor(b, "test") {
        Some(_) => Some(typed(b, "test", Source::from_ctor, diags)?),
        None => None,
    };
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
    let split = b.f64("split");
    if split >= 1.0 && test.is_none() {
        diags.push(
            Diagnostic::error(
                codes::ARG_RANGE,
                "`split: 1` trains on every example and leaves none to test on",
            )
            .with_label(b.span("split"), "no test examples")
            .with_help("Give a fraction below 1, e.g. `split: 0.8`, or a separate `test:` source."),
        );
        return None;
    }
    Some(DataDecl {
        name,
        span,
        source,
        test,
        split,
        validation: b.f64("validation"),
        scale: typed(b, "scale", Scale::from_ctor, diags)?,
        shape,
        classes: strings(b, "classes"),
        features: strings(b, "features"),
        inputs: per_name(b, section, "inputs", |v| match v {
            Value::Ctor(c) => {
                let (from, to) = (c.i64("from").max(0), c.i64("to").max(0));
                Some(from as usize..to as usize)
            }
            _ => None,
        }),
        targets: per_name(b, section, "targets", |v| match v {
            Value::Int(i) => Some((*i).max(0) as u64),
            _ => None,
        }),
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
        "csv" => {
            let delimiter = c.sym("delimiter");
            if delimiter.len() != 1 {
                diags.push(
                    Diagnostic::error(
                        codes::ARG_RANGE,
                        format!("the CSV delimiter {delimiter:?} is not one character"),
                    )
                    .with_label(span, "in this source")
                    .with_help("Give one ASCII character, e.g. `delimiter: \";\"` or `delimiter: \"\\t\"`."),
                );
                return None;
            }
            return Some(());
        }
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
    program: &Program,
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
    let distill = match b.get("distill") {
        Some(Value::Record(fields)) => Some(Distill::from_record(fields)),
        _ => None,
    };
    let teacher = match b.get("teacher") {
        Some(Value::From(net, path)) => {
            if !networks.contains(&net.as_str()) {
                missing_reference(diags, "network", net, b.span("teacher"), &networks);
                ok = false;
            }
            // Without a `distill` record, the schema's defaults.
            let distill = distill.clone().unwrap_or_else(|| {
                let mut binder = Binder {
                    names: &NoNames,
                    diags,
                };
                let defaults = binder
                    .bind(
                        &schema::DISTILL_FIELDS,
                        &[],
                        &[],
                        b.span("teacher"),
                        "distill",
                    )
                    .map(|bound| {
                        bound
                            .args
                            .into_iter()
                            .filter_map(|a| a.value.map(|v| (a.name.to_string(), v)))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                Distill::from_record(&defaults)
            });
            match distill {
                Ok(distill) => Some(Teacher {
                    network: net.clone(),
                    checkpoint: path.clone(),
                    distill,
                }),
                Err(unfit) => {
                    diags.push(
                        Diagnostic::error(codes::ARG_TYPE, format!("`distill`: {unfit}"))
                            .with_label(b.span("distill"), "here")
                            .with_help(
                                "This is a bug in nnc's schema; please report it with the spec.",
                            ),
                    );
                    ok = false;
                    None
                }
            }
        }
        _ => None,
    };
    if distill.is_some() && teacher.is_none() && b.get("teacher").is_none() {
        diags.push(
            Diagnostic::error(codes::TRAIN_INVALID, "`distill` needs a `teacher`")
                .with_label(b.span("distill"), "no teacher to distill from")
                .with_help("Add `teacher: NETWORK from \"checkpoint.safetensors\"`."),
        );
        ok = false;
    }
    let early_stopping = match b.get("early_stopping") {
        Some(Value::Record(fields)) => match EarlyStopping::from_record(fields) {
            Ok(e) => Some(e),
            Err(unfit) => {
                diags.push(
                    Diagnostic::error(codes::ARG_TYPE, format!("`early_stopping`: {unfit}"))
                        .with_label(b.span("early_stopping"), "here")
                        .with_help(
                            "This is a bug in nnc's schema; please report it with the spec.",
                        ),
                );
                ok = false;
                None
            }
        },
        _ => None,
    };
    let optional_f64 = |name: &str| b.get(name).and_then(Value::as_f64);
    let (loss, losses) = match b.get("loss") {
        Some(Value::Record(_)) => {
            let losses = per_name(b, section, "loss", |v| match v {
                Value::Ctor(c) => Loss::from_ctor(c).ok(),
                _ => None,
            });
            let first = losses
                .as_ref()
                .and_then(|l| l.items.first())
                .map(|n| n.value.clone());
            (first, losses)
        }
        _ => (typed(b, "loss", Loss::from_ctor, diags), None),
    };
    let sampler = typed(b, "sampler", Sampler::from_ctor, diags);
    let optimizer = typed(b, "optimizer", Optimizer::from_ctor, diags);
    let schedule = typed(b, "schedule", Schedule::from_ctor, diags);
    let init = match b.get("init") {
        Some(Value::Ctor(c)) => {
            let init = typed_init(c, b.span("init"), diags)?;
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
    let decl = TrainDecl {
        name: section.name.as_ref().map(|n| n.name.clone()),
        span: section.span,
        network: network?,
        data: data_name?,
        loss: loss?,
        optimizer: optimizer?,
        schedule: schedule?,
        warmup: b.u64("warmup"),
        batch: b.u64("batch"),
        epochs: b.u64("epochs"),
        seed: b.u64("seed"),
        init,
        sampler: sampler?,
        metrics: strings(b, "metrics").unwrap_or_default(),
        rules: rules_name,
        teacher,
        early_stopping,
        clip_norm: optional_f64("clip_norm"),
        clip_value: optional_f64("clip_value"),
        losses,
        loss_weights: per_name(b, section, "loss_weights", Value::as_f64),
    };
    if !settings::checks::train(&decl, b, program, diags) {
        ok = false;
    }
    ok.then_some(decl)
}
