//! A diagnosis session: what is known so far, and what follows from it.
//!
//! [`State`] is plain serialisable data (observations with provenance, raw
//! facts, fix results, a trace). Operations validate their input against the
//! KB and never panic; [`State::assess`] derives the ranking, the next
//! question, the fix plan and the ask-or-fix advice from it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Engine;
use crate::infer::plan::{self, Planned};
use crate::infer::posterior::{self, Findings};
use crate::infer::{explain, gain};
use crate::kb::model::Value;
use crate::kb::rules;

/// The answer that records "I don't know": it changes nothing.
pub const UNKNOWN: &str = "unknown";

/// Most observations, facts or fix results a state may hold.
pub const MAX_ITEMS: usize = 10_000;

/// Steps kept in a state's trace: a state travels with every protocol
/// response, so its size must not grow with the session's length.
pub const MAX_TRACE: usize = 100;

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
    /// The most recent steps (at most [`MAX_TRACE`]).
    #[serde(default)]
    pub trace: Vec<TraceStep>,
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
    #[error("unknown cause `{0}`")]
    UnknownCause(String),
    #[error("unknown fix `{0}`")]
    UnknownFix(String),
    #[error("{0}")]
    BadState(String),
    #[error("{0}")]
    TooLarge(String),
}

impl SessionError {
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::UnknownEvidence(_) => "unknown_evidence",
            SessionError::BadValue { .. } => "bad_value",
            SessionError::UnknownCause(_) => "unknown_cause",
            SessionError::UnknownFix(_) => "unknown_fix",
            SessionError::BadState(_) => "bad_state",
            SessionError::TooLarge(_) => "too_large",
        }
    }
}

/// The verification evidence of a fix that can be asked (has a question).
/// In KB order, so they are asked in the order the KB defines its questions.
fn verify_questions<'a>(engine: &'a Engine, fix: &str) -> impl Iterator<Item = &'a String> + 'a {
    let expect = engine
        .kb
        .fix(fix)
        .and_then(|f| f.verify.as_ref())
        .map(|v| &v.expect);
    engine
        .kb
        .evidence
        .iter()
        .filter(move |e| e.question.is_some() && expect.is_some_and(|x| x.contains_key(&e.id)))
        .map(|e| &e.id)
}

/// Why the diagnosis stopped asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Done {
    /// A fix worked and was verified.
    Verified,
    /// The top cause reached the threshold.
    Threshold,
    /// No question left gains enough.
    NoInformativeQuestion,
    /// The question budget is spent.
    QuestionBudget,
}

/// The next step: ask, try a fix, or escalate, with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    /// `ask`, `try_fix` or `escalate` (nothing left to ask or try).
    pub step: &'static str,
    pub fix: Option<String>,
    /// Expected cost of repair of the current fix plan.
    pub ecr: f64,
    /// Expected cost of asking the next question first, then fixing.
    pub eco: Option<f64>,
    pub reason: String,
}

/// What the state implies.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// Probability per cause, in model order (the last is `other`).
    pub posterior: Vec<f64>,
    /// Cause indices, most likely first.
    pub ranking: Vec<usize>,
    /// The findings contradict each other; the prior is shown instead.
    pub contradiction: bool,
    /// The best question (`None` when done or nothing is worth asking).
    pub next: Option<gain::Scored>,
    /// Untried fixes, best `P/C` first.
    pub plan: Vec<Planned>,
    pub advice: Advice,
    pub done: Option<Done>,
}

fn top(engine: &Engine, post: &[f64], n: usize) -> Vec<(String, f64)> {
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

    fn posterior(&self, engine: &Engine) -> Vec<f64> {
        posterior::posterior(&engine.model, &self.findings(engine)).0
    }

    fn record(
        &mut self,
        engine: &Engine,
        before: &[f64],
        action: &str,
        target: &str,
        value: Option<&str>,
        source: String,
    ) {
        let after = self.posterior(engine);
        self.trace.push(TraceStep {
            action: action.into(),
            target: target.into(),
            value: value.map(str::to_string),
            source,
            before: top(engine, before, 3),
            after: top(engine, &after, 3),
        });
        if self.trace.len() > MAX_TRACE {
            let excess = self.trace.len() - MAX_TRACE;
            self.trace.drain(..excess);
            self.trace_dropped += excess;
        }
    }

    /// Record an answer (or `unknown`) for an evidence variable.
    pub fn observe(
        &mut self,
        engine: &Engine,
        evidence: &str,
        value: &str,
        source: Source,
    ) -> Result<(), SessionError> {
        let value = engine.normalise_value(evidence, value)?;
        if self.observations.len() >= MAX_ITEMS {
            return Err(SessionError::TooLarge(format!(
                "a session holds at most {MAX_ITEMS} observations"
            )));
        }
        let before = self.posterior(engine);
        let label = source.to_string();
        if let Some(fix) = self.verifying.clone()
            && verify_questions(engine, &fix).any(|e| e == evidence)
        {
            // An answer about the repaired system: checks the fix, is no
            // finding about the cause.
            self.verify_answers
                .insert(evidence.to_string(), value.clone());
            self.record(
                engine,
                &before,
                "verify_answer",
                evidence,
                Some(&value),
                label,
            );
            self.settle_verification(engine);
            return Ok(());
        }
        self.observations.retain(|o| o.evidence != evidence);
        self.observations.push(Observation {
            evidence: evidence.to_string(),
            value: value.clone(),
            source,
        });
        self.record(engine, &before, "observe", evidence, Some(&value), label);
        Ok(())
    }

    /// Forget an observation. Retracting what was never observed is a no-op.
    pub fn retract(&mut self, engine: &Engine, evidence: &str) -> Result<(), SessionError> {
        if engine.model.evidence_index(evidence).is_none() {
            return Err(SessionError::UnknownEvidence(evidence.to_string()));
        }
        if self.value_of(evidence).is_none() {
            return Ok(());
        }
        let before = self.posterior(engine);
        self.observations.retain(|o| o.evidence != evidence);
        self.record(engine, &before, "retract", evidence, None, "user".into());
        Ok(())
    }

    /// Report that a fix was tried. A fix that worked is verified next.
    pub fn fix_result(
        &mut self,
        engine: &Engine,
        fix: &str,
        worked: bool,
    ) -> Result<(), SessionError> {
        let Some(f) = engine.kb.fix(fix) else {
            return Err(SessionError::UnknownFix(fix.to_string()));
        };
        if self.fixes.len() >= MAX_ITEMS {
            return Err(SessionError::TooLarge(format!(
                "a session holds at most {MAX_ITEMS} fix results"
            )));
        }
        let before = self.posterior(engine);
        self.fixes.retain(|r| r.fix != fix);
        self.fixes.push(FixResult {
            fix: fix.to_string(),
            worked,
        });
        let _ = f;
        self.verify_answers.clear();
        if worked {
            // Earlier answers stay: they describe the broken system and
            // remain evidence about the cause. The verification questions
            // are asked afresh and kept apart (`verify_answers`).
            if verify_questions(engine, fix).next().is_some() {
                self.verifying = Some(fix.to_string());
            } else {
                // Nothing to ask: the user's word (and any collected
                // evidence that comes later) is all there is.
                self.verified = Some(fix.to_string());
            }
        } else if self.verifying.as_deref() == Some(fix) {
            self.verifying = None;
        }
        let outcome = if worked { "worked" } else { "failed" };
        self.record(
            engine,
            &before,
            "fix_result",
            fix,
            Some(outcome),
            "user".into(),
        );
        Ok(())
    }

    /// When every verification answer is in, conclude or reopen.
    fn settle_verification(&mut self, engine: &Engine) {
        let Some(fix) = self.verifying.clone() else {
            return;
        };
        let Some(expect) = engine
            .kb
            .fix(&fix)
            .and_then(|f| f.verify.as_ref())
            .map(|v| &v.expect)
        else {
            self.verifying = None;
            return;
        };
        // Only questions are waited for; collected evidence is checked when present.
        if verify_questions(engine, &fix).any(|e| !self.verify_answers.contains_key(e)) {
            return;
        }
        let answers: Vec<Option<bool>> = expect
            .iter()
            .filter_map(|(e, v)| self.verify_answers.get(e).map(|got| (got, v)))
            .map(|(got, want)| (got != UNKNOWN).then(|| got == want))
            .collect();
        let before = self.posterior(engine);
        self.verifying = None;
        let outcome = if answers.contains(&Some(false)) {
            if let Some(r) = self.fixes.iter_mut().find(|r| r.fix == fix) {
                r.worked = false;
            }
            "not confirmed: counted as failed"
        } else if answers.contains(&None) {
            // Some answers are unknown: the fix still counts as having
            // worked, but the case is not closed as verified.
            "not confirmed: some answers unknown"
        } else {
            self.verified = Some(fix.clone());
            "confirmed"
        };
        self.record(
            engine,
            &before,
            "verify",
            &fix,
            Some(outcome),
            "user".into(),
        );
    }

    /// Add collector facts and run the KB's rules over all facts. Evidence
    /// the user answered is kept; rule results replace earlier rule results.
    pub fn add_facts(
        &mut self,
        engine: &Engine,
        facts: BTreeMap<String, Value>,
        collector: &str,
    ) -> Result<(), SessionError> {
        if self.facts.len() + facts.len() > MAX_ITEMS {
            return Err(SessionError::TooLarge(format!(
                "a session holds at most {MAX_ITEMS} facts"
            )));
        }
        let before = self.posterior(engine);
        let n = facts.len();
        for name in facts.keys() {
            self.fact_sources
                .insert(name.clone(), collector.to_string());
        }
        self.facts.extend(facts);
        self.apply_rules(engine);
        self.record(
            engine,
            &before,
            "facts",
            collector,
            Some(&format!("{n} facts")),
            collector.to_string(),
        );
        Ok(())
    }

    fn apply_rules(&mut self, engine: &Engine) {
        let user: BTreeMap<String, String> = self
            .observations
            .iter()
            .filter(|o| !matches!(o.source, Source::Rule { .. }) && o.value != UNKNOWN)
            .map(|o| (o.evidence.clone(), o.value.clone()))
            .collect();
        let out = rules::run(&engine.kb.rules, &self.facts, &|name| {
            user.get(name).cloned()
        });
        self.observations
            .retain(|o| !matches!(o.source, Source::Rule { .. }));
        for inf in out.evidence {
            if self.value_of(&inf.evidence).is_some() {
                continue;
            }
            self.observations.push(Observation {
                evidence: inf.evidence,
                value: inf.value,
                source: Source::Rule {
                    rule: inf.rule,
                    because: inf
                        .because
                        .into_iter()
                        .map(|b| {
                            // "fact = value" -> "fact = value (probe of host:3389)"
                            let name = b.split(" = ").next().unwrap_or_default();
                            match self.fact_sources.get(name) {
                                Some(src) => format!("{b} ({src})"),
                                None => b,
                            }
                        })
                        .collect(),
                },
            });
        }
        self.derived = out.derived;
        self.conflicts = out.conflicts;
    }

    /// Evidence that may be asked now: askable, unobserved, `ask_if` holds.
    pub fn candidates(&self, engine: &Engine) -> Vec<usize> {
        let lookup = |name: &str| -> Option<Value> {
            match self.value_of(name) {
                Some(v) if v != UNKNOWN => Some(Value::Text(v.to_string())),
                Some(_) => None,
                None => self
                    .derived
                    .get(name)
                    .or_else(|| self.facts.get(name))
                    .cloned(),
            }
        };
        engine
            .model
            .evidence
            .iter()
            .enumerate()
            .filter(|(_, e)| e.askable && self.value_of(&e.id).is_none())
            .filter(|(_, e)| e.ask_if.as_ref().is_none_or(|c| rules::eval(c, &lookup)))
            .map(|(i, _)| i)
            .collect()
    }

    /// Rank, pick the next question, plan the fixes and advise.
    pub fn assess(&self, engine: &Engine) -> Assessment {
        let m = &engine.model;
        let (post, contradiction) = posterior::posterior(m, &self.findings(engine));
        let ranking = posterior::ranking(&post);
        let tried: Vec<usize> = self
            .fixes
            .iter()
            .filter_map(|r| m.fix_index(&r.fix))
            .collect();
        let plan = plan::plan(m, &post, &tried);
        let ecr = plan::ecr(m, &post, &plan);

        if let Some(fix) = &self.verifying {
            let next = verify_questions(engine, fix)
                .find(|e| !self.verify_answers.contains_key(*e))
                .and_then(|e| m.evidence_index(e));
            let next = next.map(|e| gain::Scored {
                evidence: e,
                gain: gain::expected_gain(m, &post, e),
                cost: m.evidence[e].cost,
                score: 0.0,
            });
            let advice = Advice {
                step: "ask",
                fix: Some(fix.clone()),
                ecr,
                eco: None,
                reason: format!("`{fix}` was reported to work: confirm it before closing the case"),
            };
            return Assessment {
                posterior: post,
                ranking,
                contradiction,
                next,
                plan,
                advice,
                done: None,
            };
        }

        let top_p = post[ranking[0]];
        let candidates = self.candidates(engine);
        let best = gain::best_question(m, &post, candidates.iter().copied());
        let done = if self.verified.is_some() {
            Some(Done::Verified)
        } else if top_p >= m.threshold {
            Some(Done::Threshold)
        } else if self.questions_answered() >= m.max_questions {
            Some(Done::QuestionBudget)
        } else if best.is_none_or(|b| b.gain <= m.min_gain_bits) {
            Some(Done::NoInformativeQuestion)
        } else {
            None
        };
        let next = if done.is_some() { None } else { best };
        let advice = advise(engine, &post, next, &plan, ecr, &tried, done);
        Assessment {
            posterior: post,
            ranking,
            contradiction,
            next,
            plan,
            advice,
            done,
        }
    }
}

fn advise(
    engine: &Engine,
    post: &[f64],
    next: Option<gain::Scored>,
    plan: &[Planned],
    ecr: f64,
    tried: &[usize],
    done: Option<Done>,
) -> Advice {
    let m = &engine.model;
    let top_fix = plan.first().map(|p| m.fixes[p.fix].id.clone());
    if done == Some(Done::Verified) {
        return Advice {
            step: "escalate",
            fix: None,
            ecr: 0.0,
            eco: None,
            reason: "the problem is fixed and verified".into(),
        };
    }
    match (next, top_fix) {
        (Some(q), Some(fix)) => {
            let eco = plan::eco(m, post, q.evidence, tried);
            let qid = &m.evidence[q.evidence].id;
            if eco < ecr {
                Advice {
                    step: "ask",
                    fix: None,
                    ecr,
                    eco: Some(eco),
                    reason: format!(
                        "asking `{qid}` first (expected total cost {eco:.2}) is cheaper than trying fixes now ({ecr:.2})"
                    ),
                }
            } else {
                Advice {
                    step: "try_fix",
                    fix: Some(fix.clone()),
                    ecr,
                    eco: Some(eco),
                    reason: format!(
                        "trying `{fix}` now (expected total cost {ecr:.2}) is no dearer than asking `{qid}` first ({eco:.2})"
                    ),
                }
            }
        }
        (None, Some(fix)) => Advice {
            step: "try_fix",
            fix: Some(fix.clone()),
            ecr,
            eco: None,
            reason: format!(
                "no question is worth asking; `{fix}` has the best chance of success per effort"
            ),
        },
        (Some(q), None) => Advice {
            step: "ask",
            fix: None,
            ecr,
            eco: None,
            reason: format!(
                "no untried fix is left; `{}` may still narrow the cause",
                m.evidence[q.evidence].id
            ),
        },
        (None, None) => Advice {
            step: "escalate",
            fix: None,
            ecr,
            eco: None,
            reason: "no question or untried fix is left: escalate with the report".into(),
        },
    }
}

/// A finding's share in a cause's probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContributionItem {
    /// Evidence id or fix id.
    pub finding: String,
    pub value: String,
    pub source: String,
    pub bits: f64,
    pub p_after: f64,
}

/// HOW: why a cause has its probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CauseExplanation {
    pub cause: String,
    pub prior: f64,
    pub probability: f64,
    pub contributions: Vec<ContributionItem>,
    /// Sum of contributions = log2 posterior odds − log2 prior odds.
    pub total_bits: f64,
}

/// An answer that would raise a cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Raiser {
    pub evidence: String,
    pub value: String,
    pub p_answer: f64,
    pub p_after: f64,
}

/// WHY NOT: what counts against a cause and what would raise it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhyNot {
    pub cause: String,
    pub probability: f64,
    pub rank: usize,
    pub against: Vec<ContributionItem>,
    pub would_raise: Vec<Raiser>,
}

/// One possible answer to a question and where it would lead.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub value: String,
    pub p_answer: f64,
    pub top_cause: String,
    pub top_probability: f64,
}

/// WHY: why a question is (or is not) worth asking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionExplanation {
    pub evidence: String,
    pub gain: f64,
    pub cost: f64,
    pub score: f64,
    /// 1-based rank among the questions that may be asked now (None if it may not).
    pub rank: Option<usize>,
    pub candidates: usize,
    pub outcomes: Vec<Outcome>,
    /// Causes that one answer favours and another disfavours.
    pub separates: Vec<String>,
}

impl Engine {
    /// The observations and fix results of a state as likelihood factors, in order.
    fn factors(&self, state: &State) -> Vec<(ContributionItem, explain::Factor)> {
        let m = &self.model;
        let mut out = Vec::new();
        for o in &state.observations {
            if let Some(e) = m.evidence_index(&o.evidence)
                && let Some(v) = m.evidence[e].value_index(&o.value)
            {
                let item = ContributionItem {
                    finding: o.evidence.clone(),
                    value: o.value.clone(),
                    source: o.source.to_string(),
                    bits: 0.0,
                    p_after: 0.0,
                };
                out.push((item, explain::observation_factor(m, e, v)));
            }
        }
        for r in &state.fixes {
            if let Some(f) = m.fix_index(&r.fix) {
                let item = ContributionItem {
                    finding: r.fix.clone(),
                    value: if r.worked { "worked" } else { "failed" }.into(),
                    source: "fix result".into(),
                    bits: 0.0,
                    p_after: 0.0,
                };
                out.push((item, explain::fix_factor(m, f, r.worked)));
            }
        }
        out
    }

    /// HOW: each finding's contribution to `cause`.
    pub fn explain_cause(
        &self,
        state: &State,
        cause: &str,
    ) -> Result<CauseExplanation, SessionError> {
        let m = &self.model;
        let c = m
            .cause_index(cause)
            .ok_or_else(|| SessionError::UnknownCause(cause.to_string()))?;
        let factors = self.factors(state);
        let vectors: Vec<_> = factors.iter().map(|(_, f)| f.clone()).collect();
        let contribs = explain::contributions(m, &vectors, c);
        let items: Vec<ContributionItem> = factors
            .into_iter()
            .zip(&contribs)
            .map(|((mut item, _), k)| {
                item.bits = k.bits;
                item.p_after = k.p_after;
                item
            })
            .collect();
        let post = state.posterior(self);
        Ok(CauseExplanation {
            cause: cause.to_string(),
            prior: m.prior[c],
            probability: post[c],
            total_bits: items.iter().map(|i| i.bits).sum(),
            contributions: items,
        })
    }

    /// WHY NOT: what counts against `cause` and which answers would raise it.
    pub fn why_not(&self, state: &State, cause: &str) -> Result<WhyNot, SessionError> {
        let how = self.explain_cause(state, cause)?;
        let m = &self.model;
        let c = m
            .cause_index(cause)
            .ok_or_else(|| SessionError::UnknownCause(cause.to_string()))?;
        let post = state.posterior(self);
        let mut against: Vec<ContributionItem> = how
            .contributions
            .into_iter()
            .filter(|i| i.bits < 0.0)
            .collect();
        against.sort_by(|x, y| x.bits.total_cmp(&y.bits));
        let would_raise = explain::raisers(m, &post, c, &state.candidates(self))
            .into_iter()
            .take(5)
            .map(|w| Raiser {
                evidence: m.evidence[w.evidence].id.clone(),
                value: m.evidence[w.evidence].values[w.value].clone(),
                p_answer: w.p_answer,
                p_after: w.p_after,
            })
            .collect();
        Ok(WhyNot {
            cause: cause.to_string(),
            probability: post[c],
            rank: posterior::ranking(&post)
                .iter()
                .position(|&x| x == c)
                .map_or(0, |r| r + 1),
            against,
            would_raise,
        })
    }

    /// WHY: the value of asking `evidence` now.
    pub fn why_question(
        &self,
        state: &State,
        evidence: &str,
    ) -> Result<QuestionExplanation, SessionError> {
        let m = &self.model;
        let e = m
            .evidence_index(evidence)
            .ok_or_else(|| SessionError::UnknownEvidence(evidence.to_string()))?;
        let post = state.posterior(self);
        let candidates = state.candidates(self);
        let ranked = gain::rank_questions(m, &post, candidates.iter().copied());
        let g = gain::expected_gain(m, &post, e);
        let cost = m.evidence[e].cost;
        let outcomes: Vec<Outcome> = explain::outcomes(m, &post, e)
            .into_iter()
            .map(|(v, p, top, tp)| Outcome {
                value: m.evidence[e].values[v].clone(),
                p_answer: p,
                top_cause: m.causes[top].clone(),
                top_probability: tp,
            })
            .collect();
        // Causes among the likely ones whose probability one answer raises
        // and another lowers by a factor of two or more.
        let mut separates = Vec::new();
        for c in posterior::ranking(&post).into_iter().take(6) {
            let row: Vec<f64> = (0..m.evidence[e].arity())
                .map(|v| m.evidence[e].p(c, v))
                .collect();
            let hi = row.iter().copied().fold(0.0, f64::max);
            let lo = row.iter().copied().fold(1.0, f64::min);
            let pv = gain::predictive(m, &post, e);
            let favoured = row.iter().zip(&pv).any(|(l, p)| *p > 0.0 && l / p >= 1.5);
            if favoured && hi >= 2.0 * lo.max(1e-12) {
                separates.push(m.causes[c].clone());
            }
        }
        Ok(QuestionExplanation {
            evidence: evidence.to_string(),
            gain: g,
            cost,
            score: g / cost,
            rank: ranked.iter().position(|s| s.evidence == e).map(|r| r + 1),
            candidates: ranked.len(),
            outcomes,
            separates,
        })
    }

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
