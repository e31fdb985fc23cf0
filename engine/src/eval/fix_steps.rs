//! Steps to a working fix, the way a user lives a diagnosis.
//!
//! A simulated user follows the engine's advice: when it says ask, the
//! user answers the question (or says `unknown`); when it says try a fix,
//! the user tries it, and it works with the KB's `resolves` probability for
//! the true cause. Every question and every fix tried is one step; the run
//! ends when a fix works, when the engine has nothing left to advise, or
//! after [`MAX_STEPS`].
//!
//! Two sources of users:
//!
//! - **cases**: the KB's cases (for the RDP KB, real reports). The user
//!   knows exactly what the case states; everything else is `unknown`. Each
//!   case is run several times, since whether a fix works is drawn.
//! - **simulated**: the true cause drawn from the priors; the user answers
//!   a question with its answerability (lowered after `unknown` answers
//!   needing the same access), drawing the answer from the KB's likelihoods
//!   for the true cause, and says `unknown` otherwise.
//!
//! The second measures the model against itself; the first measures it
//! against what reporters actually knew. [`simulated_probed`] runs the
//! second kind with the host named, so that the network probe's findings
//! arrive before the intake.
//!
//! Both start as `diagnose` does: with the intake screen (one step), where
//! the user pastes what they have and picks what the error dialog says and
//! what changed recently, and answers the triage questions (the KB's
//! `error_shown`, `triage` and `recent_changes`).
//! A case user picks the choices its report states; a simulated user reads
//! the dialog and recalls the changes with each variable's answerability.
//!
//! [`oracle`] is the bound no advice can beat: a user who knows the true
//! cause and tries its best fixes first.

use std::collections::BTreeMap;

use serde::Serialize;

use super::simulate::Rng;
use crate::Engine;
use crate::infer::OTHER;
use crate::kb::model::{Action, CollectorKind};
use crate::session::{Source, State, UNKNOWN};

/// A run that has not found a working fix after this many steps gives up.
pub const MAX_STEPS: usize = 40;

/// One simulated diagnosis.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Questions asked plus fixes tried.
    pub steps: usize,
    pub questions: usize,
    pub fixes_tried: usize,
    /// Effort of the questions and fixes (the KB's cost units, risk
    /// included, the per-step cost not).
    pub cost: f64,
    pub fixed: bool,
    /// What happened, step by step (`evidence=value`, `fix:id failed|worked`).
    pub trail: Vec<String>,
}

/// Figures over a set of runs.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Figures {
    pub runs: usize,
    /// Mean steps until a fix worked, over the runs that were fixed.
    pub mean_steps_to_fix: f64,
    /// Share of runs fixed within five steps.
    pub fixed_within_5: f64,
    /// Share of runs fixed at all.
    pub fixed: f64,
    pub mean_questions: f64,
    pub mean_fixes_tried: f64,
    pub mean_cost: f64,
}

impl Figures {
    fn of(runs: &[Run]) -> Figures {
        let n = runs.len().max(1) as f64;
        let fixed: Vec<&Run> = runs.iter().filter(|r| r.fixed).collect();
        Figures {
            runs: runs.len(),
            // A fold from +0.0: `Sum` of no floats is -0.0, which prints as such.
            mean_steps_to_fix: fixed.iter().fold(0.0, |acc, r| acc + r.steps as f64)
                / fixed.len().max(1) as f64,
            fixed_within_5: fixed.iter().filter(|r| r.steps <= 5).count() as f64 / n,
            fixed: fixed.len() as f64 / n,
            mean_questions: runs.iter().map(|r| r.questions as f64).sum::<f64>() / n,
            mean_fixes_tried: runs.iter().map(|r| r.fixes_tried as f64).sum::<f64>() / n,
            mean_cost: runs.iter().map(|r| r.cost).sum::<f64>() / n,
        }
    }
}

/// The whole benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub kb: String,
    pub seed: u64,
    pub overall: Figures,
    /// Figures per true cause.
    pub per_cause: BTreeMap<String, Figures>,
    /// The first run of each case, or of each true cause for simulated
    /// users: its name and trail.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trails: Vec<(String, Vec<String>)>,
}

/// What the simulated user knows.
pub trait User {
    /// The intake choices the user picks (keys of the KB's `error_shown`
    /// and `recent_changes`).
    fn intake(&mut self, engine: &Engine, state: &State) -> Vec<String>;
    /// The answer to `evidence` (a value or `unknown`).
    fn answer(&mut self, engine: &Engine, state: &State, evidence: usize) -> String;
    /// Whether trying `fix` repairs the problem.
    fn fix_works(&mut self, engine: &Engine, fix: usize) -> bool;
}

/// Follow the advice from `state` until a fix works or nothing is left.
/// With `intake`, the first step is the intake screen (it also holds any
/// pasted text, already in `state`).
pub fn run(engine: &Engine, mut state: State, user: &mut dyn User, intake: bool) -> Run {
    let m = &engine.model;
    let mut r = Run {
        steps: 0,
        questions: 0,
        fixes_tried: 0,
        cost: 0.0,
        fixed: false,
        trail: Vec::new(),
    };
    if intake {
        let picked = user.intake(engine, &state);
        let keys: Vec<&str> = picked.iter().map(String::as_str).collect();
        r.steps += 1;
        r.trail.push(if picked.is_empty() {
            "intake: nothing picked".to_string()
        } else {
            format!("intake: {}", picked.join(", "))
        });
        // As with an answer the state refuses, the run ends (the KB's own
        // choices set values `kb check` has validated, so this does not
        // happen for a checked KB).
        if state.intake(engine, &keys).is_err() {
            return r;
        }
    }
    while r.steps < MAX_STEPS {
        let a = state.assess(engine);
        if a.advice.step == "ask"
            && let Some(q) = a.next
        {
            let id = m.evidence[q.evidence].id.clone();
            let value = user.answer(engine, &state, q.evidence);
            r.steps += 1;
            r.questions += 1;
            r.cost += engine.kb.evidence[q.evidence].cost;
            r.trail.push(format!("{id}={value}"));
            if state.observe(engine, &id, &value, Source::User).is_err() {
                break;
            }
            continue;
        }
        let Some(p) = a.plan.first() else { break };
        let fix = &m.fixes[p.fix];
        r.steps += 1;
        r.fixes_tried += 1;
        r.cost += fix.cost - m.step_cost;
        if user.fix_works(engine, p.fix) {
            r.fixed = true;
            r.trail.push(format!("fix:{} worked", fix.id));
            break;
        }
        r.trail.push(format!("fix:{} failed", fix.id));
        let id = fix.id.clone();
        if state.fix_result(engine, &id, false).is_err() {
            break;
        }
    }
    r
}

/// A user drawn from the model: answers with each question's answerability.
struct SimulatedUser {
    cause: usize,
    rng: Rng,
}

impl User for SimulatedUser {
    /// Each variable the intake covers is answered once (the dialog, what
    /// changed); a choice is picked when its values are what the user knows.
    fn intake(&mut self, engine: &Engine, state: &State) -> Vec<String> {
        let mut known: BTreeMap<&str, String> = BTreeMap::new();
        let mut picked = Vec::new();
        for choice in engine.intake_choices() {
            let mut all = true;
            for &(e, v) in &choice.sets {
                if !known.contains_key(e) {
                    let value = match engine.model.evidence_index(e) {
                        Some(i) => self.answer(engine, state, i),
                        None => UNKNOWN.to_string(),
                    };
                    known.insert(e, value);
                }
                all &= known.get(e).map(String::as_str) == Some(v);
            }
            if all && !choice.sets.is_empty() {
                picked.push(choice.key.to_string());
            }
        }
        picked
    }
    fn answer(&mut self, engine: &Engine, state: &State, evidence: usize) -> String {
        if self.rng.unit() >= state.answerability(engine, evidence) {
            return UNKNOWN.to_string();
        }
        let e = &engine.model.evidence[evidence];
        let row: Vec<f64> = (0..e.arity()).map(|v| e.p(self.cause, v)).collect();
        e.values[self.rng.pick(&row)].clone()
    }
    fn fix_works(&mut self, engine: &Engine, fix: usize) -> bool {
        self.rng.unit() < engine.model.fixes[fix].success[self.cause]
    }
}

/// A user who knows what a case states and nothing else.
struct CaseUser<'c> {
    answers: &'c BTreeMap<String, String>,
    cause: usize,
    rng: Rng,
}

impl User for CaseUser<'_> {
    /// The choices whose every value the report states.
    fn intake(&mut self, engine: &Engine, _state: &State) -> Vec<String> {
        engine
            .intake_choices()
            .into_iter()
            .filter(|c| {
                !c.sets.is_empty()
                    && c.sets
                        .iter()
                        .all(|&(e, v)| self.answers.get(e).map(String::as_str) == Some(v))
            })
            .map(|c| c.key.to_string())
            .collect()
    }
    fn answer(&mut self, engine: &Engine, _state: &State, evidence: usize) -> String {
        let id = &engine.model.evidence[evidence].id;
        self.answers
            .get(id)
            .cloned()
            .unwrap_or_else(|| UNKNOWN.to_string())
    }
    fn fix_works(&mut self, engine: &Engine, fix: usize) -> bool {
        self.rng.unit() < engine.model.fixes[fix].success[self.cause]
    }
}

fn report(engine: &Engine, seed: u64, runs: Vec<(usize, Run)>) -> Report {
    let mut by_cause: BTreeMap<String, Vec<Run>> = BTreeMap::new();
    for (c, r) in &runs {
        by_cause
            .entry(engine.model.causes[*c].clone())
            .or_default()
            .push(r.clone());
    }
    let all: Vec<Run> = runs.into_iter().map(|(_, r)| r).collect();
    let trails = Vec::new();
    Report {
        kb: engine.kb.manifest.id.clone(),
        seed,
        overall: Figures::of(&all),
        per_cause: by_cause
            .into_iter()
            .map(|(c, rs)| (c, Figures::of(&rs)))
            .collect(),
        trails,
    }
}

/// The bound no advice can beat: the share of users fixed within five
/// steps, and fixed at all, when the user knows the true cause (drawn from
/// the priors, `other` included) and tries its best fixes first.
pub fn oracle(engine: &Engine) -> (f64, f64) {
    let m = &engine.model;
    let total: f64 = m.prior.iter().sum();
    let (mut within_5, mut fixed) = (0.0, 0.0);
    for (c, p) in m.prior.iter().enumerate() {
        let mut success: Vec<f64> = m.fixes.iter().map(|f| f.success[c]).collect();
        success.sort_by(|a, b| b.total_cmp(a));
        let fail = |n: usize| -> f64 { success.iter().take(n).map(|s| 1.0 - s).product() };
        within_5 += p * (1.0 - fail(5));
        fixed += p * (1.0 - fail(success.len()));
    }
    (within_5 / total, fixed / total)
}

/// Whether the KB has an intake screen.
fn has_intake(engine: &Engine) -> bool {
    !engine.intake_choices().is_empty()
}

/// `cases` users drawn from the model.
pub fn simulated(engine: &Engine, cases: usize, seed: u64) -> Report {
    simulate_users(engine, cases, seed, None)
}

/// `cases` users drawn from the model, as [`simulated`], who name the host
/// (`diagnose HOST`): the KB's network probe runs before the intake and
/// costs the user no step. The variables its rules set are drawn from the
/// true cause's likelihoods in KB order, each only where the KB would still
/// ask it (`ask_if`: nothing is negotiated over a port that does not
/// answer). The model does not say which variables a probe that stopped
/// early could not read (for the RDP KB: the certificate after a
/// negotiation without TLS), so they are drawn too, and the figure is an
/// upper estimate of what the probe brings. `None` when the KB has no
/// network probe.
pub fn simulated_probed(engine: &Engine, cases: usize, seed: u64) -> Option<Report> {
    let probe = engine
        .kb
        .collectors
        .iter()
        .find(|c| matches!(c.kind, CollectorKind::RdpProbe))?;
    let evidence = collected_by(engine, &probe.produces);
    (!evidence.is_empty())
        .then(|| simulate_users(engine, cases, seed, Some((&probe.id, &evidence))))
}

/// The evidence the KB's rules set from these facts alone, in KB order.
fn collected_by(engine: &Engine, facts: &[String]) -> Vec<usize> {
    let m = &engine.model;
    let mut set: Vec<usize> = engine
        .kb
        .rules
        .iter()
        .filter(|r| r.when.facts().iter().all(|f| facts.iter().any(|p| p == f)))
        .flat_map(|r| r.then.iter())
        .filter_map(|a| match a {
            Action::Set(e, _) => m.evidence_index(e),
            Action::Derive(..) => None,
        })
        .collect();
    set.sort_unstable();
    set.dedup();
    set
}

fn simulate_users(
    engine: &Engine,
    cases: usize,
    seed: u64,
    probe: Option<(&str, &[usize])>,
) -> Report {
    let m = &engine.model;
    let mut master = Rng::new(seed);
    let intake = has_intake(engine);
    let runs: Vec<(usize, Run)> = (0..cases)
        .map(|_| {
            let cause = master.pick(&m.prior);
            let mut user = SimulatedUser {
                cause,
                rng: Rng::new(master.next_u64()),
            };
            let mut state = State::new(engine);
            let mut probed = Vec::new();
            if let Some((collector, evidence)) = probe {
                for &e in evidence {
                    let ev = &m.evidence[e];
                    if ev.askable && !state.candidates(engine).contains(&e) {
                        continue;
                    }
                    let row: Vec<f64> = (0..ev.arity()).map(|v| ev.p(cause, v)).collect();
                    let value = ev.values[user.rng.pick(&row)].clone();
                    let source = Source::Collector {
                        collector: collector.to_string(),
                        detail: "simulated".into(),
                    };
                    // A value of the model is valid: nothing to refuse.
                    if state.observe(engine, &ev.id, &value, source).is_ok() {
                        probed.push(format!("{}={value}", ev.id));
                    }
                }
            }
            let mut r = run(engine, state, &mut user, intake);
            if !probed.is_empty() {
                r.trail.insert(0, format!("probe: {}", probed.join(", ")));
            }
            (cause, r)
        })
        .collect();
    let mut trails: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (c, r) in &runs {
        trails.entry(*c).or_insert_with(|| r.trail.clone());
    }
    let mut out = report(engine, seed, runs);
    out.trails = trails
        .into_iter()
        .map(|(c, t)| (m.causes[c].clone(), t))
        .collect();
    out
}

/// Each of the KB's real reports (`reports`) or cases whose name or file
/// contains `filter`, `repeats` times;
/// the true cause is the case's `top` (or its first `any_of`). Cases
/// start from their collector facts and their pasted text; the paste
/// counts as one step (the intake's, when the KB has one).
pub fn from_cases(
    engine: &Engine,
    reports: bool,
    filter: Option<&str>,
    repeats: usize,
    seed: u64,
) -> Report {
    let m = &engine.model;
    let mut master = Rng::new(seed);
    let mut runs = Vec::new();
    let mut trails = Vec::new();
    let list = if reports {
        &engine.kb.reports
    } else {
        &engine.kb.cases
    };
    let intake = has_intake(engine);
    for (file, case) in list {
        if !super::cases::selected(file, case, filter) {
            continue;
        }
        let truth = case
            .expect
            .top
            .as_deref()
            .or(case.expect.any_of.first().map(String::as_str))
            .unwrap_or(OTHER);
        let Some(cause) = m.cause_index(truth) else {
            continue;
        };
        let Ok(start) = super::cases::base_state(engine, case) else {
            continue;
        };
        // Pasting the reporter's text is the first step; with an intake
        // screen, the paste is part of it.
        let pasted = usize::from(case.text.is_some() && !intake);
        for k in 0..repeats.max(1) {
            let mut user = CaseUser {
                answers: &case.observations,
                cause,
                rng: Rng::new(master.next_u64()),
            };
            let mut r = run(engine, start.clone(), &mut user, intake);
            r.steps += pasted;
            if k == 0 {
                let mut trail = r.trail.clone();
                match trail.first_mut() {
                    Some(first) if case.text.is_some() && intake => {
                        *first = format!("paste + {first}");
                    }
                    _ if case.text.is_some() => trail.insert(0, "paste".to_string()),
                    _ => {}
                }
                trails.push((case.name.clone(), trail));
            }
            runs.push((cause, r));
        }
    }
    let mut out = report(engine, seed, runs);
    out.trails = trails;
    out
}

/// The ceiling the questions can reach: simulated users who answer every
/// question they may be asked (with its answerability, lowered after
/// `unknown` answers as in a diagnosis) at no step cost, then follow the
/// fix plan. Only the intake (one step) and the fixes tried count. Returns
/// the share fixed within five steps and the share fixed at all.
///
/// Asking costs steps that free answers do not, so with the same plan
/// afterwards no order of questions does better in this model: a target
/// above this figure is out of the advice's reach, and only evidence that
/// tells the causes apart better (or comes without a step) can raise it.
pub fn informed(engine: &Engine, cases: usize, seed: u64) -> (f64, f64) {
    let m = &engine.model;
    let mut master = Rng::new(seed);
    let (mut within_5, mut fixed) = (0usize, 0usize);
    for _ in 0..cases {
        let cause = master.pick(&m.prior);
        let mut user = SimulatedUser {
            cause,
            rng: Rng::new(master.next_u64()),
        };
        let mut state = State::new(engine);
        // Answering may open questions (`ask_if`): repeat until none is left.
        'ask: loop {
            let open = state.candidates(engine);
            if open.is_empty() {
                break;
            }
            for e in open {
                let value = user.answer(engine, &state, e);
                let id = m.evidence[e].id.clone();
                if state.observe(engine, &id, &value, Source::User).is_err() {
                    break 'ask;
                }
            }
        }
        // Nothing is left to ask, so the advice only tries fixes; the
        // intake is the one step before them.
        let r = run(engine, state, &mut user, false);
        if r.fixed {
            fixed += 1;
            within_5 += usize::from(r.steps < 5);
        }
    }
    let n = cases.max(1) as f64;
    (within_5 as f64 / n, fixed as f64 / n)
}
