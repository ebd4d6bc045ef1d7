//! Convolution products recognised in the graph and scheduled as blocked convolution steps
//! (`nnc_runtime::exec::Conv`, which unfolds a block of output rows at a time instead of the
//! whole batch).
//!
//! The lowering spells a convolution `MatMul(W, Im2Col(x))`; autodiff adds
//! `Sum{axes: [0]}(MatMul(dY, Permute{[0, 2, 1]}(Im2Col(x))))` for the weights and
//! `Col2Im(MatMul(W^T, dY))` for the input. An `Im2Col` whose every user is one of the first
//! two patterns is never materialised; a `Col2Im` of a product used only there becomes one
//! step. Binary products keep their packed path, and anything else keeps the plain steps.

use super::{window, BufKind, Scheduler, Task};
use crate::jit::kernel::View;
use crate::prim::{Graph, NodeId, Op};
use nnc_runtime::exec::{Conv, ConvKind, Operand};
use std::collections::{HashMap, HashSet};

/// Which nodes become convolution steps.
#[derive(Default)]
pub(super) struct Convs {
    /// Nodes that produce no task of their own: folded into a convolution step.
    pub skipped: HashSet<NodeId>,
    /// Forward product -> its `Im2Col`.
    forward: HashMap<NodeId, NodeId>,
    /// Batch sum of a weight-gradient product -> (the product, its `Im2Col`).
    weight_grad: HashMap<NodeId, (NodeId, NodeId)>,
    /// `Col2Im` -> the product it folds.
    input_grad: HashMap<NodeId, NodeId>,
}

pub(super) fn find(g: &Graph, needed: &[bool], wanted: &[NodeId], binary: &[NodeId]) -> Convs {
    let n = g.len();
    let mut users: Vec<Vec<NodeId>> = vec![Vec::new(); n];
    for i in (0..n).filter(|&i| needed[i]) {
        for x in &g.nodes[i].inputs {
            users[x.index()].push(NodeId(i as u32));
        }
    }
    let free = |id: NodeId| !wanted.contains(&id) && !binary.contains(&id);
    // A product `a · b` with `b` = `operand` (and not `a`), `a` of rank `a_rank`. A forward
    // product may be wanted (its step writes the output); the others are folded away.
    let product = |id: NodeId, operand: NodeId, a_rank: usize| {
        let node = g.node(id);
        node.op == Op::MatMul
            && !binary.contains(&id)
            && (a_rank == 2 || free(id))
            && node.inputs[1] == operand
            && node.inputs[0] != operand
            && g.shape(node.inputs[0]).len() == a_rank
    };
    let only_user = |id: NodeId| match users[id.index()][..] {
        [u] if !wanted.contains(&id) => Some(u),
        _ => None,
    };
    let mut c = Convs::default();
    for i in (0..n).filter(|&i| needed[i]) {
        let id = NodeId(i as u32);
        match &g.nodes[i].op {
            Op::Im2Col(_) if free(id) && !users[i].is_empty() => {
                let (mut forward, mut weight_grad, mut skipped) = (vec![], vec![], vec![id]);
                let ok = users[i].iter().all(|&u| {
                    if product(u, id, 2) {
                        forward.push(u);
                        return true;
                    }
                    let transposed =
                        matches!(&g.node(u).op, Op::Permute { perm } if perm[..] == [0, 2, 1]);
                    if !transposed || !free(u) || users[u.index()].is_empty() {
                        return false;
                    }
                    skipped.push(u);
                    users[u.index()].iter().all(|&p| {
                        let sum = only_user(p).filter(
                            |&s| matches!(&g.node(s).op, Op::Sum { axes } if axes[..] == [0]),
                        );
                        match sum {
                            Some(s) if product(p, u, 3) => {
                                weight_grad.push((s, p));
                                skipped.push(p);
                                true
                            }
                            _ => false,
                        }
                    })
                });
                if ok {
                    c.skipped.extend(skipped);
                    c.forward.extend(forward.into_iter().map(|p| (p, id)));
                    c.weight_grad
                        .extend(weight_grad.into_iter().map(|(s, p)| (s, (p, id))));
                }
            }
            Op::Col2Im(_) => {
                let p = g.nodes[i].inputs[0];
                let node = g.node(p);
                if node.op == Op::MatMul
                    && free(p)
                    && only_user(p) == Some(id)
                    && g.shape(node.inputs[0]).len() == 2
                    && g.shape(node.inputs[1]).len() == 3
                {
                    c.input_grad.insert(id, p);
                    c.skipped.insert(p);
                }
            }
            _ => {}
        }
    }
    c
}

impl Scheduler<'_> {
    /// The view of node `id` if it is the result of a convolution step (scheduling it).
    pub(super) fn conv_step(&mut self, id: NodeId) -> Option<View> {
        if let Some(&cols) = self.convs.forward.get(&id) {
            let w = self.view_input(id, 0);
            let (image, window) = self.image_of(cols);
            let out = self.fresh(id);
            self.push_conv(
                ConvKind::Forward,
                window,
                w.shape[0],
                image,
                matrix(&w),
                batched(&out),
            );
            return Some(out);
        }
        if let Some(&(product, cols)) = self.convs.weight_grad.get(&id) {
            let dy = self.view_input(product, 0);
            let (image, window) = self.image_of(cols);
            let out = self.fresh(id);
            let shape = self.g.shape(product);
            let w = View::contiguous(out.buf, &shape[1..]);
            self.push_conv(
                ConvKind::WeightGrad,
                window,
                dy.shape[1],
                image,
                matrix(&w),
                batched(&dy),
            );
            return Some(out);
        }
        if let Some(&product) = self.convs.input_grad.get(&id) {
            let wt = self.view_input(product, 0);
            let dy = self.view_input(product, 1);
            let Op::Col2Im(geom) = self.g.node(id).op else {
                unreachable!("input gradients are Col2Im nodes")
            };
            let window = window(self.g.shape(id), &geom);
            let out = self.fresh(id);
            self.push_conv(
                ConvKind::InputGrad,
                window,
                wt.shape[1],
                out.buf,
                matrix(&wt),
                batched(&dy),
            );
            return Some(out);
        }
        None
    }

    /// The image an `Im2Col` unfolds (contiguous from offset 0) and its window.
    fn image_of(&mut self, cols: NodeId) -> (usize, nnc_runtime::exec::Window) {
        let Op::Im2Col(geom) = self.g.node(cols).op else {
            unreachable!("convolution operands are Im2Col nodes")
        };
        let image = self.materialized_input(cols, 0);
        (
            image,
            window(self.g.shape(self.g.node(cols).inputs[0]), &geom),
        )
    }

    /// A fresh contiguous arena buffer for node `id`.
    fn fresh(&mut self, id: NodeId) -> View {
        let shape = self.g.shape(id).to_vec();
        let buf = self.buffer(shape.iter().product(), BufKind::Arena);
        View::contiguous(buf, &shape)
    }

    fn push_conv(
        &mut self,
        kind: ConvKind,
        window: nnc_runtime::exec::Window,
        filters: usize,
        image: usize,
        weight: Operand,
        out: Operand,
    ) {
        self.out.tasks.push(Task::Conv(Conv::new(
            kind, window, filters, image, weight, out,
        )));
    }
}

/// A 2-D view as a matrix operand.
fn matrix(v: &View) -> Operand {
    let r = v.strides.len();
    Operand {
        buf: v.buf,
        offset: v.offset,
        rs: v.strides[r - 2],
        cs: v.strides[r - 1],
        batch_strides: vec![],
    }
}

/// A 3-D view as a batch of matrices.
fn batched(v: &View) -> Operand {
    Operand {
        batch_strides: vec![v.strides[0]],
        ..matrix(v)
    }
}
