//! Same seed, same bytes, across refactors: `nnc run specs/digits.nn --set train.epochs=2`
//! writes the checkpoint and model whose SHA-256 were recorded before the training code was
//! split into modules (issue 11). A change here changes what every spec trains to; if it is
//! intended, say why in the commit and record the new hashes.
//!
//! The reference interpreter's run is compared: its arithmetic does not depend on the
//! CPU's kernels beyond `matrixmultiply`'s FMA kernel, which every x86-64 machine with FMA
//! (AVX2 and AVX-512 alike) picks. The JIT's bytes depend on the CPU feature level (its
//! `gemm` kernels differ), so its hash is checked only on the level it was recorded on.
//!
//! Re-recorded for issue 12: the metadata gained `epochs_planned`, `backend`, `cpu_level`
//! (JIT) and the fitted scaler (`data.scaler.shift`, `data.scaler.scale`); every tensor's
//! bytes were checked equal to the previous recording's (same seed, same weights).

use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

/// (checkpoint.safetensors, model.safetensors) of the reference backend's run.
const REFERENCE: (&str, &str) = (
    "1e51661bbecc36257ea8464abf7d23882bb9be9233eeb30733d62e284903d754",
    "ebb7fdf3d8b907e39a26ac5d499604d67243c93ac0dab245c99def50ffa90211",
);

/// The JIT's, recorded on an AVX2 machine without AVX-512.
const JIT_AVX2: (&str, &str) = (
    "c944c3e1784c3ea6536918a1d670ff0e8d129f9e3ce24b1737280f7537d7219a",
    "482fa2d429c3be6d61bf709badfa702c9a39f6539c78f4cc001be5aefe3e6c1a",
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
