//! Whole-process benchmarks of the binary (`cargo bench --bench cli`):
//! `kb check` wall time on the embedded KB, and JSON-mode throughput of one
//! `rootcause json` process. Figures: docs/performance.md.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// Sessions of `start` + 10 answers, the way a chatbot drives the engine.
fn requests(sessions: usize) -> Vec<String> {
    let answers = [
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
    let mut out = Vec::new();
    let mut id = 0;
    for _ in 0..sessions {
        out.push(format!(r#"{{"op":"start","id":{id}}}"#));
        id += 1;
        for (e, v) in answers {
            out.push(format!(
                r#"{{"op":"observe","id":{id},"evidence":"{e}","value":"{v}"}}"#
            ));
            id += 1;
        }
    }
    out
}

fn json_throughput() {
    let reqs = requests(5_000);
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
    let mut lines = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a response");
        assert!(line.starts_with('{'));
        lines += 1;
    }
    let elapsed = t.elapsed();
    writer.join().expect("writer").expect("write requests");
    assert!(child.wait().expect("wait").success());
    assert_eq!(lines, n, "one response per request");
    println!(
        "json mode: {n} requests (5000 sessions of start + 10 observe) in {:.2} s = {:.0} requests/s",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
}

fn main() {
    // `cargo test --benches` runs this with --test-ish flags: keep it quick then.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    kb_check();
    json_throughput();
}
