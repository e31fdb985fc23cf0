//! Pasted text: real error texts and command outputs (tests/fixtures/paste/,
//! each with its source) yield the expected evidence; hostile input gets a
//! clear error or nothing, and never costs the session.

use std::path::PathBuf;
use std::sync::Arc;

use rootcause_engine::Engine;
use rootcause_engine::eval::simulate::Rng;
use rootcause_engine::kb::patterns::{self, MAX_TEXT_BYTES, TextError};
use rootcause_engine::protocol::Server;
use rootcause_engine::session::State;
use serde_json::Value as Json;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/paste")
}

#[test]
fn every_real_text_yields_its_facts() {
    let engine = Engine::embedded().unwrap();
    let list: Vec<Json> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
            .unwrap();
    assert!(list.len() >= 15, "only {} fixtures", list.len());
    for item in list {
        let file = item["file"].as_str().unwrap();
        assert!(
            item["source"].as_str().is_some_and(|s| !s.is_empty()),
            "{file} has no source"
        );
        let bytes = std::fs::read(fixtures().join(file)).unwrap();
        let found = patterns::extract_bytes(&engine.kb, &bytes).unwrap();
        for (ev, want) in item["expect"].as_object().unwrap() {
            let got = found.iter().find(|x| x.evidence == *ev);
            assert_eq!(
                got.map(|x| x.value.as_str()),
                want.as_str(),
                "{file}: {ev}; found {found:?}"
            );
            assert!(!got.unwrap().text.is_empty(), "{file}: no matched words");
        }
        // Applying it to a session observes exactly those values.
        let mut state = State::new(&engine);
        let text = String::from_utf8(bytes).unwrap();
        let pasted = state.observe_text(&engine, &text).unwrap();
        assert!(pasted.iter().all(|p| p.applied), "{file}");
        for (ev, want) in item["expect"].as_object().unwrap() {
            assert_eq!(state.value_of(ev), want.as_str(), "{file}: {ev}");
        }
    }
}

#[test]
fn an_earlier_answer_stands_and_is_reported() {
    let engine = Engine::embedded().unwrap();
    let mut state = State::new(&engine);
    state
        .observe(
            &engine,
            "port_reachable",
            "no",
            rootcause_engine::session::Source::User,
        )
        .unwrap();
    let pasted = state
        .observe_text(&engine, "Error code: 0x904\nExtended error code: 0x7")
        .unwrap();
    assert_eq!(pasted.len(), 1);
    assert!(!pasted[0].applied);
    assert_eq!(pasted[0].kept.as_deref(), Some("no"));
    assert_eq!(state.value_of("port_reachable"), Some("no"));
}

#[test]
fn hostile_text_gets_a_clear_error_or_nothing() {
    let engine = Engine::embedded().unwrap();
    // 1 MiB of random printable text: no panic, and in bounded time.
    let mut rng = Rng::new(7);
    let text: String = (0..MAX_TEXT_BYTES)
        .map(|_| (b' ' + (rng.next_u64() % 95) as u8) as char)
        .collect();
    let started = std::time::Instant::now();
    let found = patterns::extract(&engine.kb, &text).unwrap();
    assert!(started.elapsed().as_secs() < 10);
    assert!(found.len() <= engine.kb.evidence.len());
    // Too large, not UTF-8, binary: each its own error.
    let big = "a".repeat(MAX_TEXT_BYTES + 1);
    assert!(matches!(
        patterns::extract(&engine.kb, &big),
        Err(TextError::TooLarge(_))
    ));
    assert!(matches!(
        patterns::extract_bytes(&engine.kb, b"Error code: \xff\xfe 0x904"),
        Err(TextError::NotUtf8(12))
    ));
    assert!(matches!(
        patterns::extract(&engine.kb, "MZ\u{0}\u{0}binary"),
        Err(TextError::Binary(2))
    ));
    // A refused paste leaves the session as it was.
    let mut state = State::new(&engine);
    state
        .observe_text(&engine, "TcpTestSucceeded : True")
        .unwrap();
    let before = state.clone();
    assert!(state.observe_text(&engine, &big).is_err());
    assert!(state.observe_text(&engine, "a\u{0}b").is_err());
    assert_eq!(state, before);
}

#[test]
fn json_observe_text_and_start_with_text() {
    let engine = Arc::new(Engine::embedded().unwrap());
    let mut server = Server::new(engine);
    let reply: Json = serde_json::from_str(&server.handle_line(
        br#"{"op":"start","id":1,"text":"This could be due to CredSSP encryption oracle remediation."}"#,
    ))
    .unwrap();
    assert_eq!(reply["ok"], true);
    assert_eq!(reply["extracted"][0]["evidence"], "credssp_error_shown");
    assert_eq!(reply["extracted"][0]["value"], "yes");
    assert_eq!(reply["extracted"][0]["applied"], true);
    assert_eq!(reply["ranking"][0]["cause"], "credssp_oracle_mismatch");
    let reply: Json = serde_json::from_str(
        &server.handle_line(br#"{"op":"observe_text","text":"TcpTestSucceeded : False"}"#),
    )
    .unwrap();
    assert_eq!(reply["extracted"][0]["evidence"], "port_reachable");
    let reply: Json = serde_json::from_str(
        &server.handle_line(br#"{"op":"observe_text","id":3,"text":"a\u0000b"}"#),
    )
    .unwrap();
    assert_eq!(reply["ok"], false);
    assert_eq!(reply["error"]["code"], "bad_text");
    assert_eq!(reply["id"], 3);
    let reply: Json =
        serde_json::from_str(&server.handle_line(br#"{"op":"observe_text"}"#)).unwrap();
    assert_eq!(reply["error"]["code"], "bad_request");
    // The session survived the bad requests.
    let reply: Json = serde_json::from_str(&server.handle_line(br#"{"op":"state"}"#)).unwrap();
    assert_eq!(reply["ranking"][0]["cause"], "credssp_oracle_mismatch");
}
