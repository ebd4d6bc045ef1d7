//! `nnc bench` through the binary on every spec in specs/ and specs/bench/ that trains:
//! both backends report every key of the documented JSON with positive timings.

use std::path::{Path, PathBuf};
use std::process::Command;

fn specs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["specs", "specs/bench"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "nn") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A spec without a train block (AlexNet, GoogLeNet: no data here) or whose teacher
/// checkpoint exists only after its teacher ran has nothing to bench in a clean checkout.
fn benchable(path: &Path) -> bool {
    let checked = nnc::check_path(path, &|p| std::fs::read(p));
    !checked.program.trains.is_empty() && checked.program.trains.iter().all(|t| t.teacher.is_none())
}

#[test]
fn bench_reports_both_backends_on_every_training_spec() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut benched = 0;
    for path in specs().into_iter().filter(|p| benchable(p)) {
        let out = Command::new(env!("CARGO_BIN_EXE_nnc"))
            .args(["bench", "--json", "--time", "0.01"])
            .arg(&path)
            // Keep a big network's batch small: this checks the command, not speed.
            .args(["--set", "train.batch=4"])
            .current_dir(root)
            .output()
            .unwrap();
        let name = path.display();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let results = v["results"].as_array().unwrap();
        let backends: Vec<&str> = results
            .iter()
            .map(|r| r["backend"].as_str().unwrap())
            .collect();
        assert_eq!(backends, ["jit", "reference"], "{name}");
        for r in results {
            for key in ["compile_ms", "train_samples_per_s"] {
                assert!(r[key].as_f64().unwrap() > 0.0, "{name}: {key} in {r}");
            }
            for key in ["batch1", "batch"] {
                let us = r["infer_latency_us"][key].as_f64().unwrap();
                assert!(us > 0.0, "{name}: infer_latency_us.{key} in {r}");
            }
            assert!(r.get("peak_rss_mb").is_some(), "{name}: {r}");
        }
        benched += 1;
    }
    assert!(benched >= 10, "only {benched} specs benched");
}
