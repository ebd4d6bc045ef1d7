//! A small Wadler-style document: text plus the places where a line may break. A group
//! prints flat (its `Line`s as spaces) when it fits in the remaining width and broken
//! (every `Line` a newline) otherwise; this is the algorithm of prettier's printer, with
//! an explicit stack so that long inputs cannot overflow the call stack.

#[derive(Clone, Debug)]
pub enum Doc {
    /// Printed as is. Only a multi-line block comment has a newline inside.
    Text(String),
    Concat(Vec<Doc>),
    /// Indents every line that starts inside by this many more spaces.
    Indent(usize, Box<Doc>),
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
    /// trailing `//` comment, whatever gets printed after it on the line.
    LineSuffix(String),
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
            Doc::Indent(_, d) => stack.push(d),
            _ => {}
        }
    }
    false
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
    let mut suffixes: Vec<&str> = Vec::new();
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
                newline(&mut out, &mut suffixes, ind);
                col = ind;
            }
            Doc::IfBreak(s) => {
                if mode == Mode::Break {
                    out.push_str(s);
                    col += s.chars().count();
                }
            }
            Doc::LineSuffix(s) => suffixes.push(s),
            Doc::BreakParent => {}
        }
    }
    for s in suffixes.drain(..) {
        out.push_str(s);
    }
    let trimmed = out.trim_end_matches([' ', '\t']).len();
    out.truncate(trimmed);
    out
}

fn newline(out: &mut String, suffixes: &mut Vec<&str>, indent: usize) {
    for s in suffixes.drain(..) {
        out.push_str(s);
    }
    let trimmed = out.trim_end_matches([' ', '\t']).len();
    out.truncate(trimmed);
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', indent));
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
            Doc::Indent(_, d) => stack.push((mode, d)),
            Doc::Group(d, forced) => {
                let mode = if *forced { Mode::Break } else { mode };
                stack.push((mode, d));
            }
            Doc::Line | Doc::SoftLine if mode == Mode::Break => return true,
            Doc::HardLine => return true,
            Doc::Line => width -= 1,
            Doc::IfBreak(s) if mode == Mode::Break => width -= s.chars().count() as isize,
            Doc::SoftLine | Doc::IfBreak(_) | Doc::LineSuffix(_) | Doc::BreakParent => {}
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
            Doc::LineSuffix("  // c".into()),
            text(","),
            Doc::HardLine,
            text("b"),
        ]);
        assert_eq!(print(&d, 100), "a,  // c\nb");
    }
}
