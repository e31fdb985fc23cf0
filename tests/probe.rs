//! `rootcause probe rdp` against a real xrdp server (valid, expired,
//! not-yet-valid and missing certificates; security layers rdp, tls,
//! negotiate) and against scripted fake peers. Every case must end within
//! its timeout bound.

mod common;
#[path = "support/peers.rs"]
mod peers;

use std::time::{Duration, Instant};

use common::*;
use peers::*;
use serde_json::Value;

/// Run the probe; returns its JSON and the wall time of the whole process.
fn probe(port: u16, timeout: f64) -> (Value, Duration) {
    let start = Instant::now();
    let (code, out, err) = run(&[
        "probe",
        "rdp",
        &format!("127.0.0.1:{port}"),
        "--json",
        "--timeout",
        &timeout.to_string(),
    ]);
    let took = start.elapsed();
    assert_eq!(code, 0, "{err}");
    (serde_json::from_str(&out).expect("probe JSON"), took)
}

fn ev<'a>(v: &'a Value, id: &str) -> &'a str {
    v["evidence"][id].as_str().unwrap_or("(not set)")
}

fn date(d: (i32, u8, u8)) -> String {
    format!("{:04}-{:02}-{:02}", d.0, d.1, d.2)
}

#[test]
fn xrdp_tls_with_an_expired_certificate() {
    if !xrdp_available() {
        return;
    }
    let cert = make_cert(-395, -30);
    let x = Xrdp::start("tls", Some(&cert), &temp_dir("xrdp-expired"));
    let (v, took) = probe(x.port, 3.0);
    assert_eq!(ev(&v, "port_reachable"), "yes");
    assert_eq!(ev(&v, "rdp_negotiation"), "tls", "{v:#}");
    assert_eq!(ev(&v, "tls_handshake"), "ok");
    assert_eq!(ev(&v, "certificate_expired"), "yes");
    let c = &v["report"]["tls"]["certificate"];
    assert!(
        c["not_after"]
            .as_str()
            .unwrap()
            .starts_with(&date(cert.not_after)),
        "{c:#}"
    );
    assert!(c["days_left"].as_i64().unwrap() < -28);
    assert_eq!(c["self_signed"], true);
    assert_eq!(c["name_matches"], true);
    assert!(
        v["provenance"]["certificate_expired"]
            .as_str()
            .unwrap()
            .contains("probe.cert.not_after")
    );
    // xrdp answers SSL-only with TLS and standard-RDP-only with a failure.
    let masks = v["report"]["other_masks"].as_array().unwrap();
    assert_eq!(masks[0]["outcome"], "rsp");
    assert_eq!(masks[1]["failure_name"], "SSL_REQUIRED_BY_SERVER");
    assert!(took < Duration::from_secs(5));
}

#[test]
fn xrdp_negotiate_with_a_valid_certificate() {
    if !xrdp_available() {
        return;
    }
    let cert = make_cert(-1, 365);
    let x = Xrdp::start("negotiate", Some(&cert), &temp_dir("xrdp-valid"));
    let (v, _) = probe(x.port, 3.0);
    assert_eq!(ev(&v, "rdp_negotiation"), "tls", "{v:#}");
    assert_eq!(ev(&v, "certificate_expired"), "no");
    let c = &v["report"]["tls"]["certificate"];
    assert!(c["days_left"].as_i64().unwrap() >= 363);
    assert_eq!(c["key_type"], "EC");
    assert_eq!(c["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(ev(&v, "packet_loss_or_high_latency"), "no");
}

#[test]
fn xrdp_with_a_certificate_not_yet_valid() {
    if !xrdp_available() {
        return;
    }
    let cert = make_cert(30, 395);
    let x = Xrdp::start("tls", Some(&cert), &temp_dir("xrdp-future"));
    let (v, _) = probe(x.port, 3.0);
    let c = &v["report"]["tls"]["certificate"];
    assert_eq!(c["not_yet_valid"], true, "{c:#}");
    assert_eq!(c["expired"], false);
    assert_eq!(v["facts"]["probe.cert.not_yet_valid"], true);
}

#[test]
fn xrdp_with_a_missing_certificate() {
    if !xrdp_available() {
        return;
    }
    let x = Xrdp::start("tls", None, &temp_dir("xrdp-nocert"));
    let (v, _) = probe(x.port, 3.0);
    assert_eq!(ev(&v, "rdp_negotiation"), "cert_missing", "{v:#}");
    assert_eq!(
        v["report"]["negotiation"]["failure_name"],
        "SSL_CERT_NOT_ON_SERVER"
    );
    assert!(v["report"]["tls"].is_null(), "no TLS without a certificate");
}

#[test]
fn xrdp_with_the_rdp_security_layer() {
    if !xrdp_available() {
        return;
    }
    let cert = make_cert(-1, 365);
    let x = Xrdp::start("rdp", Some(&cert), &temp_dir("xrdp-rdp"));
    let (v, _) = probe(x.port, 3.0);
    assert_eq!(ev(&v, "rdp_negotiation"), "standard_rdp_only", "{v:#}");
    assert_eq!(v["report"]["negotiation"]["selected"], 0);
    assert_eq!(ev(&v, "tls_handshake"), "(not set)");
}

#[test]
fn closed_port_is_unreachable_at_once() {
    let port = free_port();
    let (v, took) = probe(port, 1.0);
    assert_eq!(ev(&v, "port_reachable"), "no");
    assert_eq!(v["facts"]["probe.tcp"], "refused");
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[test]
fn dropped_syns_end_at_the_connect_timeout() {
    let d = SynDrop::start();
    let (v, took) = probe(d.port, 1.0);
    assert_eq!(v["facts"]["probe.tcp"], "timeout", "{v:#}");
    assert_eq!(ev(&v, "port_reachable"), "no");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[test]
fn silent_listener_is_closed_early_within_the_bound() {
    let p = FakePeer::start(Mode::Silent);
    let (v, took) = probe(p.port, 0.5);
    assert_eq!(ev(&v, "rdp_negotiation"), "closed_early", "{v:#}");
    assert_eq!(v["report"]["negotiation"]["outcome"], "timeout");
    assert!(took < Duration::from_secs_f64(0.5 * 5.0 + 1.0), "{took:?}");
}

#[test]
fn nla_required_peer() {
    let p = FakePeer::start(Mode::Failure(5));
    let (v, _) = probe(p.port, 1.0);
    assert_eq!(ev(&v, "rdp_negotiation"), "hybrid_required", "{v:#}");
    assert_eq!(
        v["report"]["negotiation"]["failure_name"],
        "HYBRID_REQUIRED_BY_SERVER"
    );
}

#[test]
fn ssl_not_allowed_peer() {
    let p = FakePeer::start(Mode::Failure(2));
    let (v, _) = probe(p.port, 1.0);
    assert_eq!(ev(&v, "rdp_negotiation"), "standard_rdp_only", "{v:#}");
}

#[test]
fn closing_resetting_and_non_rdp_peers() {
    for (mode, outcome, evidence) in [
        (Mode::Close, "closed", "closed_early"),
        (Mode::Reset, "reset", "closed_early"),
        (Mode::Garbage, "not_rdp", "not_rdp"),
        (Mode::BadLength, "bad_cc", "not_rdp"),
    ] {
        let p = FakePeer::start(mode);
        let (v, took) = probe(p.port, 1.0);
        assert_eq!(v["report"]["negotiation"]["outcome"], outcome, "{v:#}");
        assert_eq!(ev(&v, "rdp_negotiation"), evidence);
        assert!(took < Duration::from_secs(3), "{outcome}: {took:?}");
    }
}

#[test]
fn hostile_peers_never_stall_the_probe() {
    // A 64 KiB TPKT dribbled byte by byte is refused on its header alone;
    // a peer that accepts and never reads runs into the answer timeout.
    for (mode, outcome, evidence) in [
        (Mode::Dribble, "bad_cc", "not_rdp"),
        (Mode::NeverRead, "timeout", "closed_early"),
    ] {
        let p = FakePeer::start(mode);
        let (v, took) = probe(p.port, 0.5);
        assert_eq!(v["report"]["negotiation"]["outcome"], outcome, "{v:#}");
        assert_eq!(ev(&v, "rdp_negotiation"), evidence);
        assert!(took < Duration::from_secs_f64(0.5 * 5.0 + 1.0), "{took:?}");
    }
}

#[test]
fn a_peer_stalling_mid_packet_ends_at_the_timeout() {
    let p = FakePeer::start(Mode::StallMidPacket);
    let (v, took) = probe(p.port, 0.5);
    assert_eq!(v["report"]["negotiation"]["outcome"], "timeout", "{v:#}");
    assert_eq!(ev(&v, "rdp_negotiation"), "closed_early");
    assert!(took < Duration::from_secs_f64(0.5 * 5.0 + 1.0), "{took:?}");
}

#[test]
fn tls_garbage_fails_the_handshake() {
    let p = FakePeer::start(Mode::TlsGarbage);
    let (v, took) = probe(p.port, 1.0);
    assert_eq!(ev(&v, "rdp_negotiation"), "tls");
    assert_eq!(ev(&v, "tls_handshake"), "fails", "{v:#}");
    assert_eq!(v["report"]["tls"]["outcome"], "fails");
    assert!(
        v["report"]["tls"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn tls_stall_fails_the_handshake_within_the_bound() {
    let p = FakePeer::start(Mode::Rsp(1, None));
    let (v, took) = probe(p.port, 0.5);
    assert_eq!(ev(&v, "rdp_negotiation"), "tls");
    assert_eq!(ev(&v, "tls_handshake"), "fails");
    assert_eq!(v["report"]["tls"]["outcome"], "timeout", "{v:#}");
    assert!(took < Duration::from_secs_f64(0.5 * 5.0 + 1.0), "{took:?}");
}

#[test]
fn nla_server_with_an_expired_certificate() {
    let cert = std::sync::Arc::new(make_cert(-100, -2));
    let p = FakePeer::start(Mode::Rsp(2, Some(cert)));
    let (v, _) = probe(p.port, 1.0);
    assert_eq!(ev(&v, "rdp_negotiation"), "nla", "{v:#}");
    assert_eq!(ev(&v, "tls_handshake"), "ok");
    assert_eq!(ev(&v, "certificate_expired"), "yes");
}

#[test]
fn bad_targets_are_usage_errors() {
    for t in ["", "host:notaport", "[::1", "a b:3389"] {
        let (code, _, err) = run(&["probe", "rdp", t]);
        assert_eq!(code, 2, "{t}: {err}");
    }
    let (code, _, err) = run(&["probe", "rdp", "127.0.0.1", "--timeout", "0"]);
    assert_eq!(code, 2, "{err}");
}

/// Questions until the conclusion when every answer is "I don't know".
fn questions_asked(extra: &[&str]) -> (usize, String) {
    let mut args = vec!["diagnose"];
    args.extend_from_slice(extra);
    let input = "?\n".repeat(60) + ":quit\n";
    let (code, out, err) = run_stdin(&args, input.as_bytes());
    assert_eq!(code, 0, "{err}");
    let asked = out.lines().filter(|l| l.starts_with("answer> ?")).count();
    (asked, out)
}

#[test]
fn diagnose_with_the_probe_asks_less_and_finds_the_certificate() {
    if !xrdp_available() {
        return;
    }
    let cert = make_cert(-395, -30);
    let x = Xrdp::start("tls", Some(&cert), &temp_dir("xrdp-diagnose"));
    let target = format!("127.0.0.1:{}", x.port);
    let (with, out) = questions_asked(&["--probe", &target, "--observe", "host_os=windows_server"]);
    let (without, _) = questions_asked(&["--observe", "host_os=windows_server"]);
    assert!(
        with < without,
        "with the probe {with} questions, without {without}"
    );
    assert!(out.contains("certificate_expired = yes"), "{out}");
    let conclusion = &out[out.find("=== Conclusion ===").expect("a conclusion")..];
    assert!(
        conclusion.contains("Most likely: ") && conclusion.contains("[rdp_certificate_invalid]"),
        "{conclusion}"
    );
}

/// JSON mode runs the probe only for hosts the operator allowed.
#[test]
fn json_mode_probes_only_allowed_hosts() {
    let p = FakePeer::start(Mode::Failure(5));
    let req = |target: &str| {
        format!(
            r#"{{"op":"collect","id":1,"collector":"rdp_probe","target":"{target}","timeout":1}}"#
        )
    };
    let ours = format!("127.0.0.1:{}", p.port);
    let input = format!(
        "{}\n{}\n{}\n",
        req(&ours),
        req("10.1.2.3:3389"),
        r#"{"op":"collect","collector":"event_logs"}"#
    );
    let (code, out, err) = run_stdin(&["json", "--allow-probe", "127.0.0.1"], input.as_bytes());
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["ok"], true, "{:#}", lines[0]);
    assert_eq!(
        lines[0]["collected"]["collector"],
        format!("probe of {ours}")
    );
    let obs = lines[0]["state"]["observations"].as_array().unwrap();
    assert!(
        obs.iter()
            .any(|o| o["evidence"] == "rdp_negotiation" && o["value"] == "hybrid_required")
    );
    assert_eq!(lines[1]["error"]["code"], "not_allowed");
    assert!(
        lines[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10.1.2.3")
    );
    assert_eq!(lines[2]["error"]["code"], "not_allowed");
    // Without --allow-probe nothing is collected.
    let (_, out, _) = run_stdin(&["json"], format!("{}\n", req(&ours)).as_bytes());
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["error"]["code"], "not_allowed");
}

/// `start` with `target` probes the host before the first question, only
/// when the operator allowed it.
#[test]
fn json_start_with_target_probes_first() {
    let p = FakePeer::start(Mode::Failure(5));
    let ours = format!("127.0.0.1:{}", p.port);
    let start = format!(r#"{{"op":"start","id":1,"target":"{ours}","timeout":1}}"#);
    let (code, out, err) = run_stdin(
        &["json", "--allow-probe", "127.0.0.1"],
        format!("{start}\n{}\n", r#"{"op":"start","target":"10.1.2.3"}"#).as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["ok"], true, "{:#}", lines[0]);
    assert_eq!(
        lines[0]["collected"]["collector"],
        format!("probe of {ours}")
    );
    let obs = lines[0]["state"]["observations"].as_array().unwrap();
    assert!(obs.iter().any(|o| o["evidence"] == "rdp_negotiation"));
    assert_eq!(lines[1]["error"]["code"], "not_allowed");
    let (_, out, _) = run_stdin(&["json"], format!("{start}\n").as_bytes());
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["error"]["code"], "not_allowed");
}
