//! Gradient clipping in the compiled training step, on both backends, against a hand
//! computation: one SGD step (lr 0.5, no momentum) without clipping gives the gradient
//! g = (w0 - w1) / lr; the clipped steps must move the weights by lr · clamp(g, -c, c) and
//! by lr · g · min(1, c / (‖g‖ + 1e-6)) (PyTorch's `clip_grad_value_` and
//! `clip_grad_norm_`, ‖g‖ over every parameter).

use nnc::train::{Backend, State, Trainer};
use std::path::{Path, PathBuf};

const LR: f64 = 0.5;

/// Eight examples with large features (no scaling), so the gradients are large.
fn data_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nnc-clipping-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rows: String = (0..8)
        .map(|i| {
            let f = |k: i32| ((i * 7 + k * 3) % 11) as f32 - 5.0;
            format!("{},{},{},{}\n", f(1), f(2), f(3), i % 2)
        })
        .collect();
    std::fs::write(dir.join("d.csv"), rows).unwrap();
    dir
}

fn spec(clip: &str) -> String {
    format!(
        "data d {{ source: csv(\"d.csv\") test: csv(\"d.csv\") }}\n\
         network n {{ input x: [3]\n let h = x |> dense(4) |> tanh\n output y = h |> dense(2) }}\n\
         train {{ network: n\n data: d\n optimizer: sgd(lr: {LR})\n batch: 8\n epochs: 1\n seed: 5\n{clip} }}\n"
    )
}

/// The weights before and after one step of `spec(clip)` on `backend`.
fn step(dir: &Path, clip: &str, backend: Backend) -> (State, State) {
    let text = spec(clip);
    let checked = nnc::check_text("spec.nn", &text, &|p| std::fs::read(p));
    assert!(!checked.has_errors(), "{:?}", checked.diags);
    let mut t = Trainer::new(&checked.program, &checked.program.trains[0], dir).unwrap();
    t.set_backend(backend);
    t.init().unwrap();
    let before = t.state().clone();
    t.train_epoch(&mut |_| {}).unwrap();
    assert_eq!(t.step(), 1);
    (before, t.state().clone())
}

fn flat(s: &State) -> Vec<f64> {
    s.values()
        .flat_map(|a| a.iter().map(|&v| v as f64))
        .collect()
}

#[test]
fn clipping_by_value_and_by_norm_match_the_hand_computation_on_both_backends() {
    let dir = data_dir();
    for backend in [Backend::Reference, Backend::Jit] {
        let (w0, w1) = step(&dir, "", backend);
        let (w0, w1) = (flat(&w0), flat(&w1));
        let g: Vec<f64> = w0.iter().zip(&w1).map(|(a, b)| (a - b) / LR).collect();
        let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        let (value, bound) = (0.05, norm / 4.0);
        assert!(g.iter().any(|x| x.abs() > 2.0 * value), "{g:?}");
        let by_value: Vec<f64> = g.iter().map(|x| x.clamp(-value, value)).collect();
        let coef = (bound / (norm + 1e-6)).min(1.0);
        let by_norm: Vec<f64> = g.iter().map(|x| x * coef).collect();
        for (clip, want) in [
            (format!("clip_value: {value}"), by_value),
            (format!("clip_norm: {bound}"), by_norm),
        ] {
            let (start, end) = step(&dir, &clip, backend);
            let (start, end) = (flat(&start), flat(&end));
            assert_eq!(start, w0, "same init");
            for (i, ((a, b), want)) in start.iter().zip(&end).zip(&want).enumerate() {
                let got = (a - b) / LR;
                // f32 weights of magnitude <= ~1: the step's rounding is ~1e-7 / LR.
                assert!(
                    (got - want).abs() <= 1e-5 + 1e-4 * want.abs(),
                    "{backend:?} {clip}: component {i}: {got} vs {want}"
                );
            }
        }
        // Clipping by norm above the gradient's norm changes nothing.
        let (_, loose) = step(&dir, &format!("clip_norm: {}", norm * 2.0), backend);
        for (a, b) in flat(&loose).iter().zip(&w1) {
            assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
