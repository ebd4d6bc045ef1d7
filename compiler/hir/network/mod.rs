//! Evaluates networks: binds names, expands blocks and `repeat`, builds the layer graph.

mod calls;
mod eval;
mod recur;
mod scope;

use super::items::Items;
use super::Network;
use crate::diagnostics::Diagnostics;
use eval::Eval;

/// A network may expand to at most this many layers (blocks and `repeat` multiply).
pub const MAX_LAYERS: usize = 100_000;
/// Blocks may call blocks this deep.
pub const MAX_BLOCK_DEPTH: usize = 64;

/// Evaluates every network of the program, in order; a network with errors is left out (its
/// diagnostics are in `diags`).
pub fn resolve(items: &Items, diags: &mut Diagnostics) -> Vec<Network> {
    items
        .networks
        .iter()
        .filter_map(|net| Eval::new(items, diags).network(net))
        .collect()
}
