//! `docs/json-protocol.schema.json` against the real `rootcause json`.
//!
//! The schema uses a small subset of JSON Schema draft 2020-12 (type,
//! properties, required, additionalProperties, enum, const, items, oneOf,
//! anyOf, `$ref` to `#/$defs/...`, minimum, maximum), so this file carries
//! its own validator for exactly that subset instead of a dependency:
//!
//! - the schema may use nothing else, and every `$ref` resolves;
//! - (a) scripted conversations with the binary, covering every op and
//!   every error code but `internal`: each well-formed request validates against
//!   `#/$defs/request` (and the malformed ones the server refuses with
//!   `bad_json`, `bad_request` or `unknown_op` do not), each response
//!   against `#/$defs/response`;
//! - (b) deliberately wrong responses and requests are rejected, so the
//!   validator can fail;
//! - (c) the schema's error-code enum is the set of codes that
//!   `docs/json-protocol.md` lists, and includes every code the protocol
//!   sources (engine/src/protocol/, session/, cli/shared/allow.rs) can emit.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use serde_json::{Map, Value as Json, json};

use common::*;

// ---------------------------------------------------------------------------
// A validator for the subset of JSON Schema the protocol schema uses

/// Keywords a schema object may use (besides `$schema`/`$defs` at the root).
const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "const",
    "items",
    "oneOf",
    "anyOf",
    "$ref",
    "minimum",
    "maximum",
    "maxItems",
];

struct Schema {
    root: Json,
}

impl Schema {
    fn load() -> Schema {
        let path = root().join("docs/json-protocol.schema.json");
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let root: Json = serde_json::from_str(&text).expect("the schema is JSON");
        let s = Schema { root };
        s.check_subset();
        s
    }

    fn defs(&self) -> &Map<String, Json> {
        self.root["$defs"].as_object().expect("$defs")
    }

    fn resolve(&self, reference: &str) -> &Json {
        let name = reference
            .strip_prefix("#/$defs/")
            .unwrap_or_else(|| panic!("unsupported $ref {reference}"));
        self.defs()
            .get(name)
            .unwrap_or_else(|| panic!("dangling $ref {reference}"))
    }

    /// The schema uses only the supported keywords, and every `$ref` resolves.
    fn check_subset(&self) {
        let root = self.root.as_object().expect("the schema is an object");
        for key in root.keys() {
            assert!(
                key == "$schema" || key == "$defs" || KEYWORDS.contains(&key.as_str()),
                "root keyword `{key}` is outside the subset"
            );
        }
        assert_eq!(
            root["$schema"],
            json!("https://json-schema.org/draft/2020-12/schema")
        );
        let mut rootless = root.clone();
        rootless.remove("$schema");
        rootless.remove("$defs");
        self.walk(&Json::Object(rootless), "#");
        for (name, s) in self.defs() {
            self.walk(s, &format!("#/$defs/{name}"));
        }
    }

    fn walk(&self, s: &Json, at: &str) {
        let m = match s {
            Json::Bool(_) => return,
            Json::Object(m) => m,
            _ => panic!("{at}: a schema must be an object or a boolean"),
        };
        for (k, v) in m {
            assert!(
                KEYWORDS.contains(&k.as_str()),
                "{at}: keyword `{k}` is outside the subset"
            );
            match k.as_str() {
                "properties" => {
                    for (p, sub) in v.as_object().expect("properties is an object") {
                        self.walk(sub, &format!("{at}/properties/{p}"));
                    }
                }
                "additionalProperties" | "items" => self.walk(v, &format!("{at}/{k}")),
                "oneOf" | "anyOf" => {
                    for (i, sub) in v.as_array().expect("a list of schemas").iter().enumerate() {
                        self.walk(sub, &format!("{at}/{k}/{i}"));
                    }
                }
                "$ref" => {
                    self.resolve(v.as_str().expect("$ref is a string"));
                }
                "type" => {
                    let names: Vec<&Json> = match v {
                        Json::Array(a) => a.iter().collect(),
                        one => vec![one],
                    };
                    for n in names {
                        assert!(
                            [
                                "null", "boolean", "object", "array", "number", "integer", "string"
                            ]
                            .contains(&n.as_str().unwrap_or("")),
                            "{at}: unknown type {n}"
                        );
                    }
                }
                "required" => assert!(
                    v.as_array().is_some_and(|a| a.iter().all(Json::is_string)),
                    "{at}: required is a list of names"
                ),
                "enum" => assert!(v.is_array(), "{at}: enum is a list"),
                "minimum" | "maximum" => assert!(v.is_number(), "{at}: {k} is a number"),
                "maxItems" => assert!(v.is_u64(), "{at}: maxItems is a count"),
                _ => {}
            }
        }
    }

    /// Problems of `instance` against `#/$defs/{def}` (empty: valid).
    fn errors(&self, def: &str, instance: &Json) -> Vec<String> {
        let mut out = Vec::new();
        let schema = self.resolve(&format!("#/$defs/{def}")).clone();
        self.check(&schema, instance, "$", &mut out);
        out
    }

    fn valid(&self, def: &str, instance: &Json) -> bool {
        self.errors(def, instance).is_empty()
    }

    fn check(&self, s: &Json, x: &Json, at: &str, out: &mut Vec<String>) {
        let m = match s {
            Json::Bool(true) => return,
            Json::Bool(false) => {
                out.push(format!("{at}: nothing is allowed here"));
                return;
            }
            Json::Object(m) => m,
            _ => unreachable!("checked by check_subset"),
        };
        if let Some(r) = m.get("$ref") {
            let target = self.resolve(r.as_str().unwrap());
            self.check(target, x, at, out);
        }
        if let Some(t) = m.get("type") {
            let names: Vec<&str> = match t {
                Json::Array(a) => a.iter().filter_map(Json::as_str).collect(),
                one => vec![one.as_str().unwrap()],
            };
            if !names.iter().any(|n| has_type(x, n)) {
                out.push(format!("{at}: {} is not of type {}", brief(x), t));
                return;
            }
        }
        if let Some(c) = m.get("const")
            && !json_eq(c, x)
        {
            out.push(format!("{at}: {} is not {c}", brief(x)));
        }
        if let Some(e) = m.get("enum")
            && !e.as_array().unwrap().iter().any(|v| json_eq(v, x))
        {
            out.push(format!("{at}: {} is not one of {e}", brief(x)));
        }
        if let Some(n) = x.as_f64() {
            if let Some(min) = m.get("minimum").and_then(Json::as_f64)
                && n < min
            {
                out.push(format!("{at}: {n} is below the minimum {min}"));
            }
            if let Some(max) = m.get("maximum").and_then(Json::as_f64)
                && n > max
            {
                out.push(format!("{at}: {n} is above the maximum {max}"));
            }
        }
        if let Json::Object(obj) = x {
            let props = m.get("properties").and_then(Json::as_object);
            if let Some(req) = m.get("required").and_then(Json::as_array) {
                for r in req.iter().filter_map(Json::as_str) {
                    if !obj.contains_key(r) {
                        out.push(format!("{at}: `{r}` is required"));
                    }
                }
            }
            for (k, v) in obj {
                let path = format!("{at}.{k}");
                match props.and_then(|p| p.get(k)) {
                    Some(sub) => self.check(sub, v, &path, out),
                    None => {
                        if let Some(extra) = m.get("additionalProperties") {
                            if extra == &Json::Bool(false) {
                                out.push(format!("{at}: `{k}` is not allowed"));
                            } else {
                                self.check(extra, v, &path, out);
                            }
                        }
                    }
                }
            }
        }
        if let (Json::Array(items), Some(max)) = (x, m.get("maxItems").and_then(Json::as_u64))
            && items.len() as u64 > max
        {
            out.push(format!("{at}: {} items, at most {max}", items.len()));
        }
        if let (Json::Array(items), Some(sub)) = (x, m.get("items")) {
            for (i, v) in items.iter().enumerate() {
                self.check(sub, v, &format!("{at}[{i}]"), out);
            }
        }
        if let Some(any) = m.get("anyOf").and_then(Json::as_array) {
            let results: Vec<Vec<String>> = any.iter().map(|s| self.sub(s, x, at)).collect();
            if !results.iter().any(Vec::is_empty) {
                out.push(format!(
                    "{at}: matches none of anyOf ({})",
                    closest(&results)
                ));
            }
        }
        if let Some(one) = m.get("oneOf").and_then(Json::as_array) {
            let results: Vec<Vec<String>> = one.iter().map(|s| self.sub(s, x, at)).collect();
            match results.iter().filter(|r| r.is_empty()).count() {
                1 => {}
                0 => out.push(format!(
                    "{at}: matches none of oneOf ({})",
                    closest(&results)
                )),
                n => out.push(format!(
                    "{at}: matches {n} branches of oneOf, not exactly one"
                )),
            }
        }
    }

    fn sub(&self, s: &Json, x: &Json, at: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.check(s, x, at, &mut out);
        out
    }
}

/// The errors of the branch that came closest, for the message.
fn closest(results: &[Vec<String>]) -> String {
    results
        .iter()
        .min_by_key(|r| r.len())
        .map(|r| r.join("; "))
        .unwrap_or_default()
}

fn has_type(x: &Json, name: &str) -> bool {
    match name {
        "null" => x.is_null(),
        "boolean" => x.is_boolean(),
        "object" => x.is_object(),
        "array" => x.is_array(),
        "string" => x.is_string(),
        "number" => x.is_number(),
        "integer" => {
            x.is_i64()
                || x.is_u64()
                || x.as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        _ => false,
    }
}

/// JSON equality as JSON Schema defines it (1 and 1.0 are equal).
fn json_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn brief(x: &Json) -> String {
    let s = x.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

// ---------------------------------------------------------------------------
// Talking to the binary

/// What a scripted line should get back.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Expect {
    /// A well-formed request that succeeds.
    Ok,
    /// A well-formed request (valid against the schema) that fails.
    Fails(&'static str),
    /// A malformed request (not valid against the schema) that fails.
    Refused(&'static str),
}

/// Run `rootcause json` on the lines; returns one response per line.
fn converse(args: &[&str], lines: &[(Vec<u8>, Expect)]) -> Vec<Json> {
    let mut input = Vec::new();
    for (line, _) in lines {
        input.extend_from_slice(line);
        input.push(b'\n');
    }
    let mut argv = vec!["json"];
    argv.extend_from_slice(args);
    let (code, out, err) = run_stdin(&argv, &input);
    assert_eq!(code, 0, "rootcause json failed: {err}");
    let responses: Vec<Json> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(
        responses.len(),
        lines.len(),
        "one response per request line:\n{out}"
    );
    responses
}

/// Check every request and response of a conversation against the schema;
/// returns the ops that succeeded and the error codes seen.
fn check_conversation(
    schema: &Schema,
    lines: &[(Vec<u8>, Expect)],
    responses: &[Json],
    ops: &mut BTreeSet<String>,
    codes: &mut BTreeSet<String>,
) {
    for (i, ((line, expect), r)) in lines.iter().zip(responses).enumerate() {
        let shown = String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned();
        let request: Option<Json> = serde_json::from_slice(line).ok();
        // The request against #/$defs/request
        match (expect, &request) {
            (Expect::Ok | Expect::Fails(_), Some(req)) => {
                let errs = schema.errors("request", req);
                assert!(
                    errs.is_empty(),
                    "line {i}: request {shown} is invalid: {errs:#?}"
                );
            }
            (Expect::Ok | Expect::Fails(_), None) => panic!("line {i}: {shown} is not JSON"),
            (Expect::Refused(_), Some(req)) => assert!(
                !schema.valid("request", req),
                "line {i}: the schema accepts {shown}, which the server refuses"
            ),
            (Expect::Refused(_), None) => {}
        }
        // The response against #/$defs/response
        let errs = schema.errors("response", r);
        assert!(
            errs.is_empty(),
            "line {i}: the response to {shown} is invalid: {errs:#?}\n{r}"
        );
        match expect {
            Expect::Ok => {
                assert_eq!(r["ok"], json!(true), "line {i}: {shown} failed: {r}");
                ops.insert(
                    request.as_ref().unwrap()["op"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
            }
            Expect::Fails(code) | Expect::Refused(code) => {
                assert_eq!(r["ok"], json!(false), "line {i}: {shown} succeeded");
                assert_eq!(r["error"]["code"], json!(code), "line {i}: {shown}: {r}");
                codes.insert(code.to_string());
            }
        }
        // The id comes back whenever the request could be parsed.
        if let Some(Json::Object(req)) = &request
            && *code_of(r) != json!("too_large")
        {
            assert_eq!(r.get("id"), req.get("id"), "line {i}: id not echoed: {r}");
        }
    }
}

fn code_of(r: &Json) -> &Json {
    &r["error"]["code"]
}

fn ok(v: Json) -> (Vec<u8>, Expect) {
    (v.to_string().into_bytes(), Expect::Ok)
}

fn fails(v: Json, code: &'static str) -> (Vec<u8>, Expect) {
    (v.to_string().into_bytes(), Expect::Fails(code))
}

fn refused(line: &[u8], code: &'static str) -> (Vec<u8>, Expect) {
    (line.to_vec(), Expect::Refused(code))
}

// ---------------------------------------------------------------------------
// (a) a scripted conversation

#[test]
fn scripted_conversation_matches_the_schema() {
    let schema = Schema::load();
    let mut ops = BTreeSet::new();
    let mut codes = BTreeSet::new();

    // 1. The embedded RDP KB: every op, both observe forms, the aliases,
    //    a failed fix, a verified fix, and the errors.
    let lines = vec![
        ok(json!({"op": "start", "id": 1, "kb": "rdp-0x904", "observations": {"connection_path": "gateway"}})),
        ok(json!({"op": "why", "id": 2, "evidence": "works_bypassing_path"})),
        ok(json!({"op": "observe", "id": 3, "evidence": "works_bypassing_path", "value": "no"})),
        ok(json!({"op": "observe", "id": "four", "evidence": "other_clients_can_connect", "value": true})),
        ok(json!({"op": "observe", "id": 5, "evidence": "certificate_expired", "value": "unknown"})),
        ok(json!({"op": "explain", "id": 6, "cause": "rdp_certificate_invalid"})),
        ok(json!({"op": "fix_result", "id": 7, "fix": "regenerate_rdp_certificate", "worked": false})),
        ok(json!({"op": "whynot", "id": 8, "cause": "rdp_certificate_invalid"})),
        ok(json!({"op": "observe", "id": 9, "observations": {"host_is_cloud_vm": false, "recent_windows_update": null}})),
        ok(json!({"op": "retract", "id": 10, "evidence": "host_is_cloud_vm"})),
        ok(json!({"op": "why", "id": 11, "evidence": "rdp_negotiation"})),
        ok(json!({"op": "state", "id": 12})),
        ok(json!({"op": "kb", "id": 13})),
        ok(json!({"op": "observe_text", "id": 14, "text": "Error code: 0x904\nExtended error code: 0x7\nTcpTestSucceeded : True"})),
        ok(json!({"op": "start", "id": 15, "text": "This could be due to CredSSP encryption oracle remediation."})),
        fails(json!({"op": "observe_text", "id": 16, "text": "a\u{0}b"}), "bad_text"),
        // A worked fix is verified by its questions.
        ok(json!({"op": "start", "id": 20, "observations": {"connection_path": "lan", "other_clients_can_connect": "no"}})),
        ok(json!({"op": "fix_result", "id": 21, "fix": "regenerate_rdp_certificate", "worked": true})),
        ok(json!({"op": "observe", "id": 22, "evidence": "cert_regenerates_after_delete", "value": "yes"})),
        ok(json!({"op": "observe", "id": 23, "evidence": "certificate_expired", "value": "no"})),
        ok(json!({"op": "state", "id": 24})),
        ok(json!({"op": "history", "id": 19})),
        ok(json!({"op": "explain", "id": 25, "cause": "intermediary_security_mismatch"})),
        // The compact view, on any op; the trace only when asked for.
        ok(json!({"op": "start", "id": 26, "view": "compact", "text": "Error code: 0x904"})),
        ok(json!({"op": "start", "id": 27, "view": "compact", "facts": {"probe.tcp": "ok", "probe.x224": "rsp", "probe.selected_protocol": 1, "probe.cert.expired": true, "probe.cert.not_after": "2026-11-04T20:26:46Z"}, "facts_source": "scan of rdp02:3390"})),
        fails(json!({"op": "start", "id": 28, "facts": {"no.such.fact": 1}}), "bad_request"),
        ok(json!({"op": "observe", "id": 27, "view": "compact", "evidence": "connection_path", "value": "vpn"})),
        ok(json!({"op": "explain", "id": 28, "view": "compact", "cause": "network_instability"})),
        ok(json!({"op": "state", "id": 29, "view": "compact", "trace": true})),
        refused(br#"{"op":"state","id":32,"view":"tiny"}"#, "bad_request"),
        // Errors. Well-formed requests the KB does not know:
        fails(json!({"op": "observe", "id": 30, "evidence": "connection_path", "value": "satellite"}), "bad_value"),
        fails(json!({"op": "observe", "id": 31, "evidence": "no_such_evidence", "value": "yes"}), "unknown_evidence"),
        fails(json!({"op": "explain", "id": 32, "cause": "certificate_problem"}), "unknown_cause"),
        fails(json!({"op": "fix_result", "id": 33, "fix": "reboot_everything", "worked": false}), "unknown_fix"),
        fails(json!({"op": "start", "id": 34, "kb": "mini"}), "unknown_kb"),
        fails(json!({"op": "collect", "id": 35, "collector": "rdp_probe", "target": "10.0.0.5"}), "not_allowed"),
        fails(json!({"op": "state", "id": 36, "state": {"kb": "mini", "kb_version": "0.1.0"}}), "bad_state"),
        // (too large for the server, though the schema cannot say so)
        (
            format!(
                "{{\"op\":\"observe\",\"id\":37,\"evidence\":\"connection_path\",\"value\":\"{}\"}}",
                "a".repeat(MIB + 1)
            )
            .into_bytes(),
            Expect::Fails("too_large"),
        ),
        // ...and malformed ones, which the schema refuses too.
        refused(b"{\"op\":\"observe\",", "bad_json"),
        refused(b"[{\"op\":\"state\"}]", "bad_json"),
        refused(br#"{"op":"frobnicate","id":40}"#, "unknown_op"),
        refused(br#"{"id":41}"#, "bad_request"),
        refused(br#"{"op":"observe","id":42,"evidence":"host_is_cloud_vm"}"#, "bad_request"),
        refused(
            br#"{"op":"fix_result","id":43,"fix":"regenerate_rdp_certificate","worked":"yes"}"#,
            "bad_request",
        ),
        refused(br#"{"op":"start","id":44,"observations":["connection_path"]}"#, "bad_request"),
    ];
    let responses = converse(&[], &lines);
    check_conversation(&schema, &lines, &responses, &mut ops, &mut codes);

    // The verification flow as documented.
    let by_id = |id: Json| {
        responses
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no response {id}"))
    };
    // Verification questions come in the KB's order.
    assert_eq!(
        by_id(json!(21))["next"]["evidence"],
        json!("certificate_expired")
    );
    assert_eq!(by_id(json!(21))["done"], json!(false));
    let verified = by_id(json!(23));
    assert_eq!(verified["done"], json!(true));
    assert_eq!(verified["done_reason"], json!("verified"));
    assert_eq!(
        verified["verified_fix"],
        json!("regenerate_rdp_certificate")
    );
    // The `kb` op lists the KB's fixes instead of the plan.
    assert!(by_id(json!(13))["fixes"][0].get("steps").is_some());
    assert!(by_id(json!(12))["fixes"][0].get("p_works").is_some());

    // 2. Carried state: a second process works on the first one's state.
    let carried = by_id(json!(12))["state"].clone();
    let mut other_kb = carried.clone();
    other_kb["kb"] = json!("mini");
    let mut twice = carried.clone();
    twice["observations"] = json!([
        {"evidence": "connection_path", "value": "vpn", "source": {"kind": "user"}},
        {"evidence": "connection_path", "value": "lan", "source": {"kind": "user"}}]);
    let lines = vec![
        ok(json!({"op": "state", "id": "s1", "state": carried})),
        ok(
            json!({"op": "observe", "id": "s2", "evidence": "client_fails_everywhere", "value": "no", "state": carried}),
        ),
        ok(json!({"op": "whynot", "id": "s3", "cause": "firewall_blocking", "state": carried})),
        ok(json!({"op": "state", "id": "s4", "state": null})),
        fails(
            json!({"op": "state", "id": "s5", "state": other_kb}),
            "bad_state",
        ),
        fails(
            json!({"op": "state", "id": "s6", "state": twice}),
            "bad_state",
        ),
    ];
    let responses = converse(&[], &lines);
    check_conversation(&schema, &lines, &responses, &mut ops, &mut codes);
    assert_eq!(
        responses[0]["state"], carried,
        "a carried state round-trips"
    );
    assert_eq!(
        responses[3]["state"]["observations"],
        json!([]),
        "carrying state leaves the process's session alone"
    );

    // 3. A long session: the trace keeps the last 100 steps.
    let mut lines = vec![ok(json!({"op": "start"}))];
    for i in 0..60 {
        lines.push(ok(
            json!({"op": "observe", "id": i, "evidence": "host_is_cloud_vm", "value": "yes"}),
        ));
        lines.push(ok(
            json!({"op": "retract", "id": i, "evidence": "host_is_cloud_vm"}),
        ));
    }
    let responses = converse(&[], &lines);
    check_conversation(&schema, &lines, &responses, &mut ops, &mut codes);
    let last = &responses.last().unwrap()["state"];
    assert_eq!(last["trace"].as_array().unwrap().len(), 100);
    assert_eq!(last["trace_dropped"], json!(20));

    // 4. Contradictory findings: two fixes that resolve no common cause
    //    both worked. Explanations then hold infinite weights (`null`).
    let lines = vec![
        ok(json!({"op": "start", "kb": "rdp-0x904", "observations": {"connection_path": "lan"}})),
        ok(json!({"op": "fix_result", "fix": "regenerate_rdp_certificate", "worked": true})),
        ok(json!({"op": "fix_result", "fix": "update_remote_desktop_client", "worked": true})),
        ok(json!({"op": "explain", "cause": "outdated_client"})),
        ok(json!({"op": "whynot", "cause": "other"})),
    ];
    let responses = converse(&[], &lines);
    check_conversation(&schema, &lines, &responses, &mut ops, &mut codes);
    assert!(responses[1].get("contradiction").is_none());
    assert_eq!(responses[2]["contradiction"], json!(true));

    // 5. Collectors, allowed by the operator for 127.0.0.1 only. The
    //    probe's target is a local port nothing listens on (refused at once).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        l.local_addr().unwrap().port()
    };
    let target = format!("127.0.0.1:{port}");
    let lines = vec![
        ok(json!({"op": "start", "id": 1, "observations": {"connection_path": "lan"}})),
        ok(
            json!({"op": "collect", "id": 2, "collector": "rdp_probe", "target": target, "timeout": 1}),
        ),
        ok(json!({"op": "explain", "id": 3, "cause": "firewall_blocking"})),
        fails(
            json!({"op": "collect", "id": 4, "collector": "rdp_probe", "target": "10.0.0.5"}),
            "not_allowed",
        ),
        fails(
            json!({"op": "collect", "id": 5, "collector": "rdp_probe"}),
            "bad_request",
        ),
    ];
    let responses = converse(&["--allow-probe", "127.0.0.1"], &lines);
    check_conversation(&schema, &lines, &responses, &mut ops, &mut codes);
    assert!(
        responses[1]["collected"]["facts"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    assert!(
        responses[1]["state"]["trace"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["action"] == json!("facts")),
        "the collection is in the trace"
    );

    // Coverage: every op of the schema succeeded at least once, and every
    // documented error code but `internal` was produced.
    assert_eq!(ops, schema_ops(&schema), "ops exercised");
    let mut expected_codes = error_codes(&schema);
    expected_codes.remove("internal");
    assert_eq!(codes, expected_codes, "error codes exercised");
}

const MIB: usize = 1 << 20;

/// The ops the request schema lists.
fn schema_ops(schema: &Schema) -> BTreeSet<String> {
    schema.defs()["request"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| schema.resolve(r["$ref"].as_str().unwrap())["properties"]["op"]["const"].clone())
        .map(|op| op.as_str().expect("op const").to_string())
        .collect()
}

/// The schema's error-code enum.
fn error_codes(schema: &Schema) -> BTreeSet<String> {
    schema.defs()["error"]["properties"]["error"]["properties"]["code"]["enum"]
        .as_array()
        .expect("the error code enum")
        .iter()
        .map(|c| c.as_str().expect("a code is a string").to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// (b) the validator rejects what is wrong

#[test]
fn wrong_responses_and_requests_are_rejected() {
    let schema = Schema::load();
    let lines = vec![
        ok(json!({"op": "start", "id": 1, "observations": {"connection_path": "vpn"}})),
        ok(json!({"op": "explain", "id": 2, "cause": "network_instability"})),
        ok(json!({"op": "why", "id": 3, "evidence": "works_bypassing_path"})),
        ok(json!({"op": "kb", "id": 4})),
        fails(
            json!({"op": "retract", "id": 5, "evidence": "nope"}),
            "unknown_evidence",
        ),
    ];
    let r = converse(&[], &lines);
    let (plain, explain, why, kb, error) = (&r[0], &r[1], &r[2], &r[3], &r[4]);
    for (i, good) in r.iter().enumerate() {
        let errs = schema.errors("response", good);
        assert!(errs.is_empty(), "response {i} is invalid: {errs:#?}");
    }

    type Mutation = (&'static str, Box<dyn Fn(&mut Json)>);
    fn m(what: &'static str, f: impl Fn(&mut Json) + 'static) -> Mutation {
        (what, Box::new(f))
    }
    let wrong: Vec<(&Json, Mutation)> = vec![
        (
            plain,
            m("no ranking", |r| {
                r.as_object_mut().unwrap().remove("ranking");
            }),
        ),
        (
            plain,
            m("no state", |r| {
                r.as_object_mut().unwrap().remove("state");
            }),
        ),
        (
            plain,
            m("probability above 1", |r| {
                r["ranking"][0]["probability"] = json!(1.5)
            }),
        ),
        (
            plain,
            m("negative probability", |r| {
                r["ranking"][1]["probability"] = json!(-0.1)
            }),
        ),
        (
            plain,
            m("ranking item without title", |r| {
                r["ranking"][0].as_object_mut().unwrap().remove("title");
            }),
        ),
        (
            plain,
            m("unknown advice step", |r| {
                r["advice"]["step"] = json!("wait")
            }),
        ),
        (
            plain,
            m("eco as a string", |r| r["advice"]["eco"] = json!("9.1")),
        ),
        (plain, m("done as a string", |r| r["done"] = json!("false"))),
        (
            plain,
            m("unknown done_reason", |r| {
                r["done_reason"] = json!("finished")
            }),
        ),
        (
            plain,
            m("contradiction false", |r| r["contradiction"] = json!(false)),
        ),
        (
            plain,
            m("an unknown top-level field", |r| r["extra"] = json!(1)),
        ),
        (
            plain,
            m("ok false on a success", |r| r["ok"] = json!(false)),
        ),
        (
            plain,
            m("next without answers", |r| {
                r["next"].as_object_mut().unwrap().remove("answers");
            }),
        ),
        (
            plain,
            m("negative expected gain", |r| {
                r["next"]["expected_gain_bits"] = json!(-0.5)
            }),
        ),
        (
            plain,
            m("fix risk as a number", |r| r["fixes"][0]["risk"] = json!(3)),
        ),
        (plain, m("fixes as an object", |r| r["fixes"] = json!({}))),
        (
            plain,
            m("state without kb", |r| {
                r["state"].as_object_mut().unwrap().remove("kb");
            }),
        ),
        (
            plain,
            m("unknown trace action", |r| {
                r["state"]["trace"][0]["action"] = json!("guess")
            }),
        ),
        (
            plain,
            m("unknown source kind", |r| {
                r["state"]["observations"][0]["source"] = json!({"kind": "oracle"})
            }),
        ),
        (
            plain,
            m("fractional trace_dropped", |r| {
                r["state"]["trace_dropped"] = json!(1.5)
            }),
        ),
        (
            explain,
            m("explain without total_bits", |r| {
                r.as_object_mut().unwrap().remove("total_bits");
            }),
        ),
        (
            explain,
            m("bits as a string", |r| {
                r["contributions"][0]["bits"] = json!("0.3")
            }),
        ),
        (why, m("why rank 0", |r| r["rank"] = json!(0))),
        (
            why,
            m("why without outcomes", |r| {
                r.as_object_mut().unwrap().remove("outcomes");
            }),
        ),
        (
            kb,
            m("kb evidence without askable", |r| {
                r["evidence"][0].as_object_mut().unwrap().remove("askable");
            }),
        ),
        (
            kb,
            m(
                "kb with a plan instead of fixes",
                |r| {
                    r["fixes"] = json!([{"fix": "x", "title": "x", "p_works": 0.5, "cost": 1.0, "risk": null}])
                },
            ),
        ),
        (
            error,
            m("unknown error code", |r| r["error"]["code"] = json!("oops")),
        ),
        (
            error,
            m("error without message", |r| {
                r["error"].as_object_mut().unwrap().remove("message");
            }),
        ),
        (error, m("ok true on an error", |r| r["ok"] = json!(true))),
        (
            error,
            m("an error with a ranking", |r| r["ranking"] = json!([])),
        ),
    ];
    for (base, (what, mutate)) in wrong {
        let mut bad = base.clone();
        mutate(&mut bad);
        assert_ne!(&bad, base, "{what}: the mutation changed nothing");
        assert!(
            !schema.valid("response", &bad),
            "the schema accepts a response with {what}"
        );
    }

    let good_requests = [
        json!({"op": "observe", "evidence": "host_is_cloud_vm", "value": null}),
        json!({"op": "observe", "observations": {}}),
        json!({"op": "state", "id": [1, "x"]}),
        json!({"op": "collect", "collector": "rdp_probe", "target": "10.0.0.5"}),
    ];
    for req in good_requests {
        let errs = schema.errors("request", &req);
        assert!(errs.is_empty(), "{req} is invalid: {errs:#?}");
    }
    let wrong_requests = [
        json!({"op": "observe", "evidence": "host_is_cloud_vm"}),
        json!({"op": "observe", "evidence": "host_is_cloud_vm", "value": 1}),
        json!({"op": "observe", "evidance": "host_is_cloud_vm", "value": "yes"}),
        json!({"op": "observe", "evidence": "host_is_cloud_vm", "value": "yes", "observations": {}}),
        json!({"op": "fix_result", "fix": "regenerate_rdp_certificate", "worked": "yes"}),
        json!({"op": "explain"}),
        json!({"op": "reboot"}),
        json!({"id": 1}),
        json!({"op": "state", "state": {"observations": []}}),
        json!({"op": "state", "state": 5}),
        json!(["state"]),
    ];
    for req in wrong_requests {
        assert!(!schema.valid("request", &req), "the schema accepts {req}");
    }
    // A response is no request, nor a request a response.
    assert!(!schema.valid("request", plain));
    assert!(!schema.valid("response", &json!({"op": "state"})));
}

// ---------------------------------------------------------------------------
// (c) the documented error codes

/// The codes in the table under `## Error codes` in the protocol doc.
fn documented_codes() -> BTreeSet<String> {
    let path = root().join("docs/json-protocol.md");
    let doc = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let section: Vec<&str> = doc
        .lines()
        .skip_while(|l| l.trim() != "## Error codes")
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .collect();
    assert!(
        !section.is_empty(),
        "docs/json-protocol.md has no `## Error codes` section"
    );
    section
        .iter()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

/// The string literals that follow `marker` in `text` (whitespace skipped).
fn literals_after(text: &str, marker: &str) -> Vec<String> {
    text.match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = text[i + marker.len()..].trim_start().strip_prefix('"')?;
            Some(rest[..rest.find('"')?].to_string())
        })
        .collect()
}

/// The MCP tools' files of `engine/src/protocol`: their codes are
/// documented in docs/chatbots.md, not in the JSON lines protocol.
const MCP_FILES: [&str; 2] = ["tools.rs", "token.rs"];

/// Every `.rs` file of a source folder, concatenated in name order, but
/// the MCP tools' files.
fn sources(dir: &Path) -> String {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter(|p| !MCP_FILES.iter().any(|f| p.ends_with(f)))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| fs::read_to_string(p).unwrap())
        .collect()
}

#[test]
fn error_codes_match_the_docs_and_the_engine() {
    let schema = Schema::load();
    let enum_codes = error_codes(&schema);
    let doc_codes = documented_codes();
    assert_eq!(
        enum_codes, doc_codes,
        "the schema's error codes and the codes docs/json-protocol.md lists differ"
    );

    // Every code the protocol sources can emit is in the enum.
    let protocol = sources(&root().join("engine/src/protocol"));
    let session = sources(&root().join("engine/src/session"));
    // The CLI's collector for `collect` (the allow-list) reports its own errors.
    let json_cmd = fs::read_to_string(root().join("cli/shared/allow.rs")).unwrap();
    let mut emitted: BTreeSet<String> = literals_after(&protocol, "ProtoError::new(")
        .into_iter()
        .chain(literals_after(&protocol, "\"code\":"))
        .chain(literals_after(&json_cmd, "ProtoError::new("))
        .collect();
    if let Some(start) = session.find("fn code(&self)") {
        let body = &session[start..];
        let body = &body[..body.find("\n    }\n").unwrap_or(body.len())];
        emitted.extend(literals_after(body, "=>"));
    }
    assert!(
        emitted.len() >= 8,
        "found only {emitted:?} in the engine sources"
    );
    let missing: Vec<&String> = emitted.difference(&enum_codes).collect();
    assert!(
        missing.is_empty(),
        "the engine emits codes the schema and docs do not list: {missing:?}"
    );

    // The MCP tools' own codes are in docs/chatbots.md.
    let chatbots = fs::read_to_string(root().join("docs/chatbots.md")).unwrap();
    for f in MCP_FILES {
        let text = fs::read_to_string(root().join("engine/src/protocol").join(f)).unwrap();
        for code in literals_after(&text, "ProtoError::new(") {
            assert!(
                enum_codes.contains(&code) || chatbots.contains(&format!("`{code}`")),
                "the MCP tools emit `{code}`, which docs/chatbots.md does not list"
            );
        }
    }

    // The docs name every op of the request schema.
    let doc = fs::read_to_string(root().join("docs/json-protocol.md")).unwrap();
    for op in schema_ops(&schema) {
        assert!(
            doc.contains(&format!("### `{op}`")),
            "docs/json-protocol.md has no section for op `{op}`"
        );
    }
}
