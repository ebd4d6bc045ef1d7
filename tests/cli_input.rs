//! Inputs a new user hits by accident (issue 12): an empty spec, a binary file, a layer
//! or batch too large for the machine, a runaway expression. Each ends with a coded error
//! and exit 1, never an abort, a flood of output or raw bytes on the terminal.

#[path = "common/cli.rs"]
#[allow(dead_code)]
mod cli;

use cli::{nnc, Dir};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_fails_with(out: &Output, code: &str) {
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(out));
    assert!(stderr(out).contains(code), "no {code} in: {}", stderr(out));
}

/// `nnc args...` in `cwd` with a memory budget of `bytes`.
fn nnc_with_budget(args: &[&str], cwd: &Path, bytes: u64) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nnc"))
        .args(args)
        .current_dir(cwd)
        .env("NNC_MEMORY_LIMIT", bytes.to_string())
        .output()
        .expect("nnc runs")
}

#[test]
fn an_empty_spec_is_an_error_for_check_summary_and_run() {
    let dir = Dir::new("empty-spec");
    dir.write("empty.nn", "");
    dir.write(
        "comments.nn",
        "// nothing here yet\n\n/* still nothing */\n",
    );
    for file in ["empty.nn", "comments.nn"] {
        for cmd in ["check", "summary", "run"] {
            let out = nnc(&[cmd, file], &dir.0);
            assert_fails_with(&out, "nnc::parse::empty");
        }
    }
}

#[test]
fn a_binary_file_is_reported_without_echoing_its_bytes() {
    let dir = Dir::new("binary-spec");
    let mut bytes = b"network n {\n  input x: [4] \x1b[31m\x07\0".to_vec();
    bytes.extend([0xff, 0xfe, 0x1b, b'[', b'2', b'J', b'\n', 0x80, 0x9b, b'H']);
    std::fs::write(dir.0.join("bin.nn"), &bytes).unwrap();
    for cmd in ["check", "summary", "fmt"] {
        let out = nnc(&[cmd, "bin.nn"], &dir.0);
        assert_fails_with(&out, "nnc::io::not_utf8");
        let raw = out
            .stderr
            .iter()
            .any(|&b| b < 0x20 && b != b'\n' || b == 0x7f);
        assert!(
            !raw,
            "`nnc {cmd}` printed control bytes: {:?}",
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains('\u{9b}'),
            "a C1 control character was echoed"
        );
    }
}

const HUGE_LAYER: &str = "data d {\n  source: builtin(\"digits\")\n}\n\n\
    network n {\n  input x: [64]\n  output y = x |> dense(200000000, name: \"huge\")\n}\n\n\
    train t {\n  network: n\n  data: d\n  epochs: 1\n}\n";

#[test]
fn a_layer_larger_than_memory_is_refused_before_allocating() {
    let dir = Dir::new("huge-layer");
    dir.write("huge.nn", HUGE_LAYER);
    // 64 x 200,000,000 weights are 51.2 GB; a budget of 1 GB keeps the test independent
    // of the machine's memory (without the variable the budget is the physical memory).
    for backend in ["jit", "reference"] {
        let start = Instant::now();
        let out = nnc_with_budget(
            &["run", "huge.nn", "--quiet", "--backend", backend],
            &dir.0,
            1_000_000_000,
        );
        assert_fails_with(&out, "nnc::run::config");
        let err = stderr(&out);
        assert!(err.contains("51.2 GB") && err.contains("huge"), "{err}");
        assert!(err.contains("smaller"), "no fix suggested: {err}");
        assert!(start.elapsed() < Duration::from_secs(30));
    }
}

#[test]
fn a_batch_larger_than_memory_is_refused_before_allocating() {
    let dir = Dir::new("huge-batch");
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/digits.nn");
    let spec = spec.to_str().unwrap();
    let out = nnc_with_budget(
        &["ir", spec, "--stage", "plan", "--batch", "100000000000"],
        &dir.0,
        8_000_000_000,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("smaller batch"), "{}", stderr(&out));
}

#[test]
fn a_sum_of_a_million_terms_gets_one_short_error_quickly() {
    let dir = Dir::new("long-sum");
    let text = format!(
        "network n {{\n  input x: [8]\n  output y = x{}\n}}\n",
        " + x".repeat(1_000_000)
    );
    dir.write("sum.nn", &text);
    let start = Instant::now();
    let out = nnc(&["check", "sum.nn"], &dir.0);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert_fails_with(&out, "nnc::parse::too_deep");
    let err = stderr(&out);
    assert_eq!(err.matches("nnc::parse::too_deep").count(), 1, "{err}");
    assert!(err.len() < 4_000, "{} bytes of stderr:\n{err}", err.len());
}

/// A variable nnc cannot use is named in a warning, and an unusable memory limit falls
/// back to the machine's memory instead of turning the check off (it used to: a batch of
/// 10^11 then aborted while allocating).
#[test]
fn unusable_environment_variables_are_warned_about_and_ignored() {
    let dir = Dir::new("odd-env-warning");
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/digits.nn");
    let spec = spec.to_str().unwrap();
    let with = |var: &str, value: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_nnc"))
            .args(args)
            .current_dir(&dir.0)
            .env(var, value)
            .output()
            .expect("nnc runs")
    };
    let out = with("NNC_CPU_LEVEL", "warp9", &["check", spec]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: NNC_CPU_LEVEL=\"warp9\" is not a CPU level"),
        "{}",
        stderr(&out)
    );
    let out = with("NNC_MEMORY_LIMIT", "lots", &["check", spec]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: NNC_MEMORY_LIMIT=\"lots\" is not a number of bytes"),
        "{}",
        stderr(&out)
    );
    let out = with(
        "NNC_MEMORY_LIMIT",
        "lots",
        &["ir", spec, "--stage", "plan", "--batch", "100000000000"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("memory this machine has"),
        "{}",
        stderr(&out)
    );
    let out = with("NNC_MEMORY_LIMIT", "1000000000", &["check", spec]);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn odd_environment_variables_never_crash() {
    // The variables nnc reads (terminal width, memory budget, CPU level) set to nonsense or
    // extremes: an error is still rendered with its code and exit 1, a good spec still
    // checks (the panics audit: an environment variable is input too).
    let dir = Dir::new("odd-env");
    dir.write(
        "bad.nn",
        "network n {\n  input x: [-3, 8]\n  output y = x |> dense(4)\n}\n",
    );
    dir.write(
        "good.nn",
        "network n {\n  input x: [8]\n  output y = x |> dense(4)\n}\n",
    );
    for (var, value) in [
        ("COLUMNS", "0"),
        ("COLUMNS", "18446744073709551615"),
        ("COLUMNS", "wide"),
        ("NNC_MEMORY_LIMIT", "lots"),
        ("NNC_MEMORY_LIMIT", "0"),
        ("NNC_CPU_LEVEL", "warp9"),
    ] {
        let run = |file: &str| {
            Command::new(env!("CARGO_BIN_EXE_nnc"))
                .args(["check", file])
                .current_dir(&dir.0)
                .env(var, value)
                .output()
                .expect("nnc runs")
        };
        let bad = run("bad.nn");
        assert_fails_with(&bad, "nnc::shape::bad_dimension");
        let good = run("good.nn");
        assert_eq!(
            good.status.code(),
            Some(0),
            "{var}={value}: {}",
            stderr(&good)
        );
    }
}
