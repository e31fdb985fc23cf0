//! Windows event-log collector (DESIGN §7, fact sheet §4): counts the
//! RDP-relevant events of exported logs and turns them into `events.*` facts.
//!
//! Three input formats are accepted, recognised by content, not by name:
//!
//! * **`.evtx`** files (magic `ElfFile\0`), parsed with the `evtx` crate,
//!   which reads the file chunk by chunk (64 KiB at a time). A chunk that
//!   cannot be read (bad magic, bad header) is skipped and reported; a record
//!   that fails to parse is counted in [`EventLog::records_failed`]; bytes
//!   where a record should start but none does (the parser resynchronises on
//!   the next record) are counted in [`EventLog::regions_skipped`]. Chunks
//!   whose CRC32 does not match are read anyway, with a warning (as
//!   `evtx_dump` does by default: logs copied from a running system often
//!   have them). With these rules the counts equal `evtx_dump`'s on the real
//!   samples (`tests/data/evtx/expected_counts.json`).
//! * **`wevtutil qe LOG /f:xml`** (or `/f:RenderedXml`) exports: a sequence
//!   of `<Event xmlns='…'>` elements with no common root, or one `<Events>`
//!   root when `/e:Events` was given (Event Viewer's "Save as XML" looks the
//!   same). Each event is parsed on its own, so one damaged event costs one
//!   record, not the file.
//! * **`Get-WinEvent … | ConvertTo-Json`** exports: one object, an array of
//!   objects, or PowerShell 5.1's `{"value": [...], "Count": n}` wrapper;
//!   `TimeCreated` as `"/Date(ms)/"` (Windows PowerShell 5.1) or ISO 8601
//!   (PowerShell 7); `Properties` positional (`[{"Value": …}]`, only with
//!   `-Depth 3` or more — with the default depth the data is lost and the
//!   `Message` text is used where it can be). JSON lines and `evtx_dump`
//!   JSON (`{"Event": {"System": …}}`) are accepted too.
//!
//! Text files may be UTF-8 (with or without BOM) or UTF-16 with BOM (what
//! Windows PowerShell's `>` and `Out-File` write).
//!
//! Normalisation (the "Awkward" list of `shared/data/evtx/README.md`):
//! the event id is a number, a string or `{"#text": id, "#attributes":
//! {"Qualifiers": q}}`, and is always masked to its low 16 bits (tables that
//! include severity bits give 0xC0000421 for 1057); event data comes from
//! named `EventData/Data`, unnamed classic `Data` (named `Data1`, `Data2`, …
//! by position), `Binary`, or `UserData/<element>/…`; `Get-WinEvent`'s
//! positional `Properties` get the manifest's field names for the events the
//! KB reads (see `property_names`), `Data1…` otherwise. A file may hold
//! events of several computers; they are counted together and listed.
//!
//! Memory is bounded: files larger than [`MAX_FILE_BYTES`] are refused with
//! [`CollectError::TooLarge`]; per file at most [`MAX_EVENT_KINDS`] distinct
//! (provider, event id) pairs, [`MAX_COMPUTERS`] computer names,
//! [`MAX_EXAMPLES`] examples per RDP-relevant event and [`MAX_WARNINGS`]
//! warnings are kept (the rest is counted). Nothing here panics on any input;
//! a panic inside the `evtx` parser is caught and reported as a skipped
//! chunk.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use ::evtx::err::{DeserializationError, EvtxError};
use ::evtx::{EvtxParser, ParserSettings};
use once_cell::sync::Lazy;
use regex::Regex;
use serde::Serialize;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;

use crate::collect::civil::{civil_from_days, days_from_civil};

use super::{CollectError, Collected, Facts};
use crate::kb::model::Value;

mod builder;
mod evtx_file;
mod facts;
mod json;
mod read;
mod xml;

use builder::*;
use evtx_file::*;
pub use facts::facts;
use json::*;
use read::*;
pub use read::{read_bytes, read_file};
use xml::*;

// ---------------------------------------------------------------------------
// Limits

/// Largest file accepted (256 MiB). Text formats are read whole into memory
/// (and decoded once more for UTF-16); `.evtx` files are read 64 KiB at a
/// time, but the same limit keeps the run time bounded.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Examples kept per RDP-relevant (provider, event id): the most recent ones.
pub const MAX_EXAMPLES: usize = 3;
/// Warnings kept per file; further ones are only counted.
pub const MAX_WARNINGS: usize = 25;
/// Distinct (provider, event id) pairs kept per file; events of further
/// pairs count in [`EventLog::records`] only.
pub const MAX_EVENT_KINDS: usize = 4096;
/// Distinct computer names kept per file.
pub const MAX_COMPUTERS: usize = 1024;
/// Data fields kept per event.
const MAX_FIELDS: usize = 32;
/// Characters kept of a data value (examples, details).
const MAX_VALUE_CHARS: usize = 256;
/// Characters kept of a provider, channel or computer name.
const MAX_NAME_CHARS: usize = 256;
/// Distinct keys kept in each [`Details`] map.
const MAX_DETAIL_KEYS: usize = 64;
/// Channels remembered per (provider, event id).
const MAX_KIND_CHANNELS: usize = 8;
/// XML nodes allowed in one event (a real one has fewer than 100).
const MAX_XML_NODES: u32 = 20_000;

const EVTX_MAGIC: &[u8; 8] = b"ElfFile\0";
const EVTX_HEADER_BYTES: u64 = 4096;
const EVTX_CHUNK_BYTES: u64 = 65536;

// ---------------------------------------------------------------------------
// Data types

/// The format a file was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Binary `.evtx` log.
    Evtx,
    /// `wevtutil qe … /f:xml` (or Event Viewer "Save as XML").
    Xml,
    /// `Get-WinEvent … | ConvertTo-Json` (also JSON lines, `evtx_dump` JSON).
    Json,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Evtx => "evtx",
            Format::Xml => "wevtutil XML",
            Format::Json => "Get-WinEvent JSON",
        })
    }
}

/// What one event-log file holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventLog {
    pub path: String,
    pub format: Format,
    /// Events read.
    pub records: u64,
    /// Records found but not parsed (damaged content, missing event id…).
    pub records_failed: u64,
    /// `.evtx`: places where a record should have started but the bytes were
    /// not a record header; the parser skipped to the next record it found.
    pub regions_skipped: u64,
    /// `.evtx`: chunks read, and chunks skipped as unreadable.
    pub chunks: u64,
    pub chunks_failed: u64,
    /// What the user should know: skipped chunks, failed records, checksum
    /// mismatches, lost data (at most [`MAX_WARNINGS`], then a count).
    pub warnings: Vec<String>,
    /// `Computer` / `MachineName` values, sorted.
    pub computers: Vec<String>,
    /// Channels (`System`, `…/Operational`), sorted.
    pub channels: Vec<String>,
    /// Earliest and latest event time (UTC, ISO 8601).
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    /// Per (provider, event id), sorted by provider then id.
    pub events: Vec<EventCount>,
    /// Values of the data fields the KB's rules read, counted.
    pub details: Details,
}

/// Events of one provider and (16-bit) event id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventCount {
    pub provider: String,
    /// `EventSourceName` of classic events (`TermService` for RCM 1056–1058).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Event id masked to 16 bits.
    pub id: u16,
    /// `Qualifiers` of classic events (49152 = error/warning severity bits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualifiers: Option<u32>,
    pub channels: Vec<String>,
    pub count: u64,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    /// The most recent few, for RDP-relevant events only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Example>,
}

/// One event's data, as an example.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    pub time: Option<String>,
    pub computer: Option<String>,
    pub record_id: Option<u64>,
    /// Data fields by name (`ErrorCode`, `ClientIP`, `Param1`, `Data1`…);
    /// `Message` when the export had no data fields but a message text.
    pub data: BTreeMap<String, String>,
}

/// Counted values of the data fields the KB reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Details {
    /// Schannel 36870 `ErrorCode` (e.g. `0x8009030D`) → events.
    pub schannel_36870_errors: BTreeMap<String, u64>,
    /// RCM 1057/1058 status text (`Keyset does not exist`…) → events.
    pub rcm_cert_status: BTreeMap<String, u64>,
    /// RdpCoreTS 131 client address (port removed) → events.
    pub rdpcorets_131_clients: BTreeMap<String, u64>,
    /// RdpCoreTS 140 address → events.
    pub rdpcorets_140_addresses: BTreeMap<String, u64>,
    /// RCM 1149 `domain\user from address` → events.
    pub rcm_1149_logons: BTreeMap<String, u64>,
    /// ClientActiveXCore 1026 disconnect reason (decimal; 2308 = 0x904) → events.
    pub client_1026_reasons: BTreeMap<String, u64>,
}

impl EventLog {
    /// Events of `provider` (case-insensitive) with event id `id`.
    pub fn count(&self, provider: &str, id: u16) -> u64 {
        self.events
            .iter()
            .filter(|e| e.id == id && e.provider.eq_ignore_ascii_case(provider))
            .map(|e| e.count)
            .sum()
    }

    /// Events of `provider` (case-insensitive), any id.
    pub fn provider_count(&self, provider: &str) -> u64 {
        self.events
            .iter()
            .filter(|e| e.provider.eq_ignore_ascii_case(provider))
            .map(|e| e.count)
            .sum()
    }

    /// The (provider, id) entry, if any.
    pub fn event(&self, provider: &str, id: u16) -> Option<&EventCount> {
        self.events
            .iter()
            .find(|e| e.id == id && e.provider.eq_ignore_ascii_case(provider))
    }

    fn family_count(&self, family: Family, id: u16) -> u64 {
        self.events
            .iter()
            .filter(|e| e.id == id && family_of(&e.provider, e.source.as_deref()) == Some(family))
            .map(|e| e.count)
            .sum()
    }

    fn has_channel(&self, channel: &str) -> bool {
        self.channels
            .iter()
            .any(|c| c.eq_ignore_ascii_case(channel))
    }

    fn has_family(&self, family: Family) -> bool {
        self.events
            .iter()
            .any(|e| family_of(&e.provider, e.source.as_deref()) == Some(family))
    }
}

/// The event sources the KB knows (fact sheet §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Schannel,
    /// TerminalServices-RemoteConnectionManager, classic source `TermService`.
    Rcm,
    RdpCoreTs,
    Lsm,
    /// TerminalServices-ClientActiveXCore (RDPClient/Operational).
    Client,
}

const RCM_PROVIDER: &str = "Microsoft-Windows-TerminalServices-RemoteConnectionManager";
const RDPCORETS_PROVIDER: &str = "Microsoft-Windows-RemoteDesktopServices-RdpCoreTS";
const RDPCORETS_CHANNEL: &str = "Microsoft-Windows-RemoteDesktopServices-RdpCoreTS/Operational";
const RCM_CHANNEL: &str = "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational";
const CLIENT_PROVIDER: &str = "Microsoft-Windows-TerminalServices-ClientActiveXCore";
const CLIENT_CHANNEL: &str = "Microsoft-Windows-TerminalServices-RDPClient/Operational";
const LSM_PROVIDER: &str = "Microsoft-Windows-TerminalServices-LocalSessionManager";

fn family_of(provider: &str, source: Option<&str>) -> Option<Family> {
    let p = provider.trim();
    if p.eq_ignore_ascii_case("Schannel")
        || p.to_ascii_lowercase()
            .starts_with("microsoft-windows-schannel")
    {
        Some(Family::Schannel)
    } else if p.eq_ignore_ascii_case(RCM_PROVIDER)
        || p.eq_ignore_ascii_case("TermService")
        || source.is_some_and(|s| s.trim().eq_ignore_ascii_case("TermService"))
    {
        Some(Family::Rcm)
    } else if p.eq_ignore_ascii_case(RDPCORETS_PROVIDER) {
        Some(Family::RdpCoreTs)
    } else if p.eq_ignore_ascii_case(LSM_PROVIDER) {
        Some(Family::Lsm)
    } else if p.eq_ignore_ascii_case(CLIENT_PROVIDER) {
        Some(Family::Client)
    } else {
        None
    }
}

/// Events whose examples are kept (fact sheet §4).
fn watched(family: Family, id: u16) -> bool {
    match family {
        Family::Schannel => matches!(id, 36870 | 36871 | 36872 | 36874 | 36887 | 36888),
        Family::Rcm => {
            matches!(id, 1006 | 1035 | 1036 | 1050..=1071 | 1128..=1131 | 1149 | 1158 | 261)
        }
        Family::RdpCoreTs => matches!(id, 101 | 102 | 103 | 131 | 140 | 226 | 227 | 228),
        Family::Lsm => matches!(id, 21 | 24 | 25 | 40),
        Family::Client => matches!(id, 226 | 1024 | 1026 | 1027 | 1029 | 1105),
    }
}

/// Manifest field names of `Get-WinEvent`'s positional `Properties`, for
/// the events the KB reads (same names as `.evtx`/XML `EventData`).
fn property_names(family: Option<Family>, id: u16, n: usize) -> Option<&'static [&'static str]> {
    let names: &'static [&'static str] = match (family?, id, n) {
        (Family::Schannel, 36870, 3) => &["Type", "ErrorCode", "ErrorStatus"],
        (Family::Schannel, 36870, 2) => &["ErrorCode", "ErrorStatus"],
        (Family::Schannel, 36887, 1) => &["AlertDesc"],
        (Family::Schannel, 36888, 2) => &["AlertDesc", "ErrorState"],
        (Family::Rcm, 1149, 3) => &["Param1", "Param2", "Param3"],
        (Family::Rcm, 258 | 261, 1) => &["listenerName"],
        (Family::RdpCoreTs, 131, 2) => &["ConnType", "ClientIP"],
        (Family::RdpCoreTs, 140, 1) => &["IPString"],
        (Family::RdpCoreTs, 103, 1) => &["ReasonCode"],
        (Family::RdpCoreTs, 227, 3) => &["Name", "Value", "CustomLevel"],
        (Family::Lsm, 21 | 22 | 24 | 25, 3) => &["User", "SessionID", "Address"],
        (Family::Lsm, 23 | 41 | 42, 2) => &["User", "SessionID"],
        (Family::Lsm, 40, 2) => &["Session", "Reason"],
        (Family::Client, 1024 | 1026, 3) => &["Name", "Value", "CustomLevel"],
        _ => return None,
    };
    Some(names)
}

/// One event, normalised from any of the formats.
#[derive(Debug, Default)]
struct Record {
    provider: String,
    source: Option<String>,
    id: u16,
    qualifiers: Option<u32>,
    channel: Option<String>,
    computer: Option<String>,
    time: Option<Time>,
    record_id: Option<u64>,
    data: Vec<(String, String)>,
    message: Option<String>,
}

impl Record {
    fn field(&self, name: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn push(&mut self, name: &str, value: String) {
        if self.data.len() < MAX_FIELDS {
            self.data.push((clip(name, MAX_NAME_CHARS), value));
        }
    }
}

/// A point in time: the sort key (UTC seconds, nanoseconds) and the text shown.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Time {
    secs: i64,
    nanos: u32,
    text: String,
}

impl Time {
    fn key(&self) -> (i64, u32) {
        (self.secs, self.nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let t = parse_time("/Date(1660000000000)/").expect("ms date");
        assert_eq!(t.text, "2022-08-08T23:06:40.0000000Z");
        let t = parse_time("2022-08-09T01:06:40.5+02:00").expect("offset");
        assert_eq!(t.text, "2022-08-08T23:06:40.5000000Z");
        assert_eq!(t.secs, 1_660_000_000);
        let t = parse_time("2021-12-16T10:25:32.351835800Z").expect("9 digits");
        assert_eq!(t.nanos, 351_835_800);
        assert!(parse_time("yesterday").is_none());
        assert!(parse_time("2021-13-01T00:00:00Z").is_none());
    }

    #[test]
    fn codes_and_addresses() {
        assert_eq!(normalize_code("0x8009030d"), "0x8009030D");
        assert_eq!(normalize_code("2148074253"), "0x8009030D");
        assert_eq!(normalize_code("-2146893043"), "0x8009030D");
        assert_eq!(normalize_code("64"), "64");
        assert_eq!(strip_port("62.170.2.215:50270"), "62.170.2.215");
        assert_eq!(strip_port("[fe80::1]:3389"), "fe80::1");
        assert_eq!(strip_port("fe80::1"), "fe80::1");
        assert_eq!(clip("äöü", 2), "äö…");
    }
}
