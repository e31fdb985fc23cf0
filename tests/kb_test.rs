//! `rootcause kb test`: the embedded KB's cases, their coverage, and what a
//! broken likelihood does to them.

mod common;

use std::collections::BTreeMap;

use common::*;

#[test]
fn every_cause_is_covered_by_at_least_two_cases() {
    let (code, out, err) = run(&["kb", "test", "--json"]);
    assert_eq!(code, 0, "{err}");
    let runs: Vec<serde_json::Value> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let cases = runs.iter().filter(|r| r["mode"] == "batch").count();
    assert!(cases >= 30, "only {cases} cases");
    assert_eq!(
        runs.len(),
        cases * 2,
        "every case runs in batch and interactive mode"
    );
    // Count the expected top causes from the case files themselves.
    let mut per_cause: BTreeMap<String, usize> = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("kb/rdp-0x904/cases")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for part in text.split("top: Some(\"").skip(1) {
            let cause = part.split('"').next().unwrap();
            *per_cause.entry(cause.to_string()).or_default() += 1;
        }
        for part in text.split("any_of: [").skip(1) {
            let list = part.split(']').next().unwrap();
            for cause in list.split('"').skip(1).step_by(2) {
                *per_cause.entry(cause.to_string()).or_default() += 1;
            }
        }
    }
    let (_, export, _) = run(&["kb", "export", "--format", "json"]);
    let model: serde_json::Value = serde_json::from_str(&export).unwrap();
    for c in model["causes"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        if id == "other" {
            continue;
        }
        let n = per_cause.get(id).copied().unwrap_or(0);
        assert!(n >= 2, "cause {id} is expected by only {n} case(s)");
    }
    assert!(
        out.trim_end()
            .ends_with(&format!("{} passed, 0 failed", runs.len()))
    );
}

#[test]
fn a_broken_likelihood_fails_the_relevant_cases_readably() {
    let dir = temp_dir("broken-likelihood");
    copy_dir(&root().join("kb/rdp-0x904"), &dir);
    let path = dir.join("evidence.ron");
    let text = std::fs::read_to_string(&path).unwrap();
    // Schannel 36870 now says the opposite about MachineKeys corruption.
    let good = r#""machinekeys_corruption": {"yes": 0.88, "no": 0.12},"#;
    let start = text.find("id: \"schannel_36870_seen\"").unwrap();
    let at = start
        + text[start..]
            .find(good)
            .expect("the 36870 likelihood of machinekeys_corruption");
    let broken = format!(
        "{}{}{}",
        &text[..at],
        r#""machinekeys_corruption": {"yes": 0.01, "no": 0.99},"#,
        &text[at + good.len()..]
    );
    std::fs::write(&path, broken).unwrap();
    let (code, _, err) = run(&["kb", "check", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "the broken KB is still well-formed:\n{err}");
    let (code, out, _) = run(&["kb", "test", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    let fails: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert!(!fails.is_empty());
    for f in &fails {
        // FAIL name [mode] (file): what was expected; got the ranking
        assert!(
            f.contains(": expected ") && f.contains("; got "),
            "unreadable: {f}"
        );
    }
    assert!(
        fails.iter().any(|f| f.contains("machinekeys")
            && (f.contains("expected `machinekeys_corruption` first")
                || f.contains("expected P(machinekeys_corruption) >="))),
        "{out}"
    );
    let last = out.trim_end().lines().last().unwrap();
    assert!(last.ends_with(&format!("{} failed", fails.len())), "{last}");
}

#[test]
fn bench_fix_steps_reports_every_kind_of_user() {
    let (code, out, err) = run(&[
        "bench",
        "fix-steps",
        "--cases",
        "200",
        "--repeats",
        "2",
        "--filter",
        "held_out_3",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    // Eleven reports, twice each; the same 200 users with and without the probe.
    assert_eq!(v["cases"]["overall"]["runs"], 22, "{v}");
    assert_eq!(v["simulated"]["overall"]["runs"], 200);
    assert_eq!(v["simulated_probed"]["overall"]["runs"], 200);
    for k in ["informed", "oracle"] {
        let f = v[k]["fixed_within_5"].as_f64().expect(k);
        assert!((0.0..=1.0).contains(&f), "{k}: {f}");
    }
    let (code, out, _) = run(&["bench", "fix-steps", "--cases", "50", "--repeats", "1"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("| simulated, host named (the probe first) | 50 |"),
        "{out}"
    );
}
