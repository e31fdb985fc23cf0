//! `rootcause scan` against real peers: xrdp started by the tests (valid,
//! expiring, expired, not-yet-valid and missing certificates; security
//! layers tls, negotiate, rdp) and scripted fakes (NLA required, NLA
//! optional, silence, close, HTTP, broken TLS, a misnamed certificate, a
//! lossy endpoint), closed ports, dropped SYNs and unresolvable names.
//!
//! Checked: every finding of the KB's findings.ron on the peer that shows
//! it; every output format read back by a reference parser (the JSON lines
//! validated against docs/scan.schema.json with Python's `jsonschema`, the
//! CSV with Python's `csv`, the Prometheus text with `prometheus_client`);
//! the exit codes; the time a dead range and hostile peers cost; that
//! nothing outside the targets is contacted; bounded memory over 16,384
//! endpoints; Ctrl-C; `--rate`; continuing with `diagnose --from-scan` and
//! the JSON `start` op's `facts`.

mod common;
#[path = "support/peers.rs"]
mod peers;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use peers::*;
use serde_json::{Value as Json, json};

/// Run `rootcause scan ARGS`; exit code, stdout, stderr, wall time.
fn scan(args: &[&str]) -> (i32, String, String, Duration) {
    let start = Instant::now();
    let mut all = vec!["scan"];
    all.extend_from_slice(args);
    let (code, out, err) = run(&all);
    (code, out, err, start.elapsed())
}

fn json_lines(out: &str) -> Vec<Json> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn endpoints(lines: &[Json]) -> BTreeMap<String, Json> {
    lines
        .iter()
        .filter(|l| l["type"] == "endpoint")
        .map(|l| (l["target"].as_str().unwrap_or("").to_string(), l.clone()))
        .collect()
}

fn ids(endpoint: &Json) -> BTreeSet<String> {
    endpoint["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn local(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rootcause-scan-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// A Python with `jsonschema` and `prometheus_client`, or `None` (a
/// failure under CI, which installs them: `.ci/run`).
fn python() -> Option<PathBuf> {
    python_with("jsonschema, prometheus_client")
}

fn formats(py: &Path, args: &[&str]) -> Json {
    let out = Command::new(py)
        .arg(root().join("tests/scan/formats.py"))
        .args(args)
        .output()
        .expect("run formats.py");
    assert!(
        out.status.success(),
        "formats.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("formats.py prints JSON")
}

/// A listener that accepts one connection, selects NLA and completes TLS,
/// then stops listening: the probe's later connects are refused, which is
/// what a path that loses connections looks like.
fn one_shot_nla(cert: Arc<TestCert>) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let t = std::thread::spawn(move || {
        use std::io::Write;
        if let Ok((mut s, _)) = listener.accept() {
            drop(listener);
            let _ = read_request(&mut s);
            let _ = s.write_all(&confirm(2, 2));
            tls_accept(&mut s, &cert);
        }
    });
    (port, t)
}

#[test]
fn every_finding_shows_on_the_peer_that_has_it() {
    if !xrdp_available() {
        return;
    }
    let dir = scratch("findings");
    let expired = make_cert(-395, -30);
    let valid = make_cert(-1, 365);
    let soon = make_cert(-1, 7);
    let future = make_cert(30, 395);
    let x_expired = Xrdp::start("tls", Some(&expired), &dir.join("expired"));
    let x_negotiate = Xrdp::start("negotiate", Some(&valid), &dir.join("negotiate"));
    let x_rdp = Xrdp::start("rdp", Some(&valid), &dir.join("rdp"));
    let x_soon = Xrdp::start("tls", Some(&soon), &dir.join("soon"));
    let x_none = Xrdp::start("tls", None, &dir.join("none"));
    let x_future = Xrdp::start("tls", Some(&future), &dir.join("future"));
    let valid = Arc::new(valid);
    let misnamed = Arc::new(make_cert_for(-1, 365, "other.example", None));
    let nla_required = FakePeer::start(Mode::NlaRequired(valid.clone()));
    let nla_optional = FakePeer::start(Mode::NlaOptional(valid.clone()));
    let silent = FakePeer::start(Mode::Silent);
    let close = FakePeer::start(Mode::Close);
    let http = FakePeer::start(Mode::Garbage);
    let tls_garbage = FakePeer::start(Mode::TlsGarbage);
    let other_name = FakePeer::start(Mode::Rsp(1, Some(misnamed)));
    let (lossy, lossy_thread) = one_shot_nla(valid.clone());
    let dropped = SynDrop::start();
    let closed = free_port();

    let expect: Vec<(String, BTreeSet<String>)> = vec![
        (
            local(x_expired.port),
            set(&[
                "certificate_expired",
                "nla_not_required",
                "certificate_self_signed",
            ]),
        ),
        (
            local(x_negotiate.port),
            set(&[
                "nla_not_required",
                "standard_rdp_accepted",
                "certificate_self_signed",
            ]),
        ),
        (local(x_rdp.port), set(&["standard_rdp_only"])),
        (
            local(x_soon.port),
            set(&[
                "certificate_expires_soon",
                "nla_not_required",
                "certificate_self_signed",
            ]),
        ),
        (local(x_none.port), set(&["certificate_missing"])),
        (
            local(x_future.port),
            set(&[
                "certificate_not_yet_valid",
                "nla_not_required",
                "certificate_self_signed",
            ]),
        ),
        (local(nla_required.port), set(&["certificate_self_signed"])),
        (
            local(nla_optional.port),
            set(&[
                "nla_not_required",
                "standard_rdp_accepted",
                "certificate_self_signed",
            ]),
        ),
        (local(silent.port), set(&["negotiation_dropped"])),
        (local(close.port), set(&["negotiation_dropped"])),
        (local(http.port), set(&["not_rdp"])),
        (
            local(tls_garbage.port),
            set(&["tls_fails", "nla_not_required"]),
        ),
        (
            local(other_name.port),
            set(&[
                "nla_not_required",
                "certificate_self_signed",
                "certificate_name_mismatch",
            ]),
        ),
        (
            local(lossy),
            set(&["lossy_path", "certificate_self_signed"]),
        ),
        (local(dropped.port), set(&["port_filtered"])),
        (local(closed), set(&["port_closed"])),
        (
            "no-such-host.invalid:3389".to_string(),
            set(&["name_unresolved"]),
        ),
        (format!("127.0.0.2:{closed}"), set(&["no_rdp_here"])),
    ];
    let mut args: Vec<String> = expect[..expect.len() - 1]
        .iter()
        .map(|(t, _)| t.clone())
        .collect();
    // The last one comes from a block (127.0.0.2/31: .2 and .3).
    args.extend([
        "127.0.0.2/31".to_string(),
        "--port".into(),
        closed.to_string(),
    ]);
    args.extend(["--timeout", "1", "--format", "json"].map(String::from));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err, took) = scan(&argv);
    assert_eq!(code, 1, "critical findings exit with 1: {err}");
    let lines = json_lines(&out);
    let got = endpoints(&lines);
    assert_eq!(got.len(), expect.len() + 1, "{out}");
    let mut seen = BTreeSet::new();
    for (target, want) in &expect {
        let e = got
            .get(target)
            .unwrap_or_else(|| panic!("{target} missing from {out}"));
        assert_eq!(&ids(e), want, "{target}: {e}");
        seen.extend(ids(e));
    }
    // Every finding of the KB showed on some peer, plus the settings-only ones below.
    let engine = rootcause_engine::Engine::embedded().expect("embedded KB");
    let all: BTreeSet<String> = engine.kb.findings.iter().map(|f| f.id.clone()).collect();
    let ca_only = set(&[
        "certificate_self_signed_ca_expected",
        "certificate_name_mismatch_ca_expected",
    ]);
    assert_eq!(
        all.difference(&seen).cloned().collect::<BTreeSet<_>>(),
        ca_only
    );

    // What a finding names: the KB's cause and fix, or the inferred ones.
    let f = |target: &str, id: &str| -> Json {
        got[target]["findings"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["id"] == id).cloned())
            .unwrap_or(Json::Null)
    };
    let exp = f(&local(x_expired.port), "certificate_expired");
    assert_eq!(exp["severity"], "critical");
    assert_eq!(exp["cause"], "rdp_certificate_invalid");
    assert_eq!(exp["fix"], "regenerate_rdp_certificate");
    assert!(
        exp["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("{:04}-", expired.not_after.0))),
        "{exp}"
    );
    let dropped_f = f(&local(silent.port), "negotiation_dropped");
    assert_eq!(dropped_f["inferred"], true, "{dropped_f}");
    assert!(
        dropped_f["cause"].is_string() && dropped_f["fix"].is_string(),
        "{dropped_f}"
    );
    assert_eq!(got[&local(nla_required.port)]["severity"], "info");
    assert_eq!(got[&local(x_soon.port)]["severity"], "warning");
    // The silent peer cost one answer timeout and nothing more.
    assert!(
        got[&local(silent.port)]["elapsed_ms"]
            .as_f64()
            .is_some_and(|ms| ms < 1_600.0)
    );
    assert!(took < Duration::from_secs(6), "{took:?}");

    // --expect-ca: a self-signed or misnamed certificate is a warning.
    let (_, out, _, _) = scan(&[&local(other_name.port), "--expect-ca", "--format", "json"]);
    let e = endpoints(&json_lines(&out));
    assert_eq!(
        ids(&e[&local(other_name.port)]),
        set(&[
            "nla_not_required",
            "certificate_self_signed_ca_expected",
            "certificate_name_mismatch_ca_expected"
        ])
    );
    // --warn-days moves the threshold: 7 days left is fine at 5.
    let (_, out, _, _) = scan(&[&local(x_soon.port), "--warn-days", "5", "--format", "json"]);
    let e = endpoints(&json_lines(&out));
    assert!(!ids(&e[&local(x_soon.port)]).contains("certificate_expires_soon"));
    let _ = lossy_thread.join();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_format_reads_back_and_exit_codes_follow_fail_on() {
    if !xrdp_available() {
        return;
    }
    let dir = scratch("formats");
    let expired = make_cert(-395, -30);
    let valid = Arc::new(make_cert(-1, 365));
    let x_expired = Xrdp::start("tls", Some(&expired), &dir.join("expired"));
    let nla = FakePeer::start(Mode::NlaRequired(valid.clone()));
    let optional = FakePeer::start(Mode::NlaOptional(valid));
    let closed = free_port();
    let targets = [
        local(x_expired.port),
        local(nla.port),
        local(optional.port),
        local(closed),
    ];
    let t: Vec<&str> = targets.iter().map(String::as_str).collect();
    let with =
        |extra: &[&str]| -> Vec<String> { t.iter().chain(extra).map(|s| s.to_string()).collect() };
    let run_with = |extra: &[&str]| {
        let a = with(extra);
        let argv: Vec<&str> = a.iter().map(String::as_str).collect();
        scan(&argv)
    };

    // JSON lines, validated against the published schema.
    let json_file = dir.join("scan.jsonl");
    let (code, _, err, _) = run_with(&["--format", "json", "-o", json_file.to_str().unwrap_or("")]);
    assert_eq!(code, 1, "{err}");
    let lines = json_lines(&std::fs::read_to_string(&json_file).expect("json written"));
    assert_eq!(lines.len(), 5);
    let summary = lines.last().expect("summary");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["endpoints"], 4);
    assert_eq!(
        summary["severity"],
        json!({"critical": 1, "warning": 2, "info": 1, "ok": 0})
    );
    assert_eq!(summary["exit_code"], 1);
    let py = python();
    if let Some(py) = &py {
        let schema = root().join("docs/scan.schema.json");
        let v = formats(
            py,
            &[
                "json",
                schema.to_str().unwrap_or(""),
                json_file.to_str().unwrap_or(""),
            ],
        );
        assert_eq!(v["lines"], 5);
        assert_eq!(v["errors"], json!([]), "{v}");
        // The validator can fail: a line with a wrong severity is caught.
        let bad = dir.join("bad.jsonl");
        let mut broken = lines[0].clone();
        broken["severity"] = json!("fatal");
        std::fs::write(&bad, format!("{broken}\n")).expect("write");
        let v = formats(
            py,
            &[
                "json",
                schema.to_str().unwrap_or(""),
                bad.to_str().unwrap_or(""),
            ],
        );
        assert_eq!(v["errors"].as_array().map(Vec::len), Some(1), "{v}");
    }

    // CSV: a header and one record per endpoint, quoted where needed.
    let (code, csv, _, _) = run_with(&["--format", "csv"]);
    assert_eq!(code, 1);
    if let Some(py) = &py {
        let f = dir.join("scan.csv");
        std::fs::write(&f, &csv).expect("write csv");
        let v = formats(py, &["csv", f.to_str().unwrap_or("")]);
        let rows = v["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 4);
        let row = rows
            .iter()
            .find(|r| r["target"] == local(x_expired.port).as_str())
            .expect("expired row");
        assert_eq!(row["severity"], "critical");
        assert_eq!(row["status"], "tls, TLSv1_3");
        assert!(
            row["findings"]
                .as_str()
                .is_some_and(|f| f.starts_with("certificate_expired;")),
            "{row}"
        );
        assert!(
            ["-31", "-30"].contains(&row["cert_days_left"].as_str().unwrap_or("")),
            "{row}"
        );
    }

    // Prometheus text for node_exporter's textfile collector.
    let prom = dir.join("rdp.prom");
    let (code, _, _, _) = run_with(&["--format", "prometheus", "-o", prom.to_str().unwrap_or("")]);
    assert_eq!(code, 1);
    if let Some(py) = &py {
        let v = formats(py, &["prometheus", prom.to_str().unwrap_or("")]);
        let samples = v["samples"].as_array().expect("samples");
        let value = |name: &str, target: &str| {
            samples
                .iter()
                .find(|s| s[0] == name && s[1]["target"] == target)
                .and_then(|s| s[2].as_f64())
        };
        for target in &targets {
            let want = if target == &local(closed) { 0.0 } else { 1.0 };
            assert_eq!(
                value("rootcause_rdp_probe_success", target),
                Some(want),
                "{target}"
            );
        }
        let left = value(
            "rootcause_rdp_cert_expires_in_seconds",
            &local(x_expired.port),
        )
        .expect("expiry");
        assert!(
            (-31.0 * 86_400.0..=-29.0 * 86_400.0).contains(&left),
            "{left}"
        );
        assert_eq!(
            value("rootcause_rdp_severity", &local(x_expired.port)),
            Some(3.0)
        );
        assert_eq!(
            value("rootcause_rdp_selected_protocol", &local(nla.port)),
            Some(2.0)
        );
        assert!(samples.iter().any(|s| s[0] == "rootcause_rdp_finding"
            && s[1]["finding"] == "certificate_expired"
            && s[1]["severity"] == "critical"));
        assert!(
            samples
                .iter()
                .any(|s| s[0] == "rootcause_rdp_scan_endpoints" && s[2] == 4.0)
        );
    }

    // Markdown for a ticket: the findings table and each fix's steps once.
    let (_, md, _, _) = run_with(&["--format", "markdown"]);
    assert!(md.starts_with("# RDP scan\n"), "{md}");
    assert!(md.contains("4 endpoints in "), "{md}");
    assert!(
        md.contains(&format!(
            "| critical | `{}` | tls, TLSv1_3 | the RDP certificate has expired",
            local(x_expired.port)
        )),
        "{md}"
    );
    assert!(
        md.contains(
            "### Regenerate the RDP self-signed certificate (`regenerate_rdp_certificate`)"
        ),
        "{md}"
    );
    assert_eq!(md.matches("### ").count(), md.matches("`)\n").count());

    // The table: worst first, the summary line last.
    let (_, table, _, _) = run_with(&["--format", "table"]);
    let first = table.lines().nth(1).unwrap_or("");
    assert!(first.starts_with("critical  "), "{table}");
    assert!(
        table
            .trim_end()
            .ends_with("4 endpoints in 0.0 s: 1 critical, 2 warning, 1 info, 0 ok")
            || table.contains(": 1 critical, 2 warning, 1 info, 0 ok"),
        "{table}"
    );

    // Exit codes: 0 below --fail-on, 1 at or above it, 2 on usage or I/O errors.
    let (code, _, _, _) = scan(&[&local(nla.port), "--format", "json"]);
    assert_eq!(code, 0, "an NLA-required host has only an info finding");
    let (code, _, _, _) = scan(&[
        &local(optional.port),
        "--fail-on",
        "critical",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let (code, _, _, _) = scan(&[&local(optional.port), "--format", "json"]);
    assert_eq!(code, 1);
    let (code, _, _, _) = scan(&[&local(nla.port), "--fail-on", "info", "--format", "json"]);
    assert_eq!(code, 1);
    let (code, _, _, _) = run_with(&["--fail-on", "never", "--format", "json"]);
    assert_eq!(code, 0);
    for (args, says) in [
        (vec!["10.0.0.0/8"], "--allow-large"),
        (vec!["10.0.0.0/33"], "prefix length"),
        (vec!["host:port"], "is not HOST or HOST:PORT"),
        (
            vec!["-i", "/nonexistent/targets.txt"],
            "reading /nonexistent/targets.txt",
        ),
        (vec![], "no targets"),
        (vec!["127.0.0.1", "--timeout", "0"], "--timeout"),
        (vec!["127.0.0.1", "--format", "yaml"], "invalid value"),
        (
            vec!["127.0.0.1", "-o", "/nonexistent/dir/out.json"],
            "writing /nonexistent/dir/out.json",
        ),
    ] {
        let (code, out, err, _) = scan(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // A targets file: comments, blank lines, an error naming its line.
    let list = dir.join("targets.txt");
    std::fs::write(
        &list,
        format!(
            "# lab\n{}\n\n{} # NLA\n",
            local(x_expired.port),
            local(nla.port)
        ),
    )
    .expect("write");
    let (code, out, _, _) = scan(&["-i", list.to_str().unwrap_or(""), "--format", "json"]);
    assert_eq!(code, 1);
    assert_eq!(endpoints(&json_lines(&out)).len(), 2);
    std::fs::write(&list, "127.0.0.1\nnot a target\n").expect("write");
    let (code, _, err, _) = scan(&["-i", list.to_str().unwrap_or("")]);
    assert_eq!(code, 2);
    assert!(err.contains("targets.txt:2: "), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_dead_range_costs_ceil_n_over_concurrency_timeouts() {
    // Bound to 0.0.0.0: SYNs to any loopback address on its port are dropped.
    let dropped = SynDrop::start_on("0.0.0.0");
    let port = dropped.port;
    let (code, out, err, took) = scan(&[
        "127.0.3.0/24",
        "--port",
        &port.to_string(),
        "--timeout",
        "1",
        "--concurrency",
        "64",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "silent addresses of a block are info: {err}");
    let lines = json_lines(&out);
    let eps = endpoints(&lines);
    assert_eq!(eps.len(), 256);
    assert!(
        eps.values().all(|e| e["facts"]["probe.tcp"] == "timeout"),
        "{out}"
    );
    // 256 / 64 = 4 rounds of one 1 s connect timeout.
    assert!(
        took >= Duration::from_millis(3_900) && took < Duration::from_millis(5_500),
        "{took:?}"
    );
}

#[test]
fn hostile_peers_cost_their_own_timeout_and_slow_nobody_else() {
    let hostile: Vec<FakePeer> = [
        Mode::Silent,
        Mode::Silent,
        Mode::Dribble,
        Mode::Rsp(1, None),
        Mode::NeverRead,
        Mode::StallMidPacket,
        Mode::BadLength,
        Mode::Reset,
    ]
    .into_iter()
    .map(FakePeer::start)
    .collect();
    let valid = Arc::new(make_cert(-1, 365));
    let good: Vec<FakePeer> = (0..6)
        .map(|_| FakePeer::start(Mode::NlaRequired(valid.clone())))
        .collect();
    let closed: Vec<u16> = (0..20).map(|_| free_port()).collect();
    let mut targets: Vec<String> = hostile.iter().map(|p| local(p.port)).collect();
    targets.extend(good.iter().map(|p| local(p.port)));
    targets.extend(closed.iter().map(|p| local(*p)));
    let mut args: Vec<&str> = targets.iter().map(String::as_str).collect();
    args.extend(["--timeout", "1", "--concurrency", "16", "--format", "json"]);
    let (_, out, err, took) = scan(&args);
    let eps = endpoints(&json_lines(&out));
    assert_eq!(eps.len(), targets.len(), "{err}");
    for p in &hostile {
        let ms = eps[&local(p.port)]["elapsed_ms"]
            .as_f64()
            .unwrap_or(f64::MAX);
        assert!(
            ms < 3_300.0,
            "a hostile peer took {ms} ms, more than its 3-step budget"
        );
    }
    for t in good
        .iter()
        .map(|p| local(p.port))
        .chain(closed.iter().map(|p| local(*p)))
    {
        let ms = eps[&t]["elapsed_ms"].as_f64().unwrap_or(f64::MAX);
        assert!(ms < 800.0, "{t} took {ms} ms beside hostile peers");
        assert_ne!(eps[&t]["facts"]["probe.tcp"], "timeout");
    }
    assert!(took < Duration::from_millis(4_500), "{took:?}");
}

/// Listens on 0.0.0.0:port and records the local address of every
/// connection it accepts.
struct Recorder {
    port: u16,
    seen: Arc<Mutex<Vec<Ipv4Addr>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("0.0.0.0:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, f) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !f.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        if let Ok(std::net::SocketAddr::V4(a)) = conn.local_addr()
                            && let Ok(mut v) = s.lock()
                        {
                            v.push(*a.ip());
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Recorder {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> BTreeSet<Ipv4Addr> {
        std::thread::sleep(Duration::from_millis(100));
        self.seen
            .lock()
            .map(|v| v.iter().copied().collect())
            .unwrap_or_default()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn nothing_outside_the_targets_is_contacted() {
    let on_port = Recorder::start();
    let other_port = Recorder::start();
    let p = on_port.port.to_string();
    let (_, out, err, _) = scan(&[
        "127.0.5.4/30",
        "127.0.5.9",
        &format!("127.0.5.12:{}", on_port.port),
        "--port",
        &p,
        "--timeout",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(endpoints(&json_lines(&out)).len(), 6, "{err}");
    let want: BTreeSet<Ipv4Addr> = [4, 5, 6, 7, 9, 12]
        .iter()
        .map(|d| Ipv4Addr::new(127, 0, 5, *d))
        .collect();
    assert_eq!(
        on_port.seen(),
        want,
        "every target once at least, nothing else"
    );
    assert!(
        other_port.seen().is_empty(),
        "a port not asked for was contacted"
    );
}

/// Scan `block` on a closed port with JSON lines into a file; returns the
/// lines and the process's peak resident memory in MiB (VmHWM, read from
/// /proc while it runs: a high-water mark, so the last reading is the peak).
fn scan_block_peak_rss(block: &str, dir: &Path) -> (Vec<String>, f64) {
    let closed = free_port().to_string();
    let out_path = dir.join(format!("{}.jsonl", block.replace(['/', '.'], "_")));
    let out = std::fs::File::create(&out_path).expect("out file");
    let mut child = bin()
        .args([
            "scan",
            block,
            "--port",
            &closed,
            "--timeout",
            "1",
            "--format",
            "json",
        ])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0.0f64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&out_path).expect("read");
    (
        text.lines().map(str::to_string).collect(),
        peak_kib / 1024.0,
    )
}

#[test]
fn sixteen_thousand_endpoints_stream_in_bounded_memory() {
    let dir = scratch("memory");
    let (small, small_rss) = scan_block_peak_rss("127.7.0.0/24", &dir);
    assert_eq!(small.len(), 257);
    let start = Instant::now();
    let (lines, rss) = scan_block_peak_rss("127.7.0.0/18", &dir);
    let took = start.elapsed();
    assert_eq!(lines.len(), 16_385, "one line per endpoint and the summary");
    let summary: Json =
        serde_json::from_str(lines.last().map_or("", String::as_str)).expect("summary");
    assert_eq!(summary["endpoints"], 16_384);
    eprintln!(
        "256 endpoints: peak RSS {small_rss:.1} MiB; 16,384 endpoints in {took:?}: {rss:.1} MiB"
    );
    assert!(small_rss > 1.0, "VmHWM was read");
    assert!(
        rss < small_rss + 16.0,
        "64x the endpoints grew memory from {small_rss:.1} to {rss:.1} MiB"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_prints_what_was_found_so_far() {
    let silent: Vec<FakePeer> = (0..8).map(|_| FakePeer::start(Mode::Silent)).collect();
    let closed = free_port();
    let mut args = vec!["scan".to_string(), local(closed)];
    // 8 silent peers three times over, 4 at a time, 5 s each: 30 s if not stopped.
    for _ in 0..3 {
        args.extend(silent.iter().map(|p| local(p.port)));
    }
    args.extend(["--timeout", "5", "--concurrency", "4", "--format", "json"].map(String::from));
    let child = bin()
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(1_000));
    let start = Instant::now();
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        start.elapsed() < Duration::from_millis(1_000),
        "{:?}",
        start.elapsed()
    );
    let lines = json_lines(&String::from_utf8_lossy(&out.stdout));
    let summary = lines.last().expect("summary");
    assert_eq!(summary["interrupted"], true);
    assert_eq!(summary["total"], 25);
    let eps = endpoints(&lines);
    assert_eq!(summary["endpoints"].as_u64(), Some(eps.len() as u64));
    assert!(
        eps.contains_key(&local(closed)),
        "what finished before Ctrl-C is printed"
    );
    assert_eq!(out.status.code(), Some(1), "the closed port was found");
}

#[test]
fn rate_spaces_new_connections() {
    let closed: Vec<String> = (0..30).map(|_| local(free_port())).collect();
    let mut args: Vec<&str> = closed.iter().map(String::as_str).collect();
    args.extend(["--rate", "20", "--format", "json"]);
    let (_, out, _, took) = scan(&args);
    assert_eq!(endpoints(&json_lines(&out)).len(), 30);
    // 30 connections at 20 per second: the last starts 1.45 s after the first.
    assert!(took >= Duration::from_millis(1_400), "{took:?}");
    args.truncate(30);
    args.extend(["--format", "json"]);
    let (_, _, _, fast) = scan(&args);
    assert!(fast < Duration::from_millis(1_000), "{fast:?}");
}

#[test]
fn a_diagnosis_continues_from_a_scan() {
    if !xrdp_available() {
        return;
    }
    let dir = scratch("continue");
    let expired = make_cert(-395, -30);
    let x = Xrdp::start("tls", Some(&expired), &dir.join("expired"));
    let closed = free_port();
    let file = dir.join("scan.jsonl");
    let (code, _, err, _) = scan(&[
        &local(x.port),
        &local(closed),
        "-o",
        file.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 1, "{err}");
    let f = file.to_str().unwrap_or("");
    let (code, out, err) = run_stdin(&["diagnose", "--from-scan", f, &local(x.port)], b"q\n");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("Read scan of {} from", local(x.port))),
        "{out}"
    );
    assert!(out.contains("certificate_expired = yes"), "{out}");
    let top = out
        .lines()
        .skip_while(|l| !l.starts_with("Most likely causes"))
        .nth(1)
        .unwrap_or("");
    assert!(top.contains("[rdp_certificate_invalid]"), "{out}");
    // Several endpoints and no HOST: a clear error naming them.
    let (code, _, err) = run_stdin(&["diagnose", "--from-scan", f], b"q\n");
    assert_eq!(code, 2);
    assert!(err.contains("holds 2 endpoints"), "{err}");
    let (code, _, err) = run_stdin(&["diagnose", "--from-scan", f, "10.9.9.9"], b"q\n");
    assert_eq!(code, 2);
    assert!(err.contains("has no endpoint `10.9.9.9`"), "{err}");

    // The JSON lines mode takes the same facts in `start`.
    let text = std::fs::read_to_string(&file).expect("read");
    let endpoint = json_lines(&text)
        .into_iter()
        .find(|l| l["target"] == local(x.port).as_str())
        .expect("endpoint");
    let req = json!({"op": "start", "view": "compact", "facts": endpoint["facts"], "facts_source": format!("scan of {}", local(x.port))});
    let (code, out, err) = run_stdin(&["json"], format!("{req}\n").as_bytes());
    assert_eq!(code, 0, "{err}");
    let r: Json = serde_json::from_str(out.lines().next().unwrap_or("")).expect("response");
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["ranking"][0]["cause"], "rdp_certificate_invalid", "{r}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn on_a_terminal_a_progress_bar_then_the_table_and_ctrl_c_stops_it() {
    use expectrl::{ControlCode, Eof, Expect, Regex, Session};
    let silent: Vec<FakePeer> = (0..4).map(|_| FakePeer::start(Mode::Silent)).collect();
    let closed = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rootcause"));
    cmd.args(["scan", &local(closed)]);
    for p in &silent {
        cmd.arg(local(p.port));
    }
    cmd.args(["--timeout", "10", "--concurrency", "2"])
        .env("NO_COLOR", "1");
    let mut p = Session::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(Duration::from_secs(8)));
    // The bar on stderr counts the closed port while the silent peers wait.
    p.expect(Regex(r"1/5 endpoints")).expect("a progress bar");
    let start = Instant::now();
    p.send(ControlCode::EndOfText).expect("Ctrl-C");
    let c = p
        .expect(Regex(
            r"1 of 5 endpoints \(interrupted\) in [0-9.]+ s: 0 critical, 1 warning",
        ))
        .expect("the summary line at once");
    assert!(start.elapsed() < Duration::from_secs(2));
    let screen = String::from_utf8_lossy(c.before()).into_owned();
    assert!(
        screen.contains("SEVERITY  ENDPOINT"),
        "the table on a terminal: {screen}"
    );
    assert!(
        screen.contains(&format!("warning   {}", local(closed))),
        "{screen}"
    );
    p.expect(Eof).expect("exit");
}
