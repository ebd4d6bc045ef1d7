//! `nnc compare`: do two networks learn the same units? (Li et al., "Convergent learning",
//! papers.md section 9.) For every layer both networks have, the correlation of each unit
//! of A with each unit of B over the test split, the greedy semi-matching and the
//! one-to-one matching, and optionally the same with mutual information.

use super::inspect_common::{self as common, SpecRun};
use super::{Failure, Outcome};
use nnc::inspect::correlate::{correlation, mutual_information, units_matrix};
use nnc::inspect::matching::{bipartite_matching, semi_matching, sorted_by_matching, GOOD_MATCH};
use nnc::inspect::{activations, InspectError};
use nnc::train::{Backend, Trainer};
use nnc_runtime::plot::{category_plot, heatmap, Chart};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Percentile bins of the mutual-information variant (papers.md: 10, plus one for zeros).
const MI_BINS: usize = 10;

#[derive(clap::Args)]
pub struct Args {
    /// Network A's spec.
    pub a: PathBuf,
    /// Network B's spec (default: A's, with the second of --seeds).
    pub b: Option<PathBuf>,
    /// Train A with the first seed and B with the second: `--seeds 1,2`.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// A's trained weights (default: train A's train block).
    #[arg(long)]
    pub checkpoint_a: Option<PathBuf>,
    /// B's trained weights (default: train B's train block).
    #[arg(long)]
    pub checkpoint_b: Option<PathBuf>,
    /// Which train block, when the specs have several.
    #[arg(long)]
    pub train: Option<String>,
    /// Override a field of both specs: `--set train.epochs=3` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// The layers to compare (default: every activation layer both have).
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<String>>,
    /// The layer whose sorted correlation matrix is drawn (default: the first compared).
    #[arg(long)]
    pub heatmap: Option<String>,
    /// Also match units by mutual information (percentile bins).
    #[arg(long)]
    pub mi: bool,
    /// Folder for the plots (default: runs/<A's name>-compare).
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

/// The layers to compare: the ones named, else every activation layer both networks
/// have; each must have the same shape in both.
pub fn shared_layers(
    a: &nnc::hir::Network,
    b: &nnc::hir::Network,
    chosen: Option<&[String]>,
) -> Result<Vec<String>, InspectError> {
    let find =
        |n: &nnc::hir::Network, name: &str| n.layers.iter().find(|l| l.name == name).cloned();
    let layer = |net: &nnc::hir::Network, which: &str, name: &str| {
        find(net, name).ok_or_else(|| {
            let known: Vec<&str> = net.layers.iter().map(|l| l.name.as_str()).collect();
            InspectError::LayersDiffer {
                message: format!("network {which} (`{}`) has no layer `{name}`", net.name),
                help: format!(
                    "Its layers are: {}. `nnc summary` lists them.{}",
                    known.join(", "),
                    nnc::diagnostics::did_you_mean(name, known.iter().copied())
                        .map_or(String::new(), |d| format!(" ({d})"))
                ),
            }
        })
    };
    let names: Vec<String> = match chosen {
        Some(names) => {
            for name in names {
                for (net, which) in [(a, "A"), (b, "B")] {
                    layer(net, which, name)?;
                }
            }
            names.to_vec()
        }
        None => a
            .layers
            .iter()
            .filter(|l| l.op.is_activation())
            .filter(|l| find(b, &l.name).is_some_and(|m| m.op.is_activation()))
            .map(|l| l.name.clone())
            .collect(),
    };
    if names.is_empty() {
        let acts = |n: &nnc::hir::Network| {
            let v: Vec<&str> = n
                .layers
                .iter()
                .filter(|l| l.op.is_activation())
                .map(|l| l.name.as_str())
                .collect();
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        return Err(InspectError::LayersDiffer {
            message: format!(
                "networks `{}` and `{}` share no activation layer to compare",
                a.name, b.name
            ),
            help: format!(
                "A's activation layers: {}; B's: {}. Compare layers by name with --layers.",
                acts(a),
                acts(b)
            ),
        });
    }
    for name in &names {
        let (la, lb) = (layer(a, "A", name)?, layer(b, "B", name)?);
        if la.shape != lb.shape {
            return Err(InspectError::LayersDiffer {
                message: format!(
                    "layer `{name}` has shape {:?} in A (network `{}`) but {:?} in B (network `{}`)",
                    la.shape, a.name, lb.shape, b.name
                ),
                help: "Units can only be matched between layers of the same width; choose corresponding layers with --layers.".into(),
            });
        }
    }
    Ok(names)
}

/// The two trainers to compare, each checked, initialised and trained (or loaded).
fn nets(args: &Args) -> Result<(Trainer, Trainer), Failure> {
    let seeds = match (&args.b, args.seeds.as_deref()) {
        (_, Some([a, b])) => (Some(*a), Some(*b)),
        (_, Some(other)) => {
            return Err(common::inspect_error(InspectError::invalid(
                format!("--seeds takes two seeds, got {}", other.len()),
                "Write `--seeds 1,2`: network A trains with the first, B with the second.",
            )))
        }
        (Some(_), None) => (None, None),
        (None, None) => {
            return Err(common::inspect_error(InspectError::invalid(
                "one spec and no seeds: there is nothing to compare it with",
                "Give a second spec (`nnc compare A.nn B.nn`) or two seeds (`--seeds 1,2`).",
            )))
        }
    };
    let file_b = args.b.clone().unwrap_or_else(|| args.a.clone());
    let net = |file: &PathBuf,
               seed: Option<u64>,
               checkpoint: &Option<PathBuf>,
               which: &str,
               first: Option<&Trainer>|
     -> Result<Trainer, Failure> {
        let (_, mut t) = common::prepare(&SpecRun {
            file,
            text: None,
            train: args.train.as_deref(),
            overrides: &args.overrides,
            seed,
            backend: args.backend,
        })?;
        // One spec at two seeds: the seed also draws the split, so B takes A's, and the
        // two nets differ only in their initialisation and example order.
        if let (None, Some(first)) = (&args.b, first) {
            t.set_data(first.data().clone());
        }
        common::bring_up(
            &mut t,
            checkpoint.as_deref(),
            which,
            !args.quiet && !args.json,
        )?;
        Ok(t)
    };
    let a = net(&args.a, seeds.0, &args.checkpoint_a, "A", None)?;
    let b = net(&file_b, seeds.1, &args.checkpoint_b, "B", Some(&a))?;
    Ok((a, b))
}

pub fn run(args: &Args) -> Outcome {
    let (mut a, mut b) = nets(args)?;
    let layers =
        shared_layers(a.net(), b.net(), args.layers.as_deref()).map_err(common::inspect_error)?;
    let (na, nb) = (a.data().test.n_samples(), b.data().test.n_samples());
    if na != nb || a.data().test.features() != b.data().test.features() {
        return Err(common::inspect_error(InspectError::LayersDiffer {
            message: format!(
                "the two specs' test splits differ ({na} and {nb} examples): units must be compared on the same inputs"
            ),
            help: "Give both specs the same data block and split.".into(),
        }));
    }
    let (acc_a, acc_b) = (a.evaluate(true)?.accuracy(), b.evaluate(true)?.accuracy());
    let va = activations::layer_values(&a, true, &layers)?;
    let vb = activations::layer_values(&b, true, &layers)?;
    let out = common::out_dir(args.out.as_deref(), &args.a, "compare");
    common::create_dir(&out)?;
    let heat_layer = args.heatmap.clone().unwrap_or_else(|| layers[0].clone());
    if !layers.contains(&heat_layer) {
        return Err(common::inspect_error(InspectError::invalid(
            format!("--heatmap names `{heat_layer}`, which is not among the compared layers"),
            format!("Choose one of: {}.", layers.join(", ")),
        )));
    }
    let mut rows: Vec<Value> = Vec::new();
    for (i, name) in layers.iter().enumerate() {
        let (ma, mb) = (units_matrix(&va[i]), units_matrix(&vb[i]));
        let rho = correlation(&ma, &mb);
        let (semi, bip) = (semi_matching(&rho), bipartite_matching(&rho));
        let mut row = json!({
            "layer": name,
            "units": ma.ncols(),
            "samples": ma.nrows(),
            "semi_mean": semi.mean,
            "bipartite_mean": bip.mean,
            "semi_above_half": semi.above_half,
            "bipartite_above_half": bip.above_half,
            "bipartite_pairs": bip.pairs,
            "bipartite_values": bip.values,
        });
        if args.mi {
            let mi = mutual_information(&ma, &mb, MI_BINS);
            let mbip = bipartite_matching(&mi);
            row["mi_semi_mean"] = json!(semi_matching(&mi).mean);
            row["mi_bipartite_mean"] = json!(mbip.mean);
        }
        if *name == heat_layer {
            let sorted = sorted_by_matching(&rho, &bip);
            let chart = Chart::new(format!(
                "{name}: correlation, A units (rows) vs matched B units"
            ))
            .x_label("unit of B")
            .y_label("unit of A");
            heatmap(
                &out.join(format!("correlation_{}.png", file_safe(name))),
                &chart,
                &sorted,
                None,
            )
            .map_err(common::plot_error)?;
        }
        rows.push(row);
    }
    let series = |key: &str| -> Vec<f64> {
        let value = |r: &Value| r[key].as_f64().unwrap_or(f64::NAN);
        rows.iter().map(value).collect()
    };
    let (s, p) = (series("semi_mean"), series("bipartite_mean"));
    let chart = Chart::new("Mean matched correlation per layer")
        .x_label("layer (in network order)")
        .y_label("correlation");
    let names: Vec<&str> = layers.iter().map(String::as_str).collect();
    category_plot(
        &out.join("matched.png"),
        &chart,
        &names,
        &[
            ("semi-matching", s.as_slice()),
            ("one-to-one", p.as_slice()),
        ],
    )
    .map_err(common::plot_error)?;
    let describe = |t: &Trainer, file: &Path, accuracy: f64| json!({"spec": file.display().to_string(), "network": t.net().name, "seed": t.decl().seed, "test_accuracy": accuracy});
    let file_b = args.b.clone().unwrap_or_else(|| args.a.clone());
    if args.json {
        let brief: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if let Some(o) = r.as_object_mut() {
                    o.remove("bipartite_values");
                }
                r
            })
            .collect();
        outln!(
            "{}",
            json!({"a": describe(&a, &args.a, acc_a), "b": describe(&b, &file_b, acc_b), "samples_from": "test split", "layers": brief, "out": out.display().to_string()})
        );
        return Ok(());
    }
    outln!(
        "A: {} seed {} (test accuracy {acc_a:.4}); B: {} seed {} (test accuracy {acc_b:.4})",
        args.a.display(),
        a.decl().seed,
        file_b.display(),
        b.decl().seed
    );
    let mut header = format!(
        "{:<16} {:>6} {:>8} {:>10} {:>10} {:>14}",
        "layer",
        "units",
        "samples",
        "semi",
        "one-to-one",
        format!("1-to-1 >{GOOD_MATCH}")
    );
    if args.mi {
        header.push_str(&format!(" {:>10} {:>10}", "MI semi", "MI 1-to-1"));
    }
    outln!("{header}");
    for r in &rows {
        let mut line = format!(
            "{:<16} {:>6} {:>8} {:>10.4} {:>10.4} {:>14.3}",
            r["layer"].as_str().unwrap_or(""),
            r["units"].as_u64().unwrap_or(0),
            r["samples"].as_u64().unwrap_or(0),
            r["semi_mean"].as_f64().unwrap_or(f64::NAN),
            r["bipartite_mean"].as_f64().unwrap_or(f64::NAN),
            r["bipartite_above_half"].as_f64().unwrap_or(f64::NAN),
        );
        if args.mi {
            line.push_str(&format!(
                " {:>10.4} {:>10.4}",
                r["mi_semi_mean"].as_f64().unwrap_or(f64::NAN),
                r["mi_bipartite_mean"].as_f64().unwrap_or(f64::NAN)
            ));
        }
        outln!("{line}");
    }
    outln!("wrote {}", out.display());
    Ok(())
}

/// A layer name usable in a file name (`stage2.unit1.relu1`, `conv1/7x7`).
pub fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
