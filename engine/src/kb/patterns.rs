//! Pasted text to evidence: the KB's `patterns.ron` run over what a user
//! pastes (an mstsc dialog, an Event Viewer line or XML, the output of
//! `Test-NetConnection`, `certutil`, `reg query`, `Get-HotFix`, …).
//!
//! Patterns are data: each is a regular expression of the `regex` crate
//! (linear time in the text, so a pattern cannot be made to run away) and
//! the evidence values it sets. They match ASCII case-insensitively over
//! the text's bytes: the texts they are for (dialogs, events, command
//! output) are matched on ASCII words, and Unicode case folding would cost
//! more to compile than the rest of loading a KB. Text is bounded ([`MAX_TEXT_BYTES`]) and
//! must be text: non-UTF-8 or binary input is refused with a clear error.
//! Every extracted value names the pattern and the words that matched, so
//! the user sees which words said what.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use once_cell::sync::Lazy;
use regex::bytes::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `patterns.ron`: how pasted text (an error dialog, an event, the output
/// of a command) becomes evidence. Every pattern carries real example texts
/// that `kb check` matches against it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pattern {
    pub id: String,
    #[serde(default)]
    pub description: String,
    /// A regular expression (the `regex` crate: linear time, no
    /// backreferences), matched case-insensitively.
    pub regex: String,
    /// Evidence id -> value, set when the pattern matches.
    pub sets: BTreeMap<String, String>,
    /// Texts the pattern must match.
    pub examples: Vec<String>,
    /// Texts it must not match.
    #[serde(default)]
    pub counter_examples: Vec<String>,
    /// Where the example texts come from (URL or source key).
    #[serde(default)]
    pub source: String,
}

use thiserror::Error;

use crate::kb::load::Kb;
use crate::kb::rules::{MAX_REGEX_BYTES, MAX_REGEX_LEN, regex_error_gist};

/// Largest text accepted at once.
pub const MAX_TEXT_BYTES: usize = 1 << 20;

/// Longest matched text kept for the user to see.
const MAX_SHOWN_CHARS: usize = 160;

/// A value a pattern found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Extracted {
    pub evidence: String,
    pub value: String,
    /// The pattern that matched.
    pub pattern: String,
    /// The words that matched (shortened when long).
    pub text: String,
}

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TextError {
    #[error("the text is {0} bytes; at most {MAX_TEXT_BYTES} bytes are read at once")]
    TooLarge(usize),
    #[error("the text is not UTF-8 (byte {0}); paste it as text, or save it as UTF-8")]
    NotUtf8(usize),
    #[error("the text contains binary data (a NUL byte at {0}); paste text, not a file")]
    Binary(usize),
}

impl TextError {
    /// The protocol error code.
    pub fn code(&self) -> &'static str {
        match self {
            TextError::TooLarge(_) => "too_large",
            TextError::NotUtf8(_) | TextError::Binary(_) => "bad_text",
        }
    }
}

/// Check raw bytes and extract from them.
pub fn extract_bytes(kb: &Kb, bytes: &[u8]) -> Result<Vec<Extracted>, TextError> {
    if bytes.len() > MAX_TEXT_BYTES {
        return Err(TextError::TooLarge(bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| TextError::NotUtf8(e.valid_up_to()))?;
    extract(kb, text)
}

/// Every evidence value the KB's patterns find in `text`, in pattern order.
/// When two patterns set one evidence variable, the first pattern wins.
pub fn extract(kb: &Kb, text: &str) -> Result<Vec<Extracted>, TextError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(TextError::TooLarge(text.len()));
    }
    if let Some(at) = text.bytes().position(|b| b == 0) {
        return Err(TextError::Binary(at));
    }
    let mut out: Vec<Extracted> = Vec::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for p in &kb.patterns {
        let Ok(re) = compiled(&p.regex) else { continue };
        let Some(m) = re.find(text.as_bytes()) else {
            continue;
        };
        let matched = String::from_utf8_lossy(m.as_bytes());
        for (evidence, value) in &p.sets {
            if !seen.insert(evidence.as_str()) {
                continue;
            }
            out.push(Extracted {
                evidence: evidence.clone(),
                value: value.clone(),
                pattern: p.id.clone(),
                text: shorten(&matched),
            });
        }
    }
    Ok(out)
}

static CACHE: Lazy<Mutex<HashMap<String, Arc<Regex>>>> = Lazy::new(Default::default);

/// The pattern compiled ASCII-case-insensitively over bytes (cached,
/// size-bounded).
pub fn compiled(pattern: &str) -> Result<Arc<Regex>, String> {
    if let Ok(cache) = CACHE.lock()
        && let Some(r) = cache.get(pattern)
    {
        return Ok(r.clone());
    }
    if pattern.len() > MAX_REGEX_LEN {
        return Err(format!("regex longer than {MAX_REGEX_LEN} characters"));
    }
    let re = RegexBuilder::new(pattern)
        .case_insensitive(true)
        .unicode(false)
        .size_limit(MAX_REGEX_BYTES)
        .dfa_size_limit(MAX_REGEX_BYTES)
        .build()
        .map_err(|e| regex_error_gist(&e))?;
    let re = Arc::new(re);
    if let Ok(mut cache) = CACHE.lock() {
        cache.insert(pattern.to_string(), re.clone());
    }
    Ok(re)
}

/// Compile `patterns` into the cache on up to `available_parallelism`
/// threads: compiling is most of what `kb check` spends on a KB's patterns.
/// A pattern that fails to compile is left for the caller's own
/// [`compiled`] call to report.
pub fn precompile(patterns: &[&str]) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(patterns.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        while let Some(p) = patterns.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            let _ = compiled(p);
        }
    };
    if threads <= 1 {
        work();
        return;
    }
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(work);
        }
    });
}

fn shorten(s: &str) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_SHOWN_CHARS {
        one_line
    } else {
        let mut t: String = one_line.chars().take(MAX_SHOWN_CHARS).collect();
        t.push('…');
        t
    }
}
