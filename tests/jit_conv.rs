//! The blocked convolution steps (`runtime/src/exec/convolve.rs`, recognised by
//! `compiler/jit/schedule/conv.rs`) against the interpreter: convolutions of random shapes,
//! strides, padding, dilation and groups, their forward values and both gradients (input and
//! weights) within the tolerance of tests/jit.rs; shapes large enough for several row blocks
//! and two threads; the plan really uses the steps; one and two threads give the same bits.

use ndarray::{ArrayD, IxDyn};
use nnc::prim::interp::{self, Bindings};
use nnc::prim::{autodiff, ConvGeom, Graph, NodeId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

/// |jit - reference| <= ABS·(1 + max|reference|) + REL·|reference|, per element (as
/// tests/jit_random.rs: the absolute part scales with the output because the products sum
/// hundreds of terms of both signs).
const ABS: f32 = 1e-4;
const REL: f32 = 1e-3;

struct Case {
    n: usize,
    channels: usize,
    filters: usize,
    groups: usize,
    image: [usize; 2],
    geom: ConvGeom,
}

impl Case {
    fn random(rng: &mut StdRng) -> Case {
        let groups = rng.random_range(1..=3);
        let kernel: [usize; 2] = [rng.random_range(1..=4), rng.random_range(1..=4)];
        let dilation: [usize; 2] = [rng.random_range(1..=2), rng.random_range(1..=2)];
        let pad: [usize; 4] = [0; 4].map(|_| rng.random_range(0..=2));
        let image = [0usize, 1].map(|a| {
            // At least one output position.
            let reach = dilation[a] * (kernel[a] - 1) + 1;
            let least = reach.saturating_sub(pad[a] + pad[a + 2]).max(1);
            least + rng.random_range(0..8)
        });
        Case {
            n: rng.random_range(1..=4),
            channels: groups * rng.random_range(1..=3),
            filters: groups * rng.random_range(1..=4),
            groups,
            image,
            geom: ConvGeom {
                kernel,
                stride: [rng.random_range(1..=3), rng.random_range(1..=3)],
                pad,
                dilation,
                pad_value: 0.0,
            },
        }
    }

    /// A convolution the size of W2's second layer: several row blocks, two threads.
    fn large(n: usize) -> Case {
        Case {
            n,
            channels: 16,
            filters: 24,
            groups: 1,
            image: [28, 28],
            geom: ConvGeom {
                kernel: [5, 5],
                stride: [1, 1],
                pad: [2, 2, 2, 2],
                dilation: [1, 1],
                pad_value: 0.0,
            },
        }
    }

    /// `loss = Σ conv(x, w) · r` as the lowering builds a convolution (compiler/lower/conv.rs),
    /// wanted: the output, the loss and its gradients with respect to `x` and `w`.
    fn graph(&self) -> (Graph, Vec<NodeId>) {
        let mut g = Graph::new();
        let [h, w] = self.image;
        let (cg, fg) = (self.channels / self.groups, self.filters / self.groups);
        let [kh, kw] = self.geom.kernel;
        let x = g.input("x", &[self.n, self.channels, h, w]);
        let weight = g.param("w", &[self.filters, cg, kh, kw]);
        let mut parts = Vec::new();
        for gi in 0..self.groups {
            let xg = if self.groups == 1 {
                x
            } else {
                g.slice(x, 1, gi * cg, (gi + 1) * cg)
            };
            let cols = g.im2col(xg, self.geom);
            let wg = if self.groups == 1 {
                weight
            } else {
                g.slice(weight, 0, gi * fg, (gi + 1) * fg)
            };
            let wg = g.reshape(wg, &[fg, cg * kh * kw]);
            parts.push(g.matmul(wg, cols));
        }
        let y = if self.groups == 1 {
            parts[0]
        } else {
            g.concat(&parts, 1)
        };
        let positions = g.shape(y)[2];
        let r = g.input("r", &[self.n, self.filters, positions]);
        let weighted = g.mul(y, r);
        let loss = g.sum_all(weighted);
        let grads = autodiff::differentiate(&mut g, loss, &[x, weight]);
        let mut wanted = vec![y, loss];
        wanted.extend(grads);
        for (i, id) in wanted.iter().enumerate() {
            g.outputs.push((format!("out{i}"), *id));
        }
        (g, wanted)
    }
}

type Values = BTreeMap<String, ArrayD<f32>>;

fn values(g: &Graph, seed: u64) -> (Values, Values) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut inputs, mut params) = (BTreeMap::new(), BTreeMap::new());
    for node in &g.nodes {
        let (map, name) = match &node.op {
            nnc::prim::Op::Input { name } => (&mut inputs, name),
            nnc::prim::Op::Param { name } => (&mut params, name),
            _ => continue,
        };
        let n: usize = node.shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        map.insert(
            name.clone(),
            ArrayD::from_shape_vec(IxDyn(&node.shape), data).unwrap(),
        );
    }
    (inputs, params)
}

fn run_jit(g: &Graph, wanted: &[NodeId], seed: u64, threads: usize) -> Vec<ArrayD<f32>> {
    let (inputs, params) = values(g, seed);
    let options = nnc::jit::Options {
        threads,
        clif: false,
        inference: false,
    };
    let mut compiled = nnc::jit::compile(g, wanted, options).unwrap();
    let slices: BTreeMap<&str, &[f32]> = inputs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice().unwrap()))
        .collect();
    compiled.run(&slices, &[&params], seed, 1).unwrap().to_vec()
}

fn check(case: &Case, seed: u64) {
    let (g, wanted) = case.graph();
    let (inputs, params) = values(&g, seed);
    let mut bindings = Bindings::new();
    for (n, v) in &inputs {
        bindings = bindings.input(n, v.clone());
    }
    for (n, v) in &params {
        bindings = bindings.param(n, v.clone());
    }
    let reference = interp::evaluate::<f32>(&g, &bindings, &wanted).unwrap();
    let jit = run_jit(&g, &wanted, seed, 2);
    let names = ["output", "loss", "input gradient", "weight gradient"];
    for (k, (r, j)) in reference.iter().zip(&jit).enumerate() {
        assert_eq!(r.shape(), j.shape(), "seed {seed}: {}", names[k]);
        let scale = r.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        for (i, (a, b)) in r.iter().zip(j.iter()).enumerate() {
            assert!(
                (a - b).abs() <= ABS * (1.0 + scale) + REL * a.abs(),
                "seed {seed}: {} element {i}: reference {a}, jit {b}",
                names[k]
            );
        }
    }
}

#[test]
fn random_convolutions_and_their_gradients_match_the_interpreter() {
    for seed in 0..150u64 {
        let case = Case::random(&mut StdRng::seed_from_u64(seed));
        check(&case, seed);
    }
}

#[test]
fn large_convolutions_match_in_blocks_and_on_two_threads() {
    for n in [1, 3] {
        let case = Case::large(n);
        check(&case, 7);
        let (g, wanted) = case.graph();
        assert_eq!(
            run_jit(&g, &wanted, 7, 1),
            run_jit(&g, &wanted, 7, 2),
            "n = {n}"
        );
    }
}

/// The plan of a convolution and its gradients has the three blocked steps and unfolds
/// nothing into memory.
#[test]
fn the_plan_runs_convolution_steps_without_unfolding() {
    let (g, _) = Case::large(2).graph();
    let plan = nnc::jit::stage_text(&g, "plan", false).unwrap();
    for kind in ["Forward", "WeightGrad", "InputGrad"] {
        assert!(plan.contains(&format!("conv {kind} ")), "{kind}:\n{plan}");
    }
    assert!(
        !plan.contains("im2col") && !plan.contains("col2im"),
        "{plan}"
    );
}
