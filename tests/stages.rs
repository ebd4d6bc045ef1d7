//! Snapshots of the compilation stages in their text forms: the resolved program (`nnc ir
//! --stage ir`) of every spec, the syntax tree of one, and the primitive program and the
//! whole training step of two small ones (`--stage prim`, `--stage grad`), and the
//! optimized step and its plan for two and its CLIF for one (`--stage opt|plan|clif`), and
//! the inference program of one with batch norms folded (`--stage opt|plan --eval`).

use nnc::lower::Mode;
use nnc::train::step;
use std::path::{Path, PathBuf};

fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}

/// Checks a spec by a path relative to the repository, so rendered names are stable.
fn check(rel: &str) -> nnc::Checked {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(rel)).unwrap();
    let checked = nnc::check_text(rel, &text, &|p: &Path| read(&root.join(p)));
    assert!(!checked.has_errors(), "{rel}: {:?}", checked.diags);
    checked
}

fn specs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<PathBuf> = std::fs::read_dir(root.join("specs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nn"))
        .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
        .collect();
    out.sort();
    out
}

#[test]
fn resolved_program_of_every_spec() {
    for rel in specs() {
        let rel = rel.to_string_lossy().into_owned();
        let checked = check(&rel);
        let text = nnc::hir::display::print_program(&checked.program, &checked.sources);
        let name = rel
            .trim_start_matches("specs/")
            .trim_end_matches(".nn")
            .to_string();
        insta::assert_snapshot!(format!("ir_{name}"), text);
    }
}

#[test]
fn syntax_tree() {
    let checked = check("specs/resnet_preact.nn");
    insta::assert_snapshot!(nnc::syntax::print::print_file(
        &checked.files[0],
        &checked.sources
    ));
}

fn lowered(rel: &str, grad: bool) -> String {
    let checked = check(rel);
    let decl = &checked.program.trains[0];
    let net = checked.program.network(&decl.network).unwrap();
    let p = if grad {
        step::training_step(net, decl, 2)
    } else {
        step::forward_with_loss(net, decl, 2, Mode::Train)
    };
    nnc::prim::verify::verify(&p.graph).expect("the lowered graph verifies");
    let mut out = String::new();
    for param in &p.lowered.params {
        out.push_str(&format!(
            "// param {} {:?} {:?} {:?}\n",
            param.name, param.shape, param.kind, param.init
        ));
    }
    for s in p.lowered.state.iter().chain(&p.opt_state) {
        out.push_str(&format!(
            "// state {} {:?} init {}\n",
            s.name, s.shape, s.init
        ));
    }
    out + &p.graph.to_string()
}

#[test]
fn primitive_programs() {
    insta::assert_snapshot!("prim_digits", lowered("specs/digits.nn", false));
    insta::assert_snapshot!("prim_group_norm", lowered("specs/group_norm.nn", false));
    insta::assert_snapshot!("prim_lstm_digits", lowered("specs/lstm_digits.nn", false));
}

#[test]
fn training_steps() {
    insta::assert_snapshot!("grad_digits", lowered("specs/digits.nn", true));
    insta::assert_snapshot!(
        "grad_w2_convnet",
        lowered("specs/bench/w2_convnet.nn", true)
    );
}

/// `nnc ir --stage opt|plan|clif` of a spec's training step at batch 2 (or with `--eval`,
/// of its inference program).
fn compiled_stage(rel: &str, stage: &str, eval: bool) -> String {
    let checked = check(rel);
    let decl = &checked.program.trains[0];
    let net = checked.program.network(&decl.network).unwrap();
    let p = if eval {
        step::forward_with_loss(net, decl, 2, Mode::Eval)
    } else {
        step::training_step(net, decl, 2)
    };
    nnc::jit::stage_text(&p.graph, stage, eval).unwrap()
}

#[test]
fn optimized_programs_plans_and_clif() {
    for (name, rel) in [
        ("digits", "specs/digits.nn"),
        ("w1_mlp", "specs/bench/w1_mlp.nn"),
    ] {
        for stage in ["opt", "plan"] {
            insta::assert_snapshot!(format!("{stage}_{name}"), compiled_stage(rel, stage, false));
        }
    }
    insta::assert_snapshot!(
        "clif_w1_mlp",
        compiled_stage("specs/bench/w1_mlp.nn", "clif", false)
    );
    for stage in ["opt", "plan"] {
        insta::assert_snapshot!(
            format!("{stage}_digits_eval"),
            compiled_stage("specs/digits.nn", stage, true)
        );
    }
}
