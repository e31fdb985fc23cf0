//! Diagnostic efficiency by simulation.
//!
//! Each simulated case draws a true cause from the priors (`other`
//! included) and answers every question by sampling the KB's own
//! likelihoods for that cause; fixes work with their success probability
//! for it. Policies compared:
//!
//! - **engine**: ask the engine's next question until it is done;
//! - **checklist**: ask the KB's fixed checklist (the order the how-to
//!   articles give their steps), stopping at the same threshold;
//! - **advice**: follow the ask-or-fix advice (ask when `ECO < ECR`,
//!   otherwise try the top fix) until a fix works;
//! - **ask first**: always ask while a question is worth asking, then try
//!   fixes in `P/C` order.
//!
//! The entropy of the prior is the information-theoretic lower bound on
//! the mean number of yes/no questions.

use serde::Serialize;

use crate::Engine;
use crate::infer::entropy_bits;
use crate::session::{Source, State};

/// A small deterministic generator (SplitMix64): same seed, same cases.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// An index drawn from a distribution.
    pub fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }
}

/// How one policy did over all cases.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PolicyStats {
    pub policy: String,
    pub mean_questions: f64,
    pub top1: f64,
    pub top3: f64,
    /// Mean cost of questions and fixes until the problem was fixed (cost policies).
    pub mean_cost: f64,
    /// Share of cases a fix resolved (cost policies).
    pub resolved: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub kb: String,
    pub cases: usize,
    pub seed: u64,
    pub prior_entropy_bits: f64,
    pub policies: Vec<PolicyStats>,
}

struct Case {
    cause: usize,
    rng: Rng,
}

impl Case {
    fn answer(&mut self, engine: &Engine, evidence: usize) -> String {
        let e = &engine.model.evidence[evidence];
        let row: Vec<f64> = (0..e.arity()).map(|v| e.p(self.cause, v)).collect();
        e.values[self.rng.pick(&row)].clone()
    }
}

fn ranks(engine: &Engine, state: &State, cause: usize) -> usize {
    let a = state.assess(engine);
    a.ranking
        .iter()
        .position(|&c| c == cause)
        .unwrap_or(usize::MAX)
}

fn ask(engine: &Engine, state: &mut State, case: &mut Case, evidence: usize) {
    let value = case.answer(engine, evidence);
    let id = engine.model.evidence[evidence].id.clone();
    // Sampled values are valid by construction.
    let _ = state.observe(engine, &id, &value, Source::User);
}

/// Ask the engine's questions until it is done.
fn run_engine(engine: &Engine, case: &mut Case) -> (usize, usize) {
    let mut state = State::new(engine);
    let mut n = 0;
    while let Some(q) = state.assess(engine).next {
        ask(engine, &mut state, case, q.evidence);
        n += 1;
    }
    (n, ranks(engine, &state, case.cause))
}

/// Like [`run_engine`] but choosing by information gain alone, ignoring
/// cost: how many questions the evidence's noise itself requires.
fn run_max_gain(engine: &Engine, case: &mut Case) -> (usize, usize) {
    let mut state = State::new(engine);
    let mut n = 0;
    while state.assess(engine).next.is_some() {
        let post = state.assess(engine).posterior;
        let best = state
            .candidates(engine)
            .into_iter()
            .map(|e| {
                (
                    e,
                    crate::infer::gain::expected_gain(&engine.model, &post, e),
                )
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        let Some((e, _)) = best else { break };
        ask(engine, &mut state, case, e);
        n += 1;
    }
    (n, ranks(engine, &state, case.cause))
}

/// Ask the fixed checklist in order until the threshold is reached.
fn run_checklist(engine: &Engine, case: &mut Case) -> (usize, usize) {
    let mut state = State::new(engine);
    let mut n = 0;
    for id in &engine.kb.manifest.checklist {
        let Some(e) = engine.model.evidence_index(id) else {
            continue;
        };
        let a = state.assess(engine);
        if a.posterior[a.ranking[0]] >= engine.model.threshold {
            break;
        }
        if !state.candidates(engine).contains(&e) {
            continue;
        }
        ask(engine, &mut state, case, e);
        n += 1;
    }
    (n, ranks(engine, &state, case.cause))
}

/// Questions and fixes until a fix works; `advice` follows the ask-or-fix
/// advice, otherwise every worthwhile question is asked first.
fn run_costs(engine: &Engine, case: &mut Case, advice: bool) -> (f64, bool, usize) {
    let mut state = State::new(engine);
    let mut cost = 0.0;
    let mut questions = 0;
    for _ in 0..200 {
        let a = state.assess(engine);
        let ask_now = match a.next {
            Some(_) if !advice => true,
            Some(_) => a.advice.step == "ask",
            None => false,
        };
        if let (true, Some(q)) = (ask_now, a.next) {
            cost += engine.model.evidence[q.evidence].cost;
            ask(engine, &mut state, case, q.evidence);
            questions += 1;
            continue;
        }
        let Some(p) = a.plan.first() else { break };
        let fix = &engine.model.fixes[p.fix];
        cost += fix.cost;
        if case.rng.unit() < fix.success[case.cause] {
            return (cost, true, questions);
        }
        let id = fix.id.clone();
        let _ = state.fix_result(engine, &id, false);
    }
    (cost, false, questions)
}

/// Mean questions and top-1 rate of the engine when `cause` is the truth.
pub fn per_cause(engine: &Engine, cause: usize, runs: usize, seed: u64) -> (f64, f64) {
    let mut rng = Rng::new(seed ^ (cause as u64).wrapping_mul(0x9E37_79B9));
    let (mut questions, mut top1) = (0.0, 0.0);
    for _ in 0..runs {
        let mut case = Case {
            cause,
            rng: Rng::new(rng.next_u64()),
        };
        let (n, rank) = run_engine(engine, &mut case);
        questions += n as f64;
        top1 += f64::from(u8::from(rank == 0));
    }
    let n = runs.max(1) as f64;
    (questions / n, top1 / n)
}

/// Simulate `cases` diagnoses with a fixed seed.
pub fn simulate(engine: &Engine, cases: usize, seed: u64) -> Report {
    let m = &engine.model;
    let mut master = Rng::new(seed);
    let mut engine_s = PolicyStats {
        policy: "engine".into(),
        ..Default::default()
    };
    let mut gain_s = PolicyStats {
        policy: "max gain (cost ignored)".into(),
        ..Default::default()
    };
    let mut checklist_s = PolicyStats {
        policy: "checklist".into(),
        ..Default::default()
    };
    let mut advice_s = PolicyStats {
        policy: "advice (ask or fix)".into(),
        ..Default::default()
    };
    let mut first_s = PolicyStats {
        policy: "ask first, then fix".into(),
        ..Default::default()
    };
    for _ in 0..cases {
        let cause = master.pick(&m.prior);
        let case_seed = master.next_u64();
        let fresh = || Case {
            cause,
            rng: Rng::new(case_seed),
        };
        for (stats, run) in [
            (
                &mut engine_s,
                run_engine as fn(&Engine, &mut Case) -> (usize, usize),
            ),
            (&mut gain_s, run_max_gain),
            (&mut checklist_s, run_checklist),
        ] {
            let (n, rank) = run(engine, &mut fresh());
            stats.mean_questions += n as f64;
            stats.top1 += f64::from(u8::from(rank == 0));
            stats.top3 += f64::from(u8::from(rank < 3));
        }
        for (stats, advice) in [(&mut advice_s, true), (&mut first_s, false)] {
            let (cost, resolved, n) = run_costs(engine, &mut fresh(), advice);
            stats.mean_cost += cost;
            stats.mean_questions += n as f64;
            stats.resolved += f64::from(u8::from(resolved));
        }
    }
    let n = cases.max(1) as f64;
    let mut policies = vec![engine_s, gain_s, checklist_s, advice_s, first_s];
    for p in &mut policies {
        p.mean_questions /= n;
        p.top1 /= n;
        p.top3 /= n;
        p.mean_cost /= n;
        p.resolved /= n;
    }
    Report {
        kb: engine.kb.manifest.id.clone(),
        cases,
        seed,
        prior_entropy_bits: entropy_bits(m.prior.iter().copied()),
        policies,
    }
}
