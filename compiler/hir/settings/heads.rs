//! Networks with several inputs and outputs: which feature columns feed each input (the data
//! block's `inputs`), which target column and loss each output learns (the data block's
//! `targets`, the train block's per-output `loss` and `loss_weights`), and the checks that
//! match those names to the trained network's `input` and `output` declarations.

use super::super::{DataDecl, Network, TrainDecl};
use super::Loss;
use crate::diagnostics::{codes, did_you_mean, Diagnostic};
use crate::source::Span;
use std::ops::Range;

/// A value given for one input or output, with the span of its name.
#[derive(Clone, Debug, PartialEq)]
pub struct Named<T> {
    pub name: String,
    pub span: Span,
    pub value: T,
}

/// A field holding one value per input or output name: `(image: ..., meta: ...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct PerName<T> {
    /// The field's span.
    pub span: Span,
    pub items: Vec<Named<T>>,
}

impl<T> PerName<T> {
    pub fn get(&self, name: &str) -> Option<&T> {
        self.items.iter().find(|n| n.name == name).map(|n| &n.value)
    }

    /// `(name: value, ...)`, each value written by `show` (the text `nnc ir` prints).
    pub fn show(&self, show: impl Fn(&T) -> String) -> String {
        let items: Vec<String> = self
            .items
            .iter()
            .map(|n| format!("{}: {}", n.name, show(&n.value)))
            .collect();
        format!("({})", items.join(", "))
    }
}

/// One network input and the feature columns it reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Feed {
    pub input: String,
    /// `None`: every feature column (a network with one input and no `inputs` field).
    pub columns: Option<Range<usize>>,
    pub shape: Vec<usize>,
}

/// One network output: what it learns and how much its loss weighs in the total.
#[derive(Clone, Debug, PartialEq)]
pub struct Head {
    pub output: String,
    pub loss: Loss,
    pub weight: f64,
    /// The data's target column it learns (0 unless the data block's `targets` says).
    pub column: usize,
    /// Values per example of the output.
    pub width: usize,
}

/// The inputs of `net` and their columns, in the network's order. Call after the checks.
pub fn feeds(net: &Network, data: &DataDecl) -> Vec<Feed> {
    net.inputs
        .iter()
        .map(|&id| {
            let layer = net.layer(id);
            Feed {
                input: layer.name.clone(),
                columns: data
                    .inputs
                    .as_ref()
                    .and_then(|i| i.get(&layer.name))
                    .cloned(),
                shape: layer.shape.iter().map(|&d| d as usize).collect(),
            }
        })
        .collect()
}

/// The loss of `output`: its own in a per-output `loss` record, else the train block's.
pub fn loss_of<'a>(train: &'a TrainDecl, output: &str) -> &'a Loss {
    train
        .losses
        .as_ref()
        .and_then(|l| l.get(output))
        .unwrap_or(&train.loss)
}

/// The weight of `output`'s loss in the total (`loss_weights`, else 1).
pub fn weight_of(train: &TrainDecl, output: &str) -> f64 {
    train
        .loss_weights
        .as_ref()
        .and_then(|w| w.get(output))
        .copied()
        .unwrap_or(1.0)
}

/// The outputs of `net` with their losses, weights and target columns, in the network's
/// order. Call after the checks.
pub fn heads(train: &TrainDecl, net: &Network, data: &DataDecl) -> Vec<Head> {
    net.outputs
        .iter()
        .map(|o| Head {
            output: o.name.clone(),
            loss: loss_of(train, &o.name).clone(),
            weight: weight_of(train, &o.name),
            column: data
                .targets
                .as_ref()
                .and_then(|t| t.get(&o.name))
                .map_or(0, |&c| c as usize),
            width: net.layer(o.layer).shape.iter().product::<u64>() as usize,
        })
        .collect()
}

/// Whether a train block trains several inputs or outputs (the paths that differ from one
/// input and one output).
pub fn is_multi(net: &Network) -> bool {
    net.inputs.len() != 1 || net.outputs.len() != 1
}

/// Every name-matching problem between the trained network and the per-name fields of its
/// data and train blocks. `train_span(field)` is the span of a train block's field.
pub fn check(
    decl: &TrainDecl,
    train_span: &dyn Fn(&str) -> Span,
    net: &Network,
    data: Option<&DataDecl>,
    error: &mut dyn FnMut(Diagnostic),
) {
    let inputs: Vec<&str> = net
        .inputs
        .iter()
        .map(|&i| net.layer(i).name.as_str())
        .collect();
    let outputs: Vec<&str> = net.outputs.iter().map(|o| o.name.as_str()).collect();
    if let Some(data) = data {
        match &data.inputs {
            Some(given) => {
                matched(given, &inputs, "input", &net.name, &format!("data block `{}`", data.name), error);
                for n in &given.items {
                    if let Some(&id) = net.inputs.iter().find(|&&i| net.layer(i).name == n.name) {
                        columns_fit(n, &net.layer(id).shape, error);
                    }
                }
                if data.shape.is_some() {
                    error(
                        Diagnostic::error(
                            codes::TRAIN_INVALID,
                            format!("data block `{}` has both `shape` and `inputs`", data.name),
                        )
                        .with_label(given.span, "each input takes its network shape")
                        .with_help("Leave out `shape`: the columns of each input are reshaped to that input's declared shape."),
                    );
                }
            }
            None if inputs.len() > 1 => error(
                Diagnostic::error(
                    codes::TRAIN_UNMATCHED,
                    format!(
                        "network `{}` has {} inputs, but data block `{}` does not say which columns feed each",
                        net.name,
                        inputs.len(),
                        data.name
                    ),
                )
                .with_label(train_span("network"), format!("reads {}", list(&inputs)))
                .with_label(data.span, "no `inputs` here")
                .with_help(format!(
                    "Add e.g. `inputs: ({}: columns(0, 64), ...)` to the data block, one entry per input.",
                    inputs[0]
                )),
            ),
            None => {}
        }
        match &data.targets {
            Some(given) => {
                let block = format!("data block `{}`", data.name);
                matched(given, &outputs, "output", &net.name, &block, error)
            }
            None if outputs.len() > 1 => error(
                Diagnostic::error(
                    codes::TRAIN_UNMATCHED,
                    format!(
                        "network `{}` has {} outputs, but data block `{}` does not say which target each learns",
                        net.name,
                        outputs.len(),
                        data.name
                    ),
                )
                .with_label(train_span("network"), format!("outputs {}", list(&outputs)))
                .with_label(data.span, "no `targets` here")
                .with_help(format!(
                    "Add e.g. `targets: ({}: 0, ...)` to the data block: each output's target column.",
                    outputs[0]
                )),
            ),
            None => {}
        }
    }
    let block = match &decl.name {
        Some(n) => format!("train block `{n}`"),
        None => "the train block".to_string(),
    };
    let block = block.as_str();
    if let Some(losses) = &decl.losses {
        matched(losses, &outputs, "output", &net.name, block, error);
    }
    if let Some(weights) = &decl.loss_weights {
        // Outputs left out weigh 1; a name that is not an output is a mistake.
        matched_some(weights, &outputs, "output", &net.name, block, error);
    }
    for head in &net.outputs {
        let loss = loss_of(decl, &head.name);
        let width: u64 = net.layer(head.layer).shape.iter().product();
        if outputs.len() > 1 && *loss == Loss::BinaryCrossEntropy && width != 1 {
            error(
                Diagnostic::error(
                    codes::TRAIN_INVALID,
                    format!("output `{}` has {width} values per example, but its loss `binary_cross_entropy` needs one logit", head.name),
                )
                .with_label(head.span, format!("{width} values"))
                .with_label(train_span("loss"), "one logit per example")
                .with_help("End that output with `dense(1)`, or give it `cross_entropy`."),
            );
        }
        if outputs.len() > 1 && loss.class_weights().is_some() {
            error(
                Diagnostic::error(
                    codes::TRAIN_INVALID,
                    "`class_weights` is not supported on a network with several outputs",
                )
                .with_label(train_span("loss"), "class weights here")
                .with_help("Leave out `class_weights`; `loss_weights` weighs whole outputs."),
            );
        }
    }
    if is_multi(net) {
        for (field, what) in [("rules", "logic rules"), ("teacher", "distillation")] {
            let used = match field {
                "rules" => decl.rules.is_some(),
                _ => decl.teacher.is_some(),
            };
            if used {
                error(
                    Diagnostic::error(
                        codes::TRAIN_INVALID,
                        format!(
                            "{what} need a network with one input and one output, but `{}` has {} and {}",
                            net.name,
                            inputs.len(),
                            outputs.len()
                        ),
                    )
                    .with_label(train_span(field), format!("{what} here"))
                    .with_label(train_span("network"), "several inputs or outputs")
                    .with_help(format!("Train a one-input, one-output network with `{field}`.")),
                );
            }
        }
    }
}

/// Every name of `given` must be one of `names` and every one of `names` must be given.
fn matched<T>(
    given: &PerName<T>,
    names: &[&str],
    what: &str,
    net: &str,
    block: &str,
    error: &mut dyn FnMut(Diagnostic),
) {
    matched_some(given, names, what, net, block, error);
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| given.get(name).is_none())
        .collect();
    if !missing.is_empty() {
        error(
            Diagnostic::error(
                codes::TRAIN_UNMATCHED,
                format!(
                    "{block} gives no value for the {what} {} of network `{net}`",
                    list(&missing)
                ),
            )
            .with_label(given.span, format!("missing {}", list(&missing)))
            .with_help(format!(
                "Give one entry per {what} of `{net}`: {}.",
                list(names)
            )),
        );
    }
}

/// Every name of `given` must be one of `names`.
fn matched_some<T>(
    given: &PerName<T>,
    names: &[&str],
    what: &str,
    net: &str,
    block: &str,
    error: &mut dyn FnMut(Diagnostic),
) {
    for n in &given.items {
        if !names.contains(&n.name.as_str()) {
            let help = match did_you_mean(&n.name, names.iter().copied()) {
                Some(dym) => super::super::args::capitalize(&dym),
                None => format!("The {what}s of `{net}` are {}.", list(names)),
            };
            error(
                Diagnostic::error(
                    codes::TRAIN_UNMATCHED,
                    format!(
                        "{block} names `{}`, which is not an {what} of network `{net}`",
                        n.name
                    ),
                )
                .with_label(n.span, format!("not an {what} of `{net}`"))
                .with_help(help),
            );
        }
    }
}

/// The columns `from..to` must be a non-empty range holding exactly the input's values.
fn columns_fit(n: &Named<Range<usize>>, shape: &[u64], error: &mut dyn FnMut(Diagnostic)) {
    let Range { start, end } = n.value;
    let needed = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    let have = end.saturating_sub(start) as u64;
    if start >= end || Some(have) != needed {
        let shape_text = super::super::shapes_show(shape);
        let needed = needed.map_or("too many".to_string(), |n| n.to_string());
        error(
            Diagnostic::error(
                codes::TRAIN_INPUT_COLUMNS,
                format!(
                    "input `{}` is {shape_text} ({needed} values), but `columns({start}, {end})` gives {have}",
                    n.name
                ),
            )
            .with_label(n.span, format!("{have} columns for {needed} values"))
            .with_help(format!(
                "Give `{}` {needed} columns, e.g. `columns({start}, {})`, or change the input's shape.",
                n.name,
                start as u64 + needed.parse::<u64>().unwrap_or(0)
            )),
        );
    }
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
