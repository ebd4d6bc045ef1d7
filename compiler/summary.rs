//! `nnc summary`: per layer its name, op, output shape, weights, biases, other learnable
//! parameters and multiply-accumulates, then totals; as a table or as JSON.

use crate::hir::params::{self, ParamKind};
use crate::hir::shapes_show;
use crate::hir::{LayerId, Network};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct LayerRow {
    pub name: String,
    pub op: String,
    pub shape: Vec<u64>,
    pub inputs: Vec<String>,
    pub weights: u64,
    pub biases: u64,
    pub other: u64,
    pub macs: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ParamTotals {
    pub weights: u64,
    pub biases: u64,
    pub other: u64,
    pub total: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub network: String,
    pub params: ParamTotals,
    pub macs: u64,
    /// Running statistics: state, not parameters.
    pub buffers: u64,
    pub layers: Vec<LayerRow>,
}

fn sat(x: u128) -> u64 {
    x.min(u64::MAX as u128) as u64
}

pub fn summarize(net: &Network) -> Summary {
    let mut rows = Vec::with_capacity(net.layers.len());
    let mut buffers: u128 = 0;
    for (i, layer) in net.layers.iter().enumerate() {
        let id = LayerId(i as u32);
        let mut counts = [0u128; 3];
        for p in params::params(net, id) {
            let slot = match p.kind {
                ParamKind::Weight => 0,
                ParamKind::Bias => 1,
                ParamKind::Other => 2,
            };
            counts[slot] += p.count() as u128;
        }
        for (_, shape) in params::buffers(net, id) {
            buffers += shape.iter().map(|d| *d as u128).product::<u128>();
        }
        rows.push(LayerRow {
            name: layer.name.clone(),
            op: layer.op.name().to_string(),
            shape: layer.shape.clone(),
            inputs: layer
                .inputs
                .iter()
                .map(|i| net.layer(*i).name.clone())
                .collect(),
            weights: sat(counts[0]),
            biases: sat(counts[1]),
            other: sat(counts[2]),
            macs: params::macs(net, id),
        });
    }
    let t = params::totals(net);
    Summary {
        network: net.name.clone(),
        params: ParamTotals {
            weights: sat(t.weights),
            biases: sat(t.biases),
            other: sat(t.other),
            total: sat(t.params()),
        },
        macs: sat(t.macs),
        buffers: sat(buffers),
        layers: rows,
    }
}

/// `60954656` -> `60,954,656`
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The table, in the style of Keras' `model.summary()`.
pub fn render(s: &Summary) -> String {
    let header = [
        "Layer",
        "Op",
        "Output shape",
        "Weights",
        "Biases",
        "Other",
        "MACs",
    ];
    let mut rows: Vec<[String; 7]> = s
        .layers
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.op.clone(),
                shapes_show(&r.shape),
                thousands(r.weights),
                thousands(r.biases),
                thousands(r.other),
                thousands(r.macs),
            ]
        })
        .collect();
    let total = [
        "Total".to_string(),
        String::new(),
        String::new(),
        thousands(s.params.weights),
        thousands(s.params.biases),
        thousands(s.params.other),
        thousands(s.macs),
    ];
    let mut widths = header.map(str::len);
    for row in rows.iter().chain(std::iter::once(&total)) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 7]| -> String {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w - cell.chars().count();
            // Text columns left-aligned, numbers right-aligned.
            if i < 3 {
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            }
            if i < 6 {
                out.push_str("  ");
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let rule = "-".repeat(widths.iter().sum::<usize>() + 12) + "\n";
    let mut out = format!("network {}\n", s.network);
    out.push_str(&line(&header.map(String::from)));
    out.push_str(&rule);
    for row in rows.drain(..) {
        out.push_str(&line(&row));
    }
    out.push_str(&rule);
    out.push_str(&line(&total));
    out.push_str(&format!(
        "Parameters: {} ({} weights, {} biases, {} other); running statistics (not parameters): {}\n",
        thousands(s.params.total),
        thousands(s.params.weights),
        thousands(s.params.biases),
        thousands(s.params.other),
        thousands(s.buffers),
    ));
    out
}
