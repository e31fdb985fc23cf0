//! Expected information gain of a question about the cause.
//!
//! `IG(E) = H(C) − Σ_v P(v) H(C | v)`, computed as the equal
//! `I(C; E) = H(E) − Σ_c P(c) H(E | c)`: `H(E | c)` is fixed by the KB and
//! precompiled, so scoring a question needs no logarithm per cause.
//!
//! Most causes share an evidence variable's default row (the leak's row,
//! the last one). With `R` the probability mass of those causes, both sums
//! split into `R · default` plus a sum over the few causes with a row of
//! their own (`EvidenceModel::special`), so a question costs
//! `O(special × values)`, not `O(causes × values)`.

use super::{Model, entropy_bits};

/// `P(E = v)` and `Σ_c P(c) H(E | c)` under a distribution over causes
/// whose total mass is `total` (1 for a normalised posterior).
fn split_sums(model: &Model, post: &[f64], total: f64, evidence: usize) -> (Vec<f64>, f64) {
    let ev = &model.evidence[evidence];
    let k = ev.arity();
    let leak = post.len() - 1;
    let mut rest = total;
    let mut pv = vec![0.0; k];
    let mut conditional = 0.0;
    for &c in &ev.special {
        let p = post[c];
        if p == 0.0 {
            continue;
        }
        rest -= p;
        for (acc, l) in pv.iter_mut().zip(&ev.lik[c * k..(c + 1) * k]) {
            *acc += p * l;
        }
        conditional += p * ev.cond_entropy[c];
    }
    let rest = rest.max(0.0);
    for (acc, l) in pv.iter_mut().zip(&ev.lik[leak * k..(leak + 1) * k]) {
        *acc += rest * l;
    }
    conditional += rest * ev.cond_entropy[leak];
    (pv, conditional)
}

/// `P(E = v)` under a distribution over causes.
pub fn predictive(model: &Model, post: &[f64], evidence: usize) -> Vec<f64> {
    split_sums(model, post, post.iter().sum(), evidence).0
}

/// Expected information gain (bits) about the cause from observing `evidence`.
pub fn expected_gain(model: &Model, post: &[f64], evidence: usize) -> f64 {
    gain_with_total(model, post, post.iter().sum(), evidence)
}

fn gain_with_total(model: &Model, post: &[f64], total: f64, evidence: usize) -> f64 {
    let (pv, conditional) = split_sums(model, post, total, evidence);
    (entropy_bits(pv) - conditional).max(0.0)
}

/// The same gain by the textbook definition `H(C) − Σ_v P(v) H(C | v)`
/// (slower; used to check [`expected_gain`]).
pub fn expected_gain_direct(model: &Model, post: &[f64], evidence: usize) -> f64 {
    let h = entropy_bits(post.iter().copied());
    let pv = predictive(model, post, evidence);
    let after: f64 = pv
        .iter()
        .enumerate()
        .filter(|&(_, p)| *p > 0.0)
        .map(|(v, p)| p * entropy_bits(super::posterior::update(model, post, evidence, v)))
        .sum();
    h - after
}

/// A scored candidate question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub evidence: usize,
    /// Expected gain (bits) if the question is answered.
    pub gain: f64,
    pub cost: f64,
    /// The chance it gets an answer other than `unknown`.
    pub answerability: f64,
    /// `gain · answerability / cost`: an `unknown` answer gains nothing.
    pub score: f64,
}

/// A question that may be asked now, and the chance it gets an answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub evidence: usize,
    pub answerability: f64,
}

impl Candidate {
    /// A candidate with the KB's answerability for it.
    pub fn of(model: &Model, evidence: usize) -> Candidate {
        Candidate {
            evidence,
            answerability: model.evidence[evidence].answerability,
        }
    }
}

/// One candidate's gain, cost and expected gain per cost.
fn score(model: &Model, post: &[f64], total: f64, c: Candidate) -> Scored {
    let gain = gain_with_total(model, post, total, c.evidence);
    let cost = model.evidence[c.evidence].cost.max(f64::MIN_POSITIVE);
    let answerability = c.answerability.clamp(0.0, 1.0);
    Scored {
        evidence: c.evidence,
        gain,
        cost,
        answerability,
        score: gain * answerability / cost,
    }
}

/// Score candidates and return them best first (ties: KB order).
pub fn rank_questions(
    model: &Model,
    post: &[f64],
    candidates: impl IntoIterator<Item = Candidate>,
) -> Vec<Scored> {
    let total: f64 = post.iter().sum();
    let mut scored: Vec<Scored> = candidates
        .into_iter()
        .map(|c| score(model, post, total, c))
        .collect();
    scored.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.evidence.cmp(&b.evidence))
    });
    scored
}

/// The best candidate by expected gain per cost (ties: KB order), without sorting.
pub fn best_question(
    model: &Model,
    post: &[f64],
    candidates: impl IntoIterator<Item = Candidate>,
) -> Option<Scored> {
    let total: f64 = post.iter().sum();
    let mut best: Option<Scored> = None;
    for c in candidates {
        let s = score(model, post, total, c);
        if best.is_none_or(|b| s.score > b.score || (s.score == b.score && s.evidence < b.evidence))
        {
            best = Some(s);
        }
    }
    best
}
