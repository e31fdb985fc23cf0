//! Expected information gain of a question about the cause.
//!
//! `IG(E) = H(C) − Σ_v P(v) H(C | v)`, computed as the equal
//! `I(C; E) = H(E) − Σ_c P(c) H(E | c)`: `H(E | c)` is fixed by the KB and
//! precompiled, so scoring a question costs one pass over causes × values
//! and no logarithm per cause.

use super::{Model, entropy_bits};

/// `P(E = v)` under a distribution over causes.
pub fn predictive(model: &Model, post: &[f64], evidence: usize) -> Vec<f64> {
    let ev = &model.evidence[evidence];
    let k = ev.arity();
    let mut pv = vec![0.0; k];
    for (row, &p) in ev.lik.chunks_exact(k).zip(post) {
        if p == 0.0 {
            continue;
        }
        for (acc, l) in pv.iter_mut().zip(row) {
            *acc += p * l;
        }
    }
    pv
}

/// Expected information gain (bits) about the cause from observing `evidence`.
pub fn expected_gain(model: &Model, post: &[f64], evidence: usize) -> f64 {
    let ev = &model.evidence[evidence];
    let pv = predictive(model, post, evidence);
    let conditional: f64 = post.iter().zip(&ev.cond_entropy).map(|(p, h)| p * h).sum();
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
    pub gain: f64,
    pub cost: f64,
    /// `gain / cost`.
    pub score: f64,
}

/// Score candidates and return them best first (ties: KB order).
pub fn rank_questions(
    model: &Model,
    post: &[f64],
    candidates: impl IntoIterator<Item = usize>,
) -> Vec<Scored> {
    let mut scored: Vec<Scored> = candidates
        .into_iter()
        .map(|e| {
            let gain = expected_gain(model, post, e);
            let cost = model.evidence[e].cost.max(f64::MIN_POSITIVE);
            Scored {
                evidence: e,
                gain,
                cost,
                score: gain / cost,
            }
        })
        .collect();
    scored.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.evidence.cmp(&b.evidence))
    });
    scored
}

/// The best candidate by gain / cost (ties: KB order), without sorting.
pub fn best_question(
    model: &Model,
    post: &[f64],
    candidates: impl IntoIterator<Item = usize>,
) -> Option<Scored> {
    let mut best: Option<Scored> = None;
    for e in candidates {
        let gain = expected_gain(model, post, e);
        let cost = model.evidence[e].cost.max(f64::MIN_POSITIVE);
        let s = Scored {
            evidence: e,
            gain,
            cost,
            score: gain / cost,
        };
        if best.is_none_or(|b| s.score > b.score || (s.score == b.score && s.evidence < b.evidence))
        {
            best = Some(s);
        }
    }
    best
}
