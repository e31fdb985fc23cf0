//! The probe's configuration from command-line values and its human
//! output: used by `probe rdp` and `diagnose --probe`.

use std::time::Duration;

use anyhow::{Result, anyhow};
use rootcause_engine::collect::rdp_probe::x224;
use rootcause_engine::collect::rdp_probe::{self, Report};

use crate::shared::evidence::{self, Inferred};

/// Parse the target and timeout into a probe configuration.
pub fn config(target: &str, timeout_secs: f64) -> Result<rdp_probe::Config> {
    if !(timeout_secs.is_finite() && (0.05..=120.0).contains(&timeout_secs)) {
        return Err(anyhow!("--timeout must be between 0.05 and 120 seconds"));
    }
    let (host, port) = rdp_probe::parse_target(target)?;
    Ok(rdp_probe::Config::new(
        &host,
        port,
        Duration::from_secs_f64(timeout_secs),
    ))
}

fn describe(n: &rdp_probe::Negotiation) -> String {
    let what = match n.outcome.as_str() {
        "rsp" => format!(
            "RDP_NEG_RSP selected {} (flags {:#04x})",
            n.selected_names.as_deref().unwrap_or("?"),
            n.flags.unwrap_or(0)
        ),
        "failure" => format!(
            "RDP_NEG_FAILURE {} {}",
            n.failure_code.unwrap_or(0),
            n.failure_name.as_deref().unwrap_or("")
        ),
        "cc" => "Connection Confirm without negotiation data (legacy server)".into(),
        "rejected" => "an X.224 Data/Disconnect instead of a Connection Confirm".into(),
        "closed" => "closed without an answer".into(),
        "reset" => "reset without an answer".into(),
        "timeout" => "no answer before the timeout".into(),
        "not_rdp" => format!("not an RDP answer (first bytes {})", n.received_hex),
        "bad_cc" => format!(
            "malformed Connection Confirm ({})",
            n.detail.as_deref().unwrap_or("")
        ),
        other => format!("TCP connect {other}"),
    };
    format!("{what}, {:.1} ms", n.ms)
}

pub fn print_human(report: &Report, evidence: &[Inferred]) {
    let addr = report.address.as_deref().unwrap_or("unresolved");
    println!(
        "RDP probe of {} ({addr}), {:.1} ms",
        report.target, report.elapsed_ms
    );
    match report.tcp.as_str() {
        "ok" => println!("  TCP connect: ok"),
        other => println!(
            "  TCP connect: {other}{}",
            report
                .tcp_error
                .as_deref()
                .map_or(String::new(), |e| format!(" ({e})"))
        ),
    }
    if let Some(n) = report.negotiation.as_ref().filter(|_| report.tcp == "ok") {
        println!("  X.224, requested {}: {}", n.requested_names, describe(n));
    }
    if let Some(t) = &report.tls {
        match t.outcome.as_str() {
            "ok" => println!(
                "  TLS: ok, {} {}, {:.1} ms",
                t.version.as_deref().unwrap_or("?"),
                t.cipher.as_deref().unwrap_or("?"),
                t.ms
            ),
            other => println!("  TLS: {other}: {}", t.error.as_deref().unwrap_or("")),
        }
        if let Some(c) = &t.certificate {
            let state = if c.expired {
                format!("EXPIRED {} days ago", -c.days_left)
            } else if c.not_yet_valid {
                "NOT YET VALID".to_string()
            } else {
                format!("valid, {} days left", c.days_left)
            };
            println!("  Certificate: {}", c.subject);
            println!(
                "    issuer {}{}",
                c.issuer,
                if c.self_signed { " (self-signed)" } else { "" }
            );
            println!(
                "    valid from {} to {}: {state}",
                c.not_before, c.not_after
            );
            println!(
                "    names: {} ({})",
                if c.subject_alt_names.is_empty() {
                    "none".into()
                } else {
                    c.subject_alt_names.join(", ")
                },
                if c.name_matches {
                    "matches the probed name"
                } else {
                    "does NOT match the probed name"
                }
            );
            println!(
                "    key {} {} bits, signature {}, SHA-256 {}",
                c.key_type, c.key_bits, c.signature_algorithm, c.sha256
            );
        }
    }
    for n in &report.other_masks {
        println!(
            "  Requested {} only: {}",
            x224::protocol_name(n.requested),
            describe(n)
        );
    }
    if let Some(l) = &report.latency {
        match l.median_ms {
            Some(m) => println!(
                "  Latency: median connect {m:.1} ms over {} connects, {:.0}% lost",
                l.attempts, l.loss_pct
            ),
            None => println!("  Latency: all {} connects failed", l.attempts),
        }
    }
    evidence::print_evidence(evidence);
}
