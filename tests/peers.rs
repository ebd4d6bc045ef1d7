//! nnc computes the same training steps as PyTorch and JAX: the peer workloads of
//! specs/bench/, started from the peers' weights on their fixed batch, reproduce the losses
//! the peers report (bench/peers/README.md, a copy of the shared harness) to 5 decimals.

use nnc::train::Trainer;
use nnc_runtime::checkpoint::Checkpoint;
use std::path::Path;

/// Train losses of the first and the last of `epochs` steps (one step per epoch).
fn losses(spec: &str, init: &str) -> (f64, f64) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join(spec);
    let checked = nnc::check_path(&path, &|p| std::fs::read(p));
    assert!(!checked.has_errors(), "{:?}", checked.diags);
    let mut t = Trainer::new(
        &checked.program,
        &checked.program.trains[0],
        path.parent().unwrap(),
    )
    .expect("trainer");
    t.init().expect("init");
    let loaded = t
        .init_from(&Checkpoint::load(&root.join(init)).expect("weights"))
        .expect("init-from");
    assert_eq!(
        loaded.len(),
        t.params().len(),
        "every parameter comes from the peers"
    );
    let mut all = Vec::new();
    while t.epoch() < t.decl().epochs {
        all.push(t.train_epoch(&mut |_| {}).expect("step").0);
    }
    (all[0], all[all.len() - 1])
}

fn assert_close(got: (f64, f64), want: (f64, f64)) {
    assert!(
        (got.0 - want.0).abs() < 1e-5 && (got.1 - want.1).abs() < 1e-5,
        "got {got:?}, the peers report {want:?}"
    );
}

#[test]
fn w1_mlp_matches_the_peers() {
    assert_close(
        losses(
            "specs/bench/w1_mlp.nn",
            "specs/bench/data/w1_init.safetensors",
        ),
        (2.29488, 2.23501),
    );
}

#[test]
fn w4_deep_mlp_matches_the_peers() {
    assert_close(
        losses(
            "specs/bench/w4_deep_mlp.nn",
            "specs/bench/data/w4_init.safetensors",
        ),
        (2.30930, 2.28292),
    );
}

#[test]
fn w2_convnet_matches_the_peers() {
    assert_close(
        losses(
            "specs/bench/w2_convnet.nn",
            "specs/bench/data/w2_init.safetensors",
        ),
        (2.31768, 2.10437),
    );
}
