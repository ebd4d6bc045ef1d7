//! The engine that runs a train block's programs: it builds the training step and the
//! evaluation program per (mode, batch size) once, compiles them once for the JIT, and runs
//! them on the chosen backend. The one place that dispatches on [`Backend`].

use super::step::{self, Extras, Program};
use super::{RunError, State};
use crate::hir::{Network, TrainDecl};
use crate::jit::Compiled;
use crate::lower::Mode;
use crate::prim::interp::{self, Bindings};
use crate::prim::NodeId;
use ndarray::ArrayD;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// The engine that runs compiled programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The unfused reference interpreter: the oracle.
    Reference,
    /// Fused kernels compiled with Cranelift, matrix products in `gemm` (two threads).
    Jit,
}

/// How the trainer compiles its programs: the runtime's two worker threads, no CLIF text.
const JIT_OPTIONS: crate::jit::Options = crate::jit::Options {
    threads: 2,
    clif: false,
    inference: false,
};

/// A step's inputs by name.
pub type Inputs<'a> = [(&'a str, ArrayD<f32>)];

/// What one run reads besides its inputs: the weights (the trainer's state, then weights
/// read but not trained), the seed and step of its dropout noise, and whether the weights
/// are unchanged since this program's last run (an evaluation program then reuses its
/// hoisted parameter-only values).
pub struct Reads<'a> {
    pub weights: [&'a State; 2],
    pub seed: u64,
    pub step: u64,
    pub same_weights: bool,
}

pub struct Engine {
    net: Network,
    decl: TrainDecl,
    extras: Extras,
    backend: Backend,
    programs: HashMap<(Mode, usize), Rc<Program>>,
    compiled: HashMap<(Mode, usize), Compiled>,
}

impl Engine {
    pub fn new(net: Network, decl: TrainDecl, extras: Extras) -> Engine {
        Engine {
            net,
            decl,
            extras,
            backend: Backend::Jit,
            programs: HashMap::new(),
            compiled: HashMap::new(),
        }
    }

    pub fn net(&self) -> &Network {
        &self.net
    }

    pub fn decl(&self) -> &TrainDecl {
        &self.decl
    }

    pub fn extras(&self) -> &Extras {
        &self.extras
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn set_backend(&mut self, backend: Backend) {
        self.backend = backend;
    }

    /// The program for a mode and batch size (built once, then cached).
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

    /// Runs the program of `mode` at `batch`. It returns the loss, the prediction, then
    /// (training) every update, then (several outputs) each output's prediction and loss,
    /// then (evaluation with rules) the teacher q, then the per-example losses if
    /// `per_example` (hard mining reads them).
    pub fn run(
        &mut self,
        mode: Mode,
        batch: usize,
        inputs: &Inputs,
        reads: &Reads,
        per_example: bool,
    ) -> Result<Vec<ArrayD<f32>>, RunError> {
        let program = self.program(mode, batch);
        crate::budget::check_graph(&self.net, &program.graph, batch, crate::budget::limit())?;
        let mut wanted = vec![program.loss, program.prediction];
        wanted.extend(program.updates.iter().map(|(_, id)| *id));
        wanted.extend(program.heads.iter().flat_map(|h| [h.prediction, h.loss]));
        wanted.extend(program.q);
        if per_example {
            wanted.push(program.per_example);
        }
        self.execute(&program, &wanted, Some((mode, batch)), inputs, reads)
    }

    /// Runs `wanted` of `program` once, without caching its compiled form (a query outside
    /// the training loop).
    pub fn run_once(
        &mut self,
        program: &Program,
        wanted: &[NodeId],
        inputs: &Inputs,
        reads: &Reads,
    ) -> Result<Vec<ArrayD<f32>>, RunError> {
        self.execute(program, wanted, None, inputs, reads)
    }

    /// Interpreter bindings of `inputs` and the weights.
    pub fn bindings(inputs: &Inputs, reads: &Reads) -> Bindings<f32> {
        let mut b = Bindings::new().seed(reads.seed, reads.step);
        for (name, value) in inputs {
            b = b.input(name, value.clone());
        }
        for (name, value) in reads.weights.into_iter().flatten() {
            b = b.param(name, value.clone());
        }
        b
    }

    /// The backend dispatch. `cache`: the key the JIT keeps the compiled program under.
    fn execute(
        &mut self,
        program: &Program,
        wanted: &[NodeId],
        cache: Option<(Mode, usize)>,
        inputs: &Inputs,
        reads: &Reads,
    ) -> Result<Vec<ArrayD<f32>>, RunError> {
        match self.backend {
            Backend::Reference => {
                interp::evaluate(&program.graph, &Self::bindings(inputs, reads), wanted)
                    .map_err(RunError::internal)
            }
            Backend::Jit => {
                let compile = |inference: bool| {
                    let options = crate::jit::Options {
                        inference,
                        ..JIT_OPTIONS
                    };
                    crate::jit::compile(&program.graph, wanted, options).map_err(RunError::internal)
                };
                let mut once;
                let compiled = match cache {
                    Some(key) => match self.compiled.entry(key) {
                        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(compile(key.0 == Mode::Eval)?)
                        }
                    },
                    None => {
                        once = compile(false)?;
                        &mut once
                    }
                };
                if !reads.same_weights {
                    compiled.params_changed();
                }
                let slices: BTreeMap<&str, &[f32]> = inputs
                    .iter()
                    .map(|(n, v)| {
                        let slice = v.as_slice().ok_or_else(|| {
                            RunError::internal(format!("input `{n}` is not contiguous"))
                        })?;
                        Ok((*n, slice))
                    })
                    .collect::<Result<_, RunError>>()?;
                compiled
                    .run(&slices, &reads.weights, reads.seed, reads.step)
                    .map(<[ArrayD<f32>]>::to_vec)
                    .map_err(RunError::internal)
            }
        }
    }
}
