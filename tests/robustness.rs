//! Bad input never panics, hangs or allocates without bound: every spec and diagnostic
//! fixture, truncated and mutated, specs generated from the grammar, pathological inputs,
//! and mutated data files (CSV, NPY, IDX) and checkpoints (safetensors) give a result or
//! an error. Every case goes through the functions the command line calls (check, render,
//! summary, fmt; the data and checkpoint loaders), with bounds on the report's size and on
//! the time per input byte. A few thousand seeded cases, in seconds; the cargo-fuzz targets
//! of fuzz/ run the same entry points for as long as one likes (docs/testing.md).

#[path = "common/grammar.rs"]
mod grammar;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn no_files(_: &Path) -> std::io::Result<Vec<u8>> {
    Err(std::io::ErrorKind::NotFound.into())
}

fn corpus() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut dirs = vec![root.join("specs"), root.join("tests/diagnostics")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "nn") {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    out.push((path, text));
                }
            }
        }
    }
    out.sort();
    assert!(!out.is_empty(), "the corpus is empty");
    out
}

/// What `nnc check` prints to stderr may not exceed this, whatever the input.
const MAX_REPORT: usize = 1 << 20;

/// Time allowed for one input: generous (CI machines are slow; this guards against hangs
/// and quadratic behaviour, `time_grows_linearly` measures), plus a share per byte.
fn time_bound(len: usize) -> Duration {
    Duration::from_secs(10) + Duration::from_micros(2 * len as u64)
}

/// Checks `text` as `nnc check`, `nnc summary` and `nnc fmt` do, asserting it finishes in
/// time and reports in bounded size. A panic fails the test by itself.
fn check(label: &str, text: &str) -> nnc::Checked {
    let start = Instant::now();
    let checked = nnc::check_text("fuzz.nn", text, &no_files);
    let report = nnc::diagnostics::render(&checked.diags, &checked.sources, Default::default());
    assert!(
        report.len() < MAX_REPORT,
        "{label}: a report of {} bytes",
        report.len()
    );
    for net in &checked.program.networks {
        let _ = nnc::summary::render(&nnc::summary::summarize(net));
    }
    if !nnc::parse_text("fuzz.nn", text).has_errors() {
        let formatted = nnc::fmt::format_source("fuzz.nn", text);
        assert!(formatted.is_ok(), "{label}: formats with an internal error");
    }
    assert!(
        start.elapsed() < time_bound(text.len()),
        "{label}: took {:?}",
        start.elapsed()
    );
    checked
}

#[test]
fn truncated_specs() {
    for (path, text) in corpus() {
        let len = text.len();
        let step = (len / 40).max(1);
        for cut in (0..len).step_by(step) {
            let mut cut = cut;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            check(&format!("{} cut at {cut}", path.display()), &text[..cut]);
        }
    }
}

#[test]
fn mutated_specs() {
    const TOKENS: &[&str] = &[
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "=",
        "|>",
        "+",
        "*",
        "-",
        "^",
        "=>",
        "<=>",
        "0",
        "-1",
        "99999999999999999999",
        "1e308",
        "1e999",
        "\"",
        "\\",
        "\0",
        "repeat",
        "block",
        "network",
        "let",
        "input",
        "output",
        "return",
        "from",
        "not",
        "x",
        "h",
        "dense",
        "conv",
        "concat",
        "//",
        "/*",
        "\u{FFFD}",
        "\u{200B}",
        "\n",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    for (path, text) in corpus() {
        for round in 0..60 {
            let mut bytes = text.clone().into_bytes();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..=bytes.len());
                match rng.random_range(0..4) {
                    0 => {
                        let tok = TOKENS[rng.random_range(0..TOKENS.len())];
                        bytes.splice(at..at, tok.bytes());
                    }
                    1 if at < bytes.len() => {
                        let end = (at + rng.random_range(1..20)).min(bytes.len());
                        bytes.drain(at..end);
                    }
                    2 if at < bytes.len() => bytes[at] = rng.random(),
                    _ => {
                        // Duplicate a slice: repeated items, statements and arguments.
                        let end = (at + rng.random_range(1..200)).min(bytes.len());
                        let piece: Vec<u8> = bytes[at..end].to_vec();
                        bytes.splice(at..at, piece);
                    }
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            check(&format!("{} round {round}", path.display()), &text);
        }
    }
}

#[test]
fn random_bytes() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..300 {
        let len = rng.random_range(0..400);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        check("random bytes", &String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn pathological_inputs() {
    let net = |body: &str| format!("network n {{\n  input x: [8]\n{body}\n}}\n");
    let cases: Vec<(&str, String)> = vec![
        ("nul bytes", "network n {\0 input x: [4]\0 }".into()),
        ("megabytes of comment", format!("// {}\n{}", "x".repeat(4 << 20), net("  output y = x |> dense(2)"))),
        ("huge block comment", format!("/* {} */", "y ".repeat(2 << 20))),
        ("unclosed block comment", format!("/* {}", "z".repeat(100_000))),
        ("unclosed string", format!("data d {{ source: csv(\"{}", "a".repeat(100_000))),
        ("parentheses", net(&format!("  output y = {}x{}", "(".repeat(50_000), ")".repeat(50_000)))),
        ("lists", net(&format!("  let l = {}1{}", "[".repeat(50_000), "]".repeat(50_000)))),
        ("prefix minus", net(&format!("  let k = {}1", "-".repeat(50_000)))),
        ("prefix not", format!("rules r {{ rule a: {}true }}", "not ".repeat(20_000))),
        ("power chain", net(&format!("  let k = 2{}", "^2".repeat(50_000)))),
        ("implies chain", format!("rules r {{ rule a: x{} }}", " => x".repeat(20_000))),
        ("addition chain", net(&format!("  let k = 1{}", " + 1".repeat(50_000)))),
        ("tensor addition chain", net(&format!("  output y = x{}", " + x".repeat(20_000)))),
        ("long pipe", net(&format!("  output y = x{}", " |> relu".repeat(20_000)))),
        ("huge numbers", net("  let a = 1e999\n  let b = 123456789012345678901234567890\n  output y = x |> dense(b)")),
        ("huge repeat", net("  let h = x\n  let h = repeat 1000000000000 { h |> relu }\n  output y = h")),
        ("huge shape", "network n { input x: [18446744073709551615, 18446744073709551615] output y = x |> flatten }".into()),
        ("many items", (0..5_000).map(|i| format!("network n{i} {{ input x: [1] output y = x }}\n")).collect()),
    ];
    for (label, text) in cases {
        let checked = check(label, &text);
        // A spec of nothing but a comment is empty: `nnc::parse::empty`.
        let valid = ["megabytes of comment", "many items", "long pipe"];
        assert_eq!(checked.has_errors(), !valid.contains(&label), "{label}");
    }
}

#[test]
fn exponential_block_expansion_is_bounded() {
    // Each level calls the one below twice: 2^40 layers if nothing stopped it.
    let mut text = String::from("block b0(x) { return x |> relu }\n");
    for i in 1..=40 {
        text.push_str(&format!(
            "block b{i}(x) {{ return x |> b{} |> b{} }}\n",
            i - 1,
            i - 1
        ));
    }
    text.push_str("network n { input x: [4] output y = x |> b40 }\n");
    let checked = check("exponential blocks", &text);
    assert!(checked
        .diags
        .iter()
        .any(|d| d.code == nnc::diagnostics::codes::RESOLVE_TOO_LARGE));
}

#[test]
fn deeply_nested_blocks_are_bounded() {
    let mut text = String::from("block b0(x) { return x |> relu }\n");
    for i in 1..=2_000 {
        text.push_str(&format!("block b{i}(x) {{ return x |> b{} }}\n", i - 1));
    }
    text.push_str("network n { input x: [4] output y = x |> b2000 }\n");
    let checked = check("nested blocks", &text);
    assert!(checked
        .diags
        .iter()
        .any(|d| d.code == nnc::diagnostics::codes::RESOLVE_TOO_LARGE));
}

#[test]
fn ten_billion_parameters_are_counted_not_allocated() {
    let text =
        "network big {\n  input x: [100000]\n  output y = x |> dense(100000, bias: false)\n}\n";
    let checked = check("big", text);
    assert!(!checked.has_errors());
    let s = nnc::summary::summarize(&checked.program.networks[0]);
    assert_eq!(s.params.weights, 10_000_000_000);
    assert_eq!(s.macs, 10_000_000_000);
}

/// Specs drawn from the grammar (the formatter's generator), then each edited a few times.
#[test]
fn generated_specs() {
    let mut runner = TestRunner::new_with_rng(
        Default::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6e6e63);
    for case in 0..600 {
        let text = grammar::program()
            .new_tree(&mut runner)
            .expect("the generator never rejects")
            .current();
        check(&format!("generated {case}:\n{text}"), &text);
        for round in 0..2 {
            let edited = mutate(&mut rng, text.as_bytes());
            let edited = String::from_utf8_lossy(&edited);
            check(
                &format!("generated {case} edit {round}:\n{edited}"),
                &edited,
            );
        }
    }
}

/// Byte-level edits: a random byte, a deletion, a duplicated slice, a truncation.
fn mutate(rng: &mut rand::rngs::StdRng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..rng.random_range(1..4) {
        let at = rng.random_range(0..=out.len());
        match rng.random_range(0..5) {
            0 if at < out.len() => out[at] = rng.random(),
            1 if at < out.len() => {
                let end = (at + rng.random_range(1..16)).min(out.len());
                out.drain(at..end);
            }
            2 if at < out.len() => {
                let end = (at + rng.random_range(1..64)).min(out.len());
                let piece = out[at..end].to_vec();
                out.splice(at..at, piece);
            }
            3 => out.truncate(at),
            // A big number where a size or count is read: the usual way to ask for a lot.
            _ if at + 4 <= out.len() => out[at..at + 4].copy_from_slice(&[0xff, 0xff, 0xff, 0x7f]),
            _ => out.push(rng.random()),
        }
    }
    out
}

/// A temporary folder for the data and checkpoint cases.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nnc-robust-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loader's result: its error, rendered as the command line renders it, must be short.
fn assert_error_is_short<T, E: miette::Diagnostic + Send + Sync + 'static>(
    label: &str,
    result: Result<T, E>,
) {
    if let Err(e) = result {
        let text = format!("{:?}", miette::Report::new(e));
        assert!(
            text.len() < MAX_REPORT,
            "{label}: a {} byte error",
            text.len()
        );
    }
}

fn npy(header_dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = header_dict.to_string();
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.bytes());
    out.extend(data);
    out
}

fn idx(magic_type: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, magic_type, dims.len() as u8];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(data);
    out
}

#[test]
fn mutated_data_files() {
    use nnc_runtime::data::{load_csv, load_idx, load_npy, CsvOptions};
    let dir = scratch("data");
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xda7a);
    let csv = b"a,b,label\n1.5,2,cat\n-3,4e2,dog\n0,0.25,cat\n7,8,bird\n".to_vec();
    let x: Vec<u8> = (0..12).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let y: Vec<u8> = [0i64, 1, 0, 1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let npy_x = npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }",
        &x,
    );
    let npy_y = npy(
        "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }",
        &y,
    );
    let idx_x = idx(0x08, &[4, 2, 2], &(0..16).collect::<Vec<u8>>());
    let idx_y = idx(0x08, &[4], &[0, 1, 2, 1]);
    let header = CsvOptions {
        header: true,
        ..Default::default()
    };
    for case in 0..300 {
        let start = Instant::now();
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::write(&a, mutate(&mut rng, &csv)).unwrap();
        assert_error_is_short(&format!("csv {case}"), load_csv(&a, &header));
        let (x, y) = match case % 2 {
            0 => (mutate(&mut rng, &npy_x), npy_y.clone()),
            _ => (npy_x.clone(), mutate(&mut rng, &npy_y)),
        };
        std::fs::write(&a, x).unwrap();
        std::fs::write(&b, y).unwrap();
        assert_error_is_short(&format!("npy {case}"), load_npy(&a, &b));
        let (x, y) = match case % 2 {
            0 => (mutate(&mut rng, &idx_x), idx_y.clone()),
            _ => (idx_x.clone(), mutate(&mut rng, &idx_y)),
        };
        std::fs::write(&a, x).unwrap();
        std::fs::write(&b, y).unwrap();
        assert_error_is_short(&format!("idx {case}"), load_idx(&a, &b));
        assert!(start.elapsed() < time_bound(0), "data case {case}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn mutated_checkpoints() {
    use nnc_runtime::checkpoint::{Checkpoint, Tensor};
    let dir = scratch("checkpoint");
    let mut good = Checkpoint::new();
    good.insert(
        "fc1.weight",
        Tensor::new(&[3, 2], &[1.0f32, 2., 3., 4., 5., 6.]).unwrap(),
    );
    good.insert("fc1.bias", Tensor::new(&[3], &[0.5f32, 0., -1.]).unwrap());
    good.insert("step", Tensor::new(&[1], &[7u64]).unwrap());
    let bytes = good.to_bytes().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xc4ec);
    let path = dir.join("model.safetensors");
    for case in 0..600 {
        std::fs::write(&path, mutate(&mut rng, &bytes)).unwrap();
        let start = Instant::now();
        match Checkpoint::load(&path) {
            Ok(c) => {
                assert_error_is_short("values", c.values::<f32>("fc1.weight"));
                assert_error_is_short(
                    "shapes",
                    c.check_against(&[("fc1.weight", &[3, 2]), ("fc1.bias", &[3])]),
                );
            }
            Err(e) => assert_error_is_short(&format!("checkpoint {case}"), Err::<(), _>(e)),
        }
        assert!(
            start.elapsed() < time_bound(bytes.len()),
            "checkpoint {case}"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

/// Checking time grows about linearly with the input: four times the input may take at
/// most ten times as long (a quadratic pass would take sixteen), plus scheduling noise.
#[test]
fn time_grows_linearly() {
    let net = |body: String| format!("network n {{\n  input x: [8]\n{body}\n}}\n");
    type Family = (&'static str, Box<dyn Fn(usize) -> String>);
    let families: Vec<Family> = vec![
        (
            "flat sum",
            Box::new(move |n| net(format!("  output y = x{}", " + x".repeat(n)))),
        ),
        (
            "long pipe",
            Box::new(move |n| net(format!("  output y = x{}", " |> relu".repeat(n)))),
        ),
        (
            "many lets",
            Box::new(move |n| net((0..n).map(|i| format!("  let h{i} = x\n")).collect())),
        ),
        (
            "many errors",
            Box::new(move |n| net((0..n).map(|i| format!("  let h{i} = nope{i}\n")).collect())),
        ),
        (
            "many items",
            Box::new(|n| {
                (0..n)
                    .map(|i| format!("block b{i}(x) {{ return x }}\n"))
                    .collect()
            }),
        ),
    ];
    for (label, make) in families {
        let time = |n: usize| {
            let text = make(n);
            let start = Instant::now();
            check(label, &text);
            start.elapsed()
        };
        let small = time(2_000);
        let large = time(8_000);
        assert!(
            large < small * 10 + Duration::from_millis(200),
            "{label}: {small:?} for 2,000, {large:?} for 8,000"
        );
    }
}
