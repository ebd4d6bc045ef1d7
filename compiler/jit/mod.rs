//! The JIT backend: a primitive graph -> a compiled program the runtime executes.
//!
//! Stages: [`crate::opt`] simplifies the graph (folding, CSE, DCE); [`schedule`] fuses elementwise chains into loop kernels and turns views into
//! strides; [`memory`] places temporaries in one arena; [`clif`] compiles each loop kernel
//! with Cranelift; matrix products and convolution unfolding are runtime library calls.
//! [`Compiled`] owns the machine code (freed on drop) and the runtime executor.

pub mod binary;
pub mod clif;
pub mod hoist;
pub mod kernel;
pub mod memory;
pub mod schedule;
pub mod vexp;

use crate::prim::{Graph, NodeId};
use ndarray::{ArrayD, IxDyn};
use nnc_runtime::exec::{self, Buf, Executor, Loc, Operand, Plan, Step};
use schedule::{BufKind, Task};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Loop kernels with at least this many elements run on two threads (8,192: with the
/// executor's spinning partner thread a split costs well under a microsecond).
pub const SPLIT_ELEMENTS: usize = 1 << 13;

/// What the caller binds to each slot of the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotKind {
    Input(String),
    Param(String),
    /// The `i`-th wanted node.
    Output(usize),
    /// The `k`-th value computed by the hoisted preparation program.
    Hoisted(usize),
}

/// The parameter-only part of an inference program ([`hoist`]) and its last results.
struct Hoisted {
    prep: Box<Compiled>,
    /// Whether the preparation program must run again before the next run (the batch
    /// part reads its output arrays in place).
    stale: bool,
}

/// A compiled program and its machine code.
pub struct Compiled {
    exec: Executor,
    /// Kept alive while `exec` holds pointers into its code; freed on drop.
    module: Option<cranelift_jit::JITModule>,
    slots: Vec<SlotKind>,
    /// The wanted nodes' values, allocated once and overwritten by every run, so a
    /// steady-state run allocates nothing.
    outputs: Vec<ArrayD<f32>>,
    /// Each slot's base pointer for the current run (reused, for the same reason).
    bound: Bound,
    /// The plan as text (`nnc ir --stage plan`), and the kernels' CLIF if asked for.
    pub listing: String,
    pub clif: String,
    /// What the optimization passes did (`nnc ir --stage opt`).
    pub trace: Vec<crate::opt::PassReport>,
    hoisted: Option<Hoisted>,
}

impl Drop for Compiled {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: the executor, the only holder of pointers into this module's code,
            // is never run again: it is dropped with `self`.
            unsafe { module.free_memory() };
        }
    }
}

/// Options of [`compile`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Worker threads (1 or 2).
    pub threads: usize,
    /// Keep each kernel's CLIF text in [`Compiled::clif`].
    pub clif: bool,
    /// An inference program: batch norms are folded ([`crate::opt::bnfold`]) and the
    /// parameter-only part runs once per parameter change ([`hoist`]; see
    /// [`Compiled::params_changed`]). Never for a program that updates its parameters.
    pub inference: bool,
}

/// Compiles the part of `g` that `wanted` depends on, after the optimization passes.
pub fn compile(g: &Graph, wanted: &[NodeId], options: Options) -> Result<Compiled, String> {
    let optimized = if options.inference {
        crate::opt::optimize_inference(g, wanted)
    } else {
        crate::opt::optimize(g, wanted)
    };
    let split = options
        .inference
        .then(|| hoist::split(&optimized.graph, &optimized.wanted))
        .flatten();
    let Some(split) = split else {
        return compile_optimized(
            &optimized.graph,
            &optimized.wanted,
            &[],
            options,
            optimized.trace,
        );
    };
    let prep = compile_optimized(&split.prep, &split.prep_wanted, &[], options, Vec::new())?;
    // Hoisted binary weights are still scaled sign tensors for the products that read them.
    let prep_signs = binary::sign_like(&split.prep, &|_| false);
    let signed: Vec<String> = (0..split.prep_wanted.len())
        .filter(|&k| prep_signs[split.prep_wanted[k].index()])
        .map(hoist::input_name)
        .collect();
    let mut main = compile_optimized(
        &split.main,
        &split.main_wanted,
        &signed,
        options,
        optimized.trace,
    )?;
    let _ = writeln!(
        main.listing,
        "// hoisted: computed once per parameter change\n{}",
        prep.listing
    );
    if options.clif {
        let _ = write!(main.clif, "; hoisted\n{}", prep.clif);
    }
    main.hoisted = Some(Hoisted {
        prep: Box::new(prep),
        stale: true,
    });
    Ok(main)
}

/// Compiles an already optimized graph (`trace` says what the passes did; `signed_inputs`
/// hold scaled sign tensors).
fn compile_optimized(
    g: &Graph,
    wanted: &[NodeId],
    signed_inputs: &[String],
    options: Options,
    trace: Vec<crate::opt::PassReport>,
) -> Result<Compiled, String> {
    let binary = schedule::Binary {
        signed_inputs,
        inference: options.inference,
    };
    let sched = schedule::schedule(g, wanted, &binary);
    let (offsets, arena_len) = memory::plan(&sched);
    let outputs = sched
        .bufs
        .iter()
        .filter(|b| matches!(b.kind, BufKind::Output(_)));
    let floats = arena_len as u128 + outputs.map(|b| b.len as u128).sum::<u128>();
    crate::budget::check_arena(floats, crate::budget::limit())?;
    let mut slots: Vec<SlotKind> = Vec::new();
    let mut slot_lens: Vec<usize> = Vec::new();
    let mut bufs: Vec<Buf> = Vec::with_capacity(sched.bufs.len());
    for (i, b) in sched.bufs.iter().enumerate() {
        let loc = match &b.kind {
            BufKind::Arena => Loc::Arena(offsets[i].unwrap_or(0)),
            kind => {
                let kind = match kind {
                    BufKind::Input(n) => match hoist::input_index(n) {
                        Some(k) => SlotKind::Hoisted(k),
                        None => SlotKind::Input(n.clone()),
                    },
                    BufKind::Param(n) => SlotKind::Param(n.clone()),
                    BufKind::Output(k) => SlotKind::Output(*k),
                    BufKind::Arena => unreachable!(),
                };
                slots.push(kind);
                slot_lens.push(b.len);
                Loc::Slot(slots.len() - 1)
            }
        };
        bufs.push(Buf { loc, len: b.len });
    }

    let mut cg = clif::Codegen::new()?;
    let mut pending: Vec<(usize, cranelift_module::FuncId, Vec<usize>)> = Vec::new();
    let mut listing = String::new();
    let mut clif_text = String::new();
    let _ = writeln!(
        listing,
        "// arena: {arena_len} floats ({} KiB)",
        arena_len * 4 / 1024
    );
    for (i, b) in sched.bufs.iter().enumerate() {
        let place = match bufs[i].loc {
            Loc::Arena(o) => format!("arena+{o}"),
            Loc::Slot(s) => format!("slot {s} {:?}", slots[s]),
        };
        let _ = writeln!(listing, "b{i}: {} floats at {place}", b.len);
    }
    for (t, task) in sched.tasks.iter().enumerate() {
        let _ = write!(listing, "step {t}: ");
        match task {
            Task::Kernel(k) => {
                let mut table: Vec<usize> = Vec::new();
                for s in k.loads.iter().filter_map(|s| match s {
                    kernel::Source::Buffer(v) => Some(v.buf),
                    kernel::Source::Rand { .. } => None,
                }) {
                    if !table.contains(&s) {
                        table.push(s);
                    }
                }
                if !table.contains(&k.out.buf) {
                    table.push(k.out.buf);
                }
                let (id, text) = cg.compile(k, &table, options.clif)?;
                if let Some(text) = text {
                    let _ = writeln!(clif_text, "; step {t} ({})\n{text}", k.origin);
                }
                pending.push((t, id, table));
                let _ = write!(listing, "{k}");
            }
            Task::Gemm(gm) => {
                let _ = writeln!(
                    listing,
                    "{}gemm {}x{}x{} batch {:?}: b{} · b{} -> b{}",
                    if gm.binary { "binary " } else { "" },
                    gm.m,
                    gm.n,
                    gm.k,
                    gm.batch,
                    gm.a.0.buf,
                    gm.b.0.buf,
                    gm.c.0.buf
                );
            }
            Task::Im2Col { src, dst, .. } => {
                let _ = writeln!(listing, "im2col b{src} -> b{dst}");
            }
            Task::Col2Im { src, dst, .. } => {
                let _ = writeln!(listing, "col2im b{src} -> b{dst}");
            }
            Task::Conv(c) => {
                let [oh, ow] = c.window.output();
                let _ = writeln!(
                    listing,
                    "conv {:?} b{} w b{} out b{}: {} filters, image {:?}, output {oh}x{ow}, {} rows a block",
                    c.kind, c.image, c.weight.buf, c.out.buf, c.filters, c.window.image, c.rows
                );
            }
            Task::Lookup(l) => {
                let _ = writeln!(
                    listing,
                    "{:?} b{} by {} ids b{} -> b{}: {} rows of {}",
                    l.kind, l.data, l.count, l.ids, l.out, l.vocab, l.dim
                );
            }
            Task::Fill { buf, value } => {
                let _ = writeln!(listing, "fill b{buf} = {value}");
            }
        }
    }
    cg.module
        .finalize_definitions()
        .map_err(|e| e.to_string())?;
    let mut steps: Vec<Step> = Vec::with_capacity(sched.tasks.len());
    let mut next_kernel = pending.iter().peekable();
    for (t, task) in sched.tasks.iter().enumerate() {
        let kernel = |k: &kernel::LoopKernel| -> Result<exec::Kernel, String> {
            let (_, id, table) = next_kernel
                .next()
                .filter(|(pt, ..)| *pt == t)
                .ok_or_else(|| format!("step {t}: its loop kernel was not compiled"))?;
            let code = cg.module.get_finalized_function(*id);
            // SAFETY: the function was compiled with exactly this signature.
            let f: exec::KernelFn =
                unsafe { std::mem::transmute::<*const u8, exec::KernelFn>(code) };
            let extent = k.outer.first().copied().unwrap_or(1);
            Ok(exec::Kernel {
                f,
                bufs: table.clone(),
                extent,
                split: options.threads > 1 && extent >= 2 && k.elements() >= SPLIT_ELEMENTS,
            })
        };
        let gemm = |gm: &schedule::GemmTask| exec::Gemm {
            m: gm.m,
            n: gm.n,
            k: gm.k,
            batch: gm.batch.clone(),
            a: operand(&gm.a),
            b: operand(&gm.b),
            c: operand(&gm.c),
            binary: gm.binary,
            a_static: gm.a_static,
            b_static: gm.b_static,
        };
        steps.push(task.map(kernel, gemm)?);
    }
    let plan = Plan {
        bufs,
        arena_len,
        steps,
        slots: slot_lens,
    };
    Ok(Compiled {
        exec: Executor::new(plan, options.threads.max(1)),
        module: Some(cg.module),
        bound: Bound(Vec::with_capacity(slots.len())),
        slots,
        outputs: wanted
            .iter()
            .map(|w| ArrayD::zeros(IxDyn(g.shape(*w))))
            .collect(),
        listing,
        clif: clif_text,
        trace,
        hoisted: None,
    })
}

/// The text of `nnc ir --stage opt|plan|clif` for the graph's named outputs: the optimized
/// graph after the pass trace, the plan listing, or the kernels' CLIF.
pub fn stage_text(g: &Graph, stage: &str, inference: bool) -> Result<String, String> {
    let wanted: Vec<NodeId> = g.outputs.iter().map(|(_, id)| *id).collect();
    if stage == "opt" {
        let optimized = if inference {
            crate::opt::optimize_inference(g, &wanted)
        } else {
            crate::opt::optimize(g, &wanted)
        };
        let mut text = String::new();
        for pass in &optimized.trace {
            let _ = writeln!(text, "// pass {pass}");
        }
        return Ok(text + &optimized.graph.to_string());
    }
    let options = Options {
        threads: 2,
        clif: stage == "clif",
        inference,
    };
    let mut compiled = compile(g, &wanted, options)?;
    Ok(std::mem::take(if options.clif {
        &mut compiled.clif
    } else {
        &mut compiled.listing
    }))
}

fn operand((v, batch): &(kernel::View, Vec<isize>)) -> Operand {
    let r = v.strides.len();
    Operand {
        buf: v.buf,
        offset: v.offset,
        rs: v.strides[r - 2],
        cs: v.strides[r - 1],
        batch_strides: batch.clone(),
    }
}

impl Compiled {
    /// Length of the arena, in f32 elements: allocated once, reused by every run.
    pub fn arena_len(&self) -> usize {
        self.exec.plan().arena_len
    }

    /// Runs the program: `inputs` and `params` by name (each as long as the graph says; a
    /// parameter is looked up in each map of `params` in turn), returning the wanted nodes
    /// in order. The returned arrays are the program's own and are overwritten by the next
    /// run; a caller that keeps a value swaps it out (see [`Compiled::outputs_mut`]).
    pub fn run(
        &mut self,
        inputs: &BTreeMap<&str, &[f32]>,
        params: &[&BTreeMap<String, ArrayD<f32>>],
        seed: u64,
        step: u64,
    ) -> Result<&[ArrayD<f32>], String> {
        if let Some(h) = self.hoisted.as_mut().filter(|h| h.stale) {
            h.prep.run(&BTreeMap::new(), params, seed, step)?;
            h.stale = false;
        }
        self.bound.0.clear();
        for (slot, len) in self.slots.iter().zip(&self.exec.plan().slots) {
            let (ptr, have) = match slot {
                SlotKind::Input(name) => {
                    let data = inputs
                        .get(name.as_str())
                        .ok_or_else(|| format!("input `{name}` is not bound"))?;
                    (data.as_ptr() as *mut f32, data.len())
                }
                SlotKind::Param(name) => {
                    let array = params
                        .iter()
                        .find_map(|p| p.get(name))
                        .ok_or_else(|| format!("parameter `{name}` is not bound"))?;
                    let data = array
                        .as_slice()
                        .ok_or_else(|| format!("parameter `{name}` is not contiguous"))?;
                    (data.as_ptr() as *mut f32, data.len())
                }
                SlotKind::Output(k) => {
                    let data = self.outputs[*k]
                        .as_slice_mut()
                        .ok_or_else(|| format!("output {k} is not contiguous"))?;
                    (data.as_mut_ptr(), data.len())
                }
                SlotKind::Hoisted(k) => {
                    let h = self.hoisted.as_ref().ok_or("no hoisted values")?;
                    let data = h.prep.outputs[*k]
                        .as_slice()
                        .ok_or_else(|| format!("hoisted value {k} is not contiguous"))?;
                    (data.as_ptr() as *mut f32, data.len())
                }
            };
            if have != *len {
                return Err(format!(
                    "{slot:?} holds {have} values, the program needs {len}"
                ));
            }
            self.bound.0.push(ptr);
        }
        // SAFETY: every slot points at a buffer of the planned length (checked above);
        // inputs and parameters are only read (the plan writes only outputs and its arena);
        // the kernels' module lives in `self.module`.
        unsafe { self.exec.run(&self.bound.0, seed, step) };
        Ok(&self.outputs)
    }

    /// What the binary products of the runs so far did (packed or in f32).
    pub fn stats(&self) -> exec::Stats {
        self.exec.stats()
    }

    /// Tells an inference program ([`Options::inference`]) that its parameters may have
    /// changed since the last run: the next run recomputes the hoisted values first. Until
    /// this is called, a run assumes the parameters it gets are those of the last run.
    pub fn params_changed(&mut self) {
        if let Some(h) = &mut self.hoisted {
            h.stale = true;
        }
        self.exec.params_changed();
    }

    /// The wanted nodes' values of the last run, for a caller that swaps them with its own
    /// arrays of the same shapes (the trainer's new parameters) instead of copying: the
    /// next run writes into whatever arrays are here.
    pub fn outputs_mut(&mut self) -> &mut [ArrayD<f32>] {
        &mut self.outputs
    }
}

/// Slot pointers, kept between runs only as reusable capacity (dereferenced only inside
/// [`Compiled::run`], while the bound buffers are borrowed).
struct Bound(Vec<*mut f32>);
// SAFETY: the pointers are never dereferenced outside `Compiled::run`.
unsafe impl Send for Bound {}
