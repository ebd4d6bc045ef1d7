//! A small Wadler-style document: text plus the places where a line may break. A group
//! prints flat (its `Line`s as spaces) when it fits in the remaining width and broken
//! (every `Line` a newline) otherwise; this is the algorithm of prettier's printer, with
//! an explicit stack so that long inputs cannot overflow the call stack.
//!
//! Trailing comments are aligned after printing: consecutive lines whose comments asked
//! for the same column (they were aligned in the source) get them at one column, the
//! requested one or further right if a line's code needs it.

#[derive(Clone, Debug)]
pub enum Doc {
    /// Printed as is. Only a multi-line block comment has a newline inside.
    Text(String),
    Concat(Vec<Doc>),
    /// Indents every line that starts inside by this many more spaces.
    Indent(usize, Box<Doc>),
    /// Indents every line that starts inside to the column where it starts (a broken
    /// pipe's `|>` under the first one).
    Align(Box<Doc>),
    /// Flat if it fits, broken otherwise; `true` when it must break (it holds a hard line).
    Group(Box<Doc>, bool),
    /// A space when flat, a newline when broken.
    Line,
    /// Nothing when flat, a newline when broken.
    SoftLine,
    /// Always a newline.
    HardLine,
    /// Text printed only when the enclosing group is broken (a trailing comma).
    IfBreak(&'static str),
    /// Text put at the end of the current line, just before the next newline: a
    /// trailing `//` comment, whatever gets printed after it on the line. Two spaces after
    /// the code, or the given column (0: none) if the line leaves room, aligned with the
    /// comments of the next lines that ask for the same column.
    LineSuffix(String, usize),
    /// Prints nothing but forces the enclosing groups to break.
    BreakParent,
}

pub fn text(s: impl Into<String>) -> Doc {
    Doc::Text(s.into())
}

pub fn concat(docs: Vec<Doc>) -> Doc {
    Doc::Concat(docs)
}

pub fn indent(n: usize, doc: Doc) -> Doc {
    Doc::Indent(n, Box::new(doc))
}

pub fn group(doc: Doc) -> Doc {
    let forced = forces_break(&doc);
    Doc::Group(Box::new(doc), forced)
}

/// Whether `doc` contains a hard break outside any nested group (whose flag says it).
fn forces_break(doc: &Doc) -> bool {
    let mut stack = vec![doc];
    while let Some(d) = stack.pop() {
        match d {
            Doc::HardLine | Doc::BreakParent => return true,
            Doc::Text(s) if s.contains('\n') => return true,
            Doc::Group(_, forced) if *forced => return true,
            Doc::Concat(v) => stack.extend(v),
            Doc::Indent(_, d) | Doc::Align(d) => stack.push(d),
            _ => {}
        }
    }
    false
}

/// Where a trailing comment went: byte `at` of the output, after `code` columns of code.
struct Mark {
    at: usize,
    code: usize,
    want: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Flat,
    Break,
}

/// Renders `doc` in lines of at most `width` columns where the groups allow it. Lines
/// never end with whitespace.
pub fn print(doc: &Doc, width: usize) -> String {
    let mut out = String::new();
    let mut col = 0usize;
    let mut suffixes: Vec<(&str, usize)> = Vec::new();
    let mut marks: Vec<Mark> = Vec::new();
    let mut stack: Vec<(usize, Mode, &Doc)> = vec![(0, Mode::Break, doc)];
    while let Some((ind, mode, d)) = stack.pop() {
        match d {
            Doc::Text(s) => {
                out.push_str(s);
                col = match s.rfind('\n') {
                    Some(i) => s[i + 1..].chars().count(),
                    None => col + s.chars().count(),
                };
            }
            Doc::Concat(v) => stack.extend(v.iter().rev().map(|d| (ind, mode, d))),
            Doc::Indent(n, d) => stack.push((ind + n, mode, d)),
            Doc::Align(d) => stack.push((col, mode, d)),
            Doc::Group(d, forced) => {
                let mode = if mode == Mode::Flat
                    || !forced && fits(d, &stack, width as isize - col as isize)
                {
                    Mode::Flat
                } else {
                    Mode::Break
                };
                stack.push((ind, mode, d));
            }
            Doc::Line if mode == Mode::Flat => {
                out.push(' ');
                col += 1;
            }
            Doc::SoftLine if mode == Mode::Flat => {}
            Doc::Line | Doc::SoftLine | Doc::HardLine => {
                newline(&mut out, &mut suffixes, &mut marks, ind);
                col = ind;
            }
            Doc::IfBreak(s) => {
                if mode == Mode::Break {
                    out.push_str(s);
                    col += s.chars().count();
                }
            }
            Doc::LineSuffix(s, want) => suffixes.push((s, *want)),
            Doc::BreakParent => {}
        }
    }
    end_line(&mut out, &mut suffixes, &mut marks);
    align_comments(&out, &marks)
}

fn newline(
    out: &mut String,
    suffixes: &mut Vec<(&str, usize)>,
    marks: &mut Vec<Mark>,
    indent: usize,
) {
    end_line(out, suffixes, marks);
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Ends the current line: no trailing whitespace, its trailing comments (padded later).
fn end_line(out: &mut String, suffixes: &mut Vec<(&str, usize)>, marks: &mut Vec<Mark>) {
    let trimmed = out.trim_end_matches([' ', '\t']).len();
    out.truncate(trimmed);
    let Some(&(_, want)) = suffixes.first() else {
        return;
    };
    let line = out.rfind('\n').map_or(0, |i| i + 1);
    let code = out[line..].chars().count();
    marks.push(Mark {
        at: out.len(),
        code,
        want,
    });
    for (k, (s, _)) in suffixes.drain(..).enumerate() {
        if k > 0 {
            out.push_str("  ");
        }
        out.push_str(s);
    }
}

/// Pads the trailing comments: two spaces after the code, or for a run of consecutive
/// lines asking for the same column, that column or the first that clears all their code.
fn align_comments(out: &str, marks: &[Mark]) -> String {
    let mut lines = Vec::with_capacity(marks.len());
    let (mut line, mut from) = (0, 0);
    for m in marks {
        line += out[from..m.at].matches('\n').count();
        from = m.at;
        lines.push(line);
    }
    let mut result = String::with_capacity(out.len() + 8 * marks.len());
    let mut copied = 0;
    let mut i = 0;
    while i < marks.len() {
        let mut j = i + 1;
        if marks[i].want > 0 {
            while j < marks.len() && marks[j].want == marks[i].want && lines[j] == lines[j - 1] + 1
            {
                j += 1;
            }
        }
        let clear = marks[i..j].iter().map(|m| m.code + 2).max().unwrap_or(0);
        let column = clear.max(marks[i].want);
        for m in &marks[i..j] {
            result.push_str(&out[copied..m.at]);
            result.extend(std::iter::repeat_n(' ', column - m.code));
            copied = m.at;
        }
        i = j;
    }
    result.push_str(&out[copied..]);
    result
}

/// Whether `next`, printed flat, and what follows it up to the next possible line break,
/// fit in `width` columns. Trailing comments do not count.
fn fits(next: &Doc, rest: &[(usize, Mode, &Doc)], mut width: isize) -> bool {
    let mut stack: Vec<(Mode, &Doc)> = vec![(Mode::Flat, next)];
    let mut rest_idx = rest.len();
    while width >= 0 {
        let (mode, d) = match stack.pop() {
            Some(x) => x,
            None if rest_idx == 0 => return true,
            None => {
                rest_idx -= 1;
                (rest[rest_idx].1, rest[rest_idx].2)
            }
        };
        match d {
            Doc::Text(s) => match s.find('\n') {
                Some(i) => return width >= s[..i].chars().count() as isize,
                None => width -= s.chars().count() as isize,
            },
            Doc::Concat(v) => stack.extend(v.iter().rev().map(|d| (mode, d))),
            Doc::Indent(_, d) | Doc::Align(d) => stack.push((mode, d)),
            Doc::Group(d, forced) => {
                let mode = if *forced { Mode::Break } else { mode };
                stack.push((mode, d));
            }
            Doc::Line | Doc::SoftLine if mode == Mode::Break => return true,
            Doc::HardLine => return true,
            Doc::Line => width -= 1,
            Doc::IfBreak(s) if mode == Mode::Break => width -= s.chars().count() as isize,
            Doc::SoftLine | Doc::IfBreak(_) | Doc::LineSuffix(..) | Doc::BreakParent => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Doc {
        let mut inner = vec![Doc::SoftLine];
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                inner.extend([text(","), Doc::Line]);
            }
            inner.push(text(*it));
        }
        inner.push(Doc::IfBreak(","));
        group(concat(vec![
            text("f("),
            indent(4, concat(inner)),
            Doc::SoftLine,
            text(")"),
        ]))
    }

    #[test]
    fn flat_when_it_fits() {
        assert_eq!(print(&list(&["a", "b"]), 10), "f(a, b)");
    }

    #[test]
    fn broken_when_too_wide() {
        assert_eq!(
            print(&list(&["aaaa", "bbbb"]), 10),
            "f(\n    aaaa,\n    bbbb,\n)"
        );
    }

    #[test]
    fn hard_lines_force_groups_to_break() {
        let d = group(concat(vec![text("a"), Doc::Line, Doc::HardLine, text("b")]));
        assert!(matches!(d, Doc::Group(_, true)));
        assert_eq!(print(&d, 100), "a\n\nb");
    }

    #[test]
    fn line_suffix_goes_before_the_newline() {
        let d = concat(vec![
            text("a"),
            Doc::LineSuffix("// c".into(), 0),
            text(","),
            Doc::HardLine,
            text("b"),
        ]);
        assert_eq!(print(&d, 100), "a,  // c\nb");
    }

    fn commented(code: &str, want: usize) -> Doc {
        concat(vec![
            text(code),
            Doc::LineSuffix("// c".into(), want),
            Doc::HardLine,
        ])
    }

    #[test]
    fn trailing_comments_keep_their_column_and_align() {
        let d = concat(vec![
            commented("a", 8),
            commented("bbb", 8),
            commented("a_long_line", 8),
            text("x"),
            Doc::HardLine,
            commented("a", 8),
            commented("a", 0),
        ]);
        let want =
            "a            // c\nbbb          // c\na_long_line  // c\nx\na       // c\na  // c\n";
        assert_eq!(print(&d, 100), want);
    }

    #[test]
    fn align_indents_to_the_current_column() {
        let d = concat(vec![
            text("let h = x "),
            Doc::Align(Box::new(concat(vec![
                text("|> a"),
                Doc::HardLine,
                text("|> b"),
            ]))),
        ]);
        assert_eq!(print(&d, 100), "let h = x |> a\n          |> b");
    }
}
