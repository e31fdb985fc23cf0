//! What a scan may touch: hosts, `host:port`, IPv4 and IPv6 CIDR blocks,
//! read from the command line or a file, expanded lazily into endpoints.
//!
//! Nothing outside the list is ever produced: a block yields exactly its
//! addresses (network and broadcast addresses included, as nmap does), a
//! host exactly itself. Blocks larger than /16 (IPv4) or /112 (IPv6) are
//! refused unless the caller allows large blocks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::super::CollectError;
use crate::collect::rdp_probe::parse_target;

/// Smallest IPv4 prefix accepted without `allow_large`.
pub const MIN_V4_PREFIX: u8 = 16;
/// Smallest IPv6 prefix accepted without `allow_large`.
pub const MIN_V6_PREFIX: u8 = 112;

/// One target as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A name or address, with its own port or the scan's ports.
    Host { host: String, port: Option<u16> },
    /// A CIDR block, scanned on the scan's ports.
    Block { base: IpAddr, prefix: u8 },
}

/// One endpoint to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// Named on its own rather than found in a block.
    pub named: bool,
}

impl Endpoint {
    /// `host:port`, `[v6]:port` for IPv6 addresses.
    pub fn target(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn usage(msg: String) -> CollectError {
    CollectError::Usage(msg)
}

/// Parse one target: `HOST`, `HOST:PORT`, `[V6]:PORT`, `A.B.C.D/N`, `V6/N`.
pub fn parse(text: &str, allow_large: bool) -> Result<Target, CollectError> {
    let t = text.trim();
    if let Some((addr, len)) = t.split_once('/') {
        let base: IpAddr = addr
            .parse()
            .map_err(|_| usage(format!("`{t}`: `{addr}` is not an IP address")))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = len
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| usage(format!("`{t}`: the prefix length must be 0 to {max}")))?;
        let min = if base.is_ipv4() {
            MIN_V4_PREFIX
        } else {
            MIN_V6_PREFIX
        };
        if prefix < min && !allow_large {
            return Err(usage(format!(
                "`{t}` has {} addresses; blocks larger than /{min} need --allow-large",
                block_size(base, prefix)
            )));
        }
        return Ok(Target::Block {
            base: network(base, prefix),
            prefix,
        });
    }
    let explicit_port = if t.starts_with('[') {
        t.contains("]:")
    } else {
        t.matches(':').count() == 1
    };
    let (host, port) = parse_target(t)?;
    Ok(Target::Host {
        host,
        port: explicit_port.then_some(port),
    })
}

/// Parse a targets file: one target per line, `#` starts a comment; an
/// error names the line.
pub fn parse_file(name: &str, text: &str, allow_large: bool) -> Result<Vec<Target>, CollectError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        out.push(parse(line, allow_large).map_err(|e| usage(format!("{name}:{}: {e}", i + 1)))?);
    }
    Ok(out)
}

fn network(base: IpAddr, prefix: u8) -> IpAddr {
    match base {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

/// Addresses in a block (saturating at `u128::MAX` for ::/0).
fn block_size(base: IpAddr, prefix: u8) -> u128 {
    let bits = if base.is_ipv4() { 32 } else { 128 } - u32::from(prefix);
    1u128.checked_shl(bits).unwrap_or(u128::MAX)
}

/// The targets and ports of a scan, as a lazy sequence of endpoints that
/// can be read from any thread by index.
#[derive(Debug, Clone)]
pub struct Targets {
    targets: Vec<Target>,
    /// Ports for targets without their own (at least one).
    ports: Vec<u16>,
    /// Index of each target's first endpoint, and the total at the end.
    starts: Vec<u128>,
}

impl Targets {
    pub fn new(targets: Vec<Target>, ports: Vec<u16>) -> Targets {
        let mut starts = vec![0u128];
        for t in &targets {
            let n = match t {
                Target::Host { port: Some(_), .. } => 1,
                Target::Host { port: None, .. } => ports.len() as u128,
                Target::Block { base, prefix } => {
                    block_size(*base, *prefix).saturating_mul(ports.len() as u128)
                }
            };
            let last = starts.last().copied().unwrap_or(0);
            starts.push(last.saturating_add(n));
        }
        Targets {
            targets,
            ports,
            starts,
        }
    }

    /// How many endpoints there are.
    pub fn len(&self) -> u128 {
        self.starts.last().copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`th endpoint: targets in the order given; a block address by
    /// address, each on every port.
    pub fn get(&self, i: u128) -> Option<Endpoint> {
        if i >= self.len() {
            return None;
        }
        let t = self.starts.partition_point(|s| *s <= i).checked_sub(1)?;
        let k = i - self.starts[t];
        let port_at = |j: u128| self.ports.get(j as usize).copied();
        match self.targets.get(t)? {
            Target::Host { host, port } => Some(Endpoint {
                host: host.clone(),
                port: match port {
                    Some(p) => *p,
                    None => port_at(k)?,
                },
                named: true,
            }),
            Target::Block { base, prefix } => {
                let n = self.ports.len() as u128;
                let (offset, j) = (k / n, k % n);
                let host = match base {
                    IpAddr::V4(a) => {
                        Ipv4Addr::from(u32::from(*a).wrapping_add(offset as u32)).to_string()
                    }
                    IpAddr::V6(a) => {
                        Ipv6Addr::from(u128::from(*a).wrapping_add(offset)).to_string()
                    }
                };
                Some(Endpoint {
                    host,
                    port: port_at(j)?,
                    named: block_size(*base, *prefix) == 1,
                })
            }
        }
    }

    /// Every endpoint in order (memory does not grow with a block's size).
    pub fn endpoints(&self) -> impl Iterator<Item = Endpoint> + '_ {
        (0..self.len()).map_while(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(targets: &[&str], ports: &[u16]) -> Vec<String> {
        let t = Targets::new(
            targets
                .iter()
                .map(|t| parse(t, false).expect("target"))
                .collect(),
            ports.to_vec(),
        );
        let out: Vec<String> = t.endpoints().map(|e| e.target()).collect();
        assert_eq!(out.len() as u128, t.len());
        out
    }

    #[test]
    fn hosts_ports_and_blocks_expand_to_exactly_their_endpoints() {
        assert_eq!(all(&["srv01"], &[3389, 3390]), ["srv01:3389", "srv01:3390"]);
        assert_eq!(all(&["srv01:4000"], &[3389, 3390]), ["srv01:4000"]);
        assert_eq!(
            all(&["[::1]:4000", "::1", "[::1]"], &[3389]),
            ["[::1]:4000", "[::1]:3389", "[::1]:3389"]
        );
        assert_eq!(
            all(&["10.0.0.5/30"], &[3389]),
            [
                "10.0.0.4:3389",
                "10.0.0.5:3389",
                "10.0.0.6:3389",
                "10.0.0.7:3389"
            ]
        );
        assert_eq!(all(&["10.0.0.9/32"], &[1, 2]), ["10.0.0.9:1", "10.0.0.9:2"]);
        assert_eq!(
            all(&["2001:db8::1/127"], &[3389]),
            ["[2001:db8::]:3389", "[2001:db8::1]:3389"]
        );
        assert_eq!(all(&["192.168.0.0/16"], &[3389]).len(), 65_536);
    }

    #[test]
    fn named_means_not_from_a_block() {
        let t = Targets::new(
            vec![
                parse("h", false).expect("h"),
                parse("10.0.0.0/31", false).expect("b"),
                parse("10.0.0.9/32", false).expect("one"),
            ],
            vec![3389],
        );
        let named: Vec<bool> = t.endpoints().map(|e| e.named).collect();
        assert_eq!(named, [true, false, false, true]);
    }

    #[test]
    fn large_blocks_need_permission_and_bad_targets_are_named() {
        for bad in ["10.0.0.0/15", "2001:db8::/111", "::/0"] {
            let e = parse(bad, false).expect_err(bad).to_string();
            assert!(e.contains("--allow-large"), "{e}");
            assert!(parse(bad, true).is_ok());
        }
        let t = Targets::new(vec![parse("::/0", true).expect("all")], vec![1, 2]);
        assert_eq!(t.len(), u128::MAX);
        assert!(t.get(u128::MAX - 1).is_some() && t.get(u128::MAX).is_none());
        for bad in ["10.0.0.0/33", "10.0.0/8", "host:port", "", "a b"] {
            assert!(parse(bad, false).is_err(), "{bad}");
        }
        let e = parse_file(
            "list.txt",
            "# hosts\nsrv01\n\n10.0.0.0/24 # office\nbad:port\n",
            false,
        )
        .expect_err("line 5")
        .to_string();
        assert!(e.starts_with("list.txt:5: "), "{e}");
        let ok =
            parse_file("list.txt", "# hosts\nsrv01\n10.0.0.0/24 # office\n", false).expect("ok");
        assert_eq!(ok.len(), 2);
    }
}
