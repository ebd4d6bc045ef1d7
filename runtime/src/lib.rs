//! nnc runtime.
