//! The part of a source file a report shows: the lines of its labels and one line of
//! context around them, with long lines cut to windows around the labels' ends.
//!
//! miette prints every snippet line whole and scans its source from the start for each
//! read; handing it the whole file made a report on a 4 MB one-line expression 4 MB long,
//! and N reports cost N times the file. An excerpt keeps a report's size bounded by its
//! labels and its cost by the lines it shows. Line numbers and the header's column stay
//! those of the file.

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// Lines longer than this (in bytes) are cut to windows around the labels' ends.
pub const MAX_LINE: usize = 160;
/// Bytes kept on each side of a label's start or end on a cut line.
const WINDOW: usize = 40;
/// Lines of context around the labels, as miette's default.
const CONTEXT: usize = 1;
const ELLIPSIS: &str = "…";

/// Where each line of a file starts: built once per file, so that every report finds its
/// lines by binary search instead of a scan from the start.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// The 0-based line holding byte `offset`.
    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) - 1
    }
}

/// A kept piece of the file: `len` bytes at `from` in the file, at `at` in the excerpt.
#[derive(Clone, Copy)]
struct Piece {
    at: usize,
    from: usize,
    len: usize,
}

pub struct Excerpt {
    name: String,
    text: String,
    /// The file's 0-based line number of the excerpt's first line.
    first_line: usize,
    /// Where the excerpt's lines start in the file.
    line_starts: Vec<usize>,
    pieces: Vec<Piece>,
    file_text_len: usize,
}

impl Excerpt {
    /// The excerpt of `text` for labels at `spans` (byte ranges, clamped to the text).
    pub fn new(name: &str, text: &str, index: &LineIndex, spans: &[(usize, usize)]) -> Excerpt {
        let clamp = |o: usize| floor_boundary(text, o.min(text.len()));
        let points: Vec<usize> = spans
            .iter()
            .flat_map(|&(s, e)| [clamp(s), clamp(e)])
            .collect();
        let lo = points.iter().copied().min().unwrap_or(0);
        let hi = points.iter().copied().max().unwrap_or(0);
        let first = index.line(lo).saturating_sub(CONTEXT);
        let last = (index.line(hi) + CONTEXT).min(index.starts.len() - 1);
        let mut out = Excerpt {
            name: name.to_string(),
            text: String::new(),
            first_line: first,
            line_starts: index.starts[first..=last].to_vec(),
            pieces: Vec::new(),
            file_text_len: text.len(),
        };
        for line in first..=last {
            let start = index.starts[line];
            let end = index.starts.get(line + 1).copied().unwrap_or(text.len());
            if end - start <= MAX_LINE {
                out.keep(text, start, end);
                continue;
            }
            // Windows around the points on this line (its start if none), merged.
            let mut windows: Vec<(usize, usize)> = points
                .iter()
                .filter(|&&p| p >= start && p <= end)
                .map(|&p| (p.saturating_sub(WINDOW).max(start), (p + WINDOW).min(end)))
                .collect();
            if windows.is_empty() {
                windows.push((start, (start + 2 * WINDOW).min(end)));
            }
            windows.sort_unstable();
            let mut merged: Vec<(usize, usize)> = Vec::new();
            for (s, e) in windows {
                let (s, e) = (floor_boundary(text, s), ceil_boundary(text, e));
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            let mut pos = start;
            for (s, e) in merged {
                if s > pos {
                    out.text.push_str(ELLIPSIS);
                }
                out.keep(text, s, e);
                pos = e;
            }
            if pos < end {
                out.text.push_str(ELLIPSIS);
                if text[..end].ends_with('\n') {
                    out.text.push('\n');
                }
            }
        }
        out
    }

    fn keep(&mut self, text: &str, from: usize, to: usize) {
        self.pieces.push(Piece {
            at: self.text.len(),
            from,
            len: to - from,
        });
        self.text.push_str(&text[from..to]);
    }

    /// Where byte `offset` of the file is in the excerpt (the next kept byte if it was cut).
    pub fn map(&self, offset: usize) -> usize {
        let offset = offset.min(self.file_text_len);
        let k = self.pieces.partition_point(|p| p.from + p.len < offset);
        match self.pieces.get(k) {
            Some(p) if offset >= p.from => p.at + (offset - p.from),
            Some(p) => p.at,
            None => self.text.len(),
        }
    }

    /// Where byte `at` of the excerpt is in the file.
    fn unmap(&self, at: usize) -> usize {
        let k = self.pieces.partition_point(|p| p.at + p.len < at);
        match self.pieces.get(k) {
            Some(p) if at >= p.at => p.from + (at - p.at),
            Some(p) => p.from,
            None => self.pieces.last().map_or(0, |p| p.from + p.len),
        }
    }

    #[cfg(test)]
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self.text.read_span(span, before, after)?;
        // The column (in bytes, as miette counts it) in the file, not in the excerpt.
        let from = self.unmap(inner.span().offset());
        let k = self.line_starts.partition_point(|&s| s <= from).max(1);
        let column = from - self.line_starts[k - 1];
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.first_line,
            column,
            inner.line_count(),
        )))
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_kept_whole_with_one_line_of_context() {
        let text = "a\nbb\ncc\ndd\ne\n";
        let index = LineIndex::new(text);
        let ex = Excerpt::new("f", text, &index, &[(5, 7)]);
        assert_eq!(ex.text(), "bb\ncc\ndd\n");
        assert_eq!(ex.first_line, 1);
        assert_eq!(ex.map(5), 3);
    }

    #[test]
    fn long_lines_are_cut_around_the_labels() {
        let line = "x + ".repeat(100_000);
        let text = format!("network n {{\n  output y = {line}x\n}}\n");
        let index = LineIndex::new(&text);
        let (s, e) = (14, 14 + 400);
        let ex = Excerpt::new("f", &text, &index, &[(s, e)]);
        assert!(ex.text().len() < 400, "{}", ex.text().len());
        assert!(ex.text().contains(ELLIPSIS));
        assert_eq!(&ex.text()[ex.map(s)..ex.map(s) + 3], &text[s..s + 3]);
        assert_eq!(&ex.text()[ex.map(e) - 3..ex.map(e)], &text[e - 3..e]);
    }
}
