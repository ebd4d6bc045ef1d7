//! Building a trainer: the checks that need the data (the spec-only ones ran in `nnc
//! check`), then the construction from checked parts.

use super::engine::Engine;
use super::monitor::Tracker;
use super::step::{self, Extras};
use super::{data, distill, rules, sampler, RunError, State, Trainer};
use crate::hir::settings::heads::{self, Feed, Head};
use crate::hir::settings::{Loss, Sampler};
use crate::hir::{DataDecl, Program as Hir, TrainDecl};
use crate::lower::Mode;
use nnc_runtime::data::{Dataset, Targets};
use nnc_runtime::lr_schedule::Schedule as LrSchedule;
use std::path::Path;

/// A spec that failed `nnc check` reached the trainer.
fn unresolved(what: &str, name: &str) -> RunError {
    RunError::config(
        format!("{what} `{name}` did not resolve"),
        "Fix the errors `nnc check` reports.",
    )
}

impl Trainer {
    /// Prepares the train block `train` of `program`: its network, its data (paths relative
    /// to `base`), and the compiled training step.
    pub fn new(program: &Hir, train: &TrainDecl, base: &Path) -> Result<Trainer, RunError> {
        let net = program
            .network(&train.network)
            .ok_or_else(|| unresolved("network", &train.network))?
            .clone();
        let decl_data: &DataDecl = program
            .data
            .iter()
            .find(|d| d.name == train.data)
            .ok_or_else(|| unresolved("data block", &train.data))?;
        let feeds = heads::feeds(&net, decl_data);
        let outputs = heads::heads(train, &net, decl_data);
        let Some(first) = outputs.first() else {
            return Err(unresolved("network", &net.name));
        };
        let several = outputs.len() > 1 || first.column > 0;
        let classes = match first.loss {
            _ if several => None,
            Loss::CrossEntropy { .. } => Some(first.width),
            Loss::BinaryCrossEntropy => Some(2),
            Loss::Mse => None,
        };
        let mut data = data::prepare(decl_data, train.seed, base, &feeds, classes)?;
        if let [Feed {
            input,
            columns: None,
            ..
        }] = feeds.as_slice()
        {
            let splits = [
                ("training", data.train.features()),
                ("test", data.test.features()),
            ];
            crate::lower::sequence::check_ids(&net, input, &splits)?;
        }
        for head in &outputs {
            check_targets(train, head, &data.train, several)?;
        }
        if several && matches!(train.sampler, Sampler::Undersample { .. }) {
            return Err(RunError::config_at(
                train.span,
                "`undersample` replaces examples by centroids, which have no second target",
                "Use another sampler with a network that learns several targets.",
            ));
        }
        data.train = sampler::prepare_split(train, data.train)?;
        let batch_sampler = sampler::sampler(train, &data.train)?;
        let class_weights = sampler::class_weights(train, &data.train)?;
        let rules = match &train.rules {
            Some(name) => {
                let decl = program
                    .rules
                    .iter()
                    .find(|r| &r.name == name)
                    .ok_or_else(|| unresolved("rules block", name))?;
                Some(rules::Rules::resolve(decl, &data.train, first.width)?)
            }
            None => None,
        };
        let (distill, fixed) = match distill::load(program, train)? {
            Some((d, w)) => (Some(d), w),
            None => (None, State::new()),
        };
        let n = batch_sampler.epoch_len() as u64;
        let steps_per_epoch = n.div_ceil(train.batch.max(1));
        let base_lr = train.optimizer.lr();
        let schedule = LrSchedule::new(
            base_lr,
            train.schedule.0,
            train.warmup * steps_per_epoch,
            steps_per_epoch,
            train.epochs * steps_per_epoch,
        );
        if data.validation.is_none()
            && (train.early_stopping.is_some() || train.schedule.0.monitor().is_some())
        {
            return Err(RunError::config_at(
                train.span,
                "this train block watches a validation metric, but its data has no validation split",
                "Add e.g. `validation: 0.1` to the data block.",
            ));
        }
        let tracker = data
            .validation
            .as_ref()
            .map(|_| Tracker::new(train.early_stopping.as_ref()));
        let mut trainer = Trainer {
            tracker,
            heads: outputs
                .into_iter()
                .map(|h| {
                    let input = step::targets_input(&net, &h.output);
                    (h, input)
                })
                .collect(),
            feeds,
            engine: Engine::new(net, train.clone(), Extras { rules, distill }),
            data,
            state: State::new(),
            fixed,
            params: Vec::new(),
            buffers: Vec::new(),
            epoch: 0,
            step: 0,
            schedule,
            sampler: batch_sampler,
            class_weights,
        };
        let batch = trainer.batch();
        let p = trainer.engine.program(Mode::Train, batch);
        trainer.params = p.lowered.params.clone();
        trainer.buffers = p.lowered.state.clone();
        trainer.buffers.extend(p.opt_state.iter().cloned());
        crate::budget::check_state(
            trainer.engine.net(),
            &trainer.params,
            &trainer.buffers,
            crate::budget::limit(),
        )?;
        Ok(trainer)
    }
}

/// The training split's targets against the loss: `mse` needs real-valued targets as wide
/// as the output; unlabelled examples train only through the rules' or the teacher's term,
/// so their label-free target must make CE(y, p) vanish and no sampler or weight may read
/// their labels.
///
/// With several outputs (`several`), each names its output and needs its target column and
/// no more classes than it predicts.
fn check_targets(
    train: &TrainDecl,
    head: &Head,
    split: &Dataset,
    several: bool,
) -> Result<(), RunError> {
    let width = head.width;
    let Some(targets) = split.target_column(head.column) else {
        return Err(RunError::config_at(
            train.span,
            format!(
                "output `{}` learns target column {}, but the data has {} target column(s)",
                head.output,
                head.column,
                split.n_target_columns()
            ),
            "Give the data block's `targets` a column the data has (0 is the first).",
        ));
    };
    if let (true, Loss::CrossEntropy { .. }, Targets::Classes { n_classes, .. }) =
        (several, &head.loss, targets)
    {
        if *n_classes as usize > width {
            return Err(RunError::config_at(
                train.span,
                format!(
                    "target column {} has {n_classes} classes but output `{}` predicts {width}",
                    head.column, head.output
                ),
                format!(
                    "Give output `{}` {n_classes} values, e.g. `dense({n_classes})`.",
                    head.output
                ),
            ));
        }
    }
    match (&head.loss, targets) {
        (Loss::Mse, Targets::Real(t)) if t.ncols() != width => {
            return Err(RunError::config(
                format!(
                    "the targets have {} values per example but the network outputs {width}",
                    t.ncols()
                ),
                "Match the last layer's width to the targets.",
            ))
        }
        (Loss::Mse, Targets::Classes { .. }) => {
            return Err(RunError::config(
                "`mse` needs real-valued targets, but the data has class labels",
                "Use `cross_entropy` for classification.",
            ))
        }
        (Loss::Mse, Targets::Real(_))
        | (Loss::CrossEntropy { .. } | Loss::BinaryCrossEntropy, Targets::Classes { .. })
        | (Loss::CrossEntropy { .. } | Loss::BinaryCrossEntropy, Targets::Real(_)) => {}
    }
    let n = split.n_unlabelled();
    if n == 0 {
        return Ok(());
    }
    let plain_ce = matches!(
        head.loss,
        Loss::CrossEntropy { label_smoothing, .. } if label_smoothing == 0.0
    );
    let problem = if !plain_ce {
        Some((
            "the loss",
            "Use `loss: cross_entropy` without label smoothing.",
        ))
    } else if train.sampler != Sampler::Uniform {
        Some(("the sampler", "Use the default `sampler: uniform`."))
    } else if train.loss.class_weights().is_some() {
        Some(("`class_weights`", "Leave out `class_weights`."))
    } else {
        None
    };
    match problem {
        Some((what, help)) => Err(RunError::config(
            format!("the training split has {n} unlabelled examples, but {what} needs a label for every example"),
            help,
        )),
        None => Ok(()),
    }
}
