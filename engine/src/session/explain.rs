//! Explanations: WHY this question, HOW this ranking, WHY NOT another cause.

use serde::Serialize;

use super::{SessionError, State};
use crate::Engine;
use crate::infer::{explain, gain, posterior};

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
    /// The chance the question gets an answer other than `unknown`.
    pub answerability: f64,
    /// `gain · answerability / cost`.
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
        let ranked = gain::rank_questions(m, &post, state.askable(self));
        let g = gain::expected_gain(m, &post, e);
        // The KB's cost of the question; the score also counts the cost per step.
        let cost = self.kb.evidence[e].cost;
        let answerability = state.answerability(self, e);
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
            answerability,
            score: g * answerability / m.evidence[e].cost,
            rank: ranked.iter().position(|s| s.evidence == e).map(|r| r + 1),
            candidates: ranked.len(),
            outcomes,
            separates,
        })
    }
}
