//! Recurrent layers, unrolled into the primitive IR: `lstm` and `gru` (their math as
//! public functions, PyTorch's gate order and formulas), and `scan`, which lowers a
//! user-defined cell's layers once per step (`Unroll`, used by `lower_network`).
//!
//! Unrolling needs no loop primitive: autodiff, the interpreter and the JIT see ordinary
//! ops, and backpropagation through time is autodiff of the unrolled graph. The number of
//! steps is the input's (known) length; the graph grows linearly with it (docs/ir.md).

use super::dense::{dense, weight_init};
use super::{Cx, Unroll};
use crate::hir::{LayerId, LayerOp, Weights};
use crate::prim::{Graph, NodeId, Origin};

/// The parameters of an `lstm` or `gru` in PyTorch's layout: `w_ih` `[G·H, F]` and `w_hh`
/// `[G·H, H]` stack the gates' matrices (G = 4 for the LSTM, 3 for the GRU).
pub struct RecurrentParams {
    pub w_ih: NodeId,
    pub w_hh: NodeId,
    pub b_ih: Option<NodeId>,
    pub b_hh: Option<NodeId>,
}

/// Which recurrent cell, with its options.
#[derive(Clone, Copy, Debug)]
pub enum Cell {
    /// `forget_bias` is added to the forget gate's pre-activation.
    Lstm {
        forget_bias: f64,
    },
    Gru,
}

impl Cell {
    fn gates(self) -> usize {
        match self {
            Cell::Lstm { .. } => 4,
            Cell::Gru => 3,
        }
    }
}

pub(super) fn lower_recurrent(
    cx: &mut Cx,
    x: NodeId,
    cell: Cell,
    sequences: bool,
    reverse: bool,
    w: &Weights,
) -> NodeId {
    let init = weight_init(cx, w);
    let params = RecurrentParams {
        w_ih: cx.param("weight_ih", init.clone()),
        w_hh: cx.param("weight_hh", init),
        b_ih: w.bias.then(|| cx.param("bias_ih", w.bias_init.clone())),
        b_hh: w.bias.then(|| cx.param("bias_hh", w.bias_init.clone())),
    };
    let states = recurrent(cx.g, x, &params, cell, reverse);
    join_states(cx.g, &states, sequences, reverse, 1)
}

/// The hidden state after every step of `x` `[N, T, F]`, in input order (`reverse`: the
/// steps run from T - 1 down to 0, so entry 0 is the last one computed).
///
/// LSTM (gates i, f, g, o):  i = σ(W_ii x + b_ii + W_hi h + b_hi), f and o alike,
/// g = tanh(W_ig x + b_ig + W_hg h + b_hg), c' = f·c + i·g, h' = o·tanh(c').
/// GRU (gates r, z, n): r = σ(W_ir x + b_ir + W_hr h + b_hr), z alike,
/// n = tanh(W_in x + b_in + r·(W_hn h + b_hn)), h' = (1 − z)·n + z·h.
/// h and c start at zero. The input projections of all steps are one product.
pub fn recurrent(
    g: &mut Graph,
    x: NodeId,
    p: &RecurrentParams,
    cell: Cell,
    reverse: bool,
) -> Vec<NodeId> {
    let [n, t, f] = g.shape(x)[..] else {
        unreachable!("a recurrent layer's input is [N, T, F] (hir checks the rank)")
    };
    let rows = g.shape(p.w_hh)[0];
    let units = rows / cell.gates();
    let flat = g.reshape(x, &[n * t, f]);
    let w_ih_t = g.transpose(p.w_ih, 0, 1);
    let projected = dense(g, flat, w_ih_t, p.b_ih);
    let projected = g.reshape(projected, &[n, t, rows]);
    let w_hh_t = g.transpose(p.w_hh, 0, 1);
    let mut h = g.constant(0.0, &[n, units]);
    let mut c = h;
    let mut states = vec![h; t];
    let order: Vec<usize> = if reverse {
        (0..t).rev().collect()
    } else {
        (0..t).collect()
    };
    for step in order {
        let xi = g.slice(projected, 1, step, step + 1);
        let xi = g.reshape(xi, &[n, rows]);
        let hh = dense(g, h, w_hh_t, p.b_hh);
        let gate =
            |g: &mut Graph, from: NodeId, k: usize| g.slice(from, 1, k * units, (k + 1) * units);
        match cell {
            Cell::Lstm { forget_bias } => {
                let sum = g.add(xi, hh);
                let i = gate(g, sum, 0);
                let i = g.sigmoid(i);
                let mut fg = gate(g, sum, 1);
                if forget_bias != 0.0 {
                    fg = g.add_scalar(fg, forget_bias);
                }
                let fg = g.sigmoid(fg);
                let cand = gate(g, sum, 2);
                let cand = g.tanh(cand);
                let o = gate(g, sum, 3);
                let o = g.sigmoid(o);
                let kept = g.mul(fg, c);
                let added = g.mul(i, cand);
                c = g.add(kept, added);
                let squashed = g.tanh(c);
                h = g.mul(o, squashed);
            }
            Cell::Gru => {
                let (xr, hr) = (gate(g, xi, 0), gate(g, hh, 0));
                let r = g.add(xr, hr);
                let r = g.sigmoid(r);
                let (xz, hz) = (gate(g, xi, 1), gate(g, hh, 1));
                let z = g.add(xz, hz);
                let z = g.sigmoid(z);
                let (xn, hn) = (gate(g, xi, 2), gate(g, hh, 2));
                let reset = g.mul(r, hn);
                let cand = g.add(xn, reset);
                let cand = g.tanh(cand);
                // (1 − z)·n + z·h = n + z·(h − n)
                let diff = g.sub(h, cand);
                let update = g.mul(z, diff);
                h = g.add(cand, update);
            }
        }
        states[step] = h;
    }
    states
}

/// A recurrent layer's output from its per-step states `[N, ...]` (in input order):
/// stacked on `axis` (batch included), or the last state computed.
pub fn join_states(
    g: &mut Graph,
    states: &[NodeId],
    sequences: bool,
    reverse: bool,
    axis: usize,
) -> NodeId {
    if !sequences {
        let last = if reverse {
            states.first()
        } else {
            states.last()
        };
        #[allow(clippy::expect_used, reason = "hir shapes have positive dimensions")]
        return *last.expect("a recurrent layer has at least one step");
    }
    let parts: Vec<NodeId> = states
        .iter()
        .map(|&s| {
            let mut shape = g.shape(s).to_vec();
            shape.insert(axis, 1);
            g.reshape(s, &shape)
        })
        .collect();
    g.concat(&parts, axis)
}

impl Unroll<'_> {
    /// Lowers the `scan` layer `scan`: its cell's layers once per step, the step's slice of
    /// the input and the previous state standing in for the cell's two placeholders, then
    /// the states joined. Only the last step's values are recorded as the cell layers'
    /// outputs (`record`).
    pub(super) fn scan(&mut self, scan: LayerId, record: bool) {
        let layer = self.net.layer(scan);
        let LayerOp::Scan {
            axis,
            init,
            sequences,
            reverse,
            body,
            result,
        } = layer.op
        else {
            unreachable!("Unroll::scan is called on scan layers")
        };
        let x = self.value(layer.inputs[0]);
        let origin = Some(Origin::layer(layer.name.clone()));
        let batch = self.options.batch;
        let with_batch = |shape: &[u64]| -> Vec<usize> {
            std::iter::once(batch)
                .chain(shape.iter().map(|d| *d as usize))
                .collect()
        };
        let (input, previous) = (body, LayerId(body.0 + 1));
        let step_shape = with_batch(&self.net.layer(input).shape);
        let state_shape = with_batch(&self.net.layer(previous).shape);
        let steps = self.g.shape(x)[axis + 1];
        let saved = self.g.origin().cloned();
        self.g.set_origin(origin.clone());
        let mut h = self.g.constant(init, &state_shape);
        self.g.set_origin(saved.clone());
        let mut states = vec![h; steps];
        let order: Vec<usize> = if reverse {
            (0..steps).rev().collect()
        } else {
            (0..steps).collect()
        };
        for (k, &step) in order.iter().enumerate() {
            self.g.set_origin(origin.clone());
            let xt = self.g.slice(x, axis + 1, step, step + 1);
            let xt = self.g.reshape(xt, &step_shape);
            self.g.set_origin(saved.clone());
            let last = k + 1 == steps;
            self.set(input, xt, record && last);
            self.set(previous, h, record && last);
            self.range(previous.0 as usize + 1..scan.0 as usize, record && last);
            h = self.value(result);
            states[step] = h;
        }
        self.g.set_origin(origin);
        let out = join_states(self.g, &states, sequences, reverse, axis + 1);
        self.g.set_origin(saved);
        self.set(scan, out, record);
    }
}
