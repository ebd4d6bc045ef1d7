//! Line charts: generic x/y series, per-epoch series and the ROC curve.

use super::{format_tick, invalid, render, Chart, DrawResult, PlotError, FONT, PALETTE};
use crate::metrics;
use plotters::prelude::*;
use std::ops::Range;
use std::path::Path;

/// Series with at most this many points also get a marker per point, so a one-epoch run
/// still shows something and short curves show where the measurements are.
const MARKER_LIMIT: usize = 40;
/// At most this many tick labels on the x axis.
const MAX_X_LABELS: usize = 10;

/// One line per `(label, points)`, with a legend. Non-finite points (a diverged loss) are
/// left out and break the line; the axes cover the finite points only.
pub fn line_plot(
    path: &Path,
    chart: &Chart,
    series: &[(&str, &[(f64, f64)])],
) -> Result<(), PlotError> {
    plot_series(path, chart, series, MAX_X_LABELS)
}

/// Values per named category (a network's layers, in order), plotted at x = 1, 2, ..., n
/// with the names as the x tick labels; `series` hold one value per category.
pub fn category_plot(
    path: &Path,
    chart: &Chart,
    categories: &[&str],
    series: &[(&str, &[f64])],
) -> Result<(), PlotError> {
    if let Some((label, values)) = series.iter().find(|(_, v)| v.len() != categories.len()) {
        let reason = format!(
            "series `{label}` has {} values for {} categories",
            values.len(),
            categories.len()
        );
        return Err(invalid(path, reason));
    }
    let points: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|(_, values)| {
            (1..)
                .map(|i| i as f64)
                .zip(values.iter().copied())
                .collect()
        })
        .collect();
    let series: Vec<(&str, &[(f64, f64)])> = series
        .iter()
        .zip(&points)
        .map(|((label, _), points)| (*label, points.as_slice()))
        .collect();
    let names: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
    plot_series_named(
        path,
        chart,
        &series,
        categories.len().clamp(1, MAX_X_LABELS),
        names,
    )
}

/// Per-epoch values, plotted against epochs 1, 2, ..., n (e.g. train and test loss).
/// The epoch axis is labelled with whole epochs only.
pub fn epoch_plot(path: &Path, chart: &Chart, series: &[(&str, &[f64])]) -> Result<(), PlotError> {
    let points: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|(_, values)| {
            let epochs = (1..).map(|epoch| epoch as f64);
            epochs.zip(values.iter().copied()).collect()
        })
        .collect();
    let series: Vec<(&str, &[(f64, f64)])> = series
        .iter()
        .zip(&points)
        .map(|((label, _), points)| (*label, points.as_slice()))
        .collect();
    // plotters picks the coarsest "nice" step giving at most this many ticks; with no
    // more ticks than epochs that step is a whole number.
    let n_epochs = points.iter().map(Vec::len).max().unwrap_or(1);
    plot_series(path, chart, &series, n_epochs.clamp(1, MAX_X_LABELS))
}

/// ROC curve of binary scores with its AUC in the legend and the chance diagonal.
/// Errors (as invalid data) if either class is absent or a score is NaN.
pub fn roc_plot(
    path: &Path,
    chart: &Chart,
    y_true: &[bool],
    scores: &[f32],
) -> Result<(), PlotError> {
    let curve = metrics::roc_curve(y_true, scores).map_err(|err| invalid(path, err.to_string()))?;
    let auc = metrics::roc_auc(y_true, scores).map_err(|err| invalid(path, err.to_string()))?;
    let diagonal = [(0.0, 0.0), (1.0, 1.0)];
    let lines = [
        Line {
            label: format!("ROC (AUC = {auc:.3})"),
            points: &curve,
            color: PALETTE[0],
            dashed: false,
        },
        Line {
            label: "chance".to_string(),
            points: &diagonal,
            color: PALETTE[7],
            dashed: true,
        },
    ];
    let axes = Axes {
        x: 0.0..1.0,
        y: 0.0..1.0,
        max_x_labels: MAX_X_LABELS,
        x_names: Vec::new(),
    };
    render(path, chart, |root| draw_lines(root, chart, &axes, &lines))
}

fn plot_series(
    path: &Path,
    chart: &Chart,
    series: &[(&str, &[(f64, f64)])],
    max_x_labels: usize,
) -> Result<(), PlotError> {
    plot_series_named(path, chart, series, max_x_labels, Vec::new())
}

/// `plot_series` with `x_names[k - 1]` as the label of the tick at x = k (none elsewhere).
fn plot_series_named(
    path: &Path,
    chart: &Chart,
    series: &[(&str, &[(f64, f64)])],
    max_x_labels: usize,
    x_names: Vec<String>,
) -> Result<(), PlotError> {
    if series.is_empty() {
        return Err(invalid(path, "no series to plot".into()));
    }
    let finite = || series.iter().flat_map(|(_, points)| finite_points(points));
    let x = match x_names.len() {
        // Half a step beyond the first and last name, so that neither sits on the border.
        0 => padded_range(finite().map(|p| p.0), 0.0),
        n => 0.5..n as f64 + 0.5,
    };
    let y = padded_range(finite().map(|p| p.1), 0.05);
    // plotters loops forever on an axis whose span overflows to infinity.
    if !(x.end - x.start).is_finite() || !(y.end - y.start).is_finite() {
        return Err(invalid(
            path,
            "the values span more than the largest f64".into(),
        ));
    }
    let axes = Axes {
        x,
        y,
        max_x_labels,
        x_names,
    };
    let lines: Vec<Line<'_>> = series
        .iter()
        .enumerate()
        .map(|(idx, (label, points))| Line {
            label: (*label).to_string(),
            points,
            color: PALETTE[idx % PALETTE.len()],
            dashed: false,
        })
        .collect();
    render(path, chart, |root| draw_lines(root, chart, &axes, &lines))
}

struct Axes {
    x: Range<f64>,
    y: Range<f64>,
    max_x_labels: usize,
    /// Names of the ticks at x = 1, 2, ... (a categorical axis), or empty.
    x_names: Vec<String>,
}

impl Axes {
    fn x_tick(&self, x: f64) -> String {
        if self.x_names.is_empty() {
            return format_tick(x);
        }
        let k = x.round();
        match (k - x).abs() < 1e-9 && k >= 1.0 {
            true => self
                .x_names
                .get(k as usize - 1)
                .cloned()
                .unwrap_or_default(),
            false => String::new(),
        }
    }
}

struct Line<'a> {
    label: String,
    points: &'a [(f64, f64)],
    color: RGBColor,
    dashed: bool,
}

fn draw_lines(
    root: &super::Area<'_>,
    chart: &Chart,
    axes: &Axes,
    lines: &[Line<'_>],
) -> DrawResult {
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, (FONT, 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(axes.x.clone(), axes.y.clone())?;
    ctx.configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 14))
        .x_labels(axes.max_x_labels)
        .x_label_formatter(&|x| axes.x_tick(*x))
        .y_label_formatter(&|y| format_tick(*y))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.1))
        .draw()?;

    for line in lines {
        let style = line.color.stroke_width(2);
        let color = line.color;
        let legend = move |(x, y): (i32, i32)| {
            PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
        };
        let mut labelled = false;
        for segment in finite_segments(line.points) {
            let drawn = if line.dashed {
                ctx.draw_series(DashedLineSeries::new(segment.iter().copied(), 8, 6, style))?
            } else {
                ctx.draw_series(LineSeries::new(segment.iter().copied(), style))?
            };
            if !labelled {
                drawn.label(line.label.as_str()).legend(legend);
                labelled = true;
            }
            if line.points.len() <= MARKER_LIMIT && !line.dashed {
                let markers = segment.iter().map(|&p| Circle::new(p, 3, color.filled()));
                ctx.draw_series(markers)?;
            }
        }
        if !labelled {
            // No finite point at all (e.g. a loss that was NaN from the start): keep the
            // series in the legend so its absence is visible.
            let empty = std::iter::empty::<(f64, f64)>();
            ctx.draw_series(LineSeries::new(empty, style))?
                .label(line.label.as_str())
                .legend(legend);
        }
    }
    ctx.configure_series_labels()
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .position(quietest_corner(axes, lines))
        .draw()?;
    Ok(())
}

/// The corner of the plot where the legend covers the fewest line samples (loss curves
/// leave the upper right free, accuracy curves the lower right, ROC curves the lower
/// right). Ties go to the upper right.
fn quietest_corner(axes: &Axes, lines: &[Line<'_>]) -> SeriesLabelPosition {
    // The legend box is roughly this fraction of the plot in each direction.
    const BOX: (f64, f64) = (0.35, 0.25);
    let normalize = |(x, y): (f64, f64)| {
        let nx = (x - axes.x.start) / (axes.x.end - axes.x.start);
        let ny = (y - axes.y.start) / (axes.y.end - axes.y.start);
        (nx, ny)
    };
    // Points plus 8 samples along each segment, so a line crossing a corner counts too.
    let samples: Vec<(f64, f64)> = lines
        .iter()
        .flat_map(|line| finite_segments(line.points))
        .flat_map(|segment| {
            let pairs = segment.windows(2).flat_map(|pair| {
                let (a, b) = (normalize(pair[0]), normalize(pair[1]));
                (0..8).map(move |i| {
                    let t = i as f64 / 8.0;
                    (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
                })
            });
            let last = segment.last().map(|&p| normalize(p));
            pairs.chain(last)
        })
        .collect();
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerLeft, false, false),
    ];
    let covered = |right: bool, upper: bool| {
        let in_x = |x: f64| if right { x >= 1.0 - BOX.0 } else { x <= BOX.0 };
        let in_y = |y: f64| if upper { y >= 1.0 - BOX.1 } else { y <= BOX.1 };
        samples.iter().filter(|&&(x, y)| in_x(x) && in_y(y)).count()
    };
    corners
        .into_iter()
        .min_by_key(|&(_, right, upper)| covered(right, upper))
        .map_or(SeriesLabelPosition::UpperRight, |(position, _, _)| position)
}

fn finite_points(points: &[(f64, f64)]) -> impl Iterator<Item = &(f64, f64)> {
    points
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
}

/// Maximal runs of consecutive finite points.
fn finite_segments(points: &[(f64, f64)]) -> impl Iterator<Item = &[(f64, f64)]> {
    points
        .split(|(x, y)| !(x.is_finite() && y.is_finite()))
        .filter(|segment| !segment.is_empty())
}

/// The range of `values` widened by `pad` of its span on each side; a single value or
/// no value at all still gives a non-empty range.
fn padded_range(values: impl Iterator<Item = f64>, pad: f64) -> Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        return 0.0..1.0;
    }
    if lo == hi {
        let half = if lo == 0.0 { 1.0 } else { lo.abs() * 0.5 };
        return lo - half..hi + half;
    }
    let margin = (hi - lo) * pad;
    lo - margin..hi + margin
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_categorical_axis_names_whole_ticks_only() {
        let axes = Axes {
            x: 0.5..3.5,
            y: 0.0..1.0,
            max_x_labels: 3,
            x_names: vec!["fc1".into(), "fc2".into(), "logits".into()],
        };
        assert_eq!(axes.x_tick(1.0), "fc1");
        assert_eq!(axes.x_tick(3.0000000001), "logits");
        assert_eq!(axes.x_tick(1.5), "");
        assert_eq!(axes.x_tick(0.0), "");
        assert_eq!(axes.x_tick(4.0), "");
        let numeric = Axes {
            x_names: Vec::new(),
            ..axes
        };
        assert_eq!(numeric.x_tick(1.5), "1.5");
    }
}
