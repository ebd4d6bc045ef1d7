//! Heat-maps of a matrix: confusion matrices, unit-correlation matrices.

use super::{format_tick, invalid, render, Chart, DrawResult, PlotError, FONT};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Cells at least this many pixels wide and high show their value as text.
const MIN_ANNOTATED_CELL: u32 = 28;
/// Width of the colour bar area on the right.
const COLOR_BAR_WIDTH: u32 = 96;

/// A heat-map of `matrix` (row 0 at the top, like a printed confusion matrix), with a
/// colour bar. Values of one sign use a white-to-blue scale from the smallest to the
/// largest value; if both signs occur the scale is blue-white-red, symmetric around 0 (as
/// for correlations). Non-finite cells are grey. `labels` (one per row, used for the
/// columns too) needs a square matrix; without it rows and columns are numbered.
///
/// For a confusion matrix: `heatmap(path, &chart, &counts_as_f64, Some(&class_names))`,
/// with `chart.x_label("predicted")` and `chart.y_label("true")`.
pub fn heatmap(
    path: &Path,
    chart: &Chart,
    matrix: &[Vec<f64>],
    labels: Option<&[&str]>,
) -> Result<(), PlotError> {
    let n_rows = matrix.len();
    let n_cols = matrix.first().map_or(0, Vec::len);
    if n_rows == 0 || n_cols == 0 {
        return Err(invalid(path, "the matrix is empty".into()));
    }
    if let Some(row_idx) = matrix.iter().position(|row| row.len() != n_cols) {
        return Err(invalid(
            path,
            format!(
                "row {row_idx} has {} values, row 0 has {n_cols}",
                matrix[row_idx].len()
            ),
        ));
    }
    if let Some(labels) = labels {
        if n_rows != n_cols || labels.len() != n_rows {
            return Err(invalid(
                path,
                format!("{} labels for a {n_rows} x {n_cols} matrix; labels need a square matrix and one per row", labels.len()),
            ));
        }
    }
    let scale = ColorScale::of(matrix.iter().flatten().copied());
    // plotters loops forever on an axis (the colour bar's) whose span is infinite.
    if !(scale.range.1 - scale.range.0).is_finite() {
        return Err(invalid(
            path,
            "the values span more than the largest f64".into(),
        ));
    }
    render(path, chart, |root| {
        draw(root, chart, matrix, labels, &scale)
    })
}

fn draw(
    root: &super::Area<'_>,
    chart: &Chart,
    matrix: &[Vec<f64>],
    labels: Option<&[&str]>,
    scale: &ColorScale,
) -> DrawResult {
    let (n_rows, n_cols) = (matrix.len(), matrix[0].len());
    let titled = root.titled(&chart.title, (FONT, 24))?;
    let (width, _) = titled.dim_in_pixel();
    let (main, bar) = titled.split_horizontally(width.saturating_sub(COLOR_BAR_WIDTH));

    // Cell (row, col) covers x in [col, col+1] and y in [n_rows-1-row, n_rows-row], so row 0
    // is on top. plotters picks "nice" tick values on its own, so the cell labels are drawn
    // here, at the cell centres; past 25 cells only every k-th is labelled.
    let mut ctx = ChartBuilder::on(&main)
        .margin(12)
        .x_label_area_size(56)
        .y_label_area_size(88)
        .build_cartesian_2d(0.0..n_cols as f64, 0.0..n_rows as f64)?;
    ctx.configure_mesh()
        .disable_mesh()
        .x_labels(0)
        .y_labels(0)
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .axis_desc_style((FONT, 16))
        .draw()?;
    let name = |idx: usize| {
        let name = labels.map_or_else(|| idx.to_string(), |labels| labels[idx].to_string());
        shorten(&name, 12)
    };
    let label_style = |h, v| TextStyle::from((FONT, 14).into_font()).pos(Pos::new(h, v));
    for col in (0..n_cols).step_by(n_cols.div_ceil(25)) {
        let (x, y) = ctx.backend_coord(&(col as f64 + 0.5, 0.0));
        root.draw_text(
            &name(col),
            &label_style(HPos::Center, VPos::Top),
            (x, y + 6),
        )?;
    }
    for row in (0..n_rows).step_by(n_rows.div_ceil(25)) {
        let (x, y) = ctx.backend_coord(&(0.0, (n_rows - 1 - row) as f64 + 0.5));
        root.draw_text(
            &name(row),
            &label_style(HPos::Right, VPos::Center),
            (x - 6, y),
        )?;
    }

    let cells = matrix.iter().enumerate().flat_map(|(row, values)| {
        values.iter().enumerate().map(move |(col, &value)| {
            let (x, y) = (col as f64, (n_rows - 1 - row) as f64);
            Rectangle::new([(x, y), (x + 1.0, y + 1.0)], scale.color(value).filled())
        })
    });
    ctx.draw_series(cells)?;

    let plot_area = ctx.plotting_area();
    let (plot_width, plot_height) = plot_area.dim_in_pixel();
    let (cell_width, cell_height) = (plot_width / n_cols as u32, plot_height / n_rows as u32);
    if cell_width >= MIN_ANNOTATED_CELL && cell_height >= MIN_ANNOTATED_CELL {
        let font_size = (cell_height / 3).clamp(10, 18);
        let format = CellFormat::of(matrix);
        for (row, values) in matrix.iter().enumerate() {
            for (col, &value) in values.iter().enumerate() {
                let text_color = if scale.is_dark(value) { WHITE } else { BLACK };
                let style = TextStyle::from((FONT, font_size).into_font())
                    .color(&text_color)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                let center = (col as f64 + 0.5, (n_rows - 1 - row) as f64 + 0.5);
                plot_area.draw(&Text::new(format.text(value), center, style))?;
            }
        }
    }
    draw_color_bar(&bar, scale)
}

/// A vertical strip of the scale from its low (bottom) to its high (top) end.
fn draw_color_bar(area: &super::Area<'_>, scale: &ColorScale) -> DrawResult {
    let (lo, hi) = scale.range;
    let mut ctx = ChartBuilder::on(area)
        .margin_top(24)
        .margin_bottom(68)
        .margin_right(8)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..1.0, lo..hi)?;
    ctx.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .label_style((FONT, 12))
        .y_labels(6)
        .y_label_formatter(&|v| format_tick(*v))
        .draw()?;
    const STEPS: usize = 64;
    let step = (hi - lo) / STEPS as f64;
    ctx.draw_series((0..STEPS).map(|i| {
        let v = lo + step * i as f64;
        Rectangle::new(
            [(0.0, v), (1.0, v + step)],
            scale.color(v + step / 2.0).filled(),
        )
    }))?;
    Ok(())
}

/// `text` cut to `max_chars` characters with an ellipsis, so long class names do not
/// run into the plot.
fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut short: String = text.chars().take(max_chars - 1).collect();
    short.push('…');
    short
}

/// How the cells of one heat-map print: all with the same number of decimals, chosen
/// from the largest magnitude (two for correlations), so that numerical noise such as
/// `-3.4e-18` prints as `0` next to `0.97` instead of as a long tiny number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum CellFormat {
    /// Every finite value is a whole number below 10^6: counts.
    Integers,
    Decimals(usize),
    /// Magnitudes beyond what decimals show well: tick-label style.
    Scientific,
}

impl CellFormat {
    pub(super) fn of(matrix: &[Vec<f64>]) -> CellFormat {
        let finite = || matrix.iter().flatten().copied().filter(|v| v.is_finite());
        let max = finite().fold(0.0f64, |m, v| m.max(v.abs()));
        if finite().all(|v| v == v.round()) && max < 1e6 {
            return CellFormat::Integers;
        }
        if !(1e-4..1e6).contains(&max) {
            return CellFormat::Scientific;
        }
        // Two decimals up to 10 (0.97, 5.25), fewer above (52.5, 525); below 0.1, two
        // significant digits for the largest value (0.052, 0.0052).
        let digits = max.log10().floor() as i32;
        let decimals = if max < 1.0 {
            (1 - digits).max(2)
        } else {
            (2 - digits).max(0)
        };
        CellFormat::Decimals(decimals as usize)
    }

    pub(super) fn text(self, value: f64) -> String {
        if !value.is_finite() {
            return "-".to_string();
        }
        match self {
            CellFormat::Integers => format!("{}", value as i64),
            CellFormat::Decimals(d) => {
                let text = format!("{value:.d$}");
                // "-0.00" and "0.00" both read as zero.
                match text
                    .trim_start_matches('-')
                    .trim_matches(['0', '.'])
                    .is_empty()
                {
                    true => "0".to_string(),
                    false => text,
                }
            }
            CellFormat::Scientific => format_tick(value),
        }
    }
}

struct ColorScale {
    range: (f64, f64),
    diverging: bool,
}

impl ColorScale {
    const WHITE: (f64, f64, f64) = (255.0, 255.0, 255.0);
    const BLUE: (f64, f64, f64) = (8.0, 69.0, 148.0);
    const RED: (f64, f64, f64) = (165.0, 15.0, 21.0);

    fn of(values: impl Iterator<Item = f64>) -> Self {
        let (lo, hi) = values
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if lo > hi {
            return ColorScale {
                range: (0.0, 1.0),
                diverging: false,
            };
        }
        if lo < 0.0 && hi > 0.0 {
            let bound = lo.abs().max(hi);
            return ColorScale {
                range: (-bound, bound),
                diverging: true,
            };
        }
        // A constant matrix still needs a non-empty scale; relative so huge values keep it.
        let half = if lo == 0.0 { 0.5 } else { lo.abs() * 0.5 };
        let (lo, hi) = if lo == hi {
            (lo - half, hi + half)
        } else {
            (lo, hi)
        };
        ColorScale {
            range: (lo, hi),
            diverging: false,
        }
    }

    /// Position of `value` on the scale in [0, 1] (0.5 is white on a diverging scale).
    fn position(&self, value: f64) -> f64 {
        let (lo, hi) = self.range;
        ((value - lo) / (hi - lo)).clamp(0.0, 1.0)
    }

    fn color(&self, value: f64) -> RGBColor {
        if !value.is_finite() {
            return RGBColor(190, 190, 190);
        }
        let t = self.position(value);
        let (from, to, t) = if !self.diverging {
            (Self::WHITE, Self::BLUE, t)
        } else if t < 0.5 {
            (Self::BLUE, Self::WHITE, t * 2.0)
        } else {
            (Self::WHITE, Self::RED, (t - 0.5) * 2.0)
        };
        let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
        RGBColor(mix(from.0, to.0), mix(from.1, to.1), mix(from.2, to.2))
    }

    /// Whether text on this value's colour should be white.
    fn is_dark(&self, value: f64) -> bool {
        let t = self.position(value);
        value.is_finite()
            && if self.diverging {
                (t - 0.5).abs() > 0.3
            } else {
                t > 0.55
            }
    }
}
