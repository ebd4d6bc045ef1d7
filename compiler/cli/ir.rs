//! `nnc ir`: a compilation stage as text, from the syntax tree to the JIT's Cranelift IR.

use super::prepare::select_train;
use super::{read, report, Failure, Outcome};
use clap::ValueEnum;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The spec (`.nn` file).
    pub file: PathBuf,
    /// The stage to print.
    #[arg(long, value_enum, default_value_t = Stage::Ir)]
    pub stage: Stage,
    /// Batch size of the `prim`, `grad`, `opt`, `plan` and `clif` stages.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// The train block (`prim` and later stages) when the spec has several.
    #[arg(long)]
    pub train: Option<String>,
    /// `prim`, `opt`, `plan`, `clif`: the inference program (forward pass in evaluation
    /// mode, as `eval` and `bench` latency run it) instead of the training step.
    #[arg(long)]
    pub eval: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Stage {
    /// The syntax tree.
    Ast,
    /// The resolved, shape-checked layer graph and the validated data/train/rules blocks.
    Ir,
    /// The trained network lowered to primitives (training mode), with its parameters.
    Prim,
    /// The whole training step: forward, loss, backward and optimizer update.
    Grad,
    /// The training step after the optimization passes, with the pass trace.
    Opt,
    /// The compiled training step: buffers with their arena offsets, and kernels.
    Plan,
    /// The CLIF of each loop kernel of the training step (before machine code).
    Clif,
}

pub fn run(args: &Args) -> Outcome {
    let file = &args.file;
    match args.stage {
        Stage::Ast => ast(file),
        Stage::Ir => {
            let checked = nnc::check_path(file, &read);
            if report(&checked) {
                return Err(Failure::Reported);
            }
            out!(
                "{}",
                nnc::hir::display::print_program(&checked.program, &checked.sources)
            );
            Ok(())
        }
        Stage::Prim | Stage::Grad | Stage::Opt | Stage::Plan | Stage::Clif => program(args),
    }
}

fn ast(file: &Path) -> Outcome {
    let Ok(bytes) = read(file) else {
        // Let the checker produce the standard diagnostic.
        report(&nnc::check_path(file, &read));
        return Err(Failure::Reported);
    };
    let text = String::from_utf8_lossy(&bytes);
    let parsed = nnc::parse_text(&file.display().to_string(), &text);
    let failed = report(&parsed);
    out!(
        "{}",
        nnc::syntax::print::print_file(&parsed.files[0], &parsed.sources)
    );
    super::ok_if(!failed)
}

/// The stages from the primitive IR on: the training step, or with `--eval` the inference
/// program, lowered at `--batch`.
fn program(args: &Args) -> Outcome {
    let (file, stage, eval, batch) = (&args.file, args.stage, args.eval, args.batch.max(1));
    let checked = nnc::check_path(file, &read);
    if report(&checked) {
        return Err(Failure::Reported);
    }
    let program = &checked.program;
    if eval && matches!(stage, Stage::Grad) {
        return Err(miette::miette!(
            code = "nnc::cli::usage",
            help = "Use `--stage prim`, `opt`, `plan` or `clif` with `--eval`.",
            "`--eval` shows the inference program, which has no `grad` stage"
        )
        .into());
    }
    let decl = select_train(program, args.train.as_deref(), file)?;
    let Some(net) = program.network(&decl.network) else {
        return Err(Failure::Reported);
    };
    // Logic rules and distillation resolve against the data and the teacher's
    // checkpoint: their terms are in the step only when those load, as in `nnc run`.
    let extras = if decl.rules.is_some() || decl.teacher.is_some() {
        let base = file.parent().unwrap_or(Path::new("."));
        nnc::train::Trainer::new(program, decl, base)?
            .extras()
            .clone()
    } else {
        nnc::train::step::Extras::default()
    };
    use nnc::lower::Mode;
    use nnc::train::step::{forward_with_extras, training_step_with_extras};
    let p = match stage {
        _ if eval => forward_with_extras(net, decl, batch, Mode::Eval, &extras),
        Stage::Prim => forward_with_extras(net, decl, batch, Mode::Train, &extras),
        _ => training_step_with_extras(net, decl, batch, &extras),
    };
    let what = if eval { " (inference)" } else { "" };
    outln!("// network {} at batch {batch}{what}", net.name);
    let jit_stage = match stage {
        Stage::Plan => Some("plan"),
        Stage::Clif => Some("clif"),
        Stage::Opt => Some("opt"),
        Stage::Ast | Stage::Ir | Stage::Prim | Stage::Grad => None,
    };
    if let Some(name) = jit_stage {
        let text = nnc::jit::stage_text(&p.graph, name, eval)
            .map_err(|e| miette::miette!(code = "nnc::run::internal", "the JIT failed: {e}"))?;
        out!("{text}");
        return Ok(());
    }
    for param in &p.lowered.params {
        outln!("// param {} {:?} {:?}", param.name, param.shape, param.kind);
    }
    for s in p.lowered.state.iter().chain(&p.opt_state) {
        outln!("// state {} {:?} init {}", s.name, s.shape, s.init);
    }
    out!("{}", p.graph);
    Ok(())
}
