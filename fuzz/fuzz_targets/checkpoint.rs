//! Any bytes as a safetensors checkpoint: loading returns a checkpoint or an error, and
//! reading its tensors back never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nnc_runtime::checkpoint::Checkpoint;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("nnc-fuzz-ckpt-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("model.safetensors");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(c) = Checkpoint::load(&path) {
        let _ = c.values::<f32>("fc1.weight");
        let _ = c.check_against(&[("fc1.weight", &[3, 2])]);
    }
});
