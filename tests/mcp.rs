//! `rootcause mcp`: the official MCP Python SDK drives it over stdio and
//! streamable HTTP (tests/mcp/client.py), two processes continue one
//! session, a load of 200 concurrent sessions; and, without Python, the
//! HTTP front's refusals and 10,000 malformed requests.
//!
//! The Python SDK comes from the virtual environment `.ci/run` makes
//! (`target/mcp-venv`, or `ROOTCAUSE_MCP_PYTHON`). Without it these tests
//! are skipped, except under `CI=true`, where a missing SDK is a failure.

mod common;
#[path = "support/http.rs"]
mod http;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use common::*;
use http::McpServer;

const BIN: &str = env!("CARGO_BIN_EXE_rootcause");
const KEY: &str = "test-session-key-0123456789";

/// A Python with the `mcp` package, or `None` (a failure under CI).
fn python() -> Option<PathBuf> {
    python_with("mcp")
}

/// Run tests/mcp/client.py; returns its JSON figures.
fn client(py: &PathBuf, args: &[&str]) -> Json {
    let out = Command::new(py)
        .arg(root().join("tests/mcp/client.py"))
        .args(args)
        .output()
        .expect("run the Python MCP client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "client.py {args:?} failed:\n{stderr}\n{stdout}"
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("figures: {stdout}"))
}

#[test]
fn official_client_over_stdio() {
    let Some(py) = python() else { return };
    let f = client(&py, &["stdio", BIN]);
    eprintln!("stdio: {f}");
    assert!(
        f["max_text_bytes"].as_u64().unwrap_or(u64::MAX) <= 2048,
        "{f}"
    );
    assert!(
        f["max_structured_bytes"].as_u64().unwrap_or(u64::MAX) <= 2048,
        "{f}"
    );
}

#[test]
fn official_client_over_http_two_processes_and_load() {
    let Some(py) = python() else { return };
    let a = McpServer::start(BIN, KEY, &[]);
    let b = McpServer::start(BIN, KEY, &[]);
    let f = client(&py, &["http", &a.url(), &b.url()]);
    eprintln!("http: {f}");
    assert_eq!(f["alternated"], 3);
    let load = client(&py, &["load", &a.url(), "200", "10"]);
    eprintln!("load (official client, 200 sessions x 10 calls): {load}");
    assert_eq!(load["errors"], 0);
    assert_eq!(load["calls"], 2000);
}

/// One session through two processes, request by request, over raw HTTP:
/// the same answers from either.
#[test]
fn two_processes_serve_one_session_alternately() {
    let a = McpServer::start(BIN, KEY, &[]);
    let b = McpServer::start(BIN, KEY, &[]);
    let (mut ca, mut cb) = (a.connect(), b.connect());
    let start = ca
        .call_tool(
            1,
            "start_diagnosis",
            json!({"text": "Error code: 0x904\nExtended error code: 0x7"}),
        )
        .expect("a reply");
    let mut d = start.json()["result"]["structuredContent"].clone();
    for step in 0..8 {
        let Some(next) = d["next"]["evidence"].as_str().map(str::to_string) else {
            break;
        };
        let args = json!({"session": d["session"], "evidence": next, "value": if step % 2 == 0 { "unknown" } else { "no" }});
        let ra = ca
            .call_tool(10 + step, "answer", args.clone())
            .expect("a reply");
        let rb = cb.call_tool(10 + step, "answer", args).expect("a reply");
        assert_eq!(ra.status, 200);
        let (ja, jb) = (ra.json(), rb.json());
        assert_eq!(ja, jb, "the processes differ at step {step}");
        assert_eq!(ja["result"]["isError"], false, "{ja}");
        d = if step % 2 == 0 { ja } else { jb }["result"]["structuredContent"].clone();
    }
    // A third process with another key refuses the session.
    let c = McpServer::start(BIN, "another-key-0123456789abcdef", &[]);
    let r = c
        .connect()
        .call_tool(
            99,
            "answer",
            json!({"session": d["session"], "evidence": "host_os", "value": "windows_server"}),
        )
        .expect("a reply");
    let j = r.json();
    assert_eq!(j["result"]["isError"], true, "{j}");
    assert!(j.to_string().contains("bad_session"), "{j}");
}

#[test]
fn non_loopback_needs_a_token_and_the_token_is_checked() {
    let (code, _, err) = run(&["mcp", "--http", "0.0.0.0:0"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("--token"), "{err}");
    let s = McpServer::start(BIN, KEY, &["--token", "s3cret-token"]);
    let mut c = s.connect();
    let r = c
        .call_tool(1, "decode_error", json!({"code": "0x904"}))
        .expect("a reply");
    assert_eq!(r.status, 401);
    // A refused request's body is not read: the server closes the connection.
    c.auth = Some("wrong".into());
    c.reconnect();
    assert_eq!(
        c.call_tool(2, "decode_error", json!({"code": "0x904"}))
            .expect("a reply")
            .status,
        401
    );
    c.auth = Some("s3cret-token".into());
    c.reconnect();
    let r = c
        .call_tool(3, "decode_error", json!({"code": "0x904"}))
        .expect("a reply");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["result"]["structuredContent"]["known"], true);
}

#[test]
fn probe_outside_the_allow_list_is_refused() {
    let s = McpServer::start(BIN, KEY, &["--allow-probe", "192.0.2.0/28"]);
    let mut c = s.connect();
    let list = c
        .post("/mcp", br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .expect("a reply")
        .json();
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"probe_rdp"), "{names:?}");
    for target in ["127.0.0.1:3389", "192.0.2.16", "rdp01.example"] {
        let r = c
            .call_tool(2, "probe_rdp", json!({"target": target}))
            .expect("a reply")
            .json();
        assert_eq!(r["result"]["isError"], true, "{r}");
        assert!(r.to_string().contains("not_allowed"), "{r}");
    }
    // Without --allow-probe the tool is not listed and cannot be called.
    let s = McpServer::start(BIN, KEY, &[]);
    let r = s
        .connect()
        .call_tool(3, "probe_rdp", json!({"target": "127.0.0.1"}))
        .expect("a reply")
        .json();
    assert!(r["error"].is_object(), "{r}");
}

/// 10,000 malformed requests and forged tokens: every one answered with an
/// error (HTTP or JSON-RPC or tool error), no crash, and the server goes on
/// serving.
#[test]
fn ten_thousand_malformed_requests() {
    let s = McpServer::start(BIN, KEY, &["--max-body", "65536"]);
    let mut c = s.connect();
    let good = c
        .call_tool(0, "start_diagnosis", json!({}))
        .expect("a reply")
        .json();
    let token = good["result"]["structuredContent"]["session"]
        .as_str()
        .expect("a session")
        .to_string();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let t = Instant::now();
    let (mut answered, mut closed) = (0, 0);
    for i in 0..10_000u64 {
        let r = next();
        let body: Vec<u8> = match i % 10 {
            0 => (0..(r % 200)).map(|_| (next() & 0xff) as u8).collect(),
            1 => b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":".to_vec(),
            2 => json!({"jsonrpc": "2.0", "id": i, "method": "no/such"}).to_string().into_bytes(),
            3 => json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "answer", "arguments": {"session": forge(&token, r), "evidence": "host_os", "value": "windows_server"}}}).to_string().into_bytes(),
            4 => json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "answer", "arguments": {"session": &token[..(r as usize % token.len())]}}}).to_string().into_bytes(),
            5 => json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "report_fix", "arguments": {"session": token, "fix": r.to_string(), "worked": "x"}}}).to_string().into_bytes(),
            6 => json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "answer", "arguments": {"session": "rc1.".to_string() + &"A".repeat((r % 60_000) as usize) + ".AAAA"}}}).to_string().into_bytes(),
            7 => json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "start_diagnosis", "arguments": {"text": 42, "observations": [1, 2]}}}).to_string().into_bytes(),
            8 => json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": "nope"}).to_string().into_bytes(),
            _ => vec![b'x'; 70_000],
        };
        let reply = if i % 1000 == 999 {
            c.raw(b"GARBAGE / HTTP/9\r\n\r\n")
        } else {
            c.post("/mcp", &body)
        };
        match reply {
            Some(r) => {
                answered += 1;
                if r.status == 413 || i % 1000 == 999 {
                    // The server closes a connection whose body it refused
                    // or whose request it could not parse.
                    c.reconnect();
                }
                let j = r.json();
                let failed =
                    r.status >= 400 || j["error"].is_object() || j["result"]["isError"] == true;
                assert!(failed, "request {i} ({}) succeeded: {j}", i % 10);
            }
            None => {
                // The server may close a connection after refusing a body
                // it would not read (413) or a request it cannot parse.
                assert!(
                    i % 10 == 9 || i % 1000 == 999,
                    "request {i} ({}): the connection closed without a reply",
                    i % 10
                );
                closed += 1;
                c.reconnect();
            }
        }
    }
    eprintln!(
        "10,000 malformed requests in {:.2} s: {answered} answered with an error, {closed} connections closed by the server",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(answered + closed, 10_000);
    assert!(answered >= 9_000, "{answered} answered");
    let r = c.call_tool(
        1,
        "answer",
        json!({"session": token, "evidence": "host_os", "value": "windows_server"}),
    );
    let r = r.unwrap_or_else(|| {
        c.reconnect();
        c.call_tool(
            1,
            "answer",
            json!({"session": token, "evidence": "host_os", "value": "windows_server"}),
        )
        .expect("the server still serves")
    });
    assert_eq!(r.json()["result"]["isError"], false, "{}", r.json());
    std::thread::sleep(Duration::from_millis(50));
}

/// A token with one character changed.
fn forge(token: &str, r: u64) -> String {
    let mut b = token.as_bytes().to_vec();
    let i = 4 + (r as usize % (b.len() - 4));
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap_or_default()
}

#[test]
fn stdio_server_survives_garbage_lines() {
    // Not JSON-RPC at all, then a valid exchange: the transport reports
    // errors and keeps the session.
    let input = b"garbage\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"decode_error\",\"arguments\":{\"code\":\"0x904\",\"extended\":\"0x7\"}}}\n";
    let (code, out, err) = run_stdin(&["mcp"], input);
    assert_eq!(code, 0, "{err}");
    let replies: Vec<Json> = out
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let decoded = replies
        .iter()
        .find(|r| r["id"] == 2)
        .unwrap_or_else(|| panic!("no reply to the tool call:\n{out}\n{err}"));
    assert_eq!(
        decoded["result"]["structuredContent"]["known"], true,
        "{decoded}"
    );
}
