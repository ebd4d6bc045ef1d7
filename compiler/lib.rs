//! nnc: a compiler for neural-network specifications.

pub mod prim;
