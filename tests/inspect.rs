//! `nnc compare` and `nnc diagnose` end to end, through the binary: their JSON and plots on
//! tiny specs, the shattered-gradients acceptance shape of papers.md section 8 on the
//! experiment specs, and bad input giving exit code 1 with the documented codes.

#[path = "common/cli.rs"]
mod cli;

use cli::{json, nnc, Dir};
use std::path::Path;
use std::process::Output;

const MLP: &str = r#"
data digits {
  source: builtin("digits")
  scale: standardize
}
network mlp {
  input x: [64]
  let h = x |> dense(16) |> relu
  let h = h |> dense(16) |> relu
  output logits = h |> dense(10)
}
train {
  network: mlp
  data: digits
  optimizer: adam(lr: 0.01)
  batch: 64
  epochs: 1
  seed: 0
}
"#;

/// A tiny scalar net for gradients: `WIDTH` and `BODY` are replaced.
const SCALAR: &str = r#"
data grid {
  source: synthetic("grid1d", n: 64)
}
network net {
  input x: [1]
  let h = x |> dense(WIDTH, init: orthogonal) |> ACT
  let h = repeat 2 { h |> BODY }
  output y = h |> dense(1, init: INIT)
}
train {
  network: net
  data: grid
  loss: mse
  optimizer: sgd(lr: 0.01)
  batch: 16
  epochs: 1
  seed: 0
}
"#;

fn feedforward() -> String {
    SCALAR
        .replace("WIDTH", "32")
        .replace("ACT", "relu")
        .replace(
            "BODY",
            "dense(32, init: he, bias: false) |> batch_norm |> relu",
        )
        .replace("INIT", "he")
}

fn looks_linear() -> String {
    SCALAR
        .replace("WIDTH", "16")
        .replace("ACT", "crelu")
        .replace("BODY", "dense(16, init: looks_linear) |> crelu")
        .replace("INIT", "looks_linear")
}

fn fails_with(out: &Output, code: &str, words: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains(code), "expected {code}: {stderr}");
    for w in words {
        assert!(stderr.contains(w), "expected `{w}` in: {stderr}");
    }
}

fn layer<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["layer"] == name)
        .unwrap_or_else(|| panic!("no layer {name} in {v}"))
}

#[test]
fn compare_two_seeds_of_one_spec() {
    let dir = Dir::new("inspect-compare");
    dir.write("mlp.nn", MLP);
    let out = nnc(
        &[
            "compare", "mlp.nn", "--seeds", "1,2", "--mi", "--json", "--out", "plots",
        ],
        &dir.0,
    );
    let v = json(&out);
    assert_eq!(v["a"]["seed"], 1);
    assert_eq!(v["b"]["seed"], 2);
    for name in ["relu1", "relu2"] {
        let l = layer(&v, name);
        assert_eq!(l["units"], 16);
        let (semi, bip) = (
            l["semi_mean"].as_f64().unwrap(),
            l["bipartite_mean"].as_f64().unwrap(),
        );
        assert!(semi >= bip - 1e-12 && bip > 0.0 && semi <= 1.0, "{l}");
        assert!(l["mi_bipartite_mean"].as_f64().is_some(), "{l}");
        let mut pairs: Vec<u64> = l["bipartite_pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap())
            .collect();
        pairs.sort();
        assert_eq!(pairs, (0..16).collect::<Vec<u64>>(), "one-to-one");
    }
    assert!(dir.0.join("plots/matched.png").is_file());
    assert!(dir.0.join("plots/correlation_relu1.png").is_file());

    // The same seed twice: the same net, so every live unit matches itself perfectly.
    let same = json(&nnc(
        &[
            "compare", "mlp.nn", "--seeds", "1,1", "--json", "--out", "plots",
        ],
        &dir.0,
    ));
    let l = layer(&same, "relu1");
    let pairs = l["bipartite_pairs"].as_array().unwrap();
    let live = pairs.len() as f64 * l["bipartite_above_half"].as_f64().unwrap();
    assert!(live >= 12.0, "{l}");
    assert!(
        l["bipartite_mean"].as_f64().unwrap()
            >= layer(&v, "relu1")["bipartite_mean"].as_f64().unwrap()
    );
}

#[test]
fn compare_refuses_layers_that_do_not_correspond() {
    let dir = Dir::new("inspect-compare-bad");
    dir.write("a.nn", MLP);
    dir.write("b.nn", &MLP.replacen("dense(16)", "dense(8)", 1));
    fails_with(
        &nnc(&["compare", "a.nn", "b.nn", "--quiet"], &dir.0),
        "nnc::inspect::layers_differ",
        &["relu1", "[16] in A", "[8] in B"],
    );
    fails_with(
        &nnc(&["compare", "a.nn", "a.nn", "--layers", "relu9"], &dir.0),
        "nnc::inspect::layers_differ",
        &["relu9"],
    );
    fails_with(
        &nnc(&["compare", "a.nn"], &dir.0),
        "nnc::inspect::invalid",
        &["--seeds"],
    );
}

#[test]
fn diagnose_gradients_over_depth() {
    let dir = Dir::new("inspect-diagnose");
    dir.write("ffn.nn", &feedforward());
    let v = json(&nnc(
        &[
            "diagnose",
            "ffn.nn",
            "--gradients",
            "--depths",
            "1,3",
            "--seeds",
            "0,1",
            "--grid",
            "64",
            "--json",
            "--out",
            "plots",
        ],
        &dir.0,
    ));
    let runs = v["gradients"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for (run, depth) in runs.iter().zip([1, 3]) {
        assert_eq!(run["depth"], depth);
        assert_eq!(run["seeds"].as_array().unwrap().len(), 2);
        assert_eq!(run["gradient"].as_array().unwrap().len(), 64);
        let r = run["mean_lag1"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&r), "{run}");
    }
    assert!(dir.0.join("plots/gradients.png").is_file());
    assert!(dir.0.join("plots/correlation_vs_depth.png").is_file());

    // Looks-linear: linear at init, so the gradient is one constant at every depth.
    dir.write("ll.nn", &looks_linear());
    let v = json(&nnc(
        &[
            "diagnose", "ll.nn", "--depths", "1,4", "--grid", "32", "--json", "--out", "plots",
        ],
        &dir.0,
    ));
    for run in v["gradients"].as_array().unwrap() {
        assert!(run["mean_lag1"].is_null(), "{run}");
        assert!(run["max_abs_deviation"].as_f64().unwrap() < 1e-9, "{run}");
    }
}

#[test]
fn diagnose_coactivation_and_probes_of_a_trained_net() {
    let dir = Dir::new("inspect-probe");
    dir.write("mlp.nn", MLP);
    let v = json(&nnc(
        &[
            "diagnose",
            "mlp.nn",
            "--trained",
            "--json",
            "--out",
            "plots",
        ],
        &dir.0,
    ));
    assert!(v["gradients"].is_null());
    assert_eq!(v["state"], "trained");
    let co = v["coactivation"].as_array().unwrap();
    assert_eq!(co.len(), 2);
    for c in co {
        let active = c["active_fraction"].as_f64().unwrap();
        assert!(active > 0.0 && active < 1.0, "{c}");
    }
    let probe = &v["probe"];
    assert_eq!(probe["classes"], 10);
    // The digits are close to linearly separable from the pixels already.
    let input = layer(probe, "x")["test_accuracy"].as_f64().unwrap();
    assert!(input > 0.85, "{probe}");
    assert!(
        layer(probe, "dense3")["test_accuracy"].as_f64().unwrap() > 0.6,
        "{probe}"
    );
    assert!(dir.0.join("plots/probe.png").is_file());
}

#[test]
fn diagnose_bad_input() {
    let dir = Dir::new("inspect-diagnose-bad");
    dir.write("mlp.nn", MLP);
    fails_with(
        &nnc(&["diagnose", "mlp.nn", "--gradients"], &dir.0),
        "nnc::inspect::not_scalar",
        &["[64]"],
    );
    dir.write(
        "wide.nn",
        // Three classes of scalar inputs: a scalar input, but three outputs.
        &feedforward()
            .replace("dense(1, init: he)", "dense(3, init: he)")
            .replace("\"grid1d\", n: 64", "\"blobs\", n: 60, centers: 3, dim: 1")
            .replace("loss: mse", "loss: cross_entropy"),
    );
    fails_with(
        &nnc(&["diagnose", "wide.nn", "--depths", "1,2"], &dir.0),
        "nnc::inspect::not_scalar",
        &["--output-unit"],
    );
    let ok = json(&nnc(
        &[
            "diagnose",
            "wide.nn",
            "--gradients",
            "--output-unit",
            "2",
            "--grid",
            "16",
            "--json",
            "--out",
            "plots",
        ],
        &dir.0,
    ));
    assert_eq!(ok["gradients"].as_array().unwrap().len(), 1);
    fails_with(
        &nnc(&["diagnose", "wide.nn", "--range=2,-2"], &dir.0),
        "nnc::inspect::invalid",
        &["--range"],
    );
    fails_with(
        &nnc(&["diagnose", "mlp.nn", "--feature", "color"], &dir.0),
        "nnc::inspect::unknown_feature",
        &["color"],
    );
    fails_with(
        &nnc(&["diagnose", "mlp.nn", "--depths", "1,2"], &dir.0),
        "nnc::inspect::not_scalar",
        &[],
    );
    dir.write(
        "flat.nn",
        &feedforward().replace(
            "let h = repeat 2 { h |> dense(32, init: he, bias: false) |> batch_norm |> relu }",
            "",
        ),
    );
    fails_with(
        &nnc(&["diagnose", "flat.nn", "--depths", "1,2"], &dir.0),
        "nnc::inspect::invalid",
        &["repeat"],
    );
}

/// papers.md section 8's acceptance shape, on the experiment specs (3 seeds here, 10 in
/// docs/experiments.md): the feedforward net's gradients are smooth at depth 1 and white
/// noise at depth 16; the resnet's stay clearly correlated.
#[test]
fn shattering_acceptance_shape() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mean_lag1 = |spec: &str| -> Vec<f64> {
        let v = json(&nnc(
            &[
                "diagnose",
                spec,
                "--gradients",
                "--depths",
                "1,16",
                "--seeds",
                "0,1,2",
                "--json",
                "--out",
                &std::env::temp_dir()
                    .join(format!("nnc-shatter-{}", std::process::id()))
                    .display()
                    .to_string(),
            ],
            root,
        ));
        v["gradients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["mean_lag1"].as_f64().unwrap())
            .collect()
    };
    let ffn = mean_lag1("specs/experiments/shattered_feedforward.nn");
    let res = mean_lag1("specs/experiments/shattered_resnet.nn");
    assert!(ffn[0] > 0.95, "FFN depth 1: {ffn:?}");
    assert!(ffn[1].abs() < 0.25, "FFN depth 16: {ffn:?}");
    assert!(res[1] > ffn[1] + 0.2, "resnet {res:?} vs FFN {ffn:?}");
}
