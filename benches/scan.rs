//! `rootcause scan` over 1,000 loopback endpoints, and nmap's
//! `rdp-enum-encryption` + `ssl-cert` over the same set when nmap is
//! installed (`cargo bench --bench scan`). Figures: docs/performance.md.
//!
//! The set: 6 real xrdp servers (TLS with a valid, an expired, a missing
//! and a not-yet-valid certificate; Negotiate; standard RDP), 74 scripted
//! peers (NLA required, NLA optional, silent, closing, resetting, HTTP,
//! broken TLS, dribbling, stalled TLS, a stalled Confirm) and 920 closed
//! ports, all on 127.0.0.1. For every real or scripted peer the bench
//! prints what each tool says beside the truth. nmap takes about 20
//! minutes here (a minute per silent peer); `ROOTCAUSE_BENCH_NMAP=0` skips it.

#[path = "../tests/support/peers.rs"]
mod peers;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use peers::*;
use serde_json::Value as Json;

const BIN: &str = env!("CARGO_BIN_EXE_rootcause");

/// One kind of peer: what it is, the findings rootcause should report,
/// and which security layers it really accepts (None: not an RDP server
/// that answers the negotiation).
struct Kind {
    name: &'static str,
    findings: &'static [&'static str],
    layers: Option<&'static [&'static str]>,
    /// What a certificate check should say (None: no certificate to read).
    cert: Option<&'static str>,
    ports: Vec<u16>,
}

fn kind(
    name: &'static str,
    findings: &'static [&'static str],
    layers: Option<&'static [&'static str]>,
    cert: Option<&'static str>,
    ports: Vec<u16>,
) -> Kind {
    Kind {
        name,
        findings,
        layers,
        cert,
        ports,
    }
}

/// What nmap printed for one port: its state and script lines.
fn nmap_ports(text: &str) -> BTreeMap<u16, (String, Vec<String>)> {
    let mut out: BTreeMap<u16, (String, Vec<String>)> = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        if let Some((port, rest)) = line.split_once("/tcp")
            && let Ok(p) = port.trim().parse::<u16>()
        {
            let state = rest.split_whitespace().next().unwrap_or("").to_string();
            out.insert(p, (state, Vec::new()));
            current = Some(p);
            continue;
        }
        if line.starts_with('|') {
            if let Some(e) = current.and_then(|p| out.get_mut(&p)) {
                e.1.push(line.trim_start_matches(['|', '_', ' ']).to_string());
            }
        } else {
            current = None;
        }
    }
    out
}

/// nmap's verdict on a peer: right, wrong, silent or error, with a word why.
fn judge_nmap(k: &Kind, lines: &[String]) -> String {
    let text = lines.join(" / ");
    if text.contains("ERROR") {
        return "error (script failed)".into();
    }
    let mut verdicts = Vec::new();
    if let Some(truth) = k.layers {
        let said: BTreeSet<&str> = [
            ("Native RDP: SUCCESS", "rdp"),
            ("SSL: SUCCESS", "tls"),
            ("CredSSP (NLA): SUCCESS", "nla"),
        ]
        .iter()
        .filter(|(needle, _)| text.contains(needle))
        .map(|(_, l)| *l)
        .collect();
        let truth: BTreeSet<&str> = truth.iter().copied().collect();
        verdicts.push(if said.is_empty() {
            "layers: silent".to_string()
        } else if said == truth {
            "layers: right".to_string()
        } else {
            format!("layers: wrong ({said:?}, truth {truth:?})")
        });
    } else if !text.is_empty() {
        verdicts.push(format!(
            "says {}",
            text.chars().take(60).collect::<String>()
        ));
    } else {
        verdicts.push("silent".into());
    }
    if k.cert.is_some() {
        verdicts.push(if text.contains("Not valid after") {
            "certificate: shown".into()
        } else {
            "certificate: silent".into()
        });
    }
    verdicts.join(", ")
}

fn main() {
    let dir = std::env::temp_dir().join(format!("rootcause-bench-scan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let valid_cert = make_cert(-1, 365);
    let x = |layer: &str, cert: Option<&TestCert>, name: &str| {
        Xrdp::start(layer, cert, &dir.join(name))
    };
    let servers = [
        x("tls", Some(&valid_cert), "valid"),
        x("tls", Some(&make_cert(-395, -30)), "expired"),
        x("tls", None, "missing"),
        x("tls", Some(&make_cert(30, 395)), "future"),
        x("negotiate", Some(&valid_cert), "negotiate"),
        x("rdp", Some(&valid_cert), "rdp"),
    ];
    let valid = Arc::new(valid_cert);
    let mut fakes = Vec::new();
    let mut start = |mode: Mode, n: usize| -> Vec<u16> {
        (0..n)
            .map(|_| {
                let p = FakePeer::start(mode.clone());
                let port = p.port;
                fakes.push(p);
                port
            })
            .collect()
    };
    let tls_self = &["nla_not_required", "certificate_self_signed"];
    let kinds = vec![
        kind(
            "xrdp TLS, valid certificate",
            tls_self,
            Some(&["tls"]),
            Some("valid"),
            vec![servers[0].port],
        ),
        kind(
            "xrdp TLS, expired certificate",
            &[
                "certificate_expired",
                "nla_not_required",
                "certificate_self_signed",
            ],
            Some(&["tls"]),
            Some("expired"),
            vec![servers[1].port],
        ),
        kind(
            "xrdp TLS, no certificate",
            &["certificate_missing"],
            Some(&[]),
            Some("missing"),
            vec![servers[2].port],
        ),
        kind(
            "xrdp TLS, not yet valid",
            &[
                "certificate_not_yet_valid",
                "nla_not_required",
                "certificate_self_signed",
            ],
            Some(&["tls"]),
            Some("not yet valid"),
            vec![servers[3].port],
        ),
        kind(
            "xrdp Negotiate",
            &[
                "nla_not_required",
                "standard_rdp_accepted",
                "certificate_self_signed",
            ],
            Some(&["rdp", "tls"]),
            Some("valid"),
            vec![servers[4].port],
        ),
        kind(
            "xrdp standard RDP",
            &["standard_rdp_only"],
            Some(&["rdp"]),
            None,
            vec![servers[5].port],
        ),
        kind(
            "NLA required (scripted)",
            &["certificate_self_signed"],
            Some(&["nla"]),
            Some("valid"),
            start(Mode::NlaRequired(valid.clone()), 5),
        ),
        kind(
            "NLA optional (scripted)",
            &[
                "nla_not_required",
                "standard_rdp_accepted",
                "certificate_self_signed",
            ],
            Some(&["rdp", "tls", "nla"]),
            Some("valid"),
            start(Mode::NlaOptional(valid.clone()), 5),
        ),
        kind(
            "silent after TCP",
            &["negotiation_dropped"],
            None,
            None,
            start(Mode::Silent, 20),
        ),
        kind(
            "closes after the request",
            &["negotiation_dropped"],
            None,
            None,
            start(Mode::Close, 10),
        ),
        kind(
            "resets after the request",
            &["negotiation_dropped"],
            None,
            None,
            start(Mode::Reset, 5),
        ),
        kind(
            "HTTP server",
            &["not_rdp"],
            None,
            None,
            start(Mode::Garbage, 10),
        ),
        kind(
            "TLS selected, then garbage",
            &["tls_fails", "nla_not_required"],
            None,
            None,
            start(Mode::TlsGarbage, 5),
        ),
        kind(
            "64 KiB TPKT dribbled",
            &["not_rdp"],
            None,
            None,
            start(Mode::Dribble, 5),
        ),
        kind(
            "TLS selected, then stalls",
            &["tls_fails", "nla_not_required"],
            None,
            None,
            start(Mode::Rsp(1, None), 5),
        ),
        kind(
            "Confirm stalls mid-packet",
            &["negotiation_dropped"],
            None,
            None,
            start(Mode::StallMidPacket, 4),
        ),
    ];
    let mut ports: Vec<u16> = kinds.iter().flat_map(|k| k.ports.clone()).collect();
    let peers = ports.len();
    while ports.len() < 1000 {
        let p = free_port();
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    let list = ports
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");

    // rootcause: three runs, the median, the last one's answers.
    let mut times = Vec::new();
    let mut out = String::new();
    for _ in 0..3 {
        let t = Instant::now();
        let o = Command::new(BIN)
            .args(["scan", "127.0.0.1", "--port", &list, "--format", "json"])
            .output()
            .expect("run rootcause scan");
        times.push(t.elapsed());
        out = String::from_utf8_lossy(&o.stdout).into_owned();
    }
    times.sort();
    let ours = times[1];
    let lines: Vec<Json> = out
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let by_port: BTreeMap<u16, &Json> = lines
        .iter()
        .filter(|l| l["type"] == "endpoint")
        .filter_map(|l| Some((l["port"].as_u64()? as u16, l)))
        .collect();
    println!(
        "rootcause scan: 1000 endpoints ({peers} peers, {} closed ports), default settings (--timeout 3, concurrency {}): median {:.2} s of 3 runs ({:.2}, {:.2}, {:.2})",
        1000 - peers,
        rootcause_engine::collect::scan::default_concurrency(),
        ours.as_secs_f64(),
        times[0].as_secs_f64(),
        times[1].as_secs_f64(),
        times[2].as_secs_f64()
    );

    // nmap, when installed.
    let t = Instant::now();
    Command::new(BIN)
        .args([
            "scan",
            "127.0.0.1",
            "--port",
            &list,
            "--format",
            "json",
            "--timeout",
            "1",
        ])
        .output()
        .expect("run rootcause scan");
    println!(
        "rootcause scan --timeout 1: {:.2} s",
        t.elapsed().as_secs_f64()
    );

    // Not with ROOTCAUSE_BENCH_NMAP=0: nmap takes about 20 minutes here.
    let nmap = Command::new("nmap")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .filter(|_| std::env::var("ROOTCAUSE_BENCH_NMAP").as_deref() != Ok("0"));
    let mut nmap_text = String::new();
    let mut nmap_time = None;
    if nmap.is_some() {
        let t = Instant::now();
        let o = Command::new("nmap")
            .args([
                "-Pn",
                "-n",
                "-p",
                &list,
                "--script",
                "+rdp-enum-encryption,+ssl-cert",
                "127.0.0.1",
            ])
            .output()
            .expect("run nmap");
        nmap_time = Some(t.elapsed());
        nmap_text = String::from_utf8_lossy(&o.stdout).into_owned();
        println!(
            "nmap -Pn -n -p <same 1000 ports> --script +rdp-enum-encryption,+ssl-cert: {:.2} s ({:.0}x slower)",
            t.elapsed().as_secs_f64(),
            t.elapsed().as_secs_f64() / ours.as_secs_f64()
        );
    } else {
        println!("nmap: not installed (apt-get install nmap) or skipped (ROOTCAUSE_BENCH_NMAP=0)");
    }
    let nmap_by_port = nmap_ports(&nmap_text);

    println!("\n| peer | n | rootcause: findings right | nmap |");
    println!("|---|---|---|---|");
    let mut right = 0;
    for k in &kinds {
        let want: BTreeSet<String> = k.findings.iter().map(|s| s.to_string()).collect();
        let ok = k
            .ports
            .iter()
            .filter(|p| {
                by_port.get(p).is_some_and(|e| {
                    let got: BTreeSet<String> = e["findings"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|f| f["id"].as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    got == want
                })
            })
            .count();
        right += ok;
        let nmap_says = match (nmap_time, k.ports.first().and_then(|p| nmap_by_port.get(p))) {
            (None, _) => "-".to_string(),
            (Some(_), None) => "silent".to_string(),
            (Some(_), Some((_, lines))) => judge_nmap(k, lines),
        };
        println!(
            "| {} | {} | {ok}/{} (`{}`) | {nmap_says} |",
            k.name,
            k.ports.len(),
            k.ports.len(),
            k.findings.join("`, `")
        );
    }
    let closed_right = ports[peers..]
        .iter()
        .filter(|p| {
            by_port
                .get(p)
                .is_some_and(|e| e["facts"]["probe.tcp"] == "refused")
        })
        .count();
    println!(
        "| closed port | {} | {closed_right}/{} (`port_closed`) | {} |",
        1000 - peers,
        1000 - peers,
        if nmap_time.is_some() {
            "closed (right)"
        } else {
            "-"
        }
    );
    println!(
        "\nrootcause right on {right}/{peers} peers and {closed_right}/{} closed ports",
        1000 - peers
    );
    drop(fakes);
    drop(servers);
    let _ = std::fs::remove_dir_all(&dir);
}
