//! Scan findings: what `rootcause scan` reports about one endpoint.
//!
//! An endpoint's probe facts go through the KB's rules like any collector
//! run; then every entry of `findings.ron` whose condition holds over the
//! facts, the evidence they set and the scan's settings is a finding. A
//! critical finding that names no cause gets the KB's most likely cause for that
//! evidence, and the first fix of the plan for it, marked as inferred.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Source, State};
use crate::Engine;
use crate::kb::check::placeholders;
use crate::kb::model::{Level, Value};
use crate::kb::rules;

/// The scan's settings, as the facts `scan.*` that findings may read.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    /// `scan.warn_days`: warn when the certificate expires within this many days.
    pub warn_days: f64,
    /// `scan.expect_ca`: a self-signed certificate is a finding.
    pub expect_ca: bool,
}

impl ScanSettings {
    /// The settings as facts, with `scan.named` for this endpoint.
    pub fn facts(&self, named: bool) -> BTreeMap<String, Value> {
        BTreeMap::from([
            ("scan.warn_days".to_string(), Value::Number(self.warn_days)),
            ("scan.expect_ca".to_string(), Value::Bool(self.expect_ca)),
            ("scan.named".to_string(), Value::Bool(named)),
        ])
    }
}

/// One finding about one endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub id: String,
    pub severity: Level,
    pub title: String,
    /// The finding's detail line with the endpoint's values filled in.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    pub cause: Option<String>,
    pub fix: Option<String>,
    /// The cause and fix were not named by the finding but are the KB's
    /// most likely cause for this endpoint's evidence and its best fix.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inferred: bool,
    /// The facts the finding read, `name = value`.
    pub because: Vec<String>,
}

/// Everything the KB says about one endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The worst finding's severity (`None`: nothing found).
    pub severity: Option<Level>,
    /// Worst first, then in KB order.
    pub findings: Vec<Found>,
    /// Evidence the KB's rules set from the facts: (evidence, value).
    pub evidence: Vec<(String, String)>,
}

impl Engine {
    /// Findings for one endpoint's probe facts; `named`: the endpoint was
    /// named on its own (not found in a CIDR block).
    pub fn scan_findings(
        &self,
        facts: &BTreeMap<String, Value>,
        settings: &ScanSettings,
        named: bool,
    ) -> Verdict {
        let mut all = facts.clone();
        all.extend(settings.facts(named));
        let mut state = State::new(self);
        // A session holds far more facts than a probe yields.
        let _ = state.add_facts(self, all, "scan");
        let evidence: Vec<(String, String)> = state
            .observations
            .iter()
            .filter(|o| matches!(o.source, Source::Rule { .. }))
            .map(|o| (o.evidence.clone(), o.value.clone()))
            .collect();
        let lookup = |name: &str| -> Option<Value> {
            evidence
                .iter()
                .find(|(e, _)| e == name)
                .map(|(_, v)| Value::Text(v.clone()))
                .or_else(|| state.derived.get(name).cloned())
                .or_else(|| state.facts.get(name).cloned())
        };
        let mut likely: Option<(Option<String>, Option<String>)> = None;
        let mut findings = Vec::new();
        for f in &self.kb.findings {
            if !rules::eval(&f.when, &lookup) {
                continue;
            }
            let show = |name: &str| lookup(name).map_or("?".to_string(), |v| v.as_text());
            let mut detail = f.detail.clone();
            for name in placeholders(&f.detail) {
                detail = detail.replace(&format!("{{{name}}}"), &show(name));
            }
            let mut because: Vec<String> = f
                .when
                .facts()
                .into_iter()
                .filter_map(|n| lookup(n).map(|v| format!("{n} = {}", v.as_text())))
                .collect();
            because.dedup();
            let (cause, fix, inferred) = if f.cause.is_some() || f.severity != Level::Critical {
                (f.cause.clone(), f.fix.clone(), false)
            } else {
                let (c, x) = likely
                    .get_or_insert_with(|| {
                        let a = state.assess(self);
                        let top = a.ranking.first().and_then(|&i| self.kb.causes.get(i));
                        let fix = a.plan.first().and_then(|p| self.kb.fixes.get(p.fix));
                        (top.map(|c| c.id.clone()), fix.map(|x| x.id.clone()))
                    })
                    .clone();
                let fix = f.fix.clone().or(x);
                (c, fix, true)
            };
            findings.push(Found {
                id: f.id.clone(),
                severity: f.severity,
                title: f.title.clone(),
                detail,
                cause,
                fix,
                inferred,
                because,
            });
        }
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        Verdict {
            severity: findings.first().map(|f| f.severity),
            findings,
            evidence,
        }
    }
}
