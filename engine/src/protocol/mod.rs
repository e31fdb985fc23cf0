//! JSON lines protocol v1 (DESIGN §8, a contract).
//!
//! One JSON object per request line, exactly one JSON object per response
//! line. Nothing a client sends ends the loop: malformed input gets an error
//! object. A request may carry `state` (from an earlier response) to be
//! applied to that state instead of the process's session, so a caller can
//! keep the state and use any number of processes.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Map, Value as Json, json};

use crate::Engine;
use crate::kb::model::Value;
use serde::Serialize;

use crate::session::{Advice, Assessment, Done, SessionError, Source, State};

/// Largest request line accepted (bytes, without the newline).
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// A protocol error: `code` is stable, `message` is for humans.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtoError {
    pub code: &'static str,
    pub message: String,
}

impl ProtoError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ProtoError {
            code,
            message: message.into(),
        }
    }
}

impl From<SessionError> for ProtoError {
    fn from(e: SessionError) -> Self {
        ProtoError::new(e.code(), e.to_string())
    }
}

/// Something that can run collectors on request (the CLI provides it, with
/// the operator's allow-list). The engine itself never touches the network.
pub trait Collect {
    /// Run collector `kind` with `args`; return facts and a description.
    fn collect(
        &mut self,
        kind: &str,
        args: &Map<String, Json>,
    ) -> Result<(String, BTreeMap<String, Value>), ProtoError>;
}

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
        let (id, result) = match parse_request(line) {
            Ok(req) => {
                let id = req.get("id").cloned();
                (id, self.handle(&req))
            }
            Err(e) => (None, Err(e)),
        };
        let mut out = match result {
            Ok((external, extra)) => {
                let state = external.as_ref().unwrap_or(&self.state);
                let a = state.assess(&self.engine);
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
                if let Some(kb) = req.get("kb") {
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
                }
                state = State::new(&engine);
                apply_observations(&engine, &mut state, req.get("observations"))?;
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
            "kb" => extra.extend(kb_description(&engine)),
            "collect" => {
                let Some(collector) = self.collector.as_mut() else {
                    return Err(ProtoError::new(
                        "not_allowed",
                        "collectors are disabled; the operator can allow them with `rootcause json --allow-probe HOST,...`",
                    ));
                };
                let kind = str_field(req, "collector")?;
                let (label, facts) = collector.collect(kind, req)?;
                let n = facts.len();
                state.add_facts(&engine, facts, &label)?;
                extra.insert("collected".into(), json!({"collector": label, "facts": n}));
            }
            other => {
                return Err(ProtoError::new(
                    "unknown_op",
                    format!(
                        "unknown op `{other}` (ops: start, observe, retract, fix_result, explain, whynot, why, state, kb, collect)"
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

fn merge<T: serde::Serialize>(into: &mut Map<String, Json>, x: &T) {
    if let Ok(Json::Object(m)) = serde_json::to_value(x) {
        into.extend(m);
    }
}

fn parse_request(line: &[u8]) -> Result<Map<String, Json>, ProtoError> {
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

fn str_field<'a>(req: &'a Map<String, Json>, name: &str) -> Result<&'a str, ProtoError> {
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

/// An answer: a string, or `true`/`false` for `yes`/`no`.
fn json_answer(v: &Json, name: &str) -> Result<String, ProtoError> {
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

fn value_field(req: &Map<String, Json>, name: &str) -> Result<String, ProtoError> {
    let v = req
        .get(name)
        .ok_or_else(|| ProtoError::new("bad_request", format!("the request needs `{name}`")))?;
    json_answer(v, name)
}

/// Apply `{"evidence": value, ...}` atomically: all or nothing.
fn apply_observations(
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

/// The KB's fixed texts, escaped for JSON once instead of per response.
pub struct Escaped {
    cause_title: Vec<Box<RawValue>>,
    fix_title: Vec<Box<RawValue>>,
    fix_risk: Vec<Option<Box<RawValue>>>,
}

fn raw(s: &str) -> Box<RawValue> {
    let json = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    RawValue::from_string(json)
        .unwrap_or_else(|_| RawValue::from_string("\"\"".into()).expect("valid JSON"))
}

impl Escaped {
    pub fn new(engine: &Engine) -> Escaped {
        let kb = &engine.kb;
        Escaped {
            cause_title: engine
                .model
                .causes
                .iter()
                .map(|c| raw(kb.cause(c).map_or(OTHER_TITLE, |x| x.title.as_str())))
                .collect(),
            fix_title: kb.fixes.iter().map(|f| raw(&f.title)).collect(),
            fix_risk: kb
                .fixes
                .iter()
                .map(|f| f.risk.as_deref().map(raw))
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct RankItem<'a> {
    cause: &'a str,
    title: &'a RawValue,
    probability: f64,
}

#[derive(Serialize)]
struct AnswerItem<'a> {
    value: &'a str,
    label: &'a str,
}

#[derive(Serialize)]
struct NextItem<'a> {
    evidence: &'a str,
    question: &'a str,
    answers: Vec<AnswerItem<'a>>,
    cost: f64,
    expected_gain_bits: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
}

#[derive(Serialize)]
struct FixItem<'a> {
    fix: &'a str,
    title: &'a RawValue,
    p_works: f64,
    cost: f64,
    risk: Option<&'a RawValue>,
}

/// A success response, serialised straight from borrowed data.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Json>,
    ok: bool,
    ranking: Vec<RankItem<'a>>,
    next: Option<NextItem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixes: Option<Vec<FixItem<'a>>>,
    advice: &'a Advice,
    done: bool,
    done_reason: Option<Done>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    contradiction: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    verified_fix: Option<&'a str>,
    state: &'a State,
    #[serde(flatten)]
    extra: &'a Map<String, Json>,
}

const OTHER_TITLE: &str = "None of the causes in this knowledge base";

fn body<'a>(
    engine: &'a Engine,
    texts: &'a Escaped,
    state: &'a State,
    a: &'a Assessment,
    extra: &'a Map<String, Json>,
    id: Option<&'a Json>,
) -> Body<'a> {
    let m = &engine.model;
    let kb = &engine.kb;
    let ranking = a
        .ranking
        .iter()
        .map(|&c| RankItem {
            cause: &m.causes[c],
            title: &texts.cause_title[c],
            probability: a.posterior[c],
        })
        .collect();
    let next = a.next.map(|q| {
        let e = &kb.evidence[q.evidence];
        let question = e.question.as_ref();
        NextItem {
            evidence: &e.id,
            question: question.map_or(e.title.as_str(), |q| q.text.as_str()),
            answers: e
                .values
                .iter()
                .map(|v| AnswerItem {
                    value: v,
                    label: question.and_then(|q| q.labels.get(v)).unwrap_or(v),
                })
                .collect(),
            cost: q.cost,
            expected_gain_bits: q.gain,
            help: question.and_then(|q| q.help.as_deref()),
        }
    });
    // The `kb` op lists the KB's fixes under `fixes` instead of the plan.
    let fixes = (!extra.contains_key("fixes")).then(|| {
        a.plan
            .iter()
            .map(|p| {
                let f = &kb.fixes[p.fix];
                FixItem {
                    fix: &f.id,
                    title: &texts.fix_title[p.fix],
                    p_works: p.p_works,
                    cost: f.cost,
                    risk: texts.fix_risk[p.fix].as_deref(),
                }
            })
            .collect()
    });
    Body {
        id,
        ok: true,
        ranking,
        next,
        fixes,
        advice: &a.advice,
        done: a.done.is_some(),
        done_reason: a.done,
        contradiction: a.contradiction,
        verified_fix: state.verified.as_deref(),
        state,
        extra,
    }
}

/// The standard success body for a state, as a JSON object.
pub fn response(engine: &Engine, state: &State) -> Map<String, Json> {
    let a = state.assess(engine);
    let extra = Map::new();
    let texts = Escaped::new(engine);
    match serde_json::to_value(body(engine, &texts, state, &a, &extra, None)) {
        Ok(Json::Object(m)) => m,
        _ => Map::new(),
    }
}

/// The `kb` op's description of causes, evidence and fixes.
fn kb_description(engine: &Engine) -> Map<String, Json> {
    let kb = &engine.kb;
    let m = &engine.model;
    let causes: Vec<Json> = kb
        .causes
        .iter()
        .map(|c| {
            let prior = m.cause_index(&c.id).map_or(0.0, |i| m.prior[i]);
            json!({"id": c.id, "title": c.title, "description": c.description, "prior": prior, "references": c.references})
        })
        .collect();
    let evidence: Vec<Json> = kb
        .evidence
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "title": e.title, "values": e.values, "cost": e.cost,
                "askable": e.question.is_some(),
                "question": e.question.as_ref().map(|q| &q.text),
                "labels": e.question.as_ref().map(|q| &q.labels),
            })
        })
        .collect();
    let fixes: Vec<Json> = kb
        .fixes
        .iter()
        .map(|f| {
            json!({"id": f.id, "title": f.title, "cost": f.cost, "risk": f.risk, "resolves": f.resolves,
                   "steps": f.steps.iter().map(|s| json!({"text": s.text, "commands": s.commands.iter().map(|c| json!({"kind": c.kind(), "text": c.text()})).collect::<Vec<_>>()})).collect::<Vec<_>>()})
        })
        .collect();
    let mut out = Map::new();
    out.insert(
        "kb".into(),
        json!({"id": kb.manifest.id, "title": kb.manifest.title, "version": kb.manifest.version, "problem": kb.manifest.problem}),
    );
    out.insert("causes".into(), Json::Array(causes));
    out.insert("evidence".into(), Json::Array(evidence));
    out.insert("fixes".into(), Json::Array(fixes));
    out
}

/// Read one line of at most `max` bytes. Returns `None` at end of input;
/// a longer line is consumed to its end and reported as `Err(len)`.
pub fn read_line_bounded(
    r: &mut impl BufRead,
    max: usize,
    buf: &mut Vec<u8>,
) -> io::Result<Option<Result<(), usize>>> {
    buf.clear();
    let mut total = 0usize;
    let mut over = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(if total == 0 && !over {
                None
            } else if over {
                Some(Err(total))
            } else {
                Some(Ok(()))
            });
        }
        let (part, found) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        total += part.len();
        if !over {
            if buf.len() + part.len() > max {
                over = true;
                buf.clear();
            } else {
                buf.extend_from_slice(part);
            }
        }
        let consumed = found.unwrap_or(chunk.len());
        r.consume(consumed);
        if found.is_some() {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Some(if over { Err(total) } else { Ok(()) }));
        }
    }
}

/// Serve requests from `input` until it ends, one response line each.
pub fn serve(
    server: &mut Server,
    input: &mut impl BufRead,
    output: &mut impl Write,
) -> io::Result<()> {
    let mut buf = Vec::new();
    while let Some(line) = read_line_bounded(input, MAX_REQUEST_BYTES, &mut buf)? {
        let reply = match line {
            Ok(()) if buf.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(()) => server.handle_line(&buf),
            Err(len) => json!({"ok": false, "error": {"code": "too_large",
                "message": format!("request of {len} bytes exceeds the limit of {MAX_REQUEST_BYTES}")}})
            .to_string(),
        };
        output.write_all(reply.as_bytes())?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(())
}
