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

use evtx::err::{DeserializationError, EvtxError};
use evtx::{EvtxParser, ParserSettings};
use once_cell::sync::Lazy;
use regex::Regex;
use serde::Serialize;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;

use crate::collect::civil::{civil_from_days, days_from_civil};

use super::{CollectError, Collected, Facts};
use crate::kb::model::Value;

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

// ---------------------------------------------------------------------------
// Reading a file

/// Read one event-log file, recognising its format by content.
///
/// Errors only when nothing can be read at all (missing file, too large,
/// unknown format, no evtx file header); damaged parts of a readable file
/// become warnings and the counters of [`EventLog`].
pub fn read_file(path: &Path) -> Result<EventLog, CollectError> {
    let shown = path.display().to_string();
    let io_err = |source| CollectError::Io {
        path: shown.clone(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let size = file.metadata().map_err(io_err)?.len();
    if size > MAX_FILE_BYTES {
        return Err(too_large(&shown, size));
    }
    let mut magic = [0u8; 8];
    let got = read_up_to(&mut file, &mut magic).map_err(io_err)?;
    if got == magic.len() && &magic == EVTX_MAGIC {
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let mut b = Builder::new(&shown, Format::Evtx);
        read_evtx(file, size, &mut b)?;
        return Ok(b.finish());
    }
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 20));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(&shown, bytes.len() as u64));
    }
    read_text(&shown, &bytes)
}

/// Parse an in-memory export (XML or JSON text, or `.evtx` bytes); `name`
/// is used in messages. Same rules as [`read_file`].
pub fn read_bytes(name: &str, bytes: &[u8]) -> Result<EventLog, CollectError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(name, bytes.len() as u64));
    }
    if bytes.starts_with(EVTX_MAGIC) {
        let mut b = Builder::new(name, Format::Evtx);
        read_evtx(
            std::io::Cursor::new(bytes.to_vec()),
            bytes.len() as u64,
            &mut b,
        )?;
        return Ok(b.finish());
    }
    read_text(name, bytes)
}

fn too_large(path: &str, size: u64) -> CollectError {
    CollectError::TooLarge(format!(
        "{path}: {size} bytes; event-log files larger than {} MiB are not read (export a shorter time range)",
        MAX_FILE_BYTES / (1024 * 1024)
    ))
}

fn format_err(path: &str, message: impl Into<String>) -> CollectError {
    CollectError::Format {
        path: path.to_string(),
        message: message.into(),
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn read_text(name: &str, bytes: &[u8]) -> Result<EventLog, CollectError> {
    let mut notes = Vec::new();
    let text = decode_text(bytes, &mut notes);
    let body = text.trim_start_matches('\u{feff}').trim_start();
    let format = match body.as_bytes().first() {
        None => return Err(format_err(name, "empty file: no events")),
        Some(b'<') => Format::Xml,
        Some(b'[' | b'{') => Format::Json,
        Some(_) => {
            return Err(format_err(
                name,
                "not an event log: expected an .evtx file, a wevtutil XML export or a Get-WinEvent JSON export",
            ));
        }
    };
    let mut b = Builder::new(name, format);
    for n in notes {
        b.warn(n);
    }
    match format {
        Format::Xml => read_xml(name, body, &mut b)?,
        _ => read_json(name, body, &mut b)?,
    }
    Ok(b.finish())
}

/// Decode text by BOM: UTF-8 (BOM optional), UTF-16 LE/BE with BOM, or
/// UTF-16 LE without BOM when the second byte is zero.
fn decode_text(bytes: &[u8], notes: &mut Vec<String>) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return utf8(rest, notes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, false, notes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, true, notes);
    }
    if bytes.len() >= 2 && bytes[0] != 0 && bytes[1] == 0 {
        return utf16(bytes, false, notes);
    }
    utf8(bytes, notes)
}

fn utf8(bytes: &[u8], notes: &mut Vec<String>) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            notes.push("the text is not valid UTF-8; invalid bytes were replaced".into());
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

fn utf16(bytes: &[u8], big_endian: bool, notes: &mut Vec<String>) -> String {
    if bytes.len() % 2 != 0 {
        notes.push(
            "UTF-16 text with an odd number of bytes (truncated?); the last byte was ignored"
                .into(),
        );
    }
    let units = bytes.chunks_exact(2).map(|p| {
        if big_endian {
            u16::from_be_bytes([p[0], p[1]])
        } else {
            u16::from_le_bytes([p[0], p[1]])
        }
    });
    let mut bad = false;
    let s: String = char::decode_utf16(units)
        .map(|c| {
            c.unwrap_or_else(|_| {
                bad = true;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    if bad {
        notes.push("the UTF-16 text has unpaired surrogates; they were replaced".into());
    }
    s
}

// ---------------------------------------------------------------------------
// Accumulating events

struct Kind {
    source: Option<String>,
    qualifiers: Option<u32>,
    channels: BTreeSet<String>,
    count: u64,
    first: Option<Time>,
    last: Option<Time>,
    examples: Vec<(Option<Time>, Example)>,
}

struct Builder {
    log: EventLog,
    kinds: BTreeMap<(String, u16), Kind>,
    computers: BTreeSet<String>,
    channels: BTreeSet<String>,
    first: Option<Time>,
    last: Option<Time>,
    warnings_dropped: u64,
    kinds_dropped: u64,
    computers_dropped: u64,
}

impl Builder {
    fn new(path: &str, format: Format) -> Builder {
        Builder {
            log: EventLog {
                path: path.to_string(),
                format,
                records: 0,
                records_failed: 0,
                regions_skipped: 0,
                chunks: 0,
                chunks_failed: 0,
                warnings: Vec::new(),
                computers: Vec::new(),
                channels: Vec::new(),
                first_time: None,
                last_time: None,
                events: Vec::new(),
                details: Details::default(),
            },
            kinds: BTreeMap::new(),
            computers: BTreeSet::new(),
            channels: BTreeSet::new(),
            first: None,
            last: None,
            warnings_dropped: 0,
            kinds_dropped: 0,
            computers_dropped: 0,
        }
    }

    fn warn(&mut self, message: impl Into<String>) {
        if self.log.warnings.len() < MAX_WARNINGS {
            self.log.warnings.push(message.into());
        } else {
            self.warnings_dropped += 1;
        }
    }

    fn fail_record(&mut self, message: impl Into<String>) {
        self.log.records_failed += 1;
        self.warn(message);
    }

    fn add(&mut self, rec: Record) {
        self.log.records += 1;
        if let Some(c) = &rec.computer
            && !self.computers.contains(c)
        {
            if self.computers.len() < MAX_COMPUTERS {
                self.computers.insert(c.clone());
            } else {
                self.computers_dropped += 1;
            }
        }
        if let Some(ch) = &rec.channel
            && !self.channels.contains(ch)
            && self.channels.len() < MAX_EVENT_KINDS
        {
            self.channels.insert(ch.clone());
        }
        if let Some(t) = &rec.time {
            if self.first.as_ref().is_none_or(|f| t.key() < f.key()) {
                self.first = Some(t.clone());
            }
            if self.last.as_ref().is_none_or(|l| t.key() > l.key()) {
                self.last = Some(t.clone());
            }
        }
        let family = family_of(&rec.provider, rec.source.as_deref());
        if let Some(f) = family {
            self.details(f, &rec);
        }
        let key = (rec.provider.clone(), rec.id);
        if !self.kinds.contains_key(&key) && self.kinds.len() >= MAX_EVENT_KINDS {
            self.kinds_dropped += 1;
            return;
        }
        let kind = self.kinds.entry(key).or_insert_with(|| Kind {
            source: None,
            qualifiers: None,
            channels: BTreeSet::new(),
            count: 0,
            first: None,
            last: None,
            examples: Vec::new(),
        });
        kind.count += 1;
        if rec.source.is_some() {
            kind.source.clone_from(&rec.source);
        }
        if rec.qualifiers.is_some() {
            kind.qualifiers = rec.qualifiers;
        }
        if let Some(ch) = &rec.channel
            && kind.channels.len() < MAX_KIND_CHANNELS
        {
            kind.channels.insert(ch.clone());
        }
        if let Some(t) = &rec.time {
            if kind.first.as_ref().is_none_or(|f| t.key() < f.key()) {
                kind.first = Some(t.clone());
            }
            if kind.last.as_ref().is_none_or(|l| t.key() > l.key()) {
                kind.last = Some(t.clone());
            }
        }
        if family.is_some_and(|f| watched(f, rec.id)) {
            keep_example(&mut kind.examples, &rec);
        }
    }

    /// Count the data values the KB's rules read.
    fn details(&mut self, family: Family, rec: &Record) {
        let d = &mut self.log.details;
        let msg = rec.message.as_deref();
        match (family, rec.id) {
            (Family::Schannel, 36870) => {
                let code = rec
                    .field("ErrorCode")
                    .map(normalize_code)
                    .or_else(|| {
                        msg.and_then(|m| capture(&HEX_CODE, m))
                            .map(|c| normalize_code(&c))
                    })
                    .unwrap_or_else(|| "unknown".into());
                bump(&mut d.schannel_36870_errors, code);
            }
            (Family::Rcm, 1057 | 1058) => {
                let status = rec
                    .field("Data1")
                    .map(str::to_string)
                    .or_else(|| msg.and_then(|m| capture(&STATUS_TEXT, m)))
                    .map(|s| clip(s.trim(), MAX_VALUE_CHARS))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "unknown".into());
                bump(&mut d.rcm_cert_status, status);
            }
            (Family::RdpCoreTs, 131) => {
                let addr = rec
                    .field("ClientIP")
                    .map(strip_port)
                    .unwrap_or_else(|| "unknown".into());
                bump(&mut d.rdpcorets_131_clients, addr);
            }
            (Family::RdpCoreTs, 140) => {
                let addr = rec
                    .field("IPString")
                    .map(|s| clip(s.trim(), MAX_VALUE_CHARS))
                    .unwrap_or_else(|| "unknown".into());
                bump(&mut d.rdpcorets_140_addresses, addr);
            }
            (Family::Rcm, 1149) => {
                let user = rec.field("Param1").unwrap_or("").trim();
                let domain = rec.field("Param2").unwrap_or("").trim();
                let addr = rec.field("Param3").unwrap_or("").trim();
                let who = if domain.is_empty() {
                    user.to_string()
                } else {
                    format!("{domain}\\{user}")
                };
                bump(
                    &mut d.rcm_1149_logons,
                    clip(&format!("{who} from {addr}"), MAX_VALUE_CHARS),
                );
            }
            (Family::Client, 1026) => {
                let reason = rec
                    .field("Value")
                    .and_then(parse_u64)
                    .or_else(|| {
                        msg.and_then(|m| capture(&REASON, m))
                            .and_then(|s| parse_u64(&s))
                    })
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "unknown".into());
                bump(&mut d.client_1026_reasons, reason);
            }
            _ => {}
        }
    }

    fn finish(mut self) -> EventLog {
        if self.kinds_dropped > 0 {
            let n = self.kinds_dropped;
            self.warn(format!(
                "more than {MAX_EVENT_KINDS} distinct (provider, event id) pairs; {n} events of further pairs are counted in the total only"
            ));
        }
        if self.computers_dropped > 0 {
            let n = self.computers_dropped;
            self.warn(format!(
                "more than {MAX_COMPUTERS} computer names; {n} events named further ones"
            ));
        }
        if self.log.records == 0 && self.log.records_failed == 0 {
            self.warn("the file holds no events");
        }
        if self.warnings_dropped > 0 {
            let n = self.warnings_dropped;
            self.log.warnings.push(format!("… and {n} more warnings"));
        }
        self.log.computers = self.computers.into_iter().collect();
        self.log.channels = self.channels.into_iter().collect();
        self.log.first_time = self.first.map(|t| t.text);
        self.log.last_time = self.last.map(|t| t.text);
        self.log.events = self
            .kinds
            .into_iter()
            .map(|((provider, id), k)| {
                let mut examples = k.examples;
                examples.sort_by_key(|(t, _)| t.as_ref().map(Time::key));
                EventCount {
                    provider,
                    source: k.source,
                    id,
                    qualifiers: k.qualifiers,
                    channels: k.channels.into_iter().collect(),
                    count: k.count,
                    first_time: k.first.map(|t| t.text),
                    last_time: k.last.map(|t| t.text),
                    examples: examples.into_iter().map(|(_, e)| e).collect(),
                }
            })
            .collect();
        self.log
    }
}

fn keep_example(examples: &mut Vec<(Option<Time>, Example)>, rec: &Record) {
    let key = rec.time.as_ref().map(Time::key);
    if examples.len() >= MAX_EXAMPLES {
        // Replace the oldest when this one is newer.
        let Some((i, oldest)) = examples
            .iter()
            .enumerate()
            .min_by_key(|(_, (t, _))| t.as_ref().map(Time::key))
            .map(|(i, (t, _))| (i, t.as_ref().map(Time::key)))
        else {
            return;
        };
        if key <= oldest {
            return;
        }
        examples.remove(i);
    }
    let mut data: BTreeMap<String, String> = rec
        .data
        .iter()
        .map(|(k, v)| (k.clone(), clip(v, MAX_VALUE_CHARS)))
        .collect();
    if data.is_empty()
        && let Some(m) = &rec.message
    {
        data.insert("Message".into(), clip(m, MAX_VALUE_CHARS));
    }
    examples.push((
        rec.time.clone(),
        Example {
            time: rec.time.as_ref().map(|t| t.text.clone()),
            computer: rec.computer.clone(),
            record_id: rec.record_id,
            data,
        },
    ));
}

fn bump(map: &mut BTreeMap<String, u64>, key: String) {
    if let Some(n) = map.get_mut(&key) {
        *n += 1;
    } else if map.len() < MAX_DETAIL_KEYS {
        map.insert(key, 1);
    } else {
        *map.entry("(other)".into()).or_insert(0) += 1;
    }
}

static HEX_CODE: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"\b(0[xX][0-9A-Fa-f]{8})\b").expect("valid regex"));
static STATUS_TEXT: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?i)status code was\s*(.+?)\s*\.?\s*$").expect("valid regex"));
static REASON: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?i)reason\s*=\s*(\d+)").expect("valid regex"));

fn capture(re: &Regex, text: &str) -> Option<String> {
    re.captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
}

/// `0x8009030d` / `2148074253` / `-2146893043` → `0x8009030D`; small
/// numbers and other text stay as they are.
fn normalize_code(s: &str) -> String {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))
        && let Ok(n) = u32::from_str_radix(hex, 16)
    {
        return format!("0x{n:08X}");
    }
    if let Ok(n) = t.parse::<i64>()
        && !(0..0x10000).contains(&n)
        && let Ok(n) = u32::try_from(n).or_else(|_| i32::try_from(n).map(|x| x as u32))
    {
        return format!("0x{n:08X}");
    }
    clip(t, MAX_VALUE_CHARS)
}

/// `62.170.2.215:50270` → `62.170.2.215`; `[::1]:3389` → `::1`.
fn strip_port(s: &str) -> String {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('[')
        && let Some(end) = rest.find(']')
    {
        return clip(&rest[..end], MAX_VALUE_CHARS);
    }
    match t.rsplit_once(':') {
        // One colon: IPv4 (or name) with a port. Several: a bare IPv6 address.
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            clip(host, MAX_VALUE_CHARS)
        }
        _ => clip(t, MAX_VALUE_CHARS),
    }
}

fn parse_u64(s: &str) -> Option<u64> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok();
    }
    t.parse().ok()
}

/// At most `max` characters, cut on a character boundary.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn clean_name(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| clip(t, MAX_NAME_CHARS))
}

// ---------------------------------------------------------------------------
// Times

static ISO_TIME: Lazy<Regex> = Lazy::new(|| {
    Regex::new(
        r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$",
    )
    .expect("valid regex")
});
static MS_DATE: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"^\\?/Date\((-?\d{1,16})([+-]\d{4})?\)\\?/$").expect("valid regex"));

/// Parse `2018-08-02T04:32:33.1773324Z`, `2022-08-08T23:06:40.123+02:00`
/// or `/Date(1660000000000)/`. Times with an offset are converted to UTC;
/// times without a zone are taken as UTC.
fn parse_time(s: &str) -> Option<Time> {
    let t = s.trim();
    if let Some(c) = MS_DATE.captures(t) {
        let ms: i64 = c.get(1)?.as_str().parse().ok()?;
        let secs = ms.div_euclid(1000);
        let nanos = u32::try_from(ms.rem_euclid(1000)).ok()? * 1_000_000;
        if !(-62_135_596_800..=253_402_300_799).contains(&secs) {
            return None;
        }
        return Some(Time {
            secs,
            nanos,
            text: format_utc(secs, nanos),
        });
    }
    let c = ISO_TIME.captures(t)?;
    let num = |i: usize| -> Option<i64> { c.get(i)?.as_str().parse().ok() };
    let (y, mo, d, h, mi, se) = (num(1)?, num(2)?, num(3)?, num(4)?, num(5)?, num(6)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut nanos: u32 = 0;
    if let Some(f) = c.get(7) {
        let digits: String = f.as_str().chars().take(9).collect();
        let scale = 10u32.pow(9 - digits.len() as u32);
        nanos = digits.parse::<u32>().ok()? * scale;
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se;
    let zone = c.get(8).map(|z| z.as_str());
    match zone {
        Some("Z") | None => {}
        Some(z) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let digits: String = z.chars().filter(char::is_ascii_digit).collect();
            let oh: i64 = digits.get(..2)?.parse().ok()?;
            let om: i64 = digits.get(2..)?.parse().ok()?;
            secs -= sign * (oh * 3600 + om * 60);
        }
    }
    let text = if zone == Some("Z") || zone.is_none() {
        t.to_string()
    } else {
        format_utc(secs, nanos)
    };
    Some(Time { secs, nanos, text })
}

/// `2022-08-08T21:06:40.1230000Z` (7 fractional digits, as Windows writes).
fn format_utc(secs: i64, nanos: u32) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:07}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        nanos / 100
    )
}

// ---------------------------------------------------------------------------
// .evtx

fn read_evtx<T: Read + Seek>(mut data: T, size: u64, b: &mut Builder) -> Result<(), CollectError> {
    let path = b.log.path.clone();
    let body = size.saturating_sub(EVTX_HEADER_BYTES);
    let present = body / EVTX_CHUNK_BYTES;
    let tail = body % EVTX_CHUNK_BYTES;
    // A partial chunk at the end: zero padding is harmless, anything else
    // is a cut-off copy (the parser ignores a partial last chunk silently).
    let tail_has_data = tail > 0 && {
        let mut buf = Vec::new();
        data.seek(SeekFrom::Start(size - tail))
            .and_then(|_| (&mut data).take(tail).read_to_end(&mut buf))
            .map_or(true, |_| buf.iter().any(|&x| x != 0))
    };
    data.seek(SeekFrom::Start(0))
        .map_err(|source| CollectError::Io {
            path: path.clone(),
            source,
        })?;
    let mut parser = EvtxParser::from_read_seek(data).map_err(|e| {
        format_err(
            &path,
            format!("not a readable .evtx file: {}", error_chain(&e)),
        )
    })?;
    let header = parser.header();
    let (header_ok, declared) = (header.validate_checksum(), u64::from(header.chunk_count));
    if !header_ok {
        b.warn("the file header's CRC32 does not match (read anyway)");
    }
    if tail_has_data {
        b.warn(format!(
            "the file ends inside a chunk ({tail} bytes after chunk {}): truncated copy; that part was not read",
            present.saturating_sub(1)
        ));
    }
    if declared > present {
        b.warn(format!(
            "the file header declares {declared} chunks but the file holds {present}: truncated copy"
        ));
    }
    let settings = Arc::new(ParserSettings::new().indent(false));
    let outcome = catch_unwind(AssertUnwindSafe(|| evtx_chunks(&mut parser, &settings, b)));
    if outcome.is_err() {
        b.log.chunks_failed += 1;
        b.warn("the evtx parser failed (internal error) while looking for chunks; reading stopped there");
    }
    Ok(())
}

fn evtx_chunks<T: Read + Seek>(
    parser: &mut EvtxParser<T>,
    settings: &Arc<ParserSettings>,
    b: &mut Builder,
) {
    for chunk in parser.chunks() {
        let mut chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                b.log.chunks_failed += 1;
                let which = match &e {
                    EvtxError::FailedToParseChunk { chunk_id, .. } => format!("chunk {chunk_id}"),
                    _ => "a chunk".to_string(),
                };
                b.warn(format!("{which} skipped: {}", error_chain(&e)));
                continue;
            }
        };
        b.log.chunks += 1;
        let number = chunk
            .number
            .map_or_else(|| "?".to_string(), |n| n.to_string());
        if !chunk.validate_header_checksum() || !chunk.validate_data_checksum() {
            b.warn(format!(
                "chunk {number}: CRC32 mismatch (records read anyway)"
            ));
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            match chunk.parse(Arc::clone(settings)) {
                Err(e) => {
                    b.log.chunks_failed += 1;
                    b.warn(format!("chunk {number} skipped: {}", error_chain(&e)));
                }
                Ok(mut parsed) => {
                    for record in parsed.iter() {
                        evtx_record(record.and_then(|r| r.into_json_value()), &number, b);
                    }
                }
            }
        }));
        if outcome.is_err() {
            b.log.chunks_failed += 1;
            b.warn(format!(
                "chunk {number}: the evtx parser failed (internal error); the rest of the chunk was skipped"
            ));
        }
    }
}

fn evtx_record(
    record: Result<evtx::SerializedEvtxRecord<Json>, EvtxError>,
    chunk: &str,
    b: &mut Builder,
) {
    match record {
        Ok(r) => match record_from_evtx_json(&r.data) {
            Ok(mut rec) => {
                rec.record_id = rec.record_id.or(Some(r.event_record_id));
                b.add(rec);
            }
            Err(why) => b.fail_record(format!(
                "chunk {chunk}: record {} not understood: {why}",
                r.event_record_id
            )),
        },
        Err(EvtxError::FailedToReadRecordAt { source, .. })
            if matches!(
                source.as_ref(),
                EvtxError::DeserializationError(
                    DeserializationError::InvalidEvtxRecordHeaderMagic { .. }
                )
            ) =>
        {
            b.log.regions_skipped += 1;
            b.warn(format!(
                "chunk {chunk}: no record header where one should start; skipped to the next record ({})",
                error_chain(source.as_ref())
            ));
        }
        Err(e) => b.fail_record(format!("chunk {chunk}: {}", error_chain(&e))),
    }
}

/// An error and its sources, one line, without the `evtx` crate's generic
/// wrapper messages ("An error occurred while trying to …").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !text.starts_with("An error occurred while trying to")
            && !parts.iter().any(|p| p.contains(&text))
        {
            parts.push(text);
        }
        cur = err.source();
        if parts.len() > 8 {
            break;
        }
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    clip(&parts.join(": "), 400)
}

// ---------------------------------------------------------------------------
// evtx-style JSON (`{"Event": {"System": …, "EventData": …}}`)

/// `obj[element]["#attributes"][attr]`, or `obj[element + "_attributes"][attr]`
/// (evtx's `--separate-json-attributes`).
fn json_attr<'a>(obj: &'a Json, element: &str, attr: &str) -> Option<&'a Json> {
    obj.get(element)
        .and_then(|e| e.get("#attributes"))
        .and_then(|a| a.get(attr))
        .or_else(|| {
            obj.get(format!("{element}_attributes"))
                .and_then(|a| a.get(attr))
        })
}

fn json_text(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Object(o) => o.get("#text").and_then(json_text),
        Json::Array(_) => None,
    }
}

/// A JSON number or numeric string as u64 (negative and fractional: none).
fn json_u64(v: &Json) -> Option<u64> {
    match v {
        Json::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15)
                .map(|f| f as u64)
        }),
        Json::String(s) => parse_u64(s),
        _ => None,
    }
}

/// A value rendered as text for a data field.
fn render(v: &Json) -> String {
    let s = match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        Json::Bool(b) => b.to_string(),
        Json::Array(items) => {
            let bytes: Option<Vec<u8>> = items
                .iter()
                .map(|i| i.as_u64().and_then(|n| u8::try_from(n).ok()))
                .collect();
            match bytes {
                // byte[] (Binary) from ConvertTo-Json: hex, as evtx shows it.
                Some(b) if !b.is_empty() => b.iter().map(|x| format!("{x:02X}")).collect(),
                _ => items.iter().map(render).collect::<Vec<_>>().join(", "),
            }
        }
        Json::Object(o) => {
            if let Some(x) = o.get("#text").or_else(|| o.get("Value")) {
                render(x)
            } else {
                serde_json::to_string(v).unwrap_or_default()
            }
        }
    };
    clip(&s, MAX_VALUE_CHARS)
}

/// Event id: number, numeric string, or `{"#text": id, "#attributes": {"Qualifiers": q}}`.
fn event_id(v: &Json) -> Result<(u16, Option<u32>), String> {
    let (raw, qualifiers) = match v {
        Json::Object(o) => (
            o.get("#text").unwrap_or(&Json::Null),
            o.get("#attributes")
                .and_then(|a| a.get("Qualifiers"))
                .and_then(json_u64)
                .and_then(|q| u32::try_from(q).ok()),
        ),
        other => (other, None),
    };
    let id = json_u64(raw).ok_or_else(|| format!("event id {} is not a number", render(raw)))?;
    Ok(((id & 0xFFFF) as u16, qualifiers))
}

fn record_from_evtx_json(root: &Json) -> Result<Record, String> {
    let ev = root.get("Event").unwrap_or(root);
    let sys = ev.get("System").ok_or("no System element")?;
    let provider = json_attr(sys, "Provider", "Name")
        .and_then(json_text)
        .and_then(|s| clean_name(&s))
        .ok_or("no provider name")?;
    let (id, qualifiers) = event_id(sys.get("EventID").ok_or("no event id")?)?;
    let mut rec = Record {
        provider,
        source: json_attr(sys, "Provider", "EventSourceName")
            .and_then(json_text)
            .and_then(|s| clean_name(&s)),
        id,
        qualifiers,
        channel: sys
            .get("Channel")
            .and_then(json_text)
            .and_then(|s| clean_name(&s)),
        computer: sys
            .get("Computer")
            .and_then(json_text)
            .and_then(|s| clean_name(&s)),
        time: json_attr(sys, "TimeCreated", "SystemTime")
            .and_then(json_text)
            .and_then(|s| parse_time(&s)),
        record_id: sys.get("EventRecordID").and_then(json_u64),
        ..Record::default()
    };
    match ev.get("EventData") {
        None | Some(Json::Null) => {}
        Some(Json::Object(map)) => {
            for (k, v) in map {
                match k.as_str() {
                    "#attributes" => {}
                    "Data" => unnamed_data(&mut rec, v),
                    _ => rec.push(k, render(v)),
                }
            }
        }
        Some(other) => unnamed_data(&mut rec, other),
    }
    if let Some(Json::Object(user)) = ev.get("UserData")
        && let Some((name, inner)) = user.iter().find(|(k, _)| k.as_str() != "#attributes")
    {
        match inner {
            Json::Object(fields) => {
                for (k, v) in fields {
                    match (k.as_str(), v) {
                        ("#attributes", _) => {}
                        (_, Json::Object(sub)) if !sub.contains_key("#text") => {
                            for (k2, v2) in
                                sub.iter().filter(|(k2, _)| k2.as_str() != "#attributes")
                            {
                                rec.push(&format!("{k}.{k2}"), render(v2));
                            }
                        }
                        _ => rec.push(k, render(v)),
                    }
                }
            }
            other => rec.push(name, render(other)),
        }
    }
    if let Some(m) = ev
        .get("RenderingInfo")
        .and_then(|r| r.get("Message"))
        .and_then(json_text)
    {
        rec.message = Some(clip(&m, 2000));
    }
    Ok(rec)
}

/// Classic unnamed `<Data>` values: `{"#text": x}`, `{"#text": [x, y]}`, a
/// scalar or a list; named `Data1`, `Data2`… by position.
fn unnamed_data(rec: &mut Record, v: &Json) {
    let items: Vec<&Json> = match v {
        Json::Object(o) => match o.get("#text") {
            Some(Json::Array(a)) => a.iter().collect(),
            Some(x) => vec![x],
            None => {
                // Data with attributes only, or a name map: keep what is there.
                for (k, x) in o.iter().filter(|(k, _)| k.as_str() != "#attributes") {
                    rec.push(k, render(x));
                }
                return;
            }
        },
        Json::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    for (i, item) in items.into_iter().enumerate() {
        rec.push(&format!("Data{}", i + 1), render(item));
    }
}

// ---------------------------------------------------------------------------
// Get-WinEvent JSON

fn record_from_winevent_json(obj: &Json, depth_lost: &mut bool) -> Result<Record, String> {
    let get = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| obj.get(*n).filter(|v| !v.is_null()))
    };
    let provider = get(&["ProviderName", "Source", "Provider"])
        .and_then(json_text)
        .and_then(|s| clean_name(&s))
        .ok_or("no ProviderName")?;
    let raw_id = get(&["Id", "EventID", "EventId", "InstanceId"]).ok_or("no Id")?;
    let (id, _) = event_id(raw_id)?;
    let time = get(&["TimeCreated", "TimeGenerated", "TimeWritten"]).and_then(|t| match t {
        // Windows PowerShell 5.1 sometimes wraps dates: {"value": "/Date(…)/", "DateTime": "…"}.
        Json::Object(o) => o
            .get("value")
            .and_then(json_text)
            .and_then(|s| parse_time(&s)),
        other => json_text(other).and_then(|s| parse_time(&s)),
    });
    let mut rec = Record {
        provider,
        id,
        qualifiers: get(&["Qualifiers"])
            .and_then(json_u64)
            .and_then(|q| u32::try_from(q).ok()),
        channel: get(&["LogName", "Channel"])
            .and_then(json_text)
            .and_then(|s| clean_name(&s)),
        computer: get(&["MachineName", "Computer"])
            .and_then(json_text)
            .and_then(|s| clean_name(&s)),
        time,
        record_id: get(&["RecordId", "Index"]).and_then(json_u64),
        message: get(&["Message"])
            .and_then(json_text)
            .map(|m| clip(&m, 2000)),
        ..Record::default()
    };
    let family = family_of(&rec.provider, None);
    let props = get(&["Properties", "ReplacementStrings"]);
    if let Some(Json::Array(items)) = props {
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Json::Object(o) => values.push(o.get("Value").map(render).unwrap_or_default()),
                Json::String(s) if s.starts_with("System.Diagnostics.Eventing.Reader.") => {
                    *depth_lost = true;
                }
                other => values.push(render(other)),
            }
        }
        let names = property_names(family, id, values.len());
        for (i, v) in values.into_iter().enumerate() {
            let name = names
                .and_then(|n| n.get(i))
                .map_or_else(|| format!("Data{}", i + 1), |n| (*n).to_string());
            let v = if name.eq_ignore_ascii_case("ErrorCode") {
                normalize_code(&v)
            } else {
                v
            };
            rec.push(&name, v);
        }
    } else if let Some(Json::String(s)) = props
        && s.starts_with("System.")
    {
        *depth_lost = true;
    }
    Ok(rec)
}

fn read_json(name: &str, text: &str, b: &mut Builder) -> Result<(), CollectError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut state = JsonState {
        b,
        depth_lost: false,
        values: 0,
    };
    loop {
        if let Err(e) = (TopLevel { state: &mut state }).deserialize(&mut de) {
            let seen = state.b.log.records + state.b.log.records_failed;
            if seen == 0 && state.values == 0 {
                return Err(format_err(
                    name,
                    format!("not a Get-WinEvent JSON export: {e}"),
                ));
            }
            state.b.warn(format!(
                "the JSON is invalid or cut off at line {}, column {} ({e}); the events before it were read",
                e.line(),
                e.column()
            ));
            break;
        }
        state.values += 1;
        if de.end().is_ok() {
            break;
        }
    }
    if state.depth_lost {
        state.b.warn(
            "Properties were cut off by ConvertTo-Json's default depth: event data fields are missing (re-export with ConvertTo-Json -Depth 4); the Message text was used where possible",
        );
    }
    Ok(())
}

struct JsonState<'a> {
    b: &'a mut Builder,
    depth_lost: bool,
    /// Top-level JSON values read.
    values: u64,
}

impl JsonState<'_> {
    fn event(&mut self, v: &Json) {
        let result = if v.get("Event").is_some() || v.get("System").is_some() {
            record_from_evtx_json(v)
        } else {
            record_from_winevent_json(v, &mut self.depth_lost)
        };
        match result {
            Ok(rec) => self.b.add(rec),
            Err(why) => {
                let n = self.b.log.records + self.b.log.records_failed + 1;
                self.b
                    .fail_record(format!("JSON event {n} not understood: {why}"));
            }
        }
    }

    /// A whole top-level object: an event, or PowerShell 5.1's `{"value": [...], "Count": n}`.
    fn object(&mut self, v: Json) {
        if let Some(Json::Array(items)) = v.get("value")
            && v.get("Id").is_none()
            && v.get("ProviderName").is_none()
        {
            for item in items {
                self.element(item);
            }
        } else {
            self.event(&v);
        }
    }

    fn element(&mut self, v: &Json) {
        if v.is_object() {
            self.event(v);
        } else {
            let n = self.b.log.records + self.b.log.records_failed + 1;
            self.b
                .fail_record(format!("JSON item {n} is not an object, not an event"));
        }
    }
}

/// Streams a top-level array element by element (bounded memory per event).
struct TopLevel<'s, 'b> {
    state: &'s mut JsonState<'b>,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object or an array of event objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Json>()? {
            self.state.element(&v);
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let v: Json =
            serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        self.state.object(v);
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// wevtutil XML

fn read_xml(name: &str, text: &str, b: &mut Builder) -> Result<(), CollectError> {
    let mut found = 0u64;
    let mut pos = 0usize;
    while let Some(start) = next_event_start(text, pos) {
        found += 1;
        let Some(end_rel) = text[start..].find("</Event>") else {
            b.fail_record(format!(
                "event {found} (byte {start}) has no closing </Event>: the export is cut off"
            ));
            break;
        };
        let end = start + end_rel + "</Event>".len();
        let slice = &text[start..end];
        pos = end;
        let opts = roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: MAX_XML_NODES,
            ..roxmltree::ParsingOptions::default()
        };
        match roxmltree::Document::parse_with_options(slice, opts) {
            Ok(doc) => match record_from_xml(doc.root_element()) {
                Ok(rec) => b.add(rec),
                Err(why) => b.fail_record(format!(
                    "event {found} (byte {start}) not understood: {why}"
                )),
            },
            Err(e) => b.fail_record(format!(
                "event {found} (byte {start}) is not well-formed XML: {e}"
            )),
        }
    }
    if found == 0 && !text.contains("<Events") {
        return Err(format_err(
            name,
            "XML without <Event> elements: not a wevtutil or Event Viewer export",
        ));
    }
    Ok(())
}

/// Byte offset of the next `<Event` start tag (not `<EventData`, `<Events`…).
fn next_event_start(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut pos = from;
    while let Some(rel) = text.get(pos..)?.find("<Event") {
        let at = pos + rel;
        match bytes.get(at + "<Event".len()) {
            Some(b' ' | b'\t' | b'\r' | b'\n' | b'>') => return Some(at),
            _ => pos = at + 1,
        }
    }
    None
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn xml_text(node: roxmltree::Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<String>()
}

fn record_from_xml(ev: roxmltree::Node) -> Result<Record, String> {
    if ev.tag_name().name() != "Event" {
        return Err(format!("root element <{}>", ev.tag_name().name()));
    }
    let sys = child(ev, "System").ok_or("no <System>")?;
    let prov = child(sys, "Provider").ok_or("no <Provider>")?;
    let provider = prov
        .attribute("Name")
        .and_then(clean_name)
        .ok_or("no provider name")?;
    let id_node = child(sys, "EventID").ok_or("no <EventID>")?;
    let id_text = xml_text(id_node);
    let id = parse_u64(&id_text)
        .ok_or_else(|| format!("event id {:?} is not a number", clip(&id_text, 40)))?;
    let text_of = |name: &str| child(sys, name).map(xml_text).and_then(|s| clean_name(&s));
    let mut rec = Record {
        provider,
        source: prov.attribute("EventSourceName").and_then(clean_name),
        id: (id & 0xFFFF) as u16,
        qualifiers: id_node
            .attribute("Qualifiers")
            .and_then(parse_u64)
            .and_then(|q| u32::try_from(q).ok()),
        channel: text_of("Channel"),
        computer: text_of("Computer"),
        time: child(sys, "TimeCreated")
            .and_then(|t| t.attribute("SystemTime"))
            .and_then(parse_time),
        record_id: child(sys, "EventRecordID").and_then(|n| parse_u64(&xml_text(n))),
        ..Record::default()
    };
    if let Some(data) = child(ev, "EventData") {
        let mut unnamed = 0;
        for d in data.children().filter(|c| c.is_element()) {
            let value = clip(&xml_text(d), MAX_VALUE_CHARS);
            match (d.tag_name().name(), d.attribute("Name")) {
                ("Data", Some(n)) => {
                    let v = if n.eq_ignore_ascii_case("ErrorCode") {
                        normalize_code(&value)
                    } else {
                        value
                    };
                    rec.push(n, v);
                }
                ("Data", None) => {
                    unnamed += 1;
                    rec.push(&format!("Data{unnamed}"), value);
                }
                (tag, _) => rec.push(tag, value),
            }
        }
    }
    if let Some(user) = child(ev, "UserData")
        && let Some(inner) = user.children().find(|c| c.is_element())
    {
        for f in inner.children().filter(|c| c.is_element()) {
            let subs: Vec<_> = f.children().filter(|c| c.is_element()).collect();
            if subs.is_empty() {
                rec.push(f.tag_name().name(), clip(&xml_text(f), MAX_VALUE_CHARS));
            } else {
                for s in subs {
                    let name = format!("{}.{}", f.tag_name().name(), s.tag_name().name());
                    rec.push(&name, clip(&xml_text(s), MAX_VALUE_CHARS));
                }
            }
        }
    }
    if let Some(m) = child(ev, "RenderingInfo").and_then(|r| child(r, "Message")) {
        let m = xml_text(m);
        if !m.trim().is_empty() {
            rec.message = Some(clip(m.trim(), 2000));
        }
    }
    Ok(rec)
}

// ---------------------------------------------------------------------------
// Facts

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

fn merged(
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
fn most_common(map: &BTreeMap<String, u64>) -> Option<String> {
    map.iter()
        .filter(|(k, _)| k.as_str() != "unknown" && k.as_str() != "(other)")
        .fold(None::<(&String, u64)>, |best, (k, n)| match best {
            Some((_, m)) if m >= *n => best,
            _ => Some((k, *n)),
        })
        .map(|(k, _)| k.clone())
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
