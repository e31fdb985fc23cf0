//! Whole-process benchmarks of the binary (`cargo bench --bench cli`):
//! `kb check` wall time on the embedded KB, and JSON-mode throughput of one
//! `rootcause json` process (short sessions and one long one, full and
//! compact view). Figures: docs/performance.md.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/support/http.rs"]
mod http;

const BIN: &str = env!("CARGO_BIN_EXE_rootcause");

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn kb_check() {
    let mut times = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let out = Command::new(BIN)
            .args(["kb", "check"])
            .output()
            .expect("run kb check");
        times.push(t.elapsed());
        assert!(out.status.success());
    }
    println!(
        "kb check (embedded KB, whole process): median {:.2} ms over 30 runs",
        median(times).as_secs_f64() * 1e3
    );
}

/// The answers the benchmarks give.
const ANSWERS: [(&str, &str); 10] = [
    ("connection_path", "vpn"),
    ("failure_intermittent", "yes"),
    ("port_reachable", "yes"),
    ("certificate_expired", "no"),
    ("host_os", "windows_server"),
    ("other_clients_can_connect", "no"),
    ("recent_windows_update", "no"),
    ("nla_required", "yes"),
    ("third_party_security_software", "no"),
    ("client_up_to_date", "yes"),
];

/// Sessions of `start` + 10 answers, the way a chatbot drives the engine.
fn requests(sessions: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut id = 0;
    for _ in 0..sessions {
        out.push(format!(r#"{{"op":"start","id":{id}}}"#));
        id += 1;
        for (e, v) in ANSWERS {
            out.push(format!(
                r#"{{"op":"observe","id":{id},"evidence":"{e}","value":"{v}"}}"#
            ));
            id += 1;
        }
    }
    out
}

/// One session of `n` requests: answers to every askable question,
/// retracted and given again, round and round (the state stays the size of
/// the KB; only the trace would grow).
fn long_session(n: usize, view: &str) -> Vec<String> {
    let answers = &ANSWERS[..5];
    let mut out = vec![format!(r#"{{"op":"start","id":0{view}}}"#)];
    let mut i = 0;
    while out.len() < n {
        let (e, v) = answers[i % answers.len()];
        out.push(format!(
            r#"{{"op":"observe","id":{},"evidence":"{e}","value":"{v}"{view}}}"#,
            out.len()
        ));
        out.push(format!(
            r#"{{"op":"retract","id":{},"evidence":"{e}"{view}}}"#,
            out.len()
        ));
        i += 1;
    }
    out.truncate(n);
    out
}

/// Requests per second of one `rootcause json` process, and the mean
/// response size.
fn throughput(reqs: &[String]) -> (f64, usize) {
    let n = reqs.len();
    let input = reqs.join("\n") + "\n";
    let mut child = Command::new(BIN)
        .arg("json")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn rootcause json");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let t = Instant::now();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let (mut lines, mut bytes) = (0, 0);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a response");
        assert!(
            line.starts_with(r#"{"id""#) && line.contains(r#""ok":true"#),
            "{line}"
        );
        lines += 1;
        bytes += line.len() + 1;
    }
    let elapsed = t.elapsed();
    writer.join().expect("writer").expect("write requests");
    assert!(child.wait().expect("wait").success());
    assert_eq!(lines, n, "one response per request");
    (n as f64 / elapsed.as_secs_f64(), bytes / n)
}

fn json_throughput() {
    for (name, view) in [("full", ""), ("compact", r#","view":"compact""#)] {
        let short: Vec<String> = requests(5_000)
            .into_iter()
            .map(|r| r.replacen('}', &format!("{view}}}"), 1))
            .collect();
        let (rate, size) = throughput(&short);
        println!(
            "json mode, {name} view: 55,000 requests (5,000 sessions of start + 10 observe): {rate:.0} requests/s, {size} bytes per response"
        );
        let (rate, size) = throughput(&long_session(20_000, view));
        println!(
            "json mode, {name} view: one session of 20,000 requests (observe/retract): {rate:.0} requests/s, {size} bytes per response"
        );
    }
}

/// `rootcause mcp --http`: `clients` threads, each with one keep-alive
/// connection, each running sessions of 10 tool calls (start, then
/// answers), passing the session token along.
fn mcp_http(clients: usize, sessions_each: usize) {
    let server = http::McpServer::start(BIN, "bench-session-key-0123456789", &[]);
    let t = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|k| {
            let mut conn = server.connect();
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(sessions_each * 10);
                for s in 0..sessions_each {
                    let path = ["lan", "vpn", "gateway", "internet"][(k + s) % 4];
                    let args = serde_json::json!({"observations": {"connection_path": path}});
                    let t = Instant::now();
                    let r = conn.call_tool(1, "start_diagnosis", args).expect("a reply");
                    lat.push(t.elapsed());
                    let mut d = r.json()["result"]["structuredContent"].clone();
                    for i in 0..9 {
                        let Some(ev) = d["next"]["evidence"].as_str().map(str::to_string) else {
                            break;
                        };
                        let value = ["unknown", "yes", "no"][(i + s) % 3];
                        let args = serde_json::json!({"session": d["session"], "evidence": ev, "value": value});
                        let t = Instant::now();
                        let r = conn.call_tool(2, "answer", args).expect("a reply");
                        lat.push(t.elapsed());
                        let j = r.json();
                        if j["result"]["isError"] != false {
                            // A value the question does not have: ask again with `unknown`.
                            let args = serde_json::json!({"session": d["session"], "evidence": ev, "value": "unknown"});
                            let r = conn.call_tool(3, "answer", args).expect("a reply");
                            d = r.json()["result"]["structuredContent"].clone();
                        } else {
                            d = j["result"]["structuredContent"].clone();
                        }
                    }
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<Duration> = threads
        .into_iter()
        .flat_map(|h| h.join().expect("client thread"))
        .collect();
    let wall = t.elapsed();
    lat.sort();
    let n = lat.len();
    println!(
        "mcp over HTTP: {clients} connections x {sessions_each} sessions, {n} tool calls in {:.2} s = {:.0} calls/s; latency p50 {:.2} ms, p99 {:.2} ms",
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        lat[n / 2].as_secs_f64() * 1e3,
        lat[n * 99 / 100].as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo test --benches` runs this with --test-ish flags: keep it quick then.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    kb_check();
    json_throughput();
    mcp_http(4, 500);
    mcp_http(200, 10);
}
