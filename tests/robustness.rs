//! Bad input never panics, hangs or allocates without bound: every spec and diagnostic
//! fixture, truncated and mutated, plus pathological inputs, gives a result or diagnostics.

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

/// Checks `text`, asserting it finishes quickly. A panic fails the test by itself.
fn check(label: &str, text: &str) -> nnc::Checked {
    let start = Instant::now();
    let checked = nnc::check_text("fuzz.nn", text, &no_files);
    // Generous: CI machines are slow, and this only guards against hangs.
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{label}: took {:?}",
        start.elapsed()
    );
    // Rendering must not panic either.
    let _ = nnc::diagnostics::render(&checked.diags, &checked.sources, Default::default());
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
        let valid = [
            "megabytes of comment",
            "huge block comment",
            "many items",
            "long pipe",
        ];
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
