//! `Gather` and `ScatterAdd` (embedding lookups and their adjoint): one executor step each.

use super::{BufKind, Scheduler, Task};
use crate::jit::kernel::View;
use crate::prim::NodeId;
use nnc_runtime::exec::{Lookup, LookupKind};

impl Scheduler<'_> {
    /// A `Gather` or `ScatterAdd`: an executor step over contiguous rows.
    #[allow(
        clippy::expect_used,
        reason = "prim::verify checks that Gather and ScatterAdd results have a row axis"
    )]
    pub(super) fn lookup(&mut self, id: NodeId, kind: LookupKind) -> View {
        let node = &self.g.nodes[id.index()];
        let shape = node.shape.clone();
        let count = self.g.shape(node.inputs[1]).iter().product();
        let dim = *shape.last().expect("rows have a width");
        let vocab = match kind {
            LookupKind::Gather => self.g.shape(node.inputs[0])[0],
            LookupKind::ScatterAdd => shape[0],
        };
        let data = self.materialized_input(id, 0);
        let ids = self.materialized_input(id, 1);
        let out = self.buffer(shape.iter().product(), BufKind::Arena);
        self.out.tasks.push(Task::Lookup(Lookup {
            kind,
            data,
            ids,
            out,
            count,
            dim,
            vocab,
        }));
        View::contiguous(out, &shape)
    }
}
