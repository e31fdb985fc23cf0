//! The resolver → verifier loop: which fix results close a session.

use std::path::Path;

use rootcause_engine::Engine;
use rootcause_engine::session::{Done, Source, State};

fn mini() -> Engine {
    Engine::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kb/mini"))
        .expect("mini KB")
}

#[test]
fn a_fix_verified_only_by_collected_evidence_closes_at_once() {
    let e = mini();
    let mut s = State::new(&e);
    s.fix_result(&e, "reinstall_driver", true).unwrap();
    // spooler_error has no question: nothing to wait for.
    assert_eq!(s.verifying, None);
    assert_eq!(s.verified.as_deref(), Some("reinstall_driver"));
    assert_eq!(s.assess(&e).done, Some(Done::Verified));
}

#[test]
fn verification_questions_are_asked_and_decide() {
    let e = mini();
    let mut s = State::new(&e);
    s.observe(&e, "paper_light", "yes", Source::User).unwrap();
    s.fix_result(&e, "add_paper", true).unwrap();
    assert_eq!(s.verifying.as_deref(), Some("add_paper"));
    assert_eq!(
        s.value_of("paper_light"),
        Some("yes"),
        "the finding about the cause stays"
    );
    let next = s.assess(&e).next.expect("the verify question");
    assert_eq!(e.model.evidence[next.evidence].id, "paper_light");

    let before = s.assess(&e).posterior;
    let mut ok = s.clone();
    ok.observe(&e, "paper_light", "no", Source::User).unwrap();
    assert_eq!(ok.verified.as_deref(), Some("add_paper"));
    assert_eq!(
        ok.value_of("paper_light"),
        Some("yes"),
        "the verification answer is kept apart"
    );
    assert_eq!(
        ok.assess(&e).posterior,
        before,
        "and does not move the ranking"
    );

    let mut bad = s.clone();
    bad.observe(&e, "paper_light", "yes", Source::User).unwrap();
    assert_eq!(bad.verified, None);
    assert!(!bad.fixes[0].worked, "an unconfirmed fix counts as failed");

    let mut unsure = s;
    unsure
        .observe(&e, "paper_light", "unknown", Source::User)
        .unwrap();
    assert_eq!(unsure.verified, None, "not confirmed");
    assert_eq!(unsure.verifying, None, "no longer waiting");
    assert!(
        unsure.fixes[0].worked,
        "an unknown answer does not turn the fix into a failure"
    );
}
