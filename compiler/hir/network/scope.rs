//! Names in scope while a network is evaluated, and what evaluation yields.

use crate::hir::args::{Lookup, Names};
use crate::hir::value::{LayerId, Value};
use std::collections::HashMap;

#[derive(Clone)]
pub(super) enum Binding {
    Tensor(LayerId),
    Value(Value),
    /// Its definition failed; uses stay silent instead of cascading.
    Poisoned,
}

/// The result of evaluating an expression in a network.
#[derive(Clone)]
pub(super) enum Val {
    Tensor(LayerId),
    Value(Value),
    /// A diagnostic was already reported.
    Error,
}

pub(super) struct Frame {
    pub(super) vars: HashMap<String, Binding>,
    /// A block instance: lookups stop here (blocks see only their parameters).
    pub(super) barrier: bool,
}

#[derive(Default)]
pub(super) struct Scope {
    pub(super) frames: Vec<Frame>,
}

impl Scope {
    pub(super) fn get(&self, name: &str) -> Option<&Binding> {
        for frame in self.frames.iter().rev() {
            if let Some(b) = frame.vars.get(name) {
                return Some(b);
            }
            if frame.barrier {
                break;
            }
        }
        None
    }

    pub(super) fn bind(&mut self, name: &str, b: Binding) {
        if let Some(frame) = self.frames.last_mut() {
            frame.vars.insert(name.to_string(), b);
        }
    }

    /// How many names [`Scope::visible`] would list, without listing them.
    pub(super) fn visible_count(&self) -> usize {
        let mut n = 0;
        for frame in self.frames.iter().rev() {
            n += frame.vars.len();
            if frame.barrier {
                break;
            }
        }
        n
    }

    pub(super) fn visible(&self) -> Vec<String> {
        let mut out = Vec::new();
        for frame in self.frames.iter().rev() {
            out.extend(frame.vars.keys().cloned());
            if frame.barrier {
                break;
            }
        }
        out.sort();
        out
    }
}

impl Names for Scope {
    fn lookup(&self, name: &str) -> Lookup {
        match self.get(name) {
            Some(Binding::Value(v)) => Lookup::Value(v.clone()),
            Some(Binding::Tensor(_)) => Lookup::Tensor,
            // Poisoned names evaluate like unbound ones, but the binder's error for them
            // would be a cascade; callers check `is_poisoned` first where it matters.
            Some(Binding::Poisoned) | None => Lookup::Unbound,
        }
    }
    fn all(&self) -> Vec<String> {
        self.visible()
    }
}

/// Automatic layer names: one counter per op (or block) in each block instance.
#[derive(Default)]
pub(super) struct Namer {
    pub(super) prefix: String,
    pub(super) counters: HashMap<String, u32>,
}

/// The namers of the block instances being expanded, innermost last. The network's own namer
/// is a field, not the stack's first entry, so there is always a current one.
#[derive(Default)]
pub(super) struct Namers {
    network: Namer,
    blocks: Vec<Namer>,
}

impl Namers {
    /// The namer of the innermost block instance being expanded (or of the network).
    pub(super) fn current(&mut self) -> &mut Namer {
        self.blocks.last_mut().unwrap_or(&mut self.network)
    }

    /// Enters a block instance whose layers are named `prefix...`.
    pub(super) fn enter(&mut self, prefix: String) {
        self.blocks.push(Namer {
            prefix,
            counters: HashMap::new(),
        });
    }

    /// Leaves the innermost block instance.
    pub(super) fn leave(&mut self) {
        self.blocks.pop();
    }
}
