//! nnc runtime: what a compiled network needs around it to train and run.
//!
//! This crate knows nothing about specs or IR. Its data layer ([`data`]) loads and prepares
//! data sets; [`rng`] derives every random number from one seed.

pub mod data;
pub mod files;
pub mod init;
pub mod rng;
pub mod schedule;
