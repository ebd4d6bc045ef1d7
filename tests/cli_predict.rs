//! `nnc predict` end to end: predictions on the test split equal `nnc eval`'s (classes and
//! loss), on both backends, from CSV, NPY output and PNG images; it reads only the spec and
//! the model (the training data is deleted first).

#[path = "common/cli.rs"]
mod cli;

use cli::{json, nnc, Dir};
use std::path::Path;

const CLASSES: [&str; 3] = ["owl", "cat", "dog"];

/// Three Gaussian blobs in 4 dimensions with text labels, deterministic.
fn blobs(n: usize, offset: usize) -> String {
    let mut out = String::from("a,b,c,d,animal\n");
    for i in 0..n {
        let k = (i + offset) % 3;
        let wobble = |j: usize| (((i + offset) * 37 + j * 11) % 17) as f64 / 8.0 - 1.0;
        let v: Vec<String> = (0..4)
            .map(|j| {
                format!(
                    "{:.3}",
                    10.0 * (k == j % 3) as u8 as f64 + 3.0 * wobble(j) + 50.0
                )
            })
            .collect();
        out.push_str(&format!("{},{}\n", v.join(","), CLASSES[k]));
    }
    out
}

const SPEC: &str = r#"
data animals {
  source: csv("train.csv", header: true, label: "animal")
  test: csv("test.csv", header: true, label: "animal")
  scale: standardize
}
network net {
  input x: [4]
  let h = x |> dense(16) |> relu
  output logits = h |> dense(3)
}
train {
  network: net
  data: animals
  optimizer: adam(lr: 0.01)
  batch: 16
  epochs: 3
  seed: 1
}
"#;

/// Rows of a predictions CSV: (predicted name, probabilities).
fn read_predictions(text: &str) -> (Vec<String>, Vec<(String, Vec<f64>)>) {
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[1].to_string(),
                f[2..].iter().map(|v| v.parse().unwrap()).collect(),
            )
        })
        .collect();
    (header, rows)
}

/// Test labels by name, in file order.
fn test_labels(csv: &str) -> Vec<String> {
    csv.lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().to_string())
        .collect()
}

#[test]
fn predictions_on_the_test_split_equal_evals() {
    let dir = Dir::new("predict-roundtrip");
    dir.write("train.csv", &blobs(120, 0));
    let test_csv = blobs(30, 1);
    dir.write("test.csv", &test_csv);
    dir.write("spec.nn", SPEC);
    for backend in ["reference", "jit"] {
        let out = format!("run-{backend}");
        let o = nnc(
            &[
                "run",
                "spec.nn",
                "--quiet",
                "--backend",
                backend,
                "--out",
                &out,
            ],
            &dir.0,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let model = format!("{out}/model.safetensors");
        let eval = json(&nnc(
            &[
                "eval",
                "spec.nn",
                "--checkpoint",
                &model,
                "--json",
                "--backend",
                backend,
            ],
            &dir.0,
        ));
        // Scoring needs only the spec and the model.
        std::fs::copy(dir.0.join("train.csv"), dir.0.join("train.keep")).unwrap();
        std::fs::remove_file(dir.0.join("train.csv")).unwrap();
        let p_csv = format!("p-{backend}.csv");
        let o = nnc(
            &[
                "predict",
                "spec.nn",
                "--checkpoint",
                &model,
                "--input",
                "test.csv",
            ]
            .into_iter()
            .chain(["--out", &p_csv, "--backend", backend])
            .collect::<Vec<_>>(),
            &dir.0,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::rename(dir.0.join("train.keep"), dir.0.join("train.csv")).unwrap();
        let (header, rows) =
            read_predictions(&std::fs::read_to_string(dir.0.join(&p_csv)).unwrap());
        // Text labels are classes in sorted order: cat, dog, owl.
        assert_eq!(header, ["row", "predicted", "p_cat", "p_dog", "p_owl"]);
        let labels = test_labels(&test_csv);
        assert_eq!(rows.len(), labels.len());
        let index = |name: &str| {
            ["cat", "dog", "owl"]
                .iter()
                .position(|c| *c == name)
                .unwrap()
        };
        let mut confusion = vec![vec![0u64; 3]; 3];
        let mut loss = 0.0;
        for ((predicted, probs), label) in rows.iter().zip(&labels) {
            confusion[index(label)][index(predicted)] += 1;
            loss -= probs[index(label)].ln();
            assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-5);
        }
        loss /= labels.len() as f64;
        let want: Vec<Vec<u64>> =
            serde_json::from_value(eval["test"]["confusion"].clone()).unwrap();
        assert_eq!(confusion, want, "{backend}");
        // eval's loss is the graph's log-softmax; these are f32 probabilities printed in
        // their shortest form, so the two agree to f32 rounding.
        let eval_loss = eval["test"]["loss"].as_f64().unwrap();
        assert!(
            (loss - eval_loss).abs() < 1e-5 * (1.0 + eval_loss),
            "{loss} vs {eval_loss}"
        );
        // NPY output: the same probabilities.
        let p_npy = format!("p-{backend}.npy");
        let o = nnc(
            &[
                "predict",
                "spec.nn",
                "--checkpoint",
                &model,
                "--input",
                "test.csv",
                "--out",
                &p_npy,
                "--backend",
                backend,
            ],
            &dir.0,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let bytes = std::fs::read(dir.0.join(&p_npy)).unwrap();
        let values = npy_f32(&bytes);
        let flat: Vec<f32> = rows
            .iter()
            .flat_map(|r| r.1.iter().map(|&v| v as f32))
            .collect();
        assert_eq!(values, flat);
    }
    // A file with another number of columns is refused with a report.
    dir.write("bad.csv", "1,2,3\n");
    let o = nnc(
        &[
            "predict",
            "spec.nn",
            "--checkpoint",
            "run-jit/model.safetensors",
            "--input",
            "bad.csv",
        ],
        &dir.0,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nnc::data::shape_mismatch"));
}

/// The data of a little-endian float32 `.npy` file (its header skipped).
fn npy_f32(bytes: &[u8]) -> Vec<f32> {
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = String::from_utf8_lossy(&bytes[10..10 + header_len]);
    assert!(header.contains("'<f4'"), "{header}");
    bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn write_png(path: &Path, w: u32, h: u32, gray: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().unwrap();
    writer.write_image_data(gray).unwrap();
}

/// A folder of 2x2 grayscale PNGs scores as the same pixels given as CSV rows.
#[test]
fn png_images_score_like_their_pixels() {
    let dir = Dir::new("predict-png");
    let mut csv = String::new();
    for i in 0..60u32 {
        let px: Vec<u32> = (0..4).map(|j| (i * 53 + j * 97) % 256).collect();
        let label = u32::from(px[0] > 127);
        csv.push_str(&format!(
            "{},{},{},{},{label}\n",
            px[0], px[1], px[2], px[3]
        ));
    }
    dir.write("pixels.csv", &csv);
    dir.write(
        "img.nn",
        r#"
data pixels {
  source: csv("pixels.csv")
  shape: [1, 2, 2]
  scale: divide(by: 255)
}
network net {
  input x: [1, 2, 2]
  output logits = x |> dense(2)
}
train { network: net  data: pixels  epochs: 2  batch: 8 }
"#,
    );
    let o = nnc(&["run", "img.nn", "--quiet", "--out", "run"], &dir.0);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::create_dir_all(dir.0.join("images")).unwrap();
    let mut rows = String::new();
    for (i, line) in csv.lines().take(5).enumerate() {
        let px: Vec<u8> = line
            .split(',')
            .take(4)
            .map(|v| v.parse().unwrap())
            .collect();
        write_png(&dir.0.join(format!("images/{i}.png")), 2, 2, &px);
        rows.push_str(&format!("{}\n", line.rsplit_once(',').unwrap().0));
    }
    dir.write("rows.csv", &rows);
    let score = |input: &str| {
        let o = nnc(
            &[
                "predict",
                "img.nn",
                "--checkpoint",
                "run/model.safetensors",
                "--input",
                input,
            ],
            &dir.0,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let (images, pixels) = (score("images"), score("rows.csv"));
    let body = |t: &str| -> Vec<String> {
        t.lines()
            .skip(1)
            .map(|l| l.split_once(',').unwrap().1.to_string())
            .collect()
    };
    assert_eq!(body(&images), body(&pixels));
    assert!(
        images.starts_with("file,predicted,p_0,p_1\n0.png,"),
        "{images}"
    );
    // One image of another size is refused.
    write_png(&dir.0.join("big.png"), 3, 2, &[0; 6]);
    let o = nnc(
        &[
            "predict",
            "img.nn",
            "--checkpoint",
            "run/model.safetensors",
            "--input",
            "big.png",
        ],
        &dir.0,
    );
    assert_eq!(o.status.code(), Some(1));
}
