//! Command-line mistakes (an unknown flag, a missing argument): clap's report, exit code 1
//! like every other failure (docs/cli.md), and for a flag that names a field of a `train`
//! or `data` block (`--epochs 3`) a hint to override it with `--set`.

use nnc::hir::schema::{DATA_FIELDS, TRAIN_FIELDS};
use std::process::ExitCode;

/// Prints a parse error of the command line and returns the exit code: 0 for `--help` and
/// `--version`, 1 for a mistake.
pub fn exit(e: &clap::Error, argv: &[String]) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let mut text = e.render().to_string();
    if let Some(hint) = set_hint(e, argv) {
        // clap's tip (`use '-- --epochs'`) is for passing a value to a program; here the
        // user meant a spec field.
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("tip: to pass"))
            .collect();
        text = kept.join("\n");
        text = text.replacen("\n\n", &format!("\n\n  tip: {hint}\n\n"), 1);
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    eprint!("{text}");
    ExitCode::from(1)
}

/// For an unknown `--NAME [VALUE]` where NAME is a train or data field: the `--set` to use.
fn set_hint(e: &clap::Error, argv: &[String]) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(flag)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    set_for(flag, argv)
}

/// `--epochs` (or `--epochs=3`) with `argv` -> "... `--set train.epochs=3` ...".
pub fn set_for(flag: &str, argv: &[String]) -> Option<String> {
    let bare = flag.strip_prefix("--")?;
    let (name, inline) = match bare.split_once('=') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (bare, None),
    };
    let field = name.replace('-', "_");
    let block = if TRAIN_FIELDS.params().any(|p| p.name == field) {
        "train"
    } else if DATA_FIELDS.params().any(|p| p.name == field) {
        "data"
    } else {
        return None;
    };
    let value = inline
        .or_else(|| {
            let at = argv.iter().position(|a| a == flag)?;
            argv.get(at + 1).filter(|v| !v.starts_with("--")).cloned()
        })
        .unwrap_or_else(|| "VALUE".to_string());
    Some(format!(
        "`{field}` is a field of the {block} block: override it with `--set {block}.{field}={value}`"
    ))
}

#[cfg(test)]
mod tests {
    use super::set_for;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn train_and_data_fields_get_a_set_hint() {
        let hint = set_for("--epochs", &argv("nnc run a.nn --epochs 3")).unwrap();
        assert!(hint.contains("`--set train.epochs=3`"), "{hint}");
        let hint = set_for("--split=0.5", &argv("nnc run a.nn --split=0.5")).unwrap();
        assert!(hint.contains("`--set data.split=0.5`"), "{hint}");
        let hint = set_for("--batch", &argv("nnc run a.nn --batch")).unwrap();
        assert!(hint.contains("`--set train.batch=VALUE`"), "{hint}");
        assert_eq!(set_for("--colour", &argv("nnc run a.nn --colour")), None);
    }
}
