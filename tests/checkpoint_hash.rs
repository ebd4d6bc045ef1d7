//! Same seed, same bytes, across refactors: `nnc run specs/digits.nn --set train.epochs=2`
//! writes the checkpoint and model whose SHA-256 were recorded before the training code was
//! split into modules (issue 11). A change here changes what every spec trains to; if it is
//! intended, say why in the commit and record the new hashes.
//!
//! The reference interpreter's run is compared: its arithmetic does not depend on the
//! CPU's kernels beyond `matrixmultiply`'s FMA kernel, which every x86-64 machine with FMA
//! (AVX2 and AVX-512 alike) picks. The JIT's bytes depend on the CPU feature level (its
//! `gemm` kernels differ), so its hash is checked only on the level it was recorded on.

use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

/// (checkpoint.safetensors, model.safetensors) of the reference backend's run.
const REFERENCE: (&str, &str) = (
    "db81585f328b1fa8d67ebe24a1f9f102fa1109d9697bc932d826bb5a7e01e294",
    "ee19fdf8906f5adba393582f85d852cd9e2ca4f0020510f8e1034695cf7ab792",
);

/// The JIT's, recorded on an AVX2 machine without AVX-512.
const JIT_AVX2: (&str, &str) = (
    "1afe103327c823c2045e9dd91932e9d5529a2df5a501d4f5503e0f784a3b0068",
    "c58c3d4da2a37228b90de894b530f2bb17c4ce07e1d17f565fb7040571b658a9",
);

fn hashes(backend: &str) -> (String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!(
        "nnc-checkpoint-hash-{backend}-{}",
        std::process::id()
    ));
    let status = Command::new(env!("CARGO_BIN_EXE_nnc"))
        .current_dir(root)
        .args([
            "run",
            "specs/digits.nn",
            "--set",
            "train.epochs=2",
            "--quiet",
        ])
        .args(["--backend", backend, "--out"])
        .arg(&out)
        .status()
        .expect("nnc runs");
    assert!(status.success(), "nnc run failed");
    let hash = |name: &str| {
        let bytes = std::fs::read(out.join(name)).expect("the run wrote its files");
        format!("{:x}", Sha256::digest(bytes))
    };
    let pair = (hash("checkpoint.safetensors"), hash("model.safetensors"));
    let _ = std::fs::remove_dir_all(&out);
    pair
}

fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

#[test]
fn digits_reference_checkpoint_bytes_are_unchanged() {
    if !has_fma() {
        eprintln!("skipped: the recorded hash is of matrixmultiply's FMA kernel (x86-64 with FMA)");
        return;
    }
    let got = hashes("reference");
    assert_eq!((got.0.as_str(), got.1.as_str()), REFERENCE);
}

#[test]
fn digits_jit_checkpoint_bytes_are_unchanged_on_avx2() {
    if !has_fma() || has_avx512() {
        eprintln!("skipped: the JIT's hash was recorded on AVX2 without AVX-512");
        return;
    }
    let got = hashes("jit");
    assert_eq!((got.0.as_str(), got.1.as_str()), JIT_AVX2);
}
