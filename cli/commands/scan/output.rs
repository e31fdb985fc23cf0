//! The scan's output formats: a table for people, JSON lines, CSV, a
//! Markdown report and the Prometheus text exposition format.
//!
//! JSON lines and CSV are written as endpoints finish; the table, Markdown
//! and Prometheus need every endpoint (sorting, grouping by metric) and
//! are written at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use rootcause_engine::Engine;
use rootcause_engine::collect::Facts;
use rootcause_engine::collect::scan::{Endpoint, Ran};
use rootcause_engine::kb::model::{Level, Value};
use rootcause_engine::session::Verdict;
use serde_json::{Map, Value as Json, json};

/// One endpoint's result, as every format reads it.
pub struct Row {
    pub endpoint: Endpoint,
    pub address: Option<String>,
    pub facts: Facts,
    pub verdict: Verdict,
    pub elapsed_ms: f64,
}

impl Row {
    pub fn severity(&self) -> &'static str {
        self.verdict.severity.map_or("ok", Level::as_str)
    }

    fn fact(&self, name: &str) -> Option<&Value> {
        self.facts.get(name)
    }

    fn text(&self, name: &str) -> String {
        self.fact(name).map(Value::as_text).unwrap_or_default()
    }

    fn number(&self, name: &str) -> Option<f64> {
        match self.fact(name)? {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// What the endpoint is, in a few words: `refused`, `nla, TLSv1_3`,
    /// `failure SSL_CERT_NOT_ON_SERVER`, `closed`.
    pub fn status(&self) -> String {
        let tcp = self.text("probe.tcp");
        if tcp != "ok" {
            return tcp;
        }
        let x224 = self.text("probe.x224");
        match x224.as_str() {
            "rsp" => {
                let selected = match self.number("probe.selected_protocol").map(|n| n as u32) {
                    Some(0) => "rdp",
                    Some(1) => "tls",
                    Some(2) | Some(8) | Some(10) => "nla",
                    _ => "rsp",
                };
                match self.fact("probe.tls_version") {
                    Some(v) => format!("{selected}, {}", v.as_text()),
                    None if self.text("probe.tls").is_empty() => selected.to_string(),
                    None => format!("{selected}, tls {}", self.text("probe.tls")),
                }
            }
            "failure" => format!(
                "failure {}",
                self.number("probe.failure_code")
                    .map_or(String::new(), |c| {
                        rootcause_engine::collect::rdp_probe::x224::failure_name(c as u32)
                            .to_string()
                    })
            ),
            other => other.to_string(),
        }
    }
}

/// Counts over all endpoints, kept while streaming.
#[derive(Default)]
pub struct Tally {
    pub by_severity: BTreeMap<&'static str, u64>,
    pub by_finding: BTreeMap<String, u64>,
    pub worst: Option<Level>,
}

impl Tally {
    pub fn add(&mut self, row: &Row) {
        *self.by_severity.entry(row.severity()).or_default() += 1;
        for f in &row.verdict.findings {
            *self.by_finding.entry(f.id.clone()).or_default() += 1;
        }
        self.worst = self.worst.max(row.verdict.severity);
    }

    fn count(&self, s: &str) -> u64 {
        self.by_severity.get(s).copied().unwrap_or(0)
    }

    /// `1000 endpoints in 4.2 s: 3 critical, 10 warning, 5 info, 982 ok`.
    pub fn line(&self, ran: &Ran) -> String {
        let done = if ran.interrupted {
            format!("{} of {} endpoints (interrupted)", ran.done, ran.total)
        } else {
            format!("{} endpoints", ran.done)
        };
        format!(
            "{done} in {:.1} s: {} critical, {} warning, {} info, {} ok",
            ran.elapsed.as_secs_f64(),
            self.count("critical"),
            self.count("warning"),
            self.count("info"),
            self.count("ok"),
        )
    }
}

// ---------------------------------------------------------------- JSON lines

fn facts_json(facts: &Facts) -> Map<String, Json> {
    facts
        .iter()
        .map(|(k, v)| {
            let j = match v {
                Value::Bool(b) => json!(b),
                Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => json!(*n as i64),
                Value::Number(n) => json!(n),
                Value::Text(t) => json!(t),
            };
            (k.clone(), j)
        })
        .collect()
}

/// One endpoint as a JSON object (`"type":"endpoint"`).
pub fn endpoint_json(row: &Row) -> Json {
    let evidence: Map<String, Json> = row
        .verdict
        .evidence
        .iter()
        .map(|(e, v)| (e.clone(), json!(v)))
        .collect();
    json!({
        "type": "endpoint",
        "target": row.endpoint.target(),
        "host": row.endpoint.host,
        "port": row.endpoint.port,
        "named": row.endpoint.named,
        "address": row.address,
        "status": row.status(),
        "severity": row.severity(),
        "findings": row.verdict.findings,
        "evidence": evidence,
        "facts": facts_json(&row.facts),
        "elapsed_ms": row.elapsed_ms,
    })
}

/// The last JSON line (`"type":"summary"`).
pub fn summary_json(tally: &Tally, ran: &Ran, fail_on: Option<Level>, exit_code: u8) -> Json {
    json!({
        "type": "summary",
        "total": ran.total.min(u128::from(u64::MAX)) as u64,
        "endpoints": ran.done.min(u128::from(u64::MAX)) as u64,
        "interrupted": ran.interrupted,
        "elapsed_ms": (ran.elapsed.as_secs_f64() * 1e3).round(),
        "severity": {
            "critical": tally.count("critical"),
            "warning": tally.count("warning"),
            "info": tally.count("info"),
            "ok": tally.count("ok"),
        },
        "findings": tally.by_finding,
        "fail_on": fail_on.map_or("never", Level::as_str),
        "exit_code": exit_code,
    })
}

// ----------------------------------------------------------------------- CSV

pub const CSV_HEADER: &str = "target,host,port,severity,status,findings,causes,fixes,cert_not_after,cert_days_left,tls_version,rtt_ms,elapsed_ms";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn joined<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut v: Vec<&str> = items.collect();
    v.dedup();
    v.join(";")
}

/// One endpoint as a CSV record (RFC 4180 quoting).
pub fn csv_row(row: &Row) -> String {
    let f = &row.verdict.findings;
    let fields = [
        row.endpoint.target(),
        row.endpoint.host.clone(),
        row.endpoint.port.to_string(),
        row.severity().to_string(),
        row.status(),
        joined(f.iter().map(|x| x.id.as_str())),
        joined(f.iter().filter_map(|x| x.cause.as_deref())),
        joined(f.iter().filter_map(|x| x.fix.as_deref())),
        row.text("probe.cert.not_after"),
        row.text("probe.cert.days_left"),
        row.text("probe.tls_version"),
        row.text("probe.rtt_ms"),
        format!("{:.1}", row.elapsed_ms),
    ];
    fields
        .iter()
        .map(|s| csv_field(s))
        .collect::<Vec<_>>()
        .join(",")
}

// --------------------------------------------------------------------- table

fn sorted(rows: &mut [Row]) {
    rows.sort_by(|a, b| {
        b.verdict
            .severity
            .cmp(&a.verdict.severity)
            .then_with(|| a.endpoint.target().cmp(&b.endpoint.target()))
    });
}

/// The table for a terminal, worst first, and the summary line (which
/// counts every endpoint, shown or not).
pub fn table(rows: &mut [Row], tally: &Tally, ran: &Ran, color: bool) -> String {
    sorted(rows);
    let shown: Vec<&Row> = rows.iter().collect();
    let width = shown
        .iter()
        .map(|r| r.endpoint.target().len())
        .max()
        .unwrap_or(8)
        .max(8);
    let swidth = shown
        .iter()
        .map(|r| r.status().len())
        .max()
        .unwrap_or(6)
        .max(6);
    let paint = |sev: &str| -> String {
        let code = match sev {
            "critical" => "31;1",
            "warning" => "33",
            "info" => "36",
            _ => "32",
        };
        if color {
            format!("\x1b[{code}m{sev:<8}\x1b[0m")
        } else {
            format!("{sev:<8}")
        }
    };
    let mut out = String::new();
    if !shown.is_empty() {
        let _ = writeln!(
            out,
            "{:<8}  {:<width$}  {:<swidth$}  FINDING",
            "SEVERITY", "ENDPOINT", "STATUS"
        );
    }
    for r in shown {
        let target = r.endpoint.target();
        let status = r.status();
        if r.verdict.findings.is_empty() {
            let _ = writeln!(
                out,
                "{}  {target:<width$}  {status:<swidth$}  -",
                paint("ok")
            );
        }
        for (i, f) in r.verdict.findings.iter().enumerate() {
            let (t, s) = if i == 0 {
                (target.as_str(), status.as_str())
            } else {
                ("", "")
            };
            let mut line = f.title.clone();
            if !f.detail.is_empty() {
                let _ = write!(line, ": {}", f.detail);
            }
            if let Some(fix) = &f.fix {
                let _ = write!(line, " → fix `{fix}`");
            }
            let _ = writeln!(
                out,
                "{}  {t:<width$}  {s:<swidth$}  {line}",
                paint(f.severity.as_str())
            );
        }
    }
    let _ = writeln!(out, "{}", tally.line(ran));
    out
}

// ------------------------------------------------------------------ Markdown

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A report to paste into a ticket or an e-mail.
pub fn markdown(engine: &Engine, rows: &mut [Row], tally: &Tally, ran: &Ran, when: &str) -> String {
    sorted(rows);
    let mut out = String::new();
    let _ = writeln!(out, "# RDP scan\n");
    let _ = writeln!(out, "{} ({when}).\n", tally.line(ran));
    let worth: Vec<&Row> = rows
        .iter()
        .filter(|r| r.verdict.severity.is_some_and(|s| s > Level::Info))
        .collect();
    if worth.is_empty() {
        let _ = writeln!(out, "Nothing at warning level or above.\n");
    } else {
        let _ = writeln!(out, "## Findings\n");
        let _ = writeln!(
            out,
            "| severity | endpoint | status | finding | cause | fix |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for r in &worth {
            for f in r
                .verdict
                .findings
                .iter()
                .filter(|f| f.severity > Level::Info)
            {
                let detail = if f.detail.is_empty() {
                    f.title.clone()
                } else {
                    format!("{}: {}", f.title, f.detail)
                };
                let cause = match (&f.cause, f.inferred) {
                    (Some(c), true) => format!("`{c}` (most likely)"),
                    (Some(c), false) => format!("`{c}`"),
                    (None, _) => "-".into(),
                };
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {} | {} | {cause} | {} |",
                    f.severity.as_str(),
                    r.endpoint.target(),
                    md_cell(&r.status()),
                    md_cell(&detail),
                    f.fix.as_deref().map_or("-".into(), |x| format!("`{x}`")),
                );
            }
        }
        let _ = writeln!(out);
        // Each fix once, with the endpoints that need it and its steps.
        let mut fixes: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for r in &worth {
            for f in r
                .verdict
                .findings
                .iter()
                .filter(|f| f.severity > Level::Info)
            {
                if let Some(x) = &f.fix {
                    let list = fixes.entry(x.as_str()).or_default();
                    let t = r.endpoint.target();
                    if !list.contains(&t) {
                        list.push(t);
                    }
                }
            }
        }
        if !fixes.is_empty() {
            let _ = writeln!(out, "## Fixes\n");
        }
        for (id, targets) in fixes {
            let Some(fix) = engine.kb.fix(id) else {
                continue;
            };
            let _ = writeln!(out, "### {} (`{id}`)\n", fix.title);
            let _ = writeln!(
                out,
                "For: {}\n",
                targets
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for (i, s) in fix.steps.iter().enumerate() {
                let _ = writeln!(out, "{}. {}", i + 1, s.text);
            }
            let _ = writeln!(out);
        }
    }
    let infos: usize = rows
        .iter()
        .filter(|r| r.verdict.severity == Some(Level::Info))
        .count();
    if infos > 0 {
        let _ = writeln!(out, "## Information\n");
        for (id, n) in &tally.by_finding {
            if let Some(f) = engine
                .kb
                .findings
                .iter()
                .find(|f| &f.id == id && f.severity == Level::Info)
            {
                let _ = writeln!(out, "- {} endpoint(s): {}", n, f.title);
            }
        }
        let _ = writeln!(out);
    }
    out
}

// ---------------------------------------------------------------- Prometheus

fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus text exposition format, for node_exporter's textfile
/// collector; names follow blackbox_exporter's (`probe_success`,
/// `probe_duration_seconds`, `probe_ssl_earliest_cert_expiry`).
pub fn prometheus(rows: &[Row], ran: &Ran) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as f64;
    let mut out = String::new();
    let mut family = |name: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, v) in samples {
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {v}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {v}");
            }
        }
    };
    let t = |r: &Row| format!("target=\"{}\"", label(&r.endpoint.target()));
    family(
        "rootcause_rdp_probe_success",
        "Whether the endpoint answered the RDP negotiation (1) or not (0).",
        rows.iter()
            .map(|r| {
                let ok = matches!(r.text("probe.x224").as_str(), "rsp" | "failure" | "cc");
                (t(r), f64::from(u8::from(ok)))
            })
            .collect(),
    );
    family(
        "rootcause_rdp_probe_duration_seconds",
        "How long the probe of the endpoint took.",
        rows.iter().map(|r| (t(r), r.elapsed_ms / 1e3)).collect(),
    );
    family(
        "rootcause_rdp_ssl_earliest_cert_expiry",
        "The notAfter of the endpoint's RDP certificate, in seconds since 1970.",
        rows.iter()
            .filter_map(|r| Some((t(r), r.number("probe.cert.not_after_unix")?)))
            .collect(),
    );
    family(
        "rootcause_rdp_cert_expires_in_seconds",
        "Seconds until the endpoint's RDP certificate expires (negative once expired).",
        rows.iter()
            .filter_map(|r| Some((t(r), r.number("probe.cert.not_after_unix")? - now)))
            .collect(),
    );
    family(
        "rootcause_rdp_selected_protocol",
        "The protocol the server selected (0 RDP, 1 TLS, 2 CredSSP, 8 CredSSP with early user authorization).",
        rows.iter()
            .filter_map(|r| Some((t(r), r.number("probe.selected_protocol")?)))
            .collect(),
    );
    family(
        "rootcause_rdp_tls_version_info",
        "The TLS version negotiated with the endpoint.",
        rows.iter()
            .filter_map(|r| {
                let v = r.fact("probe.tls_version")?.as_text();
                Some((format!("{},version=\"{}\"", t(r), label(&v)), 1.0))
            })
            .collect(),
    );
    family(
        "rootcause_rdp_severity",
        "The worst finding of the endpoint: 0 none, 1 info, 2 warning, 3 critical.",
        rows.iter()
            .map(|r| {
                let n = match r.verdict.severity {
                    None => 0.0,
                    Some(Level::Info) => 1.0,
                    Some(Level::Warning) => 2.0,
                    Some(Level::Critical) => 3.0,
                };
                (t(r), n)
            })
            .collect(),
    );
    family(
        "rootcause_rdp_finding",
        "A finding of the KB about the endpoint (1 while it holds).",
        rows.iter()
            .flat_map(|r| {
                r.verdict.findings.iter().map(move |f| {
                    (
                        format!(
                            "{},finding=\"{}\",severity=\"{}\"",
                            t(r),
                            label(&f.id),
                            f.severity.as_str()
                        ),
                        1.0,
                    )
                })
            })
            .collect(),
    );
    family(
        "rootcause_rdp_scan_duration_seconds",
        "How long the whole scan took.",
        vec![(String::new(), ran.elapsed.as_secs_f64())],
    );
    family(
        "rootcause_rdp_scan_endpoints",
        "Endpoints probed by the scan.",
        vec![(String::new(), ran.done as f64)],
    );
    out
}
