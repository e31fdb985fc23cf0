//! Session tokens: the whole state of a session in one signed string, so
//! any server process holding the same key can continue any session.
//!
//! `rc1.<payload>.<tag>`: the payload is a compact JSON form of the
//! [`State`] (evidence, values and fixes by index; the trace left out),
//! base64url without padding; the tag is the first 16 bytes of
//! HMAC-SHA256 over the payload. A token that is forged, truncated, too
//! large, signed with another key or made for another KB version is
//! refused with `bad_session`; nothing in it is trusted before the tag is
//! checked, and the decoded state is validated against the KB.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use serde::{Deserialize, Serialize};

use super::ProtoError;
use crate::Engine;
use crate::kb::model::Value;
use crate::kb::rules;
use std::sync::Arc;

use crate::session::{
    FixResult, Observation, PASTED_TEXT as PASTED, Source, State, TraceStep, UNKNOWN,
};

/// Largest token accepted (characters).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

const PREFIX: &str = "rc1.";
const TAG_BYTES: usize = 16;

/// The key that signs and checks tokens. Processes that share a key share
/// sessions.
pub struct SessionKey(hmac::Key);

impl SessionKey {
    /// A key from secret bytes (at least 16).
    pub fn new(secret: &[u8]) -> Result<SessionKey, ProtoError> {
        if secret.len() < 16 {
            return Err(ProtoError::new(
                "bad_key",
                "the session key must be at least 16 bytes long",
            ));
        }
        Ok(SessionKey(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    /// A random key: tokens are valid in this process only.
    pub fn random() -> Result<SessionKey, ProtoError> {
        let rng = ring::rand::SystemRandom::new();
        hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map(SessionKey)
            .map_err(|_| ProtoError::new("internal", "no randomness for a session key"))
    }

    fn tag(&self, payload: &[u8]) -> Vec<u8> {
        hmac::sign(&self.0, payload).as_ref()[..TAG_BYTES].to_vec()
    }
}

/// An observation: evidence index, value index (`-1` = unknown) and, when
/// not the user, its source: a pattern of pasted text by index (the matched
/// words are not carried), or any other source in full.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum WireObservation {
    User(u16, i16),
    Pasted(u16, i16, u16),
    Other(u16, i16, Source),
}

/// A step of the session's history, when the token keeps it: an action
/// (an index into [`STEP_ACTIONS`]), its target (evidence or fix index) and
/// value (value index, `-1` for unknown or none; for a fix 1 = worked); or
/// collector facts by the collector's label and how many.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum WireStep {
    Indexed(u8, u16, i16),
    Facts(String, u32),
}

const STEP_ACTIONS: [&str; 4] = ["observe", "retract", "fix_result", "verify_answer"];

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    o: Vec<WireObservation>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    f: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    fs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    d: BTreeMap<String, Value>,
    /// Fix results in order, one number each: twice the fix's index, plus
    /// one when it worked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    x: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vf: Option<u16>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    va: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vd: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    c: Vec<rules::Conflict>,
    /// The history, when the session keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<Vec<WireStep>>,
    /// Steps dropped from the front of the history.
    #[serde(default, skip_serializing_if = "is_zero")]
    td: usize,
}

fn bad(message: impl Into<String>) -> ProtoError {
    ProtoError::new("bad_session", message)
}

/// The token for `state` (its trace is not carried).
pub fn encode(engine: &Engine, key: &SessionKey, state: &State) -> String {
    encode_with(engine, key, state, false)
}

/// The steps of a trace in the token's form (verification outcomes, which
/// follow from the answers, are left out).
fn wire_steps(engine: &Engine, state: &State) -> Vec<WireStep> {
    let m = &engine.model;
    state
        .trace
        .iter()
        .filter_map(|t| {
            let action = STEP_ACTIONS.iter().position(|a| *a == t.action);
            match (action, t.action.as_str()) {
                (Some(a), "fix_result") => {
                    let f = m.fix_index(&t.target)?;
                    Some(WireStep::Indexed(
                        a as u8,
                        f as u16,
                        i16::from(t.value.as_deref() == Some("worked")),
                    ))
                }
                (Some(a), _) => {
                    let e = m.evidence_index(&t.target)?;
                    let v = t
                        .value
                        .as_deref()
                        .and_then(|v| m.evidence[e].value_index(v))
                        .map_or(-1, |i| i as i16);
                    Some(WireStep::Indexed(a as u8, e as u16, v))
                }
                (None, "facts") => {
                    let n = t
                        .value
                        .as_deref()
                        .and_then(|v| v.split_whitespace().next())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    Some(WireStep::Facts(t.target.clone(), n))
                }
                _ => None,
            }
        })
        .collect()
}

/// The token for `state`, with its history when `history` is set (about 8
/// bytes per step), so that any process can draw how the ranking moved.
pub fn encode_with(engine: &Engine, key: &SessionKey, state: &State, history: bool) -> String {
    let m = &engine.model;
    let fix = |id: &str| m.fix_index(id).map_or(u16::MAX, |i| i as u16);
    let o = state
        .observations
        .iter()
        .filter_map(|obs| {
            let e = m.evidence_index(&obs.evidence)?;
            let v = m.evidence[e]
                .values
                .iter()
                .position(|x| *x == obs.value)
                .map_or(-1, |i| i as i16);
            let pattern = |detail: &str| {
                let id = detail.split(':').next().unwrap_or_default();
                engine.kb.patterns.iter().position(|p| p.id == id)
            };
            Some(match &obs.source {
                Source::User => WireObservation::User(e as u16, v),
                Source::Collector { collector, detail } if collector == PASTED => {
                    match pattern(detail) {
                        Some(p) => WireObservation::Pasted(e as u16, v, p as u16),
                        None => WireObservation::Other(e as u16, v, obs.source.clone()),
                    }
                }
                s => WireObservation::Other(e as u16, v, s.clone()),
            })
        })
        .collect();
    let wire = Wire {
        v: state.kb_version.clone(),
        o,
        f: state.facts.clone(),
        fs: state.fact_sources.clone(),
        d: state.derived.clone(),
        x: state
            .fixes
            .iter()
            .map(|r| 2 * u32::from(fix(&r.fix)) + u32::from(r.worked))
            .collect(),
        vf: state.verifying.as_deref().map(fix),
        va: state.verify_answers.clone(),
        vd: state.verified.as_deref().map(fix),
        c: state.conflicts.clone(),
        t: history.then(|| wire_steps(engine, state)),
        td: if history { state.trace_dropped } else { 0 },
    };
    sign_payload(key, &serde_json::to_vec(&wire).unwrap_or_default())
}

/// A token for an arbitrary payload, signed with `key`: what a client that
/// knew the key could send. For fuzzing and tests of the decoder past the
/// signature check.
pub fn sign_payload(key: &SessionKey, payload: &[u8]) -> String {
    let payload = URL_SAFE_NO_PAD.encode(payload);
    let tag = URL_SAFE_NO_PAD.encode(key.tag(payload.as_bytes()));
    format!("{PREFIX}{payload}.{tag}")
}

/// The state a token carries, checked against the key and the KB.
pub fn decode(engine: &Engine, key: &SessionKey, token: &str) -> Result<State, ProtoError> {
    decode_full(engine, key, token).map(|(state, _)| state)
}

/// The state a token carries (its trace rebuilt when the token keeps the
/// history), and whether it keeps the history.
pub fn decode_full(
    engine: &Engine,
    key: &SessionKey,
    token: &str,
) -> Result<(State, bool), ProtoError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(ProtoError::new(
            "too_large",
            format!("the session token is over {MAX_TOKEN_BYTES} bytes"),
        ));
    }
    let rest = token.strip_prefix(PREFIX).ok_or_else(|| {
        bad("not a rootcause session token (it should start with `rc1.`); start a new session with start_diagnosis")
    })?;
    let (payload, tag) = rest
        .split_once('.')
        .ok_or_else(|| bad("the session token is truncated"))?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| bad("the session token is damaged"))?;
    if tag.len() != TAG_BYTES || !constant_time_eq(&key.tag(payload.as_bytes()), &tag) {
        return Err(bad(
            "the session token was altered, or signed by a server with another key",
        ));
    }
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| bad("the session token is damaged"))?;
    let wire: Wire = serde_json::from_slice(&json)
        .map_err(|e| bad(format!("the session token is damaged: {e}")))?;
    let m = &engine.model;
    let manifest = &engine.kb.manifest;
    if wire.v != manifest.version {
        return Err(bad(format!(
            "the session was made with KB {} {}, this server has {}: start a new session",
            manifest.id, wire.v, manifest.version
        )));
    }
    let fix = |i: u16| {
        m.fixes
            .get(i as usize)
            .map(|f| f.id.clone())
            .ok_or_else(|| bad("the session token names a fix this KB does not have"))
    };
    let mut observations = Vec::with_capacity(wire.o.len());
    for o in wire.o {
        let (e, v, source) = match o {
            WireObservation::User(e, v) => (e, v, Source::User),
            WireObservation::Pasted(e, v, p) => {
                let pattern = engine.kb.patterns.get(p as usize).ok_or_else(|| {
                    bad("the session token names a pattern this KB does not have")
                })?;
                let source = Source::Collector {
                    collector: PASTED.into(),
                    detail: pattern.id.clone(),
                };
                (e, v, source)
            }
            WireObservation::Other(e, v, s) => (e, v, s),
        };
        let ev = m
            .evidence
            .get(e as usize)
            .ok_or_else(|| bad("the session token names evidence this KB does not have"))?;
        let value = match v {
            -1 => UNKNOWN.to_string(),
            v => ev
                .values
                .get(v as usize)
                .cloned()
                .ok_or_else(|| bad("the session token holds a value this KB does not have"))?,
        };
        observations.push(Observation {
            evidence: ev.id.clone(),
            value,
            source,
        });
    }
    let state = State {
        kb: manifest.id.clone(),
        kb_version: wire.v,
        observations,
        facts: wire.f,
        fact_sources: wire.fs,
        derived: wire.d,
        fixes: wire
            .x
            .into_iter()
            .map(|n| {
                let f = u16::try_from(n / 2)
                    .map_err(|_| bad("the session token names an unknown fix"))?;
                fix(f).map(|fix| FixResult {
                    fix,
                    worked: n % 2 == 1,
                })
            })
            .collect::<Result<_, _>>()?,
        verifying: wire.vf.map(fix).transpose()?,
        verify_answers: wire.va,
        verified: wire.vd.map(fix).transpose()?,
        trace: Vec::new(),
        trace_dropped: wire.td,
        conflicts: wire.c,
    };
    let kept = wire.t.is_some();
    let mut state = state;
    for step in wire.t.unwrap_or_default() {
        state.trace.push(Arc::new(trace_step(engine, step)?));
    }
    state.validate(engine).map_err(|e| bad(e.to_string()))?;
    Ok((state, kept))
}

/// A history step back in the trace's form (the top causes before and
/// after are not carried: the history is replayed from the steps).
fn trace_step(engine: &Engine, step: WireStep) -> Result<TraceStep, ProtoError> {
    let m = &engine.model;
    let (action, target, value) = match step {
        WireStep::Facts(label, n) => ("facts", label, Some(format!("{n} facts"))),
        WireStep::Indexed(a, t, v) => {
            let action = *STEP_ACTIONS
                .get(a as usize)
                .ok_or_else(|| bad("the session token's history has an unknown step"))?;
            if action == "fix_result" {
                let f = m
                    .fixes
                    .get(t as usize)
                    .ok_or_else(|| bad("the session token's history names an unknown fix"))?;
                let outcome = if v == 1 { "worked" } else { "failed" };
                (action, f.id.clone(), Some(outcome.to_string()))
            } else {
                let e = m
                    .evidence
                    .get(t as usize)
                    .ok_or_else(|| bad("the session token's history names unknown evidence"))?;
                let value = match (action, v) {
                    ("retract", _) => None,
                    (_, -1) => Some(UNKNOWN.to_string()),
                    (_, v) => Some(e.values.get(v as usize).cloned().ok_or_else(|| {
                        bad("the session token's history holds an unknown value")
                    })?),
                };
                (action, e.id.clone(), value)
            }
        }
    };
    Ok(TraceStep {
        action: action.into(),
        target,
        value,
        source: "user".into(),
        before: Vec::new(),
        after: Vec::new(),
    })
}

/// Constant-time comparison of two secrets (tags, bearer tokens).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
