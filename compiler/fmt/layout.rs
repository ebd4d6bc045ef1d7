//! AST + source -> [`Doc`]: items, statements and the sequences that hold comments.
//!
//! Every list the formatter prints (items of a file, statements of a block, fields of a
//! section, arguments of a call, stages of a pipe...) is a *sequence*: elements with spans,
//! and gaps between them. A comment in a gap is placed by [`Layout::place`]:
//! - a `/* block */` with code after it on its line: inline, just before the next element;
//! - after an element on the same line: trailing, at the end of that element's line (which
//!   then ends there: the enclosing groups break);
//! - after the `{` of a block on the same line: it stays there;
//! - on a line of its own (or after a `|>`, `,` ...): on its own line before the next element;
//! - after the last element: on its own line before the closing bracket.
//!
//! A comment inside an element that no inner sequence took (as in `let /* c */ x = 1`) is
//! hoisted: it becomes a leading comment of the element. Each comment is placed once
//! (`consumed`), so none is lost or printed twice.
//!
//! Why the output is a fixed point: placing depends only on where a comment sits relative
//! to the elements and line breaks, and each comment is printed where the same rule puts
//! it back. Two cases need care. A pipe's head starts where the pipe does, so a comment
//! printed before it would belong to the enclosing element next time; and a pipe has no
//! line break after its last stage. Comments that would go there go to the enclosing
//! element instead (the [`SeqOpts::pipe`] cases).

use super::doc::{concat, group, indent, text, Doc};
use super::trivia::{blank_line_before, has_newline, Trivia};
use crate::syntax::ast::*;

/// Spaces per block level.
pub const INDENT: usize = 2;
/// Extra spaces for a continuation line (a broken pipe, a broken argument list).
pub const CONTINUATION: usize = 4;

pub struct Layout<'a> {
    pub(super) text: &'a str,
    pub(super) trivia: &'a Trivia,
    consumed: Vec<bool>,
}

type Range = (usize, usize);

#[derive(Clone, Copy, Default)]
pub(super) struct SeqOpts {
    /// The opening `{` of a block: a comment after it on its line stays there.
    pub open: Option<usize>,
    /// The stages of a pipe: no comment before the head (except inline ones written
    /// inside the pipe's parentheses), none after the last stage.
    pub pipe: bool,
}

/// Where the gap comments of one element go (comment indices).
#[derive(Default)]
struct Slot {
    own: Vec<usize>,
    inline: Vec<usize>,
    trail_inline: Vec<usize>,
    trail: Vec<usize>,
}

enum Target {
    Own(usize),
    Inline(usize),
    TrailInline(usize),
    Trail(usize),
    Header,
    Dangling,
}

/// One element ready to print, with its comments.
pub(super) struct Element {
    pub doc: Doc,
    /// Comments on lines of their own before it, each with "a blank line before".
    pub own: Vec<(String, bool)>,
    pub inline: Vec<String>,
    pub trail_inline: Vec<String>,
    /// With the column to align them at (0: none), see [`Layout::align_column`].
    pub trail: Vec<(String, usize)>,
    /// A blank line before the element's own line.
    pub blank: bool,
}

pub(super) struct Seq {
    pub elements: Vec<Element>,
    /// Comments after the opening `{` on its line.
    pub header: Vec<String>,
    /// Comments after the last element, each on its own line, with "a blank line
    /// before"; in an empty sequence, `inline` when all of them are `/* c */` followed by
    /// the closing bracket.
    pub dangling: Vec<(String, bool)>,
    pub inline: bool,
}

impl Element {
    /// The element on its line: inline comments, the element, comments right after it.
    pub fn inline_doc(&mut self) -> Doc {
        let mut parts = Vec::new();
        for c in self.inline.drain(..) {
            parts.push(text(c + " "));
        }
        parts.push(std::mem::replace(&mut self.doc, Doc::Concat(Vec::new())));
        for c in self.trail_inline.drain(..) {
            parts.push(text(format!(" {c}")));
        }
        concat(parts)
    }

    /// End-of-line comments. They break the enclosing groups, so that the line ends right
    /// after the element (and its separator): two trailing comments deferred to the same
    /// line end would merge into one.
    pub fn trail_doc(&self) -> Doc {
        let mut parts: Vec<Doc> = self
            .trail
            .iter()
            .map(|(c, want)| Doc::LineSuffix(c.clone(), *want))
            .collect();
        if !parts.is_empty() {
            parts.push(Doc::BreakParent);
        }
        concat(parts)
    }
}

pub(super) fn span(s: crate::source::Span) -> Range {
    (s.start as usize, s.end as usize)
}

impl<'a> Layout<'a> {
    pub fn new(text: &'a str, trivia: &'a Trivia) -> Self {
        Layout {
            text,
            trivia,
            consumed: vec![false; trivia.comments.len()],
        }
    }

    fn comment(&self, i: usize) -> String {
        self.trivia.comments[i].text.clone()
    }

    /// The column a trailing comment asks to keep: its column in the source if it was
    /// aligned there, padded with more than the two spaces the formatter puts or with a
    /// trailing comment at the same column on the line above or below; else 0.
    fn align_column(&self, i: usize) -> usize {
        let start = self.trivia.comments[i].start;
        let line = self.text[..start].rfind('\n').map_or(0, |n| n + 1);
        let before = &self.text[line..start];
        let col = before.chars().count();
        let code = before.trim_end_matches(super::trivia::is_space);
        let padded = before.len() - code.len() > 2;
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |n| start + n);
        let above = line.checked_sub(1).map(|nl| {
            let from = self.text[..nl].rfind('\n').map_or(0, |n| n + 1);
            &self.text[from..nl]
        });
        let below = self
            .text
            .get(end + 1..)
            .map(|t| t.split('\n').next().unwrap_or(""));
        let neighbour = [above, below]
            .into_iter()
            .flatten()
            .any(|l| trailing_comment_at(l, col));
        match !code.is_empty() && (padded || neighbour) {
            true => col,
            false => 0,
        }
    }

    fn own_blank(&self, i: usize) -> bool {
        let c = &self.trivia.comments[i];
        c.own_line && blank_line_before(self.text, c.start)
    }

    /// Places the comments in the gaps of a sequence (see the module docs).
    fn place(&mut self, region: Range, spans: &[Range], opts: SeqOpts) -> (Vec<Slot>, Seq) {
        let mut slots: Vec<Slot> = spans.iter().map(|_| Slot::default()).collect();
        let mut rest = Seq {
            elements: Vec::new(),
            header: Vec::new(),
            dangling: Vec::new(),
            inline: spans.is_empty(),
        };
        for ci in self.trivia.comments_in(region.0, region.1) {
            if self.consumed[ci] {
                continue;
            }
            let c = &self.trivia.comments[ci];
            let k = spans.partition_point(|s| s.0 <= c.start);
            if k > 0 && c.start < spans[k - 1].1 {
                continue; // inside an element: its own business
            }
            let prev = k.checked_sub(1);
            let next = (k < spans.len()).then_some(k);
            let same_line = prev.filter(|&p| !has_newline(self.text, spans[p].1, c.start));
            let target = if c.inline {
                match (next, prev) {
                    (Some(n), _) => Target::Inline(n),
                    (None, Some(p)) => Target::TrailInline(p),
                    (None, None) => Target::Dangling,
                }
            } else if let Some(p) = same_line {
                Target::Trail(p)
            } else if prev.is_none()
                && opts
                    .open
                    .is_some_and(|o| !has_newline(self.text, o, c.start))
            {
                Target::Header
            } else if let Some(n) = next {
                Target::Own(n)
            } else {
                Target::Dangling
            };
            let last = spans.len().checked_sub(1);
            match target {
                Target::Own(0) | Target::Dangling if opts.pipe => continue,
                Target::Trail(p) | Target::TrailInline(p) if opts.pipe && Some(p) == last => {
                    continue
                }
                Target::Own(n) => slots[n].own.push(ci),
                Target::Inline(n) => slots[n].inline.push(ci),
                Target::TrailInline(p) => slots[p].trail_inline.push(ci),
                Target::Trail(p) => slots[p].trail.push(ci),
                Target::Header => rest.header.push(self.comment(ci)),
                Target::Dangling => {
                    rest.inline &= c.inline;
                    rest.dangling.push((self.comment(ci), self.own_blank(ci)));
                }
            }
            self.consumed[ci] = true;
        }
        (slots, rest)
    }

    /// Takes the comments inside `range` that nothing placed yet: (own-line, inline).
    fn hoist(&mut self, range: Range) -> (Vec<usize>, Vec<usize>) {
        let (mut own, mut inline) = (Vec::new(), Vec::new());
        for ci in self.trivia.comments_in(range.0, range.1) {
            if !self.consumed[ci] {
                self.consumed[ci] = true;
                match self.trivia.comments[ci].inline {
                    true => inline.push(ci),
                    false => own.push(ci),
                }
            }
        }
        (own, inline)
    }

    /// Lays out a sequence: builds each element and collects the comments around it.
    pub(super) fn seq<T>(
        &mut self,
        region: Range,
        items: &[T],
        span_of: impl Fn(&T) -> Range,
        opts: SeqOpts,
        mut build: impl FnMut(&mut Self, &T) -> Doc,
    ) -> Seq {
        let spans: Vec<Range> = items.iter().map(span_of).collect();
        let (slots, mut seq) = self.place(region, &spans, opts);
        for ((item, &sp), slot) in items.iter().zip(&spans).zip(slots) {
            let doc = build(self, item);
            let (hoisted_own, hoisted_inline) = match opts.pipe && seq.elements.is_empty() {
                false => self.hoist(sp),
                true => (Vec::new(), Vec::new()),
            };
            let first = slot
                .inline
                .first()
                .map_or(sp.0, |&c| self.trivia.comments[c].start);
            let mut blank = blank_line_before(self.text, first);
            let mut own: Vec<(String, bool)> = slot
                .own
                .iter()
                .map(|&c| (self.comment(c), self.own_blank(c)))
                .collect();
            // Comments hoisted out of the element take its place, and its blank line.
            for (k, &c) in hoisted_own.iter().enumerate() {
                own.push((self.comment(c), k == 0 && blank));
            }
            if !hoisted_own.is_empty() {
                blank = false;
            }
            let texts = |l: &Self, v: &[usize]| v.iter().map(|&c| l.comment(c)).collect();
            let mut inline: Vec<String> = texts(self, &slot.inline);
            inline.extend(texts(self, &hoisted_inline));
            seq.elements.push(Element {
                doc,
                own,
                inline,
                trail_inline: texts(self, &slot.trail_inline),
                trail: slot
                    .trail
                    .iter()
                    .map(|&c| (self.comment(c), self.align_column(c)))
                    .collect(),
                blank,
            });
        }
        seq
    }

    // ------------------------------------------------------------------ items

    pub fn file(&mut self, file: &File) -> Doc {
        let region = (0, self.text.len());
        let seq = self.seq(
            region,
            &file.items,
            |i| span(i.span()),
            SeqOpts::default(),
            |l, item| l.item(item),
        );
        let kinds: Vec<bool> = file
            .items
            .iter()
            .map(|i| matches!(i, Item::Import(_)))
            .collect();
        let mut lines = Vec::new();
        for (i, mut el) in seq.elements.into_iter().enumerate() {
            // One blank line between items; consecutive imports keep the user's choice.
            let separate = i > 0 && !(kinds[i - 1] && kinds[i]);
            if separate {
                match el.own.first_mut() {
                    Some(first) => first.1 = true,
                    None => el.blank = true,
                }
            }
            push_lines(&mut lines, el);
        }
        lines.extend(seq.dangling.into_iter().map(|(c, b)| (b, text(c))));
        let mut parts = Vec::new();
        for (i, (blank, line)) in lines.into_iter().enumerate() {
            if i > 0 {
                parts.push(Doc::HardLine);
                if blank {
                    parts.push(Doc::HardLine);
                }
            }
            parts.push(line);
        }
        concat(parts)
    }

    fn item(&mut self, item: &Item) -> Doc {
        match item {
            Item::Import(i) => text(format!(
                "import {}",
                self.string_text(span(i.path_span), &i.path)
            )),
            Item::Network(n) => {
                let head = text(format!("network {}", n.name.name));
                self.stmt_block(head, span(n.span), &n.body)
            }
            Item::Block(b) => {
                let params: Vec<&str> = b.params.iter().map(|p| p.name.as_str()).collect();
                let head = text(format!("block {}({})", b.name.name, params.join(", ")));
                self.stmt_block(head, span(b.span), &b.body)
            }
            Item::Data(s) => self.section("data", s, &[]),
            Item::Train(s) => self.section("train", s, &[]),
            Item::Rules(r) => self.section("rules", &r.section, &r.rules),
        }
    }

    /// The inside of an item's `{ }`, and the position of the `{`.
    fn body_region(&self, item: Range) -> (Range, Option<usize>) {
        let open = self.trivia.find(self.text, b'{', item.0, item.1);
        let close = item.1.saturating_sub(1);
        match open {
            Some(o) if self.text.as_bytes().get(close) == Some(&b'}') && o < close => {
                ((o + 1, close), Some(o))
            }
            _ => ((item.0, item.0), None),
        }
    }

    fn stmt_block(&mut self, head: Doc, item: Range, body: &[Stmt]) -> Doc {
        let (region, open) = self.body_region(item);
        let opts = SeqOpts { open, pipe: false };
        let seq = self.seq(region, body, |s| span(s.span()), opts, |l, s| l.stmt(s));
        braces(head, seq)
    }

    fn section(&mut self, kw: &str, s: &Section, rules: &[RuleDecl]) -> Doc {
        let head = match &s.name {
            Some(n) => format!("{kw} {}", n.name),
            None => kw.to_string(),
        };
        // Fields and rules interleave in the source; keep that order.
        let mut entries: Vec<Entry> = s.fields.iter().map(Entry::Field).collect();
        entries.extend(rules.iter().map(Entry::Rule));
        entries.sort_by_key(|e| e.span().0);
        let (region, open) = self.body_region(span(s.span));
        let opts = SeqOpts { open, pipe: false };
        let seq = self.seq(region, &entries, Entry::span, opts, |l, e| match e {
            Entry::Field(f) => l.field(&f.key, &f.value),
            Entry::Rule(r) => l.rule(r),
        });
        braces(text(head), seq)
    }

    pub(super) fn field(&mut self, key: &Ident, value: &Expr) -> Doc {
        let value_doc = self.expr(value);
        let before = self.inline_before(key.span.end as usize, Some(b':'), value);
        concat(vec![text(format!("{}: ", key.name)), before, value_doc])
    }

    /// `/* c */` comments between `from` and `value`, after the `sep` token if given,
    /// stay inline before the value (as in `let h = /* c */ x`).
    fn inline_before(&mut self, from: usize, sep: Option<u8>, value: &Expr) -> Doc {
        let start = value.span.start as usize;
        let from = match sep {
            Some(b) => match self.trivia.find(self.text, b, from, start) {
                Some(at) => at,
                None => return concat(Vec::new()),
            },
            None => from,
        };
        let mut parts = Vec::new();
        for ci in self.trivia.comments_in(from, start) {
            if !self.consumed[ci] && self.trivia.comments[ci].inline {
                self.consumed[ci] = true;
                parts.push(text(self.comment(ci) + " "));
            }
        }
        concat(parts)
    }

    fn rule(&mut self, r: &RuleDecl) -> Doc {
        let mut parts = vec![text(format!("rule {}", r.name.name))];
        if !r.args.is_empty() {
            let rule = span(r.span);
            let open = self
                .trivia
                .find(self.text, b'(', r.name.span.end as usize, rule.1);
            let close = open.and_then(|o| self.trivia.matching_paren(self.text, o, rule.1));
            let region = match (open, close) {
                (Some(o), Some(c)) => (o, c + 1),
                _ => (rule.0, rule.0),
            };
            parts.push(self.args(region, &r.args));
        }
        parts.push(text(":"));
        parts.push(indent(
            CONTINUATION,
            concat(vec![Doc::Line, self.expr(&r.formula)]),
        ));
        group(concat(parts))
    }

    pub(super) fn stmt(&mut self, s: &Stmt) -> Doc {
        let (head, value, after, sep) = match s {
            Stmt::Input { name, shape, .. } => (
                format!("input {}: ", name.name),
                shape,
                name.span.end,
                Some(b':'),
            ),
            Stmt::Let { name, value, .. } => (
                format!("let {} = ", name.name),
                value,
                name.span.end,
                Some(b'='),
            ),
            Stmt::Output { name, value, .. } => (
                format!("output {} = ", name.name),
                value,
                name.span.end,
                Some(b'='),
            ),
            Stmt::Return { value, span } => ("return ".to_string(), value, span.start, None),
        };
        let value_doc = self.expr(value);
        let before = self.inline_before(after as usize, sep, value);
        concat(vec![text(head), before, value_doc])
    }
}

/// Whether `line` has a trailing comment (code, spaces, `//` or `/*`) at char column `col`.
fn trailing_comment_at(line: &str, col: usize) -> bool {
    let Some((at, _)) = line.char_indices().nth(col) else {
        return false;
    };
    let (before, rest) = line.split_at(at);
    (rest.starts_with("//") || rest.starts_with("/*"))
        && before.ends_with([' ', '\t'])
        && !before.trim().is_empty()
}

enum Entry<'a> {
    Field(&'a Field),
    Rule(&'a RuleDecl),
}

impl Entry<'_> {
    fn span(&self) -> Range {
        match self {
            Entry::Field(f) => span(f.key.span.to(f.value.span)),
            Entry::Rule(r) => span(r.span),
        }
    }
}

/// Adds an element's lines (its own-line comments, then itself) as (blank before, line).
pub(super) fn push_lines(lines: &mut Vec<(bool, Doc)>, mut el: Element) {
    for (c, blank) in std::mem::take(&mut el.own) {
        lines.push((blank, text(c)));
    }
    // `x /* c */ }`: the line ends after the comment once `}` moves to its own line.
    let inline_after = std::mem::take(&mut el.trail_inline);
    el.trail
        .splice(0..0, inline_after.into_iter().map(|c| (c, 0)));
    let trail = el.trail_doc();
    let blank = el.blank;
    lines.push((blank, concat(vec![el.inline_doc(), trail])));
}

/// `head {`, one line per element indented one level, `}`; `head {}` when empty. No blank
/// line at the start or the end of a block.
fn braces(head: Doc, seq: Seq) -> Doc {
    let mut lines = Vec::new();
    for el in seq.elements {
        push_lines(&mut lines, el);
    }
    lines.extend(seq.dangling.into_iter().map(|(c, b)| (b, text(c))));
    if lines.is_empty() && seq.header.is_empty() {
        return concat(vec![head, text(" {}")]);
    }
    let mut body = Vec::new();
    for (i, (blank, line)) in lines.into_iter().enumerate() {
        if blank && i > 0 {
            body.push(Doc::HardLine);
        }
        body.push(Doc::HardLine);
        body.push(line);
    }
    let mut parts = vec![head, text(" {")];
    parts.extend(seq.header.into_iter().map(|c| Doc::LineSuffix(c, 0)));
    parts.extend([indent(INDENT, concat(body)), Doc::HardLine, text("}")]);
    concat(parts)
}
