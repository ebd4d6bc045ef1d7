//! The `rules` block: named first-order formulas with weights, checked against the
//! formula grammar of rules (Hu et al. 2016); train/rules.rs resolves them against data.

use super::args::{Binder, NoNames};
use super::schema;
use super::sections::bind_section;
use super::settings;
use super::settings::formula::{check_formula, Formula};
use super::value::Value;
use crate::diagnostics::{codes, Diagnostic, Diagnostics};
use crate::source::Span;
use crate::syntax::ast::{self, Expr};

#[derive(Clone, Debug)]
pub struct RuleInfo {
    pub name: String,
    pub weight: f64,
    pub formula: Expr,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct RulesDecl {
    pub name: String,
    pub span: Span,
    pub strength: f64,
    pub imitation: Option<Expr>,
    pub rules: Vec<RuleInfo>,
}

impl RulesDecl {
    /// pi at `epoch` (0-based: the number of epochs already trained).
    pub fn pi(&self, epoch: u64) -> f64 {
        settings::formula::imitation_pi(self.imitation.as_ref(), epoch)
    }
}

pub(super) fn rules_decl(rules: &ast::Rules, diags: &mut Diagnostics) -> Option<RulesDecl> {
    let name = rules
        .section
        .name
        .as_ref()
        .map_or(String::new(), |n| n.name.clone());
    let (b, fields_ok) = bind_section(
        &rules.section,
        &schema::RULES_FIELDS,
        &format!("rules block `{name}`"),
        diags,
    );
    let before = diags.len();
    let imitation = match b.get("imitation") {
        Some(Value::Formula(e)) => {
            check_formula(e, &Formula::Schedule, diags);
            Some((**e).clone())
        }
        _ => None,
    };
    let mut out = Vec::new();
    let mut seen: Vec<(&str, Span)> = Vec::new();
    for rule in &rules.rules {
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == rule.name.name) {
            diags.push(
                Diagnostic::error(
                    codes::RESOLVE_DUPLICATE,
                    format!("duplicate rule `{}`", rule.name.name),
                )
                .with_label(rule.name.span, "declared again here")
                .with_label(*first, "first declared here")
                .with_help("Give each rule a different name."),
            );
            continue;
        }
        seen.push((&rule.name.name, rule.name.span));
        let (positional, named) = super::args::split_args(&rule.args);
        let mut binder = Binder {
            names: &NoNames,
            diags,
        };
        let Some(args) = binder.bind(
            &schema::RULE_ARGS,
            &positional,
            &named,
            rule.span,
            &format!("rule `{}`", rule.name.name),
        ) else {
            continue;
        };
        check_formula(&rule.formula, &Formula::Rule, diags);
        out.push(RuleInfo {
            name: rule.name.name.clone(),
            weight: args.f64("weight"),
            formula: rule.formula.clone(),
            span: rule.span,
        });
    }
    if diags.len() != before || !fields_ok {
        return None;
    }
    Some(RulesDecl {
        name,
        span: rules.section.span,
        strength: b.f64("strength"),
        imitation,
        rules: out,
    })
}
