//! The `nnc` command line: parses the arguments and hands them to the command's module in
//! `cli/`, which reads files, calls the library and renders reports.

// Input never panics (docs/ARCHITECTURE.md, "Panics"): no unwrap, and each expect states the
// invariant that rules it out, with an allow naming it. Tests may unwrap.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

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

use clap::{Parser, Subcommand};
use cli::Failure;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "nnc",
    version,
    about = "A compiler for neural-network specifications (.nn files)",
    after_help = "Exit codes: 0 success, 1 failure (a mistake in the spec, the data, a file or \
                  the command line). docs/cli.md describes every command."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse, resolve and shape-check a spec; exit 1 if it has errors.
    Check(cli::check::Args),
    /// Per-layer output shapes, parameters and multiply-accumulates, with totals.
    Summary(cli::summary::Args),
    /// Initialise, train and evaluate a spec's train block.
    Run(cli::run::Args),
    /// Evaluate a checkpoint on the spec's test split.
    Eval(cli::eval::Args),
    /// Score new data (CSV, NPY, IDX, PNG) with a trained model: classes and probabilities.
    Predict(cli::predict::Args),
    /// Rewrite specs in canonical layout, in place; `-` reads stdin and writes stdout.
    Fmt(cli::fmt::Args),
    /// Time compilation, the training step and inference, on both backends.
    Bench(cli::bench::Args),
    /// Do two networks learn the same units? Correlate and match them layer by layer.
    Compare(cli::compare::Args),
    /// Gradient shattering, ReLU co-activation and linear probes of a spec's network.
    Diagnose(cli::diagnose::Args),
    /// Print a compilation stage as text.
    Ir(cli::ir::Args),
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => return cli::usage::exit(&e, &argv),
    };
    cli::warn_about_environment();
    let outcome = match &cli.command {
        Command::Check(args) => cli::check::run(args),
        Command::Summary(args) => cli::summary::run(args),
        Command::Run(args) => cli::run::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Predict(args) => cli::predict::run(args),
        Command::Fmt(args) => cli::fmt::run(args),
        Command::Bench(args) => cli::bench::run(args),
        Command::Compare(args) => cli::compare::run(args),
        Command::Diagnose(args) => cli::diagnose::run(args),
        Command::Ir(args) => cli::ir::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Reported) => ExitCode::from(1),
        Err(Failure::Report(report)) => {
            eprintln!("{report:?}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every option and argument of every command says what it is for in `--help`.
    #[test]
    fn every_option_has_a_description() {
        let cli = Cli::command();
        let mut missing = Vec::new();
        for sub in cli.get_subcommands() {
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("nnc {} {id}", sub.get_name()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "options without a description: {missing:?}"
        );
    }
}
