//! The host evidence bundle (DESIGN §7): one JSON file that
//! `kb/rdp-0x904/collect.ps1` writes on the Windows host.
//!
//! ```json
//! {"format": "rootcause-bundle", "version": 1, "kb": "rdp-0x904",
//!  "computer": "SRV01", "collected": "2026-03-02T10:15:00.0000000Z",
//!  "checks": {"host_rdp_certificate": {"output": "{\"Expired\":true,...}", "error": null, "seconds": 0.8}}}
//! ```
//!
//! Each check's `output` is the text its PowerShell script printed; it is
//! parsed here with the parser the KB declares for the collector of the same
//! id ([`super::host::parse_output`]). A check the KB does not declare, a
//! check that failed on the host and output that cannot be parsed become
//! warnings; a file that is not a bundle of this KB is an error. Any input
//! gives a result or an error, never a panic.

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value as Json};

use super::host::{self, merge_facts};
use super::{CollectError, Collected, Facts};
use crate::Engine;

/// The KB collector id the bundle's facts are reported under.
pub const COLLECTOR_ID: &str = "host_bundle";
/// The `format` member of a bundle.
pub const FORMAT: &str = "rootcause-bundle";
/// The bundle `version` this code reads.
pub const VERSION: u64 = 1;
/// Largest bundle read (bytes).
pub const MAX_BUNDLE_BYTES: u64 = 16 << 20;
/// Warnings kept per bundle; the rest are counted.
const MAX_WARNINGS: usize = 50;

/// Read a bundle file (at most [`MAX_BUNDLE_BYTES`]; UTF-8 with or without a
/// byte order mark, or UTF-16 with one) and parse it with the engine's KB.
pub fn read_bundle(engine: &Engine, path: &Path) -> Result<Collected, CollectError> {
    let name = path.display().to_string();
    let io = |source| CollectError::Io {
        path: name.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(CollectError::Format {
            path: name,
            message: "is a directory, not a bundle file".into(),
        });
    }
    if meta.len() > MAX_BUNDLE_BYTES {
        return Err(too_large(&name, meta.len()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_BUNDLE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(too_large(&name, bytes.len() as u64));
    }
    parse_bundle(engine, &bytes, &name)
}

fn too_large(name: &str, len: u64) -> CollectError {
    CollectError::TooLarge(format!(
        "{name}: {len} bytes is more than a bundle can be ({} MiB); collect.ps1 writes a few hundred KiB at most",
        MAX_BUNDLE_BYTES >> 20
    ))
}

/// Parse a bundle's bytes; `name` says where they came from (for messages).
pub fn parse_bundle(engine: &Engine, bytes: &[u8], name: &str) -> Result<Collected, CollectError> {
    let fail = |message: String| CollectError::Format {
        path: name.to_string(),
        message,
    };
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(too_large(name, bytes.len() as u64));
    }
    let text = decode(bytes).map_err(&fail)?;
    if text.trim().is_empty() {
        return Err(fail("the file is empty: not a rootcause bundle".into()));
    }
    let doc: Json = serde_json::from_str(text.trim()).map_err(|e| {
        fail(format!(
            "not a rootcause bundle: the file is not valid JSON ({e})"
        ))
    })?;
    let Json::Object(root) = doc else {
        return Err(fail(
            "not a rootcause bundle: expected a JSON object with \"format\": \"rootcause-bundle\""
                .into(),
        ));
    };
    match root.get("format") {
        Some(Json::String(f)) if f == FORMAT => {}
        Some(other) => {
            return Err(fail(format!(
                "not a rootcause bundle: \"format\" is {}, expected \"{FORMAT}\"",
                short(&other.to_string(), 60)
            )));
        }
        None => {
            return Err(fail(format!(
                "not a rootcause bundle: no \"format\": \"{FORMAT}\" member (write one with kb/rdp-0x904/collect.ps1)"
            )));
        }
    }
    match root.get("version").and_then(Json::as_u64) {
        Some(VERSION) => {}
        Some(v) if v > VERSION => {
            return Err(fail(format!(
                "bundle version {v} is newer than this rootcause reads (version {VERSION}): update rootcause"
            )));
        }
        _ => {
            return Err(fail(format!(
                "bundle \"version\" is {}, expected {VERSION}",
                root.get("version")
                    .map_or("missing".to_string(), |v| short(&v.to_string(), 40))
            )));
        }
    }
    let kb = &engine.kb.manifest.id;
    match root.get("kb") {
        Some(Json::String(k)) if k == kb => {}
        Some(other) => {
            return Err(fail(format!(
                "the bundle was written for KB {}, but the KB in use is {kb}",
                short(&other.to_string(), 60)
            )));
        }
        None => {
            return Err(fail(format!(
                "the bundle has no \"kb\" member (expected \"{kb}\")"
            )));
        }
    }
    let Some(Json::Object(checks)) = root.get("checks") else {
        return Err(fail(
            "the bundle has no \"checks\" object (the outputs of the host checks)".into(),
        ));
    };
    let computer = root
        .get("computer")
        .and_then(Json::as_str)
        .map(|s| short(s, 64))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "an unnamed host".into());
    let collected = root
        .get("collected")
        .and_then(Json::as_str)
        .map(|s| short(s, 40))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "at an unknown time".into());

    let (facts, warnings) = apply_checks(engine, checks, &computer);
    Ok(Collected {
        collector: COLLECTOR_ID.to_string(),
        label: format!("bundle from {computer} collected {collected}"),
        facts,
        warnings,
    })
}

/// Parse every check of the bundle that the KB declares.
fn apply_checks(
    engine: &Engine,
    checks: &Map<String, Json>,
    computer: &str,
) -> (Facts, Vec<String>) {
    let known = host::host_checks(engine);
    let mut facts = Facts::new();
    let mut warnings = Vec::new();
    if checks.is_empty() {
        warnings.push("the bundle holds no checks".to_string());
    }
    for (id, entry) in checks {
        let Some((collector, _)) = known.iter().find(|(c, _)| &c.id == id) else {
            warnings.push(format!(
                "check {} is not a host check of KB {}: ignored",
                short(id, 60),
                engine.kb.manifest.id
            ));
            continue;
        };
        let Json::Object(entry) = entry else {
            warnings.push(format!(
                "check {id}: not an object with \"output\": ignored"
            ));
            continue;
        };
        let error = match entry.get("error") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) if s.trim().is_empty() => None,
            Some(Json::String(s)) => Some(short(s, 300)),
            Some(other) => Some(short(&other.to_string(), 300)),
        };
        let output = match entry.get("output") {
            Some(Json::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            // A bundle assembled by hand may hold the object itself.
            Some(v @ Json::Object(_)) => Some(v.to_string()),
            _ => None,
        };
        if let Some(e) = &error {
            warnings.push(format!("check {id} failed on {computer}: {e}"));
        }
        let Some(output) = output else {
            if error.is_none() {
                warnings.push(format!("check {id}: no output in the bundle"));
            }
            continue;
        };
        match host::parse_output_detailed(collector, &output) {
            Ok(parsed) => {
                for w in parsed.warnings {
                    warnings.push(format!("check {id}: {w}"));
                }
                merge_facts(&mut facts, &parsed.facts, id, &mut warnings);
            }
            Err(e) => warnings.push(format!("check {id}: {e}")),
        }
    }
    for (c, _) in &known {
        if !checks.contains_key(&c.id) {
            warnings.push(format!(
                "check {} is not in the bundle (written by an older collect.ps1?)",
                c.id
            ));
        }
    }
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len() - MAX_WARNINGS;
        warnings.truncate(MAX_WARNINGS);
        warnings.push(format!("... and {more} more warnings"));
    }
    (facts, warnings)
}

/// Bundle bytes as text: UTF-8 (with or without BOM) or UTF-16 with BOM
/// (what `Out-File` writes in Windows PowerShell 5.1); UTF-16LE without BOM
/// is recognised by its zero bytes.
fn decode(bytes: &[u8]) -> Result<String, String> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8(rest.to_vec())
            .map_err(|e| format!("not valid UTF-8 after its byte order mark ({e})"));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, u16::from_be_bytes);
    }
    if bytes.len() >= 2 && bytes[0] != 0 && bytes[1] == 0 {
        return utf16(bytes, u16::from_le_bytes);
    }
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        format!("not a rootcause bundle: the file is neither UTF-8 nor UTF-16 text ({e})")
    })
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, String> {
    if !bytes.len().is_multiple_of(2) {
        return Err("UTF-16 text with an odd number of bytes".into());
    }
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|e| format!("invalid UTF-16 text ({e})"))
}

/// At most `max` characters, control characters removed.
fn short(s: &str, max: usize) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).collect();
    if clean.chars().count() > max {
        let mut t: String = clean.chars().take(max).collect();
        t.push('…');
        t
    } else {
        clean
    }
}
