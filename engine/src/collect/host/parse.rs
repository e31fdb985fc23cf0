//! Parsing a check's output into facts: JSON documents (with PowerShell's depth truncation detected) or regex captures; text facts bounded.

use super::*;

/// Apply a host check's parser to what its command printed.
///
/// JSON values become facts (`true`/`false`, numbers, strings); `null` or a
/// missing member leaves the fact out. A UTF-8 byte order mark and lines
/// printed around the JSON object (warnings) are tolerated; strings that
/// PowerShell writes where `-Depth` cut an object off
/// (`System.Collections.Hashtable`, `@{...}`) are not taken as values. With a
/// `Regex` parser the first capture group is the value; numbers become
/// numbers and `True`/`False` booleans.
pub fn parse_output(collector: &Collector, output: &str) -> Result<Facts, CollectError> {
    parse_output_detailed(collector, output).map(|p| p.facts)
}

/// [`parse_output`], also returning the warnings.
pub fn parse_output_detailed(collector: &Collector, output: &str) -> Result<Parsed, CollectError> {
    let CollectorKind::HostCommand(h) = &collector.kind else {
        return Err(CollectError::Usage(format!(
            "collector `{}` is not a host command",
            collector.id
        )));
    };
    let format_err = |message: String| CollectError::Format {
        path: format!("check {}", collector.id),
        message,
    };
    let text = output.trim_start_matches('\u{feff}');
    let mut parsed = Parsed::default();
    match &h.parse {
        Parser::Json(map) => {
            let doc = json_document(text).map_err(format_err)?;
            for (fact, pointer) in map {
                match doc.pointer(pointer) {
                    Some(v) => match json_fact(v) {
                        Ok(Some(value)) => {
                            parsed.facts.insert(fact.clone(), limit_text(value));
                        }
                        Ok(None) => {}
                        Err(why) => parsed
                            .warnings
                            .push(format!("{fact} ({pointer}) {why}: left out")),
                    },
                    None => {
                        if let Some(prefix) = truncated_prefix(&doc, pointer) {
                            parsed.warnings.push(format!(
                                "{fact} ({pointer}): {prefix} was cut off by ConvertTo-Json -Depth: left out"
                            ));
                        }
                    }
                }
            }
        }
        Parser::Regex(map) => {
            if text.trim().is_empty() {
                return Err(format_err("the command printed nothing".into()));
            }
            for (fact, pattern) in map {
                let re = crate::kb::rules::regex(pattern).map_err(|e| {
                    CollectError::Usage(format!(
                        "collector `{}`: bad regex for `{fact}`: {e}",
                        collector.id
                    ))
                })?;
                if let Some(m) = re
                    .captures(text)
                    .and_then(|c| c.get(1).or_else(|| c.get(0)))
                {
                    parsed
                        .facts
                        .insert(fact.clone(), limit_text(text_fact(m.as_str())));
                }
            }
        }
    }
    Ok(parsed)
}

/// The JSON object in a command's output.
pub(super) fn json_document(text: &str) -> Result<Json, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("the command printed nothing".into());
    }
    let doc = match serde_json::from_str::<Json>(t) {
        Ok(v) => v,
        Err(first) => {
            // Warnings or host output around the JSON: `-Compress` prints the
            // object on one line, so take the last line that is one; else the
            // span from the first `{` to the last `}`.
            let line = t.lines().rev().find_map(|l| {
                let l = l.trim().trim_start_matches('\u{feff}');
                if l.starts_with('{') {
                    serde_json::from_str::<Json>(l).ok()
                } else {
                    None
                }
            });
            let span = || {
                let (a, b) = (t.find('{')?, t.rfind('}')?);
                (a < b)
                    .then(|| serde_json::from_str::<Json>(&t[a..=b]).ok())
                    .flatten()
            };
            match line.or_else(span) {
                Some(v) => v,
                None => return Err(format!("the output is not JSON ({first})")),
            }
        }
    };
    if !doc.is_object() {
        return Err(format!(
            "expected one JSON object, found {}",
            json_kind(&doc)
        ));
    }
    Ok(doc)
}

pub(super) fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Strings PowerShell writes for objects deeper than `ConvertTo-Json -Depth`
/// (the object's `ToString()`): a type name or a `@{Name=value; ...}` text.
pub(super) static TRUNCATED: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"(?s)^(?:(?:System|Microsoft)\.[A-Za-z0-9_.`+#/\[\], ]+|@\{.*\})$")
        .expect("valid regex")
});

/// Whether a JSON string is PowerShell's stand-in for a cut-off object.
pub fn is_depth_truncation(s: &str) -> bool {
    TRUNCATED.is_match(s.trim())
}

pub(super) fn json_fact(v: &Json) -> Result<Option<Value>, String> {
    match v {
        Json::Null => Ok(None),
        Json::Bool(b) => Ok(Some(Value::Bool(*b))),
        Json::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() => Ok(Some(Value::Number(x))),
            _ => Err("is not a usable number".into()),
        },
        Json::String(s) if is_depth_truncation(s) => Err(format!(
            "is {s:.60?}, an object cut off by ConvertTo-Json -Depth"
        )),
        Json::String(s) => Ok(Some(Value::Text(s.clone()))),
        Json::Array(_) | Json::Object(_) => Err(format!("is {}, not a single value", json_kind(v))),
    }
}

/// The longest prefix of `pointer` that resolves to a depth-truncation string.
pub(super) fn truncated_prefix(doc: &Json, pointer: &str) -> Option<String> {
    pointer
        .match_indices('/')
        .map(|(i, _)| &pointer[..i])
        .filter(|prefix| !prefix.is_empty())
        .find(
            |prefix| matches!(doc.pointer(prefix), Some(Json::String(s)) if is_depth_truncation(s)),
        )
        .map(str::to_string)
}

/// A regex capture as a typed value.
pub(super) fn text_fact(raw: &str) -> Value {
    let t = raw.trim();
    if t.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if t.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    let numeric = !t.is_empty()
        && t.chars().any(|c| c.is_ascii_digit())
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
    if numeric
        && let Ok(n) = t.parse::<f64>()
        && n.is_finite()
    {
        return Value::Number(n);
    }
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))
        && !hex.is_empty()
        && hex.len() <= 16
        && let Ok(n) = u64::from_str_radix(hex, 16)
    {
        return Value::Number(n as f64);
    }
    Value::Text(t.to_string())
}

pub(super) fn limit_text(v: Value) -> Value {
    match v {
        Value::Text(s) if s.chars().count() > MAX_TEXT_FACT => {
            Value::Text(s.chars().take(MAX_TEXT_FACT).collect())
        }
        v => v,
    }
}

// ---------------------------------------------------------------- running
