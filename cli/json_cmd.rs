//! `rootcause json`: the JSON lines protocol on stdin/stdout.
//!
//! Collectors are off unless the operator allows them on the command line:
//! `--allow-probe HOST,...` lets the `collect` op probe exactly those hosts
//! (any port), so a chatbot cannot make this machine probe arbitrary
//! addresses or run programs.

use std::collections::BTreeMap;
use std::io::{self, BufWriter};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use rootcause_engine::Engine;
use rootcause_engine::collect::rdp_probe;
use rootcause_engine::kb::model::Value;
use rootcause_engine::protocol::{self, Collect, ProtoError, Server};
use serde_json::{Map, Value as Json};

/// Runs the RDP probe for allowed hosts only.
struct AllowedProbe {
    hosts: Vec<String>,
}

impl Collect for AllowedProbe {
    fn collect(
        &mut self,
        kind: &str,
        args: &Map<String, Json>,
    ) -> Result<(String, BTreeMap<String, Value>), ProtoError> {
        if kind != "rdp_probe" {
            return Err(ProtoError::new(
                "not_allowed",
                format!("collector `{kind}` is not allowed here (allowed: rdp_probe)"),
            ));
        }
        let target = args.get("target").and_then(Json::as_str).ok_or_else(|| {
            ProtoError::new(
                "bad_request",
                "`collect` with rdp_probe needs `target`: \"HOST[:PORT]\"",
            )
        })?;
        let (host, port) = rdp_probe::parse_target(target)
            .map_err(|e| ProtoError::new("bad_request", e.to_string()))?;
        if !self.hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
            return Err(ProtoError::new(
                "not_allowed",
                format!(
                    "probing `{host}` is not allowed; the operator allowed: {}",
                    self.hosts.join(", ")
                ),
            ));
        }
        let timeout = args
            .get("timeout")
            .and_then(Json::as_f64)
            .unwrap_or(3.0)
            .clamp(0.05, 10.0);
        let cfg = rdp_probe::Config::new(&host, port, std::time::Duration::from_secs_f64(timeout));
        let (_, collected) = rdp_probe::collect(&cfg);
        Ok((collected.label, collected.facts))
    }
}

pub fn run(engine: Engine, allow_probe: &[String]) -> Result<ExitCode> {
    let mut server = Server::new(Arc::new(engine));
    let hosts: Vec<String> = allow_probe
        .iter()
        .flat_map(|s| s.split(','))
        .map(|h| {
            h.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string()
        })
        .filter(|h| !h.is_empty())
        .collect();
    if !hosts.is_empty() {
        server = server.with_collector(Box::new(AllowedProbe { hosts }));
    }
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut output = BufWriter::new(io::stdout().lock());
    match protocol::serve(&mut server, &mut input, &mut output) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // The reader went away: nothing left to answer.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}
