//! Training and evaluation on the reference interpreter: initialisation (with LSUV), the
//! epoch loop, evaluation, and the state a checkpoint holds.
//!
//! The compiled programs come from [`step`]; data from [`data`]; everything random flows
//! from the train block's seed (init streams, the epoch's shuffle, dropout by step), so a
//! run is bit-reproducible and a resumed run continues exactly where it stopped.

pub mod checkpoint;
pub mod data;
pub mod distill;
mod error;
pub mod lsuv;
pub mod rules;
pub mod sampler;
pub mod step;

pub use error::RunError;

use crate::hir::{Init, Network, Program as Hir, TrainDecl};
use crate::lower::{Mode, ParamDecl, StateDecl};
use crate::prim::interp::{self, Bindings};
use crate::prim::NodeId;
use ndarray::{ArrayD, IxDyn};
use nnc_runtime::data::{Dataset, Targets};
use nnc_runtime::init::{self as weights, Scheme};
use nnc_runtime::rng::{rng_for, stream};
use nnc_runtime::schedule::{Schedule, Shape as LrShape};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::rc::Rc;
use step::{Loss, Optimizer, Program};

/// The engine that runs compiled programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The unfused reference interpreter: the oracle.
    Reference,
    /// Fused kernels compiled with Cranelift, matrix products in `gemm` (two threads).
    Jit,
}

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

/// Loss and predictions of a whole split.
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    pub loss: f64,
    /// Argmax class per example (classification).
    pub predicted: Vec<u32>,
    pub labels: Vec<u32>,
    /// Softmax probabilities (or sigmoid for one logit), one row per example.
    pub scores: Vec<Vec<f32>>,
    pub n_classes: usize,
    /// The rules' teacher q on the same examples (with rules).
    pub q: Option<Box<Evaluation>>,
    /// For each rule `CONDITION => ...` whose condition reads only features: its name and
    /// whether the condition holds, per example.
    pub conditions: Vec<(String, Vec<bool>)>,
}

impl Evaluation {
    pub fn accuracy(&self) -> f64 {
        if self.labels.is_empty() {
            return 0.0;
        }
        let right = self
            .labels
            .iter()
            .zip(&self.predicted)
            .filter(|(a, b)| a == b)
            .count();
        right as f64 / self.labels.len() as f64
    }
}

pub struct Trainer {
    pub net: Network,
    pub decl: TrainDecl,
    pub data: data::Prepared,
    pub state: State,
    pub params: Vec<ParamDecl>,
    /// Running statistics and optimizer state.
    pub buffers: Vec<StateDecl>,
    /// The next epoch to run (0-based) and the optimizer steps taken so far.
    pub epoch: u64,
    pub step: u64,
    loss: Loss,
    optimizer: Optimizer,
    schedule: Schedule,
    input: String,
    programs: HashMap<(Mode, usize), Rc<Program>>,
    compiled: HashMap<(Mode, usize), crate::jit::Compiled>,
    /// Which engine runs the programs.
    pub backend: Backend,
    /// Logic rules and distillation terms of the loss.
    pub extras: step::Extras,
    /// Weights that are read but not trained (the distillation teacher's).
    pub fixed: State,
    /// Which examples each batch holds.
    pub sampler: nnc_runtime::sampling::Sampler,
    /// The loss's class weights, if it has any.
    class_weights: Option<Vec<f64>>,
}

fn dims(shape: &[u64]) -> Vec<usize> {
    shape.iter().map(|d| *d as usize).collect()
}

impl Trainer {
    /// Prepares the train block `train` of `program`: its network, its data (paths relative
    /// to `base`), and the compiled training step.
    pub fn new(program: &Hir, train: &TrainDecl, base: &Path) -> Result<Trainer, RunError> {
        let net = program
            .network(&train.network)
            .ok_or_else(|| {
                RunError::config(
                    format!("network `{}` did not resolve", train.network),
                    "Fix the errors `nnc check` reports.",
                )
            })?
            .clone();
        if net.inputs.len() != 1 || net.outputs.len() != 1 {
            return Err(RunError::config(
                format!(
                    "network `{}` has {} inputs and {} outputs; training needs one of each",
                    net.name,
                    net.inputs.len(),
                    net.outputs.len()
                ),
                "Give the trained network one `input` and one `output` (the logits).",
            ));
        }
        let decl_data = program
            .data
            .iter()
            .find(|d| d.name == train.data)
            .ok_or_else(|| {
                RunError::config(
                    format!("data block `{}` did not resolve", train.data),
                    "Fix the errors `nnc check` reports.",
                )
            })?;
        let input_layer = net.layer(net.inputs[0]);
        let input = input_layer.name.clone();
        let input_shape = dims(&input_layer.shape);
        let out_shape = dims(&net.layer(net.outputs[0].layer).shape);
        let width: usize = out_shape.iter().product();
        let loss = Loss::from_decl(train);
        let classes = match loss {
            Loss::CrossEntropy { .. } => Some(width),
            Loss::BinaryCrossEntropy => Some(2),
            Loss::Mse => None,
        };
        if loss == Loss::BinaryCrossEntropy && width != 1 {
            return Err(RunError::config(
                format!("binary_cross_entropy needs one logit per example, but the network outputs {width}"),
                "End the network with `dense(1)`, or use `cross_entropy` for several classes.",
            ));
        }
        let mut data = data::prepare(decl_data, train.seed, base, &input_shape, classes)?;
        check_unlabelled(train, &data.train, loss)?;
        data.train = sampler::prepare_split(train, data.train)?;
        let batch_sampler = sampler::sampler(train, &data.train)?;
        let class_weights = sampler::class_weights(train, &data.train)?;
        let extras_need_ce = train.rules.is_some() || train.teacher.is_some();
        if extras_need_ce && !matches!(loss, Loss::CrossEntropy { .. }) {
            return Err(RunError::config(
                "logic rules and distillation train on class probabilities and need `cross_entropy`",
                "Use `loss: cross_entropy` with `rules` or `teacher`.",
            ));
        }
        let rules = match &train.rules {
            Some(name) => {
                let decl = program
                    .rules
                    .iter()
                    .find(|r| &r.name == name)
                    .ok_or_else(|| {
                        RunError::config(
                            format!("rules block `{name}` did not resolve"),
                            "Fix the errors `nnc check` reports.",
                        )
                    })?;
                Some(rules::Rules::resolve(
                    decl,
                    &data.train,
                    width,
                    train.epochs,
                )?)
            }
            None => None,
        };
        let (distill, fixed) = match distill::load(program, train, &net)? {
            Some((d, w)) => (Some(d), w),
            None => (None, State::new()),
        };
        if let Loss::Mse = loss {
            if let Targets::Real(t) = data.train.targets() {
                if t.ncols() != width {
                    return Err(RunError::config(
                        format!("the targets have {} values per example but the network outputs {width}", t.ncols()),
                        "Match the last layer's width to the targets.",
                    ));
                }
            } else {
                return Err(RunError::config(
                    "`mse` needs real-valued targets, but the data has class labels",
                    "Use `cross_entropy` for classification.",
                ));
            }
        }
        let (optimizer, lr) = Optimizer::from_decl(train);
        let n = batch_sampler.epoch_len() as u64;
        let steps_per_epoch = n.div_ceil(train.batch.max(1));
        let shape = match train.schedule.name.as_str() {
            "step" => LrShape::Step {
                every: train.schedule.i64("every").max(1) as u64,
                gamma: train.schedule.f64("gamma"),
            },
            "cosine" => LrShape::Cosine {
                min_lr: train.schedule.f64("min_lr"),
            },
            _ => LrShape::Constant,
        };
        let schedule = Schedule {
            base_lr: lr,
            shape,
            warmup_steps: train.warmup * steps_per_epoch,
            steps_per_epoch,
            total_steps: train.epochs * steps_per_epoch,
        };
        let mut trainer = Trainer {
            net,
            decl: train.clone(),
            data,
            state: State::new(),
            params: Vec::new(),
            buffers: Vec::new(),
            epoch: 0,
            step: 0,
            loss,
            optimizer,
            schedule,
            input,
            programs: HashMap::new(),
            compiled: HashMap::new(),
            backend: Backend::Jit,
            extras: step::Extras { rules, distill },
            fixed,
            sampler: batch_sampler,
            class_weights,
        };
        let batch = trainer.batch();
        let p = trainer.program(Mode::Train, batch);
        let (params, mut buffers) = (p.lowered.params.clone(), p.lowered.state.clone());
        buffers.extend(p.opt_state.iter().cloned());
        crate::budget::check_state(&trainer.net, &params, &buffers, crate::budget::limit())?;
        trainer.params = params;
        trainer.buffers = buffers;
        Ok(trainer)
    }

    pub fn batch(&self) -> usize {
        (self.decl.batch as usize)
            .min(self.data.train.n_samples())
            .max(1)
    }

    /// The learning rate of the next step.
    pub fn lr(&self) -> f64 {
        self.schedule.lr(self.step)
    }

    pub fn steps_per_epoch(&self) -> u64 {
        self.schedule.steps_per_epoch
    }

    /// The compiled program for a mode and batch size (built once, then cached).
    pub fn program(&mut self, mode: Mode, batch: usize) -> Rc<Program> {
        let (net, decl, extras) = (&self.net, &self.decl, &self.extras);
        self.programs
            .entry((mode, batch))
            .or_insert_with(|| {
                Rc::new(match mode {
                    Mode::Train => step::training_step_with_extras(net, decl, batch, extras),
                    Mode::Eval => step::forward_with_extras(net, decl, batch, Mode::Eval, extras),
                })
            })
            .clone()
    }

    /// The nodes a program's run returns: loss, prediction, then (training) every update,
    /// then (evaluation with rules) the teacher q, then the per-example losses if
    /// `per_example` (hard mining reads them).
    fn wanted(program: &Program, per_example: bool) -> Vec<NodeId> {
        let mut wanted = vec![program.loss, program.prediction];
        wanted.extend(program.updates.iter().map(|(_, id)| *id));
        wanted.extend(program.q);
        if per_example {
            wanted.push(program.per_example);
        }
        wanted
    }

    /// Runs the program of `mode` at batch `batch` with `inputs` and the current state, on
    /// the trainer's backend. `same_state`: the state has not changed since this program's
    /// last run, so an evaluation program may reuse its hoisted parameter-only values.
    fn execute(
        &mut self,
        mode: Mode,
        batch: usize,
        inputs: &[(&str, ArrayD<f32>)],
        step: u64,
        same_state: bool,
    ) -> Result<Vec<ArrayD<f32>>, RunError> {
        let program = self.program(mode, batch);
        crate::budget::check_graph(&self.net, &program.graph, batch, crate::budget::limit())?;
        let wanted = Self::wanted(&program, mode == Mode::Train && self.sampler.wants_losses());
        match self.backend {
            Backend::Reference => {
                let bindings = self.bindings_with(inputs, step);
                interp::evaluate(&program.graph, &bindings, &wanted).map_err(RunError::internal)
            }
            Backend::Jit => {
                let compiled = match self.compiled.entry((mode, batch)) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        let options = crate::jit::Options {
                            inference: mode == Mode::Eval,
                            ..JIT_OPTIONS
                        };
                        e.insert(
                            crate::jit::compile(&program.graph, &wanted, options)
                                .map_err(RunError::internal)?,
                        )
                    }
                };
                if !same_state {
                    compiled.params_changed();
                }
                compiled
                    .run(
                        &input_slices(inputs),
                        &[&self.state, &self.fixed],
                        self.decl.seed,
                        step,
                    )
                    .map(<[ArrayD<f32>]>::to_vec)
                    .map_err(RunError::internal)
            }
        }
    }

    /// Interpreter bindings: `inputs` and the whole state.
    fn bindings_with(&self, inputs: &[(&str, ArrayD<f32>)], step: u64) -> Bindings<f32> {
        let mut b = Bindings::new().seed(self.decl.seed, step);
        for (name, value) in inputs {
            b = b.input(name, value.clone());
        }
        for (name, value) in self.state.iter().chain(&self.fixed) {
            b = b.param(name, value.clone());
        }
        b
    }

    /// The unscaled features of the examples `rows` of `ds` (what rules read), `[rows,
    /// features]`.
    fn raw_features(&self, ds: &Dataset, rows: &[usize]) -> ArrayD<f32> {
        let features = ds.features();
        let (shift, scale) = (self.data.scaler.shift(), self.data.scaler.scale());
        let mut raw = Vec::with_capacity(rows.len() * features.ncols());
        for &r in rows {
            for (j, v) in features.row(r).iter().enumerate() {
                raw.push(v * scale[j] + shift[j]);
            }
        }
        ArrayD::from_shape_vec(IxDyn(&[rows.len(), features.ncols()]), raw)
            .expect("rows fill the batch")
    }

    /// Initialises every parameter from the seed (each from its own stream, so adding a
    /// layer does not change the others), state to its initial value, then runs LSUV on
    /// the layers that ask for it.
    pub fn init(&mut self) -> Result<Vec<lsuv::LsuvReport>, RunError> {
        for (i, p) in self.params.iter().enumerate() {
            let scheme = scheme_of(&p.init);
            let mut rng = rng_for(self.decl.seed, stream::INIT + i as u64);
            let values = weights::fill(scheme, &p.shape, &mut rng);
            let array =
                ArrayD::from_shape_vec(IxDyn(&p.shape), values).expect("init fills the shape");
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

    /// Features and one-hot (or real) targets of the examples `rows` of `ds`.
    fn batch_arrays(
        &self,
        ds: &Dataset,
        rows: &[usize],
        width: usize,
    ) -> (ArrayD<f32>, ArrayD<f32>) {
        let mut shape = vec![rows.len()];
        shape.extend_from_slice(ds.feature_shape());
        let features = ds.features();
        let mut x = Vec::with_capacity(rows.len() * features.ncols());
        for &r in rows {
            x.extend(features.row(r).iter().copied());
        }
        let x = ArrayD::from_shape_vec(IxDyn(&shape), x).expect("rows fill the batch");
        let mut y = ArrayD::zeros(IxDyn(&[rows.len(), width]));
        match ds.targets() {
            Targets::Classes { labels, .. } => {
                // An unlabelled example keeps an all-zero target: its CE(y, p) is exactly 0.
                for (i, &r) in rows.iter().enumerate().filter(|(_, &r)| ds.is_labelled(r)) {
                    let label = labels[r] as usize;
                    if self.loss == Loss::BinaryCrossEntropy {
                        y[[i, 0]] = label as f32;
                    } else if label < width {
                        y[[i, label]] = 1.0;
                    }
                }
            }
            Targets::Real(t) => {
                for (i, &r) in rows.iter().enumerate() {
                    for j in 0..width.min(t.ncols()) {
                        y[[i, j]] = t[[r, j]];
                    }
                }
            }
        }
        (x, y)
    }

    fn bindings(&self, x: ArrayD<f32>, y: ArrayD<f32>) -> Bindings<f32> {
        let mut b = Bindings::new()
            .input(&self.input, x)
            .input(step::TARGETS, y);
        for (name, value) in &self.state {
            b = b.param(name, value.clone());
        }
        b
    }

    fn width(&self) -> usize {
        self.net
            .layer(self.net.outputs[0].layer)
            .shape
            .iter()
            .product::<u64>() as usize
    }

    /// The training step's inputs for the training-split rows `rows` at `epoch` (the
    /// optimizer step count is `self.step`), with the rows' labels and whether each has one.
    #[allow(clippy::type_complexity)]
    fn step_inputs(
        &self,
        rows: &[usize],
        epoch: u64,
    ) -> (Vec<(String, ArrayD<f32>)>, Vec<u32>, Vec<bool>) {
        let width = self.width();
        let (x, y) = self.batch_arrays(&self.data.train, rows, width);
        let labels: Vec<u32> = self
            .data
            .train
            .labels()
            .map(|l| rows.iter().map(|&r| l[r]).collect())
            .unwrap_or_default();
        let labelled: Vec<bool> = rows
            .iter()
            .map(|&r| self.data.train.is_labelled(r))
            .collect();
        let lr = self.schedule.lr(self.step);
        let t = (self.step + 1) as i32;
        let scalar = |v: f64| ArrayD::from_elem(IxDyn(&[]), v as f32);
        let mut inputs = vec![
            (self.input.clone(), x),
            (step::TARGETS.to_string(), y),
            (step::LR.to_string(), scalar(lr)),
        ];
        if let Some(rules) = &self.extras.rules {
            let raw = self.raw_features(&self.data.train, rows);
            inputs.push((rules::RAW_FEATURES.to_string(), raw));
            inputs.push((rules::PI.to_string(), scalar(rules.pi(epoch))));
        }
        if let Optimizer::Adam { beta1, beta2, .. } = self.optimizer {
            inputs.push((
                step::ADAM_C1.to_string(),
                scalar(1.0 / (1.0 - beta1.powi(t))),
            ));
            inputs.push((
                step::ADAM_C2.to_string(),
                scalar(1.0 / (1.0 - beta2.powi(t)).sqrt()),
            ));
        }
        if let Some(w) = &self.class_weights {
            inputs.push((
                step::EXAMPLE_WEIGHTS.to_string(),
                sampler::example_weights(w, &labels),
            ));
        }
        (inputs, labels, labelled)
    }

    /// The per-example losses the training step computes on the training-split rows `rows`
    /// at the current epoch, on the trainer's backend, without updating anything.
    pub fn step_losses(&mut self, rows: &[usize]) -> Result<Vec<f32>, RunError> {
        let (inputs, _, _) = self.step_inputs(rows, self.epoch);
        let inputs: Vec<(&str, ArrayD<f32>)> = inputs
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        let program = self.program(Mode::Train, rows.len());
        let wanted = [program.per_example];
        let values = match self.backend {
            Backend::Reference => {
                let bindings = self.bindings_with(&inputs, self.step);
                interp::evaluate(&program.graph, &bindings, &wanted).map_err(RunError::internal)?
            }
            // Not cached: a test-time query, not the training loop's program.
            Backend::Jit => crate::jit::compile(&program.graph, &wanted, JIT_OPTIONS)
                .map_err(RunError::internal)?
                .run(
                    &input_slices(&inputs),
                    &[&self.state, &self.fixed],
                    self.decl.seed,
                    self.step,
                )
                .map_err(RunError::internal)?
                .to_vec(),
        };
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
        let (mut loss_sum, mut right, mut seen, mut total) = (0.0f64, 0usize, 0usize, 0usize);
        let mut cursor = 0;
        let sizes: Vec<usize> = (0..self.sampler.epoch_len())
            .step_by(batch)
            .map(|start| batch.min(self.sampler.epoch_len() - start))
            .collect();
        for (i, size) in sizes.into_iter().enumerate() {
            let rows = self.sampler.batch(&order, &mut cursor, size);
            let rows = rows.as_slice();
            let (inputs, labels, labelled) = self.step_inputs(rows, epoch);
            let inputs: Vec<(&str, ArrayD<f32>)> = inputs
                .iter()
                .map(|(n, v)| (n.as_str(), v.clone()))
                .collect();
            let program = self.program(Mode::Train, rows.len());
            let mut values = self.execute(Mode::Train, rows.len(), &inputs, self.step, false)?;
            let loss = values[0].iter().next().copied().unwrap_or(f32::NAN) as f64;
            let bad_update = program
                .updates
                .iter()
                .zip(&values[2..])
                .find(|(_, v)| v.iter().any(|x| !x.is_finite()));
            if !loss.is_finite() || bad_update.is_some() {
                let bindings = self.bindings_with(&inputs, self.step);
                return Err(self.non_finite(
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
            if self.sampler.wants_losses() {
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
                right += count_right(&values[1], &labels, &labelled, self.loss);
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

    /// Names the first layer whose output is not finite, re-running the step's forward.
    fn non_finite(
        &self,
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
        }
    }

    /// Loss and predictions over a split (evaluation mode: running statistics, no dropout).
    pub fn evaluate(&mut self, test: bool) -> Result<Evaluation, RunError> {
        let n = if test {
            self.data.test.n_samples()
        } else {
            self.data.train.n_samples()
        };
        let batch = self.batch();
        let width = self.width();
        // Unlabelled training examples cannot be scored.
        let rows: Vec<usize> = {
            let ds = if test {
                &self.data.test
            } else {
                &self.data.train
            };
            (0..n).filter(|&r| ds.is_labelled(r)).collect()
        };
        let n = rows.len();
        let mut out = Evaluation {
            loss: 0.0,
            predicted: Vec::with_capacity(n),
            labels: Vec::with_capacity(n),
            scores: Vec::with_capacity(n),
            n_classes: if self.loss == Loss::BinaryCrossEntropy {
                2
            } else {
                width
            },
            ..Evaluation::default()
        };
        let mut q_eval = self.extras.rules.as_ref().map(|rules| {
            (
                Evaluation {
                    n_classes: width,
                    ..Evaluation::default()
                },
                vec![Vec::with_capacity(n); rules.rules.len()],
            )
        });
        let mut loss_sum = 0.0;
        // Batch sizes whose program has run in this evaluation (the last chunk may be short).
        let mut ran: Vec<usize> = Vec::new();
        for chunk in rows.chunks(batch) {
            let ds = if test {
                &self.data.test
            } else {
                &self.data.train
            };
            let (x, y) = self.batch_arrays(ds, chunk, width);
            if let Some(l) = ds.labels() {
                out.labels.extend(chunk.iter().map(|&r| l[r]));
            }
            let input = self.input.clone();
            let mut inputs = vec![(input.as_str(), x), (step::TARGETS, y)];
            let raw = q_eval.as_ref().map(|_| self.raw_features(ds, chunk));
            if let Some(raw) = &raw {
                inputs.push((rules::RAW_FEATURES, raw.clone()));
            }
            let same_state = ran.contains(&chunk.len());
            ran.push(chunk.len());
            let values = self.execute(Mode::Eval, chunk.len(), &inputs, self.step, same_state)?;
            if let (Some((q, conditions)), Some(raw), Some(rules)) =
                (&mut q_eval, &raw, &self.extras.rules)
            {
                let q_values = values.last().expect("the q output");
                for row in q_values.rows_iter(chunk.len(), width) {
                    q.predicted.push(argmax(&row));
                    q.scores.push(row);
                }
                let f = raw.shape()[1];
                let flat = raw.as_slice().expect("built contiguous");
                for example in flat.chunks(f) {
                    for (held, c) in conditions.iter_mut().zip(rules.conditions(example)) {
                        held.push(c.unwrap_or(false));
                    }
                }
            }
            loss_sum +=
                values[0].iter().next().copied().unwrap_or(f32::NAN) as f64 * chunk.len() as f64;
            let pred = &values[1];
            for row in pred.rows_iter(chunk.len(), width) {
                let (class, probs) = classify(&row, self.loss);
                out.predicted.push(class);
                out.scores.push(probs);
            }
        }
        out.loss = loss_sum / n.max(1) as f64;
        if let (Some((mut q, conditions)), Some(rules)) = (q_eval, &self.extras.rules) {
            q.labels = out.labels.clone();
            let q_ce: f64 = q
                .scores
                .iter()
                .zip(&q.labels)
                .map(|(s, &l)| -(s[l as usize].max(f32::MIN_POSITIVE) as f64).ln())
                .sum();
            q.loss = q_ce / n.max(1) as f64;
            out.q = Some(Box::new(q));
            out.conditions = rules
                .rules
                .iter()
                .zip(conditions)
                .zip(rules.conditions(&vec![0.0; rules.n_features]))
                .filter(|(_, has)| has.is_some())
                .map(|((rule, held), _)| (rule.name.clone(), held))
                .collect();
        }
        Ok(out)
    }
}

/// Iterates the rows of a `[batch, ...]` prediction as flat slices.
trait Rows {
    fn rows_iter(&self, n: usize, width: usize) -> Vec<Vec<f32>>;
}

impl Rows for ArrayD<f32> {
    fn rows_iter(&self, n: usize, width: usize) -> Vec<Vec<f32>> {
        let flat: Vec<f32> = self.iter().copied().collect();
        (0..n)
            .map(|i| flat[i * width..(i + 1) * width].to_vec())
            .collect()
    }
}

/// The predicted class and the class probabilities of one row of logits.
fn classify(row: &[f32], loss: Loss) -> (u32, Vec<f32>) {
    if loss == Loss::BinaryCrossEntropy {
        let p = 1.0 / (1.0 + (-row[0]).exp());
        return ((p >= 0.5) as u32, vec![1.0 - p, p]);
    }
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = row.iter().map(|x| (x - max).exp()).collect();
    let total: f32 = exps.iter().sum();
    let probs: Vec<f32> = exps.iter().map(|e| e / total).collect();
    (argmax(row), probs)
}

/// The index of the largest value (the first, on ties).
fn argmax(row: &[f32]) -> u32 {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &x)| {
            if x > best.1 {
                (i, x)
            } else {
                best
            }
        })
        .0 as u32
}

/// Correct predictions among the labelled examples of a batch.
fn count_right(pred: &ArrayD<f32>, labels: &[u32], labelled: &[bool], loss: Loss) -> usize {
    if labels.is_empty() {
        return 0;
    }
    let width = pred.len() / labels.len();
    pred.rows_iter(labels.len(), width)
        .iter()
        .zip(labels)
        .zip(labelled)
        .filter(|((row, &l), &has)| has && classify(row, loss).0 == l)
        .count()
}

/// Unlabelled training examples train only through the rules' or the teacher's term: the
/// label-free target must make CE(y, p) vanish, and no sampler or weight may read labels.
fn check_unlabelled(train: &TrainDecl, split: &Dataset, loss: Loss) -> Result<(), RunError> {
    let n = split.n_unlabelled();
    if n == 0 {
        return Ok(());
    }
    let problem = if !matches!(loss, Loss::CrossEntropy { label_smoothing } if label_smoothing == 0.0)
    {
        Some((
            "the loss",
            "Use `loss: cross_entropy` without label smoothing.",
        ))
    } else if train.sampler.name != "uniform" {
        Some(("the sampler", "Use the default `sampler: uniform`."))
    } else if step::has_example_weights(train) {
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

/// How the trainer compiles its programs: the runtime's two worker threads, no CLIF text.
const JIT_OPTIONS: crate::jit::Options = crate::jit::Options {
    threads: 2,
    clif: false,
    inference: false,
};

/// The JIT's view of a step's inputs.
fn input_slices<'a>(
    inputs: &'a [(&'a str, ArrayD<f32>)],
) -> std::collections::BTreeMap<&'a str, &'a [f32]> {
    inputs
        .iter()
        .map(|(n, v)| (*n, v.as_slice().expect("inputs are built contiguous")))
        .collect()
}
