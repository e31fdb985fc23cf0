//! The intake (what the error says, what changed recently) and the
//! steps-to-fix benchmark that starts with it.

use rootcause_engine::Engine;
use rootcause_engine::eval::fix_steps;
use rootcause_engine::session::{IntakePart, State};

#[test]
fn the_embedded_kb_offers_the_three_parts_of_the_intake_in_screen_order() {
    let engine = Engine::embedded().unwrap();
    let choices = engine.intake_choices();
    let parts: Vec<IntakePart> = choices.iter().map(|c| c.part).collect();
    // What the dialog says, then the triage questions, then what changed.
    let rank = |p: &IntakePart| match p {
        IntakePart::Shown => 0,
        IntakePart::Triage => 1,
        IntakePart::Changed => 2,
    };
    assert!(parts.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])));
    for part in [IntakePart::Shown, IntakePart::Triage, IntakePart::Changed] {
        assert!(parts.contains(&part), "{part:?} missing");
    }
    // A triage question's choices come in its values' order, labelled by
    // its own question.
    let path: Vec<(&str, &str)> = choices
        .iter()
        .filter(|c| c.evidence == Some("connection_path"))
        .map(|c| (c.key, c.sets[0].1))
        .collect();
    assert_eq!(
        path,
        [
            ("lan", "lan"),
            ("vpn", "vpn"),
            ("gateway", "gateway"),
            ("internet", "internet")
        ]
    );
    let vpn = choices.iter().find(|c| c.key == "vpn").unwrap();
    assert_eq!(vpn.label, "Over a VPN");
}

#[test]
fn triage_words_set_their_variable_and_contradicting_words_are_refused() {
    let engine = Engine::embedded().unwrap();
    let mut state = State::new(&engine);
    let set = state
        .intake(&engine, &["cant_connect", "gateway", "all_fail", "update"])
        .unwrap();
    assert!(set.contains(&("connection_path".into(), "gateway".into())));
    assert!(set.contains(&("other_clients_can_connect".into(), "no".into())));
    assert_eq!(state.value_of("connection_path"), Some("gateway"));
    // Once the intake has answered them, they are not asked again.
    let a = state.assess(&engine);
    let next = a
        .next
        .map(|q| engine.model.evidence[q.evidence].id.as_str());
    assert_ne!(next, Some("connection_path"));
    assert_ne!(next, Some("other_clients_can_connect"));

    // Two words for one question, or a dialog that says two exclusive
    // things, are refused whole: nothing is applied.
    for words in [
        &["lan", "vpn"][..],
        &["update", "others_connect", "all_fail"],
        &["cant_connect", "credssp"],
    ] {
        let mut state = State::new(&engine);
        let err = state.intake(&engine, words).unwrap_err();
        assert_eq!(err.code(), "bad_value", "{words:?}");
        assert!(err.to_string().contains("pick one"), "{err}");
        assert!(state.observations.is_empty(), "{words:?} applied something");
    }
    // The same word twice is no contradiction.
    let mut state = State::new(&engine);
    state.intake(&engine, &["vpn", "vpn"]).unwrap();
    assert_eq!(state.value_of("connection_path"), Some("vpn"));
}

#[test]
fn one_intake_answer_sets_several_variables_and_moves_the_ranking() {
    let engine = Engine::embedded().unwrap();
    let mut state = State::new(&engine);
    let set = state.intake(&engine, &["credssp", "update"]).unwrap();
    assert!(set.contains(&("credssp_error_shown".into(), "yes".into())));
    assert!(set.contains(&("recent_windows_update".into(), "yes".into())));
    assert_eq!(state.value_of("credssp_error_shown"), Some("yes"));
    let a = state.assess(&engine);
    assert_eq!(engine.model.causes[a.ranking[0]], "credssp_oracle_mismatch");

    // The 0x904 dialog alone rules the neighbours' messages out.
    let mut state = State::new(&engine);
    state.intake(&engine, &["cant_connect", "none"]).unwrap();
    assert_eq!(state.value_of("credssp_error_shown"), Some("no"));
    assert_eq!(state.value_of("license_error_shown"), Some("no"));

    // A session that started and then dropped points away from the setup
    // failures (certificate, key) towards the path.
    let mut state = State::new(&engine);
    let before = state.assess(&engine);
    state.intake(&engine, &["session_dropped"]).unwrap();
    assert_eq!(state.value_of("drops_after_session_start"), Some("yes"));
    let after = state.assess(&engine);
    let p = |a: &rootcause_engine::session::Assessment, c: &str| {
        a.posterior[engine.model.cause_index(c).unwrap()]
    };
    assert!(p(&after, "mtu_mismatch") > 3.0 * p(&before, "mtu_mismatch"));
    assert!(p(&after, "rdp_certificate_invalid") < p(&before, "rdp_certificate_invalid") / 2.0);
}

#[test]
fn an_unknown_choice_is_an_error_and_changes_nothing() {
    let engine = Engine::embedded().unwrap();
    let mut state = State::new(&engine);
    let err = state.intake(&engine, &["update", "coffee"]).unwrap_err();
    assert_eq!(err.code(), "bad_value");
    let msg = err.to_string();
    assert!(msg.contains("coffee") && msg.contains("licensing"), "{msg}");
    assert!(state.observations.is_empty(), "all or nothing");
    // Nothing picked is fine.
    assert!(state.intake(&engine, &[]).unwrap().is_empty());
    assert!(state.intake(&engine, &["none"]).unwrap().is_empty());
}

#[test]
fn the_benchmark_counts_the_intake_as_one_step_and_stays_under_its_bound() {
    let engine = Engine::embedded().unwrap();
    let reports = fix_steps::from_cases(&engine, true, Some("credssp"), 2, 7);
    // Every trail starts with the intake screen, the paste included.
    for (name, trail) in &reports.trails {
        assert!(
            trail[0].starts_with("intake") || trail[0].starts_with("paste + intake"),
            "{name}: {trail:?}"
        );
    }
    // A report that states the CredSSP dialog and an update picks both.
    let packer = reports
        .trails
        .iter()
        .find(|(n, _)| n == "report_packer_124_credssp")
        .expect("the packer report");
    assert_eq!(packer.1[0], "intake: credssp, update");
    assert!(packer.1[1].starts_with("fix:patch_credssp_both_sides"));

    let sim = fix_steps::simulated(&engine, 400, 3);
    let (within_5, fixed) = fix_steps::oracle(&engine);
    assert!(within_5 <= fixed && fixed <= 1.0);
    assert!(
        sim.overall.fixed_within_5 <= within_5 + 0.03,
        "{} > bound {within_5}",
        sim.overall.fixed_within_5
    );
    // Same seed, same runs.
    assert_eq!(sim.overall, fix_steps::simulated(&engine, 400, 3).overall);
    // Simulated traces: one per true cause drawn, each opening with the intake.
    assert!(sim.trails.len() >= 10, "{:?}", sim.trails.len());
    assert!(sim.trails.iter().all(|(_, t)| t[0].starts_with("intake")));
}

#[test]
fn free_answers_bound_the_advice_and_the_cause_known_bounds_them() {
    let engine = Engine::embedded().unwrap();
    let sim = fix_steps::simulated(&engine, 600, 5);
    let (informed_5, informed_fixed) = fix_steps::informed(&engine, 600, 5);
    let (oracle_5, _) = fix_steps::oracle(&engine);
    assert!(informed_5 <= informed_fixed);
    // Answers that cost no step do at least as well as the advice, which
    // pays a step for each; knowing the cause does better still.
    assert!(
        sim.overall.fixed_within_5 < informed_5,
        "advice {} vs free answers {informed_5}",
        sim.overall.fixed_within_5
    );
    assert!(informed_5 < oracle_5 + 0.03, "{informed_5} vs {oracle_5}");
    assert_eq!(
        fix_steps::informed(&engine, 600, 5),
        (informed_5, informed_fixed)
    );
}

#[test]
fn naming_the_host_runs_the_probe_first_and_shortens_the_way_to_a_fix() {
    let engine = Engine::embedded().unwrap();
    let sim = fix_steps::simulated(&engine, 800, 7);
    let probed = fix_steps::simulated_probed(&engine, 800, 7).expect("the KB has a probe");
    // Same users (same seed), with the probe's facts before the intake.
    assert_eq!(probed.overall.runs, sim.overall.runs);
    assert!(
        probed.overall.fixed_within_5 > sim.overall.fixed_within_5 + 0.05,
        "probe {} vs none {}",
        probed.overall.fixed_within_5,
        sim.overall.fixed_within_5
    );
    assert!(probed.overall.mean_steps_to_fix < sim.overall.mean_steps_to_fix);
    assert_eq!(
        fix_steps::simulated_probed(&engine, 800, 7)
            .unwrap()
            .overall,
        probed.overall
    );
    // Each trail opens with what the probe found, then the intake; over a
    // port that does not answer nothing is negotiated.
    for (cause, trail) in &probed.trails {
        let probe = trail[0].strip_prefix("probe: ").expect("probe first");
        assert!(trail[1].starts_with("intake"), "{cause}: {trail:?}");
        assert!(probe.contains("port_reachable="), "{cause}: {probe}");
        if probe.contains("port_reachable=no") {
            assert!(!probe.contains("rdp_negotiation="), "{cause}: {probe}");
            assert!(!probe.contains("tls_handshake="), "{cause}: {probe}");
        }
        if probe.contains("rdp_negotiation=closed_early") {
            assert!(!probe.contains("tls_handshake="), "{cause}: {probe}");
        }
    }
    // A KB without a network probe has no such users.
    let mini = Engine::from_dir(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/kb/mini"
    )))
    .unwrap();
    assert!(fix_steps::simulated_probed(&mini, 10, 1).is_none());
}

#[test]
fn a_filter_selects_reports_by_name_or_by_file() {
    let engine = Engine::embedded().unwrap();
    let by_file: Vec<&str> = engine
        .kb
        .reports
        .iter()
        .filter(|(file, _)| file.ends_with("held_out.ron"))
        .map(|(_, c)| c.name.as_str())
        .collect();
    assert!(by_file.len() >= 10, "{by_file:?}");
    let held_out = fix_steps::from_cases(&engine, true, Some("held_out.ron"), 1, 1);
    assert_eq!(held_out.overall.runs, by_file.len());
    let names: Vec<&str> = held_out.trails.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, by_file);
    // A name still selects one report, wherever it lives.
    let one = fix_steps::from_cases(&engine, true, Some(by_file[0]), 3, 1);
    assert_eq!(one.overall.runs, 3);
    // kb test --reports selects the same way (two modes per report).
    let runs = rootcause_engine::eval::cases::run_reports(&engine, Some("held_out.ron"));
    assert_eq!(runs.len(), 2 * by_file.len());
}
