//! PNG charts of a run: per-epoch curves, generic x/y lines, ROC curves and heat-maps.
//!
//! In: series or matrices of numbers plus a [`Chart`] (title, axis labels, size). Out: a
//! PNG file, written atomically (temporary file + rename), so a viewer or a crash never
//! sees half a picture.
//!
//! Charts are drawn by `plotters` into an RGB buffer and encoded with `png`. Text uses
//! DejaVu Sans embedded in the binary (`assets/fonts`, see its licence there) through
//! plotters' `ab_glyph` renderer, so output is the same on any machine, with or without
//! system fonts or fontconfig.
//!
//! ```
//! use nnc_runtime::plot::{epoch_plot, Chart};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let chart = Chart::new("Loss").x_label("epoch").y_label("cross-entropy");
//! let train = [1.2, 0.8, 0.5, 0.4];
//! let test = [1.3, 0.9, 0.7, 0.65];
//! epoch_plot(&dir.path().join("loss.png"), &chart, &[("train", &train), ("test", &test)]).unwrap();
//! ```

mod heatmap;
mod lines;
#[cfg(test)]
mod tests;

pub use heatmap::heatmap;
pub use lines::{category_plot, epoch_plot, line_plot, roc_plot};

use plotters::prelude::*;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Why a plot could not be written. Codes are `nnc::plot::<name>`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlotError {
    #[error("cannot write plot `{}`: {source}", path.display())]
    #[diagnostic(
        code(nnc::plot::write_failed),
        help("Check that the directory exists and is writable; any previous file at this path is unchanged.")
    )]
    WriteFailed { path: PathBuf, source: io::Error },

    #[error("cannot plot `{}`: {reason}", path.display())]
    #[diagnostic(
        code(nnc::plot::invalid_data),
        help("Pass at least one series, equal-length matrix rows and a size between 1 and 16384 pixels.")
    )]
    InvalidData { path: PathBuf, reason: String },

    #[error("cannot draw plot `{}`: {reason}", path.display())]
    #[diagnostic(
        code(nnc::plot::draw_failed),
        help(
            "This is a bug in nnc's plotting code; please report it with the data that caused it."
        )
    )]
    DrawFailed { path: PathBuf, reason: String },
}

/// Title, axis labels and pixel size of a chart. Default size 800 x 600.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub width: u32,
    pub height: u32,
}

impl Chart {
    pub fn new(title: impl Into<String>) -> Self {
        Chart {
            title: title.into(),
            x_label: String::new(),
            y_label: String::new(),
            width: 800,
            height: 600,
        }
    }

    pub fn x_label(mut self, label: impl Into<String>) -> Self {
        self.x_label = label.into();
        self
    }

    pub fn y_label(mut self, label: impl Into<String>) -> Self {
        self.y_label = label.into();
        self
    }

    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }
}

/// Larger pictures are a mistake, not a chart (16384^2 RGB is already 768 MiB).
const MAX_SIDE: u32 = 16_384;
const FONT: &str = "sans-serif";
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Colours of successive series: the "tab10" palette, readable on white and for the
/// common colour-vision deficiencies in its first few entries.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Draws into an in-memory bitmap and writes it to `path` as PNG, atomically.
fn render(
    path: &Path,
    chart: &Chart,
    draw: impl FnOnce(&Area<'_>) -> DrawResult,
) -> Result<(), PlotError> {
    let (width, height) = (chart.width, chart.height);
    if !(1..=MAX_SIDE).contains(&width) || !(1..=MAX_SIDE).contains(&height) {
        return Err(invalid(
            path,
            format!("size {width} x {height} is out of range"),
        ));
    }
    if !fonts_registered() {
        return Err(PlotError::DrawFailed {
            path: path.to_path_buf(),
            reason: "the embedded font could not be loaded".into(),
        });
    }
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(|err| err.into())
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(|err| err.into()));
        drawn.map_err(|err| PlotError::DrawFailed {
            path: path.to_path_buf(),
            reason: err.to_string(),
        })?;
    }
    crate::atomic::write_atomically(path, |file| {
        let mut encoder = png::Encoder::new(BufWriter::new(file), width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(io::Error::other)?;
        writer.write_image_data(&rgb).map_err(io::Error::other)?;
        writer.finish().map_err(io::Error::other)
    })
    .map_err(|source| PlotError::WriteFailed {
        path: path.to_path_buf(),
        source,
    })
}

/// Registers the embedded font once per process; other styles fall back to it.
fn fonts_registered() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok()
    })
}

fn invalid(path: &Path, reason: String) -> PlotError {
    PlotError::InvalidData {
        path: path.to_path_buf(),
        reason,
    }
}

/// Tick labels: integers without a decimal point, others with up to 4 significant
/// digits, very large or small magnitudes in scientific notation, so axes read "1, 2, 3",
/// "0.25" and "1e20" rather than "1.0", "0.2500000001" or twenty zeros.
fn format_tick(value: f64) -> String {
    let magnitude = value.abs();
    // Ticks computed as k * step can land a rounding error away from zero: show "0".
    if magnitude < 1e-12 {
        return "0".to_string();
    }
    if !(1e-4..1e6).contains(&magnitude) {
        return scientific(value);
    }
    if value == value.round() {
        return format!("{}", value as i64);
    }
    let decimals = (3 - magnitude.log10().floor() as i32).clamp(0, 12) as usize;
    let text = format!("{value:.decimals$}");
    if decimals == 0 {
        return text;
    }
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `value` as mantissa (up to 3 decimals, trailing zeros dropped) and exponent: "1.5e-7".
fn scientific(value: f64) -> String {
    let text = format!("{value:.3e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) if mantissa.contains('.') => {
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e{exponent}")
        }
        _ => text,
    }
}
