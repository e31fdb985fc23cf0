//! Advice that weighs risk: a fix that lowers security is never the first
//! advice until a fact points at its cause, and then it comes with its
//! revert step.

use rootcause_engine::Engine;
use rootcause_engine::session::{Source, State, UNKNOWN};

fn first_fix(engine: &Engine, state: &State) -> String {
    let a = state.assess(engine);
    engine.model.fixes[a.plan[0].fix].id.clone()
}

fn lowers_security(engine: &Engine, fix: &str) -> bool {
    engine.kb.fix(fix).is_some_and(|f| f.lowers_security)
}

#[test]
fn no_security_lowering_fix_comes_first_without_evidence() {
    let engine = Engine::embedded().unwrap();
    let mut state = State::new(&engine);
    // A user who knows nothing: every question answered `unknown`.
    for _ in 0..engine.model.evidence.len() {
        let a = state.assess(&engine);
        let first = first_fix(&engine, &state);
        assert!(
            !lowers_security(&engine, &first),
            "`{first}` is advised first with no evidence for its cause"
        );
        if let Some(f) = &a.advice.fix {
            assert!(!lowers_security(&engine, f), "advice: {}", a.advice.reason);
        }
        let Some(q) = a.next else { break };
        let id = engine.model.evidence[q.evidence].id.clone();
        state.observe(&engine, &id, UNKNOWN, Source::User).unwrap();
    }
}

#[test]
fn failed_fixes_alone_do_not_bring_a_security_lowering_test_forward() {
    let engine = Engine::embedded().unwrap();
    let mut state = State::new(&engine);
    // Nothing points at NLA, CredSSP or antivirus; the likely fixes fail one
    // after another.
    for _ in 0..6 {
        let first = first_fix(&engine, &state);
        assert!(
            !lowers_security(&engine, &first),
            "`{first}` is advised after failed fixes alone"
        );
        state.fix_result(&engine, &first, false).unwrap();
    }
}

fn plan_rank(engine: &Engine, state: &State, fix: &str) -> usize {
    let a = state.assess(engine);
    a.plan
        .iter()
        .position(|p| engine.model.fixes[p.fix].id == fix)
        .unwrap_or(usize::MAX)
}

#[test]
fn a_fact_pointing_at_its_cause_brings_it_forward_with_its_revert() {
    let engine = Engine::embedded().unwrap();
    let test_fix = "credssp_vulnerable_temporary";
    let fresh = State::new(&engine);
    let before = plan_rank(&engine, &fresh, test_fix);
    assert!(before >= 5, "without evidence it ranks #{}", before + 1);
    let mut state = fresh.clone();
    for (e, v) in [
        ("nla_required", "yes"),
        ("secure_channel_ok", "yes"),
        ("credssp_error_shown", "yes"),
        ("other_clients_can_connect", "no"),
    ] {
        state.observe(&engine, e, v, Source::User).unwrap();
    }
    let after = plan_rank(&engine, &state, test_fix);
    assert!(
        after < 3,
        "with the CredSSP message it ranks #{}",
        after + 1
    );
    // The safe fix for the same cause still comes first.
    assert_eq!(first_fix(&engine, &state), "patch_credssp_both_sides");
    let fix = engine.kb.fix(test_fix).unwrap();
    assert!(fix.revert.as_deref().is_some_and(|r| !r.is_empty()));
}

#[test]
fn every_security_lowering_fix_has_a_revert_and_a_risk_cost() {
    let engine = Engine::embedded().unwrap();
    let lowering: Vec<_> = engine
        .kb
        .fixes
        .iter()
        .filter(|f| f.lowers_security)
        .collect();
    assert!(lowering.len() >= 3);
    for f in lowering {
        assert!(f.revert.is_some(), "{}", f.id);
        let m = &engine.model.fixes[engine.model.fix_index(&f.id).unwrap()];
        assert!(m.risk_cost >= engine.kb.manifest.risk_costs.lowers_security);
        assert_eq!(m.cost, f.cost + m.risk_cost + engine.kb.manifest.step_cost);
    }
}
