use super::*;

/// Where test plots go: a fresh temporary directory, or `$NNC_KEEP_PLOTS` to look at them.
fn out_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("NNC_KEEP_PLOTS") {
        Some(dir) => {
            std::fs::create_dir_all(&dir).unwrap();
            (None, PathBuf::from(dir))
        }
        None => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().to_path_buf();
            (Some(dir), path)
        }
    }
}

/// Checks the PNG signature and IHDR size by hand, then decodes the whole image.
fn assert_png(path: &Path, width: u32, height: u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be_u32 = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((be_u32(16), be_u32(20)), (width, height));

    let mut reader = png::Decoder::new(std::io::Cursor::new(&bytes))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (width, height));
    // Something besides the white background was drawn.
    let non_white = pixels.chunks(3).filter(|px| px != &[255, 255, 255]).count();
    assert!(non_white > 1000, "only {non_white} non-white pixels");
}

#[test]
fn epoch_plot_writes_png_of_requested_size() {
    let (_guard, dir) = out_dir();
    let path = dir.join("loss.png");
    let chart = Chart::new("Loss per epoch")
        .x_label("epoch")
        .y_label("cross-entropy")
        .size(640, 480);
    let train = [2.3, 1.1, 0.7, 0.52, 0.45, 0.41, 0.38, 0.36];
    let test = [2.2, 1.2, 0.85, 0.7, f64::NAN, 0.66, 0.67, 0.69];
    epoch_plot(
        &path,
        &chart,
        &[("train loss", &train), ("test loss", &test)],
    )
    .unwrap();
    assert_png(&path, 640, 480);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.to_string_lossy().starts_with(".loss.png.")),
        "{names:?}"
    );
}

#[test]
fn accuracy_and_single_epoch_plots() {
    let (_guard, dir) = out_dir();
    let chart = Chart::new("Accuracy").x_label("epoch").y_label("accuracy");
    let path = dir.join("accuracy.png");
    let train = [0.52, 0.71, 0.83, 0.9, 0.93];
    let test = [0.5, 0.68, 0.77, 0.8, 0.81];
    epoch_plot(&path, &chart, &[("train", &train), ("test", &test)]).unwrap();
    assert_png(&path, 800, 600);
    // One epoch and all-NaN series must still give a picture, not an error.
    let path = dir.join("one_epoch.png");
    epoch_plot(&path, &chart, &[("train", &[0.5]), ("test", &[f64::NAN])]).unwrap();
    assert_png(&path, 800, 600);
}

#[test]
fn generic_line_plot() {
    let (_guard, dir) = out_dir();
    let path = dir.join("lines.png");
    let sine: Vec<(f64, f64)> = (0..200)
        .map(|i| (i as f64 / 20.0, (i as f64 / 20.0).sin()))
        .collect();
    let cosine: Vec<(f64, f64)> = sine.iter().map(|&(x, _)| (x, x.cos())).collect();
    let chart = Chart::new("Waves")
        .x_label("t")
        .y_label("value")
        .size(500, 300);
    line_plot(&path, &chart, &[("sin", &sine), ("cos", &cosine)]).unwrap();
    assert_png(&path, 500, 300);
}

#[test]
fn roc_plot_of_binary_scores() {
    let (_guard, dir) = out_dir();
    let path = dir.join("roc.png");
    let y: Vec<bool> = (0..40).map(|i| i % 3 == 0).collect();
    let scores: Vec<f32> = (0..40)
        .map(|i| {
            if i % 3 == 0 {
                0.4 + (i as f32) / 80.0
            } else {
                (i as f32) / 50.0
            }
        })
        .collect();
    let chart = Chart::new("ROC")
        .x_label("false positive rate")
        .y_label("true positive rate")
        .size(600, 600);
    roc_plot(&path, &chart, &y, &scores).unwrap();
    assert_png(&path, 600, 600);

    let err = roc_plot(&dir.join("bad_roc.png"), &chart, &[true, true], &[0.1, 0.2]).unwrap_err();
    assert!(matches!(err, PlotError::InvalidData { .. }), "{err:?}");
    assert!(!dir.join("bad_roc.png").exists());
}

#[test]
fn confusion_and_correlation_heatmaps() {
    let (_guard, dir) = out_dir();
    let confusion = [[50u64, 3, 2], [4, 30, 9], [1, 6, 45]];
    let matrix: Vec<Vec<f64>> = confusion
        .iter()
        .map(|row| row.iter().map(|&c| c as f64).collect())
        .collect();
    let chart = Chart::new("Confusion matrix")
        .x_label("predicted")
        .y_label("true")
        .size(600, 500);
    let path = dir.join("confusion.png");
    heatmap(&path, &chart, &matrix, Some(&["cat", "dog", "bird"])).unwrap();
    assert_png(&path, 600, 500);

    // A 40 x 40 correlation-like matrix: diverging scale, no per-cell text.
    let n = 40;
    let corr: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    if i == j {
                        1.0
                    } else {
                        ((i * 7 + j * 3) as f64).sin() * 0.8
                    }
                })
                .collect()
        })
        .collect();
    let path = dir.join("single_cell.png");
    heatmap(
        &path,
        &Chart::new("1 x 1").size(300, 300),
        &[vec![7.0]],
        Some(&["only"]),
    )
    .unwrap();
    assert_png(&path, 300, 300);

    let path = dir.join("correlation.png");
    heatmap(&path, &Chart::new("Unit correlations"), &corr, None).unwrap();
    assert_png(&path, 800, 600);
}

#[test]
fn bad_data_is_an_error_not_a_panic() {
    let (_guard, dir) = out_dir();
    let chart = Chart::new("x");
    let path = dir.join("bad.png");
    assert!(matches!(
        line_plot(&path, &chart, &[]),
        Err(PlotError::InvalidData { .. })
    ));
    assert!(matches!(
        heatmap(&path, &chart, &[], None),
        Err(PlotError::InvalidData { .. })
    ));
    let ragged = vec![vec![1.0, 2.0], vec![3.0]];
    let err = heatmap(&path, &chart, &ragged, None).unwrap_err();
    assert!(err.to_string().contains("row 1 has 1 values"), "{err}");
    let square = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
    assert!(heatmap(&path, &chart, &square, Some(&["a"])).is_err());
    // Huge but finite values plot; a span beyond f64 is refused (plotters would hang).
    let huge = [(0.0, -1e300), (1.0, 1e300), (2.0, 1e-300)];
    line_plot(&dir.join("huge.png"), &chart, &[("huge", &huge)]).unwrap();
    let overflowing = [(0.0, -f64::MAX), (1.0, f64::MAX)];
    let err = line_plot(&path, &chart, &[("overflow", &overflowing)]).unwrap_err();
    assert!(err.to_string().contains("largest f64"), "{err}");
    heatmap(
        &dir.join("constant.png"),
        &chart,
        &vec![vec![1e20; 3]; 3],
        None,
    )
    .unwrap();
    heatmap(&dir.join("zeros.png"), &chart, &vec![vec![0.0; 2]; 2], None).unwrap();
    let overflowing = vec![vec![-f64::MAX, f64::MAX]];
    assert!(heatmap(&path, &chart, &overflowing, None).is_err());
    let tiny = Chart::new("x").size(0, 10);
    assert!(matches!(
        epoch_plot(&path, &tiny, &[("a", &[1.0])]),
        Err(PlotError::InvalidData { .. })
    ));
    assert!(!path.exists());
}

#[test]
fn missing_directory_is_a_clear_error() {
    let (_guard, dir) = out_dir();
    let path = dir.join("does/not/exist/loss.png");
    let err = epoch_plot(&path, &Chart::new("Loss"), &[("train", &[1.0, 0.5])]).unwrap_err();
    assert!(matches!(err, PlotError::WriteFailed { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("does/not/exist/loss.png") && message.contains("does not exist"),
        "{message}"
    );
    let code = miette::Diagnostic::code(&err).unwrap().to_string();
    assert_eq!(code, "nnc::plot::write_failed");
}

#[test]
fn tick_labels_are_short() {
    assert_eq!(format_tick(3.0), "3");
    assert_eq!(format_tick(-0.0), "0");
    assert_eq!(format_tick(-1.1e-17), "0");
    assert_eq!(format_tick(-0.2), "-0.2");
    assert_eq!(format_tick(0.25), "0.25");
    assert_eq!(format_tick(0.30000000000000004), "0.3");
    assert_eq!(format_tick(1230.4), "1230");
    assert_eq!(format_tick(12.345678), "12.35");
    assert_eq!(format_tick(0.00001), "1e-5");
    assert_eq!(format_tick(2.5e20), "2.5e20");
    assert_eq!(format_tick(-1.23456e-7), "-1.235e-7");
}

#[test]
fn heatmap_cells_are_rounded_together() {
    use super::heatmap::CellFormat;
    // A correlation matrix with numerical noise: the noise reads as 0, not -3.4e-18.
    let corr = vec![vec![0.97, -3.4e-18], vec![0.001234, -0.5]];
    let format = CellFormat::of(&corr);
    assert_eq!(format, CellFormat::Decimals(2));
    let cells: Vec<String> = corr.iter().flatten().map(|&v| format.text(v)).collect();
    assert_eq!(cells, ["0.97", "0", "0", "-0.50"]);
    let counts = vec![vec![50.0, 0.0], vec![3.0, 45.0]];
    assert_eq!(CellFormat::of(&counts).text(50.0), "50");
    let small = vec![vec![0.052, 0.0001]];
    assert_eq!(CellFormat::of(&small).text(0.0001), "0");
    assert_eq!(CellFormat::of(&small).text(0.052), "0.052");
    assert_eq!(CellFormat::of(&[vec![f64::NAN, 0.5]]).text(f64::NAN), "-");
}

#[test]
fn category_plot_labels_ticks_with_names() {
    let (_guard, dir) = out_dir();
    let path = dir.join("matched.png");
    let names = ["fc1", "fc2", "logits"];
    let chart = Chart::new("Mean matched correlation per layer");
    category_plot(
        &path,
        &chart,
        &names,
        &[("one-to-one", &[0.9, 0.7, f64::NAN])],
    )
    .unwrap();
    assert_png(&path, 800, 600);
    let bad = category_plot(&path, &chart, &names, &[("short", &[0.9])]);
    assert!(matches!(bad, Err(PlotError::InvalidData { .. })));
}
