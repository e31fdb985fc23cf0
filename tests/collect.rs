//! `rootcause collect` and `diagnose --events/--bundle` end to end.

mod common;

use common::*;
use serde_json::Value;

fn data(rel: &str) -> String {
    root().join("tests/data").join(rel).display().to_string()
}

fn collect_json(args: &[&str]) -> Value {
    let mut all = vec!["collect", "--json"];
    all.extend_from_slice(args);
    let (code, out, err) = run(&all);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("JSON")
}

#[test]
fn events_imply_machinekeys_evidence() {
    let v = collect_json(&["--events", &data("evtx/wevtutil-rdp-0x904.xml")]);
    assert_eq!(v["evidence"]["schannel_36870_seen"], "yes");
    assert_eq!(v["evidence"]["cert_events_1057_1058_seen"], "yes");
    assert_eq!(v["facts"]["events.schannel.36870"], 2.0);
    assert!(
        v["provenance"]["schannel_36870_seen"]
            .as_str()
            .unwrap()
            .contains("event logs:")
    );
    let kinds = v["events"][0]["events"].as_array().unwrap();
    assert!(
        kinds
            .iter()
            .any(|e| e["provider"] == "Schannel" && e["id"] == 36870 && e["count"] == 2)
    );
}

#[test]
fn real_system_log_says_no_36870() {
    let v = collect_json(&["--events", &data("evtx/2-vss_7-System.evtx")]);
    assert_eq!(v["events"][0]["records"], 1160);
    assert_eq!(v["evidence"]["schannel_36870_seen"], "no");
    assert_eq!(v["evidence"]["cert_events_1057_1058_seen"], "no");
}

#[test]
fn a_corrupt_chunk_is_skipped_with_a_warning() {
    let dir = temp_dir("corrupt-evtx");
    let mut bytes = std::fs::read(data("evtx/2-vss_7-System.evtx")).unwrap();
    // Overwrite the magic of the third chunk (file header 4 KiB, chunks 64 KiB).
    let chunk = 4096 + 2 * 65536;
    bytes[chunk..chunk + 8].copy_from_slice(b"garbage!");
    let path = dir.join("damaged.evtx");
    std::fs::write(&path, bytes).unwrap();
    let (code, out, err) = run(&["collect", "--events", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("warning:") && out.contains("chunk"), "{out}");
    let v = collect_json(&["--events", path.to_str().unwrap()]);
    let records = v["events"][0]["records"].as_u64().unwrap();
    assert!(records > 0 && records < 1160, "{records}");
}

#[test]
fn bundle_implies_host_evidence() {
    let v = collect_json(&["--bundle", &data("host/bundle-broken.json")]);
    for (e, want) in [
        ("certificate_expired", "yes"),
        ("rdp_enabled", "no"),
        ("termservice_running", "no"),
        ("machinekeys_acl_ok", "no"),
        ("third_party_security_software", "yes"),
    ] {
        assert_eq!(v["evidence"][e], want, "{e}: {v:#}");
    }
    assert!(
        v["sources"][0]["label"]
            .as_str()
            .unwrap()
            .starts_with("bundle from ")
    );
}

#[test]
fn bad_inputs_are_clear_errors() {
    let (code, _, err) = run(&["collect", "--events", "/nonexistent/file.evtx"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/file.evtx"), "{err}");
    let (code, _, err) = run(&["collect", "--bundle", &data("host/bundle-malformed.json")]);
    assert_eq!(code, 2);
    assert!(err.contains("bundle-malformed.json"), "{err}");
    let (code, _, err) = run(&["collect"]);
    assert_eq!(code, 2);
    assert!(err.contains("nothing to collect"), "{err}");
}

#[test]
fn diagnose_reads_events_and_bundles() {
    let events = data("evtx/wevtutil-rdp-0x904.xml");
    let bundle = data("host/bundle-broken.json");
    let (code, out, err) = run_stdin(
        &["diagnose", "--events", &events, "--bundle", &bundle],
        b":rank\n:quit\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Read event logs:"), "{out}");
    assert!(out.contains("schannel_36870_seen = yes"), "{out}");
    assert!(out.contains("Read bundle from "), "{out}");
    // Interactive commands do the same.
    let input = format!(":events {events}\n:quit\n");
    let (code, out, _) = run_stdin(&["diagnose"], input.as_bytes());
    assert_eq!(code, 0);
    assert!(out.contains("cert_events_1057_1058_seen = yes"), "{out}");
}
