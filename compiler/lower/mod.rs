//! Stage 3, lowering: a resolved network -> a primitive graph ([`crate::prim`]) for one
//! batch size and one mode (training or evaluation).
//!
//! One file per layer family (`dense.rs`, `conv.rs`, `norm.rs`, `binary.rs`,
//! `activation.rs`, `sequence.rs`, `simple.rs`) holds the family's math on a [`Graph`] (public, for the
//! tests) and its `lower_*` functions, which declare the parameters and state a layer
//! reads and append its primitives. [`lower_layer`] matches every [`LayerOp`], so a new
//! layer does not compile until it has a lowering.
//! Layers never get hand-written backward code: autodiff differentiates the primitives.
//! Activations are `[batch, ...per-example shape]`, channels on axis 1.

pub mod activation;
pub mod binary;
pub mod conv;
pub mod dense;
pub mod norm;
pub mod recurrent;
pub mod sequence;
mod simple;

use crate::hir::params::{self, ParamKind};
use crate::hir::{Init, LayerId, LayerOp, Network};
use crate::prim::{Graph, NodeId};
use std::collections::HashMap;

/// Training uses batch statistics, dropout and updates running statistics; evaluation
/// uses running statistics and no dropout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    Train,
    Eval,
}

/// How a learnable parameter starts: an init scheme, or LSUV (orthonormal, then rescaled
/// on data by the trainer).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDecl {
    /// Checkpoint name: `<layer>.<param>`, e.g. `dense1.weight`.
    pub name: String,
    pub layer: String,
    pub shape: Vec<usize>,
    pub kind: ParamKind,
    pub init: Init,
    pub lr_mult: f64,
    pub decay_mult: f64,
}

/// State that is not learned by gradient (batch norm's running statistics): its name,
/// shape and initial value.
#[derive(Clone, Debug, PartialEq)]
pub struct StateDecl {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: f64,
}

/// A lowered network.
#[derive(Clone, Debug, Default)]
pub struct Lowered {
    pub graph: Graph,
    /// The network's inputs (`Input` nodes named after the spec's inputs), in order.
    pub inputs: Vec<(String, NodeId)>,
    /// The network's outputs, in order.
    pub outputs: Vec<(String, NodeId)>,
    pub params: Vec<ParamDecl>,
    pub state: Vec<StateDecl>,
    /// New values of `state` after this batch (training mode only).
    pub state_updates: Vec<(String, NodeId)>,
    /// Each layer's output, in network order: for locating the first non-finite value
    /// and for LSUV (the output of a conv or dense layer, before its activation).
    pub layer_outputs: Vec<(String, NodeId)>,
}

impl Lowered {
    pub fn param(&self, name: &str) -> Option<&ParamDecl> {
        self.params.iter().find(|p| p.name == name)
    }
}

pub struct LowerOptions {
    pub mode: Mode,
    pub batch: usize,
    /// The weight init of layers that name none (the train block's `init`), else xavier.
    pub default_init: Option<Init>,
}

/// What a layer lowering works with.
pub(crate) struct Cx<'a> {
    pub g: &'a mut Graph,
    pub net: &'a Network,
    pub out: &'a mut Lowered,
    pub options: &'a LowerOptions,
    pub layer: LayerId,
}

impl Cx<'_> {
    pub fn name(&self) -> &str {
        &self.net.layer(self.layer).name
    }

    /// Declares (and reads) parameter `param` of this layer, as `hir::params` lists it.
    pub fn param(&mut self, param: &str, init: Init) -> NodeId {
        let layer = self.net.layer(self.layer);
        let info = params::params(self.net, self.layer)
            .into_iter()
            .find(|p| p.name == param)
            .unwrap_or_else(|| panic!("layer {} has no parameter {param}", layer.name));
        let shape: Vec<usize> = info.shape.iter().map(|d| *d as usize).collect();
        let name = format!("{}.{param}", layer.name);
        if self.out.param(&name).is_none() {
            self.out.params.push(ParamDecl {
                name: name.clone(),
                layer: layer.name.clone(),
                shape: shape.clone(),
                kind: info.kind,
                init,
                lr_mult: layer.lr_mult,
                decay_mult: layer.decay_mult,
            });
        }
        self.g.param(&name, &shape)
    }

    /// Declares (and reads) state `name` of this layer.
    pub fn state(&mut self, name: &str, shape: &[usize], init: f64) -> NodeId {
        let full = format!("{}.{name}", self.name());
        if !self.out.state.iter().any(|s| s.name == full) {
            self.out.state.push(StateDecl {
                name: full.clone(),
                shape: shape.to_vec(),
                init,
            });
        }
        self.g.param(&full, shape)
    }

    pub fn update_state(&mut self, name: &str, value: NodeId) {
        let full = format!("{}.{name}", self.name());
        self.out.state_updates.push((full, value));
    }

    /// The shape of a node, batch included.
    pub fn shape(&self, id: NodeId) -> Vec<usize> {
        self.g.shape(id).to_vec()
    }

    /// The layer's output shape, batch included.
    pub fn out_shape(&self) -> Vec<usize> {
        let mut s = vec![self.options.batch];
        s.extend(self.net.layer(self.layer).shape.iter().map(|d| *d as usize));
        s
    }

    pub fn train(&self) -> bool {
        self.options.mode == Mode::Train
    }

    /// A stream id for this layer's random numbers (dropout), stable across runs.
    pub fn stream(&self) -> u32 {
        self.layer.0
    }
}

/// Lowers `net` for one batch size and mode.
pub fn lower_network(net: &Network, options: &LowerOptions) -> Lowered {
    let mut out = Lowered::default();
    let mut g = Graph::new();
    // A scan's cell starts at its `StepInput` placeholder and ends before the scan.
    let scans = net
        .layers
        .iter()
        .enumerate()
        .filter_map(|(i, l)| match l.op {
            LayerOp::Scan { body, .. } => Some((body.0 as usize, LayerId(i as u32))),
            _ => None,
        })
        .collect();
    let mut unroll = Unroll {
        g: &mut g,
        net,
        out: &mut out,
        options,
        values: vec![None; net.layers.len()],
        scans,
    };
    unroll.range(0..net.layers.len(), true);
    let values = std::mem::take(&mut unroll.values);
    for o in &net.outputs {
        #[allow(clippy::expect_used, reason = "every layer outside a cell is lowered")]
        let node = values[o.layer.0 as usize].expect("an output is lowered");
        out.outputs.push((o.name.clone(), node));
        g.output(o.name.clone(), node);
    }
    out.graph = g;
    out
}

/// Lowers layers in network order; a scan's cell is lowered by its scan, once per step.
pub(crate) struct Unroll<'a> {
    pub g: &'a mut Graph,
    pub net: &'a Network,
    pub out: &'a mut Lowered,
    pub options: &'a LowerOptions,
    /// Each layer's current value (a cell layer's: at the step being lowered).
    values: Vec<Option<NodeId>>,
    /// The scan whose cell starts at each layer index.
    scans: HashMap<usize, LayerId>,
}

impl Unroll<'_> {
    /// Lowers the layers `ids`; `record`: list their outputs in `Lowered::layer_outputs`.
    pub(super) fn range(&mut self, ids: std::ops::Range<usize>, record: bool) {
        let mut i = ids.start;
        while i < ids.end {
            if let Some(&scan) = self.scans.get(&i) {
                self.scan(scan, record);
                i = scan.0 as usize + 1;
                continue;
            }
            let id = LayerId(i as u32);
            let layer = self.net.layer(id);
            let inputs: Vec<NodeId> = layer.inputs.iter().map(|l| self.value(*l)).collect();
            let saved = self.g.origin().cloned();
            self.g
                .set_origin(Some(crate::prim::Origin::layer(layer.name.clone())));
            let value = {
                let mut cx = Cx {
                    g: self.g,
                    net: self.net,
                    out: self.out,
                    options: self.options,
                    layer: id,
                };
                lower_layer(&mut cx, &inputs)
            };
            self.g.set_origin(saved);
            if let LayerOp::Input = layer.op {
                self.out.inputs.push((layer.name.clone(), value));
            }
            self.set(id, value, record);
            i += 1;
        }
    }

    fn value(&self, id: LayerId) -> NodeId {
        #[allow(clippy::expect_used, reason = "layers are in topological order")]
        self.values[id.0 as usize].expect("a layer's inputs are lowered before it")
    }

    fn set(&mut self, id: LayerId, value: NodeId, record: bool) {
        self.values[id.0 as usize] = Some(value);
        if record {
            let name = self.net.layer(id).name.clone();
            self.out.layer_outputs.push((name, value));
        }
    }
}

/// Appends the layer `cx.layer` to the graph; `inputs` are its input layers' values.
fn lower_layer(cx: &mut Cx, inputs: &[NodeId]) -> NodeId {
    use LayerOp as L;
    let op = cx.net.layer(cx.layer).op.clone();
    match op {
        L::Input => {
            let shape = cx.out_shape();
            let name = cx.name().to_string();
            cx.g.input(&name, &shape)
        }
        L::Dense {
            binary,
            flatten,
            weights,
            ..
        } => dense::lower_dense(cx, inputs[0], binary, flatten, &weights),
        L::Embedding { init, .. } => sequence::lower_embedding(cx, inputs[0], init),
        L::Conv1d {
            window,
            groups,
            weights,
            ..
        } => conv::lower_conv1d(cx, inputs[0], &window, groups as usize, &weights),
        L::ConvTranspose {
            window, weights, ..
        } => conv::lower_conv_transpose(cx, inputs[0], &window, &weights),
        L::Conv {
            window,
            groups,
            kind,
            weights,
            ..
        } => conv::lower_conv(cx, inputs[0], &window, groups as usize, kind, &weights),
        L::Pool { kind, window, ceil } => conv::lower_pool(cx, inputs[0], kind, &window, ceil),
        L::GlobalAvgPool => simple::lower_global_avg_pool(cx, inputs[0]),
        L::Flatten | L::Reshape => simple::lower_reshape(cx, inputs[0]),
        L::Concat { axis } => cx.g.concat(inputs, axis + 1),
        L::Unpool { .. } => simple::lower_unpool(cx, inputs[0]),
        L::Dropout { rate } => simple::lower_dropout(cx, inputs[0], rate),
        L::Relu => cx.g.relu(inputs[0]),
        L::LeakyRelu { slope } => activation::leaky_relu(cx.g, inputs[0], slope),
        L::Tanh => cx.g.tanh(inputs[0]),
        L::Sigmoid => cx.g.sigmoid(inputs[0]),
        L::Gelu { approximate } => activation::gelu(cx.g, inputs[0], approximate),
        L::Silu => activation::silu(cx.g, inputs[0]),
        L::Elu { alpha } => activation::elu(cx.g, inputs[0], alpha),
        L::Softplus { beta, threshold } => activation::softplus(cx.g, inputs[0], beta, threshold),
        L::Crelu => activation::crelu(cx.g, inputs[0]),
        L::Softmax { axis } => cx.g.softmax(inputs[0], axis + 1),
        L::BatchNorm {
            momentum,
            eps,
            affine,
        } => norm::lower_batch_norm(cx, inputs[0], momentum, eps, affine),
        L::LayerNorm { eps, affine, last } => {
            norm::lower_layer_norm(cx, inputs[0], eps, affine, last)
        }
        L::GroupNorm {
            groups,
            eps,
            affine,
        } => norm::lower_group_norm(cx, inputs[0], groups as usize, eps, affine),
        L::InstanceNorm { eps, affine } => norm::lower_instance_norm(cx, inputs[0], eps, affine),
        L::L2Norm { scale, eps } => norm::lower_l2_norm(cx, inputs[0], scale, eps),
        L::LayerScale { init, axis } => norm::lower_layer_scale(cx, inputs[0], init, axis),
        L::Attention {
            heads,
            causal,
            weights,
        } => sequence::lower_attention(cx, inputs[0], heads as usize, causal, &weights),
        L::Lstm {
            sequences,
            forget_bias,
            reverse,
            weights,
            ..
        } => {
            let cell = recurrent::Cell::Lstm { forget_bias };
            recurrent::lower_recurrent(cx, inputs[0], cell, sequences, reverse, &weights)
        }
        L::Gru {
            sequences,
            reverse,
            weights,
            ..
        } => {
            let cell = recurrent::Cell::Gru;
            recurrent::lower_recurrent(cx, inputs[0], cell, sequences, reverse, &weights)
        }
        L::StepInput | L::StepState | L::Scan { .. } => {
            unreachable!("a scan and its cell are lowered by Unroll::scan, step by step")
        }
        L::Arith(arith) => simple::lower_arith(cx, arith, inputs[0], inputs[1]),
        L::Scale { factor } => cx.g.scale(inputs[0], factor),
        L::Shift { offset } => cx.g.add_scalar(inputs[0], offset),
    }
}
