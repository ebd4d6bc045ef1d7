//! The trainer's state as a checkpoint and back: parameters (PyTorch layouts: dense
//! weights [out, in], conv weights [filters, channels / groups, kh, kw]), running
//! statistics and optimizer state, plus the epoch, the step and the seed.

use super::{Backend, RunError, Trainer};
use crate::hir::{ConvKind, LayerOp};
use ndarray::{ArrayD, IxDyn};
use nnc_runtime::checkpoint::{keys, Checkpoint, Tensor};
use nnc_runtime::lr_schedule::PlateauState;

/// Metadata key of the train block's seed.
pub const SEED: &str = "seed";

/// The hard-mining sampler's loss memory (one loss per training example, NaN if not seen
/// yet): not a weight, but a resumed run draws different batches without it.
pub const SAMPLER_LOSSES: &str = "sampler.losses";

/// Metadata key of the number of epochs the run was planned for (a schedule such as
/// `cosine` follows it; resuming with another number changes the rest of the curve).
pub const EPOCHS: &str = "epochs_planned";
/// Metadata keys of the backend and (JIT) the CPU level the run trained at: results are
/// bit-reproducible per level only (docs/testing.md, "CPU levels").
pub const BACKEND: &str = "backend";
pub const CPU_LEVEL: &str = "cpu_level";
/// Metadata keys of the scaler fitted on the training split (per feature, space-separated
/// f32 in their shortest round-trip text) and the class names (a JSON list): what `nnc
/// predict` needs besides the spec.
pub const SCALER_SHIFT: &str = "data.scaler.shift";
pub const SCALER_SCALE: &str = "data.scaler.scale";
pub const CLASSES: &str = "data.classes";
/// Metadata keys of the validation tracker (`best best_epoch wait`) and of
/// `reduce_on_plateau`'s state.
pub const MONITOR: &str = "monitor";
pub const PLATEAU: &str = "schedule.plateau";

/// What `layout` says in every checkpoint nnc writes.
pub const LAYOUT: &str = "f32, row-major; dense weights [out, in] and conv weights [filters, channels/groups, kh, kw] as in PyTorch; optimizer state opt.<param>.<slot>";

impl Trainer {
    /// Everything needed to resume, or to evaluate, the run.
    pub fn to_checkpoint(&self) -> Result<Checkpoint, RunError> {
        let mut ck = Checkpoint::new();
        for (name, value) in &self.state {
            let data: Vec<f32> = value.iter().copied().collect();
            ck.insert(name.clone(), Tensor::new(value.shape(), &data)?);
        }
        if self.sampler.wants_losses() {
            let losses = self.sampler.memory().losses();
            ck.insert(SAMPLER_LOSSES, Tensor::new(&[losses.len()], losses)?);
        }
        ck.metadata
            .insert(keys::NNC_VERSION.into(), env!("CARGO_PKG_VERSION").into());
        ck.metadata
            .insert(keys::EPOCH.into(), self.epoch.to_string());
        ck.metadata.insert(keys::STEP.into(), self.step.to_string());
        ck.metadata
            .insert(SEED.into(), self.decl().seed.to_string());
        ck.metadata.insert(keys::LAYOUT.into(), LAYOUT.into());
        ck.metadata
            .insert(EPOCHS.into(), self.decl().epochs.to_string());
        match self.backend() {
            Backend::Reference => {
                ck.metadata.insert(BACKEND.into(), "reference".into());
            }
            Backend::Jit => {
                ck.metadata.insert(BACKEND.into(), "jit".into());
                ck.metadata
                    .insert(CPU_LEVEL.into(), nnc_runtime::cpu_level().into());
            }
        }
        let numbers = |v: &[f32]| v.iter().map(f32::to_string).collect::<Vec<_>>().join(" ");
        let scaler = &self.data().scaler;
        ck.metadata
            .insert(SCALER_SHIFT.into(), numbers(scaler.shift()));
        ck.metadata
            .insert(SCALER_SCALE.into(), numbers(scaler.scale()));
        if let Some(names) = self.data().train.class_names() {
            ck.metadata.insert(
                CLASSES.into(),
                serde_json::to_string(names).map_err(RunError::internal)?,
            );
        }
        if let Some(t) = self.tracker() {
            ck.metadata.insert(MONITOR.into(), t.to_text());
        }
        if let Some(state) = self.schedule().plateau {
            ck.metadata.insert(PLATEAU.into(), state.to_text());
        }
        Ok(ck)
    }

    /// The deployed model: parameters and running statistics without optimizer state,
    /// binary layers' weights packed 1 bit a weight plus one scale per filter
    /// (`nnc_runtime::checkpoint` packed.rs). `nnc eval` and `--init-from` read it; resuming
    /// needs the real-valued weights and moments of `to_checkpoint`.
    pub fn to_model(&self) -> Result<Checkpoint, RunError> {
        let mut ck = self.to_checkpoint()?;
        ck.tensors.retain(|name, _| !name.starts_with("opt."));
        ck.metadata.remove(keys::STEP);
        let binary = self.binary_weights();
        let names: Vec<&str> = binary.iter().map(String::as_str).collect();
        ck.pack_binary(&names)?;
        Ok(ck)
    }

    /// Checkpoint names of the weights binary layers use only through `alpha · sign(w)`.
    pub fn binary_weights(&self) -> Vec<String> {
        self.net()
            .layers
            .iter()
            .filter(|l| {
                matches!(
                    l.op,
                    LayerOp::Dense {
                        binary: Some(_),
                        ..
                    } | LayerOp::Conv {
                        kind: ConvKind::Binary { .. },
                        ..
                    }
                )
            })
            .map(|l| format!("{}.weight", l.name))
            .collect()
    }

    /// Every name and shape a full checkpoint of this run holds.
    fn expected(&self) -> Vec<(String, Vec<usize>)> {
        let mut out: Vec<(String, Vec<usize>)> = self
            .params
            .iter()
            .map(|p| (p.name.clone(), p.shape.clone()))
            .collect();
        out.extend(
            self.buffers
                .iter()
                .map(|b| (b.name.clone(), b.shape.clone())),
        );
        if self.sampler.wants_losses() {
            let n = self.sampler.memory().losses().len();
            out.push((SAMPLER_LOSSES.to_string(), vec![n]));
        }
        out
    }

    fn load_tensor(
        &mut self,
        ck: &Checkpoint,
        name: &str,
        shape: &[usize],
    ) -> Result<(), RunError> {
        let values = ck.values::<f32>(name)?;
        if name == SAMPLER_LOSSES {
            // check_against has already matched the length to the training split.
            return self
                .sampler
                .memory_mut()
                .restore(values)
                .ok_or_else(|| RunError::internal("loss memory length"));
        }
        let array = ArrayD::from_shape_vec(IxDyn(shape), values).map_err(RunError::internal)?;
        self.state.insert(name.to_string(), array);
        Ok(())
    }

    /// Continues a run from its checkpoint: every tensor must match by name and shape,
    /// and the seed must be the run's, so the rest of the run is the same bits as an
    /// uninterrupted one. Returns warnings for what makes it differ nonetheless: another
    /// number of epochs under a schedule that depends on it, another backend or CPU level.
    pub fn resume_from(&mut self, ck: &Checkpoint) -> Result<Vec<String>, RunError> {
        let expected = self.expected();
        let refs: Vec<(&str, &[usize])> = expected
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_slice()))
            .collect();
        ck.check_against(&refs)?;
        let meta = |key: &str| ck.metadata.get(key).and_then(|v| v.parse::<u64>().ok());
        let (Some(epoch), Some(step)) = (meta(keys::EPOCH), meta(keys::STEP)) else {
            return Err(RunError::config(
                "the checkpoint does not say which epoch and step it was written at",
                "Resume from a checkpoint written by `nnc run`; to start from weights made elsewhere use --init-from.",
            ));
        };
        if let Some(seed) = meta(SEED) {
            if seed != self.decl().seed {
                return Err(RunError::config(
                    format!(
                        "the checkpoint was trained with seed {seed}, this run has seed {}",
                        self.decl().seed
                    ),
                    format!("Resume with `--seed {seed}` so the run continues as it started."),
                ));
            }
        }
        for (name, shape) in &expected {
            self.load_tensor(ck, name, shape)?;
        }
        self.epoch = epoch;
        self.step = step;
        let text = |key: &str| ck.metadata.get(key).map(String::as_str);
        if let (Some(t), Some(state)) = (self.tracker.as_mut(), text(MONITOR)) {
            t.restore(state)
                .ok_or_else(|| RunError::internal(format!("bad `{MONITOR}` metadata")))?;
        }
        if let (Some(plateau), Some(state)) = (&mut self.schedule.plateau, text(PLATEAU)) {
            *plateau = PlateauState::from_text(state)
                .ok_or_else(|| RunError::internal(format!("bad `{PLATEAU}` metadata")))?;
        }
        Ok(self.resume_warnings(ck))
    }

    fn resume_warnings(&self, ck: &Checkpoint) -> Vec<String> {
        let text = |key: &str| ck.metadata.get(key).map(String::as_str);
        let mut out = Vec::new();
        let planned = text(EPOCHS).and_then(|e| e.parse::<u64>().ok());
        let epochs = self.decl().epochs;
        if let Some(planned) = planned.filter(|&p| p != epochs) {
            if self.schedule.shape.depends_on_epochs() {
                out.push(format!(
                    "the checkpoint was planned for {planned} epochs and this run has {epochs}: \
                     schedule `{}` follows {epochs} from epoch {} on, so the learning rates differ \
                     from those of an uninterrupted run of either length",
                    self.decl().schedule,
                    self.epoch + 1
                ));
            }
        }
        let (backend, level) = match self.backend() {
            Backend::Reference => ("reference", None),
            Backend::Jit => ("jit", Some(nnc_runtime::cpu_level())),
        };
        match (text(BACKEND), text(CPU_LEVEL)) {
            (Some(was), _) if was != backend => out.push(format!(
                "the checkpoint was trained on the {was} backend and resumes on the {backend} \
                 backend: the rest of the run differs from an uninterrupted one in the last bits"
            )),
            (_, Some(was)) if level.is_some_and(|l| l != was) => out.push(format!(
                "the checkpoint was trained at CPU level {was} and resumes at {}: the rest of the \
                 run differs from an uninterrupted one in the last bits (`NNC_CPU_LEVEL={was}` \
                 resumes exactly, if this CPU has it)",
                level.unwrap_or_default()
            )),
            _ => {}
        }
        out
    }

    /// Loads the network's parameters and running statistics only (no optimizer state):
    /// for `nnc eval`. Every parameter must be present.
    /// Packed binary weights (`to_model`) are expanded to `±alpha` first.
    pub fn load_weights(&mut self, ck: &Checkpoint) -> Result<(), RunError> {
        let ck = &ck.unpacked()?;
        let expected: Vec<(String, Vec<usize>)> = self
            .expected()
            .into_iter()
            .filter(|(n, _)| !is_run_state(n))
            .collect();
        let refs: Vec<(&str, &[usize])> = expected
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_slice()))
            .collect();
        let mut trimmed = ck.clone();
        trimmed.tensors.retain(|n, _| !is_run_state(n));
        trimmed.check_against(&refs)?;
        for (name, shape) in &expected {
            self.load_tensor(ck, name, shape)?;
        }
        Ok(())
    }

    /// Starts from parameters made elsewhere (e.g. exported from PyTorch): every tensor of
    /// the file must be a parameter or running statistic of this network with its shape;
    /// parameters the file does not have keep their init. Returns the names loaded.
    pub fn init_from(&mut self, ck: &Checkpoint) -> Result<Vec<String>, RunError> {
        let ck = &ck.unpacked()?;
        let expected = self.expected();
        let present: Vec<(&str, &[usize])> = expected
            .iter()
            .filter(|(n, _)| ck.tensors.contains_key(n) && n != SAMPLER_LOSSES)
            .map(|(n, s)| (n.as_str(), s.as_slice()))
            .collect();
        // Another run's sampler memory is no starting point: only weights carry over.
        let mut weights = ck.clone();
        weights.tensors.remove(SAMPLER_LOSSES);
        weights.check_against(&present)?;
        let names: Vec<String> = present.iter().map(|(n, _)| n.to_string()).collect();
        for (name, shape) in present {
            self.load_tensor(ck, name, shape)?;
        }
        Ok(names)
    }
}

/// Optimizer moments and sampler memory: what resuming needs and evaluating does not.
fn is_run_state(name: &str) -> bool {
    name.starts_with("opt.") || name == SAMPLER_LOSSES
}
