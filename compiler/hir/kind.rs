//! The closed set of layers a spec can call, each with its name, its schema row and its
//! classification. A new layer is one line in `layer_kinds!` below; the compiler then
//! points at every exhaustive `match` that must handle it: its schema row
//! (`schema::LAYERS`, checked at compile time), its shape rule (`hir/layers.rs`), its
//! [`LayerOp`](super::LayerOp) variant, text, parameters and lowering.

use super::schema::{Sig, LAYERS};

/// Declares [`LayerKind`] and its name table from one list, so that `ALL` cannot miss a
/// variant.
macro_rules! layer_kinds {
    ($($kind:ident = $name:literal,)*) => {
        /// A layer that a spec calls by name. Operators (`a + b`, `2 * h`) and inputs make
        /// layers too, but have no name to call: they are [`LayerOp`](super::LayerOp)s
        /// without a kind.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum LayerKind {
            $($kind,)*
        }

        impl LayerKind {
            /// Every kind, in the order of the schema rows in `schema::LAYERS`.
            pub const ALL: [LayerKind; [$($name,)*].len()] = [$(LayerKind::$kind,)*];

            /// The name a spec calls it by.
            pub const fn name(self) -> &'static str {
                match self {
                    $(LayerKind::$kind => $name,)*
                }
            }
        }
    };
}

layer_kinds! {
    Dense = "dense",
    Embedding = "embedding",
    Conv = "conv",
    Conv1d = "conv1d",
    ConvTranspose = "conv_transpose",
    MaskedConv = "masked_conv",
    BinaryDense = "binary_dense",
    BinaryConv = "binary_conv",
    MaxPool = "max_pool",
    AvgPool = "avg_pool",
    GlobalAvgPool = "global_avg_pool",
    Flatten = "flatten",
    Reshape = "reshape",
    Concat = "concat",
    Unpool = "unpool",
    Dropout = "dropout",
    Relu = "relu",
    LeakyRelu = "leaky_relu",
    Tanh = "tanh",
    Sigmoid = "sigmoid",
    Gelu = "gelu",
    Silu = "silu",
    Elu = "elu",
    Softplus = "softplus",
    Crelu = "crelu",
    Softmax = "softmax",
    BatchNorm = "batch_norm",
    LayerNorm = "layer_norm",
    GroupNorm = "group_norm",
    InstanceNorm = "instance_norm",
    L2Norm = "l2_norm",
    LayerScale = "layer_scale",
    Attention = "attention",
    Lstm = "lstm",
    Gru = "gru",
    Bidirectional = "bidirectional",
    Scan = "scan",
}

impl LayerKind {
    /// The kind called `name`, if a layer has that name.
    pub fn from_name(name: &str) -> Option<LayerKind> {
        LayerKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Its signature: options, types, defaults and docs.
    pub fn schema(self) -> &'static Sig {
        // `LAYERS` has one row per kind, in `ALL` order (checked at compile time below).
        &LAYERS[self as usize]
    }

    /// Whether its outputs are post-activation values: the layers `nnc compare` and `nnc
    /// diagnose` look at.
    pub fn is_activation(self) -> bool {
        self.class() == Class::Activation
    }

    /// Whether it joins several input tensors (`concat(a, b)`) rather than taking one.
    pub fn joins_inputs(self) -> bool {
        self.class() == Class::Join
    }

    /// Every kind's class, in one exhaustive match.
    fn class(self) -> Class {
        use LayerKind as K;
        match self {
            K::Relu
            | K::LeakyRelu
            | K::Tanh
            | K::Sigmoid
            | K::Gelu
            | K::Silu
            | K::Elu
            | K::Softplus
            | K::Crelu => Class::Activation,
            K::Concat => Class::Join,
            K::Dense
            | K::Embedding
            | K::Conv
            | K::Conv1d
            | K::ConvTranspose
            | K::MaskedConv
            | K::BinaryDense
            | K::BinaryConv
            | K::MaxPool
            | K::AvgPool
            | K::GlobalAvgPool
            | K::Flatten
            | K::Reshape
            | K::Unpool
            | K::Dropout
            | K::Softmax
            | K::BatchNorm
            | K::LayerNorm
            | K::GroupNorm
            | K::InstanceNorm
            | K::L2Norm
            | K::LayerScale
            | K::Attention
            | K::Lstm
            | K::Gru
            | K::Bidirectional
            | K::Scan => Class::Other,
        }
    }
}

/// How the compiler treats a kind beyond its schema and shape rule.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Post-activation values: compared and diagnosed by `nnc compare`/`nnc diagnose`.
    Activation,
    /// Takes two or more input tensors (`concat(a, b)`); every other layer takes one.
    Join,
    Other,
}

const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

// Row i of `LAYERS` is the signature of `ALL[i]`: the array's type fixes the count, this
// fixes the order, so a kind without its row (or a row out of place) does not compile.
const _: () = {
    let mut i = 0;
    while i < LayerKind::ALL.len() {
        assert!(
            same_name(LAYERS[i].name, LayerKind::ALL[i].name()),
            "schema::LAYERS must list one row per LayerKind, in LayerKind::ALL order"
        );
        i += 1;
    }
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_exactly_one_schema_row_and_every_row_one_kind() {
        assert_eq!(LAYERS.len(), LayerKind::ALL.len());
        for kind in LayerKind::ALL {
            let rows = LAYERS.iter().filter(|s| s.name == kind.name()).count();
            assert_eq!(rows, 1, "{kind:?}");
            assert_eq!(kind.schema().name, kind.name());
            assert_eq!(LayerKind::from_name(kind.name()), Some(kind));
        }
        for row in LAYERS.iter() {
            assert!(LayerKind::from_name(row.name).is_some(), "{}", row.name);
        }
    }

    #[test]
    fn variants_are_numbered_in_all_order() {
        for (i, kind) in LayerKind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, i);
        }
    }
}
