//! Training and evaluation: initialisation (with LSUV), the epoch loop, evaluation, and the
//! state a checkpoint holds.
//!
//! The programs come from [`step`] (forward and loss) and [`update`] (the optimizer), and
//! run on the [`engine`]; data from [`data`] in batches from [`batch`]. Everything random
//! flows from the train block's seed (init streams, the epoch's shuffle, dropout by step),
//! so a run is bit-reproducible and a resumed run continues exactly where it stopped.

pub mod batch;
pub mod checkpoint;
pub mod data;
pub mod distill;
pub mod engine;
mod error;
mod evaluate;
pub mod loss;
pub mod lsuv;
pub mod monitor;
pub mod predict;
pub mod rules;
pub mod sampler;
mod setup;
pub mod step;
mod update;

pub use engine::Backend;
pub use error::RunError;
pub use evaluate::{Evaluation, Split};

use crate::hir::settings::heads::{Feed, Head};
use crate::hir::{Init, Network, TrainDecl};
use crate::lower::{Mode, ParamDecl, StateDecl};
use crate::prim::interp::{self, Bindings};
use crate::prim::NodeId;
use engine::{Engine, Reads};
use ndarray::{ArrayD, IxDyn};
use nnc_runtime::init::{self as weights, Scheme};
use nnc_runtime::lr_schedule::Schedule;
use nnc_runtime::rng::{rng_for, stream};
use nnc_runtime::sampling::Sampler;
use std::collections::BTreeMap;
use step::Program;

/// Everything that changes during training, by checkpoint name.
pub type State = BTreeMap<String, ArrayD<f32>>;

/// One optimizer step, as reported to the caller (for a progress bar).
#[derive(Clone, Copy, Debug)]
pub struct StepReport {
    pub epoch: u64,
    /// 0-based step within the epoch, and the number of steps per epoch.
    pub step_in_epoch: u64,
    pub steps_per_epoch: u64,
    pub loss: f64,
    /// Running accuracy over the epoch so far (classification).
    pub accuracy: f64,
    pub samples: usize,
}

/// A train block being trained: its programs (in the engine), data, state and position.
pub struct Trainer {
    engine: Engine,
    data: data::Prepared,
    state: State,
    /// Weights that are read but not trained (the distillation teacher's).
    fixed: State,
    params: Vec<ParamDecl>,
    /// Running statistics and optimizer state.
    buffers: Vec<StateDecl>,
    /// The next epoch to run (0-based) and the optimizer steps taken so far.
    epoch: u64,
    step: u64,
    schedule: Schedule,
    /// Which examples each batch holds.
    sampler: Sampler,
    /// The loss's class weights, if it has any.
    class_weights: Option<Vec<f64>>,
    /// The network's inputs and the feature columns each reads.
    feeds: Vec<Feed>,
    /// The network's outputs, each with the name of its targets input.
    heads: Vec<(Head, String)>,
    /// The validation metric's best and the epochs since (with a validation split).
    tracker: Option<monitor::Tracker>,
}

/// What the end of an epoch decided (with a validation split).
#[derive(Clone, Debug)]
pub struct EpochEnd {
    pub validation: Evaluation,
    pub verdict: monitor::Verdict,
    /// `reduce_on_plateau`'s new learning rate, when it reduced it.
    pub lr_reduced: Option<f64>,
}

impl Trainer {
    pub fn net(&self) -> &Network {
        self.engine.net()
    }

    pub fn decl(&self) -> &TrainDecl {
        self.engine.decl()
    }

    /// The logic rules' and distillation terms of the loss.
    pub fn extras(&self) -> &step::Extras {
        self.engine.extras()
    }

    /// The network's outputs with what each learns (one for a one-output network).
    pub fn heads(&self) -> impl Iterator<Item = &Head> {
        self.heads.iter().map(|(h, _)| h)
    }

    /// The network's inputs and the feature columns each reads.
    pub fn feeds(&self) -> &[Feed] {
        &self.feeds
    }

    pub fn data(&self) -> &data::Prepared {
        &self.data
    }

    /// Replaces the data splits (`nnc compare` gives two runs of one spec the same split).
    /// The sampler keeps drawing over the old training split's size.
    pub fn set_data(&mut self, data: data::Prepared) {
        self.data = data;
    }

    /// Parameters, running statistics and optimizer state, by checkpoint name.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Weights read but not trained (the distillation teacher's, as `teacher.<name>`).
    pub fn fixed(&self) -> &State {
        &self.fixed
    }

    pub fn params(&self) -> &[ParamDecl] {
        &self.params
    }

    pub fn buffers(&self) -> &[StateDecl] {
        &self.buffers
    }

    /// The next epoch to run (0-based): the number of epochs trained.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Optimizer steps taken so far.
    pub fn step(&self) -> u64 {
        self.step
    }

    pub fn sampler(&self) -> &Sampler {
        &self.sampler
    }

    pub fn backend(&self) -> Backend {
        self.engine.backend()
    }

    pub fn set_backend(&mut self, backend: Backend) {
        self.engine.set_backend(backend);
    }

    /// Examples per step (the train block's `batch`, at most the training split).
    pub fn batch(&self) -> usize {
        (self.decl().batch as usize)
            .min(self.data.train.n_samples())
            .max(1)
    }

    /// The learning rate of the next step.
    pub fn lr(&self) -> f64 {
        self.schedule.lr(self.step)
    }

    /// The learning-rate schedule (with `reduce_on_plateau`'s state).
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The validation metric's tracker, with a validation split.
    pub fn tracker(&self) -> Option<&monitor::Tracker> {
        self.tracker.as_ref()
    }

    /// Whether early stopping has ended the run (as of the last epoch trained).
    pub fn stopped_early(&self) -> bool {
        self.tracker
            .as_ref()
            .is_some_and(monitor::Tracker::should_stop)
    }

    /// After an epoch: evaluates the validation split, steps `reduce_on_plateau` and the
    /// tracker. `None` without a validation split.
    pub fn end_epoch(&mut self) -> Result<Option<EpochEnd>, RunError> {
        if self.data.validation.is_none() {
            return Ok(None);
        }
        let validation = self.evaluate_split(Split::Validation)?;
        let lr_reduced = match self.schedule.shape.monitor() {
            Some(metric) => self
                .schedule
                .end_epoch(monitor::value_of(metric, &validation)),
            None => None,
        };
        let epoch = self.epoch;
        let Some(tracker) = self.tracker.as_mut() else {
            return Ok(None);
        };
        let verdict = tracker.observe(epoch, monitor::value_of(tracker.metric, &validation));
        Ok(Some(EpochEnd {
            validation,
            verdict,
            lr_reduced,
        }))
    }

    pub fn steps_per_epoch(&self) -> u64 {
        self.schedule.steps_per_epoch
    }

    /// The program for a mode and batch size (built once, then cached).
    fn program(&mut self, mode: Mode, batch: usize) -> std::rc::Rc<Program> {
        self.engine.program(mode, batch)
    }

    /// Interpreter bindings of the state at the current step (no inputs).
    pub fn state_bindings(&self) -> Bindings<f32> {
        Engine::bindings(&[], &self.reads(false))
    }

    fn reads(&self, same_weights: bool) -> Reads<'_> {
        Reads {
            weights: [&self.state, &self.fixed],
            seed: self.decl().seed,
            step: self.step,
            same_weights,
        }
    }

    /// Values per example of the network's output.
    fn width(&self) -> usize {
        let net = self.net();
        net.layer(net.outputs[0].layer)
            .shape
            .iter()
            .product::<u64>() as usize
    }

    /// Initialises every parameter from the seed (each from its own stream, so adding a
    /// layer does not change the others), state to its initial value, then runs LSUV on
    /// the layers that ask for it.
    pub fn init(&mut self) -> Result<Vec<lsuv::LsuvReport>, RunError> {
        for (i, p) in self.params.iter().enumerate() {
            let scheme = scheme_of(&p.init);
            let mut rng = rng_for(self.engine.decl().seed, stream::INIT + i as u64);
            let values = weights::fill(scheme, &p.shape, &mut rng);
            let array = ArrayD::from_shape_vec(IxDyn(&p.shape), values)
                .map_err(|e| RunError::internal(format!("init of `{}`: {e}", p.name)))?;
            self.state.insert(p.name.clone(), array);
        }
        for b in &self.buffers {
            self.state.insert(
                b.name.clone(),
                ArrayD::from_elem(IxDyn(&b.shape), b.init as f32),
            );
        }
        lsuv::run(self)
    }

    /// The training step's inputs for the training-split rows `rows` at `epoch` besides
    /// the features and targets (the optimizer step count is `self.step`).
    fn step_inputs(&self, rows: &[usize], epoch: u64) -> Vec<(&'static str, ArrayD<f32>)> {
        let ds = &self.data.train;
        let decl = self.decl();
        let mut inputs = vec![(step::LR, batch::scalar(self.schedule.lr(self.step)))];
        if let Some(rules) = &self.extras().rules {
            let raw = batch::raw_features(ds, &self.data.scaler, rows);
            inputs.push((rules::RAW_FEATURES, raw));
            inputs.push((rules::PI, batch::scalar(rules.pi(epoch))));
        }
        if let Some((beta1, beta2)) = decl.optimizer.adam_betas() {
            let t = (self.step + 1) as i32;
            inputs.push((step::ADAM_C1, batch::scalar(1.0 / (1.0 - beta1.powi(t)))));
            inputs.push((
                step::ADAM_C2,
                batch::scalar(1.0 / (1.0 - beta2.powi(t)).sqrt()),
            ));
        }
        if let Some(w) = &self.class_weights {
            let (labels, _) = batch::labels(ds, rows);
            inputs.push((step::EXAMPLE_WEIGHTS, sampler::example_weights(w, &labels)));
        }
        inputs
    }

    /// The per-example losses the training step computes on the training-split rows `rows`
    /// at the current epoch, on the trainer's backend, without updating anything.
    pub fn step_losses(&mut self, rows: &[usize]) -> Result<Vec<f32>, RunError> {
        let mut inputs = batch::feeds(&self.feeds, &self.data.train, rows);
        inputs.extend(batch::aims(&self.heads, &self.data.train, rows));
        inputs.extend(self.step_inputs(rows, self.epoch));
        let program = self.engine.program(Mode::Train, rows.len());
        let reads = Reads {
            weights: [&self.state, &self.fixed],
            seed: self.engine.decl().seed,
            step: self.step,
            same_weights: false,
        };
        let values = self
            .engine
            .run_once(&program, &[program.per_example], &inputs, &reads)?;
        Ok(values[0].iter().copied().collect())
    }

    /// One epoch over the training split. `report` is called after every step.
    pub fn train_epoch(
        &mut self,
        report: &mut dyn FnMut(StepReport),
    ) -> Result<(f64, f64), RunError> {
        let epoch = self.epoch;
        let order = self.sampler.epoch(epoch);
        let batch = self.batch();
        let steps = self.steps_per_epoch();
        let per_example = self.sampler.wants_losses();
        // The running accuracy is the first output's.
        let (loss_fn, column) = match self.heads.first() {
            Some((h, _)) => (h.loss.clone(), h.column),
            None => (self.decl().loss.clone(), 0),
        };
        let (mut loss_sum, mut right, mut seen, mut total) = (0.0f64, 0usize, 0usize, 0usize);
        let mut cursor = 0;
        let len = self.sampler.epoch_len();
        let sizes: Vec<usize> = (0..len)
            .step_by(batch)
            .map(|start| batch.min(len - start))
            .collect();
        for (i, size) in sizes.into_iter().enumerate() {
            let rows = self.sampler.batch(&order, &mut cursor, size);
            let rows = rows.as_slice();
            let (labels, labelled) = batch::labels_of(&self.data.train, column, rows);
            let mut inputs = batch::feeds(&self.feeds, &self.data.train, rows);
            inputs.extend(batch::aims(&self.heads, &self.data.train, rows));
            inputs.extend(self.step_inputs(rows, epoch));
            let program = self.engine.program(Mode::Train, rows.len());
            let reads = Reads {
                weights: [&self.state, &self.fixed],
                seed: self.engine.decl().seed,
                step: self.step,
                same_weights: false,
            };
            let mut values =
                self.engine
                    .run(Mode::Train, rows.len(), &inputs, &reads, per_example)?;
            let loss = values[0].iter().next().copied().unwrap_or(f32::NAN) as f64;
            let bad_update = program
                .updates
                .iter()
                .zip(&values[2..])
                .find(|(_, v)| v.iter().any(|x| !x.is_finite()));
            if !loss.is_finite() || bad_update.is_some() {
                let bindings = Engine::bindings(&inputs, &reads);
                return Err(non_finite(
                    &program,
                    &bindings,
                    epoch,
                    i as u64,
                    bad_update.map(|((n, _), _)| n.clone()),
                ));
            }
            for ((name, _), value) in program.updates.iter().zip(values.iter_mut().skip(2)) {
                match self.state.get_mut(name) {
                    // A swap, not a copy: `values` is dropped after the step.
                    Some(old) => std::mem::swap(old, value),
                    None => {
                        self.state.insert(name.clone(), value.clone());
                    }
                }
            }
            if per_example {
                let losses: Vec<f32> = values
                    .last()
                    .map(|v| v.iter().copied().collect())
                    .unwrap_or_default();
                self.sampler.record(rows, &losses);
            }
            loss_sum += loss * rows.len() as f64;
            total += rows.len();
            if !labels.is_empty() {
                seen += labelled.iter().filter(|&&l| l).count();
                let width = values[1].len() / labels.len();
                right += batch::rows(&values[1], labels.len(), width)
                    .iter()
                    .zip(&labels)
                    .zip(&labelled)
                    .filter(|((row, &l), &has)| has && loss::classify(row, &loss_fn).0 == l)
                    .count();
            } else {
                seen += rows.len();
            }
            self.step += 1;
            report(StepReport {
                epoch,
                step_in_epoch: i as u64,
                steps_per_epoch: steps,
                loss,
                accuracy: if labels.is_empty() {
                    0.0
                } else {
                    right as f64 / seen.max(1) as f64
                },
                samples: rows.len(),
            });
        }
        self.epoch += 1;
        Ok((
            loss_sum / total.max(1) as f64,
            right as f64 / seen.max(1) as f64,
        ))
    }
}

/// Names the first layer whose output is not finite, re-running the step's forward.
fn non_finite(
    program: &Program,
    bindings: &Bindings<f32>,
    epoch: u64,
    step: u64,
    update: Option<String>,
) -> RunError {
    let layer = interp::evaluate_all(&program.graph, bindings)
        .ok()
        .and_then(|values| interp::first_non_finite(&program.graph, &values))
        .and_then(|id: NodeId| {
            program
                .graph
                .node(id)
                .origin
                .as_ref()
                .map(|o| o.layer.clone())
        });
    RunError::NonFinite {
        epoch: epoch + 1,
        step: step + 1,
        layer: layer.or(update).unwrap_or_else(|| "the loss".into()),
        help: RunError::DIVERGED_HELP.into(),
    }
}

/// The runtime's init scheme for a spec's; LSUV starts from orthonormal weights.
pub fn scheme_of(init: &Init) -> Scheme {
    match *init {
        Init::Zeros => Scheme::Zeros,
        Init::Constant { value } => Scheme::Constant(value),
        Init::Gaussian { mean, std } => Scheme::Gaussian { mean, std },
        Init::Uniform { low, high } => Scheme::Uniform { low, high },
        Init::Xavier { normal, gain } => Scheme::Xavier { normal, gain },
        Init::He { normal, fan_out } => Scheme::He { normal, fan_out },
        Init::Orthogonal { gain } => Scheme::Orthogonal { gain },
        Init::Lsuv { .. } => Scheme::Orthogonal { gain: 1.0 },
        Init::LooksLinear => Scheme::LooksLinear,
    }
}
