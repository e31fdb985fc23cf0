//! The RDP network probe (`rootcause probe rdp`, `diagnose --probe`).
//!
//! Steps, each with its own timeout and all within one overall budget:
//! 1. resolve the name (in a helper thread, so a slow resolver cannot block);
//! 2. TCP connect: ok / refused / timeout / unreachable, with its time;
//! 3. X.224 Connection Request with RDP_NEG_REQ asking for
//!    SSL | HYBRID | HYBRID_EX (0x0B), decode the answer (fact sheet §2.4);
//!    then SSL only (0x01) and standard RDP only (0x00) on fresh
//!    connections, which tell a server that dislikes NLA from one that
//!    closes on anything;
//! 4. when the server selected a TLS-based protocol: a TLS handshake that
//!    accepts any certificate, then the certificate's validity, issuer,
//!    names, key and fingerprint;
//! 5. a few more TCP connects for latency and loss, spaced so that a
//!    server's accept queue is never flooded.
//!
//! [`Mode::Scan`] (`rootcause scan`) knocks more softly: the SSL-only
//! exchange only when the server selected NLA (does it *require* it?), the
//! standard-RDP-only exchange only when it selected TLS or NLA (does it
//! still accept the weak layer?), and no extra latency connects: the
//! connect times of those exchanges are the samples. At most three
//! connections per endpoint, one for a closed port or a silent peer.
//! A shared [`Pacer`] caps new connections per second across probes; time
//! spent waiting for it does not count against any timeout.
//!
//! Reads are bounded in bytes and by deadline: a peer that announces a
//! large TPKT and dribbles bytes, or never answers, ends the step at its
//! timeout. Nothing is sent after the TLS handshake.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use serde::Serialize;

pub mod x224;

use super::{CollectError, Collected, Facts};
pub use crate::collect::civil::format_unix;
use crate::kb::model::Value;
use x224::{Answer, DecodeError};

mod net;
mod tls;

use net::*;
pub use tls::inspect_certificate;
use tls::*;

/// Default RDP port.
pub const DEFAULT_PORT: u16 = 3389;

/// How hard the probe knocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One host being diagnosed: every exchange, and extra latency connects.
    Diagnose,
    /// One endpoint among many: only the exchanges the answers call for.
    Scan,
}

/// Probe settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// Timeout of each step (resolve, connect, X.224 answer, TLS handshake).
    pub step_timeout: Duration,
    /// Upper bound of the whole probe (time waiting for the pacer aside).
    pub total_timeout: Duration,
    /// Extra TCP connects for latency and loss.
    pub latency_samples: usize,
    /// Pause before each extra latency connect.
    pub latency_spacing: Duration,
    pub mode: Mode,
    /// Shared cap on new connections per second.
    pub pacer: Option<Arc<Pacer>>,
}

impl Config {
    pub fn new(host: &str, port: u16, step_timeout: Duration) -> Config {
        Config {
            host: host.to_string(),
            port,
            step_timeout,
            total_timeout: step_timeout * 5,
            latency_samples: 2,
            latency_spacing: Duration::from_millis(20),
            mode: Mode::Diagnose,
            pacer: None,
        }
    }

    /// The soft profile of `rootcause scan`: at most three connections, no
    /// extra latency connects, and a budget of three steps.
    pub fn scan(host: &str, port: u16, step_timeout: Duration) -> Config {
        Config {
            total_timeout: step_timeout * 3,
            latency_samples: 0,
            mode: Mode::Scan,
            ..Config::new(host, port, step_timeout)
        }
    }
}

/// Spaces new connections evenly: at most `rate` per second over all the
/// probes that share it.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: std::sync::Mutex<Instant>,
}

impl Pacer {
    /// `None` when `per_second` is not a positive finite number.
    pub fn new(per_second: f64) -> Option<Pacer> {
        (per_second.is_finite() && per_second > 0.0).then(|| Pacer {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next: std::sync::Mutex::new(Instant::now()),
        })
    }

    /// Wait for the next free slot; returns how long that took.
    pub fn wait(&self) -> Duration {
        let now = Instant::now();
        let slot = match self.next.lock() {
            Ok(mut next) => {
                let slot = (*next).max(now);
                *next = slot + self.interval;
                slot
            }
            Err(_) => now,
        };
        let wait = slot.saturating_duration_since(now);
        std::thread::sleep(wait);
        wait
    }
}

/// Parse `HOST`, `HOST:PORT`, `[v6]:PORT` or a bare IPv6 address.
pub fn parse_target(target: &str) -> Result<(String, u16), CollectError> {
    let t = target.trim();
    let bad = || CollectError::Usage(format!("`{target}` is not HOST or HOST:PORT"));
    if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    if let Some(rest) = t.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => DEFAULT_PORT,
            None => return Err(bad()),
        };
        return Ok((host.to_string(), port));
    }
    if t.parse::<IpAddr>().is_ok() {
        return Ok((t.to_string(), DEFAULT_PORT));
    }
    match t.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => Ok((h.to_string(), p.parse().map_err(|_| bad())?)),
        Some(_) => Err(bad()),
        None => Ok((t.to_string(), DEFAULT_PORT)),
    }
}

/// One X.224 exchange.
#[derive(Debug, Clone, Serialize)]
pub struct Negotiation {
    pub requested: u32,
    pub requested_names: String,
    /// `rsp`, `failure`, `cc`, `rejected`, `closed`, `reset`, `timeout`,
    /// `not_rdp`, `bad_cc`, or the TCP outcome when the connect failed.
    pub outcome: String,
    pub selected: Option<u32>,
    pub selected_names: Option<String>,
    pub failure_code: Option<u32>,
    pub failure_name: Option<String>,
    pub flags: Option<u8>,
    /// The first bytes received, hex (at most 32).
    pub received_hex: String,
    pub detail: Option<String>,
    /// Time of the TCP connect alone (when it succeeded).
    pub connect_ms: Option<f64>,
    pub ms: f64,
}

/// The certificate the server presented.
#[derive(Debug, Clone, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    /// notAfter in seconds since 1970 (UTC).
    pub not_after_unix: i64,
    pub expired: bool,
    pub not_yet_valid: bool,
    /// Whole days until notAfter (negative once expired).
    pub days_left: i64,
    /// Issuer equals subject and the signature verifies with its own key.
    pub self_signed: bool,
    pub self_signature_valid: Option<bool>,
    pub subject_alt_names: Vec<String>,
    /// The probed name or address is among the certificate's names.
    pub name_matches: bool,
    pub key_type: String,
    pub key_bits: usize,
    pub signature_algorithm: String,
    pub sha256: String,
}

/// The TLS step.
#[derive(Debug, Clone, Serialize)]
pub struct Tls {
    /// `ok`, `fails`, `timeout`, `closed`.
    pub outcome: String,
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub error: Option<String>,
    pub ms: f64,
    pub certificate: Option<CertInfo>,
}

/// Connect times of the extra connects.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub attempts: usize,
    pub failures: usize,
    pub samples_ms: Vec<f64>,
    pub median_ms: Option<f64>,
    pub loss_pct: f64,
}

/// Everything the probe found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    pub address: Option<String>,
    /// `ok`, `refused`, `timeout`, `unreachable`, `unresolved`, `error`.
    pub tcp: String,
    pub tcp_error: Option<String>,
    pub connect_ms: Option<f64>,
    pub negotiation: Option<Negotiation>,
    pub tls: Option<Tls>,
    /// The same request with SSL only (0x01) and standard RDP only (0x00).
    pub other_masks: Vec<Negotiation>,
    pub latency: Option<Latency>,
    pub elapsed_ms: f64,
    pub facts: Facts,
}

/// Wait for the pacer, if any, and push the budget back by the wait.
fn pace(cfg: &Config, budget: &mut Deadline) {
    if let Some(p) = &cfg.pacer {
        *budget = budget.later_by(p.wait());
    }
}

/// Latency and loss from the exchanges' connects plus `latency_samples`
/// extra connects, each after `latency_spacing`.
fn latency(
    addr: SocketAddr,
    cfg: &Config,
    budget: &mut Deadline,
    exchanges: &[&Negotiation],
) -> Latency {
    let mut samples: Vec<f64> = exchanges.iter().filter_map(|n| n.connect_ms).collect();
    let mut attempts = exchanges.len();
    let mut failures = attempts - samples.len();
    for _ in 0..cfg.latency_samples {
        if budget.left().is_none_or(|l| l <= cfg.latency_spacing) {
            break;
        }
        std::thread::sleep(cfg.latency_spacing);
        pace(cfg, budget);
        attempts += 1;
        match connect(addr, budget.step(cfg.step_timeout)) {
            (_, Ok(s), took) => {
                samples.push(ms(took));
                let _ = s.shutdown(Shutdown::Both);
            }
            _ => failures += 1,
        }
    }
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    Latency {
        attempts,
        failures,
        median_ms: sorted.get(sorted.len() / 2).copied(),
        samples_ms: samples,
        loss_pct: if attempts == 0 {
            0.0
        } else {
            100.0 * failures as f64 / attempts as f64
        },
    }
}

/// Run the probe. Never takes longer than `cfg.total_timeout` (plus the
/// granularity of one socket call).
pub fn probe(cfg: &Config) -> Report {
    let start = Instant::now();
    let mut budget = Deadline::after(cfg.total_timeout);
    let target = if cfg.host.contains(':') {
        format!("[{}]:{}", cfg.host, cfg.port)
    } else {
        format!("{}:{}", cfg.host, cfg.port)
    };
    let mut report = Report {
        target,
        address: None,
        tcp: "unresolved".into(),
        tcp_error: None,
        connect_ms: None,
        negotiation: None,
        tls: None,
        other_masks: Vec::new(),
        latency: None,
        elapsed_ms: 0.0,
        facts: Facts::new(),
    };
    let addr = match resolve(&cfg.host, cfg.port, budget.step(cfg.step_timeout)) {
        Ok(a) => a,
        Err(e) => {
            report.tcp_error = Some(e);
            report.elapsed_ms = ms(start.elapsed());
            report.facts = facts(&report);
            return report;
        }
    };
    report.address = Some(addr.to_string());
    // The main exchange; its TCP connect is the reachability test.
    pace(cfg, &mut budget);
    let (neg, tcp, sock) = negotiate(addr, 0x0B, cfg, budget);
    report.connect_ms = neg.connect_ms;
    if tcp != "ok" {
        report.tcp = tcp;
        report.tcp_error = neg.detail.clone();
        report.elapsed_ms = ms(start.elapsed());
        report.negotiation = Some(neg);
        report.facts = facts(&report);
        return report;
    }
    report.tcp = "ok".into();
    let selected = neg.selected.filter(|_| neg.outcome == "rsp");
    let tls_selected = selected.is_some_and(|s| {
        s & (x224::PROTOCOL_SSL | x224::PROTOCOL_HYBRID | x224::PROTOCOL_HYBRID_EX) != 0
    });
    if let (true, Some(sock)) = (tls_selected, sock) {
        report.tls = Some(tls_handshake(
            sock,
            &cfg.host,
            addr,
            budget.step(cfg.step_timeout),
        ));
    }
    let masks: Vec<u32> = match cfg.mode {
        Mode::Diagnose => vec![x224::PROTOCOL_SSL, x224::PROTOCOL_RDP],
        Mode::Scan => {
            let nla = selected
                .is_some_and(|s| s & (x224::PROTOCOL_HYBRID | x224::PROTOCOL_HYBRID_EX) != 0);
            let mut m = Vec::new();
            if nla {
                m.push(x224::PROTOCOL_SSL);
            }
            if tls_selected {
                m.push(x224::PROTOCOL_RDP);
            }
            m
        }
    };
    for mask in masks {
        if budget.left().is_none() {
            break;
        }
        pace(cfg, &mut budget);
        let (n, _, s) = negotiate(addr, mask, cfg, budget);
        if let Some(s) = s {
            let _ = s.shutdown(Shutdown::Both);
        }
        report.other_masks.push(n);
    }
    let exchanges: Vec<&Negotiation> = std::iter::once(&neg).chain(&report.other_masks).collect();
    let lat = latency(addr, cfg, &mut budget, &exchanges);
    report.negotiation = Some(neg);
    report.latency = Some(lat);
    report.elapsed_ms = ms(start.elapsed());
    report.facts = facts(&report);
    report
}

fn num(x: impl Into<f64>) -> Value {
    Value::Number(x.into())
}

/// The facts of a report (names as declared in the KB's `rdp_probe`).
pub fn facts(r: &Report) -> Facts {
    let mut f = Facts::new();
    let mut put = |k: &str, v: Value| {
        f.insert(k.to_string(), v);
    };
    put("probe.tcp", Value::Text(r.tcp.clone()));
    if let Some(c) = r.connect_ms {
        put("probe.connect_ms", num(c));
    }
    if let Some(n) = r.negotiation.as_ref().filter(|_| r.tcp == "ok") {
        put("probe.x224", Value::Text(n.outcome.clone()));
        if let Some(s) = n.selected {
            put("probe.selected_protocol", num(s));
        }
        if let Some(c) = n.failure_code {
            put("probe.failure_code", num(c));
        }
    }
    for n in &r.other_masks {
        if n.requested == x224::PROTOCOL_SSL {
            put("probe.x224_ssl_only", Value::Text(n.outcome.clone()));
            if let Some(c) = n.failure_code {
                put("probe.x224_ssl_only_failure_code", num(c));
            }
        } else {
            put("probe.x224_rdp_only", Value::Text(n.outcome.clone()));
            if let Some(s) = n.selected {
                put("probe.x224_rdp_only_selected", num(s));
            }
        }
    }
    if let Some(t) = &r.tls {
        put("probe.tls", Value::Text(t.outcome.clone()));
        if let Some(v) = &t.version {
            put("probe.tls_version", Value::Text(v.clone()));
        }
        if let Some(c) = &t.cipher {
            put("probe.tls_cipher", Value::Text(c.clone()));
        }
        if let Some(e) = &t.error {
            put("probe.tls_error", Value::Text(e.clone()));
        }
        if let Some(c) = &t.certificate {
            put("probe.cert.expired", Value::Bool(c.expired));
            put("probe.cert.not_yet_valid", Value::Bool(c.not_yet_valid));
            put("probe.cert.days_left", Value::Number(c.days_left as f64));
            put("probe.cert.not_before", Value::Text(c.not_before.clone()));
            put("probe.cert.not_after", Value::Text(c.not_after.clone()));
            put("probe.cert.not_after_unix", num(c.not_after_unix as f64));
            put("probe.cert.self_signed", Value::Bool(c.self_signed));
            put("probe.cert.name_matches", Value::Bool(c.name_matches));
            put("probe.cert.subject", Value::Text(c.subject.clone()));
            put("probe.cert.sha256", Value::Text(c.sha256.clone()));
        }
    }
    if let Some(l) = &r.latency {
        if let Some(m) = l.median_ms {
            put("probe.rtt_ms", num(m));
        }
        put("probe.loss_pct", num(l.loss_pct));
    }
    f
}

/// The probe as a collector run.
pub fn collect(cfg: &Config) -> (Report, Collected) {
    let report = probe(cfg);
    let collected = Collected {
        collector: "rdp_probe".into(),
        label: format!("probe of {}", report.target),
        facts: report.facts.clone(),
        warnings: Vec::new(),
    };
    (report, collected)
}
