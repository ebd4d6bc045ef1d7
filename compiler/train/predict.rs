//! Scoring new data with a trained model (`nnc predict`): the spec gives the network and
//! its preprocessing, the model file its weights, the scaler fitted on the training split
//! and the class names. The training data is not read.

use super::checkpoint::{CLASSES, SCALER_SCALE, SCALER_SHIFT};
use super::engine::{Engine, Reads};
use super::loss::classify;
use super::step::{self, Extras};
use super::{Backend, RunError, State};
use crate::hir::settings::{Loss, Scale};
use crate::hir::{DataDecl, Program as Hir, TrainDecl};
use crate::lower::Mode;
use ndarray::{Array2, ArrayD, IxDyn};
use nnc_runtime::checkpoint::Checkpoint;
use nnc_runtime::data::Scaler;

/// A trained network ready to score feature rows.
pub struct Predictor {
    engine: Engine,
    state: State,
    scaler: Scaler,
    classes: Option<Vec<String>>,
    input: String,
    input_shape: Vec<usize>,
    width: usize,
}

/// Per example: the predicted class (classification) and the class probabilities, or the
/// network's outputs (regression).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Predictions {
    pub classes: Option<Vec<u32>>,
    pub scores: Vec<Vec<f32>>,
}

impl Predictor {
    /// The network of `train` with the weights, scaler and class names of `model`.
    pub fn new(
        program: &Hir,
        train: &TrainDecl,
        model: &Checkpoint,
    ) -> Result<Predictor, RunError> {
        let unresolved = |what: &str| {
            RunError::config(
                format!("the train block's {what} did not resolve"),
                "Fix the errors `nnc check` reports.",
            )
        };
        let net = program
            .network(&train.network)
            .ok_or_else(|| unresolved("network"))?
            .clone();
        let data: &DataDecl = program
            .data
            .iter()
            .find(|d| d.name == train.data)
            .ok_or_else(|| unresolved("data block"))?;
        if crate::hir::settings::heads::is_multi(&net) {
            return Err(RunError::config(
                format!(
                    "`nnc predict` scores networks with one input and one output, but `{}` has {} inputs and {} outputs",
                    net.name,
                    net.inputs.len(),
                    net.outputs.len()
                ),
                "Use `nnc eval` for the metrics of every output on the test split.",
            ));
        }
        let (Some(&input), Some(output)) = (net.inputs.first(), net.outputs.first()) else {
            return Err(unresolved("network"));
        };
        let input_layer = net.layer(input);
        let input_shape: Vec<usize> = input_layer.shape.iter().map(|d| *d as usize).collect();
        let width = net.layer(output.layer).shape.iter().product::<u64>() as usize;
        let input = input_layer.name.clone();
        let n_features: usize = input_shape.iter().product();
        let scaler = scaler_of(model, data.scale, n_features)?;
        let classes = match model.metadata.get(CLASSES) {
            Some(text) => Some(serde_json::from_str::<Vec<String>>(text).map_err(|e| {
                RunError::config(
                    format!("the model's `{CLASSES}` metadata is not a list of names: {e}"),
                    "Use a model written by `nnc run`.",
                )
            })?),
            None => data.classes.clone(),
        };
        let mut engine = Engine::new(net, train.clone(), Extras::default());
        let batch = (train.batch as usize).max(1);
        let program = engine.program(Mode::Eval, batch);
        let model = model.unpacked()?;
        let mut expected: Vec<(String, Vec<usize>)> = program
            .lowered
            .params
            .iter()
            .map(|p| (p.name.clone(), p.shape.clone()))
            .collect();
        expected.extend(
            program
                .lowered
                .state
                .iter()
                .map(|s| (s.name.clone(), s.shape.clone())),
        );
        let refs: Vec<(&str, &[usize])> = expected
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_slice()))
            .collect();
        let mut weights = model.clone();
        weights
            .tensors
            .retain(|n, _| !n.starts_with("opt.") && n != super::checkpoint::SAMPLER_LOSSES);
        weights.check_against(&refs)?;
        let mut state = State::new();
        for (name, shape) in &expected {
            let values = model.values::<f32>(name)?;
            let array = ArrayD::from_shape_vec(IxDyn(shape), values).map_err(RunError::internal)?;
            state.insert(name.clone(), array);
        }
        Ok(Predictor {
            engine,
            state,
            scaler,
            classes,
            input,
            input_shape,
            width,
        })
    }

    pub fn set_backend(&mut self, backend: Backend) {
        self.engine.set_backend(backend);
    }

    /// The class names, from the model (or the spec's data block).
    pub fn class_names(&self) -> Option<&[String]> {
        self.classes.as_deref()
    }

    /// The network's input shape per example.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// Whether the predictions are classes (the loss is a classification loss).
    pub fn classifies(&self) -> bool {
        self.engine.decl().loss.is_classification()
    }

    /// Scales raw feature rows read from `origin` and runs the network on them in
    /// evaluation mode, in batches of the train block's `batch`.
    pub fn predict(&mut self, origin: &str, raw: &Array2<f32>) -> Result<Predictions, RunError> {
        let mut x = raw.clone();
        self.scaler.transform_rows(origin, &mut x)?;
        let loss: Loss = self.engine.decl().loss.clone();
        let batch = (self.engine.decl().batch as usize).max(1);
        let mut out = Predictions {
            classes: loss.is_classification().then(Vec::new),
            scores: Vec::with_capacity(x.nrows()),
        };
        let mut ran: Vec<usize> = Vec::new();
        let rows: Vec<usize> = (0..x.nrows()).collect();
        for chunk in rows.chunks(batch) {
            let mut shape = vec![chunk.len()];
            shape.extend_from_slice(&self.input_shape);
            let mut values = Vec::with_capacity(chunk.len() * x.ncols());
            for &r in chunk {
                values.extend(x.row(r).iter().copied());
            }
            let features =
                ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(RunError::internal)?;
            let inputs = vec![
                (self.input.as_str(), features),
                (
                    step::TARGETS,
                    ArrayD::zeros(IxDyn(&[chunk.len(), self.width])),
                ),
            ];
            let empty = State::new();
            let reads = Reads {
                weights: [&self.state, &empty],
                seed: self.engine.decl().seed,
                step: 0,
                same_weights: ran.contains(&chunk.len()),
            };
            ran.push(chunk.len());
            let outputs = self
                .engine
                .run(Mode::Eval, chunk.len(), &inputs, &reads, false)?;
            for row in super::batch::rows(&outputs[1], chunk.len(), self.width) {
                match &mut out.classes {
                    Some(classes) => {
                        let (class, probs) = classify(&row, &loss);
                        classes.push(class);
                        out.scores.push(probs);
                    }
                    None => out.scores.push(row),
                }
            }
        }
        Ok(out)
    }
}

/// The scaler the model carries, or the spec's when it needs no statistics.
fn scaler_of(model: &Checkpoint, scale: Scale, n: usize) -> Result<Scaler, RunError> {
    let numbers = |key: &str| -> Option<Vec<f32>> {
        let text = model.metadata.get(key)?;
        text.split(' ').map(|v| v.parse().ok()).collect()
    };
    if let (Some(shift), Some(factor)) = (numbers(SCALER_SHIFT), numbers(SCALER_SCALE)) {
        return Scaler::from_parts(shift, factor)
            .filter(|s| s.shift().len() == n)
            .ok_or_else(|| {
                RunError::config(
                    format!("the model's scaler does not have one shift and one scale per input feature ({n})"),
                    "Use the model.safetensors written by `nnc run` for this spec.",
                )
            });
    }
    let constant = |scale: f32| Scaler::from_parts(vec![0.0; n], vec![scale; n]);
    match scale {
        Scale::None => constant(1.0),
        Scale::Divide { by } => constant(by as f32),
        Scale::Standardize | Scale::MinMax => None,
    }
    .ok_or_else(|| {
        RunError::config(
            format!("the spec scales its features with `{scale}`, but the model does not carry the statistics fitted on the training split"),
            "Score with a model.safetensors written by `nnc run` (it stores them), or retrain.",
        )
    })
}
