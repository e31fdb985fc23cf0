//! Bayesian inference over a compiled KB (DESIGN §4).
//!
//! [`Model`] is the KB reduced to dense tables: normalised priors (with the
//! `other` leak as the last cause) and, per evidence variable, a
//! cause × value likelihood matrix. The submodules are pure functions over it:
//! [`posterior`] ranks causes, [`gain`] scores questions, [`plan`] orders fixes
//! and weighs asking against fixing, [`explain`] attributes the ranking.

pub mod explain;
pub mod gain;
pub mod plan;
pub mod posterior;

use std::collections::HashMap;

use crate::kb::load::Kb;
use crate::kb::model::Condition;

/// Id of the leak cause.
pub const OTHER: &str = "other";

/// One evidence variable as tables.
#[derive(Debug, Clone)]
pub struct EvidenceModel {
    pub id: String,
    pub values: Vec<String>,
    pub cost: f64,
    /// It has a question (it can be asked, not only collected).
    pub askable: bool,
    pub ask_if: Option<Condition>,
    /// `P(value | cause)`, row-major: `lik[c * values.len() + v]`.
    pub lik: Vec<f64>,
    /// `ln P(value | cause)`, same layout.
    pub log_lik: Vec<f64>,
    /// `H(V | cause)` in bits, per cause.
    pub cond_entropy: Vec<f64>,
    /// Causes whose row differs from the leak's (the last row): the others
    /// share it, so sums over causes need only visit these (see `gain`).
    pub special: Vec<usize>,
    /// The chance a user can answer the question (1 for collected evidence).
    pub answerability: f64,
    /// What answering needs (see the KB model's `Question::access`).
    pub access: Option<String>,
}

impl EvidenceModel {
    pub fn arity(&self) -> usize {
        self.values.len()
    }
    pub fn p(&self, cause: usize, value: usize) -> f64 {
        self.lik[cause * self.values.len() + value]
    }
    pub fn value_index(&self, value: &str) -> Option<usize> {
        self.values.iter().position(|v| v == value)
    }
}

/// One fix as numbers.
#[derive(Debug, Clone)]
pub struct FixModel {
    pub id: String,
    /// The effort plus what its risks add ([`FixModel::risk_cost`]): the
    /// cost the plan orders by.
    pub cost: f64,
    /// What the fix's risks (lowering security, a reboot, downtime) add.
    pub risk_cost: f64,
    /// The cause the fix resolves best (the first of equals).
    pub primary: usize,
    /// Success probability per cause (0 for causes it does not resolve and for `other`).
    pub success: Vec<f64>,
}

/// The compiled probabilistic model of a KB.
#[derive(Debug, Clone)]
pub struct Model {
    /// Cause ids; the last one is [`OTHER`].
    pub causes: Vec<String>,
    pub prior: Vec<f64>,
    pub log_prior: Vec<f64>,
    pub evidence: Vec<EvidenceModel>,
    pub fixes: Vec<FixModel>,
    pub threshold: f64,
    pub min_gain_bits: f64,
    pub max_questions: usize,
    /// Factor applied to a question's answerability per `unknown` answer
    /// among the questions needing the same access (1 = none).
    pub unknown_decay: f64,
    /// The KB's cost per step, included in every question's and fix's cost.
    pub step_cost: f64,
    cause_index: HashMap<String, usize>,
    evidence_index: HashMap<String, usize>,
    fix_index: HashMap<String, usize>,
}

/// Entropy in bits of a distribution (terms with p = 0 count 0).
/// The index of the largest success probability (the first of equals).
pub fn primary_cause(success: &[f64]) -> usize {
    (0..success.len())
        .max_by(|&a, &b| success[a].total_cmp(&success[b]).then(b.cmp(&a)))
        .unwrap_or(0)
}

pub fn entropy_bits(p: impl IntoIterator<Item = f64>) -> f64 {
    p.into_iter()
        .filter(|&x| x > 0.0)
        .map(|x| -x * x.log2())
        .sum()
}

impl Model {
    /// Compile a KB. Missing likelihood rows use the evidence's `default`;
    /// missing values count as probability 0 (a validated KB has none).
    pub fn new(kb: &Kb) -> Model {
        let leak = kb.manifest.leak.clamp(0.0, 1.0);
        let total: f64 = kb.causes.iter().map(|c| c.prior.max(0.0)).sum();
        let mut causes: Vec<String> = kb.causes.iter().map(|c| c.id.clone()).collect();
        let mut prior: Vec<f64> = kb
            .causes
            .iter()
            .map(|c| {
                if total > 0.0 {
                    c.prior.max(0.0) / total * (1.0 - leak)
                } else {
                    (1.0 - leak) / kb.causes.len().max(1) as f64
                }
            })
            .collect();
        causes.push(OTHER.to_string());
        prior.push(leak);
        let step = kb.manifest.step_cost.max(0.0);
        let n = causes.len();
        let evidence = kb
            .evidence
            .iter()
            .map(|e| {
                let k = e.values.len();
                let mut lik = vec![0.0; n * k];
                for (c, cause) in causes.iter().enumerate() {
                    let dist = e.likelihoods.get(cause).unwrap_or(&e.default);
                    for (v, value) in e.values.iter().enumerate() {
                        lik[c * k + v] = dist.get(value).copied().unwrap_or(0.0).max(0.0);
                    }
                }
                let mut em = EvidenceModel::from_table(
                    e.id.clone(),
                    e.values.clone(),
                    e.cost + step,
                    e.question.is_some(),
                    e.ask_if.clone(),
                    lik,
                );
                if let Some(q) = &e.question {
                    em.answerability = q.answerability.clamp(0.0, 1.0);
                    em.access = q.access.clone();
                }
                em
            })
            .collect();
        let fixes = kb
            .fixes
            .iter()
            .map(|f| {
                let r = &kb.manifest.risk_costs;
                let risk_cost = [
                    (f.lowers_security, r.lowers_security),
                    (f.needs_reboot, r.needs_reboot),
                    (f.needs_downtime, r.needs_downtime),
                ]
                .iter()
                .filter(|(flag, _)| *flag)
                .map(|(_, c)| c.max(0.0))
                .sum::<f64>();
                let success: Vec<f64> = causes
                    .iter()
                    .map(|c| f.resolves.get(c).copied().unwrap_or(0.0).clamp(0.0, 1.0))
                    .collect();
                FixModel {
                    id: f.id.clone(),
                    cost: f.cost + risk_cost + step,
                    risk_cost,
                    primary: primary_cause(&success),
                    success,
                }
            })
            .collect();
        let mut model = Model::from_parts(
            causes,
            prior,
            evidence,
            fixes,
            kb.manifest.threshold,
            kb.manifest.min_gain_bits,
            kb.manifest.max_questions,
        );
        model.unknown_decay = kb.manifest.unknown_decay.clamp(0.0, 1.0);
        model.step_cost = step;
        model
    }

    /// Assemble a model from tables (priors must sum to 1; the last cause is the leak).
    pub fn from_parts(
        causes: Vec<String>,
        prior: Vec<f64>,
        evidence: Vec<EvidenceModel>,
        fixes: Vec<FixModel>,
        threshold: f64,
        min_gain_bits: f64,
        max_questions: usize,
    ) -> Model {
        let log_prior = prior.iter().map(|p| p.ln()).collect();
        let cause_index = causes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i))
            .collect();
        let evidence_index = evidence
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.clone(), i))
            .collect();
        let fix_index = fixes
            .iter()
            .enumerate()
            .map(|(i, f)| (f.id.clone(), i))
            .collect();
        Model {
            causes,
            prior,
            log_prior,
            evidence,
            fixes,
            threshold,
            min_gain_bits,
            max_questions,
            unknown_decay: 1.0,
            step_cost: 0.0,
            cause_index,
            evidence_index,
            fix_index,
        }
    }

    pub fn cause_index(&self, id: &str) -> Option<usize> {
        self.cause_index.get(id).copied()
    }
    pub fn evidence_index(&self, id: &str) -> Option<usize> {
        self.evidence_index.get(id).copied()
    }
    pub fn fix_index(&self, id: &str) -> Option<usize> {
        self.fix_index.get(id).copied()
    }
    pub fn n_causes(&self) -> usize {
        self.causes.len()
    }
}

impl EvidenceModel {
    /// Build from a likelihood table (`lik[c * values.len() + v]`).
    pub fn from_table(
        id: String,
        values: Vec<String>,
        cost: f64,
        askable: bool,
        ask_if: Option<Condition>,
        lik: Vec<f64>,
    ) -> EvidenceModel {
        let k = values.len().max(1);
        let log_lik = lik.iter().map(|p| p.ln()).collect();
        let cond_entropy = lik
            .chunks(k)
            .map(|row| entropy_bits(row.iter().copied()))
            .collect();
        let rows = lik.len() / k;
        let base = &lik[rows.saturating_sub(1) * k..];
        let special = (0..rows.saturating_sub(1))
            .filter(|&c| lik[c * k..(c + 1) * k] != *base)
            .collect();
        EvidenceModel {
            id,
            values,
            cost,
            askable,
            ask_if,
            lik,
            log_lik,
            cond_entropy,
            special,
            answerability: 1.0,
            access: None,
        }
    }
}
