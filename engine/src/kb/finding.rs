//! `findings.ron`: what `rootcause scan` reports about an endpoint, and how
//! bad it is.

use serde::{Deserialize, Serialize};

use super::model::Condition;

/// How bad a scan finding is; ordered, `Info` < `Warning` < `Critical`.
/// Written `Critical` in RON, `"critical"` in JSON output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum Level {
    Info,
    Warning,
    Critical,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Critical, Level::Warning, Level::Info];

    /// `info`, `warning`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl Serialize for Level {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Facts a scan adds to every endpoint's facts: `scan.warn_days` (a
/// number) and `scan.expect_ca` (true when a CA-issued certificate is
/// expected) from its command line, and `scan.named` (true when the
/// endpoint was named on its own, not as part of a CIDR block).
pub const SCAN_SETTINGS: &[&str] = &["scan.warn_days", "scan.expect_ca", "scan.named"];

/// `findings.ron`: what `rootcause scan` reports about an endpoint, from the
/// probe's facts, the evidence the rules set from them and the scan's
/// settings (`scan.warn_days`, `scan.expect_ca`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub id: String,
    pub title: String,
    pub severity: Level,
    pub when: Condition,
    /// One line shown with the finding; `{fact}` is replaced by its value.
    #[serde(default)]
    pub detail: String,
    /// The KB cause this finding leads to, if any.
    #[serde(default)]
    pub cause: Option<String>,
    /// The fix that removes it, if any.
    #[serde(default)]
    pub fix: Option<String>,
    /// Where the facts behind the finding are documented.
    #[serde(default)]
    pub sources: Vec<String>,
}
