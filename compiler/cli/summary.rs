//! `nnc summary`: per-layer output shapes, parameters and multiply-accumulates, with totals.

use super::{read, report, Failure, Outcome};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The spec (`.nn` file).
    pub file: PathBuf,
    /// The network to summarize (default: the train block's, else the first).
    #[arg(long)]
    pub network: Option<String>,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> Outcome {
    let checked = nnc::check_path(&args.file, &read);
    if report(&checked) {
        return Err(Failure::Reported);
    }
    let program = &checked.program;
    let network = args.network.as_deref();
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
        let listed = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        };
        return Err(match network {
            Some(n) => miette::miette!(
                code = "nnc::cli::usage",
                help = format!("Name one of the spec's networks with --network: {listed}."),
                "no network named `{n}` in {}",
                args.file.display()
            ),
            None => miette::miette!(
                code = "nnc::cli::usage",
                help = "Add a `network NAME { input ...; output ... }` item.",
                "{} has no network",
                args.file.display()
            ),
        }
        .into());
    };
    let s = nnc::summary::summarize(net);
    if args.json {
        outln!("{}", serde_json::to_string(&s).unwrap_or_default());
    } else {
        out!("{}", nnc::summary::render(&s));
    }
    Ok(())
}
