//! Layers over sequences of tokens: embedding lookups (`Gather`; autodiff scatter-adds
//! their gradient) and multi-head self-attention, and the host-side check of the ids an
//! embedding reads from the data.

use super::dense::{dense, weight_init};
use super::Cx;
use crate::hir::{Init, LayerOp, Network, Weights};
use crate::prim::{Graph, NodeId};
use crate::train::RunError;
use ndarray::Array2;

/// A row of the table per id: `[N, ...] -> [N, ..., dim]`.
pub(super) fn lower_embedding(cx: &mut Cx, ids: NodeId, init: Option<Init>) -> NodeId {
    let init = init.unwrap_or(Init::Gaussian {
        mean: 0.0,
        std: 1.0,
    });
    let table = cx.param("weight", init);
    cx.g.gather(table, ids)
}

pub(super) fn lower_attention(
    cx: &mut Cx,
    x: NodeId,
    heads: usize,
    causal: bool,
    w: &Weights,
) -> NodeId {
    let init = weight_init(cx, w);
    let in_weight = cx.param("in_proj_weight", init.clone());
    let in_bias = w
        .bias
        .then(|| cx.param("in_proj_bias", w.bias_init.clone()));
    let out_weight = cx.param("out_proj.weight", init);
    let out_bias = w
        .bias
        .then(|| cx.param("out_proj.bias", w.bias_init.clone()));
    let projections = Projections {
        in_weight,
        in_bias,
        out_weight,
        out_bias,
    };
    attention(cx.g, x, &projections, heads, causal)
}

/// The parameters of [`attention`], in PyTorch's `MultiheadAttention` layout: `in_weight`
/// `[3E, E]` stacks the query, key and value projections, `out_weight` is `[E, E]`.
pub struct Projections {
    pub in_weight: NodeId,
    pub in_bias: Option<NodeId>,
    pub out_weight: NodeId,
    pub out_bias: Option<NodeId>,
}

/// Scores of masked pairs: exp underflows to exactly 0 after the softmax's max shift, and
/// unlike -inf the scores stay finite, so the non-finite check of a diverged run never
/// blames the mask.
const MASKED: f64 = -1e30;

/// Multi-head self-attention on `x` [N, T, E] (Vaswani et al. 2017, as PyTorch computes
/// it): Q, K, V = x W_q^T + b_q, ..., each split into `heads` heads of E / heads features;
/// per head softmax(Q K^T / sqrt(E / heads)) V, with `causal` masking the keys after each
/// query; the heads concatenated and projected by the output weight.
pub fn attention(g: &mut Graph, x: NodeId, p: &Projections, heads: usize, causal: bool) -> NodeId {
    let [n, t, e] = g.shape(x)[..] else {
        unreachable!("attention input is [N, T, E]")
    };
    let dh = e / heads;
    let rows = g.reshape(x, &[n * t, e]);
    let in_t = g.transpose(p.in_weight, 0, 1);
    let qkv = dense(g, rows, in_t, p.in_bias);
    let mut split = |i: usize| {
        let part = g.slice(qkv, 1, i * e, (i + 1) * e);
        let part = g.reshape(part, &[n, t, heads, dh]);
        g.permute(part, &[0, 2, 1, 3])
    };
    let (q, k, v) = (split(0), split(1), split(2));
    let k_t = g.transpose(k, 2, 3);
    let scores = g.matmul(q, k_t);
    let mut scores = g.scale(scores, 1.0 / (dh as f64).sqrt());
    if causal {
        let mask = causal_mask(g, t);
        let mask = g.reshape(mask, &[1, 1, t, t]);
        let mask = g.broadcast(mask, &[n, heads, t, t]);
        scores = g.add(scores, mask);
    }
    let weights = g.softmax(scores, 3);
    let heads_out = g.matmul(weights, v);
    let joined = g.permute(heads_out, &[0, 2, 1, 3]);
    let joined = g.reshape(joined, &[n * t, e]);
    let out_t = g.transpose(p.out_weight, 0, 1);
    let y = dense(g, joined, out_t, p.out_bias);
    g.reshape(y, &[n, t, e])
}

/// `[T, T]`: 0 where key j <= query i, [`MASKED`] after it.
fn causal_mask(g: &mut Graph, t: usize) -> NodeId {
    let rows: Vec<NodeId> = (0..t)
        .map(|i| {
            let seen = g.constant(0.0, &[1, i + 1]);
            if i + 1 == t {
                seen
            } else {
                let hidden = g.constant(MASKED, &[1, t - i - 1]);
                g.concat(&[seen, hidden], 1)
            }
        })
        .collect();
    if rows.len() == 1 {
        rows[0]
    } else {
        g.concat(&rows, 0)
    }
}

/// Checks every id that an embedding of `net` reads from `input`, in the given splits'
/// features (`[examples, values]`, before reshaping): each must be an integer in `[0,
/// vocab)`. Run before training, since a lookup step reads zeros for an id that names no
/// row (`nnc_runtime::exec::lookup`) and cannot stop the run.
pub fn check_ids(
    net: &Network,
    input: &str,
    splits: &[(&str, &Array2<f32>)],
) -> Result<(), RunError> {
    for layer in &net.layers {
        let LayerOp::Embedding { vocab, .. } = layer.op else {
            continue;
        };
        if net.layer(layer.inputs[0]).name != input {
            continue;
        }
        for (split, features) in splits {
            let bad = features.outer_iter().enumerate().find_map(|(row, values)| {
                let at = values.iter().position(|v| {
                    nnc_runtime::exec::lookup::row(f64::from(*v), vocab as usize).is_none()
                })?;
                Some((row, at, values[at]))
            });
            if let Some((row, at, value)) = bad {
                return Err(RunError::Config {
                    message: format!(
                        "example {row} of the {split} split holds {value} at position {at} of `{input}`, but `{}` takes integer ids in [0, {vocab})",
                        layer.name
                    ),
                    help: "An embedding's input must hold whole numbers from 0 to vocab - 1: load the data with `scale: none`, or raise `vocab`.".into(),
                    at: Some(layer.span),
                });
            }
        }
    }
    Ok(())
}
