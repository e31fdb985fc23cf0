//! Explanations: how each finding moved a cause, and what would move it.
//!
//! Contribution of a finding `v` to cause `c` (bits):
//! `log2 P(v | c) − log2 P(v | ¬c)`, where `P(v | ¬c)` is the mixture of the
//! other causes weighted by the posterior *before* that finding. These terms
//! telescope: their sum is exactly the change in `log2` odds of `c` from the
//! prior to the posterior, so the explanation accounts for the whole ranking.

use super::{Model, posterior};

/// One finding as a likelihood per cause (an observation, or a fix result).
pub type Factor = Vec<f64>;

/// The likelihood vector of observing `value` of `evidence`.
pub fn observation_factor(model: &Model, evidence: usize, value: usize) -> Factor {
    let ev = &model.evidence[evidence];
    (0..model.n_causes()).map(|c| ev.p(c, value)).collect()
}

/// The likelihood vector of a fix result.
pub fn fix_factor(model: &Model, fix: usize, worked: bool) -> Factor {
    model.fixes[fix]
        .success
        .iter()
        .map(|s| if worked { *s } else { 1.0 - s })
        .collect()
}

/// How one finding moved one cause.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contribution {
    /// Weight of evidence in bits (positive: supports the cause).
    pub bits: f64,
    pub p_given_cause: f64,
    pub p_given_others: f64,
    /// The cause's probability before and after this finding.
    pub p_before: f64,
    pub p_after: f64,
}

/// Contributions of each finding (in order) to `cause`.
pub fn contributions(model: &Model, factors: &[Factor], cause: usize) -> Vec<Contribution> {
    let mut post = model.prior.clone();
    let mut out = Vec::with_capacity(factors.len());
    for factor in factors {
        // Summed rather than `1 − P(c)`: near certainty the subtraction
        // cancels (and is 0 once P(c) rounds to 1), which broke telescoping.
        let rest: f64 = post
            .iter()
            .enumerate()
            .filter(|&(c, _)| c != cause)
            .map(|(_, p)| p)
            .sum();
        let p_c = factor[cause];
        let p_not = if rest > 0.0 {
            post.iter()
                .zip(factor)
                .enumerate()
                .filter(|&(c, _)| c != cause)
                .map(|(_, (p, l))| p * l)
                .sum::<f64>()
                / rest
        } else {
            p_c
        };
        let bits = if p_c > 0.0 && p_not > 0.0 {
            p_c.log2() - p_not.log2()
        } else if p_c > 0.0 {
            f64::INFINITY
        } else if p_not > 0.0 {
            f64::NEG_INFINITY
        } else {
            0.0
        };
        let after = posterior::reweight(&post, |c| factor[c]);
        out.push(Contribution {
            bits,
            p_given_cause: p_c,
            p_given_others: p_not,
            p_before: post[cause],
            p_after: after[cause],
        });
        post = after;
    }
    out
}

/// An answer that would change a cause's probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WhatIf {
    pub evidence: usize,
    pub value: usize,
    /// How likely that answer is now.
    pub p_answer: f64,
    /// The cause's probability after that answer.
    pub p_after: f64,
}

/// Answers to `candidates` that would raise `cause`, largest effect first.
pub fn raisers(model: &Model, post: &[f64], cause: usize, candidates: &[usize]) -> Vec<WhatIf> {
    let mut out = Vec::new();
    for &e in candidates {
        let pv = super::gain::predictive(model, post, e);
        for (v, &p_answer) in pv.iter().enumerate() {
            let after = posterior::update(model, post, e, v);
            if after[cause] > post[cause] + 1e-12 {
                out.push(WhatIf {
                    evidence: e,
                    value: v,
                    p_answer,
                    p_after: after[cause],
                });
            }
        }
    }
    out.sort_by(|a, b| {
        b.p_after
            .total_cmp(&a.p_after)
            .then(a.evidence.cmp(&b.evidence))
    });
    out
}

/// What each answer to a question would do: `(value, P(value), top cause, its probability)`.
pub fn outcomes(model: &Model, post: &[f64], evidence: usize) -> Vec<(usize, f64, usize, f64)> {
    let pv = super::gain::predictive(model, post, evidence);
    pv.iter()
        .enumerate()
        .map(|(v, &p)| {
            let after = posterior::update(model, post, evidence, v);
            let top = posterior::ranking(&after)[0];
            (v, p, top, after[top])
        })
        .collect()
}
