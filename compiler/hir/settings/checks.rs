//! The checks of a train block that need only the spec: its settings against each other,
//! against the networks it names (inputs, outputs, the teacher's shape), the rules block's
//! imitation schedule over its epochs, and the class names its data block declares. What
//! needs the data itself (labels, feature names, counts) is checked when training starts.

use super::super::args::Bound;
use super::super::{Network, Program, TrainDecl};
use super::formula::pi_out_of_range;
use super::{ClassWeights, Loss, Sampler, Shape};
use crate::diagnostics::{codes, Diagnostic, Diagnostics};

/// Reports every spec-only problem of `decl`; false if one is an error. `b` holds the
/// fields' spans.
pub fn train(decl: &TrainDecl, b: &Bound, program: &Program, diags: &mut Diagnostics) -> bool {
    let before = diags.iter().filter(|d| d.is_error()).count();
    let mut error = |d: Diagnostic| diags.push(d);
    if decl.loss == Loss::Mse && decl.sampler != Sampler::Uniform {
        error(
            Diagnostic::error(
                codes::TRAIN_INVALID,
                format!(
                    "sampler `{}` needs class labels, but the loss is `mse`",
                    decl.sampler.name()
                ),
            )
            .with_label(b.span("sampler"), "a class-based sampler")
            .with_label(b.span("loss"), "a regression loss")
            .with_help("Use `sampler: uniform` for regression, or a classification loss."),
        );
    }
    if let Loss::CrossEntropy {
        label_smoothing,
        class_weights: Some(_),
    } = decl.loss
    {
        if label_smoothing > 0.0 {
            // PyTorch weighs each class's share of the smoothed target by that class's
            // weight, nnc weighs each example: refused rather than silently different.
            error(
                Diagnostic::error(
                    codes::TRAIN_INVALID,
                    "`label_smoothing` and `class_weights` cannot be combined",
                )
                .with_label(b.span("loss"), "both in this loss")
                .with_help("Keep one of the two: smoothing regularises, class weights re-balance."),
            );
        }
    }
    let extras_need_ce = decl.rules.is_some() || decl.teacher.is_some();
    let is_ce = matches!(decl.loss, Loss::CrossEntropy { .. });
    if extras_need_ce && !is_ce {
        let (field, what) = if decl.rules.is_some() {
            ("rules", "logic rules")
        } else {
            ("teacher", "distillation")
        };
        error(
            Diagnostic::error(
                codes::TRAIN_INVALID,
                format!("{what} train on class probabilities and need `cross_entropy`"),
            )
            .with_label(b.span("loss"), "not `cross_entropy`")
            .with_label(b.span(field), format!("{what} here"))
            .with_help(format!("Use `loss: cross_entropy` with `{field}`.")),
        );
    }
    if let Some(net) = program.network(&decl.network) {
        network_checks(decl, net, b, program, &mut error);
    }
    if let Some(rules) = decl
        .rules
        .as_ref()
        .and_then(|name| program.rules.iter().find(|r| &r.name == name))
    {
        if let Some((epoch, pi)) = pi_out_of_range(rules.imitation.as_ref(), decl.epochs) {
            error(
                Diagnostic::error(
                    codes::RULES_INVALID,
                    format!(
                        "rules block `{}`: the imitation schedule gives pi = {pi} at epoch {epoch}, outside [0, 1]",
                        rules.name
                    ),
                )
                .with_label(rules.imitation.as_ref().map_or(rules.span, |e| e.span), "this schedule")
                .with_label(b.span("epochs"), format!("trained for {} epochs", decl.epochs))
                .with_help("pi weighs the teacher's targets against the labels; clamp it, e.g. `min(0.95, 1 - 0.9^epoch)`."),
            );
        }
    }
    validation_checks(decl, b, program, &mut error);
    if decl.loss.class_weights().is_some() && decl.sampler.rebalances() {
        // Both fix the class frequencies the loss sees: together they over-correct, e.g.
        // balanced batches and balanced weights weigh a 1:20 minority 400 times more.
        diags.push(
            Diagnostic::warning(
                codes::TRAIN_DOUBLE_CORRECTION,
                format!(
                    "sampler `{}` and the loss's `class_weights` both correct the class imbalance",
                    decl.sampler.name()
                ),
            )
            .with_label(b.span("sampler"), "re-balances the batches")
            .with_label(b.span("loss"), "re-weights the classes")
            .with_help("Keep one of the two: `sampler: uniform` with class weights, or the sampler without `class_weights`."),
        );
    }
    diags.iter().filter(|d| d.is_error()).count() == before
}

/// Inputs and outputs matched to the data (`heads`); with one of each, a loss that fits
/// the output width, a teacher
/// that reads the same input and predicts as many values, and per-class settings that
/// match the classes the data block names.
fn network_checks(
    decl: &TrainDecl,
    net: &Network,
    b: &Bound,
    program: &Program,
    error: &mut impl FnMut(Diagnostic),
) {
    let data = program.data.iter().find(|d| d.name == decl.data);
    super::heads::check(decl, &|f| b.span(f), net, data, error);
    if super::heads::is_multi(net) {
        return;
    }
    let width = width(net);
    if decl.loss == Loss::BinaryCrossEntropy && width != 1 {
        error(
            Diagnostic::error(
                codes::TRAIN_INVALID,
                format!("binary_cross_entropy needs one logit per example, but the network outputs {width}"),
            )
            .with_label(b.span("loss"), "one logit per example")
            .with_label(b.span("network"), format!("{width} outputs"))
            .with_help("End the network with `dense(1)`, or use `cross_entropy` for several classes."),
        );
    }
    if let Some(teacher) = &decl.teacher {
        if let Some(t) = program.network(&teacher.network) {
            let shape = |n: &Network| (n.layer(n.inputs[0]).shape.clone(), self::width(n));
            if t.inputs.len() != 1 || t.outputs.len() != 1 || shape(t) != shape(net) {
                let describe = |n: &Network| {
                    if n.inputs.len() == 1 && n.outputs.len() == 1 {
                        let (i, o) = shape(n);
                        format!("maps {} to {o} outputs", super::super::shapes_show(&i))
                    } else {
                        format!(
                            "has {} inputs and {} outputs",
                            n.inputs.len(),
                            n.outputs.len()
                        )
                    }
                };
                error(
                    Diagnostic::error(
                        codes::TRAIN_INVALID,
                        format!(
                            "teacher `{}` {}, the student `{}` {}",
                            t.name,
                            describe(t),
                            net.name,
                            describe(net)
                        ),
                    )
                    .with_label(b.span("teacher"), "the teacher")
                    .with_label(b.span("network"), "the student")
                    .with_help(
                        "The teacher must read the student's input and predict the same classes.",
                    ),
                );
            }
        }
    }
    let input = &net.layer(net.inputs[0]).shape;
    if let Some(shape) = data.and_then(|d| d.shape.as_ref()) {
        // The data's features become `shape`, then the network's input: both hold every
        // feature, so their sizes must agree.
        let size = |s: &[u64]| s.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        if size(shape) != size(input) {
            let show = super::super::shapes_show;
            error(
                Diagnostic::error(
                    codes::TRAIN_INVALID,
                    format!(
                        "data block `{}` shapes examples as {}, but network `{}` reads {}",
                        decl.data,
                        show(shape),
                        net.name,
                        show(input)
                    ),
                )
                .with_label(b.span("data"), format!("examples shaped {}", show(shape)))
                .with_label(b.span("network"), format!("reads {}", show(input)))
                .with_help("Give the data block a `shape` with as many values as the network's input, or leave `shape` out."),
            );
        }
    }
    let Some(classes) = data.and_then(|d| d.classes.as_ref()) else {
        return;
    };
    let n = classes.len();
    let predicts = match decl.loss {
        Loss::CrossEntropy { .. } => Some(width),
        Loss::BinaryCrossEntropy => Some(2),
        Loss::Mse => None,
    };
    if let Some(k) = predicts.filter(|&k| n > k) {
        error(
            Diagnostic::error(
                codes::TRAIN_INVALID,
                format!(
                    "data block `{}` names {n} classes but the network predicts {k}",
                    decl.data
                ),
            )
            .with_label(b.span("network"), format!("predicts {k} classes"))
            .with_label(b.span("data"), format!("{n} classes"))
            .with_help(format!(
                "Give the network's last layer {n} outputs, e.g. `dense({n})`."
            )),
        );
    }
    let mut per_class = |field: &str, what: &str, weights: &[f64]| {
        if weights.len() != n {
            error(
                Diagnostic::error(
                    codes::TRAIN_INVALID,
                    format!(
                        "{what} has {} weights, but data block `{}` names {n} classes",
                        weights.len(),
                        decl.data
                    ),
                )
                .with_label(b.span(field), format!("{} weights", weights.len()))
                .with_label(b.span("data"), format!("{n} classes"))
                .with_help(
                    "Give one weight per class, in the order of the data block's `classes`.",
                ),
            );
        }
    };
    if let Some(ClassWeights::Given(w)) = decl.loss.class_weights() {
        per_class("loss", "`class_weights`", w);
    }
    if let Sampler::Weighted { weights } = &decl.sampler {
        per_class("sampler", "the `weighted` sampler", weights);
    }
}

/// Values per example of the network's single output.
fn width(net: &Network) -> usize {
    net.layer(net.outputs[0].layer)
        .shape
        .iter()
        .product::<u64>() as usize
}

/// Early stopping and `reduce_on_plateau` read a validation split, which the data block
/// must hold out (the test split never chooses anything); `one_cycle` has its own warmup.
fn validation_checks(
    decl: &TrainDecl,
    b: &Bound,
    program: &Program,
    error: &mut impl FnMut(Diagnostic),
) {
    let data = program.data.iter().find(|d| d.name == decl.data);
    let has_validation = data.is_none_or(|d| d.validation > 0.0);
    let readers = [
        decl.early_stopping
            .map(|e| ("early_stopping", "early stopping", e.metric)),
        decl.schedule
            .0
            .monitor()
            .map(|m| ("schedule", "`reduce_on_plateau`", m)),
    ];
    for (field, what, metric) in readers.into_iter().flatten() {
        if !has_validation {
            let mut d = Diagnostic::error(
                codes::TRAIN_INVALID,
                format!(
                    "{what} watches `{}`, but data block `{}` holds out no validation split",
                    metric.name(),
                    decl.data
                ),
            )
            .with_label(b.span(field), "reads the validation split");
            if let Some(data) = data {
                d = d.with_label(data.span, "no `validation` here");
            }
            error(d.with_help(
                "Add e.g. `validation: 0.1` to the data block: a share of the training part, never the test split.",
            ));
        }
    }
    if matches!(decl.schedule.0, Shape::OneCycle { .. }) && decl.warmup > 0 {
        error(
            Diagnostic::error(
                codes::TRAIN_INVALID,
                "`one_cycle` has its own warmup and cannot follow `warmup` epochs",
            )
            .with_label(b.span("schedule"), "rises for `pct_start` of the run")
            .with_label(b.span("warmup"), "a second warmup")
            .with_help("Leave out `warmup`; `one_cycle(pct_start: ...)` sets how long the learning rate rises."),
        );
    }
}
