//! What each layer learns and keeps: parameters (weights, biases, other learnable ones),
//! state buffers (running statistics, not parameters), and multiply-accumulates.
//!
//! Counts follow Caffe's conventions (docs/language.md, "Counting"): a conv weight is
//! filters × (channels / groups) × kh × kw, a dense weight is units × inputs, and MACs of a
//! conv or dense layer are its weights × its output positions.

use super::shapes::numel;
use super::{LayerId, LayerOp, Network};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    Weight,
    Bias,
    /// Learnable, but neither a weight nor a bias: norm scales and shifts, l2_norm scales.
    Other,
}

/// A learnable tensor of a layer. The checkpoint name is `<layer>.<name>`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamInfo {
    pub name: &'static str,
    pub shape: Vec<u64>,
    pub kind: ParamKind,
}

impl ParamInfo {
    pub fn count(&self) -> u64 {
        numel(&self.shape).unwrap_or(u64::MAX)
    }
}

fn param(name: &'static str, shape: Vec<u64>, kind: ParamKind) -> ParamInfo {
    ParamInfo { name, shape, kind }
}

/// Learnable parameters of a layer, in checkpoint order. Layouts follow PyTorch: dense
/// weights are [out, in], conv weights [filters, channels / groups, kh, kw].
pub fn params(net: &Network, id: LayerId) -> Vec<ParamInfo> {
    let layer = net.layer(id);
    let input = |i: usize| net.layer(layer.inputs[i]).shape.clone();
    let channels = || input(0).first().copied().unwrap_or(1);
    let mut out = Vec::new();
    match &layer.op {
        LayerOp::Dense {
            units,
            flatten,
            weights,
            ..
        } => {
            let fan_in = if *flatten {
                numel(&input(0)).unwrap_or(u64::MAX)
            } else {
                input(0).last().copied().unwrap_or(1)
            };
            out.push(param("weight", vec![*units, fan_in], ParamKind::Weight));
            if weights.bias {
                out.push(param("bias", vec![*units], ParamKind::Bias));
            }
        }
        LayerOp::Embedding { vocab, dim, .. } => {
            out.push(param("weight", vec![*vocab, *dim], ParamKind::Weight));
        }
        LayerOp::Conv1d {
            filters,
            window,
            groups,
            weights,
        } => {
            let shape = vec![*filters, channels() / groups, window.kernel[1]];
            out.push(param("weight", shape, ParamKind::Weight));
            if weights.bias {
                out.push(param("bias", vec![*filters], ParamKind::Bias));
            }
        }
        LayerOp::ConvTranspose {
            filters,
            window,
            weights,
            ..
        } => {
            let [kh, kw] = window.kernel;
            out.push(param(
                "weight",
                vec![channels(), *filters, kh, kw],
                ParamKind::Weight,
            ));
            if weights.bias {
                out.push(param("bias", vec![*filters], ParamKind::Bias));
            }
        }
        LayerOp::Attention { weights, .. } => {
            let e = layer.shape.last().copied().unwrap_or(1);
            out.push(param("in_proj_weight", vec![3 * e, e], ParamKind::Weight));
            if weights.bias {
                out.push(param("in_proj_bias", vec![3 * e], ParamKind::Bias));
            }
            out.push(param("out_proj.weight", vec![e, e], ParamKind::Weight));
            if weights.bias {
                out.push(param("out_proj.bias", vec![e], ParamKind::Bias));
            }
        }
        LayerOp::Lstm { units, weights, .. } | LayerOp::Gru { units, weights, .. } => {
            let gates = if matches!(layer.op, LayerOp::Lstm { .. }) {
                4
            } else {
                3
            };
            let features = input(0).last().copied().unwrap_or(1);
            let rows = gates * units;
            out.push(param("weight_ih", vec![rows, features], ParamKind::Weight));
            out.push(param("weight_hh", vec![rows, *units], ParamKind::Weight));
            if weights.bias {
                out.push(param("bias_ih", vec![rows], ParamKind::Bias));
                out.push(param("bias_hh", vec![rows], ParamKind::Bias));
            }
        }
        LayerOp::LayerScale { axis, .. } => {
            out.push(param("gamma", vec![layer.shape[*axis]], ParamKind::Other));
        }
        LayerOp::Conv {
            filters,
            window,
            groups,
            weights,
            ..
        } => {
            let shape = vec![
                *filters,
                channels() / groups,
                window.kernel[0],
                window.kernel[1],
            ];
            out.push(param("weight", shape, ParamKind::Weight));
            if weights.bias {
                out.push(param("bias", vec![*filters], ParamKind::Bias));
            }
        }
        LayerOp::BatchNorm { affine: true, .. }
        | LayerOp::GroupNorm { affine: true, .. }
        | LayerOp::InstanceNorm { affine: true, .. } => {
            out.push(param("weight", vec![channels()], ParamKind::Other));
            out.push(param("bias", vec![channels()], ParamKind::Other));
        }
        LayerOp::LayerNorm {
            affine: true, last, ..
        } => {
            let shape = if *last {
                vec![layer.shape.last().copied().unwrap_or(1)]
            } else {
                layer.shape.clone()
            };
            out.push(param("weight", shape.clone(), ParamKind::Other));
            out.push(param("bias", shape, ParamKind::Other));
        }
        LayerOp::L2Norm { .. } => out.push(param("scale", vec![channels()], ParamKind::Other)),
        LayerOp::BatchNorm { affine: false, .. }
        | LayerOp::GroupNorm { affine: false, .. }
        | LayerOp::InstanceNorm { affine: false, .. }
        | LayerOp::LayerNorm { affine: false, .. }
        | LayerOp::Input
        | LayerOp::StepInput
        | LayerOp::StepState
        | LayerOp::Scan { .. }
        | LayerOp::Pool { .. }
        | LayerOp::GlobalAvgPool
        | LayerOp::Flatten
        | LayerOp::Reshape
        | LayerOp::Concat { .. }
        | LayerOp::Unpool { .. }
        | LayerOp::Dropout { .. }
        | LayerOp::Relu
        | LayerOp::LeakyRelu { .. }
        | LayerOp::Tanh
        | LayerOp::Sigmoid
        | LayerOp::Gelu { .. }
        | LayerOp::Silu
        | LayerOp::Elu { .. }
        | LayerOp::Softplus { .. }
        | LayerOp::Crelu
        | LayerOp::Softmax { .. }
        | LayerOp::Arith(_)
        | LayerOp::Scale { .. }
        | LayerOp::Shift { .. } => {}
    }
    out
}

/// State a layer keeps that is not learned by gradient: batch norm's running statistics.
pub fn buffers(net: &Network, id: LayerId) -> Vec<(&'static str, Vec<u64>)> {
    let layer = net.layer(id);
    match layer.op {
        LayerOp::BatchNorm { .. } => {
            let c = layer.shape.first().copied().unwrap_or(1);
            vec![("running_mean", vec![c]), ("running_var", vec![c])]
        }
        LayerOp::Input
        | LayerOp::StepInput
        | LayerOp::StepState
        | LayerOp::Scan { .. }
        | LayerOp::Lstm { .. }
        | LayerOp::Gru { .. }
        | LayerOp::Dense { .. }
        | LayerOp::Embedding { .. }
        | LayerOp::Conv { .. }
        | LayerOp::Conv1d { .. }
        | LayerOp::ConvTranspose { .. }
        | LayerOp::Pool { .. }
        | LayerOp::GlobalAvgPool
        | LayerOp::Flatten
        | LayerOp::Reshape
        | LayerOp::Concat { .. }
        | LayerOp::Unpool { .. }
        | LayerOp::Dropout { .. }
        | LayerOp::Relu
        | LayerOp::LeakyRelu { .. }
        | LayerOp::Tanh
        | LayerOp::Sigmoid
        | LayerOp::Gelu { .. }
        | LayerOp::Silu
        | LayerOp::Elu { .. }
        | LayerOp::Softplus { .. }
        | LayerOp::Crelu
        | LayerOp::Softmax { .. }
        | LayerOp::LayerNorm { .. }
        | LayerOp::GroupNorm { .. }
        | LayerOp::InstanceNorm { .. }
        | LayerOp::L2Norm { .. }
        | LayerOp::LayerScale { .. }
        | LayerOp::Attention { .. }
        | LayerOp::Arith(_)
        | LayerOp::Scale { .. }
        | LayerOp::Shift { .. } => Vec::new(),
    }
}

/// Multiply-accumulates of one forward pass for one example: each weight is used once per
/// output position (1 for dense, H × W for conv, L for conv1d, every position but the
/// last axis for a per-position dense), once per input position for a transposed
/// convolution; an embedding only reads its table. Attention adds its two products
/// (scores and weighted values, T² × features each) to its projections. Parameters that
/// are not weights (norm scales) and elementwise work are not counted, as in Caffe.
pub fn macs(net: &Network, id: LayerId) -> u64 {
    let layer = net.layer(id);
    let weights: u64 = params(net, id)
        .iter()
        .filter(|p| p.kind == ParamKind::Weight)
        .map(ParamInfo::count)
        .fold(0, u64::saturating_add);
    let product = |dims: &[u64]| dims.iter().fold(1u64, |acc, d| acc.saturating_mul(*d));
    let shape = &layer.shape;
    let positions = match &layer.op {
        LayerOp::Embedding { .. } => 0,
        LayerOp::Dense { flatten: false, .. } => product(&shape[..shape.len() - 1]),
        LayerOp::ConvTranspose { .. } => product(&net.layer(layer.inputs[0]).shape[1..]),
        LayerOp::Attention { .. } => {
            let (t, e) = (shape[0], shape[1]);
            let products = t.saturating_mul(t).saturating_mul(e).saturating_mul(2);
            return weights.saturating_mul(t).saturating_add(products);
        }
        LayerOp::Dense { flatten: true, .. } | LayerOp::Conv { .. } | LayerOp::Conv1d { .. } => {
            product(&shape[1..])
        }
        // Both matrices once per step.
        LayerOp::Lstm { .. } | LayerOp::Gru { .. } => net.layer(layer.inputs[0]).shape[0],
        LayerOp::Input
        | LayerOp::StepInput
        | LayerOp::StepState
        | LayerOp::Scan { .. }
        | LayerOp::Pool { .. }
        | LayerOp::GlobalAvgPool
        | LayerOp::Flatten
        | LayerOp::Reshape
        | LayerOp::Concat { .. }
        | LayerOp::Unpool { .. }
        | LayerOp::Dropout { .. }
        | LayerOp::Relu
        | LayerOp::LeakyRelu { .. }
        | LayerOp::Tanh
        | LayerOp::Sigmoid
        | LayerOp::Gelu { .. }
        | LayerOp::Silu
        | LayerOp::Elu { .. }
        | LayerOp::Softplus { .. }
        | LayerOp::Crelu
        | LayerOp::Softmax { .. }
        | LayerOp::BatchNorm { .. }
        | LayerOp::LayerNorm { .. }
        | LayerOp::GroupNorm { .. }
        | LayerOp::InstanceNorm { .. }
        | LayerOp::L2Norm { .. }
        | LayerOp::LayerScale { .. }
        | LayerOp::Arith(_)
        | LayerOp::Scale { .. }
        | LayerOp::Shift { .. } => return 0,
    };
    weights.saturating_mul(positions)
}

/// Totals over a network, in u128 so that absurd specs still add up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub weights: u128,
    pub biases: u128,
    pub other: u128,
    pub macs: u128,
}

impl Totals {
    pub fn params(&self) -> u128 {
        self.weights + self.biases + self.other
    }
}

pub fn totals(net: &Network) -> Totals {
    let mut t = Totals::default();
    for i in 0..net.layers.len() {
        let id = LayerId(i as u32);
        for p in params(net, id) {
            let n = p.count() as u128;
            match p.kind {
                ParamKind::Weight => t.weights += n,
                ParamKind::Bias => t.biases += n,
                ParamKind::Other => t.other += n,
            }
        }
        t.macs += macs(net, id) as u128;
    }
    t
}
