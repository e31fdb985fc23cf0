//! Running a KB's cases (regression tests) in two ways: all observations at
//! once, and interactively (the engine asks, the case answers, anything the
//! case does not mention is `unknown`).

use serde::Serialize;

use crate::Engine;
use crate::kb::model::Case;
use crate::session::{Source, State, UNKNOWN};

/// How a case was run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Batch,
    Interactive,
}

/// The result of one case in one mode.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRun {
    pub name: String,
    pub file: String,
    pub mode: Mode,
    pub passed: bool,
    /// Why it failed (empty when it passed).
    pub problems: Vec<String>,
    /// The top of the ranking it got: (cause, probability).
    pub ranking: Vec<(String, f64)>,
    pub questions: usize,
}

/// The state a case starts from: its collector facts, then its text.
pub fn base_state(engine: &Engine, case: &Case) -> Result<State, String> {
    let mut state = State::new(engine);
    if !case.facts.is_empty() {
        state
            .add_facts(
                engine,
                case.facts.clone().into_iter().collect(),
                "case facts",
            )
            .map_err(|e| e.to_string())?;
    }
    if let Some(text) = &case.text {
        state
            .observe_text(engine, text)
            .map_err(|e| e.to_string())?;
    }
    Ok(state)
}

fn judge(
    engine: &Engine,
    case: &Case,
    state: &State,
    mode: Mode,
    file: &str,
    questions: usize,
) -> CaseRun {
    let a = state.assess(engine);
    let m = &engine.model;
    let ranking: Vec<(String, f64)> = a
        .ranking
        .iter()
        .map(|&c| (m.causes[c].clone(), a.posterior[c]))
        .collect();
    let mut problems = Vec::new();
    let ex = &case.expect;
    let pos = |id: &str| ranking.iter().position(|(c, _)| c == id);
    if let Some(top) = &ex.top
        && pos(top) != Some(0)
    {
        problems.push(format!(
            "expected `{top}` first, it ranks #{}",
            pos(top).map_or(0, |p| p + 1)
        ));
    }
    if !ex.any_of.is_empty()
        && !ex
            .any_of
            .iter()
            .any(|c| pos(c).is_some_and(|p| p < ex.within))
    {
        problems.push(format!(
            "expected one of {} within the top {}",
            ex.any_of.join(", "),
            ex.within
        ));
    }
    if mode == Mode::Batch
        && let Some(min) = ex.min_probability
    {
        let target = ex.top.as_ref().or(ex.any_of.first());
        if let Some(t) = target {
            let p = pos(t).map_or(0.0, |i| ranking[i].1);
            if p < min {
                problems.push(format!("expected P({t}) >= {min}, got {p:.3}"));
            }
        }
    }
    if mode == Mode::Interactive
        && let Some(max) = ex.max_questions
        && questions > max
    {
        problems.push(format!(
            "took {questions} questions, at most {max} expected"
        ));
    }
    CaseRun {
        name: case.name.clone(),
        file: file.to_string(),
        mode,
        passed: problems.is_empty(),
        problems,
        ranking: ranking.into_iter().take(5).collect(),
        questions,
    }
}

/// Run one case both ways.
pub fn run_case(engine: &Engine, file: &str, case: &Case) -> Vec<CaseRun> {
    let fail = |mode, msg: String| CaseRun {
        name: case.name.clone(),
        file: file.to_string(),
        mode,
        passed: false,
        problems: vec![msg],
        ranking: Vec::new(),
        questions: 0,
    };
    let mut out = Vec::new();
    // Batch: every observation at once.
    match base_state(engine, case) {
        Ok(mut state) => {
            let mut err = None;
            for (ev, v) in &case.observations {
                if let Err(e) = state.observe(engine, ev, v, Source::User) {
                    err = Some(e.to_string());
                }
            }
            out.push(match err {
                Some(e) => fail(Mode::Batch, e),
                None => judge(
                    engine,
                    case,
                    &state,
                    Mode::Batch,
                    file,
                    case.observations.len(),
                ),
            });
        }
        Err(e) => out.push(fail(Mode::Batch, e)),
    }
    // Interactive: answer what the engine asks.
    match base_state(engine, case) {
        Ok(mut state) => {
            let mut asked = 0;
            let limit = engine.model.max_questions.max(1) * 2;
            while asked < limit {
                let a = state.assess(engine);
                let Some(q) = a.next else { break };
                let id = engine.model.evidence[q.evidence].id.clone();
                let answer = case.observations.get(&id).map_or(UNKNOWN, String::as_str);
                if state.observe(engine, &id, answer, Source::User).is_err() {
                    break;
                }
                asked += 1;
            }
            out.push(judge(engine, case, &state, Mode::Interactive, file, asked));
        }
        Err(e) => out.push(fail(Mode::Interactive, e)),
    }
    out
}

/// Whether a case is selected by `filter`: no filter, or its name or its
/// file (`reports/held_out.ron`) contains it.
pub fn selected(file: &str, case: &Case, filter: Option<&str>) -> bool {
    filter.is_none_or(|f| case.name.contains(f) || file.contains(f))
}

/// Run every case whose name or file contains `filter`.
pub fn run_all(engine: &Engine, filter: Option<&str>) -> Vec<CaseRun> {
    run_list(engine, &engine.kb.cases, filter)
}

/// Run every real report (`reports/`) whose name or file contains `filter`.
pub fn run_reports(engine: &Engine, filter: Option<&str>) -> Vec<CaseRun> {
    run_list(engine, &engine.kb.reports, filter)
}

/// The share of runs of `mode` whose expected cause ranks within the top `n`.
pub fn rate_within(engine: &Engine, runs: &[CaseRun], mode: Mode, n: usize) -> f64 {
    let expected = |name: &str| -> Vec<String> {
        engine
            .kb
            .cases
            .iter()
            .chain(&engine.kb.reports)
            .find(|(_, c)| c.name == name)
            .map(|(_, c)| {
                c.expect
                    .top
                    .iter()
                    .chain(&c.expect.any_of)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    let of_mode: Vec<&CaseRun> = runs.iter().filter(|r| r.mode == mode).collect();
    let hits = of_mode
        .iter()
        .filter(|r| {
            let want = expected(&r.name);
            r.ranking.iter().take(n).any(|(c, _)| want.contains(c))
        })
        .count();
    hits as f64 / of_mode.len().max(1) as f64
}

fn run_list(engine: &Engine, list: &[(String, Case)], filter: Option<&str>) -> Vec<CaseRun> {
    list.iter()
        .filter(|(file, c)| selected(file, c, filter))
        .flat_map(|(file, c)| run_case(engine, file, c))
        .collect()
}
