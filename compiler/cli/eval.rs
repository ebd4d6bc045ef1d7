//! `nnc eval`: the test split's metrics for a saved model or checkpoint.

use super::prepare::prepare;
use super::report::{heads_line, report_of, split_json, tables};
use super::{Outcome, SpecArgs};
use nnc::train::Backend;
use nnc_runtime::checkpoint::Checkpoint;
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// The weights to evaluate: a run's model.safetensors or checkpoint.safetensors.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Print one JSON object with the results on stdout.
    #[arg(long)]
    pub json: bool,
    /// Execution engine: fused Cranelift kernels, or the reference interpreter.
    #[arg(long, value_enum, default_value_t = Backend::Jit)]
    pub backend: Backend,
}

pub fn run(args: &Args) -> Outcome {
    let (_, mut trainer) = prepare(&args.spec, args.backend)?;
    trainer.load_weights(&Checkpoint::load(&args.checkpoint)?)?;
    let test = trainer.evaluate(true)?;
    let report = report_of(&test);
    if args.json {
        outln!(
            "{}",
            json!({
                "spec": args.spec.file.display().to_string(),
                "checkpoint": args.checkpoint.display().to_string(),
                "test": split_json(&test, report.as_ref(), true),
            })
        );
    } else {
        out!("{}", tables(&test, trainer.data().test.class_names()));
        outln!(
            "test accuracy {:.4}, loss {:.4}{}",
            test.accuracy(),
            test.loss,
            heads_line(&test)
        );
    }
    Ok(())
}
