//! `nnc diagnose`: how a network's gradients and units behave.
//!
//! - gradients (Balduzzi et al., papers.md section 8): d output / d input over a 1-D grid,
//!   and the lag-1 autocorrelation of that sequence, for the spec's network or for each
//!   count of its `repeat` (`--depths`), averaged over `--seeds`;
//! - co-activation: per ReLU layer, the fraction of units active per example and how often
//!   pairs fire together;
//! - linear probes (Hermann & Lampinen): a logistic-regression probe per layer, trained
//!   on the training split's activations, scored on the test split.

use super::inspect_common::{self as common, SpecRun};
use super::{Failure, Outcome, SpecArgs};
use nnc::hir::LayerOp;
use nnc::inspect::coactivation::coactivation;
use nnc::inspect::correlate::{lag1_autocorrelation, units_matrix};
use nnc::inspect::probe::Probe;
use nnc::inspect::shatter::{self, grid};
use nnc::inspect::{activations, InspectError};
use nnc::train::{Backend, Trainer};
use nnc_runtime::plot::{line_plot, Chart};
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Diagnose these weights (default: the network at its initialisation).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Train the train block first.
    #[arg(long)]
    pub trained: bool,
    /// Only the input-gradient analysis (with the others flags: those sections).
    #[arg(long)]
    pub gradients: bool,
    /// Only the co-activation of ReLU units.
    #[arg(long)]
    pub coactivation: bool,
    /// Only the linear probes.
    #[arg(long)]
    pub probe: bool,
    /// Gradients for each count of the network's `repeat`: `--depths 1,2,4,8,16,32`.
    #[arg(long, value_delimiter = ',')]
    pub depths: Option<Vec<u64>>,
    /// Average gradient statistics over these seeds: `--seeds 0,1,2`.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// Points of the input grid.
    #[arg(long, default_value_t = 256)]
    pub grid: usize,
    /// The ends of the input grid, low then high: `--range=-2,2`.
    #[arg(long, value_delimiter = ',', default_values_t = [-2.0, 2.0], allow_hyphen_values = true)]
    pub range: Vec<f64>,
    /// Differentiate this output unit of a network with several outputs.
    #[arg(long)]
    pub output_unit: Option<usize>,
    /// Probe this named feature of the data instead of the labels.
    #[arg(long)]
    pub feature: Option<String>,
    /// Folder for the plots (default: runs/<name>-diagnose).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object with the results on stdout.
    #[arg(long)]
    pub json: bool,
    /// No per-epoch lines while training.
    #[arg(long)]
    pub quiet: bool,
    /// Execution engine for training: fused Cranelift kernels, or the reference interpreter.
    #[arg(long, value_enum, default_value_t = Backend::Jit)]
    pub backend: Backend,
}

impl Args {
    /// No section chosen: all that apply to the network.
    fn all(&self) -> bool {
        !self.gradients && !self.coactivation && !self.probe
    }

    /// `--range` as two increasing ends of a grid of at least 3 points.
    fn grid_range(&self) -> Result<(f64, f64), Failure> {
        match self.range.as_slice() {
            [lo, hi] if lo < hi && self.grid >= 3 => Ok((*lo, *hi)),
            _ => Err(common::inspect_error(InspectError::invalid(
                format!(
                    "--range {:?} with --grid {} is not a grid",
                    self.range, self.grid
                ),
                "Give two increasing ends and at least 3 points: `--range=-2,2 --grid 256`.",
            ))),
        }
    }
}

fn spec<'a>(args: &'a Args, text: Option<String>, seed: Option<u64>) -> SpecRun<'a> {
    SpecRun {
        file: &args.spec.file,
        text,
        train: args.spec.train.as_deref(),
        overrides: &args.spec.overrides,
        seed,
        backend: args.backend,
    }
}

/// The trainer in the state to diagnose: loaded, trained, or at init.
fn ready(args: &Args, text: Option<String>, seed: Option<u64>) -> Result<Trainer, Failure> {
    let (_, mut t) = common::prepare(&spec(args, text, seed))?;
    let show = !args.quiet && !args.json;
    if args.checkpoint.is_some() || args.trained {
        common::bring_up(&mut t, args.checkpoint.as_deref(), "train", show)?;
    } else {
        t.init()?;
    }
    Ok(t)
}

/// One depth's gradients: per seed, the gradient sequence and its lag-1 correlation.
fn gradients_at(args: &Args, text: Option<String>, depth: Option<u64>) -> Result<Value, Failure> {
    let seeds: Vec<Option<u64>> = match &args.seeds {
        Some(s) => s.iter().map(|s| Some(*s)).collect(),
        None => vec![None],
    };
    let (lo, hi) = args.grid_range()?;
    let xs = grid(lo, hi, args.grid);
    let (mut lag1, mut sequences, mut used_seeds, mut deviation) =
        (Vec::new(), Vec::new(), Vec::new(), 0.0f64);
    for seed in seeds {
        let t = ready(args, text.clone(), seed)?;
        let width = shatter::check_scalar(&t, args.output_unit).map_err(common::inspect_error)?;
        let g = shatter::input_gradient(&t, &xs, args.output_unit.unwrap_or(0), width)?;
        deviation = g.iter().map(|v| (v - g[0]).abs()).fold(deviation, f64::max);
        lag1.push(lag1_autocorrelation(&g));
        used_seeds.push(t.decl().seed);
        sequences.push(g);
    }
    let defined: Vec<f64> = lag1.iter().flatten().copied().collect();
    Ok(json!({
        "depth": depth,
        "seeds": used_seeds,
        "lag1": lag1,
        // Over the seeds where it is defined; none if every gradient was constant.
        "mean_lag1": if defined.is_empty() { None } else { Some(common::mean(&defined)) },
        "max_abs_deviation": deviation,
        "gradient": sequences[0],
    }))
}

fn gradients(args: &Args, out: &std::path::Path) -> Result<Value, Failure> {
    let (lo, hi) = args.grid_range()?;
    let xs = grid(lo, hi, args.grid);
    let runs: Vec<Value> = match &args.depths {
        None => vec![gradients_at(args, None, None)?],
        Some(depths) => {
            let (checked, t) = common::prepare(&spec(args, None, None))?;
            let span = shatter::repeat_count_span(&checked.files[0], &t.net().name)
                .map_err(common::inspect_error)?;
            let text = checked
                .sources
                .files()
                .next()
                .map(|(_, f)| f.text.clone())
                .unwrap_or_default();
            depths
                .iter()
                .map(|&d| gradients_at(args, Some(shatter::with_depth(&text, span, d)), Some(d)))
                .collect::<Result<_, _>>()?
        }
    };
    let label = |r: &Value| match r["depth"].as_u64() {
        Some(d) => format!("depth {d}"),
        None => "spec".into(),
    };
    let seqs: Vec<(String, Vec<(f64, f64)>)> = runs
        .iter()
        .map(|r| {
            let g: Vec<f64> = r["gradient"]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
                .unwrap_or_default();
            // Gradients grow with depth by orders of magnitude: each is scaled to a
            // largest magnitude of 1 so their shapes can be compared on one axis.
            let top = g.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
            (
                label(r),
                xs.iter().copied().zip(g.iter().map(|v| v / top)).collect(),
            )
        })
        .collect();
    let series: Vec<(&str, &[(f64, f64)])> = seqs
        .iter()
        .map(|(l, p)| (l.as_str(), p.as_slice()))
        .collect();
    let chart = Chart::new("Input gradient over the grid (first seed)")
        .x_label("input x")
        .y_label("d output / d x, scaled to max |.| = 1");
    line_plot(&out.join("gradients.png"), &chart, &series).map_err(common::plot_error)?;
    if args.depths.is_some() {
        let points: Vec<(f64, f64)> = runs
            .iter()
            .map(|r| {
                (
                    r["depth"].as_f64().unwrap_or(f64::NAN),
                    r["mean_lag1"].as_f64().unwrap_or(f64::NAN),
                )
            })
            .collect();
        let chart = Chart::new("Lag-1 gradient autocorrelation vs depth")
            .x_label("depth (repeat count)")
            .y_label("correlation");
        line_plot(
            &out.join("correlation_vs_depth.png"),
            &chart,
            &[("mean over seeds", points.as_slice())],
        )
        .map_err(common::plot_error)?;
    }
    Ok(Value::Array(runs))
}

/// Training labels, test labels and the number of classes of a probe.
type Targets = (Vec<u32>, Vec<u32>, usize);

/// Probe targets of a split: its labels, or classes of a named feature (its distinct
/// values if there are at most 10, else below / above the training split's median).
fn probe_targets(t: &Trainer, feature: Option<&str>) -> Result<Option<Targets>, InspectError> {
    let (train, test) = (&t.data().train, &t.data().test);
    let Some(name) = feature else {
        // A withheld label is stored as 0; probing it would fit noise.
        if train.n_unlabelled() > 0 {
            return Err(InspectError::invalid(
                format!(
                    "the training split has {} unlabelled examples, which a label probe cannot use",
                    train.n_unlabelled()
                ),
                "Probe a feature with --feature, or train on labelled data (no `unlabelled_but`).",
            ));
        }
        return Ok(match (train.labels(), test.labels()) {
            (Some(a), Some(b)) => {
                let k = train.n_classes().max(test.n_classes()) as usize;
                Some((a.to_vec(), b.to_vec(), k))
            }
            _ => None,
        });
    };
    let Some(col) = train.feature_index(name) else {
        let known = train
            .feature_names()
            .map(|n| n.to_vec())
            .unwrap_or_default();
        return Err(InspectError::UnknownFeature {
            name: name.to_string(),
            help: if known.is_empty() {
                "This data has no named features; probe the labels (omit --feature), or name the features with the data block's `features: [...]`.".into()
            } else {
                format!(
                    "Its features are: {}.{}",
                    known.join(", "),
                    nnc::diagnostics::did_you_mean(name, known.iter().map(String::as_str))
                        .map_or(String::new(), |d| format!(" ({d})"))
                )
            },
        });
    };
    let column =
        |ds: &nnc_runtime::data::Dataset| -> Vec<f32> { ds.features().column(col).to_vec() };
    let (a, b) = (column(train), column(test));
    let mut distinct: Vec<f32> = a.clone();
    distinct.sort_by(f32::total_cmp);
    distinct.dedup();
    let classes = |v: &[f32], f: &dyn Fn(f32) -> u32| v.iter().map(|x| f(*x)).collect::<Vec<u32>>();
    if distinct.len() <= 10 {
        let idx = |x: f32| distinct.iter().position(|d| *d == x).unwrap_or(0) as u32;
        Ok(Some((
            classes(&a, &idx),
            classes(&b, &idx),
            distinct.len().max(2),
        )))
    } else {
        let mut sorted = a.clone();
        sorted.sort_by(f32::total_cmp);
        let median = sorted[sorted.len() / 2];
        let above = |x: f32| (x >= median) as u32;
        Ok(Some((classes(&a, &above), classes(&b, &above), 2)))
    }
}

pub fn run(args: &Args) -> Outcome {
    args.grid_range()?;
    let out = common::out_dir(args.out.as_deref(), &args.spec.file, "diagnose");
    common::create_dir(&out)?;
    let mut report =
        json!({"spec": args.spec.file.display().to_string(), "out": out.display().to_string()});
    let mut notes: Vec<String> = Vec::new();
    let t = ready(
        args,
        None,
        args.seeds.as_ref().and_then(|s| s.first().copied()),
    )?;
    report["network"] = json!(t.net().name);
    report["state"] = json!(if args.checkpoint.is_some() {
        "checkpoint"
    } else if args.trained {
        "trained"
    } else {
        "initialisation"
    });
    let want_gradients = args.gradients || args.depths.is_some();
    if want_gradients || args.all() {
        match shatter::check_scalar(&t, args.output_unit) {
            Ok(_) => report["gradients"] = gradients(args, &out)?,
            Err(e) if want_gradients => return Err(common::inspect_error(e)),
            Err(_) => notes.push(
                "gradients: skipped, the network's input is not a scalar (`input x: [1]`)".into(),
            ),
        }
    }
    let relus: Vec<String> = t
        .net()
        .layers
        .iter()
        .filter(|l| matches!(l.op, LayerOp::Relu | LayerOp::Crelu))
        .map(|l| l.name.clone())
        .collect();
    if args.coactivation || args.all() {
        if relus.is_empty() {
            notes.push("co-activation: skipped, the network has no relu or crelu layer".into());
        } else {
            let values = activations::layer_values(&t, true, &relus)?;
            let rows: Vec<Value> = relus
                .iter()
                .zip(&values)
                .map(|(name, v)| {
                    let c = coactivation(&units_matrix(v));
                    json!({"layer": name, "active_fraction": c.active_fraction, "dead_units": c.dead_units, "pair_rate": c.pair_rate, "pair_rate_independent": c.pair_rate_independent})
                })
                .collect();
            report["coactivation"] = Value::Array(rows);
        }
    }
    if args.probe || args.all() || args.feature.is_some() {
        match probe_targets(&t, args.feature.as_deref()).map_err(common::inspect_error)? {
            None if args.probe => {
                return Err(common::inspect_error(InspectError::UnknownFeature {
                    name: "labels".into(),
                    help: "The data has real-valued targets, not classes: probe a named feature with --feature NAME.".into(),
                }))
            }
            None => notes.push("probe: skipped, the data has no class labels (use --feature NAME)".into()),
            Some((train_y, test_y, k)) => {
                let layers: Vec<String> = t
                    .net()
                    .layers
                    .iter()
                    .filter(|l| {
                        matches!(l.op, LayerOp::Input) || l.op.is_activation()
                            || t.net().outputs.iter().any(|o| t.net().layer(o.layer).name == l.name)
                    })
                    .map(|l| l.name.clone())
                    .collect();
                let train_v = activations::layer_values(&t, false, &layers)?;
                let test_v = activations::layer_values(&t, true, &layers)?;
                let mut rows = Vec::new();
                for ((name, a), b) in layers.iter().zip(&train_v).zip(&test_v) {
                    let (xa, xb) = (activations::flatten_examples(a), activations::flatten_examples(b));
                    let probe = Probe::fit(&xa, &train_y, k);
                    rows.push(json!({"layer": name, "features": xa.ncols(), "train_accuracy": probe.accuracy(&xa, &train_y), "test_accuracy": probe.accuracy(&xb, &test_y)}));
                }
                let points: Vec<(f64, f64)> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (i as f64, r["test_accuracy"].as_f64().unwrap_or(f64::NAN)))
                    .collect();
                let chart = Chart::new(format!(
                    "Linear probe for {} (test accuracy)",
                    args.feature.as_deref().unwrap_or("the labels")
                ))
                .x_label("layer (0 = input, in network order)")
                .y_label("accuracy");
                line_plot(&out.join("probe.png"), &chart, &[("probe", points.as_slice())])
                    .map_err(common::plot_error)?;
                report["probe"] = json!({"target": args.feature.as_deref().unwrap_or("labels"), "classes": k, "layers": rows});
            }
        }
    }
    report["notes"] = json!(notes);
    if args.json {
        outln!("{report}");
        return Ok(());
    }
    print_report(&report);
    Ok(())
}

fn f(v: &Value) -> String {
    v.as_f64().map_or("-".into(), |x| format!("{x:.4}"))
}

fn print_report(r: &Value) {
    outln!(
        "{} (network `{}`; weights: {})",
        r["spec"].as_str().unwrap_or(""),
        r["network"].as_str().unwrap_or(""),
        r["state"].as_str().unwrap_or("")
    );
    if let Some(runs) = r["gradients"].as_array() {
        outln!("\ngradient shattering: lag-1 autocorrelation of d output / d x over the grid");
        outln!(
            "{:<8} {:>6} {:>12} {:>14}",
            "depth",
            "seeds",
            "mean lag-1",
            "max |g - g0|"
        );
        for run in runs {
            outln!(
                "{:<8} {:>6} {:>12} {:>14.3e}",
                run["depth"]
                    .as_u64()
                    .map_or("spec".into(), |d| d.to_string()),
                run["seeds"].as_array().map_or(0, Vec::len),
                run["mean_lag1"]
                    .as_f64()
                    .map_or("constant".into(), |x| format!("{x:.4}")),
                run["max_abs_deviation"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    if let Some(rows) = r["coactivation"].as_array() {
        outln!("\nco-activation of ReLU units (test split)");
        outln!(
            "{:<20} {:>8} {:>6} {:>10} {:>12}",
            "layer",
            "active",
            "dead",
            "pairs",
            "independent"
        );
        for row in rows {
            outln!(
                "{:<20} {:>8} {:>6} {:>10} {:>12}",
                row["layer"].as_str().unwrap_or(""),
                f(&row["active_fraction"]),
                row["dead_units"].as_u64().unwrap_or(0),
                f(&row["pair_rate"]),
                f(&row["pair_rate_independent"])
            );
        }
    }
    if let Some(p) = r["probe"].as_object() {
        outln!(
            "\nlinear probe for {} ({} classes)",
            p["target"].as_str().unwrap_or(""),
            p["classes"].as_u64().unwrap_or(0)
        );
        outln!(
            "{:<20} {:>9} {:>10} {:>10}",
            "layer",
            "features",
            "train acc",
            "test acc"
        );
        for row in p["layers"].as_array().into_iter().flatten() {
            outln!(
                "{:<20} {:>9} {:>10} {:>10}",
                row["layer"].as_str().unwrap_or(""),
                row["features"].as_u64().unwrap_or(0),
                f(&row["train_accuracy"]),
                f(&row["test_accuracy"])
            );
        }
    }
    for n in r["notes"].as_array().into_iter().flatten() {
        outln!("note: {}", n.as_str().unwrap_or(""));
    }
    outln!("wrote {}", r["out"].as_str().unwrap_or(""));
}
