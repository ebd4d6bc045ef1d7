//! The deployed model of an XNOR net (`Trainer::to_model`, written as model.safetensors):
//! binary layers' weights stored 1 bit a weight plus one scale per filter, evaluating
//! to the same accuracy as the real-valued weights it came from.

use nnc::train::Trainer;
use nnc_runtime::checkpoint::{DType, Tensor};
use std::path::Path;

fn no_files(_: &Path) -> std::io::Result<Vec<u8>> {
    Err(std::io::ErrorKind::NotFound.into())
}

/// specs/experiments/xnor_twin.nn's train block `train`, for one epoch.
fn twin(train: &str) -> Trainer {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/experiments/xnor_twin.nn");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("epochs: 10", "epochs: 1");
    let checked = nnc::check_text("xnor_twin.nn", &text, &no_files);
    assert!(!checked.has_errors(), "{:?}", checked.diags);
    let decl = checked
        .program
        .trains
        .iter()
        .find(|t| t.name.as_deref() == Some(train))
        .expect("train block");
    let mut t = Trainer::new(&checked.program, decl, Path::new(".")).expect("trainer");
    t.init().expect("init");
    t.train_epoch(&mut |_| {}).expect("epoch");
    t
}

#[test]
fn binary_layers_are_stored_in_a_32nd_of_f32_plus_scales() {
    let t = twin("binary");
    let full = t.to_checkpoint().unwrap();
    let model = t.to_model().unwrap();
    let binary = t.binary_weights();
    assert_eq!(binary.len(), 3);
    for name in &binary {
        let f32_bytes = full.tensors[name].le_bytes().len();
        let filters = full.tensors[name].shape()[0];
        let bits = &model.tensors[&format!("{name}.bits")];
        let scale = &model.tensors[&format!("{name}.scale")];
        assert_eq!(bits.dtype(), DType::U8);
        assert!(
            !model.tensors.contains_key(name),
            "{name} is also stored as f32"
        );
        // Each filter's row is padded to whole bytes: at most 1 byte a filter.
        assert!(
            bits.le_bytes().len() <= f32_bytes / 32 + filters,
            "{name}: {} bytes of bits for {f32_bytes} bytes of f32",
            bits.le_bytes().len()
        );
        assert_eq!(scale.le_bytes().len(), 4 * filters);
    }
    assert!(model.tensors.keys().all(|n| !n.starts_with("opt.")));
    // The whole file: the binary layers shrink 32x, the rest stays f32.
    let (model_bytes, full_bytes) = (
        model.to_bytes().unwrap().len(),
        full.to_bytes().unwrap().len(),
    );
    assert!(
        model_bytes * 10 < full_bytes,
        "{model_bytes} vs {full_bytes}"
    );
}

#[test]
fn evaluating_the_packed_model_gives_the_same_accuracy() {
    let mut t = twin("binary");
    let before = t.evaluate(true).unwrap();
    // The file round trip is exact (nnc_runtime's checkpoint tests); the packing is what
    // is tested here.
    let mut fresh = twin("binary");
    fresh.load_weights(&t.to_model().unwrap()).unwrap();
    let after = fresh.evaluate(true).unwrap();
    assert_eq!(before.accuracy(), after.accuracy());
    assert!((before.loss - after.loss).abs() <= 1e-5 * before.loss.abs().max(1.0));
    // The weights come back as ±alpha, the signs exactly.
    for name in t.binary_weights() {
        let (a, b) = (&t.state()[&name], &fresh.state()[&name]);
        assert!(
            a.iter().zip(b).all(|(x, y)| x.signum() == y.signum()),
            "{name}"
        );
    }
}

#[test]
fn a_damaged_packed_tensor_is_a_clear_error() {
    let t = twin("binary");
    let mut model = t.to_model().unwrap();
    let name = &t.binary_weights()[0];
    model.insert(
        format!("{name}.scale"),
        Tensor::new(&[1], &[1.0f32]).unwrap(),
    );
    let mut fresh = twin("binary");
    let err = fresh.load_weights(&model).unwrap_err();
    let report = format!("{:?}", miette::Report::new(err));
    assert!(report.contains("bad_packing"), "{report}");
    assert!(report.contains(name.as_str()), "{report}");
}
