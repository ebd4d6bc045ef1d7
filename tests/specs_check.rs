//! Every example in specs/ passes `nnc check` (imports resolve relative to the spec), and
//! the published architectures have the sizes their papers and Caffe models give.

use nnc::diagnostics::{render, RenderOptions};
use nnc::summary::summarize;
use std::path::{Path, PathBuf};

fn specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("specs")
}

fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}

/// Every `.nn` file under specs/, sorted.
fn all_specs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![specs_dir()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("specs/ is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "nn") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Checks a spec and fails with the rendered diagnostics if it has errors.
fn check(path: &Path) -> nnc::Checked {
    let checked = nnc::check_path(path, &read);
    assert!(
        !checked.has_errors(),
        "{} has errors:\n{}",
        path.display(),
        render(&checked.diags, &checked.sources, RenderOptions::default())
    );
    checked
}

#[test]
fn every_spec_checks() {
    let specs = all_specs();
    for name in [
        "digits",
        "alexnet",
        "googlenet",
        "resnet_preact",
        "lsuv_deep",
        "group_norm",
        "parsenet",
        "xnor",
        "pixelcnn",
        "imbalance",
        "logic_rules",
        "distill_teacher",
        "distill_student",
        "embedding",
        "transformer",
        "lstm_digits",
    ] {
        assert!(
            specs.contains(&specs_dir().join(format!("{name}.nn"))),
            "specs/{name}.nn is missing"
        );
    }
    for path in &specs {
        let checked = check(path);
        assert!(
            checked.diags.is_empty(),
            "{} has warnings: {:?}",
            path.display(),
            checked.diags
        );
        let text = std::fs::read_to_string(path).expect("spec is UTF-8");
        assert!(
            text.starts_with("//"),
            "{} must start with a comment naming its idea and paper",
            path.display()
        );
        // Only the ImageNet architectures have no data to train on here.
        let stem = path.file_stem().unwrap().to_string_lossy();
        if stem != "alexnet" && stem != "googlenet" {
            let p = &checked.program;
            assert!(
                !p.trains.is_empty() && !p.data.is_empty(),
                "{} should have a data block and a train block",
                path.display()
            );
        }
    }
}

#[test]
fn alexnet_has_caffes_counts() {
    let checked = check(&specs_dir().join("alexnet.nn"));
    let net = checked.program.network("alexnet").expect("network alexnet");
    let s = summarize(net);
    assert_eq!(s.params.weights, 60_954_656);
    assert_eq!(s.params.biases, 10_568);
    assert_eq!(s.params.other, 0);
    assert_eq!(s.macs, 724_406_816);
    let shape = |name: &str| {
        s.layers
            .iter()
            .find(|l| l.name == name)
            .unwrap_or_else(|| panic!("no layer {name}"))
            .shape
            .clone()
    };
    assert_eq!(shape("conv1"), [96, 55, 55]);
    assert_eq!(shape("pool1"), [96, 27, 27]);
    assert_eq!(shape("pool2"), [256, 13, 13]);
    assert_eq!(shape("pool5"), [256, 6, 6]);
    assert_eq!(shape("fc8"), [1000]);
}

#[test]
fn googlenet_matches_the_prototxt() {
    let checked = check(&specs_dir().join("googlenet.nn"));
    let net = checked
        .program
        .network("googlenet")
        .expect("network googlenet");
    let s = summarize(net);
    // Counted by hand from models/bvlc_googlenet/deploy.prototxt (see the spec's header).
    assert_eq!(s.params.weights, 6_990_272);
    assert_eq!(s.params.biases, 8_280);
    assert_eq!(s.macs, 1_582_671_872);
    let shape = |name: &str| {
        s.layers
            .iter()
            .find(|l| l.name == name)
            .unwrap_or_else(|| panic!("no layer {name}"))
            .shape
            .clone()
    };
    assert_eq!(shape("pool1/3x3_s2"), [64, 56, 56]);
    assert_eq!(shape("pool2/3x3_s2"), [192, 28, 28]);
    assert_eq!(shape("inception1.output"), [256, 28, 28]); // inception_3a
    assert_eq!(shape("inception2.output"), [480, 28, 28]); // inception_3b
    assert_eq!(shape("pool3/3x3_s2"), [480, 14, 14]);
    assert_eq!(shape("inception6.output"), [528, 14, 14]); // inception_4d
    assert_eq!(shape("inception7.output"), [832, 14, 14]); // inception_4e
    assert_eq!(shape("pool4/3x3_s2"), [832, 7, 7]);
    assert_eq!(shape("inception9.output"), [1024, 7, 7]); // inception_5b
    assert_eq!(shape("pool5/7x7_s1"), [1024, 1, 1]);
}

#[test]
fn the_student_imports_its_teacher() {
    let checked = check(&specs_dir().join("distill_student.nn"));
    let p = &checked.program;
    assert!(
        p.network("deep").is_some(),
        "the teacher network is imported"
    );
    let student = p
        .trains
        .iter()
        .find(|t| t.name.as_deref() == Some("student"))
        .expect("train student");
    assert_eq!(student.network, "shallow");
    let teacher = student.teacher.as_ref().expect("a teacher");
    assert_eq!(teacher.network, "deep");
    assert_eq!(
        teacher.checkpoint,
        "runs/distill_teacher/checkpoint.safetensors"
    );
    assert_eq!(teacher.distill.temperature, 4.0);
    assert_eq!(teacher.distill.weight, 0.9);
}
