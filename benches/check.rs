//! `nnc check` on a generated spec of 10,000 layers (a target: well under a second).
//! Run: `cargo bench --bench check`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::Path;

/// A network of `n` layers: `n / 2` dense layers, each followed by a relu, one `let` each.
pub fn generated_spec(n: usize) -> String {
    let mut text = String::from("network deep {\n  input x: [64]\n  let h = x\n");
    for i in 0..n / 2 {
        text.push_str(&format!(
            "  let h = h |> dense(64, name: \"fc{i}\") |> relu\n"
        ));
    }
    text.push_str("  output y = h |> dense(10)\n}\n");
    text
}

fn no_files(_: &Path) -> std::io::Result<Vec<u8>> {
    Err(std::io::ErrorKind::NotFound.into())
}

fn bench(c: &mut Criterion) {
    let text = generated_spec(10_000);
    let checked = nnc::check_text("deep.nn", &text, &no_files);
    assert!(!checked.has_errors());
    assert!(checked.program.networks[0].layers.len() > 10_000);
    c.bench_function("check 10,000 layers", |b| {
        b.iter(|| nnc::check_text("deep.nn", &text, &no_files))
    });
    let pipe = format!(
        "network p {{\n  input x: [64]\n  output y = x{}\n}}\n",
        " |> dense(64) |> relu".repeat(5_000)
    );
    c.bench_function("check a 10,000-stage pipe", |b| {
        b.iter(|| nnc::check_text("pipe.nn", &pipe, &no_files))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
