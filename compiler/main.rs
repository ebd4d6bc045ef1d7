//! The `nnc` command line: reads files, calls the library, renders reports.
//! This is the only place that does IO or chooses colours.

/// `print!` that ignores a closed stdout (`nnc ir ... | head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `println!` that ignores a closed stdout.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod cli;

use clap::{Parser, Subcommand, ValueEnum};
use nnc::diagnostics::{self, RenderOptions};
use nnc::train::Backend;
use nnc::Checked;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "nnc",
    version,
    about = "A compiler for neural-network specifications (.nn files)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse, resolve and shape-check a spec; exit 1 if it has errors.
    Check {
        file: PathBuf,
        /// Print one JSON object on stdout instead of rendered diagnostics.
        #[arg(long)]
        json: bool,
    },
    /// Per-layer output shapes, parameters and multiply-accumulates, with totals.
    Summary {
        file: PathBuf,
        /// The network to summarize (default: the train block's, else the first).
        #[arg(long)]
        network: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Initialise, train and evaluate a spec's train block.
    Run {
        file: PathBuf,
        /// Which train block (needed when the spec has several).
        #[arg(long)]
        train: Option<String>,
        /// Override a field: `--set train.epochs=3`, `--set data.split=0.5` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// The train block's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Output folder (default: runs/<spec name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print one JSON object with the results on stdout.
        #[arg(long)]
        json: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Continue the run saved in this checkpoint (optimizer state included).
        #[arg(long, value_name = "CHECKPOINT")]
        resume: Option<PathBuf>,
        /// Start from parameters saved elsewhere (safetensors; names like `fc1.weight`).
        #[arg(long, value_name = "WEIGHTS")]
        init_from: Option<PathBuf>,
        /// Execution engine: fused Cranelift kernels, or the reference interpreter.
        #[arg(long, value_enum, default_value_t = Backend::Jit)]
        backend: Backend,
    },
    /// Evaluate a checkpoint on the spec's test split.
    Eval {
        file: PathBuf,
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long)]
        train: Option<String>,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        #[arg(long)]
        json: bool,
        /// Execution engine: fused Cranelift kernels, or the reference interpreter.
        #[arg(long, value_enum, default_value_t = Backend::Jit)]
        backend: Backend,
    },
    /// Rewrite specs in canonical layout, in place; `-` reads stdin and writes stdout.
    Fmt {
        /// The specs to format, or `-` for standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing: print a diff and exit 1 if a file is not formatted.
        #[arg(long)]
        check: bool,
    },
    /// Time compilation, the training step and inference, on both backends.
    Bench {
        file: PathBuf,
        /// The train block to bench when the spec has several.
        #[arg(long)]
        train: Option<String>,
        /// Override a setting, e.g. `--set train.batch=256`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
        /// Bench only this backend (default: both).
        #[arg(long, value_enum)]
        backend: Option<Backend>,
        /// Minimum seconds of timed calls behind each median.
        #[arg(long, default_value_t = 1.0)]
        time: f64,
        /// Worker threads of the JIT backend (1 turns off every two-thread split).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=2))]
        threads: u16,
    },
    /// Do two networks learn the same units? Correlate and match them layer by layer.
    Compare(cli::compare::CompareArgs),
    /// Gradient shattering, ReLU co-activation and linear probes of a spec's network.
    Diagnose(cli::diagnose::DiagnoseArgs),
    /// Print a compilation stage as text.
    Ir {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Stage::Ir)]
        stage: Stage,
        /// Batch size of the `prim` and `grad` stages.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// The train block (`prim`, `grad`) when the spec has several.
        #[arg(long)]
        train: Option<String>,
        /// `prim`, `opt`, `plan`, `clif`: the inference program (forward pass in evaluation
        /// mode, as `eval` and `bench` latency run it) instead of the training step.
        #[arg(long)]
        eval: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Stage {
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

fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}

fn render_options() -> RenderOptions {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100);
    RenderOptions { color, width }
}

/// Prints diagnostics to stderr; returns whether there were errors.
pub(crate) fn report(checked: &Checked) -> bool {
    if !checked.diags.is_empty() {
        eprint!(
            "{}",
            diagnostics::render(&checked.diags, &checked.sources, render_options())
        );
    }
    checked.has_errors()
}

fn diagnostics_json(checked: &Checked) -> Vec<serde_json::Value> {
    checked
        .diags
        .iter()
        .map(|d| diagnostics::to_json(d, &checked.sources))
        .collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { file, json } => check(&file, json),
        Command::Summary {
            file,
            network,
            json,
        } => summary(&file, network.as_deref(), json),
        Command::Ir {
            file,
            stage,
            batch,
            train,
            eval,
        } => ir(&file, stage, batch.max(1), train.as_deref(), eval),
        Command::Run {
            file,
            train,
            mut overrides,
            seed,
            out,
            json,
            quiet,
            resume,
            init_from,
            backend,
        } => {
            if let Some(seed) = seed {
                overrides.push(format!("train.seed={seed}"));
            }
            let args = cli::run::RunArgs {
                file,
                train,
                overrides,
                out,
                json,
                quiet,
                resume,
                init_from,
                backend,
            };
            finish(cli::run::run(&args))
        }
        Command::Eval {
            file,
            checkpoint,
            train,
            overrides,
            json,
            backend,
        } => finish(cli::run::eval(
            &file,
            train.as_deref(),
            &overrides,
            &checkpoint,
            json,
            backend,
        )),
        Command::Compare(args) => finish(cli::compare::compare(&args)),
        Command::Diagnose(args) => finish(cli::diagnose::diagnose(&args)),
        Command::Fmt { files, check } => fmt(&files, check),
        Command::Bench {
            file,
            train,
            overrides,
            json,
            backend,
            time,
            threads,
        } => finish(cli::bench::bench(&cli::bench::BenchArgs {
            file,
            train,
            overrides,
            json,
            backend,
            time,
            threads: threads.into(),
        })),
    }
}

/// Exit code of a command; a report is printed with miette's graphical handler.
fn finish(result: Result<(), cli::run::Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(cli::run::Failure::Reported) => ExitCode::from(1),
        Err(cli::run::Failure::Report(report)) => {
            eprintln!("{report:?}");
            ExitCode::from(1)
        }
    }
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn check(file: &Path, json: bool) -> ExitCode {
    let checked = nnc::check_path(file, &read);
    let ok = !checked.has_errors();
    if json {
        let errors = checked.diags.iter().filter(|d| d.is_error()).count();
        let networks: Vec<_> = checked
            .program
            .networks
            .iter()
            .map(|n| {
                let t = nnc::hir::params::totals(n);
                serde_json::json!({
                    "name": n.name,
                    "layers": n.layers.len(),
                    "params": t.params().min(u64::MAX as u128) as u64,
                })
            })
            .collect();
        let out = serde_json::json!({
            "file": file.display().to_string(),
            "ok": ok,
            "errors": errors,
            "warnings": checked.diags.len() - errors,
            "diagnostics": diagnostics_json(&checked),
            "networks": networks,
        });
        outln!("{out}");
    } else {
        report(&checked);
        if ok {
            let p = &checked.program;
            outln!(
                "{}: ok ({} network{}, {} data, {} train, {} rules)",
                file.display(),
                p.networks.len(),
                if p.networks.len() == 1 { "" } else { "s" },
                p.data.len(),
                p.trains.len(),
                p.rules.len()
            );
        }
    }
    exit(ok)
}

fn summary(file: &Path, network: Option<&str>, json: bool) -> ExitCode {
    let checked = nnc::check_path(file, &read);
    if report(&checked) {
        return exit(false);
    }
    let program = &checked.program;
    let chosen = match network {
        Some(name) => program.network(name),
        None => program
            .trains
            .first()
            .and_then(|t| program.network(&t.network))
            .or_else(|| program.networks.first()),
    };
    let Some(net) = chosen else {
        let names: Vec<&str> = program.networks.iter().map(|n| n.name.as_str()).collect();
        eprintln!(
            "error: {} (networks in {}: {})",
            match network {
                Some(n) => format!("no network named `{n}`"),
                None => "the spec has no network".to_string(),
            },
            file.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
        return exit(false);
    };
    let s = nnc::summary::summarize(net);
    if json {
        outln!("{}", serde_json::to_string(&s).unwrap_or_default());
    } else {
        out!("{}", nnc::summary::render(&s));
    }
    exit(true)
}

fn ir(file: &Path, stage: Stage, batch: usize, train: Option<&str>, eval: bool) -> ExitCode {
    match stage {
        Stage::Ast => {
            let bytes = match read(file) {
                Ok(b) => b,
                Err(_) => {
                    // Let the checker produce the standard diagnostic.
                    let checked = nnc::check_path(file, &read);
                    report(&checked);
                    return exit(false);
                }
            };
            let text = String::from_utf8_lossy(&bytes);
            let parsed = nnc::parse_text(&file.display().to_string(), &text);
            let failed = report(&parsed);
            out!(
                "{}",
                nnc::syntax::print::print_file(&parsed.files[0], &parsed.sources)
            );
            exit(!failed)
        }
        Stage::Ir => {
            let checked = nnc::check_path(file, &read);
            if report(&checked) {
                return exit(false);
            }
            out!(
                "{}",
                nnc::hir::display::print_program(&checked.program, &checked.sources)
            );
            exit(true)
        }
        Stage::Prim | Stage::Grad | Stage::Opt | Stage::Plan | Stage::Clif => {
            let checked = nnc::check_path(file, &read);
            if report(&checked) {
                return exit(false);
            }
            let program = &checked.program;
            if eval && matches!(stage, Stage::Grad) {
                eprintln!("error: `--eval` shows the inference program; it has no `grad` stage (use `prim`, `opt`, `plan` or `clif`)");
                return exit(false);
            }
            let decl = match cli::run::select_train(program, train, file) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("{e:?}");
                    return exit(false);
                }
            };
            let Some(net) = program.network(&decl.network) else {
                return exit(false);
            };
            // Logic rules and distillation resolve against the data and the teacher's
            // checkpoint: their terms are in the step only when those load, as in `nnc run`.
            let extras = if decl.rules.is_some() || decl.teacher.is_some() {
                let base = file.parent().unwrap_or(Path::new("."));
                match nnc::train::Trainer::new(program, decl, base) {
                    Ok(t) => t.extras().clone(),
                    Err(e) => {
                        eprintln!("{:?}", miette::Report::new(e));
                        return exit(false);
                    }
                }
            } else {
                nnc::train::step::Extras::default()
            };
            let p = match stage {
                _ if eval => nnc::train::step::forward_with_extras(
                    net,
                    decl,
                    batch,
                    nnc::lower::Mode::Eval,
                    &extras,
                ),
                Stage::Prim => nnc::train::step::forward_with_extras(
                    net,
                    decl,
                    batch,
                    nnc::lower::Mode::Train,
                    &extras,
                ),
                _ => nnc::train::step::training_step_with_extras(net, decl, batch, &extras),
            };
            let what = if eval { " (inference)" } else { "" };
            outln!("// network {} at batch {batch}{what}", net.name);
            if matches!(stage, Stage::Opt | Stage::Plan | Stage::Clif) {
                return match nnc::jit::stage_text(&p.graph, stage_name(stage), eval) {
                    Ok(text) => {
                        out!("{text}");
                        exit(true)
                    }
                    Err(e) => {
                        eprintln!("error: the JIT failed: {e}");
                        exit(false)
                    }
                };
            }
            for param in &p.lowered.params {
                outln!("// param {} {:?} {:?}", param.name, param.shape, param.kind);
            }
            for s in p.lowered.state.iter().chain(&p.opt_state) {
                outln!("// state {} {:?} init {}", s.name, s.shape, s.init);
            }
            out!("{}", p.graph);
            exit(true)
        }
    }
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Plan => "plan",
        Stage::Clif => "clif",
        _ => "opt",
    }
}

fn fmt(files: &[PathBuf], check: bool) -> ExitCode {
    let mut ok = true;
    for file in files {
        ok &= if file.as_os_str() == "-" {
            fmt_stdin(check)
        } else {
            fmt_file(file, check)
        };
    }
    exit(ok)
}

fn fmt_stdin(check: bool) -> bool {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("error: cannot read standard input: {e}");
        return false;
    }
    match nnc::fmt::format_source("<stdin>", &text) {
        Err(checked) => {
            report(&checked);
            false
        }
        Ok(out) if check => {
            if out != text {
                out!("{}", short_diff("<stdin>", &text, &out));
            }
            out == text
        }
        Ok(out) => {
            out!("{out}");
            true
        }
    }
}

/// Formats one file in place, or with `check` only tells whether it would change.
fn fmt_file(file: &Path, check: bool) -> bool {
    let text = match read(file).map(String::from_utf8) {
        Ok(Ok(text)) if text.len() <= nnc::MAX_FILE_BYTES => text,
        // Let the checker produce the standard diagnostic (not found, not UTF-8, too large).
        _ => {
            report(&nnc::check_path(file, &read));
            return false;
        }
    };
    let shown = file.display().to_string();
    let out = match nnc::fmt::format_source(&shown, &text) {
        Ok(out) => out,
        Err(checked) => {
            report(&checked);
            return false;
        }
    };
    if out == text {
        return true;
    }
    if check {
        out!("{}", short_diff(&shown, &text, &out));
        return false;
    }
    match write_atomically(file, &out) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("error: cannot write {shown}: {e}");
            false
        }
    }
}

/// A unified diff from `old` to `new`, cut after a screenful.
fn short_diff(name: &str, old: &str, new: &str) -> String {
    const MAX_LINES: usize = 60;
    let diff = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(name, &format!("{name} (formatted)"))
        .to_string();
    let total = diff.lines().count();
    if total <= MAX_LINES {
        return diff;
    }
    let mut short: String = diff
        .lines()
        .take(MAX_LINES)
        .flat_map(|l| [l, "\n"])
        .collect();
    short.push_str(&format!("... ({} more diff lines)\n", total - MAX_LINES));
    short
}

/// Replaces `path` by `text` atomically, keeping its permissions; through a symlink, the
/// target is rewritten rather than the link replaced.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let path = std::fs::canonicalize(path)?;
    nnc_runtime::files::write_atomic(&path, text.as_bytes())
}
