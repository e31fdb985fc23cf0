//! What a state implies: the ranking, the next question, the fix plan, the
//! ask-or-fix advice, and whether the diagnosis is done.

use serde::Serialize;

use super::update::verify_questions;
use super::{State, UNKNOWN};
use crate::Engine;
use crate::infer::gain;
use crate::infer::plan::{self, Planned};
use crate::infer::posterior;
use crate::kb::model::Value;
use crate::kb::rules;

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
    /// Untried, applicable fixes, best `P/C` first.
    pub plan: Vec<Planned>,
    pub advice: Advice,
    pub done: Option<Done>,
}

impl State {
    /// What a condition (`ask_if`, `applies_if`) reads: an answered
    /// evidence value, else a derived or collected fact.
    fn lookup(&self, name: &str) -> Option<Value> {
        match self.value_of(name) {
            Some(v) if v != UNKNOWN => Some(Value::Text(v.to_string())),
            Some(_) => None,
            None => self
                .derived
                .get(name)
                .or_else(|| self.facts.get(name))
                .cloned(),
        }
    }

    /// Fixes out of the plan: tried already, or their `applies_if` does not
    /// hold (yet).
    pub fn excluded_fixes(&self, engine: &Engine) -> Vec<usize> {
        self.excluded_fixes_with(engine, None)
    }

    /// As [`State::excluded_fixes`], as if `answer` (evidence, value) had
    /// been given too.
    pub fn excluded_fixes_with(&self, engine: &Engine, answer: Option<(&str, &str)>) -> Vec<usize> {
        let m = &engine.model;
        let lookup = |name: &str| match answer {
            Some((e, v)) if e == name => Some(Value::Text(v.to_string())),
            _ => self.lookup(name),
        };
        let mut out: Vec<usize> = self
            .fixes
            .iter()
            .filter_map(|r| m.fix_index(&r.fix))
            .collect();
        for (i, f) in engine.kb.fixes.iter().enumerate() {
            if f.applies_if
                .as_ref()
                .is_some_and(|c| !rules::eval(c, &lookup))
                && !out.contains(&i)
            {
                out.push(i);
            }
        }
        out
    }

    /// Evidence that may be asked now: askable, unobserved, `ask_if` holds.
    pub fn candidates(&self, engine: &Engine) -> Vec<usize> {
        let lookup = |name: &str| self.lookup(name);
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

    /// The chance each question gets an answer now: the KB's answerability,
    /// lowered by every `unknown` the user gave to a question that needs
    /// the same access (a user who cannot read the host's event log cannot
    /// answer the next event-log question either).
    pub fn answerability(&self, engine: &Engine, evidence: usize) -> f64 {
        let m = &engine.model;
        let e = &m.evidence[evidence];
        let Some(access) = &e.access else {
            return e.answerability;
        };
        let unknowns = self
            .observations
            .iter()
            .filter(|o| o.value == UNKNOWN && o.source == super::Source::User)
            .filter_map(|o| m.evidence_index(&o.evidence))
            .filter(|&i| m.evidence[i].access.as_ref() == Some(access))
            .count();
        e.answerability * m.unknown_decay.powi(unknowns.min(64) as i32)
    }

    /// The questions that may be asked now, each with its answerability.
    pub fn askable(&self, engine: &Engine) -> Vec<gain::Candidate> {
        self.candidates(engine)
            .into_iter()
            .map(|e| gain::Candidate {
                evidence: e,
                answerability: self.answerability(engine, e),
            })
            .collect()
    }

    /// Rank, pick the next question, plan the fixes and advise.
    pub fn assess(&self, engine: &Engine) -> Assessment {
        let m = &engine.model;
        let (post, contradiction) = posterior::posterior(m, &self.findings(engine));
        let ranking = posterior::ranking(&post);
        let mut excluded = self.excluded_fixes(engine);
        excluded.extend(gated_fixes(engine, &post));
        let plan = plan::plan(m, &post, &excluded);
        let ecr = plan::ecr(m, &post, &plan);

        if let Some(fix) = &self.verifying {
            let next = verify_questions(engine, fix)
                .find(|e| !self.verify_answers.contains_key(*e))
                .and_then(|e| m.evidence_index(e));
            let next = next.map(|e| gain::Scored {
                evidence: e,
                gain: gain::expected_gain(m, &post, e),
                cost: m.evidence[e].cost,
                answerability: self.answerability(engine, e),
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
        let best = gain::best_question(m, &post, self.askable(engine));
        let done = if self.verified.is_some() {
            Some(Done::Verified)
        } else if top_p >= m.threshold {
            Some(Done::Threshold)
        } else if self.informative_answers() >= m.max_questions
            || self.questions_answered() >= 2 * m.max_questions
        {
            Some(Done::QuestionBudget)
        } else if best.is_none_or(|b| b.gain <= m.min_gain_bits) {
            Some(Done::NoInformativeQuestion)
        } else {
            None
        };
        let next = if done.is_some() { None } else { best };
        let advice = advise(self, engine, &post, next, &plan, ecr, &excluded, done);
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

#[allow(clippy::too_many_arguments)]
fn advise(
    state: &State,
    engine: &Engine,
    post: &[f64],
    next: Option<gain::Scored>,
    plan: &[Planned],
    ecr: f64,
    excluded: &[usize],
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
            // After an answer, other fixes may apply (`applies_if`) and a
            // fact may point at a security test's cause.
            let qid = &m.evidence[q.evidence].id;
            let after_answer = |v: usize, after: &[f64]| -> Vec<usize> {
                let value = &m.evidence[q.evidence].values[v];
                let mut out = state.excluded_fixes_with(engine, Some((qid, value)));
                out.extend(gated_fixes(engine, after));
                out
            };
            let eco = plan::eco_with(
                m,
                post,
                q.evidence,
                excluded,
                &after_answer,
                q.answerability,
            );
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

/// Fixes that lower security while no fact points at their cause: the
/// cause each resolves best is less likely than the KB's `security_gate`.
fn gated_fixes(engine: &Engine, post: &[f64]) -> Vec<usize> {
    let gate = engine.kb.manifest.risk_costs.security_gate;
    let m = &engine.model;
    engine
        .kb
        .fixes
        .iter()
        .enumerate()
        .filter(|(_, f)| f.lowers_security && gate > 0.0)
        .filter(|&(i, _)| post.get(m.fixes[i].primary).is_none_or(|&p| p < gate))
        .map(|(i, _)| i)
        .collect()
}
