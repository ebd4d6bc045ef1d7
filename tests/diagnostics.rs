//! The diagnostics catalogue: every `tests/diagnostics/*.nn` is checked and its rendered
//! report snapshotted (tests/snapshots/). Each case is one mistake a user makes.

use nnc::diagnostics::{codes, render, RenderOptions};
use std::path::Path;

fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
}

/// Checks `text` and renders its diagnostics the way the CLI does, without colours.
fn rendered(name: &str, text: &str) -> (String, Vec<&'static str>) {
    let checked = nnc::check_text(name, text, &read);
    let codes = checked.diags.iter().map(|d| d.code).collect();
    (
        render(&checked.diags, &checked.sources, RenderOptions::default()),
        codes,
    )
}

#[test]
fn catalogue() {
    insta::glob!("diagnostics/*.nn", |path| {
        let text = std::fs::read_to_string(path).expect("fixture is UTF-8");
        let name = format!(
            "diagnostics/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        let (out, codes) = rendered(&name, &text);
        assert!(!codes.is_empty(), "{name} must produce a diagnostic");
        insta::assert_snapshot!(out);
    });
}

/// The code each catalogue case must produce (so a snapshot cannot silently drift to
/// another error).
#[test]
fn catalogue_codes() {
    let expected: &[(&str, &str)] = &[
        ("syntax_error", codes::PARSE_SYNTAX),
        ("syntax_equals_in_option", codes::PARSE_SYNTAX),
        ("unknown_layer", codes::RESOLVE_UNKNOWN_LAYER),
        ("unknown_option", codes::ARG_UNKNOWN),
        ("wrong_type", codes::ARG_TYPE),
        ("missing_argument", codes::ARG_MISSING),
        ("undefined_name", codes::RESOLVE_UNDEFINED),
        ("duplicate_name", codes::RESOLVE_DUPLICATE),
        ("shape_mismatch_add", codes::SHAPE_MISMATCH),
        ("shape_mismatch_concat", codes::SHAPE_MISMATCH),
        ("groups_conv", codes::SHAPE_GROUPS),
        ("groups_group_norm", codes::SHAPE_GROUPS),
        ("kernel_too_large", codes::SHAPE_KERNEL),
        ("dimension_zero", codes::SHAPE_DIM),
        ("dimension_negative", codes::ARG_RANGE),
        ("dimension_overflow", codes::SHAPE_OVERFLOW),
        ("recursive_block", codes::RESOLVE_RECURSION),
        ("train_missing_network", codes::TRAIN_REFERENCE),
        ("unknown_init", codes::INIT_UNKNOWN),
        ("repeat_without_let", codes::RESOLVE_STRUCTURE),
        ("looks_linear_odd", codes::INIT_INVALID),
        ("conv_needs_spatial", codes::SHAPE_RANK),
        ("pool_ceil_caffe", codes::SHAPE_KERNEL),
        ("pool_pad_too_large", codes::ARG_RANGE),
        ("train_bce_width", codes::TRAIN_INVALID),
        ("train_two_outputs", codes::TRAIN_UNMATCHED),
        ("train_inputs_unknown_name", codes::TRAIN_UNMATCHED),
        ("train_inputs_missing", codes::TRAIN_UNMATCHED),
        ("train_input_columns", codes::TRAIN_INPUT_COLUMNS),
        ("train_loss_per_output", codes::TRAIN_UNMATCHED),
        ("train_targets_duplicate", codes::ARG_DUPLICATE),
        ("train_data_shape", codes::TRAIN_INVALID),
        ("train_rules_need_cross_entropy", codes::TRAIN_INVALID),
        ("train_teacher_shape", codes::TRAIN_INVALID),
        ("train_smoothing_with_class_weights", codes::TRAIN_INVALID),
        ("train_class_weights_count", codes::TRAIN_INVALID),
        ("rules_imitation_range", codes::RULES_INVALID),
        ("rules_predict_needs_field", codes::RULES_INVALID),
        ("data_csv_delimiter", codes::ARG_RANGE),
        ("data_generator_parameter", codes::ARG_TYPE),
        ("scan_state_shape", codes::SHAPE_MISMATCH),
        ("scan_cell_not_a_block", codes::RESOLVE_RECURRENCE),
        ("scan_axis_out_of_range", codes::SHAPE_RANK),
        ("bidirectional_reverse", codes::RESOLVE_RECURRENCE),
    ];
    for (case, code) in expected {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/diagnostics/{case}.nn"));
        let text = std::fs::read_to_string(&path).expect("fixture exists");
        let (out, codes) = rendered(case, &text);
        assert!(
            codes.contains(code),
            "{case}: expected {code}, got {codes:?}\n{out}"
        );
    }
}

#[test]
fn several_independent_errors_in_one_run() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics/several_errors.nn"),
    )
    .unwrap();
    let (out, codes) = rendered("several_errors.nn", &text);
    assert!(codes.len() >= 4, "{out}");
}

#[test]
fn every_diagnostic_has_code_span_and_help() {
    insta::glob!("diagnostics/*.nn", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let checked = nnc::check_text("case.nn", &text, &read);
        for d in &checked.diags {
            assert!(d.code.starts_with("nnc::"), "{d:?}");
            assert!(
                codes::ALL.contains(&d.code),
                "{} is not in the catalogue",
                d.code
            );
            assert!(d.span().is_some(), "{path:?}: no span: {d:?}");
            assert!(
                d.help.as_ref().is_some_and(|h| !h.is_empty()),
                "{path:?}: no help: {d:?}"
            );
        }
    });
}

#[test]
fn file_not_found() {
    let checked = nnc::check_path(Path::new("tests/diagnostics/no_such_file.nn"), &read);
    assert_eq!(checked.diags[0].code, codes::IO_NOT_FOUND);
    insta::assert_snapshot!(render(
        &checked.diags,
        &checked.sources,
        RenderOptions::default()
    ));
}

#[test]
fn import_not_found() {
    let (out, codes) = rendered(
        "tests/diagnostics/importer.nn",
        "import \"missing_blocks.nn\"\n",
    );
    assert_eq!(codes, vec![codes::IO_NOT_FOUND]);
    insta::assert_snapshot!(out);
}

#[test]
fn file_not_utf8() {
    let dir = std::env::temp_dir().join(format!("nnc-utf8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("latin1.nn");
    std::fs::write(&path, b"network n {\n  input x: [4] // caf\xe9\n}\n").unwrap();
    let checked = nnc::check_path(&path, &|p| std::fs::read(p));
    assert_eq!(checked.diags.len(), 1);
    assert_eq!(checked.diags[0].code, codes::IO_NOT_UTF8);
    let mut sources = nnc::source::SourceMap::new();
    // Render against a stable file name.
    sources.add(
        "latin1.nn",
        checked.sources.get(nnc::source::FileId(0)).text.clone(),
    );
    let rendered = render(&checked.diags, &sources, RenderOptions::default());
    insta::assert_snapshot!(rendered.replace(&path.display().to_string(), "latin1.nn"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn nesting_too_deep() {
    let text = format!(
        "network n {{\n  input x: [4]\n  output y = {}x{}\n}}\n",
        "(".repeat(20_000),
        ")".repeat(20_000)
    );
    let (_, codes) = rendered("deep.nn", &text);
    assert_eq!(codes, vec![codes::PARSE_TOO_DEEP]);
}
