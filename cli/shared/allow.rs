//! The operator's allow-list for collectors requested by a client: the
//! engine's [`Collect`] callback that probes only the hosts named on the
//! command line (`json --allow-probe`).

use std::collections::BTreeMap;

use rootcause_engine::collect::rdp_probe;
use rootcause_engine::kb::model::Value;
use rootcause_engine::protocol::{Collect, ProtoError};
use serde_json::{Map, Value as Json};

/// Runs the RDP probe for allowed hosts only.
pub struct AllowedProbe {
    pub hosts: Vec<String>,
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
