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
//! 5. a few more TCP connects for latency and loss.
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

use super::x224::{self, Answer, DecodeError};
use super::{CollectError, Collected, Facts};
pub use crate::collect::civil::format_unix;
use crate::kb::model::Value;

/// Default RDP port.
pub const DEFAULT_PORT: u16 = 3389;

/// Probe settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// Timeout of each step (resolve, connect, X.224 answer, TLS handshake).
    pub step_timeout: Duration,
    /// Upper bound of the whole probe.
    pub total_timeout: Duration,
    /// Extra TCP connects for latency and loss.
    pub latency_samples: usize,
}

impl Config {
    pub fn new(host: &str, port: u16, step_timeout: Duration) -> Config {
        Config {
            host: host.to_string(),
            port,
            step_timeout,
            total_timeout: step_timeout * 5,
            latency_samples: 4,
        }
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

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// A point in time the probe must not pass.
#[derive(Clone, Copy)]
struct Deadline(Instant);

impl Deadline {
    fn after(d: Duration) -> Deadline {
        Deadline(Instant::now() + d)
    }
    fn left(self) -> Option<Duration> {
        self.0
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }
    /// The earlier of this deadline and `step` from now.
    fn step(self, step: Duration) -> Deadline {
        Deadline(self.0.min(Instant::now() + step))
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "timed out")
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Resolve in a helper thread so a hanging resolver cannot exceed the step.
fn resolve(host: &str, port: u16, deadline: Deadline) -> Result<SocketAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let (tx, rx) = mpsc::channel();
    let name = host.to_string();
    std::thread::spawn(move || {
        let r = (name.as_str(), port)
            .to_socket_addrs()
            .map(|mut a| a.next());
        let _ = tx.send(r);
    });
    match rx.recv_timeout(deadline.left().unwrap_or_default()) {
        Ok(Ok(Some(a))) => Ok(a),
        Ok(Ok(None)) => Err(format!("{host} has no address")),
        Ok(Err(e)) => Err(format!("cannot resolve {host}: {e}")),
        Err(_) => Err(format!("resolving {host} timed out")),
    }
}

fn connect(
    addr: SocketAddr,
    deadline: Deadline,
) -> (String, Result<TcpStream, io::Error>, Duration) {
    let start = Instant::now();
    let Some(left) = deadline.left() else {
        return ("timeout".into(), Err(timed_out()), Duration::ZERO);
    };
    let r = TcpStream::connect_timeout(&addr, left);
    let took = start.elapsed();
    let outcome = match &r {
        Ok(_) => "ok",
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => "refused",
        Err(e) if is_timeout(e) => "timeout",
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable
            ) =>
        {
            "unreachable"
        }
        Err(_) => "error",
    };
    (outcome.into(), r, took)
}

/// Read exactly `buf.len()` bytes before the deadline.
fn read_full(sock: &mut TcpStream, buf: &mut [u8], deadline: Deadline) -> io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        let left = deadline.left().ok_or_else(timed_out)?;
        sock.set_read_timeout(Some(left))?;
        match sock.read(&mut buf[got..]) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().take(32).map(|b| format!("{b:02x}")).collect()
}

/// Read one TPKT: its header, then (when it looks like a Confirm) the rest.
fn read_answer(sock: &mut TcpStream, deadline: Deadline) -> io::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    read_full(sock, &mut header, deadline)?;
    match x224::tpkt_length(&header) {
        Ok(len) => {
            let mut pdu = vec![0u8; len];
            pdu[..4].copy_from_slice(&header);
            read_full(sock, &mut pdu[4..], deadline)?;
            Ok(pdu)
        }
        // Not a Confirm: the header is enough to say what it is.
        Err(_) => Ok(header.to_vec()),
    }
}

/// Send a Connection Request and classify the answer. Returns the TCP
/// connect outcome and the socket when it is still usable (for TLS).
fn negotiate(
    addr: SocketAddr,
    requested: u32,
    cfg: &Config,
    budget: Deadline,
) -> (Negotiation, String, Option<TcpStream>) {
    let start = Instant::now();
    let mut n = Negotiation {
        requested,
        requested_names: x224::protocol_name(requested),
        outcome: String::new(),
        selected: None,
        selected_names: None,
        failure_code: None,
        failure_name: None,
        flags: None,
        received_hex: String::new(),
        detail: None,
        ms: 0.0,
    };
    let (tcp, sock, _) = connect(addr, budget.step(cfg.step_timeout));
    let mut sock = match sock {
        Ok(s) => s,
        Err(e) => {
            n.outcome = tcp.clone();
            n.detail = Some(e.to_string());
            n.ms = ms(start.elapsed());
            return (n, tcp, None);
        }
    };
    let _ = sock.set_nodelay(true);
    let deadline = budget.step(cfg.step_timeout);
    let cr = x224::connection_request(Some(requested), Some("rootcause"));
    let sent = deadline
        .left()
        .ok_or_else(timed_out)
        .and_then(|left| sock.set_write_timeout(Some(left)))
        .and_then(|()| sock.write_all(&cr));
    if let Err(e) = sent {
        n.outcome = io_outcome(&e).into();
        n.detail = Some(format!("sending the Connection Request: {e}"));
        n.ms = ms(start.elapsed());
        return (n, tcp, None);
    }
    let result = read_answer(&mut sock, deadline);
    n.ms = ms(start.elapsed());
    let pdu = match result {
        Ok(p) => p,
        Err(e) => {
            n.outcome = io_outcome(&e).into();
            n.detail = Some(e.to_string());
            return (n, tcp, None);
        }
    };
    n.received_hex = hex(&pdu);
    let (n, sock) = classify(n, &pdu, sock);
    (n, tcp, sock)
}

fn classify(mut n: Negotiation, pdu: &[u8], sock: TcpStream) -> (Negotiation, Option<TcpStream>) {
    match x224::decode_answer(pdu) {
        Ok(Answer::Response { flags, selected }) => {
            n.outcome = "rsp".into();
            n.flags = Some(flags);
            n.selected = Some(selected);
            n.selected_names = Some(x224::protocol_name(selected));
            (n, Some(sock))
        }
        Ok(Answer::Failure { code }) => {
            n.outcome = "failure".into();
            n.failure_code = Some(code);
            n.failure_name = Some(x224::failure_name(code).into());
            (n, None)
        }
        Ok(Answer::NoNegotiation) => {
            n.outcome = "cc".into();
            (n, None)
        }
        Ok(Answer::Rejected) => {
            n.outcome = "rejected".into();
            (n, None)
        }
        Err(DecodeError::NotTpkt) => {
            n.outcome = "not_rdp".into();
            n.detail = Some(DecodeError::NotTpkt.to_string());
            (n, None)
        }
        Err(e) => {
            n.outcome = "bad_cc".into();
            n.detail = Some(e.to_string());
            (n, None)
        }
    }
}

fn io_outcome(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "closed",
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => "reset",
        _ if is_timeout(e) => "timeout",
        _ => "closed",
    }
}

/// Accepts any certificate: the probe inspects it instead of trusting it.
/// Handshake signatures are still verified (the server holds the key).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn tls_handshake(mut sock: TcpStream, host: &str, addr: SocketAddr, deadline: Deadline) -> Tls {
    let start = Instant::now();
    let mut tls = Tls {
        outcome: "fails".into(),
        version: None,
        cipher: None,
        error: None,
        ms: 0.0,
        certificate: None,
    };
    let name = ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| ServerName::IpAddress(addr.ip().into()));
    let conn = tls_config().and_then(|c| ClientConnection::new(c, name));
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) => {
            tls.error = Some(e.to_string());
            return tls;
        }
    };
    while conn.is_handshaking() {
        let step = deadline.left().ok_or_else(timed_out).and_then(|left| {
            sock.set_read_timeout(Some(left))?;
            sock.set_write_timeout(Some(left))?;
            conn.complete_io(&mut sock)
        });
        match step {
            Ok((0, 0)) if conn.is_handshaking() => {
                tls.outcome = "closed".into();
                tls.error = Some("the server closed the connection during the handshake".into());
                break;
            }
            Ok(_) => {}
            Err(e) => {
                let rustls_error = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
                tls.outcome = match (rustls_error, e.kind()) {
                    (Some(_), _) => "fails",
                    (None, io::ErrorKind::UnexpectedEof) => "closed",
                    (None, _) if is_timeout(&e) => "timeout",
                    (None, io::ErrorKind::ConnectionReset) => "closed",
                    _ => "fails",
                }
                .into();
                tls.error = Some(rustls_error.map_or_else(|| e.to_string(), |r| r.to_string()));
                break;
            }
        }
    }
    tls.ms = ms(start.elapsed());
    if !conn.is_handshaking() {
        tls.outcome = "ok".into();
        tls.version = conn.protocol_version().map(|v| format!("{v:?}"));
        tls.cipher = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
        tls.certificate = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|der| inspect_certificate(der.as_ref(), host, SystemTime::now()).ok());
    }
    let _ = sock.shutdown(Shutdown::Both);
    tls
}

/// Inspect a DER certificate as of `now`.
pub fn inspect_certificate(der: &[u8], host: &str, now: SystemTime) -> Result<CertInfo, String> {
    use x509_parser::prelude::*;
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let now_s = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let nb = cert.validity().not_before.timestamp();
    let na = cert.validity().not_after.timestamp();
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    let same_name = cert.subject().as_raw() == cert.issuer().as_raw();
    let self_signature_valid = same_name.then(|| cert.verify_signature(None).is_ok());
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in &ext.value.general_names {
            match n {
                GeneralName::DNSName(d) => sans.push(format!("DNS:{d}")),
                GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b)
                            .ok()
                            .map(|a| IpAddr::from(a).to_string()),
                        16 => <[u8; 16]>::try_from(*b)
                            .ok()
                            .map(|a| IpAddr::from(a).to_string()),
                        _ => None,
                    };
                    sans.push(format!("IP:{}", ip.unwrap_or_else(|| hex(b))));
                }
                other => sans.push(format!("{other:?}").chars().take(80).collect()),
            }
        }
    }
    let cns: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_string))
        .collect();
    let name_matches = name_matches(host, &sans, &cns);
    let (key_type, key_bits) = match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(k)) => ("RSA".to_string(), k.key_size()),
        Ok(x509_parser::public_key::PublicKey::EC(p)) => ("EC".to_string(), p.key_size()),
        Ok(_) => ("other".to_string(), 0),
        Err(_) => ("unparsed".to_string(), 0),
    };
    let registry = x509_parser::objects::oid_registry();
    let sig_oid = &cert.signature_algorithm.algorithm;
    let signature_algorithm = x509_parser::objects::oid2sn(sig_oid, registry)
        .map(str::to_string)
        .unwrap_or_else(|_| sig_oid.to_id_string());
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    Ok(CertInfo {
        subject,
        issuer,
        serial: cert.raw_serial_as_string(),
        not_before: format_unix(nb),
        not_after: format_unix(na),
        expired: now_s > na,
        not_yet_valid: now_s < nb,
        days_left: (na - now_s).div_euclid(86_400),
        self_signed: self_signature_valid == Some(true),
        self_signature_valid,
        subject_alt_names: sans,
        name_matches,
        key_type,
        key_bits,
        signature_algorithm,
        sha256: hex_all(digest.as_ref()),
    })
}

fn hex_all(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn name_matches(host: &str, sans: &[String], cns: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let matches = |pattern: &str| {
        let p = pattern.trim_end_matches('.').to_ascii_lowercase();
        match p.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
            None => p == host,
        }
    };
    if host.parse::<IpAddr>().is_ok() {
        return sans
            .iter()
            .any(|s| s.strip_prefix("IP:").is_some_and(|ip| ip == host));
    }
    let dns: Vec<&str> = sans.iter().filter_map(|s| s.strip_prefix("DNS:")).collect();
    if dns.is_empty() {
        cns.iter().any(|c| matches(c))
    } else {
        dns.iter().any(|d| matches(d))
    }
}

fn latency(addr: SocketAddr, cfg: &Config, budget: Deadline) -> Latency {
    let mut samples = Vec::new();
    let mut failures = 0;
    let mut attempts = 0;
    for _ in 0..cfg.latency_samples {
        if budget.left().is_none() {
            break;
        }
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
    let budget = Deadline::after(cfg.total_timeout);
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
    let (neg, tcp, sock) = negotiate(addr, 0x0B, cfg, budget);
    if tcp != "ok" {
        report.tcp = tcp;
        report.tcp_error = neg.detail.clone();
        report.elapsed_ms = ms(start.elapsed());
        report.negotiation = Some(neg);
        report.facts = facts(&report);
        return report;
    }
    report.tcp = "ok".into();
    let tls_selected = neg.selected.is_some_and(|s| {
        s & (x224::PROTOCOL_SSL | x224::PROTOCOL_HYBRID | x224::PROTOCOL_HYBRID_EX) != 0
    });
    report.negotiation = Some(neg);
    if let (true, Some(sock)) = (tls_selected, sock) {
        report.tls = Some(tls_handshake(
            sock,
            &cfg.host,
            addr,
            budget.step(cfg.step_timeout),
        ));
    }
    for mask in [x224::PROTOCOL_SSL, x224::PROTOCOL_RDP] {
        if budget.left().is_none() {
            break;
        }
        let (n, _, s) = negotiate(addr, mask, cfg, budget);
        if let Some(s) = s {
            let _ = s.shutdown(Shutdown::Both);
        }
        report.other_masks.push(n);
    }
    let lat = latency(addr, cfg, budget);
    report.connect_ms = lat.samples_ms.first().copied();
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
        let key = if n.requested == x224::PROTOCOL_SSL {
            "probe.x224_ssl_only"
        } else {
            "probe.x224_rdp_only"
        };
        put(key, Value::Text(n.outcome.clone()));
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
