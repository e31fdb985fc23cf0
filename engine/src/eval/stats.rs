//! `kb stats`: where a KB can and cannot tell causes apart.
//!
//! - For each pair of causes, how well the evidence separates them: the
//!   Jensen-Shannon divergence of their answer distributions (the
//!   information, in bits, one answer gives about which of the two it is
//!   when both are equally likely), for the best single question and summed
//!   over all evidence.
//! - Each evidence variable's expected information gain at the prior.
//! - By simulation, the expected number of questions per true cause.

use serde::Serialize;

use crate::Engine;
use crate::eval::simulate;
use crate::infer::{entropy_bits, gain};

#[derive(Debug, Clone, Serialize)]
pub struct PairStat {
    pub a: String,
    pub b: String,
    /// The question that best separates them, and its gain in bits (0..1).
    pub best_evidence: String,
    pub best_bits: f64,
    /// Sum over all evidence of the per-question separation.
    pub total_bits: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvidenceStat {
    pub evidence: String,
    pub askable: bool,
    pub cost: f64,
    pub gain_at_prior: f64,
    pub gain_per_cost: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CauseStat {
    pub cause: String,
    pub prior: f64,
    pub mean_questions: f64,
    pub top1: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub kb: String,
    /// Hardest pairs first.
    pub pairs: Vec<PairStat>,
    /// Most informative first.
    pub evidence: Vec<EvidenceStat>,
    pub causes: Vec<CauseStat>,
    pub runs_per_cause: usize,
}

/// Information one answer gives about "a or b" with both equally likely.
fn separation(engine: &Engine, e: usize, a: usize, b: usize) -> f64 {
    let ev = &engine.model.evidence[e];
    let pa: Vec<f64> = (0..ev.arity()).map(|v| ev.p(a, v)).collect();
    let pb: Vec<f64> = (0..ev.arity()).map(|v| ev.p(b, v)).collect();
    let mix = pa.iter().zip(&pb).map(|(x, y)| 0.5 * (x + y));
    (entropy_bits(mix)
        - 0.5 * entropy_bits(pa.iter().copied())
        - 0.5 * entropy_bits(pb.iter().copied()))
    .max(0.0)
}

pub fn stats(engine: &Engine, runs_per_cause: usize, seed: u64) -> Stats {
    let m = &engine.model;
    let n = m.n_causes();
    let mut pairs = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            let seps: Vec<f64> = (0..m.evidence.len())
                .map(|e| separation(engine, e, a, b))
                .collect();
            let (best, best_bits) =
                seps.iter().enumerate().fold(
                    (0, 0.0),
                    |acc, (e, &s)| if s > acc.1 { (e, s) } else { acc },
                );
            pairs.push(PairStat {
                a: m.causes[a].clone(),
                b: m.causes[b].clone(),
                best_evidence: m.evidence.get(best).map_or(String::new(), |e| e.id.clone()),
                best_bits,
                total_bits: seps.iter().sum(),
            });
        }
    }
    pairs.sort_by(|x, y| x.total_bits.total_cmp(&y.total_bits));
    let mut evidence: Vec<EvidenceStat> = m
        .evidence
        .iter()
        .enumerate()
        .map(|(e, ev)| {
            let g = gain::expected_gain(m, &m.prior, e);
            EvidenceStat {
                evidence: ev.id.clone(),
                askable: ev.askable,
                cost: ev.cost,
                gain_at_prior: g,
                gain_per_cost: g / ev.cost,
            }
        })
        .collect();
    evidence.sort_by(|x, y| y.gain_at_prior.total_cmp(&x.gain_at_prior));
    let causes = (0..n)
        .map(|c| {
            let (q, t) = simulate::per_cause(engine, c, runs_per_cause, seed);
            CauseStat {
                cause: m.causes[c].clone(),
                prior: m.prior[c],
                mean_questions: q,
                top1: t,
            }
        })
        .collect();
    Stats {
        kb: engine.kb.manifest.id.clone(),
        pairs,
        evidence,
        causes,
        runs_per_cause,
    }
}
