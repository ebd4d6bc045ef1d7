//! Scheduling: a primitive graph -> buffers and tasks (fused loop kernels, matrix products,
//! convolution unfolding, fills).
//!
//! Views cost nothing: `Reshape` (of a contiguous tensor), `Permute`, `Broadcast` and
//! `Slice` only change strides and offsets. Elementwise nodes with one user that is itself
//! elementwise or a reduction are fused into that user's loop (`Const` and `RandUniform`
//! are recomputed wherever they are used); everything else is materialized in a buffer.
//! `MatMul` reads its operands through strides, so transposed weights are never copied.

use super::kernel::{contiguous_strides, Inst, LoopKernel, ReduceOp, Source, View};
use crate::prim::{ConvGeom, Graph, NodeId, Op};
use nnc_runtime::exec::{Buffers, LookupKind, Step, Window};
use std::collections::HashMap;

mod conv;
mod fused;
mod lookup;

/// Where a buffer's memory comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BufKind {
    /// Temporary: placed in the arena by the memory planner.
    Arena,
    Input(String),
    Param(String),
    /// The `i`-th wanted node.
    Output(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BufInfo {
    pub len: usize,
    pub kind: BufKind,
}

/// A matrix-product operand: a view whose last two dimensions are the matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct GemmTask {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub batch: Vec<usize>,
    /// (view, batch strides); `c` is a fresh contiguous buffer.
    pub a: (View, Vec<isize>),
    pub b: (View, Vec<isize>),
    pub c: (View, Vec<isize>),
    /// Both operands are scaled sign tensors ([`super::binary`]).
    pub binary: bool,
    /// Operand buffers that stay fixed between runs until the program is told otherwise
    /// (weights of an inference program).
    pub a_static: bool,
    pub b_static: bool,
}

/// A scheduled step: the executor's [`Step`] over loop kernels and products still in the
/// JIT's own form (`jit/mod.rs` compiles them with [`Step::map`]).
pub type Task = Step<LoopKernel, GemmTask>;

impl Buffers for LoopKernel {
    fn reads(&self) -> Vec<usize> {
        self.loads
            .iter()
            .filter_map(|s| match s {
                Source::Buffer(v) => Some(v.buf),
                Source::Rand { .. } => None,
            })
            .collect()
    }

    fn writes(&self) -> usize {
        self.out.buf
    }
}

impl Buffers for GemmTask {
    fn reads(&self) -> Vec<usize> {
        vec![self.a.0.buf, self.b.0.buf]
    }

    fn writes(&self) -> usize {
        self.c.0.buf
    }
}

#[derive(Clone, Debug, Default)]
pub struct Schedule {
    pub bufs: Vec<BufInfo>,
    pub tasks: Vec<Task>,
}

#[derive(Clone, Debug)]
enum Value {
    View(View),
    Const(f64),
    /// Fused into its user's loop.
    Deferred,
}

struct Scheduler<'g> {
    g: &'g Graph,
    values: Vec<Option<Value>>,
    users: Vec<usize>,
    /// Whether a node's only user fuses it (elementwise or reduction).
    fusable_user: Vec<bool>,
    out: Schedule,
    slots: HashMap<BufKind, usize>,
    binary: &'g Binary<'g>,
    /// The binary products, decided before scheduling (their unfolded operands are laid
    /// out for packing).
    binary_products: Vec<NodeId>,
    /// The convolution products run as blocked steps.
    convs: conv::Convs,
}

/// What the scheduler needs to know about binary products.
#[derive(Clone, Copy, Debug, Default)]
pub struct Binary<'a> {
    /// Inputs that hold scaled sign tensors (hoisted binary weights).
    pub signed_inputs: &'a [String],
    /// An inference program: its parameters and hoisted inputs stay fixed between runs
    /// until `params_changed`, so packed weights can be kept.
    pub inference: bool,
}

impl std::hash::Hash for BufKind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            BufKind::Arena => 0u8.hash(state),
            BufKind::Input(n) => (1u8, n).hash(state),
            BufKind::Param(n) => (2u8, n).hash(state),
            BufKind::Output(i) => (3u8, i).hash(state),
        }
    }
}

/// Schedules the nodes `wanted` depend on; wanted node `i` ends in the buffer of kind
/// `Output(i)`.
pub fn schedule(g: &Graph, wanted: &[NodeId], binary: &Binary) -> Schedule {
    let n = g.len();
    let mut needed = vec![false; n];
    for w in wanted {
        needed[w.index()] = true;
    }
    for i in (0..n).rev() {
        if needed[i] {
            for input in &g.nodes[i].inputs {
                needed[input.index()] = true;
            }
        }
    }
    let mut users = vec![0usize; n];
    let mut fusable_user = vec![false; n];
    for (i, _) in needed.iter().enumerate().filter(|(_, &k)| k) {
        let fuses = g.nodes[i].op.is_elementwise()
            || matches!(g.nodes[i].op, Op::Sum { .. } | Op::MaxReduce { .. });
        for input in &g.nodes[i].inputs {
            users[input.index()] += 1;
            fusable_user[input.index()] = fuses;
        }
    }
    for w in wanted {
        // A wanted node is materialized in its output buffer.
        users[w.index()] += 1;
        fusable_user[w.index()] = false;
    }
    let mut s = Scheduler {
        g,
        values: vec![None; n],
        users,
        fusable_user,
        out: Schedule::default(),
        slots: HashMap::new(),
        binary,
        binary_products: Vec::new(),
        convs: conv::Convs::default(),
    };
    let signed = |name: &str| binary.signed_inputs.iter().any(|s| s == name);
    let signs = super::binary::sign_like(g, &signed);
    s.binary_products = (0..n)
        .filter(|&i| needed[i] && g.nodes[i].op == Op::MatMul)
        .filter(|&i| g.nodes[i].inputs.iter().all(|x| signs[x.index()]))
        .map(|i| NodeId(i as u32))
        .collect();
    s.convs = conv::find(g, &needed, wanted, &s.binary_products);
    for (i, _) in needed.iter().enumerate().filter(|(_, &k)| k) {
        s.node(NodeId(i as u32));
    }
    for (k, w) in wanted.iter().enumerate() {
        s.deliver(*w, k);
    }
    s.out
}

impl Scheduler<'_> {
    fn buffer(&mut self, len: usize, kind: BufKind) -> usize {
        if kind != BufKind::Arena {
            if let Some(&b) = self.slots.get(&kind) {
                return b;
            }
        }
        self.out.bufs.push(BufInfo {
            len,
            kind: kind.clone(),
        });
        let id = self.out.bufs.len() - 1;
        if kind != BufKind::Arena {
            self.slots.insert(kind, id);
        }
        id
    }

    fn origin(&self, id: NodeId) -> String {
        self.g
            .node(id)
            .origin
            .as_ref()
            .map_or(String::new(), |o| o.layer.clone())
    }

    fn node(&mut self, id: NodeId) {
        if self.convs.skipped.contains(&id) {
            // Folded into a convolution step; no other node reads it.
            self.values[id.index()] = Some(Value::Deferred);
            return;
        }
        if let Some(v) = self.conv_step(id) {
            self.values[id.index()] = Some(Value::View(v));
            return;
        }
        let node = &self.g.nodes[id.index()];
        let shape = node.shape.clone();
        let value = match &node.op {
            Op::Input { name } => View::contiguous(
                self.buffer(shape.iter().product(), BufKind::Input(name.clone())),
                &shape,
            )
            .into(),
            Op::Param { name } => View::contiguous(
                self.buffer(shape.iter().product(), BufKind::Param(name.clone())),
                &shape,
            )
            .into(),
            Op::Const { value } => Value::Const(*value),
            Op::RandUniform { .. } => Value::Deferred,
            op if op.is_elementwise() => {
                if self.users[id.index()] == 1 && self.fusable_user[id.index()] {
                    Value::Deferred
                } else {
                    Value::View(self.elementwise(id))
                }
            }
            Op::Sum { axes } | Op::MaxReduce { axes } => {
                let reduce = if matches!(node.op, Op::Sum { .. }) {
                    ReduceOp::Sum
                } else {
                    ReduceOp::Max
                };
                Value::View(self.reduction(id, &axes.clone(), reduce))
            }
            Op::Reshape => match self.input_value(id, 0) {
                Value::Const(c) => Value::Const(c),
                _ => {
                    let v = self.contiguous_input(id, 0);
                    Value::View(View {
                        shape: shape.clone(),
                        strides: contiguous_strides(&shape),
                        ..v
                    })
                }
            },
            Op::Permute { perm } => match self.input_value(id, 0) {
                Value::Const(c) => Value::Const(c),
                _ => {
                    let v = self.view_input(id, 0);
                    Value::View(View {
                        shape: shape.clone(),
                        strides: perm.iter().map(|&p| v.strides[p]).collect(),
                        ..v
                    })
                }
            },
            Op::Broadcast => match self.input_value(id, 0) {
                Value::Const(c) => Value::Const(c),
                _ => {
                    let v = self.view_input(id, 0);
                    let strides = v
                        .shape
                        .iter()
                        .zip(&v.strides)
                        .zip(&shape)
                        .map(|((d, s), o)| if d == o { *s } else { 0 })
                        .collect();
                    Value::View(View {
                        shape: shape.clone(),
                        strides,
                        ..v
                    })
                }
            },
            Op::Slice { axis, start, .. } => match self.input_value(id, 0) {
                Value::Const(c) => Value::Const(c),
                _ => {
                    let v = self.view_input(id, 0);
                    let offset = v.offset + *start as isize * v.strides[*axis];
                    Value::View(View {
                        shape: shape.clone(),
                        offset,
                        ..v
                    })
                }
            },
            Op::Pad { axis, before, .. } => {
                let src = self.view_input(id, 0);
                let buf = self.buffer(shape.iter().product(), BufKind::Arena);
                self.out.tasks.push(Task::Fill { buf, value: 0.0 });
                let full = View::contiguous(buf, &shape);
                let interior = View {
                    offset: *before as isize * full.strides[*axis],
                    shape: src.shape.clone(),
                    ..full.clone()
                };
                self.copy(&src, interior, id);
                Value::View(full)
            }
            Op::Concat { axis } => {
                let buf = self.buffer(shape.iter().product(), BufKind::Arena);
                let full = View::contiguous(buf, &shape);
                let mut at = 0;
                for i in 0..node.inputs.len() {
                    let src = self.view_input(id, i);
                    let part = View {
                        offset: at as isize * full.strides[*axis],
                        shape: src.shape.clone(),
                        ..full.clone()
                    };
                    at += src.shape[*axis];
                    self.copy(&src, part, id);
                }
                Value::View(full)
            }
            Op::MatMul => Value::View(self.matmul(id)),
            Op::Im2Col(geom) | Op::Col2Im(geom) => {
                let is_im2col = matches!(node.op, Op::Im2Col(_));
                let geom = *geom;
                let src = self.materialized_input(id, 0);
                let image: Vec<usize> = if is_im2col {
                    self.g.shape(node.inputs[0]).to_vec()
                } else {
                    shape.clone()
                };
                let dst = self.buffer(shape.iter().product(), BufKind::Arena);
                let window = window(&image, &geom);
                // The unfolded operand of a binary product: each position's patch
                // contiguous, so packing it reads with stride 1.
                let positions_major = is_im2col
                    && self
                        .binary_products
                        .iter()
                        .any(|&p| self.g.node(p).inputs[1] == id);
                self.out.tasks.push(if is_im2col {
                    Task::Im2Col {
                        src,
                        dst,
                        window,
                        positions_major,
                    }
                } else {
                    Task::Col2Im { src, dst, window }
                });
                let mut view = View::contiguous(dst, &shape);
                if positions_major {
                    let [_, patch, positions] = [shape[0], shape[1], shape[2]];
                    view.strides = vec![(patch * positions) as isize, 1, patch as isize];
                }
                Value::View(view)
            }
            Op::Gather => Value::View(self.lookup(id, LookupKind::Gather)),
            Op::ScatterAdd => Value::View(self.lookup(id, LookupKind::ScatterAdd)),
            op => unreachable!("every op is scheduled: {op:?}"),
        };
        self.values[id.index()] = Some(value);
    }

    #[allow(
        clippy::expect_used,
        reason = "nodes are scheduled in id order and inputs have smaller ids (prim::verify)"
    )]
    fn input_value(&self, id: NodeId, i: usize) -> Value {
        let input = self.g.node(id).inputs[i];
        self.values[input.index()]
            .clone()
            .expect("inputs are scheduled first")
    }

    /// The input as a view, materializing it if it was fused or constant.
    fn view_input(&mut self, id: NodeId, i: usize) -> View {
        let input = self.g.node(id).inputs[i];
        self.view_of(input)
    }

    #[allow(
        clippy::expect_used,
        reason = "nodes are scheduled in id order and inputs have smaller ids (prim::verify)"
    )]
    fn view_of(&mut self, node: NodeId) -> View {
        match self.values[node.index()].clone().expect("scheduled") {
            Value::View(v) => v,
            Value::Const(_) | Value::Deferred => {
                let v = self.elementwise(node);
                self.values[node.index()] = Some(Value::View(v.clone()));
                v
            }
        }
    }

    /// The input as a contiguous view (copied if it was strided).
    fn contiguous_input(&mut self, id: NodeId, i: usize) -> View {
        let v = self.view_input(id, i);
        if v.is_contiguous() {
            v
        } else {
            let buf = self.buffer(v.shape.iter().product(), BufKind::Arena);
            let dst = View::contiguous(buf, &v.shape);
            self.copy(&v, dst.clone(), id);
            dst
        }
    }

    /// The input as a whole contiguous buffer starting at offset 0.
    fn materialized_input(&mut self, id: NodeId, i: usize) -> usize {
        let v = self.contiguous_input(id, i);
        if v.offset == 0 {
            v.buf
        } else {
            let buf = self.buffer(v.shape.iter().product(), BufKind::Arena);
            let dst = View::contiguous(buf, &v.shape);
            self.copy(&v, dst, id);
            buf
        }
    }

    fn copy(&mut self, src: &View, dst: View, id: NodeId) {
        let kernel = LoopKernel {
            outer: src.shape.clone(),
            inner: vec![],
            reduce: None,
            loads: vec![Source::Buffer(src.clone())],
            body: vec![Inst::Load(0)],
            out: dst,
            origin: self.origin(id),
        };
        self.out.tasks.push(Task::Kernel(kernel));
    }

    fn matmul(&mut self, id: NodeId) -> View {
        let shape = self.g.shape(id).to_vec();
        let binary = self.binary_products.contains(&id);
        let operand = |s: &mut Self, i: usize| {
            let v = s.view_input(id, i);
            let rank = v.shape.len();
            (v, rank)
        };
        let (a, ra) = operand(self, 0);
        let (b, rb) = operand(self, 1);
        let (a_static, b_static) = (self.is_static(&a), self.is_static(&b));
        let (m, k, n) = (a.shape[ra - 2], a.shape[ra - 1], b.shape[rb - 1]);
        let batch: Vec<usize> = shape[..shape.len() - 2].to_vec();
        let batch_strides = |v: &View, rank: usize| -> Vec<isize> {
            if rank == 2 {
                vec![0; batch.len()]
            } else {
                v.strides[..rank - 2].to_vec()
            }
        };
        let (ab, bb) = (batch_strides(&a, ra), batch_strides(&b, rb));
        let buf = self.buffer(shape.iter().product(), BufKind::Arena);
        let c = View::contiguous(buf, &shape);
        let cb = c.strides[..shape.len() - 2].to_vec();
        self.out.tasks.push(Task::Gemm(GemmTask {
            m,
            n,
            k,
            batch,
            a: (a, ab),
            b: (b, bb),
            binary,
            a_static,
            b_static,
            c: (c.clone(), cb),
        }));
        c
    }

    /// Whether the view reads a buffer that stays fixed between runs of an inference
    /// program (a parameter or a hoisted value).
    fn is_static(&self, v: &View) -> bool {
        self.binary.inference
            && match &self.out.bufs[v.buf].kind {
                BufKind::Param(_) => true,
                BufKind::Input(name) => super::hoist::input_index(name).is_some(),
                _ => false,
            }
    }

    /// Makes wanted node `id` end in output buffer `k`.
    fn deliver(&mut self, id: NodeId, k: usize) {
        let len: usize = self.g.shape(id).iter().product();
        let v = self.view_of(id);
        let shape = self.g.shape(id).to_vec();
        let produced_here = self.out.bufs[v.buf].kind == BufKind::Arena
            && v.offset == 0
            && v.is_contiguous()
            && self.out.bufs[v.buf].len == len
            && !self.slots.values().any(|&b| b == v.buf);
        if produced_here {
            // The tasks that wrote the temporary write the output directly.
            self.out.bufs[v.buf].kind = BufKind::Output(k);
            self.slots.insert(BufKind::Output(k), v.buf);
        } else {
            let buf = self.buffer(len, BufKind::Output(k));
            self.copy(&v, View::contiguous(buf, &shape), id);
        }
    }
}

impl From<View> for Value {
    fn from(v: View) -> Value {
        Value::View(v)
    }
}

fn window(image: &[usize], g: &ConvGeom) -> Window {
    Window {
        image: [image[0], image[1], image[2], image[3]],
        kernel: g.kernel,
        stride: g.stride,
        pad: g.pad,
        dilation: g.dilation,
        pad_value: g.pad_value as f32,
    }
}
