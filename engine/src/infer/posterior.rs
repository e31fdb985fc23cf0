//! `P(c | obs) ∝ prior(c) · Π P(e = v | c) · Π P(fix failed | c)`, in log
//! space, normalised with log-sum-exp.

use super::Model;

/// What the posterior is conditioned on, as model indices.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    /// (evidence, value) pairs; `unknown` answers are simply absent.
    pub observed: Vec<(usize, usize)>,
    /// Fixes tried that did not work.
    pub failed_fixes: Vec<usize>,
    /// Fixes tried that worked.
    pub worked_fixes: Vec<usize>,
}

/// Unnormalised log posterior per cause.
pub fn log_joint(model: &Model, findings: &Findings) -> Vec<f64> {
    let mut log = model.log_prior.clone();
    for &(e, v) in &findings.observed {
        let ev = &model.evidence[e];
        let k = ev.arity();
        for (c, l) in log.iter_mut().enumerate() {
            *l += ev.log_lik[c * k + v];
        }
    }
    for &f in &findings.failed_fixes {
        for (c, l) in log.iter_mut().enumerate() {
            *l += (1.0 - model.fixes[f].success[c]).ln();
        }
    }
    for &f in &findings.worked_fixes {
        for (c, l) in log.iter_mut().enumerate() {
            *l += model.fixes[f].success[c].ln();
        }
    }
    log
}

/// Normalise log weights into probabilities (log-sum-exp). When every
/// weight is zero (contradictory findings) the result is `None`.
pub fn normalise(log: &[f64]) -> Option<Vec<f64>> {
    let max = log.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return None;
    }
    let sum: f64 = log.iter().map(|l| (l - max).exp()).sum();
    let lse = max + sum.ln();
    Some(log.iter().map(|l| (l - lse).exp()).collect())
}

/// The posterior, or the prior when the findings are contradictory.
pub fn posterior(model: &Model, findings: &Findings) -> (Vec<f64>, bool) {
    match normalise(&log_joint(model, findings)) {
        Some(p) => (p, false),
        None => (model.prior.clone(), true),
    }
}

/// Bayes update of a distribution by one observation (`P(c | v) ∝ P(c) P(v | c)`).
pub fn update(model: &Model, post: &[f64], evidence: usize, value: usize) -> Vec<f64> {
    let ev = &model.evidence[evidence];
    let k = ev.arity();
    reweight(post, |c| ev.lik[c * k + value])
}

/// `P(c) · w(c)`, normalised; the input unchanged when every weight is zero.
pub fn reweight(post: &[f64], weight: impl Fn(usize) -> f64) -> Vec<f64> {
    let mut out: Vec<f64> = post
        .iter()
        .enumerate()
        .map(|(c, p)| p * weight(c))
        .collect();
    let z: f64 = out.iter().sum();
    if z > 0.0 {
        out.iter_mut().for_each(|p| *p /= z);
        out
    } else {
        post.to_vec()
    }
}

/// Cause indices sorted by descending probability (ties: KB order).
pub fn ranking(post: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..post.len()).collect();
    idx.sort_by(|&a, &b| post[b].total_cmp(&post[a]).then(a.cmp(&b)));
    idx
}
