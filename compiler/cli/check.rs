//! `nnc check`: parse, resolve and shape-check a spec; every mistake with its place.

use super::{ok_if, read, report, Outcome};
use nnc::diagnostics;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The spec (`.nn` file).
    pub file: PathBuf,
    /// Print one JSON object on stdout instead of rendered diagnostics.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> Outcome {
    let file = &args.file;
    let checked = nnc::check_path(file, &read);
    let ok = !checked.has_errors();
    if args.json {
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
        let diagnostics: Vec<_> = checked
            .diags
            .iter()
            .map(|d| diagnostics::to_json(d, &checked.sources))
            .collect();
        let out = serde_json::json!({
            "file": file.display().to_string(),
            "ok": ok,
            "errors": errors,
            "warnings": checked.diags.len() - errors,
            "diagnostics": diagnostics,
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
    ok_if(ok)
}
