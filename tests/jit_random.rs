//! Differential testing of the JIT (optimization passes, scheduler, memory planner,
//! Cranelift kernels, runtime) against the reference interpreter on random well-shaped
//! primitive graphs: elementwise math, broadcasts, reductions, views (reshape, permute,
//! slice, pad, concat), matrix products and table lookups (`Gather`, `ScatterAdd`), with
//! their gradients from autodiff.
//!
//! proptest draws one u64 per case and the graph is built from it, so a failure prints the
//! seed that rebuilds the graph. `PROPTEST_CASES` sets the number of graphs (default 500);
//! odd seeds compile as inference programs (batch-norm folding, hoisting).
//! Tolerance (docs/testing.md): |jit - reference| <= 1e-4 * (1 + max|reference|) +
//! 1e-3 * |reference| per element of each output.

mod common;

use ndarray::{ArrayD, IxDyn};
use nnc::prim::interp::{self, Bindings};
use nnc::prim::{autodiff, Graph, NodeId, Op};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

const ABS: f32 = 1e-4;
const REL: f32 = 1e-3;

struct Gen {
    rng: StdRng,
    g: Graph,
    pool: Vec<NodeId>,
    leaves: Vec<NodeId>,
}

impl Gen {
    fn dims(&mut self, rank: usize) -> Vec<usize> {
        const SIZES: [usize; 8] = [1, 2, 3, 4, 5, 7, 8, 9];
        (0..rank)
            .map(|_| SIZES[self.rng.random_range(0..SIZES.len())])
            .collect()
    }

    fn leaf(&mut self, shape: &[usize]) -> NodeId {
        let name = format!("p{}", self.leaves.len());
        let id = if self.rng.random_bool(0.5) {
            self.g.input(&name, shape)
        } else {
            self.g.param(&name, shape)
        };
        self.leaves.push(id);
        id
    }

    /// A recent node, biased towards the newest so graphs grow deep.
    fn pick(&mut self) -> NodeId {
        let n = self.pool.len();
        let back = self.rng.random_range(0..n.min(4));
        self.pool[n - 1 - back]
    }

    /// A node of `shape` from the pool, or a new leaf.
    fn like(&mut self, shape: &[usize]) -> NodeId {
        let found: Vec<NodeId> = self
            .pool
            .iter()
            .copied()
            .filter(|&p| self.g.shape(p) == shape)
            .collect();
        if !found.is_empty() && self.rng.random_bool(0.7) {
            found[self.rng.random_range(0..found.len())]
        } else {
            self.leaf(shape)
        }
    }

    /// An `Input` of integer ids (`check` fills every input named `ids*` with integers in
    /// 0..10, so some name no row of a small table: both backends read zeros for those).
    fn ids(&mut self, shape: &[usize]) -> NodeId {
        let name = format!("ids{}", self.g.nodes.len());
        self.g.input(&name, shape)
    }

    /// `a` as a `[rows, last axis]` matrix.
    fn rows(&mut self, a: NodeId) -> NodeId {
        let shape = self.g.shape(a).to_vec();
        let last = shape[shape.len() - 1];
        self.g
            .reshape(a, &[shape.iter().product::<usize>() / last, last])
    }

    fn positive(&mut self, a: NodeId) -> NodeId {
        let sq = self.g.square(a);
        self.g.add_scalar(sq, 0.5)
    }

    fn step(&mut self) {
        let g_shape = |s: &Gen, a: NodeId| s.g.shape(a).to_vec();
        let a = self.pick();
        let shape = g_shape(self, a);
        let rank = shape.len();
        let id = match self.rng.random_range(0..18) {
            0 => {
                let t = self.g.tanh(a);
                self.g.exp(t)
            }
            1 => {
                let p = self.positive(a);
                self.g.log(p)
            }
            2 => {
                let p = self.positive(a);
                if self.rng.random_bool(0.5) {
                    self.g.sqrt(p)
                } else {
                    self.g.recip(p)
                }
            }
            3 => self.g.sigmoid(a),
            4 => {
                let b = self.like(&shape);
                match self.rng.random_range(0..4) {
                    0 => self.g.add(a, b),
                    1 => self.g.mul(a, b),
                    2 => self.g.max(a, b),
                    _ => {
                        let c = self.g.cmp_gt(a, b);
                        self.g.mul(c, b)
                    }
                }
            }
            5 => self.g.relu(a),
            6 | 7 => {
                // A reduction broadcast back and combined: softmax-like structure.
                let axes: Vec<usize> = (0..rank).filter(|_| self.rng.random_bool(0.5)).collect();
                let r = if self.rng.random_bool(0.6) {
                    self.g.sum(a, &axes)
                } else {
                    self.g.max_reduce(a, &axes)
                };
                self.pool.push(r);
                let b = self.g.broadcast(r, &shape);
                if self.rng.random_bool(0.5) {
                    self.g.sub(a, b)
                } else {
                    self.g.mul(a, b)
                }
            }
            8 => {
                let mut perm: Vec<usize> = (0..rank).collect();
                for i in (1..rank).rev() {
                    perm.swap(i, self.rng.random_range(0..=i));
                }
                self.g.permute(a, &perm)
            }
            9 => {
                let n: usize = shape.iter().product();
                let new = match self.rng.random_range(0..3) {
                    0 => vec![n],
                    1 if n.is_multiple_of(2) => vec![2, n / 2],
                    _ => vec![1, n],
                };
                self.g.reshape(a, &new)
            }
            10 => {
                let axis = self.rng.random_range(0..rank);
                let start = self.rng.random_range(0..shape[axis]);
                let end = self.rng.random_range(start + 1..=shape[axis]);
                self.g.slice(a, axis, start, end)
            }
            11 => {
                let axis = self.rng.random_range(0..rank);
                let (before, after) = (self.rng.random_range(0..3), self.rng.random_range(0..3));
                self.g.pad(a, axis, before, after)
            }
            12 => {
                let axis = self.rng.random_range(0..rank);
                let mut other = shape.clone();
                other[axis] = self.dims(1)[0];
                let b = self.like(&other);
                self.g.concat(&[a, b], axis)
            }
            13 | 14 => {
                // [.., m, k] x [k, n] or batched [b, m, k] x [b, k, n].
                let a = if rank == 1 {
                    self.g.reshape(a, &[1, shape[0]])
                } else {
                    a
                };
                let s = g_shape(self, a);
                let k = s[s.len() - 1];
                let n = self.dims(1)[0];
                let w = if s.len() == 3 && self.rng.random_bool(0.5) {
                    self.like(&[s[0], k, n])
                } else {
                    self.like(&[k, n])
                };
                self.g.matmul(a, w)
            }
            15 => {
                // Rows of `a` picked by ids of rank 1 or 2.
                let table = self.rows(a);
                let id_rank = self.rng.random_range(1..=2);
                let id_shape = self.dims(id_rank);
                let ids = self.ids(&id_shape);
                self.g.gather(table, ids)
            }
            16 => {
                // The rows of `a` added into a table by id.
                let values = self.rows(a);
                let count = self.g.shape(values)[0];
                let ids = self.ids(&[count]);
                let vocab = self.dims(1)[0];
                self.g.scatter_add(values, ids, vocab)
            }
            _ => {
                let axis = rank - 1;
                self.g.softmax(a, axis)
            }
        };
        self.pool.push(id);
    }
}

/// The graph of `seed`: nodes, the forward outputs and loss, then the gradients.
fn random_graph(seed: u64) -> (Graph, Vec<NodeId>) {
    let mut s = Gen {
        rng: StdRng::seed_from_u64(seed),
        g: Graph::new(),
        pool: Vec::new(),
        leaves: Vec::new(),
    };
    let rank = s.rng.random_range(1..=3);
    let dims = s.dims(rank);
    let first = s.leaf(&dims);
    s.pool.push(first);
    for _ in 0..s.rng.random_range(2..10) {
        s.step();
    }
    let outputs: Vec<NodeId> = s.pool[s.pool.len().saturating_sub(2)..].to_vec();
    let mut loss = None;
    for &o in &outputs {
        let total = s.g.sum_all(o);
        loss = Some(match loss {
            None => total,
            Some(l) => s.g.add(l, total),
        });
    }
    let loss = loss.expect("at least one output");
    let leaves = s.leaves.clone();
    let grads = autodiff::differentiate(&mut s.g, loss, &leaves);
    let mut wanted = outputs;
    wanted.push(loss);
    wanted.extend(grads);
    (s.g, wanted)
}

fn check(seed: u64) -> Result<(), TestCaseError> {
    let (g, wanted) = random_graph(seed);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut inputs: BTreeMap<String, ArrayD<f32>> = BTreeMap::new();
    let mut params: BTreeMap<String, ArrayD<f32>> = BTreeMap::new();
    let mut bindings = Bindings::new().seed(seed, 1);
    for node in &g.nodes {
        let n: usize = node.shape.iter().product();
        let is_ids = matches!(&node.op, Op::Input { name } if name.starts_with("ids"));
        let data: Vec<f32> = if is_ids {
            (0..n).map(|_| rng.random_range(0..10) as f32).collect()
        } else {
            (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
        };
        let value = ArrayD::from_shape_vec(IxDyn(&node.shape), data).unwrap();
        match &node.op {
            Op::Input { name } => {
                bindings = bindings.input(name, value.clone());
                inputs.insert(name.clone(), value);
            }
            Op::Param { name } => {
                bindings = bindings.param(name, value.clone());
                params.insert(name.clone(), value);
            }
            _ => {}
        }
    }
    let reference = interp::evaluate::<f32>(&g, &bindings, &wanted)
        .map_err(|e| TestCaseError::fail(format!("seed {seed}: interpreter: {e}")))?;
    // Every other graph as an inference program (batch-norm folding, hoisting of the
    // parameter-only part), the rest as a training step would be compiled.
    let options = nnc::jit::Options {
        threads: 2,
        clif: false,
        inference: seed % 2 == 1,
    };
    let mut compiled = nnc::jit::compile(&g, &wanted, options)
        .map_err(|e| TestCaseError::fail(format!("seed {seed}: compile: {e}")))?;
    let slices: BTreeMap<&str, &[f32]> = inputs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice().unwrap()))
        .collect();
    let jit = compiled
        .run(&slices, &[&params], seed, 1)
        .map_err(|e| TestCaseError::fail(format!("seed {seed}: run: {e}")))?;
    for (k, (r, j)) in reference.iter().zip(jit).enumerate() {
        prop_assert_eq!(r.shape(), j.shape(), "seed {}: output {}", seed, k);
        let scale = r.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        for (i, (a, b)) in r.iter().zip(j.iter()).enumerate() {
            let ok =
                (a - b).abs() <= ABS * (1.0 + scale) + REL * a.abs() || (a.is_nan() && b.is_nan());
            prop_assert!(
                ok,
                "seed {}: output {} ({}) element {}: reference {}, jit {}\n{}",
                seed,
                k,
                g.node(wanted[k]).op.name(),
                i,
                a,
                b,
                g
            );
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(500)
}

proptest! {
    #![proptest_config(common::config(cases()))]

    #[test]
    fn random_graphs_match_the_interpreter(seed in any::<u64>()) {
        check(seed)?;
    }
}
