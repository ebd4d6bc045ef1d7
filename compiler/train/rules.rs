//! Logic rules in training (Hu et al. 2016, papers.md section 6): a rules block's names
//! resolved against the data, its imitation schedule evaluated per epoch on the host, and
//! its formulas lowered into the step's IR as the teacher
//! q(y|x) ∝ p(y|x) exp(-C Σ_l λ_l (1 - r_l(x, y))).
//!
//! Every value of a formula is lowered as a `[batch, classes]` matrix: column y holds the
//! value when the example is scored as class y, so `class == positive` is a constant one-hot
//! and per-example values (features) are broadcast across the columns.

use super::RunError;
use crate::diagnostics::did_you_mean;
use crate::hir::RulesDecl;
use crate::prim::{Graph, NodeId};
use crate::source::Span;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use nnc_runtime::data::Dataset;
use std::ops::Range;

/// Step inputs: the example's features before scaling (what `feature(...)` reads), `[batch,
/// features]`, and the imitation weight pi, a scalar.
pub const RAW_FEATURES: &str = "rules.features";
pub const PI: &str = "rules.pi";

/// A rule formula with its names resolved.
#[derive(Clone, Debug, PartialEq)]
enum Term {
    Number(f64),
    /// A column of the unscaled features.
    Feature(usize),
    /// 1 where the scored class is this class.
    ClassIs(usize),
    /// The network's probability, on view `.0`, of the scored class.
    Predict(usize),
    /// The network's probability, on view `.0`, of class `.1`.
    PredictClass(usize, usize),
    Not(Box<Term>),
    Neg(Box<Term>),
    Binary(BinaryOp, Box<Term>, Box<Term>),
    Min(Box<Term>, Box<Term>),
    Max(Box<Term>, Box<Term>),
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    pub weight: f64,
    term: Term,
}

/// A field of the input that `predict` reads: the network input with every column outside
/// `columns` set to zero.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub field: String,
    pub columns: Range<usize>,
}

#[derive(Clone, Debug)]
pub struct Rules {
    pub name: String,
    /// C.
    pub strength: f64,
    pub rules: Vec<Rule>,
    pub views: Vec<View>,
    pub n_features: usize,
    pub n_classes: usize,
    /// pi as a formula of `epoch`; None is the default `min(0.95, 1 - 0.9^epoch)`.
    imitation: Option<Expr>,
}

fn err(rules: &str, at: Span, message: String, help: String) -> RunError {
    RunError::config_at(at, format!("rules block `{rules}`: {message}"), help)
}

fn listing(what: &str, names: &[&str], wrong: &str) -> String {
    if let Some(dym) = did_you_mean(wrong, names.iter().copied()) {
        return crate::hir::args::capitalize(&dym);
    }
    if names.is_empty() {
        return format!("The data names no {what}.");
    }
    let shown: Vec<String> = names.iter().take(20).map(|n| format!("`{n}`")).collect();
    let more = if names.len() > 20 { ", ..." } else { "" };
    format!("The data's {what} are: {}{more}.", shown.join(", "))
}

struct Resolver<'a> {
    rules: &'a str,
    data: &'a Dataset,
    classes: Vec<&'a str>,
    views: Vec<View>,
}

impl Resolver<'_> {
    fn class(&self, name: &str, at: Span) -> Result<usize, RunError> {
        self.classes.iter().position(|c| *c == name).ok_or_else(|| {
            err(
                self.rules,
                at,
                format!("unknown class `{name}`"),
                listing("classes", &self.classes, name),
            )
        })
    }

    fn view(&mut self, e: &Expr) -> Result<usize, RunError> {
        let name = match &e.kind {
            ExprKind::Call { callee, args } if callee.name == "field" => {
                match &args[0].value.kind {
                    ExprKind::Str(s) | ExprKind::Name(s) => s.clone(),
                    _ => String::new(),
                }
            }
            _ => {
                return Err(err(
                    self.rules,
                    e.span,
                    "`predict` reads a field: `predict(field(\"name\"))`".into(),
                    "Name a field of the data, e.g. `predict(field(\"clause_b\"))`.".into(),
                ))
            }
        };
        let fields = self.data.fields();
        let Some(field) = fields.iter().find(|f| f.name == name) else {
            let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            return Err(err(
                self.rules,
                e.span,
                format!("unknown field `{name}`"),
                listing("fields", &names, &name),
            ));
        };
        if let Some(i) = self.views.iter().position(|v| v.field == name) {
            return Ok(i);
        }
        self.views.push(View {
            field: name,
            columns: field.columns.clone(),
        });
        Ok(self.views.len() - 1)
    }

    fn feature(&self, e: &Expr) -> Result<usize, RunError> {
        let n = self.data.n_features();
        match &e.kind {
            ExprKind::Number(num) => match num.int {
                Some(i) if i >= 0 && (i as usize) < n => Ok(i as usize),
                _ => Err(err(
                    self.rules,
                    e.span,
                    format!("feature index {} is not in 0..{n}", num.text),
                    format!("The data has {n} features, numbered from 0."),
                )),
            },
            ExprKind::Str(s) | ExprKind::Name(s) => self.data.feature_index(s).ok_or_else(|| {
                let names: Vec<&str> = self
                    .data
                    .feature_names()
                    .unwrap_or_default()
                    .iter()
                    .map(String::as_str)
                    .collect();
                err(
                    self.rules,
                    e.span,
                    format!("unknown feature `{s}`"),
                    listing("features", &names, s),
                )
            }),
            _ => Err(err(
                self.rules,
                e.span,
                "`feature` takes a feature name or index".into(),
                "Write `feature(\"name\")` or `feature(3)`.".into(),
            )),
        }
    }

    fn is_class_word(e: &Expr) -> bool {
        matches!(&e.kind, ExprKind::Name(n) if n == "class")
    }

    fn is_predict(e: &Expr) -> bool {
        matches!(&e.kind, ExprKind::Call { callee, .. } if callee.name == "predict")
    }

    /// `class == NAME` and `predict(...) == NAME` (either side), or None.
    fn class_test(&mut self, lhs: &Expr, rhs: &Expr) -> Result<Option<Term>, RunError> {
        for (a, b) in [(lhs, rhs), (rhs, lhs)] {
            let ExprKind::Name(class) = &b.kind else {
                continue;
            };
            if Self::is_class_word(b) {
                continue;
            }
            if Self::is_class_word(a) {
                return Ok(Some(Term::ClassIs(self.class(class, b.span)?)));
            }
            if let ExprKind::Call { args, .. } = &a.kind {
                if Self::is_predict(a) {
                    let view = self.view(&args[0].value)?;
                    return Ok(Some(Term::PredictClass(view, self.class(class, b.span)?)));
                }
            }
        }
        Ok(None)
    }

    fn term(&mut self, e: &Expr) -> Result<Term, RunError> {
        let boxed = |t: Term| Box::new(t);
        Ok(match &e.kind {
            ExprKind::Number(n) => Term::Number(n.value),
            ExprKind::Name(n) if n == "class" => {
                return Err(err(
                    self.rules,
                    e.span,
                    "`class` is compared with a class name".into(),
                    format!(
                        "Write `class == {}`.",
                        self.classes.first().copied().unwrap_or("NAME")
                    ),
                ))
            }
            ExprKind::Name(n) => {
                self.class(n, e.span)?;
                return Err(err(
                    self.rules,
                    e.span,
                    format!("the class name `{n}` stands alone"),
                    format!("Compare it: `class == {n}` or `predict(field(\"...\")) == {n}`."),
                ));
            }
            ExprKind::Unary { op, operand } => {
                let t = boxed(self.term(operand)?);
                match op {
                    UnaryOp::Not => Term::Not(t),
                    UnaryOp::Neg => Term::Neg(t),
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                if matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
                    if let Some(t) = self.class_test(lhs, rhs)? {
                        return Ok(if *op == BinaryOp::Ne {
                            Term::Not(boxed(t))
                        } else {
                            t
                        });
                    }
                }
                if *op == BinaryOp::Pow && !matches!(rhs.kind, ExprKind::Number(_)) {
                    return Err(err(
                        self.rules,
                        e.span,
                        "the exponent of `^` in a rule must be a number".into(),
                        "Write e.g. `feature(\"x\")^2`.".into(),
                    ));
                }
                Term::Binary(*op, boxed(self.term(lhs)?), boxed(self.term(rhs)?))
            }
            ExprKind::Call { callee, args } => match callee.name.as_str() {
                "feature" => Term::Feature(self.feature(&args[0].value)?),
                "predict" => Term::Predict(self.view(&args[0].value)?),
                "min" | "max" => {
                    let a = boxed(self.term(&args[0].value)?);
                    let b = boxed(self.term(&args[1].value)?);
                    if callee.name == "min" {
                        Term::Min(a, b)
                    } else {
                        Term::Max(a, b)
                    }
                }
                _ => {
                    return Err(err(
                        self.rules,
                        e.span,
                        "`field(...)` is read through `predict`".into(),
                        "Write `predict(field(\"name\"))`.".into(),
                    ))
                }
            },
            _ => {
                return Err(err(
                    self.rules,
                    e.span,
                    "this expression is not allowed in a rule".into(),
                    "See docs/language.md, section Rules blocks.".into(),
                ))
            }
        })
    }
}

impl Rules {
    /// Resolves `decl`'s names against the training data (`n_classes` is the network's
    /// output width). `nnc check` checked the formulas' structure and the imitation
    /// schedule's range.
    pub fn resolve(decl: &RulesDecl, data: &Dataset, n_classes: usize) -> Result<Rules, RunError> {
        let classes: Vec<&str> = data
            .class_names()
            .unwrap_or_default()
            .iter()
            .map(String::as_str)
            .collect();
        let mut r = Resolver {
            rules: &decl.name,
            data,
            classes,
            views: Vec::new(),
        };
        let mut rules = Vec::new();
        for rule in &decl.rules {
            let term = r.term(&rule.formula).map_err(|e| match e {
                RunError::Config { message, help, at } => RunError::Config {
                    message: message.replacen(": ", &format!(", rule `{}`: ", rule.name), 1),
                    help,
                    at,
                },
                other => other,
            })?;
            rules.push(Rule {
                name: rule.name.clone(),
                weight: rule.weight,
                term,
            });
        }
        Ok(Rules {
            name: decl.name.clone(),
            strength: decl.strength,
            rules,
            views: r.views,
            n_features: data.n_features(),
            n_classes,
            imitation: decl.imitation.clone(),
        })
    }

    /// pi at `epoch` (0-based: the number of epochs already trained).
    pub fn pi(&self, epoch: u64) -> f64 {
        crate::hir::settings::formula::imitation_pi(self.imitation.as_ref(), epoch)
    }

    /// The penalty `C Σ_l λ_l (1 - r_l)`, `[batch, classes]`, each r_l clamped to [0, 1].
    /// `raw` is the unscaled features `[batch, features]`; `views` the network's
    /// probabilities on each view, `[batch, classes]`.
    pub fn lower_penalty(&self, g: &mut Graph, raw: NodeId, views: &[NodeId]) -> NodeId {
        let batch = g.shape(raw)[0];
        let shape = [batch, self.n_classes];
        let mut total = g.constant(0.0, &shape);
        for rule in &self.rules {
            let r = lower_term(g, &rule.term, raw, views, &shape);
            let r = g.clamp(r, 0.0, 1.0);
            let one = g.constant(1.0, &shape);
            let falsity = g.sub(one, r);
            let weighted = g.scale(falsity, self.strength * rule.weight);
            total = g.add(total, weighted);
        }
        total
    }

    /// The teacher q from the logits `[batch, classes]` (no gradient flows into q).
    pub fn lower_teacher(
        &self,
        g: &mut Graph,
        logits: NodeId,
        raw: NodeId,
        views: &[NodeId],
    ) -> NodeId {
        let log_p = g.log_softmax(logits, 1);
        let log_p = g.stop_grad(log_p);
        let penalty = self.lower_penalty(g, raw, views);
        let shifted = g.sub(log_p, penalty);
        let q = g.softmax(shifted, 1);
        g.stop_grad(q)
    }

    /// For each rule of the form `CONDITION => ...` whose condition reads only features:
    /// whether it holds (> 0.5) for the example with unscaled features `row`. Used to
    /// report accuracy on the examples a rule speaks about.
    pub fn conditions(&self, row: &[f32]) -> Vec<Option<bool>> {
        self.rules
            .iter()
            .map(|rule| {
                let Term::Binary(BinaryOp::Implies, cond, _) = &rule.term else {
                    return None;
                };
                host_value(cond, row).map(|v| v > 0.5)
            })
            .collect()
    }
}

fn lower_term(g: &mut Graph, t: &Term, raw: NodeId, views: &[NodeId], shape: &[usize]) -> NodeId {
    let (batch, k) = (shape[0], shape[1]);
    let sub = |g: &mut Graph, t: &Term| lower_term(g, t, raw, views, shape);
    match t {
        Term::Number(v) => g.constant(*v, shape),
        Term::Feature(j) => {
            let col = g.slice(raw, 1, *j, j + 1);
            g.broadcast(col, shape)
        }
        Term::ClassIs(c) => {
            let one = g.constant(1.0, &[batch, 1]);
            g.pad(one, 1, *c, k - c - 1)
        }
        Term::Predict(v) => views[*v],
        Term::PredictClass(v, c) => {
            let col = g.slice(views[*v], 1, *c, c + 1);
            g.broadcast(col, shape)
        }
        Term::Not(a) => {
            let a = sub(g, a);
            let one = g.constant(1.0, shape);
            g.sub(one, a)
        }
        Term::Neg(a) => {
            let a = sub(g, a);
            g.neg(a)
        }
        Term::Min(a, b) | Term::Max(a, b) => {
            let (a, b) = (sub(g, a), sub(g, b));
            if matches!(t, Term::Min(..)) {
                g.min(a, b)
            } else {
                g.max(a, b)
            }
        }
        Term::Binary(BinaryOp::Pow, a, b) => {
            let a = sub(g, a);
            let Term::Number(p) = **b else {
                unreachable!("resolve keeps number exponents only")
            };
            g.powf(a, p)
        }
        Term::Binary(op, a, b) => {
            let (a, b) = (sub(g, a), sub(g, b));
            binary(g, *op, a, b, shape)
        }
    }
}

/// Lukasiewicz connectives, comparisons (0 or 1) and arithmetic.
fn binary(g: &mut Graph, op: BinaryOp, a: NodeId, b: NodeId, shape: &[usize]) -> NodeId {
    let one = |g: &mut Graph| g.constant(1.0, shape);
    match op {
        // max(a + b - 1, 0)
        BinaryOp::And => {
            let s = g.add(a, b);
            let s = g.add_scalar(s, -1.0);
            g.relu(s)
        }
        // min(a + b, 1)
        BinaryOp::Or => {
            let s = g.add(a, b);
            let o = one(g);
            g.min(s, o)
        }
        // min(1 - a + b, 1)
        BinaryOp::Implies => {
            let d = g.sub(b, a);
            let d = g.add_scalar(d, 1.0);
            let o = one(g);
            g.min(d, o)
        }
        // The averaging conjunction of both implications, as the paper's code:
        // ((a => b) + (b => a)) / 2 = 1 - |a - b| / 2.
        BinaryOp::Iff => {
            let d = g.sub(a, b);
            let d = g.abs(d);
            let d = g.scale(d, -0.5);
            g.add_scalar(d, 1.0)
        }
        BinaryOp::Eq | BinaryOp::Ne => {
            let ge = g.cmp_ge(a, b);
            let le = g.cmp_ge(b, a);
            let eq = g.mul(ge, le);
            if op == BinaryOp::Ne {
                let o = one(g);
                g.sub(o, eq)
            } else {
                eq
            }
        }
        BinaryOp::Lt => g.cmp_lt(a, b),
        BinaryOp::Gt => g.cmp_gt(a, b),
        BinaryOp::Le => g.cmp_ge(b, a),
        BinaryOp::Ge => g.cmp_ge(a, b),
        BinaryOp::Add => g.add(a, b),
        BinaryOp::Sub => g.sub(a, b),
        BinaryOp::Mul => g.mul(a, b),
        BinaryOp::Div => g.div(a, b),
        BinaryOp::Pow | BinaryOp::From => unreachable!("resolved before lowering"),
    }
}

/// A term that reads only features and numbers, on one example; None if it reads the
/// class or a prediction.
fn host_value(t: &Term, row: &[f32]) -> Option<f64> {
    let v = |t: &Term| host_value(t, row);
    Some(match t {
        Term::Number(x) => *x,
        Term::Feature(j) => row[*j] as f64,
        Term::ClassIs(_) | Term::Predict(_) | Term::PredictClass(..) => return None,
        Term::Not(a) => 1.0 - v(a)?,
        Term::Neg(a) => -v(a)?,
        Term::Min(a, b) => v(a)?.min(v(b)?),
        Term::Max(a, b) => v(a)?.max(v(b)?),
        Term::Binary(op, a, b) => {
            let (a, b) = (v(a)?, v(b)?);
            match op {
                BinaryOp::And => (a + b - 1.0).max(0.0),
                BinaryOp::Or => (a + b).min(1.0),
                BinaryOp::Implies => (1.0 - a + b).min(1.0),
                BinaryOp::Iff => 1.0 - (a - b).abs() / 2.0,
                BinaryOp::Eq => f64::from(u8::from(a == b)),
                BinaryOp::Ne => f64::from(u8::from(a != b)),
                BinaryOp::Lt => f64::from(u8::from(a < b)),
                BinaryOp::Gt => f64::from(u8::from(a > b)),
                BinaryOp::Le => f64::from(u8::from(a <= b)),
                BinaryOp::Ge => f64::from(u8::from(a >= b)),
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
                BinaryOp::Pow => a.powf(b),
                BinaryOp::From => return None,
            }
        }
    })
}

#[cfg(test)]
mod tests;
