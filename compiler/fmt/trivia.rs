//! What the parser throws away and the formatter must keep: comments, the raw text of string
//! literals, and where lines are blank.
//!
//! The grammar treats comments as trivia, so the AST never sees them. This scanner mirrors
//! the grammar's tokens (`"..."` strings with `\` escapes, `// line` and `/* block */`
//! comments) and is only run on files that parsed, where it agrees with pest.

/// One comment, with what the formatter needs to know to put it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// Byte range in the source.
    pub start: usize,
    pub end: usize,
    /// The text to print: the comment without trailing whitespace on any of its lines.
    pub text: String,
    pub is_line: bool,
    /// A block comment whose text spans several lines.
    pub multiline: bool,
    /// Only whitespace precedes it on its line.
    pub own_line: bool,
    /// A one-line block comment with code after it on the same line, as in
    /// `dense(/* width */ 64)`: it is printed inline, before that code.
    pub inline: bool,
}

/// Comments and string literals of one file, in source order.
#[derive(Debug, Default)]
pub struct Trivia {
    pub comments: Vec<Comment>,
    /// Byte ranges of string literals, quotes included.
    pub strings: Vec<(usize, usize)>,
}

/// Whitespace as the grammar defines it, newline excepted.
pub fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\u{FEFF}')
}

pub fn scan(text: &str) -> Trivia {
    let bytes = text.as_bytes();
    let mut trivia = Trivia::default();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                trivia.strings.push((start, i));
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let start = i;
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                trivia.comments.push(comment(text, start, i, true));
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => match text[i + 2..].find("*/") {
                Some(len) => {
                    let end = i + 2 + len + 2;
                    trivia.comments.push(comment(text, i, end, false));
                    i = end;
                }
                // Not a comment for pest either: `/` then `*`.
                None => i += 1,
            },
            _ => i += 1,
        }
    }
    // `inline` looks past the comments that follow on the same line.
    for k in 0..trivia.comments.len() {
        let c = &trivia.comments[k];
        if !c.is_line && !c.multiline {
            trivia.comments[k].inline = code_follows(text, &trivia.comments[k + 1..], c.end);
        }
    }
    trivia
}

fn comment(text: &str, start: usize, end: usize, is_line: bool) -> Comment {
    let raw = &text[start..end];
    let body: Vec<&str> = raw
        .split('\n')
        .map(|l| l.trim_end_matches(is_space))
        .collect();
    let body = body.join("\n");
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    Comment {
        start,
        end,
        multiline: body.contains('\n'),
        text: body,
        is_line,
        own_line: text[line_start..start].chars().all(is_space),
        inline: false,
    }
}

/// Whether code (not a comment, not the end of the line) follows `from` on its line.
/// `next` are the comments after `from`, in order.
fn code_follows(text: &str, next: &[Comment], mut from: usize) -> bool {
    let mut next = next.iter();
    loop {
        let rest = &text[from..];
        let skipped = rest.len() - rest.trim_start_matches(is_space).len();
        from += skipped;
        match text[from..].chars().next() {
            None | Some('\n') => return false,
            _ => {}
        }
        match next.next() {
            Some(c) if c.start == from && !c.is_line && !c.multiline => from = c.end,
            Some(c) if c.start == from => return false,
            _ => return true,
        }
    }
}

impl Trivia {
    /// Indices of the comments that start inside `start..end`.
    pub fn comments_in(&self, start: usize, end: usize) -> std::ops::Range<usize> {
        let lo = self.comments.partition_point(|c| c.start < start);
        let hi = self.comments.partition_point(|c| c.start < end);
        lo..hi.max(lo)
    }

    /// The comment or string that covers byte `i`, as a range to skip.
    fn skip_at(&self, i: usize) -> Option<usize> {
        let k = self.comments.partition_point(|c| c.end <= i);
        if let Some(c) = self.comments.get(k) {
            if c.start <= i {
                return Some(c.end);
            }
        }
        let k = self.strings.partition_point(|s| s.1 <= i);
        match self.strings.get(k) {
            Some(s) if s.0 <= i => Some(s.1),
            _ => None,
        }
    }

    /// The first `byte` at or after `from` (and before `to`) outside comments and strings.
    pub fn find(&self, text: &str, byte: u8, from: usize, to: usize) -> Option<usize> {
        let bytes = text.as_bytes();
        let to = to.min(bytes.len());
        let mut i = from;
        while i < to {
            if let Some(end) = self.skip_at(i) {
                i = end;
                continue;
            }
            if bytes[i] == byte {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// The position of the `)` matching the `(` at `open`, if it comes before `to`.
    pub fn matching_paren(&self, text: &str, open: usize, to: usize) -> Option<usize> {
        let bytes = text.as_bytes();
        let to = to.min(bytes.len());
        let mut depth = 0usize;
        let mut i = open;
        while i < to {
            if let Some(end) = self.skip_at(i) {
                i = end;
                continue;
            }
            match bytes[i] {
                b'(' => depth += 1,
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }

    /// The first character at or after `from` that is neither whitespace nor comment.
    pub fn next_code(&self, text: &str, mut from: usize) -> Option<u8> {
        let bytes = text.as_bytes();
        while from < bytes.len() {
            match self
                .comments
                .get(self.comments.partition_point(|c| c.end <= from))
            {
                Some(c) if c.start <= from => from = c.end,
                _ if bytes[from].is_ascii_whitespace() => from += 1,
                _ if text[from..].starts_with('\u{FEFF}') => from += '\u{FEFF}'.len_utf8(),
                _ => return Some(bytes[from]),
            }
        }
        None
    }

    /// The source text of the string literal inside `start..end`.
    pub fn string_in<'t>(&self, text: &'t str, start: usize, end: usize) -> Option<&'t str> {
        let k = self.strings.partition_point(|s| s.0 < start);
        let &(s, e) = self.strings.get(k)?;
        (e <= end).then(|| text.get(s..e)).flatten()
    }
}

/// Whether a line break separates `from` and `to`.
pub fn has_newline(text: &str, from: usize, to: usize) -> bool {
    text.get(from..to).is_some_and(|gap| gap.contains('\n'))
}

/// Whether the line before the one holding `pos` is blank.
pub fn blank_line_before(text: &str, pos: usize) -> bool {
    let Some(nl) = text.get(..pos).and_then(|t| t.rfind('\n')) else {
        return false;
    };
    let prev_start = text[..nl].rfind('\n').map_or(0, |i| i + 1);
    text[prev_start..nl].chars().all(is_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_comments_outside_strings() {
        let t = scan("a \"// no\" // yes\n/* b */ c /* d\n e */");
        let texts: Vec<_> = t.comments.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["// yes", "/* b */", "/* d\n e */"]);
        assert_eq!(t.strings, [(2, 9)]);
        assert!(!t.comments[0].own_line && t.comments[1].own_line);
        assert!(t.comments[1].inline, "code follows /* b */");
        assert!(t.comments[2].multiline && !t.comments[2].inline);
    }

    #[test]
    fn inline_looks_past_other_block_comments() {
        let t = scan("/* a */ /* b */ x\n/* c */ // d\n");
        let inline: Vec<_> = t.comments.iter().map(|c| c.inline).collect();
        assert_eq!(inline, [true, true, false, false]);
    }

    #[test]
    fn unterminated_block_is_not_a_comment() {
        assert!(scan("a /* b").comments.is_empty());
    }

    #[test]
    fn blank_lines() {
        let text = "a\n\n  b\nc";
        assert!(blank_line_before(text, text.find('b').unwrap()));
        assert!(!blank_line_before(text, text.find('c').unwrap()));
        assert!(!blank_line_before(text, 0));
    }
}
