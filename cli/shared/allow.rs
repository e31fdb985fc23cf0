//! The operator's allow-list for collectors requested by a client: the
//! engine's [`Collect`] callback that probes only the hosts and address
//! blocks named on the command line (`json --allow-probe`,
//! `mcp --allow-probe`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use rootcause_engine::collect::rdp_probe;
use rootcause_engine::kb::model::Value;
use rootcause_engine::protocol::{Collect, ProtoError};
use serde_json::{Map, Value as Json};

/// Hosts (by name or address) and CIDR blocks that may be probed.
#[derive(Debug, Clone, Default)]
pub struct AllowedProbe {
    hosts: Vec<String>,
    nets: Vec<(IpAddr, u8)>,
}

impl AllowedProbe {
    /// Parse `HOST,CIDR,...` arguments (repeatable). An empty list allows
    /// nothing.
    pub fn parse(args: &[String]) -> Result<AllowedProbe, String> {
        let mut out = AllowedProbe::default();
        for item in args.iter().flat_map(|s| s.split(',')) {
            let item = item.trim().trim_start_matches('[').trim_end_matches(']');
            if item.is_empty() {
                continue;
            }
            match item.split_once('/') {
                Some((addr, bits)) => {
                    let ip: IpAddr = addr
                        .parse()
                        .map_err(|_| format!("`{item}`: `{addr}` is not an IP address"))?;
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    let bits: u8 =
                        bits.parse().ok().filter(|b| *b <= max).ok_or_else(|| {
                            format!("`{item}`: the prefix length must be 0..={max}")
                        })?;
                    out.nets.push((ip, bits));
                }
                None => out.hosts.push(item.to_string()),
            }
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.nets.is_empty()
    }

    /// Whether `host` (a name or an address) may be probed.
    pub fn allows(&self, host: &str) -> bool {
        if self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return true;
        }
        let Ok(ip) = host.parse::<IpAddr>() else {
            return false;
        };
        self.nets.iter().any(|&(net, bits)| in_block(ip, net, bits))
    }

    fn describe(&self) -> String {
        let nets = self.nets.iter().map(|(ip, b)| format!("{ip}/{b}"));
        let all: Vec<String> = self.hosts.iter().cloned().chain(nets).collect();
        all.join(", ")
    }
}

fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
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
            ProtoError::new("bad_request", "probing needs `target`: \"HOST[:PORT]\"")
        })?;
        let (host, port) = rdp_probe::parse_target(target)
            .map_err(|e| ProtoError::new("bad_request", e.to_string()))?;
        if !self.allows(&host) {
            return Err(ProtoError::new(
                "not_allowed",
                format!(
                    "probing `{host}` is not allowed; the operator allowed: {}",
                    self.describe()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_blocks() {
        let a = AllowedProbe::parse(&["rdp01, 10.1.0.0/16".into(), "[::1],fd00::/112".into()])
            .expect("valid list");
        assert!(a.allows("RDP01"));
        assert!(a.allows("10.1.255.3"));
        assert!(!a.allows("10.2.0.1"));
        assert!(a.allows("::1"));
        assert!(a.allows("fd00::ffff"));
        assert!(!a.allows("fd00::1:0"));
        assert!(!a.allows("rdp02"));
        assert!(AllowedProbe::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(AllowedProbe::parse(&["host/8".into()]).is_err());
        let all = AllowedProbe::parse(&["0.0.0.0/0".into()]).expect("valid");
        assert!(all.allows("192.0.2.1") && !all.allows("::1"));
    }
}
