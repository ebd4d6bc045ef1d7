//! The softmax cross-entropy loss, built from primitives. (Layer math lives beside its
//! lowering in `crate::lower`.)

use super::{Graph, NodeId};

/// Mean over the batch of `-sum_k targets[n, k] * log_softmax(logits)[n, k]`, for
/// `[N, K]` logits and one-hot (or probability) targets. Rank-0 result.
pub fn softmax_cross_entropy(g: &mut Graph, logits: NodeId, targets: NodeId) -> NodeId {
    let batch = g.shape(logits)[0];
    let log_probs = g.log_softmax(logits, 1);
    let picked = g.mul(targets, log_probs);
    let total = g.sum_all(picked);
    g.scale(total, -1.0 / batch as f64)
}
