//! How the ranking moved: the posterior after each step of a session,
//! replayed from its trace (answers, pasted values, collected facts, fix
//! results, retractions).
//!
//! When the trace was cut (more than `MAX_TRACE` steps), the replay starts
//! from the answers and fix results the kept steps never touch, which were
//! given before them and stayed; an answer the kept steps change appears
//! from its first kept change.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Source, State};
use crate::Engine;

/// One point of the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// What happened (`start`, `connection_path = vpn`, `fix regenerate_rdp_certificate failed`).
    pub label: String,
    /// P(cause) after the step, in model order (`other` last).
    pub posterior: Vec<f64>,
}

/// The posterior after each step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    /// Cause ids, model order.
    pub causes: Vec<String>,
    pub points: Vec<Point>,
    /// Steps before the trace's first (not replayed one by one).
    pub dropped: usize,
}

impl History {
    /// Cause indices worth drawing: the `n` highest at any point.
    pub fn top_causes(&self, n: usize) -> Vec<usize> {
        let k = self.causes.len();
        let mut peak: Vec<(usize, f64)> = (0..k)
            .map(|c| {
                (
                    c,
                    self.points
                        .iter()
                        .map(|p| p.posterior[c])
                        .fold(0.0, f64::max),
                )
            })
            .collect();
        peak.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut out: Vec<usize> = peak.into_iter().take(n).map(|(c, _)| c).collect();
        out.sort_unstable();
        out
    }
}

fn label(action: &str, target: &str, value: Option<&str>) -> String {
    match (action, value) {
        ("observe" | "verify_answer", Some(v)) => format!("{target} = {v}"),
        ("fix_result", Some(v)) => format!("fix {target} {v}"),
        ("facts", Some(v)) => format!("{target}: {v}"),
        ("retract", _) => format!("retract {target}"),
        (a, Some(v)) => format!("{a} {target}: {v}"),
        (a, None) => format!("{a} {target}"),
    }
}

impl Engine {
    /// The session's history, replayed from its trace.
    pub fn history(&self, state: &State) -> History {
        let mut s = State::new(self);
        if state.trace_dropped > 0 {
            let touched: BTreeSet<&str> = state.trace.iter().map(|t| t.target.as_str()).collect();
            for o in &state.observations {
                if !touched.contains(o.evidence.as_str())
                    && !matches!(o.source, Source::Rule { .. })
                {
                    let _ = s.observe(self, &o.evidence, &o.value, o.source.clone());
                }
            }
            for f in &state.fixes {
                if !touched.contains(f.fix.as_str()) {
                    let _ = s.fix_result(self, &f.fix, f.worked);
                }
            }
        }
        let mut points = vec![Point {
            label: if state.trace_dropped > 0 {
                format!("after {} earlier steps", state.trace_dropped)
            } else {
                "start".into()
            },
            posterior: s.posterior(self),
        }];
        for t in &state.trace {
            let value = t.value.as_deref();
            let applied = match (t.action.as_str(), value) {
                ("observe" | "verify_answer", Some(v)) => {
                    s.observe(self, &t.target, v, Source::User).is_ok()
                }
                ("retract", _) => s.retract(self, &t.target).is_ok(),
                ("fix_result", Some(v)) => s.fix_result(self, &t.target, v == "worked").is_ok(),
                ("facts", _) => {
                    let facts: BTreeMap<_, _> = state
                        .facts
                        .iter()
                        .filter(|(k, _)| state.fact_sources.get(*k) == Some(&t.target))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    s.add_facts(self, facts, &t.target).is_ok()
                }
                // Verification outcomes follow from the answers replayed.
                _ => false,
            };
            if applied {
                points.push(Point {
                    label: label(&t.action, &t.target, value),
                    posterior: s.posterior(self),
                });
            }
        }
        History {
            causes: self.model.causes.clone(),
            points,
            dropped: state.trace_dropped,
        }
    }
}
