//! From counted events to `events.*` facts for the KB's rules.

use super::*;

/// The `event_logs` collector's facts from the files read, summed over all
/// files (names as declared in `collectors.ron`):
///
/// * counts (`Value::Number`, 0 when none): `events.total`, `events.files`,
///   `events.computers`, `events.schannel.{36870,36871,36872,36874,36887,36888}`,
///   `events.rcm.{1056,1057,1058,1149}`, `events.rdpcorets.{131,140}`,
///   `events.client.1026`, `events.client.1026_2308` (1026 with reason 2308 = 0x904);
/// * which logs were read (`Value::Bool`): `events.system_log` (a record of
///   channel `System`), `events.rdpcorets_log`, `events.rcm_operational_log`,
///   `events.client_log` — rules conclude "absent" only from a log that was read;
/// * texts, only when such events exist: `events.schannel.36870_error` (the
///   most frequent `ErrorCode`, e.g. `0x8009030D`), `events.rcm.cert_status`
///   (the most frequent 1057/1058 status text).
///
/// Warnings: each file's, prefixed with its path; events of several
/// computers counted together; no System log among the files.
pub fn facts(logs: &[EventLog]) -> Collected {
    let mut facts = Facts::new();
    let num = |n: u64| Value::Number(n as f64);
    let total: u64 = logs.iter().map(|l| l.records).sum();
    let count = |f: Family, id: u16| -> u64 { logs.iter().map(|l| l.family_count(f, id)).sum() };
    let mut computers: BTreeSet<&str> = BTreeSet::new();
    for l in logs {
        computers.extend(l.computers.iter().map(String::as_str));
    }

    facts.insert("events.total".into(), num(total));
    facts.insert("events.files".into(), num(logs.len() as u64));
    facts.insert("events.computers".into(), num(computers.len() as u64));
    let system = logs.iter().any(|l| l.has_channel("System"));
    facts.insert("events.system_log".into(), Value::Bool(system));
    let rdpcorets = logs
        .iter()
        .any(|l| l.has_channel(RDPCORETS_CHANNEL) || l.has_family(Family::RdpCoreTs));
    facts.insert("events.rdpcorets_log".into(), Value::Bool(rdpcorets));
    let rcm_op = logs.iter().any(|l| l.has_channel(RCM_CHANNEL));
    facts.insert("events.rcm_operational_log".into(), Value::Bool(rcm_op));
    let client = logs
        .iter()
        .any(|l| l.has_channel(CLIENT_CHANNEL) || l.has_family(Family::Client));
    facts.insert("events.client_log".into(), Value::Bool(client));

    for id in [36870u16, 36871, 36872, 36874, 36887, 36888] {
        facts.insert(
            format!("events.schannel.{id}"),
            num(count(Family::Schannel, id)),
        );
    }
    for id in [1056u16, 1057, 1058, 1149] {
        facts.insert(format!("events.rcm.{id}"), num(count(Family::Rcm, id)));
    }
    for id in [131u16, 140] {
        facts.insert(
            format!("events.rdpcorets.{id}"),
            num(count(Family::RdpCoreTs, id)),
        );
    }
    facts.insert(
        "events.client.1026".into(),
        num(count(Family::Client, 1026)),
    );
    let reasons = merged(logs, |d| &d.client_1026_reasons);
    facts.insert(
        "events.client.1026_2308".into(),
        num(reasons.get("2308").copied().unwrap_or(0)),
    );
    if let Some(code) = most_common(&merged(logs, |d| &d.schannel_36870_errors)) {
        facts.insert("events.schannel.36870_error".into(), Value::Text(code));
    }
    if let Some(status) = most_common(&merged(logs, |d| &d.rcm_cert_status)) {
        facts.insert("events.rcm.cert_status".into(), Value::Text(status));
    }

    let mut warnings = Vec::new();
    for l in logs {
        for w in &l.warnings {
            warnings.push(format!("{}: {w}", l.path));
        }
    }
    if computers.len() > 1 {
        let mut names: Vec<&str> = computers.iter().copied().take(10).collect();
        if computers.len() > 10 {
            names.push("…");
        }
        warnings.push(format!(
            "events of {} computers are counted together: {}",
            computers.len(),
            names.join(", ")
        ));
    }
    if total > 0 && !system {
        warnings.push(
            "no System log among the files: the absence of Schannel and RemoteConnectionManager events is not concluded".into(),
        );
    }
    let label = if logs.is_empty() {
        "event logs: none".to_string()
    } else {
        format!(
            "event logs: {}",
            logs.iter()
                .map(|l| l.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Collected {
        collector: "event_logs".into(),
        label,
        facts,
        warnings,
    }
}

pub(super) fn merged(
    logs: &[EventLog],
    pick: impl Fn(&Details) -> &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for l in logs {
        for (k, n) in pick(&l.details) {
            *out.entry(k.clone()).or_insert(0) += n;
        }
    }
    out
}

/// The most frequent known value (ties: the first in order).
pub(super) fn most_common(map: &BTreeMap<String, u64>) -> Option<String> {
    map.iter()
        .filter(|(k, _)| k.as_str() != "unknown" && k.as_str() != "(other)")
        .fold(None::<(&String, u64)>, |best, (k, n)| match best {
            Some((_, m)) if m >= *n => best,
            _ => Some((k, *n)),
        })
        .map(|(k, _)| k.clone())
}
