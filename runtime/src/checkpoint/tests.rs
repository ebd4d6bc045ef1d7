use super::*;
use std::process::Command;

fn sample() -> Checkpoint {
    let mut checkpoint = Checkpoint::new();
    let weight = [0.25f32, -1.5, 3.0, f32::MIN_POSITIVE, -0.0, 1e-30];
    checkpoint.insert("fc1.weight", Tensor::new(&[2, 3], &weight).unwrap());
    checkpoint.insert("fc1.bias", Tensor::new(&[2], &[0.1f32, -0.2]).unwrap());
    checkpoint.insert(
        "bn1.running_mean",
        Tensor::new(&[2], &[1.0f32, 2.0]).unwrap(),
    );
    checkpoint.insert(
        "opt.fc1.weight.momentum",
        Tensor::new(&[2, 3], &[0.5f32; 6]).unwrap(),
    );
    // Binary weights: 70 signs of one row packed into two u64 words, plus their scale.
    let words = [0xDEAD_BEEF_0123_4567u64, 0x3F];
    checkpoint.insert("bin.weight.bits", Tensor::new(&[1, 2], &words).unwrap());
    checkpoint.insert("bin.weight.scale", Tensor::new(&[1], &[0.75f32]).unwrap());
    checkpoint.insert("step_counts", Tensor::new(&[2], &[-3i64, 1 << 40]).unwrap());
    checkpoint.insert("mask", Tensor::new(&[3], &[1u8, 0, 255]).unwrap());
    checkpoint.insert("scalar", Tensor::new::<f32>(&[], &[42.0]).unwrap());
    for (key, value) in [
        (keys::SPEC_HASH, "9f2c1e"),
        (keys::EPOCH, "3"),
        (keys::STEP, "1200"),
        (keys::NNC_VERSION, "0.1.0"),
        (
            keys::LAYOUT,
            "bin.weight.bits: 64 signs per u64, bit j of word w is column 64w+j",
        ),
    ] {
        checkpoint
            .metadata
            .insert(key.to_string(), value.to_string());
    }
    checkpoint
}

fn saved(checkpoint: &Checkpoint) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    checkpoint.save(&path).unwrap();
    (dir, path)
}

fn load_bytes(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.safetensors");
    std::fs::write(&path, bytes).unwrap();
    Checkpoint::load(&path)
}

#[test]
fn round_trip_is_bit_exact() {
    let original = sample();
    let (_dir, path) = saved(&original);
    let loaded = Checkpoint::load(&path).unwrap();
    assert_eq!(loaded.tensors, original.tensors);
    assert_eq!(loaded.metadata, original.metadata);
    let weight = loaded.values::<f32>("fc1.weight").unwrap();
    assert_eq!(weight[4].to_bits(), (-0.0f32).to_bits());
    assert_eq!(
        loaded.values::<u64>("bin.weight.bits").unwrap(),
        [0xDEAD_BEEF_0123_4567, 0x3F]
    );
    assert_eq!(loaded.values::<i64>("step_counts").unwrap(), [-3, 1 << 40]);
    assert_eq!(loaded.tensors["scalar"].shape(), &[] as &[usize]);
}

#[test]
fn saves_are_byte_identical_and_aligned() {
    let first = sample().to_bytes().unwrap();
    // Insert in the reverse order: the file must not depend on it.
    let mut reversed = Checkpoint::new();
    for (name, tensor) in sample().tensors.into_iter().rev() {
        reversed.insert(name, tensor);
    }
    reversed.metadata = sample().metadata;
    assert_eq!(reversed.to_bytes().unwrap(), first);

    let (_dir, path) = saved(&sample());
    assert_eq!(std::fs::read(&path).unwrap(), first);

    let header_len = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
    assert_eq!((8 + header_len) % 8, 0);
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&first).unwrap();
    for name in metadata.offset_keys() {
        let info = metadata.info(&name).unwrap();
        assert_eq!(
            info.data_offsets.0 % (info.dtype.bitsize() / 8),
            0,
            "{name} is misaligned"
        );
    }
}

#[test]
fn matches_the_safetensors_crate_writer() {
    // With at most one metadata key the crate's HashMap order is fixed, so its output
    // must equal ours byte for byte.
    let mut checkpoint = sample();
    checkpoint.metadata.retain(|key, _| key == keys::EPOCH);
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = checkpoint
        .tensors
        .iter()
        .map(|(name, t)| {
            let view = safetensors::tensor::TensorView::new(
                t.dtype().to_safetensors(),
                t.shape().to_vec(),
                t.le_bytes(),
            )
            .unwrap();
            (name.clone(), view)
        })
        .collect();
    let metadata = checkpoint.metadata.clone().into_iter().collect();
    let theirs = safetensors::serialize(views, Some(metadata)).unwrap();
    assert_eq!(checkpoint.to_bytes().unwrap(), theirs);
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.safetensors");
    let err = Checkpoint::load(&path).unwrap_err();
    assert!(matches!(err, CheckpointError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.safetensors"), "{err}");
    assert_eq!(code(&err), "nnc::checkpoint::not_found");
}

#[test]
fn not_a_safetensors_file() {
    for bytes in [
        &b""[..],
        b"abc",
        b"hello world, this is text",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
    ] {
        let err = load_bytes(bytes).unwrap_err();
        assert!(
            matches!(err, CheckpointError::NotSafetensors { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("bad.safetensors"), "{err}");
    }
}

#[test]
fn truncated_files() {
    let bytes = sample().to_bytes().unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for cut in [header_end - 10, header_end + 3, bytes.len() - 1] {
        let err = load_bytes(&bytes[..cut]).unwrap_err();
        match &err {
            CheckpointError::Truncated {
                part,
                expected,
                found,
                ..
            } => {
                assert_eq!(*found, cut as u64);
                let want = if cut < header_end {
                    header_end
                } else {
                    bytes.len()
                };
                assert_eq!(*expected, want as u64, "{part}");
            }
            other => panic!("cut at {cut}: expected Truncated, got {other:?}"),
        }
        assert_eq!(code(&err), "nnc::checkpoint::truncated");
    }
}

#[test]
fn corrupt_headers() {
    let bytes = sample().to_bytes().unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;

    // Broken JSON.
    let mut broken = bytes.clone();
    broken[9] = b'!';
    let err = load_bytes(&broken).unwrap_err();
    assert!(
        matches!(err, CheckpointError::CorruptHeader { .. }),
        "{err:?}"
    );

    // Valid JSON whose shape disagrees with the offsets.
    let text = std::str::from_utf8(&bytes[8..header_end]).unwrap();
    let edited = text.replacen("\"shape\":[2,3]", "\"shape\":[3,3]", 1);
    assert_ne!(edited, text);
    let mut corrupt = bytes[..8].to_vec();
    corrupt.extend(edited.as_bytes());
    corrupt.extend(&bytes[header_end..]);
    let err = load_bytes(&corrupt).unwrap_err();
    assert!(
        matches!(err, CheckpointError::CorruptHeader { .. }),
        "{err:?}"
    );
    assert_eq!(code(&err), "nnc::checkpoint::corrupt_header");

    // Trailing garbage after the data.
    let mut trailing = bytes.clone();
    trailing.extend(b"junk");
    let err = load_bytes(&trailing).unwrap_err();
    assert!(
        err.to_string().contains("4 bytes follow the last tensor"),
        "{err}"
    );
}

#[test]
fn unsupported_dtype_names_tensor_and_dtype() {
    let data = [0u8; 4];
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F16, vec![2], &data).unwrap();
    let bytes = safetensors::serialize([("fc1.weight", view)], None).unwrap();
    let err = load_bytes(&bytes).unwrap_err();
    assert!(
        matches!(err, CheckpointError::UnsupportedDType { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("`fc1.weight`") && message.contains("F16"),
        "{message}"
    );
}

#[test]
fn wrong_dtype_and_missing_tensor() {
    let (_dir, path) = saved(&sample());
    let loaded = Checkpoint::load(&path).unwrap();
    let err = loaded.values::<f32>("bin.weight.bits").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "tensor `bin.weight.bits` in checkpoint `{}` has dtype U64, expected F32",
            path.display()
        )
    );
    let err = loaded.values::<f32>("fc9.weight").unwrap_err();
    assert!(matches!(err, CheckpointError::MissingTensor { .. }));
}

#[test]
fn check_against_reports_every_problem() {
    let mut checkpoint = Checkpoint::new();
    checkpoint.insert("fc1.weight", Tensor::new(&[3, 4], &[0.0f32; 12]).unwrap());
    checkpoint.insert("fc1.bias", Tensor::new(&[4], &[0.0f32; 4]).unwrap());
    checkpoint.insert("fc3.weight", Tensor::new(&[1], &[0.0f32]).unwrap());
    let (_dir, path) = saved(&checkpoint);
    let loaded = Checkpoint::load(&path).unwrap();
    let expected: [(&str, &[usize]); 3] = [
        ("fc1.weight", &[4, 3]),
        ("fc1.bias", &[4]),
        ("fc2.bias", &[2]),
    ];
    let err = loaded.check_against(&expected).unwrap_err();
    let message = err.to_string();
    assert_eq!(
        message,
        format!(
            "checkpoint `{}` does not match the model:\n  missing tensor `fc2.bias`\n  \
             unexpected tensor `fc3.weight`\n  tensor `fc1.weight` has shape [3, 4], expected [4, 3]",
            path.display()
        )
    );
    assert_eq!(code(&err), "nnc::checkpoint::mismatch");
    assert!(loaded
        .check_against(&[
            ("fc1.weight", &[3, 4]),
            ("fc1.bias", &[4]),
            ("fc3.weight", &[1])
        ])
        .is_ok());
}

#[test]
fn invalid_tensors_are_rejected() {
    assert!(Tensor::new(&[2, 3], &[0.0f32; 5]).is_err());
    assert!(Tensor::from_le_bytes(DType::U64, &[2], vec![0; 15]).is_err());
    assert!(Tensor::new(&[usize::MAX, 2], &[0u8]).is_err());
    let mut checkpoint = Checkpoint::new();
    checkpoint.insert("__metadata__", Tensor::new(&[1], &[0u8]).unwrap());
    assert!(matches!(
        checkpoint.to_bytes(),
        Err(CheckpointError::InvalidTensor { .. })
    ));
}

#[test]
fn failed_save_keeps_old_checkpoint() {
    let (dir, path) = saved(&sample());
    let before = std::fs::read(&path).unwrap();
    // A save whose write fails half-way (injected), as a full disk would.
    let err = crate::atomic::write_atomically(&path, |file| {
        file.write_all(&before[..before.len() / 2])?;
        Err(std::io::Error::other("disk full (injected)"))
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "disk full (injected)");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(Checkpoint::load(&path).is_ok());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["model.safetensors"], "temporary file left behind");
}

#[test]
fn save_into_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing/model.safetensors");
    let err = sample().save(&path).unwrap_err();
    assert_eq!(code(&err), "nnc::checkpoint::write_failed");
    let message = err.to_string();
    assert!(
        message.contains("missing/model.safetensors") && message.contains("does not exist"),
        "{message}"
    );
}

/// Reads a checkpoint with Python's `safetensors` package (plus the standard library only).
/// Skipped with a note where the package is absent; nothing is installed.
#[test]
fn python_safetensors_reads_our_files() {
    let python = std::env::var("NNC_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let available = Command::new(&python)
        .args(["-c", "import safetensors"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !available {
        // Straight to stderr: libtest captures `println!`, and the skip should be visible.
        let _ = writeln!(
            std::io::stderr(),
            "note: skipping the Python safetensors check: `{python} -c 'import safetensors'` failed"
        );
        return;
    }
    let (_dir, path) = saved(&sample());
    // With numpy, the high-level API (values and metadata); without it, the raw
    // `deserialize`, which needs no framework but does not return the metadata.
    let script = r#"
import struct, sys
import safetensors
path = sys.argv[1]
try:
    import numpy as np
except ImportError:
    np = None
if np is not None:
    from safetensors.numpy import load_file
    with safetensors.safe_open(path, framework="numpy") as f:
        meta = f.metadata()
    assert meta["epoch"] == "3" and meta["spec_hash"] == "9f2c1e", meta
    t = load_file(path)
    assert t["fc1.weight"].dtype == np.float32 and t["fc1.weight"].shape == (2, 3)
    assert t["fc1.weight"][0].tolist() == [0.25, -1.5, 3.0]
    assert t["bin.weight.bits"].dtype == np.uint64
    assert t["bin.weight.bits"].tolist() == [[0xDEADBEEF01234567, 0x3F]]
    assert t["step_counts"].tolist() == [-3, 1 << 40]
    assert t["mask"].tolist() == [1, 0, 255] and t["scalar"].shape == ()
else:
    t = {name: bytes(v["data"]) for name, v in safetensors.deserialize(open(path, "rb").read())}
    assert struct.unpack("<6f", t["fc1.weight"])[:3] == (0.25, -1.5, 3.0)
    assert struct.unpack("<2Q", t["bin.weight.bits"]) == (0xDEADBEEF01234567, 0x3F)
    assert struct.unpack("<2q", t["step_counts"]) == (-3, 1 << 40)
    assert t["mask"] == bytes([1, 0, 255])
print("ok", len(t), "numpy" if np is not None else "raw")
"#;
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("ok 9 "), "{stdout}");
    println!("python check passed ({})", stdout.trim());
}

fn code(err: &CheckpointError) -> String {
    miette::Diagnostic::code(err)
        .map(|c| c.to_string())
        .unwrap_or_default()
}

#[test]
fn packed_binary_weights_round_trip_signs_and_scales() {
    let (filters, n) = (3, 70);
    let values: Vec<f32> = (0..filters * n)
        .map(|i| ((i * 37 % 101) as f32 - 50.5) / 17.0)
        .collect();
    let mut ck = Checkpoint::new();
    ck.insert(
        "bin.weight",
        Tensor::new(&[filters, 7, 10], &values).unwrap(),
    );
    ck.insert("fc.bias", Tensor::new(&[2], &[0.5f32, -1.0]).unwrap());
    assert_eq!(ck.pack_binary(&["bin.weight"]).unwrap(), ["bin.weight"]);
    assert_eq!(ck.tensors["bin.weight.bits"].shape(), [filters, 9]);
    assert_eq!(ck.metadata["packed.bin.weight"], "[3,7,10]");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    ck.save(&path).unwrap();
    let back = Checkpoint::load(&path).unwrap().unpacked().unwrap();
    back.check_against(&[("bin.weight", &[3, 7, 10]), ("fc.bias", &[2])])
        .unwrap();
    let restored = back.values::<f32>("bin.weight").unwrap();
    for (row, (orig, got)) in values.chunks(n).zip(restored.chunks(n)).enumerate() {
        let alpha = orig.iter().map(|v| f64::from(v.abs())).sum::<f64>() / n as f64;
        for (o, g) in orig.iter().zip(got) {
            assert_eq!(o.signum(), g.signum(), "row {row}");
            assert_eq!(g.abs(), alpha as f32, "row {row}");
        }
    }
    assert!(back.metadata.keys().all(|k| !k.starts_with("packed.")));
}

#[test]
fn weights_with_an_exact_zero_stay_f32() {
    let mut ck = Checkpoint::new();
    ck.insert(
        "bin.weight",
        Tensor::new(&[2, 2], &[0.5f32, 0.0, -1.0, 2.0]).unwrap(),
    );
    assert!(ck.pack_binary(&["bin.weight"]).unwrap().is_empty());
    assert_eq!(
        ck.unpacked().unwrap().values::<f32>("bin.weight").unwrap(),
        [0.5, 0.0, -1.0, 2.0]
    );
}

#[test]
fn damaged_packing_is_a_clear_error() {
    let mut ck = Checkpoint::new();
    ck.insert("bin.weight", Tensor::new(&[2, 3], &[1.0f32; 6]).unwrap());
    ck.pack_binary(&["bin.weight"]).unwrap();
    let mut short = ck.clone();
    short.insert("bin.weight.bits", Tensor::new(&[1, 1], &[0u8]).unwrap());
    let err = short.unpacked().unwrap_err();
    assert_eq!(code(&err), "nnc::checkpoint::bad_packing");
    assert!(err.to_string().contains("bin.weight"), "{err}");
    let mut scales = ck.clone();
    scales.insert("bin.weight.scale", Tensor::new(&[3], &[1.0f32; 3]).unwrap());
    assert_eq!(
        code(&scales.unpacked().unwrap_err()),
        "nnc::checkpoint::bad_packing"
    );
    let mut shape = ck.clone();
    shape
        .metadata
        .insert("packed.bin.weight".into(), "[2,x]".into());
    assert_eq!(
        code(&shape.unpacked().unwrap_err()),
        "nnc::checkpoint::bad_packing"
    );
    let mut dtype = ck;
    dtype.insert("bin.weight.bits", Tensor::new(&[2, 1], &[1u64; 2]).unwrap());
    assert_eq!(
        code(&dtype.unpacked().unwrap_err()),
        "nnc::checkpoint::wrong_dtype"
    );
}
