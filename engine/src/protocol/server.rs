//! [`Server`]: one session, and each op applied to it.

use std::sync::Arc;

use serde_json::{Map, Value as Json, json};

use super::compact::compact;
use super::request::{
    apply_intake, apply_observations, check_kb, collect_into, facts_field, flag_field,
    parse_request, str_field, value_field,
};
use super::response::{Escaped, body, kb_description};
use super::{Collect, ProtoError};
use crate::Engine;
use crate::session::{Source, State};

/// A protocol endpoint holding one session.
pub struct Server {
    engine: Arc<Engine>,
    texts: Escaped,
    state: State,
    collector: Option<Box<dyn Collect>>,
}

impl Server {
    pub fn new(engine: Arc<Engine>) -> Server {
        let state = State::new(&engine);
        Server {
            texts: Escaped::new(&engine),
            engine,
            state,
            collector: None,
        }
    }

    /// Allow the `collect` op, through `collector`.
    pub fn with_collector(mut self, collector: Box<dyn Collect>) -> Server {
        self.collector = Some(collector);
        self
    }

    /// Handle one request line; always returns one JSON object (no newline).
    pub fn handle_line(&mut self, line: &[u8]) -> String {
        let (id, view, result) = match parse_request(line) {
            Ok(req) => {
                let id = req.get("id").cloned();
                match View::of(&req) {
                    Ok(view) => (id, view, self.handle(&req)),
                    Err(e) => (id, View::Full, Err(e)),
                }
            }
            Err(e) => (None, View::Full, Err(e)),
        };
        let mut out = match result {
            Ok((external, extra)) => {
                let state = external.as_ref().unwrap_or(&self.state);
                let a = state.assess(&self.engine);
                if let View::Compact { trace } = view {
                    return compact_reply(&self.engine, state, &a, extra, id, trace);
                }
                let reply = body(&self.engine, &self.texts, state, &a, &extra, id.as_ref());
                return serde_json::to_string(&reply).unwrap_or_else(|e| {
                    json!({"ok": false, "error": {"code": "internal", "message": e.to_string()}}).to_string()
                });
            }
            Err(e) => {
                let mut m = Map::new();
                m.insert("ok".into(), Json::Bool(false));
                m.insert(
                    "error".into(),
                    json!({"code": e.code, "message": e.message}),
                );
                m
            }
        };
        if let Some(id) = id {
            out.insert("id".into(), id);
        }
        Json::Object(out).to_string()
    }

    /// Apply a request. Returns the state it produced when the request
    /// carried its own (the process's session is left alone), and the
    /// op's extra fields.
    fn handle(
        &mut self,
        req: &Map<String, Json>,
    ) -> Result<(Option<State>, Map<String, Json>), ProtoError> {
        let op = match req.get("op") {
            Some(Json::String(s)) => s.as_str(),
            Some(_) => return Err(ProtoError::new("bad_request", "`op` must be a string")),
            None => return Err(ProtoError::new("bad_request", "the request has no `op`")),
        };
        let engine = self.engine.clone();
        let external = match req.get("state") {
            None | Some(Json::Null) => None,
            Some(s) => {
                let st: State = serde_json::from_value(s.clone()).map_err(|e| {
                    ProtoError::new("bad_state", format!("`state` is not a session state: {e}"))
                })?;
                st.validate(&engine)?;
                Some(st)
            }
        };
        let mut state = external.clone().unwrap_or_else(|| self.state.clone());
        let mut extra = Map::new();
        match op {
            "start" => {
                check_kb(&engine, req)?;
                state = State::new(&engine);
                apply_observations(&engine, &mut state, req.get("observations"))?;
                if let Some(v) = req.get("intake") {
                    extra.insert("intake".into(), apply_intake(&engine, &mut state, v)?);
                }
                if req.contains_key("target") {
                    // The host is probed before the first question, if the
                    // operator allowed it.
                    let Some(collector) = self.collector.as_mut() else {
                        return Err(ProtoError::new(
                            "not_allowed",
                            "`target` needs probing, which is off; the operator can allow it with `rootcause json --allow-probe HOST,...`",
                        ));
                    };
                    collect_into(
                        &engine,
                        &mut state,
                        collector.as_mut(),
                        "rdp_probe",
                        req,
                        &mut extra,
                    )?;
                }
                if let Some(facts) = req.get("facts") {
                    // Facts a collector produced elsewhere, e.g. one
                    // endpoint of `rootcause scan --format json`.
                    let label = match req.get("facts_source") {
                        None | Some(Json::Null) => "facts given".to_string(),
                        Some(_) => str_field(req, "facts_source")?.to_string(),
                    };
                    let facts = facts_field(&engine, facts)?;
                    let n = facts.len();
                    state.add_facts(&engine, facts, &label)?;
                    extra.insert("collected".into(), json!({"collector": label, "facts": n}));
                }
                if req.contains_key("text") {
                    let pasted = state.observe_text(&engine, str_field(req, "text")?)?;
                    extra.insert("extracted".into(), json!(pasted));
                }
            }
            "observe_text" => {
                let pasted = state.observe_text(&engine, str_field(req, "text")?)?;
                extra.insert("extracted".into(), json!(pasted));
            }
            "observe" => {
                if req.contains_key("observations") {
                    apply_observations(&engine, &mut state, req.get("observations"))?;
                } else {
                    let ev = str_field(req, "evidence")?;
                    let value = value_field(req, "value")?;
                    state.observe(&engine, ev, &value, Source::User)?;
                }
            }
            "retract" => state.retract(&engine, str_field(req, "evidence")?)?,
            "fix_result" => {
                let fix = str_field(req, "fix")?;
                let worked = req.get("worked").and_then(Json::as_bool).ok_or_else(|| {
                    ProtoError::new("bad_request", "`worked` must be true or false")
                })?;
                state.fix_result(&engine, fix, worked)?;
            }
            "explain" => {
                let cause = str_field(req, "cause")?;
                let x = engine.explain_cause(&state, cause)?;
                merge(&mut extra, &x);
            }
            "whynot" => {
                let cause = str_field(req, "cause")?;
                let x = engine.why_not(&state, cause)?;
                merge(&mut extra, &x);
            }
            "why" => {
                let ev = str_field(req, "evidence")?;
                let x = engine.why_question(&state, ev)?;
                merge(&mut extra, &x);
            }
            "state" => {}
            "history" => {
                // How the ranking moved, replayed from the state's trace,
                // and the same as a chart.
                let (h, svg) = crate::picture::chart::of_session(&engine, &state);
                extra.insert("chart_svg".into(), json!(svg));
                extra.insert("history".into(), json!(h));
            }
            "kb" => extra.extend(kb_description(&engine)),
            "collect" => {
                let Some(collector) = self.collector.as_mut() else {
                    return Err(ProtoError::new(
                        "not_allowed",
                        "collectors are disabled; the operator can allow them with `rootcause json --allow-probe HOST,...`",
                    ));
                };
                let kind = str_field(req, "collector")?;
                collect_into(
                    &engine,
                    &mut state,
                    collector.as_mut(),
                    kind,
                    req,
                    &mut extra,
                )?;
            }
            other => {
                return Err(ProtoError::new(
                    "unknown_op",
                    format!(
                        "unknown op `{other}` (ops: start, observe, observe_text, retract, fix_result, explain, whynot, why, state, history, kb, collect)"
                    ),
                ));
            }
        }
        if external.is_none() {
            self.state = state;
            Ok((None, extra))
        } else {
            Ok((Some(state), extra))
        }
    }
}

/// How much of the assessment a response carries.
#[derive(Clone, Copy)]
enum View {
    /// Everything (DESIGN §8).
    Full,
    /// [`compact`](super::compact::compact), and the state without its
    /// trace unless `trace` is asked for.
    Compact { trace: bool },
}

impl View {
    fn of(req: &Map<String, Json>) -> Result<View, ProtoError> {
        let trace = flag_field(req, "trace")?;
        match req.get("view") {
            None | Some(Json::Null) => Ok(View::Full),
            Some(Json::String(v)) if v == "full" => Ok(View::Full),
            Some(Json::String(v)) if v == "compact" => Ok(View::Compact { trace }),
            Some(_) => Err(ProtoError::new(
                "bad_request",
                "`view` must be \"full\" or \"compact\"",
            )),
        }
    }
}

fn compact_reply(
    engine: &Engine,
    state: &State,
    a: &crate::session::Assessment,
    extra: Map<String, Json>,
    id: Option<Json>,
    trace: bool,
) -> String {
    let mut out = Map::new();
    if let Some(id) = id {
        out.insert("id".into(), id);
    }
    out.insert("ok".into(), Json::Bool(true));
    out.extend(compact(engine, state, a));
    let state_json = if trace || state.trace.is_empty() {
        serde_json::to_value(state)
    } else {
        let mut s = state.clone();
        s.trace.clear();
        s.trace_dropped = 0;
        serde_json::to_value(&s)
    };
    out.insert("state".into(), state_json.unwrap_or(Json::Null));
    out.extend(extra);
    Json::Object(out).to_string()
}

fn merge<T: serde::Serialize>(into: &mut Map<String, Json>, x: &T) {
    if let Ok(Json::Object(m)) = serde_json::to_value(x) {
        into.extend(m);
    }
}
