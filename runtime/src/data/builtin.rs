//! Data sets that ship with nnc: the bundled digits and the seeded synthetic generators.
//!
//! [`BUILTINS`] lists every name with its parameters and defaults; it is the single source
//! for validation here and for help text in the compiler. Generators are bit-reproducible for
//! a seed (ChaCha8 stream [`crate::rng::stream::GENERATOR`] of that seed).

use super::csv_file::{parse_csv, CsvOptions};
use super::dataset::{Dataset, Targets};
use super::error::DataError;
use super::params::{param, BuiltinInfo, Params};
use super::{sentiment, synthetic};

/// The digits file, embedded so `builtin("digits")` works from any working directory.
/// Origin, checksum and credit: `runtime/data/README.md`.
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Every builtin data set. `n` is the number of samples where a generator takes one.
pub const BUILTINS: &[BuiltinInfo] = &[
    BuiltinInfo {
        name: "digits",
        summary: "1797 8x8 handwritten digits (UCI optdigits), 64 features 0..16, 10 classes",
        params: &[],
        build: |_, _| digits(),
    },
    BuiltinInfo {
        name: "blobs",
        summary: "Gaussian clusters, one class per cluster, classes balanced (sample i is class i mod centers)",
        params: &[
            param("n", 300.0, "number of samples"),
            param("centers", 3.0, "number of clusters (= classes)"),
            param("dim", 2.0, "number of features"),
            param("std", 1.0, "standard deviation of each cluster"),
            param("box", 10.0, "cluster centres are uniform in [-box, box]^dim"),
        ],
        build: synthetic::blobs,
    },
    BuiltinInfo {
        name: "spirals",
        summary: "two interleaved spirals in 2-D, one per class",
        params: &[
            param("n", 200.0, "number of samples"),
            param("turns", 1.5, "revolutions of each spiral"),
            param("noise", 0.05, "standard deviation of Gaussian noise added to each coordinate"),
        ],
        build: synthetic::spirals,
    },
    BuiltinInfo {
        name: "xor",
        summary: "the XOR truth table: corners of the unit square cycled, label a xor b",
        params: &[
            param("n", 4.0, "number of samples (4 gives the exact truth table)"),
            param("noise", 0.0, "standard deviation of Gaussian noise added to the corners"),
        ],
        build: synthetic::xor,
    },
    BuiltinInfo {
        name: "grid1d",
        summary: "n equally spaced scalars in [lo, hi] with target sin(freq*pi*x) (shattered-gradient experiments)",
        params: &[
            param("n", 256.0, "number of grid points"),
            param("lo", -2.0, "first grid point"),
            param("hi", 2.0, "last grid point"),
            param("freq", 1.0, "frequency of the sine target"),
            param("noise", 0.0, "standard deviation of Gaussian noise added to the target"),
        ],
        build: synthetic::grid1d,
    },
    BuiltinInfo {
        name: "but_sentiment",
        summary: "synthetic 'A but B' sentiment: clause vectors A and B plus has_but; with 'but' the label follows B",
        params: &[
            param("n", 1000.0, "number of samples"),
            param("dim", 8.0, "features per clause"),
            param("but_fraction", 0.05, "fraction of samples with 'but' (exact count, rounded)"),
            param("signal", 1.0, "length of the sentiment direction in each clause"),
            param("noise", 1.0, "standard deviation of per-feature Gaussian noise"),
            param("unlabelled_but", 0.0, "fraction of the 'but' samples without a label (they train only through rules)"),
        ],
        build: sentiment::but_sentiment,
    },
    BuiltinInfo {
        name: "imbalanced_digits",
        summary: "digits as one digit (class 1, minority) vs the rest (class 0), minority subsampled to 1:ratio",
        params: &[
            param("n", 1700.0, "target number of samples (capped by what digits can supply)"),
            param("digit", 0.0, "the minority digit 0..9"),
            param("ratio", 20.0, "majority samples per minority sample"),
        ],
        build: imbalanced_digits,
    },
    BuiltinInfo {
        name: "digits_multi",
        summary: "the digits with two inputs and two targets: 64 pixels then the mean of each 4x4 quadrant (4 features); targets: the digit (10 classes), then its parity (even, odd)",
        params: &[],
        build: |_, _| digits_multi(),
    },
];

/// A builtin data set with default parameters and seed 0 (`builtin("digits")` in a spec).
pub fn builtin(name: &str) -> Result<Dataset, DataError> {
    builtin_with(name, 0, &[])
}

/// A builtin data set with the given seed and named parameters (others take their defaults
/// from [`BUILTINS`]). Unknown names and parameters are errors, never ignored.
pub fn builtin_with(name: &str, seed: u64, params: &[(&str, f64)]) -> Result<Dataset, DataError> {
    let Some(info) = BUILTINS.iter().find(|info| info.name == name) else {
        let known: Vec<String> = BUILTINS
            .iter()
            .map(|info| format!("`{}`", info.name))
            .collect();
        return Err(DataError::UnknownBuiltin {
            name: name.to_string(),
            known: known.join(", "),
        });
    };
    let params = Params::resolve(info, params)?;
    (info.build)(seed, &params)
}

fn digits() -> Result<Dataset, DataError> {
    let file = "builtin \"digits\"";
    let text = super::file::gunzip_if_gzip(file, DIGITS_CSV_GZ.to_vec())?;
    parse_csv(file, &text, &CsvOptions::default())
}

/// The digits for networks with several inputs and outputs: features are the 64 pixels
/// followed by the mean pixel of each 4x4 quadrant (top left, top right, bottom left,
/// bottom right); target column 0 is the digit, column 1 its parity.
fn digits_multi() -> Result<Dataset, DataError> {
    let digits = digits()?;
    let pixels = digits.features();
    let n = pixels.nrows();
    let mut features = ndarray::Array2::zeros((n, 68));
    for (i, row) in pixels.outer_iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            features[[i, j]] = v;
            let quadrant = (j / 32) * 2 + (j % 8) / 4;
            features[[i, 64 + quadrant]] += v / 16.0;
        }
    }
    let labels = digits.labels().unwrap_or_default();
    let parity = labels.iter().map(|l| l % 2).collect();
    Dataset::new(
        "builtin \"digits_multi\"",
        features,
        digits.targets().clone(),
    )?
    .with_more_targets(vec![Targets::Classes {
        labels: parity,
        n_classes: 2,
    }])
}

/// One digit against the rest; both sides are drawn without replacement, then kept in the
/// original file order.
fn imbalanced_digits(seed: u64, params: &Params) -> Result<Dataset, DataError> {
    let n = params.count("n")? as f64;
    let digit = params.count_in("digit", 0, 9)? as u32;
    let ratio = params.positive("ratio")?;
    let digits = digits()?;
    #[allow(
        clippy::expect_used,
        reason = "digits() builds class targets; the builtin tests load it"
    )]
    let labels = digits.labels().expect("digits has class labels");
    let (minority, majority): (Vec<usize>, Vec<usize>) =
        (0..labels.len()).partition(|&i| labels[i] == digit);
    // Shrink both sides by the same factor if digits cannot supply the requested counts, so
    // the ratio holds.
    let (want_minor, want_major) = (n / (ratio + 1.0), n * ratio / (ratio + 1.0));
    let factor = 1f64
        .min(minority.len() as f64 / want_minor)
        .min(majority.len() as f64 / want_major);
    let n_minor = ((want_minor * factor).round() as usize).clamp(1, minority.len());
    let n_major = ((want_major * factor).round() as usize).clamp(1, majority.len());

    let mut rng = crate::rng::rng_for(seed, crate::rng::stream::GENERATOR);
    let mut chosen: Vec<usize> = rand::seq::index::sample(&mut rng, minority.len(), n_minor)
        .into_iter()
        .map(|i| minority[i])
        .chain(
            rand::seq::index::sample(&mut rng, majority.len(), n_major)
                .into_iter()
                .map(|i| majority[i]),
        )
        .collect();
    chosen.sort_unstable();
    let subset = digits.subset(&chosen);
    let labels = chosen
        .iter()
        .map(|&i| u32::from(labels[i] == digit))
        .collect();
    Dataset::new(
        &format!("builtin \"imbalanced_digits\" (digit {digit})"),
        subset.features().clone(),
        Targets::Classes {
            labels,
            n_classes: 2,
        },
    )?
    .with_class_names(vec!["other".to_string(), format!("digit {digit}")])
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn embedded_digits_match_the_documented_sha256() {
        let digest = Sha256::digest(DIGITS_CSV_GZ);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
        );
    }

    /// A generator's class names are display names, not labels read from a file: a spec's
    /// `classes` renames them by position (specs/imbalance.nn calls `digit 3` `three`).
    #[test]
    fn generator_class_names_are_renamed_by_position() {
        let ds = builtin("imbalanced_digits")
            .unwrap()
            .with_class_names(vec!["other".into(), "three".into()])
            .unwrap();
        assert_eq!(ds.class_names().unwrap(), ["other", "three"]);
        assert_eq!(ds.n_classes(), 2);
    }

    #[test]
    fn digits_multi_has_quadrant_means_and_parity() {
        let ds = builtin("digits_multi").unwrap();
        let digits = builtin("digits").unwrap();
        assert_eq!(ds.n_features(), 68);
        assert_eq!(ds.n_target_columns(), 2);
        let row = ds.features().row(5);
        let pixel = |r: usize, c: usize| digits.features()[[5, r * 8 + c]];
        let top_right: f32 = (0..4)
            .flat_map(|r| (4..8).map(move |c| (r, c)))
            .map(|(r, c)| pixel(r, c))
            .sum();
        assert!((row[65] - top_right / 16.0).abs() < 1e-5);
        let Some(Targets::Classes { labels, n_classes }) = ds.target_column(1) else {
            panic!("parity is a class column");
        };
        assert_eq!(*n_classes, 2);
        assert_eq!(labels[5], digits.labels().unwrap()[5] % 2);
    }

    #[test]
    fn every_builtin_loads_with_defaults() {
        for info in BUILTINS {
            let dataset = builtin(info.name).unwrap_or_else(|err| panic!("{}: {err}", info.name));
            assert!(dataset.n_samples() > 0, "{}", info.name);
        }
    }
}
