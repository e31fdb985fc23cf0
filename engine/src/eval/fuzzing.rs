//! Entry points for fuzzing every parser that takes outside input.
//!
//! Each function takes arbitrary bytes and must neither panic nor hang nor
//! allocate without bound. The same functions are driven by the cargo-fuzz
//! targets in `fuzz/` and, over the committed corpora and regression inputs,
//! by `engine/tests/fuzz_replay.rs` on every `cargo test`.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use once_cell::sync::Lazy;

use crate::Engine;
use crate::collect::rdp_probe::{self, x224};
use crate::collect::{bundle, events};
use crate::kb::check;
use crate::kb::load::{self, KbSource};
use crate::protocol::Server;
use crate::session::State;

/// The small test KB, whose files the KB target replaces one at a time.
const MINI: &[(&str, &str)] = &[
    (
        "kb.ron",
        include_str!("../../../tests/fixtures/kb/mini/kb.ron"),
    ),
    (
        "causes.ron",
        include_str!("../../../tests/fixtures/kb/mini/causes.ron"),
    ),
    (
        "evidence.ron",
        include_str!("../../../tests/fixtures/kb/mini/evidence.ron"),
    ),
    (
        "fixes.ron",
        include_str!("../../../tests/fixtures/kb/mini/fixes.ron"),
    ),
    (
        "rules.ron",
        include_str!("../../../tests/fixtures/kb/mini/rules.ron"),
    ),
    (
        "collectors.ron",
        include_str!("../../../tests/fixtures/kb/mini/collectors.ron"),
    ),
    (
        "cases/basic.ron",
        include_str!("../../../tests/fixtures/kb/mini/cases/basic.ron"),
    ),
];

static ENGINE: Lazy<Arc<Engine>> = Lazy::new(|| {
    Arc::new(Engine::embedded().unwrap_or_else(|d| panic!("the embedded KB is invalid: {d:?}")))
});

/// The first byte picks a file of the mini KB; the rest replaces it. The KB
/// is parsed, checked, compiled and its cases run.
pub fn kb_loader(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let target = MINI[pick as usize % MINI.len()].0;
    let files: Vec<(&str, &str)> = MINI
        .iter()
        .map(|&(name, body)| {
            if name == target {
                (name, text.as_ref())
            } else {
                (name, body)
            }
        })
        .collect();
    let source = KbSource::from_memory("<fuzz>", &files);
    if let Ok(kb) = load::parse(source) {
        let diags = check::check(&kb);
        if !diags.iter().any(|d| d.is_error())
            && let Ok(engine) = Engine::from_kb(kb)
        {
            let _ = crate::eval::cases::run_all(&engine, None);
            let _ = crate::kb::export::model_json(&engine);
            let _ = crate::kb::graph::dot(&engine);
        }
    }
}

/// One JSON-lines request against a fresh server of the embedded KB.
pub fn json_request(data: &[u8]) {
    let mut server = Server::new(ENGINE.clone());
    let reply = server.handle_line(data);
    assert!(
        reply.starts_with('{') && !reply.contains('\n'),
        "one JSON object per reply"
    );
}

/// A sequence of requests (one per line) to one server, then the last
/// state carried to a second server.
pub fn json_sequence(data: &[u8]) {
    let mut server = Server::new(ENGINE.clone());
    let mut last = String::new();
    for line in data.split(|&b| b == b'\n').take(64) {
        last = server.handle_line(line);
    }
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(&last)
        && let Some(state) = m.get("state")
    {
        let req = serde_json::json!({"op": "state", "state": state}).to_string();
        let mut other = Server::new(ENGINE.clone());
        let again = other.handle_line(req.as_bytes());
        assert!(
            again.contains("\"ok\":true"),
            "a returned state must load again: {again}"
        );
    }
}

/// A session state as a client or a session file would carry it.
pub fn session_state(data: &[u8]) {
    if let Ok(state) = serde_json::from_slice::<State>(data)
        && state.validate(&ENGINE).is_ok()
    {
        let a = state.assess(&ENGINE);
        let sum: f64 = a.posterior.iter().sum();
        assert!((sum - 1.0).abs() < 1e-9, "posterior sums to {sum}");
        let _ = ENGINE.explain_cause(&state, "other");
    }
}

/// An X.224 answer as a server (or anything on port 3389) might send it.
pub fn x224_answer(data: &[u8]) {
    let _ = x224::tpkt_length(data);
    let _ = x224::decode_answer(data);
}

/// A certificate a server presents.
pub fn certificate(data: &[u8]) {
    let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let _ = rdp_probe::inspect_certificate(data, "host.example", now);
    let _ = rdp_probe::inspect_certificate(data, "127.0.0.1", now);
}

/// An event-log file of any of the three formats.
pub fn event_log(data: &[u8]) {
    if let Ok(log) = events::read_bytes("fuzz", data) {
        let _ = events::facts(std::slice::from_ref(&log));
    }
}

/// An evidence bundle.
pub fn evidence_bundle(data: &[u8]) {
    let _ = bundle::parse_bundle(&ENGINE, data, "fuzz");
}

/// Text a user pastes: any bytes, through the KB's patterns and into a
/// session.
pub fn pasted_text(data: &[u8]) {
    if let Ok(found) = crate::kb::patterns::extract_bytes(&ENGINE.kb, data) {
        assert!(found.len() <= ENGINE.kb.evidence.len());
        let mut state = State::new(&ENGINE);
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = state.observe_text(&ENGINE, text);
        }
    }
}

static KEY: Lazy<crate::protocol::token::SessionKey> = Lazy::new(|| {
    crate::protocol::token::SessionKey::new(b"fuzzing-session-key-0123")
        .unwrap_or_else(|e| panic!("{}", e.message))
});

/// The MCP tools. The first byte picks what the rest is: a session token
/// as sent; a token payload signed with the server's key (what only a
/// holder of the key could send, to reach the decoder past the signature);
/// or a tool's JSON arguments (the next byte picks the tool). A token that
/// decodes is then used for an `answer`.
pub fn mcp_tool(data: &[u8]) {
    use crate::protocol::token;
    use crate::protocol::tools::{Toolbox, specs};
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let tb = Toolbox {
        engine: &ENGINE,
        key: &KEY,
    };
    let token = match mode % 3 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 => token::sign_payload(&KEY, rest),
        _ => {
            let Some((&pick, json)) = rest.split_first() else {
                return;
            };
            let tools = specs(true);
            let name = tools[pick as usize % tools.len()].name;
            if let Ok(serde_json::Value::Object(args)) = serde_json::from_slice(json) {
                let _ = tb.call(name, &args, None);
            }
            return;
        }
    };
    if let Ok(state) = token::decode(&ENGINE, &KEY, &token) {
        let args =
            serde_json::json!({"session": token, "evidence": "connection_path", "value": "vpn"});
        if let serde_json::Value::Object(args) = args {
            let _ = tb.call("answer", &args, None);
        }
        let _ = state.assess(&ENGINE);
    }
}

/// What `rootcause scan` reads. The first byte picks: a targets file
/// (parsed with and without `--allow-large`, expanded at its first, middle
/// and last endpoints and for its first 64), or an endpoint's facts as JSON
/// (what `diagnose --from-scan` and `start`'s `facts` take), judged by the
/// KB's findings.
pub fn scan_input(data: &[u8]) {
    use crate::collect::scan::{Targets, targets};
    use crate::session::ScanSettings;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let text = String::from_utf8_lossy(rest);
        if let Ok(list) = targets::parse_file("fuzz", &text, mode & 2 != 0) {
            let ports = vec![3389, u16::from(mode).max(1)];
            let t = Targets::new(list, ports);
            let n = t.len();
            for i in [0, n / 2, n.saturating_sub(1), n] {
                let _ = t.get(i).map(|e| e.target());
            }
            assert!(t.endpoints().take(64).count() <= 64);
        }
        return;
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(rest) else {
        return;
    };
    let facts: crate::collect::Facts = map
        .into_iter()
        .filter_map(|(k, v)| {
            let v = match v {
                serde_json::Value::Bool(b) => crate::kb::model::Value::Bool(b),
                serde_json::Value::Number(n) => crate::kb::model::Value::Number(n.as_f64()?),
                serde_json::Value::String(s) => crate::kb::model::Value::Text(s),
                _ => return None,
            };
            Some((k, v))
        })
        .collect();
    let settings = ScanSettings {
        warn_days: 30.0,
        expect_ca: mode & 2 != 0,
    };
    let verdict = ENGINE.scan_findings(&facts, &settings, mode & 4 != 0);
    assert!(verdict.findings.len() <= ENGINE.kb.findings.len());
}

/// A fuzz target: bytes in, no panic.
pub type Target = fn(&[u8]);

/// Every target by name (for the replay test).
pub const TARGETS: &[(&str, Target)] = &[
    ("kb_loader", kb_loader),
    ("json_request", json_request),
    ("json_sequence", json_sequence),
    ("session_state", session_state),
    ("x224_answer", x224_answer),
    ("certificate", certificate),
    ("event_log", event_log),
    ("evidence_bundle", evidence_bundle),
    ("pasted_text", pasted_text),
    ("mcp_tool", mcp_tool),
    ("scan_input", scan_input),
];
