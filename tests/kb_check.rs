//! `rootcause kb check`: valid KBs pass, each broken fixture fails with the
//! right file:line:column and problem, and bad files never panic.

mod common;

use common::*;

#[test]
fn embedded_kb_is_valid() {
    let (code, out, err) = run(&["kb", "check"]);
    assert_eq!(code, 0, "embedded KB invalid:\n{err}");
    assert!(out.contains("<embedded>/rdp-0x904: ok:"), "{out}");
}

#[test]
fn kb_folder_is_valid() {
    let dir = root().join("kb/rdp-0x904");
    let (code, _, err) = run(&["kb", "check", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn mini_fixture_is_valid() {
    let dir = fixture("kb/mini");
    let (code, out, err) = run(&["kb", "check", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ok: 3 causes, 4 evidence, 2 rules, 3 fixes"),
        "{out}"
    );
}

#[test]
fn every_broken_fixture_is_reported_at_its_place() {
    let broken = fixture("kb/broken");
    let mut seen = 0;
    for entry in std::fs::read_dir(&broken).unwrap() {
        let dir = entry.unwrap().path();
        let expect = std::fs::read_to_string(dir.join("expect")).unwrap();
        assert!(
            !expect.trim().is_empty(),
            "{} has no expectations",
            dir.display()
        );
        let (code, out, err) = run(&["kb", "check", dir.to_str().unwrap()]);
        assert_eq!(code, 1, "{}: expected exit 1\n{out}{err}", dir.display());
        assert!(out.contains("invalid:"), "{out}");
        // Each diagnostic starts `error[code]: message` and the next line
        // is ` --> file:line:column`.
        let lines: Vec<&str> = err.lines().collect();
        for want in expect.lines().filter(|l| !l.trim().is_empty()) {
            let (place, code) = want.split_once(' ').unwrap();
            let found = lines.windows(2).any(|w| {
                w[0].starts_with(&format!("error[{code}]"))
                    && w[1].trim_start().starts_with("-->")
                    && w[1].ends_with(&format!("{}/{place}", dir.display()))
            });
            assert!(
                found,
                "{}: no `{code}` at {place} in:\n{err}",
                dir.display()
            );
        }
        seen += 1;
    }
    assert!(seen >= 17, "only {seen} broken fixtures");
}

#[test]
fn json_diagnostics_carry_positions() {
    let dir = fixture("kb/broken/sum");
    let (code, out, _) = run(&["kb", "check", "--json", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    let d: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(d["code"], "sum");
    assert_eq!(d["line"], 25);
    assert_eq!(d["column"], 9);
    assert!(d["file"].as_str().unwrap().ends_with("sum/evidence.ron"));
}

#[test]
fn missing_folder_is_a_clear_error() {
    let (code, _, err) = run(&["kb", "check", "/nonexistent/kb-folder"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot open KB folder /nonexistent/kb-folder"),
        "{err}"
    );
    let (code, _, err) = run(&["diagnose", "--kb", "/nonexistent/kb-folder"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot open KB folder"), "{err}");
}

#[test]
fn a_file_instead_of_a_folder_is_a_clear_error() {
    let file = fixture("kb/mini/kb.ron");
    let (code, _, err) = run(&["kb", "check", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("is not a folder"), "{err}");
}

#[test]
fn unreadable_file_is_a_clear_error() {
    let dir = temp_dir("unreadable");
    copy_dir(&fixture("kb/mini"), &dir);
    std::fs::remove_file(dir.join("causes.ron")).unwrap();
    // A link to nowhere cannot be read, even by root.
    std::os::unix::fs::symlink(dir.join("gone.ron.missing"), dir.join("causes.ron")).unwrap();
    let (code, _, err) = run(&["kb", "check", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot read") && err.contains("causes.ron"),
        "{err}"
    );
}

#[test]
fn missing_required_file_is_named() {
    let dir = temp_dir("missing-file");
    copy_dir(&fixture("kb/mini"), &dir);
    std::fs::remove_file(dir.join("evidence.ron")).unwrap();
    let (code, _, err) = run(&["kb", "check", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("evidence.ron is missing"), "{err}");
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let dir = temp_dir("warnings");
    copy_dir(&fixture("kb/mini"), &dir);
    let fixes = std::fs::read_to_string(dir.join("fixes.ron")).unwrap();
    let line = "        verify: Some((text: \"A page prints and the spooler reports no error\", expect: {\"spooler_error\": \"no\"})),\n";
    assert!(fixes.contains(line));
    let fixes = fixes.replace(line, "");
    std::fs::write(dir.join("fixes.ron"), fixes).unwrap();
    let (code, _, err) = run(&["kb", "check", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning[no_verify]"), "{err}");
    let (code, _, _) = run(&["kb", "check", "--deny-warnings", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
}

/// Each lint fires on a doctored copy of the mini KB, as a warning only.
#[test]
fn lint_warnings() {
    for (name, file, from, to, code) in [
        (
            "certain",
            "evidence.ron",
            r#""no_paper": {"yes": 0.9, "no": 0.1}"#,
            r#""no_paper": {"yes": 1.0, "no": 0.0}"#,
            "certain_likelihood",
        ),
        (
            "uninformative",
            "evidence.ron",
            "    ),\n]",
            r#"    ),
    (id: "tuesday", values: ["yes", "no"], cost: 1, default: {"yes": 0.5, "no": 0.5},
     question: Some((text: "Is it Tuesday?", labels: {"yes": "Yes", "no": "No"}))),
]"#,
            "never_informative",
        ),
        (
            "placeholder",
            "causes.ron",
            r#"title: "The driver is broken""#,
            r#"title: "The driver is broken TODO""#,
            "placeholder",
        ),
        (
            "ellipsis",
            "fixes.ron",
            r#"text: "Put paper in the tray""#,
            r#"text: "Put paper in the tray...""#,
            "placeholder",
        ),
    ] {
        let dir = temp_dir(&format!("lint-{name}"));
        copy_dir(&fixture("kb/mini"), &dir);
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{name}: fixture changed");
        std::fs::write(&path, text.replace(from, to)).unwrap();
        let (code_, _, err) = run(&["kb", "check", dir.to_str().unwrap()]);
        assert_eq!(code_, 0, "{name}: warnings do not fail the check\n{err}");
        assert!(
            err.contains(&format!("warning[{code}]")),
            "{name}: no {code}:\n{err}"
        );
        let (code_, _, _) = run(&["kb", "check", "--deny-warnings", dir.to_str().unwrap()]);
        assert_eq!(code_, 1, "{name}");
    }
}

#[test]
fn the_embedded_kb_has_no_warnings() {
    let (code, _, err) = run(&["kb", "check", "--deny-warnings"]);
    assert_eq!(code, 0, "{err}");
}

/// A pattern whose regex does not compile, one that misses its example and
/// one that matches its counter-example are each reported at their place
/// (the patterns are compiled on several threads first).
#[test]
fn broken_patterns_are_reported() {
    let dir = temp_dir("patterns");
    copy_dir(&root().join("kb/rdp-0x904"), &dir);
    let path = dir.join("patterns.ron");
    let mut doctored = std::fs::read_to_string(&path).unwrap();
    let edits = [
        // A regex that does not compile.
        (
            r##"regex: r#"TcpTestSucceeded\s*:\s*False"#,"##,
            r##"regex: r#"TcpTestSucceeded\s*:\s*(False"#,"##,
        ),
        // An example the regex no longer matches.
        (
            r##"regex: r#"TcpTestSucceeded\s*:\s*True"#,"##,
            r##"regex: r#"TcpTestSucceeded\s*:\s*Yes"#,"##,
        ),
        // A counter-example the regex now matches.
        (
            r##"regex: r#"Listener state:?\s*Listening\b"#,"##,
            r##"regex: r#"Listener state:?\s*(Not )?Listening\b"#,"##,
        ),
    ];
    for (from, to) in edits {
        assert_eq!(doctored.matches(from).count(), 1, "fixture changed: {from}");
        doctored = doctored.replace(from, to);
    }
    std::fs::write(&path, doctored).unwrap();
    let (code, _, err) = run(&["kb", "check", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    for want in ["bad_regex", "example_fails", "counter_example_matches"] {
        assert!(err.contains(want), "no {want}:\n{err}");
    }
    assert!(err.contains("patterns.ron:"), "{err}");
    assert!(err.contains("tcp_test_failed"), "{err}");
    assert!(err.contains("tcp_test_succeeded"), "{err}");
    assert!(err.contains("rdpwrap_listening"), "{err}");
}
