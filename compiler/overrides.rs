//! `--set KEY=VALUE`: replaces (or adds) one field of a `data`, `train` or `rules` block
//! before resolution, so an override is checked exactly like the spec itself.
//!
//! Keys are `train.FIELD`, `data.FIELD`, `rules.FIELD` when the spec has one block of that
//! kind, or `KIND.NAME.FIELD` to pick one by name. The value is any expression of the
//! language (`3`, `adam(lr: 0.01)`, `[1, 8, 8]`); it is parsed as its own source file, so
//! errors in it are shown in it.

use crate::diagnostics::{codes, Diagnostic, Diagnostics};
use crate::source::{SourceMap, Span};
use crate::syntax::ast::{Field, File, Ident, Item, Section};
use crate::syntax::parse_expr;

/// Applies `overrides` ("key=value" strings) to the parsed files.
pub fn apply(files: &mut [File], sources: &mut SourceMap, overrides: &[String]) -> Diagnostics {
    let mut diags = Vec::new();
    for text in overrides {
        let id = sources.add(format!("--set {text}"), text.clone());
        let whole = Span::new(id, 0, text.len());
        let Some((key, _)) = text.split_once('=') else {
            diags.push(
                Diagnostic::error(codes::TRAIN_INVALID, format!("`--set {text}` has no `=`"))
                    .with_label(whole, "expected KEY=VALUE")
                    .with_help("Write `--set train.epochs=3`."),
            );
            continue;
        };
        let parts: Vec<&str> = key.trim().split('.').collect();
        let (kind, name, field) = match parts.as_slice() {
            [kind, field] => (*kind, None, *field),
            [kind, name, field] => (*kind, Some(*name), *field),
            _ => {
                diags.push(
                    Diagnostic::error(codes::TRAIN_INVALID, format!("bad override key `{key}`"))
                        .with_label(
                            Span::new(id, 0, key.len()),
                            "expected KIND.FIELD or KIND.NAME.FIELD",
                        )
                        .with_help(
                            "Keys look like `train.epochs`, `data.split` or `train.student.batch`.",
                        ),
                );
                continue;
            }
        };
        let (expr, parse_diags) = parse_expr(id, text, key.len() + 1);
        diags.extend(parse_diags);
        let Some(expr) = expr else { continue };
        let key_span = Span::new(id, 0, key.len());
        // Imported files keep their train blocks to themselves (see `hir`), so only the
        // spec's own train blocks can be overridden.
        let mut sections: Vec<&mut Section> = files
            .iter_mut()
            .enumerate()
            .flat_map(|(index, f)| f.items.iter_mut().map(move |item| (index, item)))
            .filter_map(|(index, item)| match (item, kind) {
                (Item::Train(s), "train") if index == 0 => Some(s),
                (Item::Data(s), "data") => Some(s),
                (Item::Rules(r), "rules") => Some(&mut r.section),
                _ => None,
            })
            .filter(|s| name.is_none_or(|n| s.name.as_ref().is_some_and(|i| i.name == n)))
            .collect();
        let section = match sections.len() {
            1 => sections.remove(0),
            0 => {
                diags.push(
                    Diagnostic::error(
                        codes::TRAIN_REFERENCE,
                        format!(
                            "no {kind} block{} to override",
                            name.map_or(String::new(), |n| format!(" named `{n}`"))
                        ),
                    )
                    .with_label(key_span, "nothing to apply this to")
                    .with_help(
                        "Overrides apply to `train`, `data` and `rules` blocks of the spec.",
                    ),
                );
                continue;
            }
            n => {
                diags.push(
                    Diagnostic::error(
                        codes::TRAIN_INVALID,
                        format!("the spec has {n} {kind} blocks; say which one"),
                    )
                    .with_label(key_span, "ambiguous")
                    .with_help(format!("Write `{kind}.NAME.{field}`.")),
                );
                continue;
            }
        };
        let key_ident = Ident {
            name: field.to_string(),
            span: key_span,
        };
        match section.fields.iter_mut().find(|f| f.key.name == field) {
            Some(existing) => {
                existing.key = key_ident;
                existing.value = expr;
            }
            None => section.fields.push(Field {
                key: key_ident,
                value: expr,
            }),
        }
    }
    diags
}

#[cfg(test)]
mod tests {
    use crate::diagnostics::codes;

    const SPEC: &str = "network n {\n  input x: [4]\n  output y = x |> dense(2)\n}\ndata d {\n  source: builtin(\"digits\")\n}\ntrain {\n  network: n\n  data: d\n  epochs: 5\n}\n";

    fn check(overrides: &[&str]) -> crate::Checked {
        let mut checked = crate::parse_text("spec.nn", SPEC);
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        let diags = super::apply(&mut checked.files, &mut checked.sources, &o);
        checked.diags.extend(diags);
        checked.program = crate::hir::resolve(&checked.files, &mut checked.diags);
        checked
    }

    #[test]
    fn replaces_and_adds_fields() {
        let c = check(&[
            "train.epochs=3",
            "train.optimizer=adam(lr: 0.01)",
            "data.split=0.5",
        ]);
        assert!(c.diags.is_empty(), "{:?}", c.diags);
        let t = &c.program.trains[0];
        assert_eq!(t.epochs, 3);
        assert!(matches!(
            t.optimizer,
            crate::hir::settings::Optimizer::Adam { .. }
        ));
        assert_eq!(c.program.data[0].split, 0.5);
    }

    #[test]
    fn bad_overrides_are_diagnosed_in_their_own_text() {
        let c = check(&["train.epochs=0"]);
        assert_eq!(c.diags[0].code, codes::ARG_RANGE);
        assert_eq!(
            c.sources.get(c.diags[0].span().unwrap().file).name,
            "--set train.epochs=0"
        );
        let c = check(&["train.epochz=3"]);
        assert_eq!(c.diags[0].code, codes::ARG_UNKNOWN);
        let c = check(&["rules.strength=1"]);
        assert_eq!(c.diags[0].code, codes::TRAIN_REFERENCE);
        let c = check(&["epochs"]);
        assert_eq!(c.diags[0].code, codes::TRAIN_INVALID);
        let c = check(&["train.epochs=(3"]);
        assert_eq!(c.diags[0].code, codes::PARSE_SYNTAX);
    }
}
