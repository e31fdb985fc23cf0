//! The MCP tools as plain functions: their names (a contract), input and
//! output schemas, and what each call does. The binary puts them on a
//! transport (stdio or streamable HTTP); nothing here does I/O.
//!
//! Every answer that continues a session carries the compact view
//! ([`super::compact`]) and a `session` token ([`super::token`]) holding
//! the whole state, so calls of one session may reach any process that
//! shares the key.

use serde_json::{Map, Value as Json, json};

use super::compact::{compact, text};
use super::request::{
    apply_intake, apply_observations, check_kb, collect_into, flag_field, json_answer, str_field,
};
use super::token::{SessionKey, decode_full, encode_with};
use super::{Collect, ProtoError};
use crate::Engine;
use crate::kb::codes::{self, parse_code};
use crate::session::{Source, State};

/// One tool's description for `tools/list`.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub input_schema: Json,
    pub output_schema: Json,
}

/// A tool's answer: structured content and a short text for the model.
#[derive(Debug, Clone)]
pub struct Answer {
    pub structured: Map<String, Json>,
    pub text: String,
}

/// Characters of matched text quoted back per extracted value.
const MATCH_CHARS: usize = 48;

const SESSION_DOC: &str =
    "The `session` token from the previous answer (it carries the whole diagnosis).";

fn diagnosis_schema() -> Json {
    json!({
        "type": "object",
        "required": ["session", "ranking", "next", "fixes", "advice", "done"],
        "properties": {
            "session": {"type": "string", "description": "Pass it to the next call."},
            "ranking": {"type": "array", "items": {"type": "object",
                "required": ["cause", "probability"],
                "properties": {"cause": {"type": "string"}, "probability": {"type": "number"}}}},
            "next": {"type": ["object", "null"],
                "properties": {"evidence": {"type": "string"}, "question": {"type": "string"},
                    "answers": {"type": "object", "additionalProperties": {"type": "string"}, "description": "value: what it means"},
                    "how_to_find_out": {"type": "string"}}},
            "fixes": {"type": "array", "items": {"type": "object",
                "required": ["fix", "title", "p_works"],
                "properties": {"fix": {"type": "string"}, "title": {"type": "string"}, "p_works": {"type": "number"}, "lowers_security": {"type": "boolean"}}}},
            "advice": {"type": "object", "required": ["step", "say"],
                "properties": {"step": {"enum": ["ask", "try_fix", "escalate"]}, "fix": {"type": "string"}, "say": {"type": "string"}}},
            "done": {"type": "boolean"},
            "done_reason": {"type": ["string", "null"]},
            "verified_fix": {"type": "string"},
            "extracted": {"type": "array", "items": {"type": "object"}},
            "intake": {"type": "object"},
            "collected": {"type": "object"}
        }
    })
}

fn observations_schema() -> Json {
    json!({"type": "object", "additionalProperties": {"type": ["string", "boolean", "null"]},
           "description": "Answers already known, evidence id: value (`unknown` allowed)."})
}

/// The tools, `probe_rdp` only when the operator allowed probing.
pub fn specs(probe: bool) -> Vec<ToolSpec> {
    let mut out = vec![
        ToolSpec {
            name: "start_diagnosis",
            title: "Start a diagnosis",
            description: "Start diagnosing a Remote Desktop failure (error 0x904 / extended 0x7 and its neighbours). Give what the user already said: pasted error text or command output in `text` (facts are extracted from it), known answers in `observations`. Returns the likely causes, the next question to ask the user, advice, the top fixes and a `session` token for the next call.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "kb": {"type": "string", "description": "Knowledge base id (default: the one this server serves)."},
                    "observations": observations_schema(),
                    "intake": {"type": "array", "items": {"type": "string"}, "description": "The user's first answer, several facts at once: what the error dialog says (`cant_connect`: only the 0x904 'can't connect' dialog, `credssp`, `licensing`) how the client reaches the host (`lan`, `vpn`, `gateway`, `internet`), whether others still connect (`others_connect`, `all_fail`), and what changed shortly before (`update`, `certificate`, `antivirus`, `policy`, `network`, or `none`). The `kb` resource lists every choice."},
                    "text": {"type": "string", "description": "What the user pasted: the error dialog, event log lines, command output (at most 1 MiB)."},
                    "target": {"type": "string", "description": "Host to probe first, if the operator allowed probing."},
                    "history": {"type": "boolean", "description": "Keep the session's history in its token (about 8 bytes per step), for the `history` tool's chart."}
                }
            }),
            output_schema: diagnosis_schema(),
        },
        ToolSpec {
            name: "answer",
            title: "Answer a question",
            description: "Give the user's answer to a question (`evidence` and `value`, `unknown` if they cannot tell), or several at once in `observations`, or pasted text in `text`. Returns the updated diagnosis and a new `session` token.",
            input_schema: json!({
                "type": "object",
                "required": ["session"],
                "properties": {
                    "session": {"type": "string", "description": SESSION_DOC},
                    "evidence": {"type": "string"},
                    "value": {"type": ["string", "boolean", "null"]},
                    "observations": observations_schema(),
                    "text": {"type": "string", "description": "More pasted text to extract facts from."}
                }
            }),
            output_schema: diagnosis_schema(),
        },
        ToolSpec {
            name: "report_fix",
            title: "Report a fix's result",
            description: "Report whether a fix the user tried worked. A fix that worked is confirmed by its verification question next; one that failed counts against its causes.",
            input_schema: json!({
                "type": "object",
                "required": ["session", "fix", "worked"],
                "properties": {
                    "session": {"type": "string", "description": SESSION_DOC},
                    "fix": {"type": "string"},
                    "worked": {"type": "boolean"}
                }
            }),
            output_schema: diagnosis_schema(),
        },
        ToolSpec {
            name: "explain",
            title: "Explain",
            description: "Why a cause ranks where it does (`cause`: each answer's contribution, and which answers would raise it), or why a question is worth asking (`evidence`). Without either: the top cause.",
            input_schema: json!({
                "type": "object",
                "required": ["session"],
                "properties": {
                    "session": {"type": "string", "description": SESSION_DOC},
                    "cause": {"type": "string"},
                    "evidence": {"type": "string"}
                }
            }),
            output_schema: json!({"type": "object", "required": ["kind"],
                "properties": {"kind": {"enum": ["cause", "question"]}}}),
        },
        ToolSpec {
            name: "fix_details",
            title: "Fix details",
            description: "A fix's steps with their commands, its risk, how to verify it worked and how to revert it.",
            input_schema: json!({
                "type": "object",
                "required": ["fix"],
                "properties": {"fix": {"type": "string"}}
            }),
            output_schema: json!({"type": "object", "required": ["fix", "title", "steps"],
                "properties": {"fix": {"type": "string"}, "title": {"type": "string"}, "steps": {"type": "array"},
                    "risk": {"type": ["string", "null"]}, "lowers_security": {"type": "boolean"},
                    "revert": {"type": ["string", "null"]}, "verify": {"type": ["string", "null"]},
                    "verify_expect": {"type": ["object", "null"], "description": "The answers (evidence: value) that confirm the fix worked."}}}),
        },
        ToolSpec {
            name: "history",
            title: "How the ranking moved",
            description: "The story of the diagnosis for a ticket: the top causes' probabilities after each step (answers, pasted text, collected facts, fix results), with a chart (SVG). Needs a session started with `history: true`.",
            input_schema: json!({
                "type": "object",
                "required": ["session"],
                "properties": {"session": {"type": "string", "description": SESSION_DOC}}
            }),
            output_schema: json!({"type": "object", "required": ["history", "chart_svg"],
                "properties": {
                    "history": {"type": "object", "required": ["causes", "points", "dropped"],
                        "properties": {"causes": {"type": "array", "items": {"type": "string"}},
                            "points": {"type": "array", "items": {"type": "object", "required": ["label", "posterior"]}},
                            "dropped": {"type": "integer"}}},
                    "chart_svg": {"type": "string", "description": "A self-contained SVG chart of the top causes after each step."}}}),
        },
        ToolSpec {
            name: "decode_error",
            title: "Decode an RDP error code",
            description: "What a Remote Desktop disconnect code and its extended code mean (hex like 0x904 or decimal), and which causes they point at.",
            input_schema: json!({
                "type": "object",
                "required": ["code"],
                "properties": {"code": {"type": "string"}, "extended": {"type": "string"}}
            }),
            output_schema: json!({"type": "object", "required": ["code", "known"],
                "properties": {"code": {"type": "integer"}, "extended": {"type": ["integer", "null"]},
                    "known": {"type": "boolean"}, "summary": {"type": ["string", "null"]},
                    "explanation": {"type": ["string", "null"]},
                    "causes": {"type": "array", "items": {"type": "string"}}}}),
        },
    ];
    if probe {
        out.push(ToolSpec {
            name: "probe_rdp",
            title: "Probe an RDP endpoint",
            description: "Probe a host's RDP port (negotiation, TLS, certificate, latency) and add the facts to a session (or start one). Only hosts the operator allowed can be probed.",
            input_schema: json!({
                "type": "object",
                "required": ["target"],
                "properties": {
                    "target": {"type": "string", "description": "host or host:port"},
                    "timeout": {"type": "number", "description": "Seconds per step (default 5)."},
                    "session": {"type": "string", "description": SESSION_DOC}
                }
            }),
            output_schema: diagnosis_schema(),
        });
    }
    out
}

/// The tools bound to an engine and a session key.
pub struct Toolbox<'a> {
    pub engine: &'a Engine,
    pub key: &'a SessionKey,
}

impl Toolbox<'_> {
    /// Call tool `name` with `args`; `collector` runs `probe_rdp` and
    /// `target` (none: probing is off).
    pub fn call(
        &self,
        name: &str,
        args: &Map<String, Json>,
        collector: Option<&mut dyn Collect>,
    ) -> Result<Answer, ProtoError> {
        let engine = self.engine;
        let mut extra = Map::new();
        let mut keep = false;
        let state = match name {
            "start_diagnosis" => {
                check_kb(engine, args)?;
                keep = flag_field(args, "history")?;
                let mut state = State::new(engine);
                apply_observations(engine, &mut state, args.get("observations"))?;
                if let Some(v) = args.get("intake").filter(|v| !v.is_null()) {
                    extra.insert("intake".into(), apply_intake(engine, &mut state, v)?);
                }
                if args.get("target").is_some_and(|t| !t.is_null()) {
                    probe(engine, &mut state, args, collector, &mut extra)?;
                }
                paste(engine, &mut state, args, &mut extra)?;
                state
            }
            "answer" => {
                let (mut state, kept) = self.session(args)?;
                keep = kept;
                let has = |k: &str| args.get(k).is_some_and(|v| !v.is_null());
                if !has("evidence") && !has("observations") && !has("text") {
                    return Err(ProtoError::new(
                        "bad_request",
                        "`answer` needs `evidence` and `value`, `observations`, or `text`",
                    ));
                }
                apply_observations(engine, &mut state, args.get("observations"))?;
                if has("evidence") {
                    let ev = str_field(args, "evidence")?;
                    let value = json_answer(args.get("value").unwrap_or(&Json::Null), "value")?;
                    state.observe(engine, ev, &value, Source::User)?;
                }
                paste(engine, &mut state, args, &mut extra)?;
                state
            }
            "report_fix" => {
                let (mut state, kept) = self.session(args)?;
                keep = kept;
                let fix = str_field(args, "fix")?;
                let worked = args.get("worked").and_then(Json::as_bool).ok_or_else(|| {
                    ProtoError::new("bad_request", "`worked` must be true or false")
                })?;
                state.fix_result(engine, fix, worked)?;
                state
            }
            "probe_rdp" => {
                let mut state = match args.get("session").filter(|s| !s.is_null()) {
                    Some(_) => {
                        let (state, kept) = self.session(args)?;
                        keep = kept;
                        state
                    }
                    None => State::new(engine),
                };
                probe(engine, &mut state, args, collector, &mut extra)?;
                state
            }
            "explain" => return self.explain(args),
            "history" => return self.history(args),
            "fix_details" => return fix_details(engine, str_field(args, "fix")?),
            "decode_error" => return decode_error(engine, args),
            other => {
                return Err(ProtoError::new(
                    "unknown_tool",
                    format!("unknown tool `{other}`"),
                ));
            }
        };
        Ok(self.diagnosis(&state, extra, keep))
    }

    /// The session's state, and whether its token keeps the history.
    fn session(&self, args: &Map<String, Json>) -> Result<(State, bool), ProtoError> {
        decode_full(self.engine, self.key, str_field(args, "session")?)
    }

    /// The compact view of a state, with its token (keeping the history
    /// when `history`).
    pub fn diagnosis(&self, state: &State, extra: Map<String, Json>, history: bool) -> Answer {
        let a = state.assess(self.engine);
        let token = encode_with(self.engine, self.key, state, history);
        let mut structured = Map::new();
        structured.insert("session".into(), json!(token));
        structured.extend(compact(self.engine, state, &a));
        let mut t = String::new();
        if let Some(Json::Array(x)) = extra.get("extracted") {
            let found: Vec<String> = x
                .iter()
                .map(|e| {
                    format!(
                        "{}={}",
                        e["evidence"].as_str().unwrap_or(""),
                        e["value"].as_str().unwrap_or("")
                    )
                })
                .collect();
            t.push_str(&format!(
                "From the text: {}.\n",
                if found.is_empty() {
                    "nothing recognised".into()
                } else {
                    found.join(", ")
                }
            ));
        }
        structured.extend(extra);
        t.push_str(&text(&structured, Some(&token)));
        Answer {
            structured,
            text: t,
        }
    }

    fn history(&self, args: &Map<String, Json>) -> Result<Answer, ProtoError> {
        let engine = self.engine;
        let (state, kept) = self.session(args)?;
        if !kept {
            return Err(ProtoError::new(
                "no_history",
                "this session does not keep its history: start it with start_diagnosis and `history: true`",
            ));
        }
        let (h, svg) = crate::picture::chart::of_session(engine, &state);
        let top = h.top_causes(3);
        let mut t = String::from("How the ranking moved:\n");
        for (i, p) in h.points.iter().enumerate() {
            let tops: Vec<String> = top
                .iter()
                .map(|&c| format!("{} {:.0}%", h.causes[c], p.posterior[c] * 100.0))
                .collect();
            t.push_str(&format!("{i}. {}: {}\n", p.label, tops.join(", ")));
        }
        t.push_str("The chart is in `chart_svg` (SVG).");
        let mut s = Map::new();
        s.insert("chart_svg".into(), json!(svg));
        s.insert("history".into(), json!(h));
        Ok(Answer {
            structured: s,
            text: t,
        })
    }

    fn explain(&self, args: &Map<String, Json>) -> Result<Answer, ProtoError> {
        let engine = self.engine;
        let (state, _) = self.session(args)?;
        let opt = |k: &str| args.get(k).and_then(Json::as_str);
        if let Some(ev) = opt("evidence") {
            let x = engine.why_question(&state, ev)?;
            let t = format!(
                "`{}`: expected gain {:.2} bits at cost {}, answerability {:.0}%; rank {} of {}. It separates: {}.",
                x.evidence,
                x.gain,
                x.cost,
                x.answerability * 100.0,
                x.rank.map_or("-".into(), |r| r.to_string()),
                x.candidates,
                x.separates.join(", ")
            );
            let mut s = to_map(&x);
            s.insert("kind".into(), json!("question"));
            return Ok(Answer {
                structured: s,
                text: t,
            });
        }
        let cause = match opt("cause") {
            Some(c) => c.to_string(),
            None => {
                let a = state.assess(engine);
                engine.model.causes[a.ranking[0]].clone()
            }
        };
        let how = engine.explain_cause(&state, &cause)?;
        let not = engine.why_not(&state, &cause)?;
        let mut t = format!(
            "`{}`: {:.0}% (prior {:.0}%), rank {}.",
            how.cause,
            how.probability * 100.0,
            how.prior * 100.0,
            not.rank
        );
        for c in how.contributions.iter().take(6) {
            t.push_str(&format!(
                "\n- {}={}: {:+.2} bits",
                c.finding, c.value, c.bits
            ));
        }
        if !not.would_raise.is_empty() {
            let raise: Vec<String> = not
                .would_raise
                .iter()
                .take(4)
                .map(|r| format!("{}={}", r.evidence, r.value))
                .collect();
            t.push_str(&format!("\nWould raise it: {}.", raise.join(", ")));
        }
        let mut s = Map::new();
        s.insert("kind".into(), json!("cause"));
        s.insert("how".into(), json!(how));
        s.insert("why_not".into(), json!(not));
        Ok(Answer {
            structured: s,
            text: t,
        })
    }
}

fn to_map<T: serde::Serialize>(x: &T) -> Map<String, Json> {
    match serde_json::to_value(x) {
        Ok(Json::Object(m)) => m,
        _ => Map::new(),
    }
}

fn paste(
    engine: &Engine,
    state: &mut State,
    args: &Map<String, Json>,
    extra: &mut Map<String, Json>,
) -> Result<(), ProtoError> {
    if args.get("text").is_some_and(|t| !t.is_null()) {
        let found = state.observe_text(engine, str_field(args, "text")?)?;
        // The matched words, shortened: the model has the text already.
        let found: Vec<Json> = found
            .iter()
            .map(|p| {
                let x = &p.extracted;
                let mut words: String = x.text.chars().take(MATCH_CHARS).collect();
                if words.len() < x.text.len() {
                    words.push('…');
                }
                let mut j = json!({"evidence": x.evidence, "value": x.value, "text": words});
                if let Some(kept) = &p.kept {
                    j["kept"] = json!(kept);
                }
                j
            })
            .collect();
        extra.insert("extracted".into(), Json::Array(found));
    }
    Ok(())
}

fn probe(
    engine: &Engine,
    state: &mut State,
    args: &Map<String, Json>,
    collector: Option<&mut dyn Collect>,
    extra: &mut Map<String, Json>,
) -> Result<(), ProtoError> {
    let Some(collector) = collector else {
        return Err(ProtoError::new(
            "not_allowed",
            "probing is off on this server; the operator can allow hosts with `rootcause mcp --allow-probe HOST,CIDR,...`",
        ));
    };
    collect_into(engine, state, collector, "rdp_probe", args, extra)
}

fn fix_details(engine: &Engine, id: &str) -> Result<Answer, ProtoError> {
    let f = engine
        .kb
        .fix(id)
        .ok_or_else(|| ProtoError::new("unknown_fix", format!("unknown fix `{id}`")))?;
    let steps: Vec<Json> = f
        .steps
        .iter()
        .map(|s| {
            json!({"text": s.text, "commands": s.commands.iter().map(|c| json!({"kind": c.kind(), "text": c.text()})).collect::<Vec<_>>()})
        })
        .collect();
    let mut t = format!("{} ({})\n", f.title, f.id);
    for (i, s) in f.steps.iter().enumerate() {
        t.push_str(&format!("{}. {}\n", i + 1, s.text));
        for c in &s.commands {
            t.push_str(&format!("   {}: {}\n", c.kind(), c.text()));
        }
    }
    if let Some(r) = &f.risk {
        t.push_str(&format!("Risk: {r}\n"));
    }
    if let Some(r) = &f.revert {
        t.push_str(&format!("Revert: {r}\n"));
    }
    if let Some(v) = &f.verify {
        t.push_str(&format!("Verify: {}\n", v.text));
    }
    let structured = to_map(&json!({
        "fix": f.id, "title": f.title, "steps": steps, "risk": f.risk,
        "lowers_security": f.lowers_security, "needs_reboot": f.needs_reboot,
        "needs_downtime": f.needs_downtime, "revert": f.revert,
        "verify": f.verify.as_ref().map(|v| &v.text),
        "verify_expect": f.verify.as_ref().map(|v| &v.expect),
    }));
    Ok(Answer {
        structured,
        text: t,
    })
}

fn decode_error(engine: &Engine, args: &Map<String, Json>) -> Result<Answer, ProtoError> {
    let code_of = |k: &str| -> Result<Option<u32>, ProtoError> {
        match args.get(k) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => parse_code(s)
                .map(Some)
                .map_err(|e| ProtoError::new("bad_value", e)),
            Some(Json::Number(n)) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| ProtoError::new("bad_value", format!("`{k}` is not a 32-bit code"))),
            Some(_) => Err(ProtoError::new(
                "bad_value",
                format!("`{k}` must be a string such as \"0x904\""),
            )),
        }
    };
    let code = code_of("code")?
        .ok_or_else(|| ProtoError::new("bad_request", "`decode_error` needs `code`"))?;
    let d = codes::decode(&engine.kb.codes, code, code_of("extended")?);
    let summary = d.summary();
    let causes: Vec<&String> = match (d.pair, d.disconnect) {
        (Some(p), _) => p.causes.iter().collect(),
        (None, Some(e)) => e.causes.iter().collect(),
        _ => Vec::new(),
    };
    let mut t = summary
        .clone()
        .unwrap_or_else(|| format!("{code:#x} is not a code this knowledge base knows."));
    if let Some(p) = d.pair {
        t.push_str(&format!("\n{}", p.explanation));
    }
    if !causes.is_empty() {
        let list: Vec<&str> = causes.iter().map(|c| c.as_str()).collect();
        t.push_str(&format!("\nLikely causes: {}.", list.join(", ")));
    }
    let structured = to_map(&json!({
        "code": d.code, "extended": d.extended, "known": summary.is_some(),
        "summary": summary, "causes": causes,
        "explanation": d.pair.map(|p| &p.explanation),
    }));
    Ok(Answer {
        structured,
        text: t,
    })
}
