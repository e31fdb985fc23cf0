//! Every resource limit yields a clear error, never a crash or a hang.

mod common;

use common::*;

fn mini_copy(name: &str) -> std::path::PathBuf {
    let dir = temp_dir(name);
    copy_dir(&fixture("kb/mini"), &dir);
    dir
}

#[test]
fn an_oversized_kb_file_is_refused() {
    let dir = mini_copy("limit-size");
    let mut text = std::fs::read_to_string(dir.join("causes.ron")).unwrap();
    text.push_str(&format!("// {}\n", "x".repeat(5 * 1024 * 1024)));
    std::fs::write(dir.join("causes.ron"), text).unwrap();
    let (code, _, err) = run(&["kb", "check", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("KB files are limited to 4194304"), "{err}");
}

#[test]
fn deep_nesting_is_refused_with_its_position() {
    let dir = mini_copy("limit-depth");
    let deep = format!("[{}{}]", "[".repeat(100), "]".repeat(100));
    std::fs::write(dir.join("rules.ron"), deep).unwrap();
    let (code, _, err) = run(&["kb", "check", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("error[too_deep]: nesting deeper than 64 levels"),
        "{err}"
    );
    assert!(err.contains("rules.ron:1:65"), "{err}");
}

#[test]
fn an_oversized_regex_is_refused() {
    let dir = mini_copy("limit-regex");
    let rules = std::fs::read_to_string(dir.join("rules.ron")).unwrap();
    let long = format!("(a|b){{1,{}}}", 100_000);
    let rules = rules.replace(
        r#"Matches("spool.status", "(?i)error")"#,
        &format!(r#"Matches("spool.status", "{long}")"#),
    );
    std::fs::write(dir.join("rules.ron"), rules).unwrap();
    let (code, _, err) = run(&["kb", "check", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("error[regex]"), "{err}");
    let huge = "a".repeat(2000);
    let rules = std::fs::read_to_string(fixture("kb/mini/rules.ron"))
        .unwrap()
        .replace(
            r#"Matches("spool.status", "(?i)error")"#,
            &format!(r#"Matches("spool.status", "{huge}")"#),
        );
    std::fs::write(dir.join("rules.ron"), rules).unwrap();
    let (_, _, err) = run(&["kb", "check", dir.to_str().unwrap()]);
    assert!(err.contains("regex longer than 1000 characters"), "{err}");
}

#[test]
fn a_state_with_too_many_observations_is_refused() {
    let obs: Vec<serde_json::Value> = (0..10_001)
        .map(|i| serde_json::json!({"evidence": format!("e{i}"), "value": "yes", "source": {"kind": "user"}}))
        .collect();
    let req = serde_json::json!({"op": "state", "state": {"kb": "rdp-0x904", "kb_version": "1.0.0", "observations": obs}});
    let input = format!("{req}\n{{\"op\":\"kb\"}}\n");
    let (code, out, _) = run_stdin(&["json"], input.as_bytes());
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["error"]["code"], "too_large", "{}", lines[0]);
    assert_eq!(lines[1]["ok"], true, "the process still answers");
}

#[test]
fn an_oversized_request_is_refused_and_skipped() {
    let big = format!(
        "{{\"op\":\"state\",\"pad\":\"{}\"}}\n{{\"op\":\"kb\"}}\n",
        "x".repeat(3 << 20)
    );
    let (code, out, _) = run_stdin(&["json"], big.as_bytes());
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].contains("\"too_large\""));
    assert!(lines[1].contains("\"ok\":true"));
}
