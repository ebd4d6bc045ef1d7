//! Fused loop kernels: an elementwise node or a reduction, with the elementwise nodes it
//! fuses, becomes one `LoopKernel` whose body `BodyBuilder` writes instruction by instruction.

use super::{BufKind, Scheduler, Task, Value};
use crate::jit::kernel::{
    contiguous_strides, BinOp, Inst, LoopKernel, ReduceOp, Source, UnOp, View,
};
use crate::prim::{NodeId, Op};
use std::collections::HashMap;

impl Scheduler<'_> {
    /// A loop kernel computing an elementwise node (with its fused inputs) into a buffer.
    pub(super) fn elementwise(&mut self, id: NodeId) -> View {
        let shape = self.g.shape(id).to_vec();
        let perm: Vec<usize> = (0..shape.len()).collect();
        let mut b = BodyBuilder::new(&perm, &shape);
        b.compute(self, id);
        let buf = self.buffer(shape.iter().product(), BufKind::Arena);
        let out = View::contiguous(buf, &shape);
        self.out.tasks.push(Task::Kernel(LoopKernel {
            outer: shape.clone(),
            inner: vec![],
            reduce: None,
            loads: b.loads,
            body: b.body,
            out: out.clone(),
            origin: self.origin(id),
        }));
        out
    }

    pub(super) fn reduction(&mut self, id: NodeId, axes: &[usize], op: ReduceOp) -> View {
        let input = self.g.node(id).inputs[0];
        let in_shape = self.g.shape(input).to_vec();
        let kept: Vec<usize> = (0..in_shape.len()).filter(|a| !axes.contains(a)).collect();
        let mut perm = kept.clone();
        perm.extend_from_slice(axes);
        let outer: Vec<usize> = kept.iter().map(|&a| in_shape[a]).collect();
        let inner: Vec<usize> = axes.iter().map(|&a| in_shape[a]).collect();
        let mut b = BodyBuilder::new(&perm, &in_shape);
        b.value(self, input);
        let shape = self.g.shape(id).to_vec();
        let buf = self.buffer(shape.iter().product(), BufKind::Arena);
        self.out.tasks.push(Task::Kernel(LoopKernel {
            outer: outer.clone(),
            inner,
            reduce: Some(op),
            loads: b.loads,
            body: b.body,
            out: View::contiguous(buf, &outer),
            origin: self.origin(id),
        }));
        View::contiguous(buf, &shape)
    }
}

/// Builds a kernel body: fused nodes become instructions, materialized ones loads.
/// `perm[k]` is the node dimension iterated by kernel dimension `k`.
struct BodyBuilder<'p> {
    perm: &'p [usize],
    shape: Vec<usize>,
    loads: Vec<Source>,
    body: Vec<Inst>,
    memo: HashMap<NodeId, usize>,
}

impl<'p> BodyBuilder<'p> {
    fn new(perm: &'p [usize], shape: &[usize]) -> Self {
        BodyBuilder {
            perm,
            shape: shape.to_vec(),
            loads: Vec::new(),
            body: Vec::new(),
            memo: HashMap::new(),
        }
    }

    fn push(&mut self, inst: Inst) -> usize {
        self.body.push(inst);
        self.body.len() - 1
    }

    fn load(&mut self, source: Source) -> usize {
        let index = match self.loads.iter().position(|s| *s == source) {
            Some(i) => i,
            None => {
                self.loads.push(source);
                self.loads.len() - 1
            }
        };
        self.push(Inst::Load(index))
    }

    /// The instruction giving `id` at the kernel's current index: a load if it is in a
    /// buffer, else computed from its inputs.
    fn value(&mut self, s: &Scheduler, id: NodeId) -> usize {
        if let Some(&v) = self.memo.get(&id) {
            return v;
        }
        let inst = match &s.values[id.index()] {
            Some(Value::View(v)) => {
                let strides = self.perm.iter().map(|&d| v.strides[d]).collect();
                let shape = self.perm.iter().map(|&d| self.shape[d]).collect();
                self.load(Source::Buffer(View {
                    strides,
                    shape,
                    ..v.clone()
                }))
            }
            _ => self.compute(s, id),
        };
        self.memo.insert(id, inst);
        inst
    }

    /// The instructions computing `id` from its inputs (the kernel's root, or a fused node).
    fn compute(&mut self, s: &Scheduler, id: NodeId) -> usize {
        let node = s.g.node(id);
        match (&s.values[id.index()], &node.op) {
            (Some(Value::Const(c)), _) | (_, Op::Const { value: c }) => {
                self.push(Inst::Const(*c as f32))
            }
            (_, Op::RandUniform { stream }) => {
                let natural = contiguous_strides(&node.shape);
                let strides = self.perm.iter().map(|&d| natural[d]).collect();
                self.load(Source::Rand {
                    stream: *stream,
                    offset: 0,
                    strides,
                })
            }
            (_, op) if op.is_elementwise() => match kernel_op(op) {
                KernelOp::Identity => self.value(s, node.inputs[0]),
                KernelOp::Unary(un) => {
                    let a = self.value(s, node.inputs[0]);
                    self.push(Inst::Unary(un, a))
                }
                KernelOp::Binary(bin) => {
                    let a = self.value(s, node.inputs[0]);
                    let b = self.value(s, node.inputs[1]);
                    self.push(Inst::Binary(bin, a, b))
                }
                KernelOp::NotElementwise => unreachable!("{op:?} is elementwise"),
            },
            (value, op) => unreachable!("{op:?} with {value:?} cannot be fused"),
        }
    }
}

/// What an elementwise op becomes inside a loop kernel. One exhaustive match over `Op`, so a
/// new elementwise op cannot fall into another's instruction.
enum KernelOp {
    /// Forward value unchanged (`StopGrad` only stops gradients).
    Identity,
    Unary(UnOp),
    Binary(BinOp),
    NotElementwise,
}

fn kernel_op(op: &Op) -> KernelOp {
    match op {
        Op::StopGrad => KernelOp::Identity,
        Op::Exp => KernelOp::Unary(UnOp::Exp),
        Op::Log => KernelOp::Unary(UnOp::Log),
        Op::Sqrt => KernelOp::Unary(UnOp::Sqrt),
        Op::Recip => KernelOp::Unary(UnOp::Recip),
        Op::Sign => KernelOp::Unary(UnOp::Sign),
        Op::Add => KernelOp::Binary(BinOp::Add),
        Op::Mul => KernelOp::Binary(BinOp::Mul),
        Op::Max => KernelOp::Binary(BinOp::Max),
        Op::CmpGt => KernelOp::Binary(BinOp::CmpGt),
        Op::Input { .. }
        | Op::Param { .. }
        | Op::Const { .. }
        | Op::RandUniform { .. }
        | Op::Sum { .. }
        | Op::MaxReduce { .. }
        | Op::Reshape
        | Op::Permute { .. }
        | Op::Broadcast
        | Op::Slice { .. }
        | Op::Pad { .. }
        | Op::Concat { .. }
        | Op::MatMul
        | Op::Im2Col(_)
        | Op::Col2Im(_)
        | Op::Gather
        | Op::ScatterAdd => KernelOp::NotElementwise,
    }
}
