//! Fix plans and the ask-or-fix decision (Heckerman, Breese & Rommelse 1995).
//!
//! `P(f works) = Σ_c P(c) · success(f, c)`; fixes are tried in descending
//! `P(f works) / cost(f)` (Kadane & Simon's order for single-fault
//! troubleshooting with independent actions). The plan's expected cost of
//! repair is `ECR = Σ_k cost(f_k) · P(f_1 … f_{k-1} all failed)`, and a
//! question's expected cost of observation is
//! `ECO(q) = cost(q) + a · Σ_v P(v) · ECR(plan after q = v) + (1 − a) · ECR`,
//! with `a` the chance the question gets an answer (an `unknown` leaves
//! the plan as it is).

use super::{Model, gain, posterior};

/// A fix in the plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Planned {
    pub fix: usize,
    pub p_works: f64,
    pub cost: f64,
}

/// Untried fixes with a chance of working, best `P/C` first (ties: KB order).
pub fn plan(model: &Model, post: &[f64], tried: &[usize]) -> Vec<Planned> {
    let mut out: Vec<Planned> = model
        .fixes
        .iter()
        .enumerate()
        .filter(|(f, _)| !tried.contains(f))
        .map(|(f, fix)| Planned {
            fix: f,
            p_works: post.iter().zip(&fix.success).map(|(p, s)| p * s).sum(),
            cost: fix.cost.max(f64::MIN_POSITIVE),
        })
        .filter(|p| p.p_works > 0.0)
        .collect();
    out.sort_by(|a, b| {
        (b.p_works / b.cost)
            .total_cmp(&(a.p_works / a.cost))
            .then(a.fix.cmp(&b.fix))
    });
    out
}

/// Expected cost of repair of a plan under `post`.
pub fn ecr(model: &Model, post: &[f64], plan: &[Planned]) -> f64 {
    // still[c] = P(c) · Π_{j<k} (1 − success(f_j, c)): the mass for which
    // every fix so far failed.
    let mut still = post.to_vec();
    let mut total = 0.0;
    for step in plan {
        let p_reach: f64 = still.iter().sum();
        total += step.cost * p_reach;
        for (m, s) in still.iter_mut().zip(&model.fixes[step.fix].success) {
            *m *= 1.0 - s;
        }
    }
    total
}

/// Expected cost of asking `evidence` first, then following the best plan;
/// with probability `1 − answerability` the answer is `unknown`.
pub fn eco(
    model: &Model,
    post: &[f64],
    evidence: usize,
    tried: &[usize],
    answerability: f64,
) -> f64 {
    eco_with(
        model,
        post,
        evidence,
        tried,
        &|_, _| tried.to_vec(),
        answerability,
    )
}

/// As [`eco`], with the fixes out of the plan after each answer given by
/// `excluded_after(value, posterior after it)`: an answer can make a fix
/// applicable (or a fact point at a test's cause).
pub fn eco_with(
    model: &Model,
    post: &[f64],
    evidence: usize,
    tried: &[usize],
    excluded_after: &dyn Fn(usize, &[f64]) -> Vec<usize>,
    answerability: f64,
) -> f64 {
    let a = answerability.clamp(0.0, 1.0);
    let pv = gain::predictive(model, post, evidence);
    let mut total = model.evidence[evidence].cost;
    if a < 1.0 {
        total += (1.0 - a) * ecr(model, post, &plan(model, post, tried));
    }
    for (v, &p) in pv.iter().enumerate() {
        if p <= 0.0 {
            continue;
        }
        let after = posterior::update(model, post, evidence, v);
        let out = excluded_after(v, &after);
        total += a * p * ecr(model, &after, &plan(model, &after, &out));
    }
    total
}
