//! `nnc bench`: how long a spec takes to compile, and how fast its training step and its
//! inference run, on the JIT and on the reference interpreter, side by side.
//!
//! The step is timed the way the peer harness (../shared/bench/peers) times it: one fixed
//! batch, the parameters from the spec's initialisation, repeated calls; each figure is the
//! median over the calls. Inputs other than the data and targets (learning rate, Adam's bias
//! corrections, rule features) get neutral values: the time of a step does not depend on them.

use super::prepare::prepare;
use super::{Failure, Outcome, SpecArgs};
use ndarray::{ArrayD, IxDyn};
use nnc::jit;
use nnc::lower::Mode;
use nnc::prim::interp::{self, Bindings};
use nnc::prim::op::Op;
use nnc::prim::{Graph, NodeId};
use nnc::train::step::{self, Program};
use nnc::train::{Backend, Trainer};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Bench only this backend (default: both).
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Minimum seconds of timed calls behind each median.
    #[arg(long, default_value_t = 1.0)]
    pub time: f64,
    /// Worker threads of the JIT backend (1 turns off every two-thread split).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=2))]
    pub threads: u16,
}

/// The figures of one backend.
struct Figures {
    backend: Backend,
    front_ms: f64,
    lower_ms: f64,
    /// Schedule, memory plan and Cranelift codegen of the training step (JIT only).
    jit_ms: f64,
    step: Duration,
    infer1: Duration,
    infer_batch: Duration,
    peak_rss_mb: Option<f64>,
}

impl Figures {
    fn compile_ms(&self) -> f64 {
        self.front_ms + self.lower_ms + self.jit_ms
    }

    fn to_json(&self, batch: usize) -> Value {
        json!({
            "backend": backend_name(self.backend),
            "compile_ms": self.compile_ms(),
            "compile_ms_by_stage": {
                "front": self.front_ms,
                "lower": self.lower_ms,
                "jit": self.jit_ms,
            },
            "train_step_us": micros(self.step),
            "train_samples_per_s": batch as f64 / self.step.as_secs_f64(),
            "infer_latency_us": {"batch1": micros(self.infer1), "batch": micros(self.infer_batch)},
            "peak_rss_mb": self.peak_rss_mb,
        })
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Jit => "jit",
        Backend::Reference => "reference",
    }
}

pub fn run(args: &Args) -> Outcome {
    let spec = &args.spec;
    let threads = usize::from(args.threads);
    // The front end alone (parse, resolve, shape-check), without loading data.
    let started = Instant::now();
    let _ = nnc::check_path_with(&spec.file, &|p| std::fs::read(p), &spec.overrides);
    let front_ms = ms(started.elapsed());
    let (_, mut trainer) = prepare(spec, args.backend.unwrap_or(Backend::Jit))?;
    trainer.init()?;
    let batch = trainer.batch();
    let backends = match args.backend {
        Some(b) => vec![b],
        None => vec![Backend::Jit, Backend::Reference],
    };
    let mut all = Vec::new();
    for backend in backends {
        reset_peak_rss();
        let mut f = measure(&mut trainer, backend, batch, args.time, threads)?;
        f.front_ms = front_ms;
        f.peak_rss_mb = peak_rss_mb();
        all.push(f);
    }
    if args.json {
        outln!(
            "{}",
            json!({
                "spec": spec.file.display().to_string(),
                "network": trainer.net().name,
                "batch": batch,
                "threads": threads,
                "results": all.iter().map(|f| f.to_json(batch)).collect::<Vec<_>>(),
            })
        );
    } else {
        print_table(&spec.file, &trainer, batch, threads, &all);
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Compiles and times the training step and inference of one backend.
fn measure(
    trainer: &mut Trainer,
    backend: Backend,
    batch: usize,
    min_time: f64,
    threads: usize,
) -> Result<Figures, Failure> {
    let t = Instant::now();
    // The same programs `nnc run` trains with, logic rules and distillation included.
    let (net, decl, extras) = (trainer.net(), trainer.decl(), trainer.extras());
    let train = step::training_step_with_extras(net, decl, batch, extras);
    let lower_ms = ms(t.elapsed());
    let infer = |b: usize| step::forward_with_extras(net, decl, b, Mode::Eval, extras);
    let (infer1, infer_b) = (infer(1), infer(batch));

    let mut train_wanted = vec![train.loss];
    train_wanted.extend(train.updates.iter().map(|(_, id)| *id));
    // Trained weights and the distillation teacher's fixed ones.
    let mut weights = trainer.state().clone();
    weights.extend(trainer.fixed().iter().map(|(k, v)| (k.clone(), v.clone())));
    let t = Instant::now();
    let mut train_runner = Runner::new(&train, &train_wanted, backend, &weights, threads, false)?;
    let jit_ms = match backend {
        Backend::Jit => ms(t.elapsed()),
        Backend::Reference => 0.0,
    };
    // Inference programs fold batch norms and hoist their parameter-only part, computed on
    // the first call: the weights do not change between calls.
    let infer = |program: &Program| {
        Runner::new(
            program,
            &[program.prediction],
            backend,
            &weights,
            threads,
            true,
        )
    };
    let (mut infer1_runner, mut infer_b_runner) = (infer(&infer1)?, infer(&infer_b)?);
    let step = time(|| train_runner.call(), min_time)?;
    let infer1 = time(|| infer1_runner.call(), min_time)?;
    let infer_batch = time(|| infer_b_runner.call(), min_time)?;
    Ok(Figures {
        backend,
        front_ms: 0.0,
        lower_ms,
        jit_ms,
        step,
        infer1,
        infer_batch,
        peak_rss_mb: None,
    })
}

/// The median duration of calls to `f`: two warm-up calls, then calls until `min_time`
/// seconds have passed (at least 3 and at most 10,000).
fn time(mut f: impl FnMut() -> Result<(), Failure>, min_time: f64) -> Result<Duration, Failure> {
    f()?;
    f()?;
    let mut times = Vec::new();
    let started = Instant::now();
    while times.len() < 3 || (started.elapsed().as_secs_f64() < min_time && times.len() < 10_000) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// One program ready to run on one backend with fixed inputs.
enum Runner {
    Jit {
        compiled: Box<jit::Compiled>,
        inputs: BTreeMap<String, Vec<f32>>,
        params: BTreeMap<String, ArrayD<f32>>,
    },
    Reference {
        graph: Graph,
        bindings: Bindings<f32>,
        wanted: Vec<NodeId>,
    },
}

impl Runner {
    fn new(
        program: &Program,
        wanted: &[NodeId],
        backend: Backend,
        state: &BTreeMap<String, ArrayD<f32>>,
        threads: usize,
        inference: bool,
    ) -> Result<Runner, Failure> {
        let inputs = fixed_inputs(&program.graph);
        let params = bound_params(&program.graph, state);
        Ok(match backend {
            Backend::Jit => {
                let options = jit::Options {
                    threads,
                    clif: false,
                    inference,
                };
                let compiled = jit::compile(&program.graph, wanted, options)
                    .map_err(|e| Failure::Report(miette::miette!("JIT compilation failed: {e}")))?;
                Runner::Jit {
                    compiled: Box::new(compiled),
                    inputs: inputs
                        .into_iter()
                        .map(|(n, a)| (n, a.into_iter().collect()))
                        .collect(),
                    params,
                }
            }
            Backend::Reference => {
                let mut bindings = Bindings::new().seed(0, 0);
                for (name, value) in inputs {
                    bindings = bindings.input(&name, value);
                }
                for (name, value) in params {
                    bindings = bindings.param(&name, value);
                }
                Runner::Reference {
                    graph: program.graph.clone(),
                    bindings,
                    wanted: wanted.to_vec(),
                }
            }
        })
    }

    fn call(&mut self) -> Result<(), Failure> {
        let failed = |e: String| Failure::Report(miette::miette!("benchmark step failed: {e}"));
        match self {
            Runner::Jit {
                compiled,
                inputs,
                params,
            } => {
                let slices: BTreeMap<&str, &[f32]> = inputs
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_slice()))
                    .collect();
                compiled.run(&slices, &[params], 0, 0).map_err(failed)?;
            }
            Runner::Reference {
                graph,
                bindings,
                wanted,
            } => {
                interp::evaluate(graph, bindings, wanted).map_err(|e| failed(e.to_string()))?;
            }
        }
        Ok(())
    }
}

/// A value for every input of `g`: the data a seeded pseudo-random pattern in [-1, 1],
/// targets one-hot rows, scalars (learning rate, bias corrections) small constants.
fn fixed_inputs(g: &Graph) -> BTreeMap<String, ArrayD<f32>> {
    let mut out = BTreeMap::new();
    for id in g.ids() {
        if let Op::Input { name } = &g.node(id).op {
            let shape = g.shape(id);
            let n: usize = shape.iter().product();
            let value = if name == step::TARGETS && shape.len() == 2 {
                let width = shape[1];
                ArrayD::from_shape_fn(IxDyn(shape), |ix| {
                    if ix[1] == (ix[0] * 7) % width {
                        1.0
                    } else {
                        0.0
                    }
                })
            } else if n == 1 {
                ArrayD::from_elem(IxDyn(shape), 0.01)
            } else {
                let mut state = 0x9e37_79b9_u32;
                ArrayD::from_shape_simple_fn(IxDyn(shape), || {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    (state as f32 / u32::MAX as f32) * 2.0 - 1.0
                })
            };
            out.insert(name.clone(), value);
        }
    }
    out
}

/// The trainer's state for every parameter of `g` (zeros for any it does not hold, such as
/// optimizer slots before the first step).
fn bound_params(g: &Graph, state: &BTreeMap<String, ArrayD<f32>>) -> BTreeMap<String, ArrayD<f32>> {
    let mut out = BTreeMap::new();
    for id in g.ids() {
        if let Op::Param { name } = &g.node(id).op {
            let shape = g.shape(id);
            let value = state
                .get(name)
                .filter(|v| v.shape() == shape)
                .cloned()
                .unwrap_or_else(|| ArrayD::zeros(IxDyn(shape)));
            out.insert(name.clone(), value);
        }
    }
    out
}

/// Resets the kernel's peak-RSS counter of this process (Linux; elsewhere a no-op).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size since the last reset, in MiB (Linux only).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn print_table(
    file: &std::path::Path,
    trainer: &Trainer,
    batch: usize,
    threads: usize,
    all: &[Figures],
) {
    outln!(
        "bench {} (network `{}`, batch {batch}, {threads} thread(s); medians)",
        file.display(),
        trainer.net().name
    );
    let mut header = format!("{:<28}", "");
    for f in all {
        header += &format!("{:>14}", backend_name(f.backend));
    }
    outln!("{header}");
    let row = |label: &str, cell: &dyn Fn(&Figures) -> String| {
        let mut line = format!("{label:<28}");
        for f in all {
            line += &format!("{:>14}", cell(f));
        }
        outln!("{line}");
    };
    row("compile ms (total)", &|f| format!("{:.1}", f.compile_ms()));
    row("  front end", &|f| format!("{:.1}", f.front_ms));
    row("  lower + autodiff", &|f| format!("{:.1}", f.lower_ms));
    row("  jit (train step)", &|f| format!("{:.1}", f.jit_ms));
    row("train step us", &|f| format!("{:.1}", micros(f.step)));
    row("train samples/s", &|f| {
        format!("{:.0}", batch as f64 / f.step.as_secs_f64())
    });
    row("infer latency us, batch 1", &|f| {
        format!("{:.1}", micros(f.infer1))
    });
    row(&format!("infer latency us, batch {batch}"), &|f| {
        format!("{:.1}", micros(f.infer_batch))
    });
    row("peak RSS MiB", &|f| {
        f.peak_rss_mb.map_or("-".into(), |m| format!("{m:.1}"))
    });
    if let [jit, reference] = all {
        outln!(
            "jit / reference: {:.1}x training, {:.1}x inference at batch {batch}",
            reference.step.as_secs_f64() / jit.step.as_secs_f64(),
            reference.infer_batch.as_secs_f64() / jit.infer_batch.as_secs_f64()
        );
    }
}
