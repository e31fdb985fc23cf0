//! Request lines: parsing, typed fields, answers given as JSON.

use serde_json::{Map, Value as Json};

use super::{Collect, MAX_REQUEST_BYTES, ProtoError};
use crate::Engine;
use crate::session::{Source, State};

pub(super) fn parse_request(line: &[u8]) -> Result<Map<String, Json>, ProtoError> {
    if line.len() > MAX_REQUEST_BYTES {
        return Err(ProtoError::new(
            "too_large",
            format!(
                "request of {} bytes exceeds the limit of {MAX_REQUEST_BYTES}",
                line.len()
            ),
        ));
    }
    let text = std::str::from_utf8(line)
        .map_err(|e| ProtoError::new("bad_json", format!("request is not UTF-8: {e}")))?;
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(m)) => Ok(m),
        Ok(_) => Err(ProtoError::new(
            "bad_json",
            "a request must be a JSON object",
        )),
        Err(e) => Err(ProtoError::new("bad_json", format!("invalid JSON: {e}"))),
    }
}

pub(super) fn str_field<'a>(req: &'a Map<String, Json>, name: &str) -> Result<&'a str, ProtoError> {
    match req.get(name) {
        Some(Json::String(s)) => Ok(s),
        Some(_) => Err(ProtoError::new(
            "bad_request",
            format!("`{name}` must be a string"),
        )),
        None => Err(ProtoError::new(
            "bad_request",
            format!("the request needs `{name}`"),
        )),
    }
}

/// `start`'s optional `kb`: it must name the KB this process serves.
pub(super) fn check_kb(engine: &Engine, req: &Map<String, Json>) -> Result<(), ProtoError> {
    let Some(kb) = req.get("kb") else {
        return Ok(());
    };
    let name = kb
        .as_str()
        .ok_or_else(|| ProtoError::new("bad_request", "`kb` must be a string"))?;
    if name != engine.kb.manifest.id {
        return Err(ProtoError::new(
            "unknown_kb",
            format!(
                "this process serves KB `{}`, not `{name}`",
                engine.kb.manifest.id
            ),
        ));
    }
    Ok(())
}

/// Run collector `kind` and add its facts to `state`; reports the run in
/// `extra` (`collected`).
pub(super) fn collect_into(
    engine: &Engine,
    state: &mut State,
    collector: &mut dyn Collect,
    kind: &str,
    req: &Map<String, Json>,
    extra: &mut Map<String, Json>,
) -> Result<(), ProtoError> {
    let (label, facts) = collector.collect(kind, req)?;
    let n = facts.len();
    state.add_facts(engine, facts, &label)?;
    extra.insert(
        "collected".into(),
        serde_json::json!({"collector": label, "facts": n}),
    );
    Ok(())
}

/// An optional boolean field (absent or `null`: false).
pub(super) fn flag_field(req: &Map<String, Json>, name: &str) -> Result<bool, ProtoError> {
    match req.get(name) {
        None | Some(Json::Null) => Ok(false),
        Some(Json::Bool(b)) => Ok(*b),
        Some(_) => Err(ProtoError::new(
            "bad_request",
            format!("`{name}` must be true or false"),
        )),
    }
}

/// An answer: a string, or `true`/`false` for `yes`/`no`.
pub(super) fn json_answer(v: &Json, name: &str) -> Result<String, ProtoError> {
    match v {
        Json::String(s) => Ok(s.clone()),
        Json::Bool(true) => Ok("yes".into()),
        Json::Bool(false) => Ok("no".into()),
        Json::Null => Ok("unknown".into()),
        _ => Err(ProtoError::new(
            "bad_value",
            format!("`{name}` must be a string or a boolean"),
        )),
    }
}

pub(super) fn value_field(req: &Map<String, Json>, name: &str) -> Result<String, ProtoError> {
    let v = req
        .get(name)
        .ok_or_else(|| ProtoError::new("bad_request", format!("the request needs `{name}`")))?;
    json_answer(v, name)
}

/// Apply `{"evidence": value, ...}` atomically: all or nothing.
pub(super) fn apply_observations(
    engine: &Engine,
    state: &mut State,
    obs: Option<&Json>,
) -> Result<(), ProtoError> {
    let Some(obs) = obs else { return Ok(()) };
    let map = obs.as_object().ok_or_else(|| {
        ProtoError::new(
            "bad_request",
            "`observations` must be an object of evidence: value",
        )
    })?;
    let mut next = state.clone();
    for (ev, v) in map {
        let value = json_answer(v, ev)?;
        next.observe(engine, ev, &value, Source::User)?;
    }
    *state = next;
    Ok(())
}

/// `start`'s `intake`: apply a list of intake choice names (the `kb` op
/// lists them), e.g. `["credssp", "update"]`; returns what they set as
/// `{"evidence_id": value}`.
pub(super) fn apply_intake(
    engine: &Engine,
    state: &mut State,
    v: &Json,
) -> Result<Json, ProtoError> {
    let keys = intake_field(v)?;
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let set = state.intake(engine, &keys)?;
    Ok(Json::Object(
        set.into_iter().map(|(e, v)| (e, Json::String(v))).collect(),
    ))
}

fn intake_field(v: &Json) -> Result<Vec<String>, ProtoError> {
    let bad = || {
        ProtoError::new(
            "bad_request",
            "`intake` must be a list of intake choice names, e.g. [\"credssp\", \"update\"] (the `kb` op lists them)",
        )
    };
    let list = v.as_array().ok_or_else(bad)?;
    list.iter()
        .map(|x| x.as_str().map(str::to_string).ok_or_else(bad))
        .collect()
}

/// `start`'s `facts`: `{"probe.tcp": "ok", "probe.cert.days_left": -3, ...}`,
/// each a fact some collector of the KB produces, with a string, number or
/// boolean value.
pub(super) fn facts_field(engine: &Engine, v: &Json) -> Result<crate::collect::Facts, ProtoError> {
    use crate::kb::model::Value;
    let map = v.as_object().ok_or_else(|| {
        ProtoError::new("bad_request", "`facts` must be an object of fact: value")
    })?;
    let known = |name: &str| {
        engine
            .kb
            .collectors
            .iter()
            .any(|c| c.produces.iter().any(|p| p == name))
    };
    let mut out = crate::collect::Facts::new();
    for (name, value) in map {
        if !known(name) {
            return Err(ProtoError::new(
                "bad_request",
                format!("`facts`: `{name}` is not a fact any collector of the KB produces"),
            ));
        }
        let value = match value {
            Json::String(s) => Value::Text(s.clone()),
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            _ => {
                return Err(ProtoError::new(
                    "bad_request",
                    format!("`facts`: `{name}` must be a string, a number or a boolean"),
                ));
            }
        };
        out.insert(name.clone(), value);
    }
    Ok(out)
}
