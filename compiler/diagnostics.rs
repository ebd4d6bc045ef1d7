//! Diagnostics: what every stage reports instead of panicking.
//!
//! A [`Diagnostic`] carries only data (a stable code, a message, labelled spans, a help
//! sentence); the source text is attached at render time, in [`render`], so stages never
//! handle presentation. Stages accumulate diagnostics and keep going where they can, so one
//! run reports every independent problem.

mod excerpt;

use crate::source::{SourceMap, Span};
use excerpt::{Excerpt, LineIndex};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceSpan};
use std::fmt;

/// How bad a diagnostic is. Any `Error` makes `nnc check` exit with 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A labelled span. The first label of a diagnostic is its primary location.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub span: Span,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Stable, namespaced: `nnc::<stage>::<name>`; the catalogue is [`codes`].
    pub code: &'static str,
    pub severity: Severity,
    /// Lowercase, no trailing period.
    pub message: String,
    pub labels: Vec<Label>,
    /// A full sentence saying how to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The primary span, if any.
    pub fn span(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }
}

/// Diagnostics collected by a stage.
pub type Diagnostics = Vec<Diagnostic>;

pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

/// The catalogue of diagnostic codes; docs/diagnostics.md explains each one.
pub mod codes {
    pub const IO_NOT_FOUND: &str = "nnc::io::not_found";
    pub const IO_READ: &str = "nnc::io::read";
    pub const IO_NOT_UTF8: &str = "nnc::io::not_utf8";
    pub const IO_TOO_LARGE: &str = "nnc::io::too_large";
    pub const PARSE_SYNTAX: &str = "nnc::parse::syntax";
    pub const PARSE_TOO_DEEP: &str = "nnc::parse::too_deep";
    pub const PARSE_NUMBER: &str = "nnc::parse::number";
    pub const PARSE_STRING: &str = "nnc::parse::string";
    pub const PARSE_EMPTY: &str = "nnc::parse::empty";
    pub const RESOLVE_UNDEFINED: &str = "nnc::resolve::undefined_name";
    pub const RESOLVE_DUPLICATE: &str = "nnc::resolve::duplicate_name";
    pub const RESOLVE_UNKNOWN_LAYER: &str = "nnc::resolve::unknown_layer";
    pub const RESOLVE_NOT_A_TENSOR: &str = "nnc::resolve::not_a_tensor";
    pub const RESOLVE_RECURSION: &str = "nnc::resolve::recursive_block";
    pub const RESOLVE_TOO_LARGE: &str = "nnc::resolve::too_large";
    pub const RESOLVE_STRUCTURE: &str = "nnc::resolve::structure";
    pub const RESOLVE_RECURRENCE: &str = "nnc::resolve::recurrence";
    pub const ARG_UNKNOWN: &str = "nnc::args::unknown_option";
    pub const ARG_TYPE: &str = "nnc::args::wrong_type";
    pub const ARG_MISSING: &str = "nnc::args::missing_argument";
    pub const ARG_DUPLICATE: &str = "nnc::args::duplicate_argument";
    pub const ARG_TOO_MANY: &str = "nnc::args::too_many_arguments";
    pub const ARG_RANGE: &str = "nnc::args::out_of_range";
    pub const INIT_UNKNOWN: &str = "nnc::init::unknown_scheme";
    pub const INIT_INVALID: &str = "nnc::init::not_applicable";
    pub const SHAPE_MISMATCH: &str = "nnc::shape::mismatch";
    pub const SHAPE_RANK: &str = "nnc::shape::rank";
    pub const SHAPE_GROUPS: &str = "nnc::shape::groups";
    pub const SHAPE_KERNEL: &str = "nnc::shape::kernel_too_large";
    pub const SHAPE_DIM: &str = "nnc::shape::bad_dimension";
    pub const SHAPE_OVERFLOW: &str = "nnc::shape::overflow";
    pub const TRAIN_REFERENCE: &str = "nnc::train::missing_reference";
    pub const TRAIN_INVALID: &str = "nnc::train::invalid";
    pub const TRAIN_DOUBLE_CORRECTION: &str = "nnc::train::double_correction";
    pub const TRAIN_UNMATCHED: &str = "nnc::train::unmatched_name";
    pub const TRAIN_INPUT_COLUMNS: &str = "nnc::train::input_columns";
    pub const RULES_INVALID: &str = "nnc::rules::invalid";
    pub const FMT_INTERNAL: &str = "nnc::fmt::internal";
    pub const INSPECT_LAYERS: &str = "nnc::inspect::layers_differ";
    pub const INSPECT_NOT_SCALAR: &str = "nnc::inspect::not_scalar";
    pub const INSPECT_FEATURE: &str = "nnc::inspect::unknown_feature";
    pub const INSPECT_INVALID: &str = "nnc::inspect::invalid";

    /// Every code, for the documentation test.
    pub const ALL: &[&str] = &[
        IO_NOT_FOUND,
        IO_READ,
        IO_NOT_UTF8,
        IO_TOO_LARGE,
        PARSE_SYNTAX,
        PARSE_TOO_DEEP,
        PARSE_NUMBER,
        PARSE_STRING,
        PARSE_EMPTY,
        RESOLVE_UNDEFINED,
        RESOLVE_DUPLICATE,
        RESOLVE_UNKNOWN_LAYER,
        RESOLVE_NOT_A_TENSOR,
        RESOLVE_RECURSION,
        RESOLVE_TOO_LARGE,
        RESOLVE_STRUCTURE,
        RESOLVE_RECURRENCE,
        ARG_UNKNOWN,
        ARG_TYPE,
        ARG_MISSING,
        ARG_DUPLICATE,
        ARG_TOO_MANY,
        ARG_RANGE,
        INIT_UNKNOWN,
        INIT_INVALID,
        SHAPE_MISMATCH,
        SHAPE_RANK,
        SHAPE_GROUPS,
        SHAPE_KERNEL,
        SHAPE_DIM,
        SHAPE_OVERFLOW,
        TRAIN_REFERENCE,
        TRAIN_INVALID,
        TRAIN_DOUBLE_CORRECTION,
        TRAIN_UNMATCHED,
        TRAIN_INPUT_COLUMNS,
        RULES_INVALID,
        FMT_INTERNAL,
        INSPECT_LAYERS,
        INSPECT_NOT_SCALAR,
        INSPECT_FEATURE,
        INSPECT_INVALID,
    ];
}

/// "did you mean `x`?" for a misspelt name, if a candidate is close enough.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for cand in candidates {
        let score = strsim::jaro_winkler(name, cand);
        if score > 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, cand));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

// ------------------------------------------------------------------ rendering

/// A diagnostic with its source attached: what miette renders.
struct Report {
    diag: Diagnostic,
    /// The lines the labels are on, long ones cut (see [`excerpt`]).
    source: Option<Excerpt>,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.diag, f)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diag.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        match &self.source {
            Some(s) if !self.labels.is_empty() => Some(s),
            _ => None,
        }
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
}

/// How to render: the CLI uses colours on a terminal; tests and `--json` never do.
#[derive(Clone, Copy, Debug)]
pub struct RenderOptions {
    pub color: bool,
    pub width: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            width: 100,
        }
    }
}

/// At most this many reports are rendered, and no more once the text is this long: a
/// generated spec with 10,000 mistakes gets the first ones and a count, not megabytes.
/// (`--json` lists every diagnostic.)
const MAX_REPORTS: usize = 100;
const MAX_RENDERED: usize = 256 << 10;
/// A label over more lines than this is shown on its first line only.
const MAX_LABEL_LINES: usize = 12;

/// Renders diagnostics as miette reports, in order, separated by blank lines.
pub fn render(diags: &[Diagnostic], sources: &SourceMap, options: RenderOptions) -> String {
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false);
    let mut out = String::new();
    // Built once per file and only for files a report shows.
    let mut indexes: Vec<Option<LineIndex>> = Vec::new();
    for (shown, diag) in diags.iter().enumerate() {
        if shown == MAX_REPORTS || out.len() > MAX_RENDERED {
            let errors = diags[shown..].iter().filter(|d| d.is_error()).count();
            out.push_str(&format!(
                "... and {} more ({errors} errors) not shown: fix the ones above first\n",
                diags.len() - shown
            ));
            break;
        }
        let report = to_report(diag, sources, &mut indexes);
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&format!("error[{}]: {}\n", diag.code, diag.message));
        }
        out.push('\n');
    }
    out
}

fn to_report(
    diag: &Diagnostic,
    sources: &SourceMap,
    indexes: &mut Vec<Option<LineIndex>>,
) -> Report {
    let Some(primary) = diag.span() else {
        return Report {
            diag: diag.clone(),
            source: None,
            labels: Vec::new(),
            help: diag.help.clone(),
        };
    };
    let file = sources.get(primary.file);
    let text_len = file.text.len();
    let which = primary.file.0 as usize;
    if indexes.len() <= which {
        indexes.resize_with(which + 1, || None);
    }
    let index = indexes[which].get_or_insert_with(|| LineIndex::new(&file.text));
    // miette shows one source per report; labels in another file become notes in the help.
    let here: Vec<(usize, usize)> = diag
        .labels
        .iter()
        .filter(|l| l.span.file == primary.file)
        .map(|l| {
            let start = (l.span.start as usize).min(text_len);
            let end = start + l.span.len().min(text_len - start);
            let covered = file.text.get(start..end).unwrap_or("");
            match covered.matches('\n').count() > MAX_LABEL_LINES {
                true => (start, start + covered.find('\n').unwrap_or(0)),
                false => (start, end),
            }
        })
        .collect();
    let source = Excerpt::new(&file.name, &file.text, index, &here);
    let mut labels = Vec::new();
    let mut notes = Vec::new();
    let mut here = here.into_iter();
    for (i, label) in diag.labels.iter().enumerate() {
        if label.span.file == primary.file {
            let (start, end) = here.next().unwrap_or_default();
            let (start, end) = (source.map(start), source.map(end));
            let span = SourceSpan::new(start.into(), end.saturating_sub(start));
            let text = (!label.text.is_empty()).then(|| label.text.clone());
            labels.push(if i == 0 {
                LabeledSpan::new_primary_with_span(text, span)
            } else {
                LabeledSpan::new_with_span(text, span)
            });
        } else {
            let other = sources.get(label.span.file);
            let (line, col) = sources.line_col(label.span.file, label.span.start);
            notes.push(format!("{} (at {}:{line}:{col})", label.text, other.name));
        }
    }
    let help = match (&diag.help, notes.is_empty()) {
        (Some(h), true) => Some(h.clone()),
        (h, false) => Some(
            h.iter()
                .cloned()
                .chain(notes)
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        (None, true) => None,
    };
    Report {
        diag: diag.clone(),
        source: Some(source),
        labels,
        help,
    }
}

/// The JSON form of a diagnostic (for `--json`).
pub fn to_json(diag: &Diagnostic, sources: &SourceMap) -> serde_json::Value {
    let location = diag.span().map(|span| {
        let (line, column) = sources.line_col(span.file, span.start);
        serde_json::json!({
            "file": sources.get(span.file).name,
            "line": line,
            "column": column,
            "start": span.start,
            "end": span.end,
        })
    });
    let labels: Vec<_> = diag
        .labels
        .iter()
        .map(|l| {
            let (line, column) = sources.line_col(l.span.file, l.span.start);
            serde_json::json!({
                "file": sources.get(l.span.file).name,
                "line": line, "column": column,
                "start": l.span.start, "end": l.span.end,
                "text": l.text,
            })
        })
        .collect();
    serde_json::json!({
        "code": diag.code,
        "severity": diag.severity,
        "message": diag.message,
        "location": location,
        "labels": labels,
        "help": diag.help,
    })
}
