//! The MCP tools and their session tokens, without a transport: answers
//! stay small over whole sessions, tokens round-trip the state, and every
//! forged, truncated, oversized or foreign token is refused.

use rootcause_engine::Engine;
use rootcause_engine::protocol::token::{self, MAX_TOKEN_BYTES, SessionKey};
use rootcause_engine::protocol::tools::{Answer, Toolbox, specs};
use rootcause_engine::session::{Source, State};
use serde_json::{Map, Value as Json, json};

const MAX_ANSWER: usize = 2048;

fn key() -> SessionKey {
    SessionKey::new(b"tools-test-key-0123456789").unwrap()
}

fn args(v: Json) -> Map<String, Json> {
    v.as_object().cloned().unwrap()
}

fn sizes(a: &Answer) -> (usize, usize) {
    (
        a.text.len(),
        Json::Object(a.structured.clone()).to_string().len(),
    )
}

#[test]
fn tool_names_are_the_contract() {
    let names: Vec<&str> = specs(false).iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "start_diagnosis",
            "answer",
            "report_fix",
            "explain",
            "fix_details",
            "history",
            "decode_error"
        ]
    );
    let with_probe: Vec<&str> = specs(true).iter().map(|s| s.name).collect();
    assert_eq!(with_probe.last(), Some(&"probe_rdp"));
    for s in specs(true) {
        assert_eq!(s.input_schema["type"], "object", "{}", s.name);
        assert_eq!(s.output_schema["type"], "object", "{}", s.name);
    }
}

/// Every real report, followed to its end the way a chatbot would (answers
/// from the report, `unknown` otherwise; the fix for the confirmed cause
/// works): no answer over 2 KB, as text or as structured content.
#[test]
fn whole_sessions_stay_under_two_kilobytes() {
    let engine = Engine::embedded().unwrap();
    let key = key();
    let tb = Toolbox {
        engine: &engine,
        key: &key,
    };
    let (mut max_text, mut max_structured, mut calls) = (0, 0, 0);
    let (mut sum_text, mut sum_structured) = (0, 0);
    for (_, case) in &engine.kb.reports {
        let truth = case.expect.top.clone().unwrap_or_default();
        let mut start = Map::new();
        if let Some(t) = &case.text {
            start.insert("text".into(), json!(t));
        }
        let mut a = tb.call("start_diagnosis", &start, None).unwrap();
        let mut verify = std::collections::BTreeMap::new();
        for _ in 0..40 {
            let (t, s) = sizes(&a);
            (max_text, max_structured, calls) = (max_text.max(t), max_structured.max(s), calls + 1);
            (sum_text, sum_structured) = (sum_text + t, sum_structured + s);
            assert!(
                t <= MAX_ANSWER && s <= MAX_ANSWER,
                "{}: {t} / {s} bytes:\n{}",
                case.name,
                a.text
            );
            let d = &a.structured;
            if d["done"] == true {
                break;
            }
            let session = d["session"].clone();
            a = match (
                d["advice"]["step"].as_str(),
                d["advice"]["fix"].as_str(),
                d["next"]["evidence"].as_str(),
            ) {
                (Some("try_fix"), Some(fix), _) => {
                    let f = engine.kb.fix(fix).unwrap();
                    let works = f.resolves.get(&truth).is_some_and(|p| *p >= 0.5);
                    if works {
                        verify = f
                            .verify
                            .as_ref()
                            .map(|v| v.expect.clone())
                            .unwrap_or_default();
                    }
                    tb.call(
                        "report_fix",
                        &args(json!({"session": session, "fix": fix, "worked": works})),
                        None,
                    )
                    .unwrap()
                }
                (Some("ask"), _, Some(ev)) => {
                    let v = verify
                        .get(ev)
                        .or(case.observations.get(ev))
                        .map_or("unknown", String::as_str);
                    tb.call(
                        "answer",
                        &args(json!({"session": session, "evidence": ev, "value": v})),
                        None,
                    )
                    .unwrap()
                }
                _ => break,
            };
        }
    }
    eprintln!(
        "{calls} answers over {} reports: text mean {} / largest {max_text} bytes, structured mean {} / largest {max_structured} bytes",
        engine.kb.reports.len(),
        sum_text / calls,
        sum_structured / calls
    );
}

#[test]
fn a_token_round_trips_the_state() {
    let engine = Engine::embedded().unwrap();
    let key = key();
    let mut s = State::new(&engine);
    s.observe(&engine, "connection_path", "gateway", Source::User)
        .unwrap();
    s.observe(&engine, "host_os", "unknown", Source::User)
        .unwrap();
    s.observe_text(&engine, "TcpTestSucceeded : True\nError code: 0x904")
        .unwrap();
    s.fix_result(&engine, "bypass_intermediary", false).unwrap();
    s.fix_result(&engine, "align_intermediary_security_mode", true)
        .unwrap();
    let t = token::encode(&engine, &key, &s);
    let back = token::decode(&engine, &key, &t).unwrap();
    assert_eq!(back.fixes, s.fixes);
    assert_eq!(back.verifying, s.verifying);
    assert_eq!(back.observations.len(), s.observations.len());
    for (a, b) in back.observations.iter().zip(&s.observations) {
        assert_eq!((&a.evidence, &a.value), (&b.evidence, &b.value));
        match (&a.source, &b.source) {
            // Pasted values keep their pattern, not the matched words.
            (Source::Collector { detail: da, .. }, Source::Collector { detail: db, .. }) => {
                assert!(db.starts_with(da.as_str()), "{da} / {db}")
            }
            (x, y) => assert_eq!(x, y),
        }
    }
    assert_eq!(back.assess(&engine).posterior, s.assess(&engine).posterior);
    assert!(back.trace.is_empty(), "the trace is not carried");
    assert!(t.len() < 400, "{} bytes: {t}", t.len());
}

#[test]
fn forged_truncated_foreign_and_oversized_tokens_are_refused() {
    let engine = Engine::embedded().unwrap();
    let key = key();
    let mut s = State::new(&engine);
    s.observe(&engine, "connection_path", "vpn", Source::User)
        .unwrap();
    s.observe(&engine, "recent_windows_update", "yes", Source::User)
        .unwrap();
    let t = token::encode(&engine, &key, &s);
    let refused = |tok: &str| match token::decode(&engine, &key, tok) {
        Ok(_) => panic!("accepted: {tok}"),
        Err(e) => e.code,
    };
    // Every single-character change.
    for i in 0..t.len() {
        let mut b = t.clone().into_bytes();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(b).unwrap();
        if forged != t {
            assert_eq!(refused(&forged), "bad_session", "position {i}");
        }
    }
    // Every truncation.
    for n in 0..t.len() {
        assert_eq!(refused(&t[..n]), "bad_session", "length {n}");
    }
    // Signed by another key.
    let other = SessionKey::new(b"another-key-0123456789").unwrap();
    assert_eq!(refused(&token::encode(&engine, &other, &s)), "bad_session");
    // Too large.
    let big = format!("rc1.{}.AAAA", "A".repeat(MAX_TOKEN_BYTES));
    assert_eq!(refused(&big), "too_large");
    // Random strings.
    let mut r = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..10_000 {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        let len = (r % 300) as usize;
        let junk: String = (0..len)
            .map(|i| char::from(b"rc1.ABCxyz-_09=/+\0\xff"[((r >> (i % 50)) % 19) as usize]))
            .collect();
        assert!(token::decode(&engine, &key, &junk).is_err());
    }
    // A short key is refused.
    assert!(SessionKey::new(b"short").is_err());
}

#[test]
fn explain_decode_and_fix_details() {
    let engine = Engine::embedded().unwrap();
    let key = key();
    let tb = Toolbox {
        engine: &engine,
        key: &key,
    };
    let a = tb
        .call(
            "start_diagnosis",
            &args(json!({"observations": {"certificate_expired": "yes"}})),
            None,
        )
        .unwrap();
    let session = a.structured["session"].clone();
    let x = tb
        .call("explain", &args(json!({"session": session})), None)
        .unwrap();
    assert_eq!(x.structured["kind"], "cause");
    assert!(x.text.contains("certificate_expired=yes"), "{}", x.text);
    let q = tb
        .call(
            "explain",
            &args(json!({"session": session, "evidence": "connection_path"})),
            None,
        )
        .unwrap();
    assert_eq!(q.structured["kind"], "question");
    let d = tb
        .call(
            "decode_error",
            &args(json!({"code": "0x904", "extended": "0x7"})),
            None,
        )
        .unwrap();
    assert_eq!(d.structured["known"], true);
    assert!(d.text.contains("0x904"), "{}", d.text);
    let unknown = tb
        .call("decode_error", &args(json!({"code": "0xdead"})), None)
        .unwrap();
    assert_eq!(unknown.structured["known"], false);
    let f = tb
        .call(
            "fix_details",
            &args(json!({"fix": "disable_nla_temporarily"})),
            None,
        )
        .unwrap();
    assert_eq!(f.structured["lowers_security"], true);
    assert!(f.text.contains("Revert:"), "{}", f.text);
    let e = tb
        .call("probe_rdp", &args(json!({"target": "127.0.0.1"})), None)
        .unwrap_err();
    assert_eq!(e.code, "not_allowed");
    let e = tb.call("no_such_tool", &Map::new(), None).unwrap_err();
    assert_eq!(e.code, "unknown_tool");
}

/// A session started with `history: true` carries its steps in the token:
/// the `history` tool replays them, in any process with the key, to the
/// same points as the session kept in memory.
#[test]
fn history_travels_in_the_token_when_asked_for() {
    let engine = Engine::embedded().unwrap();
    let key = key();
    let tb = Toolbox {
        engine: &engine,
        key: &key,
    };
    let text = "Event ID: 36870 A fatal error occurred when attempting to access the TLS server credential private key.";
    let mut a = tb
        .call(
            "start_diagnosis",
            &args(json!({"text": text, "history": true})),
            None,
        )
        .unwrap();
    let steps = [
        (
            "answer",
            json!({"evidence": "connection_path", "value": "lan"}),
        ),
        ("answer", json!({"evidence": "host_os", "value": "unknown"})),
        (
            "report_fix",
            json!({"fix": "regenerate_rdp_certificate", "worked": false}),
        ),
    ];
    for (tool, mut step) in steps {
        step["session"] = a.structured["session"].clone();
        a = tb.call(tool, &args(step), None).unwrap();
    }
    let t4 = a.structured["session"].clone();
    let h = tb
        .call("history", &args(json!({"session": t4})), None)
        .unwrap();
    let points = h.structured["history"]["points"].as_array().unwrap();
    let labels: Vec<&str> = points
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "start",
            "schannel_36870_seen = yes",
            "connection_path = lan",
            "host_os = unknown",
            "fix regenerate_rdp_certificate failed"
        ]
    );
    // The same session in memory gives the same points.
    let mut s = State::new(&engine);
    s.observe_text(&engine, text).unwrap();
    s.observe(&engine, "connection_path", "lan", Source::User)
        .unwrap();
    s.observe(&engine, "host_os", "unknown", Source::User)
        .unwrap();
    s.fix_result(&engine, "regenerate_rdp_certificate", false)
        .unwrap();
    let mine = engine.history(&s);
    for (p, q) in points.iter().zip(&mine.points) {
        let got: Vec<f64> = p["posterior"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        for (x, y) in got.iter().zip(&q.posterior) {
            assert!((x - y).abs() < 1e-9);
        }
    }
    assert!(
        h.structured["chart_svg"]
            .as_str()
            .unwrap()
            .starts_with("<svg")
    );
    assert!(
        h.text.contains("4. fix regenerate_rdp_certificate failed"),
        "{}",
        h.text
    );
    // Without `history: true` there is none to draw, and the token stays small.
    let plain = tb
        .call("start_diagnosis", &args(json!({"text": text})), None)
        .unwrap();
    let e = tb
        .call(
            "history",
            &args(json!({"session": plain.structured["session"]})),
            None,
        )
        .unwrap_err();
    assert_eq!(e.code, "no_history");
    // A history step naming evidence the KB lacks is refused like any forgery.
    let forged = token::sign_payload(&key, br#"{"v":"1.2.0","t":[[0,999,0]]}"#);
    assert_eq!(
        token::decode(&engine, &key, &forged).unwrap_err().code,
        "bad_session"
    );
}

#[test]
fn start_takes_the_intake() {
    let engine = Engine::embedded().unwrap();
    let key = key();
    let tb = Toolbox {
        engine: &engine,
        key: &key,
    };
    let a = tb
        .call(
            "start_diagnosis",
            &args(json!({"intake": ["licensing", "update"]})),
            None,
        )
        .unwrap();
    assert_eq!(
        a.structured["intake"],
        json!({"license_error_shown": "yes", "recent_windows_update": "yes"})
    );
    assert_eq!(
        a.structured["ranking"][0]["cause"],
        json!("licensing_or_cache")
    );
    let e = tb
        .call("start_diagnosis", &args(json!({"intake": ["tea"]})), None)
        .unwrap_err();
    assert_eq!(e.code, "bad_value");
    let e = tb
        .call("start_diagnosis", &args(json!({"intake": "update"})), None)
        .unwrap_err();
    assert_eq!(e.code, "bad_request");
}
