//! The session's data, its validation against the KB, and canonical answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{MAX_ITEMS, MAX_TRACE, UNKNOWN};
use crate::Engine;
use crate::infer::posterior::{self, Findings};
use crate::kb::model::Value;
use crate::kb::rules;

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Who supplied an observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Source {
    User,
    /// Set by a KB rule from collector facts.
    Rule {
        rule: String,
        #[serde(default)]
        because: Vec<String>,
    },
    /// Given directly by a collector or a script.
    Collector {
        collector: String,
        #[serde(default)]
        detail: String,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::User => f.write_str("user"),
            Source::Rule { rule, because } if because.is_empty() => write!(f, "rule {rule}"),
            Source::Rule { rule, because } => write!(f, "rule {rule}: {}", because.join(", ")),
            Source::Collector { collector, detail } if detail.is_empty() => {
                write!(f, "{collector}")
            }
            Source::Collector { collector, detail } => write!(f, "{collector}: {detail}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub evidence: String,
    /// One of the evidence's values, or `unknown`.
    pub value: String,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixResult {
    pub fix: String,
    pub worked: bool,
}

/// One step of the session, and how the ranking moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceStep {
    /// `observe`, `retract`, `fix_result`, `facts`, `verify`.
    pub action: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub source: String,
    /// Top causes before and after, `(cause, probability)`.
    pub before: Vec<(String, f64)>,
    pub after: Vec<(String, f64)>,
}

/// Everything a session knows; round-trips through JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub kb: String,
    pub kb_version: String,
    #[serde(default)]
    pub observations: Vec<Observation>,
    /// Raw collector facts.
    #[serde(default)]
    pub facts: BTreeMap<String, Value>,
    /// Which collector run produced each fact (its label).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fact_sources: BTreeMap<String, String>,
    /// Facts derived by rules from `facts`.
    #[serde(default)]
    pub derived: BTreeMap<String, Value>,
    #[serde(default)]
    pub fixes: Vec<FixResult>,
    /// A fix reported as working, awaiting its verification answers.
    #[serde(default)]
    pub verifying: Option<String>,
    /// Answers to the verification questions of `verifying`. They describe
    /// the repaired system, so they are not findings about the cause.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub verify_answers: BTreeMap<String, String>,
    /// A fix whose verification succeeded: the session is over.
    #[serde(default)]
    pub verified: Option<String>,
    /// The most recent steps (at most [`MAX_TRACE`]), shared between
    /// copies of the state: a copy per request costs no step's allocation.
    #[serde(default)]
    pub trace: Vec<Arc<TraceStep>>,
    /// Steps dropped from the front of `trace` to keep it bounded.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub trace_dropped: usize,
    /// Rule conflicts seen when facts were added.
    #[serde(default)]
    pub conflicts: Vec<rules::Conflict>,
}

/// Why a request could not be applied. `code()` is the protocol error code.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum SessionError {
    #[error("unknown evidence `{0}`")]
    UnknownEvidence(String),
    #[error("`{value}` is not a value of `{evidence}` (values: {allowed}, or unknown)")]
    BadValue {
        evidence: String,
        value: String,
        allowed: String,
    },
    #[error("`{choice}` is not an intake choice (choices: {allowed}, or none)")]
    UnknownChoice { choice: String, allowed: String },
    #[error(
        "intake choices `{first}` and `{second}` give `{evidence}` different values: pick one of them"
    )]
    ConflictingChoices {
        first: String,
        second: String,
        evidence: String,
    },
    #[error("unknown cause `{0}`")]
    UnknownCause(String),
    #[error("unknown fix `{0}`")]
    UnknownFix(String),
    #[error("{0}")]
    BadState(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    BadText(String),
}

impl SessionError {
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::UnknownEvidence(_) => "unknown_evidence",
            SessionError::BadValue { .. }
            | SessionError::UnknownChoice { .. }
            | SessionError::ConflictingChoices { .. } => "bad_value",
            SessionError::UnknownCause(_) => "unknown_cause",
            SessionError::UnknownFix(_) => "unknown_fix",
            SessionError::BadState(_) => "bad_state",
            SessionError::TooLarge(_) => "too_large",
            SessionError::BadText(_) => "bad_text",
        }
    }
}

pub(super) fn top(engine: &Engine, post: &[f64], n: usize) -> Vec<(String, f64)> {
    posterior::ranking(post)
        .into_iter()
        .take(n)
        .map(|c| (engine.model.causes[c].clone(), post[c]))
        .collect()
}

impl State {
    pub fn new(engine: &Engine) -> State {
        State {
            kb: engine.kb.manifest.id.clone(),
            kb_version: engine.kb.manifest.version.clone(),
            observations: Vec::new(),
            facts: BTreeMap::new(),
            fact_sources: BTreeMap::new(),
            derived: BTreeMap::new(),
            fixes: Vec::new(),
            verifying: None,
            verify_answers: BTreeMap::new(),
            verified: None,
            trace: Vec::new(),
            trace_dropped: 0,
            conflicts: Vec::new(),
        }
    }

    /// Check a state received from outside against the KB.
    pub fn validate(&self, engine: &Engine) -> Result<(), SessionError> {
        let m = &engine.kb.manifest;
        if self.kb != m.id {
            return Err(SessionError::BadState(format!(
                "state belongs to KB `{}`, this is `{}`",
                self.kb, m.id
            )));
        }
        if self.observations.len() > MAX_ITEMS
            || self.facts.len() > MAX_ITEMS
            || self.fixes.len() > MAX_ITEMS
            || self.trace.len() > MAX_ITEMS
        {
            return Err(SessionError::TooLarge(format!(
                "state holds more than {MAX_ITEMS} items"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for o in &self.observations {
            // Stored values must be canonical: `findings` and `value_of`
            // compare exactly, so an alias such as `true` or `YES` would be
            // silently ignored by the posterior yet still block the question.
            let canonical = engine
                .normalise_value(&o.evidence, &o.value)
                .map_err(|e| SessionError::BadState(format!("in `state`: {e}")))?;
            if canonical != o.value {
                return Err(SessionError::BadState(format!(
                    "in `state`: `{}` of `{}` is not stored as `{canonical}`",
                    o.value, o.evidence
                )));
            }
            if !seen.insert(&o.evidence) {
                return Err(SessionError::BadState(format!(
                    "`{}` is observed twice",
                    o.evidence
                )));
            }
        }
        for f in self
            .fixes
            .iter()
            .map(|f| &f.fix)
            .chain(&self.verifying)
            .chain(&self.verified)
        {
            if engine.model.fix_index(f).is_none() {
                return Err(SessionError::BadState(format!(
                    "in `state`: unknown fix `{f}`"
                )));
            }
        }
        Ok(())
    }

    /// The current value of an evidence variable (`unknown` included).
    pub fn value_of(&self, evidence: &str) -> Option<&str> {
        self.observations
            .iter()
            .find(|o| o.evidence == evidence)
            .map(|o| o.value.as_str())
    }

    /// Number of answers the user gave (the question budget counts these).
    pub fn questions_answered(&self) -> usize {
        self.observations
            .iter()
            .filter(|o| o.source == Source::User)
            .count()
    }

    /// Answers other than `unknown` the user gave: the question budget
    /// counts these (an `unknown` costs the user little and tells nothing;
    /// twice the budget of answers of any kind also ends the questions).
    pub fn informative_answers(&self) -> usize {
        self.observations
            .iter()
            .filter(|o| o.source == Source::User && o.value != UNKNOWN)
            .count()
    }

    /// What the posterior is conditioned on.
    pub fn findings(&self, engine: &Engine) -> Findings {
        let m = &engine.model;
        let mut f = Findings::default();
        for o in &self.observations {
            if let Some(e) = m.evidence_index(&o.evidence)
                && let Some(v) = m.evidence[e].value_index(&o.value)
            {
                f.observed.push((e, v));
            }
        }
        for r in &self.fixes {
            if let Some(i) = m.fix_index(&r.fix) {
                if r.worked {
                    f.worked_fixes.push(i)
                } else {
                    f.failed_fixes.push(i)
                }
            }
        }
        f
    }

    pub(super) fn posterior(&self, engine: &Engine) -> Vec<f64> {
        posterior::posterior(&engine.model, &self.findings(engine)).0
    }

    pub(super) fn record(
        &mut self,
        engine: &Engine,
        before: &[f64],
        action: &str,
        target: &str,
        value: Option<&str>,
        source: String,
    ) {
        let after = self.posterior(engine);
        self.trace.push(Arc::new(TraceStep {
            action: action.into(),
            target: target.into(),
            value: value.map(str::to_string),
            source,
            before: top(engine, before, 3),
            after: top(engine, &after, 3),
        }));
        if self.trace.len() > MAX_TRACE {
            let excess = self.trace.len() - MAX_TRACE;
            self.trace.drain(..excess);
            self.trace_dropped += excess;
        }
    }
}

impl Engine {
    /// Check and normalise an answer: `true`/`false` mean `yes`/`no`,
    /// case is ignored, `unknown` is always accepted.
    pub fn normalise_value(&self, evidence: &str, value: &str) -> Result<String, SessionError> {
        let e = self
            .kb
            .evidence(evidence)
            .ok_or_else(|| SessionError::UnknownEvidence(evidence.to_string()))?;
        let v = value.trim();
        if v.eq_ignore_ascii_case(UNKNOWN) || v == "?" {
            return Ok(UNKNOWN.to_string());
        }
        let alias = match v.to_ascii_lowercase().as_str() {
            "true" => "yes".to_string(),
            "false" => "no".to_string(),
            other => other.to_string(),
        };
        e.values
            .iter()
            .find(|x| **x == v || x.eq_ignore_ascii_case(&alias))
            .cloned()
            .ok_or_else(|| SessionError::BadValue {
                evidence: evidence.to_string(),
                value: value.to_string(),
                allowed: e.values.join(", "),
            })
    }
}
