//! The training progress bar: a short bar and one line of numbers that never wraps.
//!
//! indicatif pads a drawn line to the terminal's width, so a line longer than the terminal
//! wraps and is padded to twice its width (160 columns in an 80-column terminal), and
//! every redraw scrolls. `{wide_msg}` makes indicatif cut the message to the width the
//! terminal reports; the message puts what matters most first, so what a narrow terminal
//! cuts is the least useful part.

use indicatif::{ProgressBar, ProgressStyle};
use nnc::train::StepReport;

/// The bar, then the message cut to the rest of the terminal's width.
pub fn style() -> ProgressStyle {
    ProgressStyle::with_template("{bar:24} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// A bar of `len` steps drawn on stderr (a hidden one when `show` is false).
pub fn bar(len: u64, show: bool) -> ProgressBar {
    let bar = if show {
        ProgressBar::new(len)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(style());
    bar
}

/// The numbers of one step, most important first: epoch, loss, accuracy, step, speed.
pub fn message(s: &StepReport, epochs: u64, samples_per_second: f64) -> String {
    format!(
        "epoch {}/{epochs}  loss {:.4}  acc {:.3}  step {}/{}  {:.0} samples/s",
        s.epoch + 1,
        s.loss,
        s.accuracy,
        s.step_in_epoch + 1,
        s.steps_per_epoch,
        samples_per_second
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::{InMemoryTerm, ProgressDrawTarget, TermLike};

    fn report() -> StepReport {
        StepReport {
            epoch: 11,
            step_in_epoch: 1233,
            steps_per_epoch: 1875,
            loss: 0.123456,
            accuracy: 0.9876,
            samples: 64,
        }
    }

    /// The bar as drawn in a terminal `width` columns wide.
    fn drawn(width: u16) -> String {
        let term = InMemoryTerm::new(4, width);
        let bar = bar(100, true);
        bar.set_draw_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
        bar.set_message(message(&report(), 100, 123456.0));
        bar.inc(40);
        bar.tick();
        let contents = term.contents();
        assert_eq!(term.width(), width);
        contents
    }

    #[test]
    fn the_line_fits_the_terminal() {
        for width in [40u16, 80, 200] {
            let text = drawn(width);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 1, "wrapped at {width} columns: {text:?}");
            assert!(lines[0].chars().count() <= width as usize, "{text:?}");
            assert!(lines[0].contains("epoch 12/100"), "{text:?}");
        }
        assert!(drawn(200).contains("123456 samples/s"));
        assert!(drawn(80).contains("loss 0.1235"));
    }
}
