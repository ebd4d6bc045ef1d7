//! `nnc predict`: scores new data with a trained model. The spec gives the network and
//! the preprocessing, the model file (a run's model.safetensors, best.safetensors or
//! checkpoint.safetensors) the weights, the scaler fitted on the training split and the
//! class names; the training data is not read.
//!
//! Input (`--input`), by extension: `.csv` (the network's features per row, optionally a
//! header, optionally the spec's label column, which is ignored), `.npy` (an array `(n,
//! ...)`), IDX images (`.idx`, `*-ubyte`, optionally `.gz`), a `.png` image or a folder of
//! them (8-bit, channels first, never resized: the image must have the input's size;
//! grayscale is one channel, colour three, alpha dropped).
//!
//! Output (`--out`, default stdout): CSV with one row per example, `row` (or `file` for
//! images), `predicted` (the class name if known, else its index) and one probability
//! column per class (`p_<name>`); for a regression loss the outputs `y0, y1, ...`. With
//! `--out FILE.npy` the probabilities (or outputs) as a float32 array `(n, columns)`.

use super::prepare::select_train;
use super::{report, Failure, Outcome, SpecArgs};
use nnc::hir::settings::{CsvLabel, Source};
use nnc::train::predict::{Predictions, Predictor};
use nnc::train::Backend;
use nnc_runtime::checkpoint::Checkpoint;
use nnc_runtime::data::{load_features, write_npy, FeatureCsv, LabelColumn};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// The trained model: a run's model.safetensors (or best.safetensors, checkpoint.safetensors).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The examples to score: .csv, .npy, IDX images, a .png image or a folder of them.
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the predictions: a .csv or .npy file (default: CSV on stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Execution engine: fused Cranelift kernels, or the reference interpreter.
    #[arg(long, value_enum, default_value_t = Backend::Jit)]
    pub backend: Backend,
}

pub fn run(args: &Args) -> Outcome {
    let checked =
        nnc::check_path_with(&args.spec.file, &|p| std::fs::read(p), &args.spec.overrides);
    if report(&checked) {
        return Err(Failure::Reported);
    }
    let decl = select_train(
        &checked.program,
        args.spec.train.as_deref(),
        &args.spec.file,
    )?;
    let model = Checkpoint::load(&args.checkpoint)?;
    let mut predictor = Predictor::new(&checked.program, decl, &model)?;
    predictor.set_backend(args.backend);
    let n_features: usize = predictor.input_shape().iter().product();
    // A CSV file like the spec's own: its label column and delimiter.
    let data = checked.program.data.iter().find(|d| d.name == decl.data);
    let (label, delimiter) = match data.map(|d| &d.source) {
        Some(Source::Csv {
            label, delimiter, ..
        }) => (
            match label {
                CsvLabel::Last => LabelColumn::Last,
                CsvLabel::Index(i) => LabelColumn::Index(*i as usize),
                CsvLabel::Name(n) => LabelColumn::Name(n.clone()),
            },
            *delimiter,
        ),
        _ => (LabelColumn::Last, b','),
    };
    let features = load_features(
        &args.input,
        &FeatureCsv {
            n_features,
            label,
            delimiter,
        },
    )
    .map_err(|e| Failure::Report(miette::Report::new(e)))?;
    let shape = predictor.input_shape();
    let given: usize = features.shape.iter().product();
    let images_differ = features.shape.len() > 1 && shape.len() > 1 && features.shape != shape;
    if given != n_features || images_differ {
        return Err(miette::miette!(
            code = "nnc::data::shape_mismatch",
            help = "Give examples of the network's input shape; images are not resized.",
            "{} has examples of shape {:?} but the network's input is {:?}",
            args.input.display(),
            features.shape,
            shape
        )
        .into());
    }
    let origin = args.input.display().to_string();
    let predictions = predictor.predict(&origin, &features.values)?;
    let names = predictor.class_names().map(<[String]>::to_vec);
    match &args.out {
        Some(path)
            if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("npy")) =>
        {
            let width = predictions.scores.first().map_or(0, Vec::len);
            let flat: Vec<f32> = predictions.scores.iter().flatten().copied().collect();
            let array = ndarray::Array2::from_shape_vec((predictions.scores.len(), width), flat)
                .map_err(|e| miette::miette!("{e}"))?;
            write_npy(path, &array).map_err(|e| Failure::Report(miette::Report::new(e)))?;
        }
        Some(path) => {
            let text = csv_text(
                &predictions,
                names.as_deref(),
                features.row_names.as_deref(),
            );
            nnc_runtime::files::write_atomic(path, text.as_bytes()).map_err(|e| {
                miette::miette!(
                    code = "nnc::run::io",
                    help = "Check that the folder exists and is writable.",
                    "cannot write {}: {e}",
                    path.display()
                )
            })?;
        }
        None => out!(
            "{}",
            csv_text(
                &predictions,
                names.as_deref(),
                features.row_names.as_deref()
            )
        ),
    }
    Ok(())
}

/// Quotes a CSV field when it needs it.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The predictions as CSV (see the module docs).
fn csv_text(p: &Predictions, names: Option<&[String]>, files: Option<&[String]>) -> String {
    let width = p.scores.first().map_or(0, Vec::len);
    let name = |k: usize| {
        names
            .and_then(|n| n.get(k))
            .cloned()
            .unwrap_or(k.to_string())
    };
    let mut header = vec![if files.is_some() { "file" } else { "row" }.to_string()];
    match &p.classes {
        Some(_) => {
            header.push("predicted".into());
            header.extend((0..width).map(|k| field(&format!("p_{}", name(k)))));
        }
        None => header.extend((0..width).map(|k| format!("y{k}"))),
    }
    let mut out = header.join(",") + "\n";
    for (i, scores) in p.scores.iter().enumerate() {
        let mut row = vec![files.map_or(i.to_string(), |f| field(&f[i]))];
        if let Some(classes) = &p.classes {
            row.push(field(&name(classes[i] as usize)));
        }
        row.extend(scores.iter().map(|s| s.to_string()));
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
