//! The optimization passes keep values: on every spec (evaluation forward and the whole
//! training step) the interpreter gives the same outputs on the optimized graph as on the
//! original, and the optimized graph verifies.

use ndarray::{ArrayD, IxDyn};
use nnc::lower::Mode;
use nnc::prim::interp::{self, Bindings};
use nnc::prim::{Graph, NodeId, Op};
use nnc::train::step;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

fn specs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["specs", "specs/bench"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "nn") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Random leaves: variances, Adam moments and the learning rate stay positive and small.
fn bindings(g: &Graph, seed: u64) -> Bindings<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut b = Bindings::new().seed(seed, 3);
    for node in &g.nodes {
        let (name, is_input) = match &node.op {
            Op::Input { name } => (name, true),
            Op::Param { name } => (name, false),
            _ => continue,
        };
        let n: usize = node.shape.iter().product();
        let positive =
            name.contains("running_var") || name.ends_with(".v") || name.starts_with("adam");
        let data: Vec<f32> = (0..n)
            .map(|_| {
                let x: f32 = rng.random_range(-1.0..1.0);
                if positive {
                    x.abs() + 0.5
                } else if name == "lr" {
                    0.01
                } else {
                    x
                }
            })
            .collect();
        let value = ArrayD::from_shape_vec(IxDyn(&node.shape), data).unwrap();
        b = if is_input {
            b.input(name, value)
        } else {
            b.param(name, value)
        };
    }
    b
}

#[test]
fn optimized_programs_compute_the_same_values() {
    let mut removed = 0;
    for path in specs() {
        let checked = nnc::check_path(&path, &|p| std::fs::read(p));
        let Some(decl) = checked.program.trains.first() else {
            continue;
        };
        let net = checked.program.network(&decl.network).unwrap();
        let label = path.file_name().unwrap().to_string_lossy().into_owned();
        for grad in [false, true] {
            let p = if grad {
                step::training_step(net, decl, 2)
            } else {
                step::forward_with_loss(net, decl, 2, Mode::Eval)
            };
            let wanted: Vec<NodeId> = p.graph.outputs.iter().map(|(_, id)| *id).collect();
            let opt = nnc::opt::optimize(&p.graph, &wanted);
            nnc::prim::verify::verify(&opt.graph)
                .unwrap_or_else(|e| panic!("{label}: optimized graph: {e:?}"));
            assert!(opt.graph.len() <= p.graph.len(), "{label}");
            removed += p.graph.len() - opt.graph.len();
            let b = bindings(&p.graph, 5);
            let before = interp::evaluate::<f32>(&p.graph, &b, &wanted).unwrap();
            let after = interp::evaluate::<f32>(&opt.graph, &b, &opt.wanted).unwrap();
            for (k, (x, y)) in before.iter().zip(&after).enumerate() {
                assert_eq!(x.shape(), y.shape(), "{label} output {k}");
                // The passes only make rewrites that are exact in f32 (opt/fold.rs).
                for (a, c) in x.iter().zip(y.iter()) {
                    assert!(
                        a == c || (a.is_nan() && c.is_nan()),
                        "{label} (grad {grad}) output {k}: {a} became {c}"
                    );
                }
            }
        }
    }
    assert!(removed > 0, "the passes removed nothing from any spec");
}
