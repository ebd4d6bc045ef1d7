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
    use indicatif::{ProgressDrawTarget, TermLike};
    use std::sync::{Arc, Mutex};

    /// A terminal `width` columns wide that keeps what is drawn on each line.
    #[derive(Debug, Clone)]
    struct Screen {
        width: u16,
        lines: Arc<Mutex<Vec<String>>>,
    }

    impl Screen {
        fn current(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
            let mut lines = self.lines.lock().unwrap();
            if lines.is_empty() {
                lines.push(String::new());
            }
            lines
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            let mut lines = self.current();
            lines.last_mut().unwrap().push_str(s);
            lines.push(String::new());
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.current().last_mut().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.current().last_mut().unwrap().clear();
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

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

    /// What the bar draws in a terminal `width` columns wide: its non-empty lines.
    fn drawn(width: u16) -> Vec<String> {
        let screen = Screen {
            width,
            lines: Arc::default(),
        };
        let bar = bar(100, true);
        bar.set_draw_target(ProgressDrawTarget::term_like(Box::new(screen.clone())));
        bar.set_message(message(&report(), 100, 123456.0));
        bar.set_position(40);
        bar.force_draw();
        let lines = screen.lines.lock().unwrap().clone();
        lines.into_iter().filter(|l| !l.trim().is_empty()).collect()
    }

    #[test]
    fn the_line_fits_the_terminal() {
        for width in [40u16, 80, 200] {
            let lines = drawn(width);
            assert!(!lines.is_empty(), "nothing drawn at {width} columns");
            for line in &lines {
                let len = line.trim_end().chars().count();
                assert!(len <= width as usize, "{len} > {width} columns: {line:?}");
                assert!(line.contains("epoch 12/100"), "{line:?}");
            }
        }
        assert!(drawn(200)[0].contains("123456 samples/s"));
        assert!(drawn(80)[0].contains("loss 0.1235"));
    }
}
