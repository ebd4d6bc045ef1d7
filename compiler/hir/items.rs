//! The named items of all files (the spec first, then its imports), gathered by kind before
//! anything is resolved: networks, blocks, data, train and rules blocks share one namespace.

use crate::diagnostics::{codes, Diagnostic, Diagnostics};
use crate::source::Span;
use crate::syntax::ast::{self, Item};
use std::collections::HashMap;

/// The named items of all files.
pub struct Items<'a> {
    pub blocks: HashMap<&'a str, &'a ast::Block>,
    pub networks: Vec<&'a ast::Network>,
    pub data: Vec<&'a ast::Section>,
    pub trains: Vec<&'a ast::Section>,
    pub rules: Vec<&'a ast::Rules>,
}

/// Gathers items by kind; two items with one name is an error (one namespace for all).
pub fn collect<'a>(files: &'a [ast::File], diags: &mut Diagnostics) -> Items<'a> {
    let mut items = Items {
        blocks: HashMap::new(),
        networks: Vec::new(),
        data: Vec::new(),
        trains: Vec::new(),
        rules: Vec::new(),
    };
    let mut seen: HashMap<&str, (&str, Span)> = HashMap::new();
    for (index, file) in files.iter().enumerate() {
        for item in &file.items {
            // A train block is a run of its own file: imports bring in everything else.
            if index > 0 && matches!(item, Item::Train(_)) {
                continue;
            }
            if let Some(name) = item.name() {
                if let Some((kind, first)) = seen.get(name.name.as_str()) {
                    diags.push(
                        Diagnostic::error(codes::RESOLVE_DUPLICATE, format!("duplicate name `{}`", name.name))
                            .with_label(name.span, format!("{} `{}` defined again here", item.kind(), name.name))
                            .with_label(*first, format!("{kind} `{}` first defined here", name.name))
                            .with_help("Items (networks, blocks, data, train and rules blocks) share one namespace; rename one of them."),
                    );
                    continue;
                }
                seen.insert(&name.name, (item.kind(), name.span));
            }
            match item {
                Item::Import(_) => {}
                Item::Network(n) => items.networks.push(n),
                Item::Block(b) => {
                    items.blocks.insert(&b.name.name, b);
                }
                Item::Data(s) => items.data.push(s),
                Item::Train(s) => items.trains.push(s),
                Item::Rules(r) => items.rules.push(r),
            }
        }
    }
    for block in items.blocks.values() {
        let mut params: HashMap<&str, Span> = HashMap::new();
        for p in &block.params {
            if let Some(first) = params.insert(&p.name, p.span) {
                diags.push(
                    Diagnostic::error(
                        codes::RESOLVE_DUPLICATE,
                        format!("duplicate parameter `{}`", p.name),
                    )
                    .with_label(p.span, "declared again here")
                    .with_label(first, "first declared here")
                    .with_help("Give each block parameter a different name."),
                );
            }
        }
    }
    items
}
