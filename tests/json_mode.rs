//! End-to-end tests of `rootcause json`, the JSON lines protocol v1
//! (DESIGN §8, a contract): every op, the response shape, every error
//! code, the `state` round trip across processes, and robustness against
//! garbage input. Each test talks to a real process line by line; a read
//! times out after 10 s so a hang fails instead of hanging.
//!
//! Reference metadata (ids, values, verify expectations) comes from the
//! library (`Engine::embedded()`, `Engine::from_dir`), the numbers are
//! recomputed here from what the protocol itself returns.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use rootcause_engine::Engine;
use serde_json::{Value as Json, json};

use common::*;

const TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// A `rootcause json` process

struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
}

impl Proc {
    fn spawn(args: &[&str]) -> Proc {
        let mut child = bin()
            .arg("json")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rootcause json");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut buf = Vec::new();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        assert_eq!(buf.pop(), Some(b'\n'), "a response line is not terminated");
                        let line = String::from_utf8(buf).expect("responses are UTF-8");
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Proc {
            child,
            stdin,
            lines: rx,
            stderr: Some(stderr),
        }
    }

    fn embedded() -> Proc {
        Proc::spawn(&[])
    }

    fn mini() -> Proc {
        let dir = fixture("kb/mini");
        Proc::spawn(&["--kb", dir.to_str().unwrap()])
    }

    /// Write one line (the bytes plus a newline).
    fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write request");
        stdin.write_all(b"\n").expect("write newline");
        stdin.flush().expect("flush");
    }

    /// Read one response line as a JSON object.
    fn recv(&mut self) -> Json {
        let line = match self.lines.recv_timeout(TIMEOUT) {
            Ok(l) => l,
            Err(RecvTimeoutError::Timeout) => panic!("no response within {TIMEOUT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("rootcause json closed its output"),
        };
        let v: Json = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {line}"));
        assert!(v.is_object(), "response is not an object: {line}");
        v
    }

    fn raw(&mut self, bytes: &[u8]) -> Json {
        self.send_raw(bytes);
        self.recv()
    }

    fn req(&mut self, req: Json) -> Json {
        self.raw(req.to_string().as_bytes())
    }

    /// Send a request that must succeed; returns the response.
    fn ok(&mut self, req: Json) -> Json {
        let r = self.req(req.clone());
        assert_eq!(r["ok"], json!(true), "{req} failed: {r}");
        r
    }

    /// Close stdin; the process must exit 0 with nothing more on stdout.
    fn finish(mut self) -> String {
        drop(self.stdin.take());
        let mut status = None;
        for _ in 0..1000 {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let status = status.expect("rootcause json did not exit at end of input");
        let extra: Vec<String> =
            std::iter::from_fn(|| self.lines.recv_timeout(TIMEOUT).ok()).collect();
        assert!(extra.is_empty(), "unexpected extra output: {extra:?}");
        let stderr = self.stderr.take().unwrap().join().expect("stderr reader");
        assert!(
            !stderr.contains("panicked"),
            "the process panicked:\n{stderr}"
        );
        assert_eq!(
            status.code(),
            Some(0),
            "exit status {status:?}, stderr:\n{stderr}"
        );
        stderr
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Reference metadata and shape checks

fn embedded() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::embedded().expect("embedded KB"))
}

fn mini() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::from_dir(&fixture("kb/mini")).expect("mini KB"))
}

fn num(v: &Json, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

fn string<'a>(v: &'a Json, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"))
}

/// `cause → probability` from a response.
fn probs(r: &Json) -> BTreeMap<String, f64> {
    r["ranking"]
        .as_array()
        .expect("ranking")
        .iter()
        .map(|x| {
            (
                x["cause"].as_str().unwrap().to_string(),
                x["probability"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn prob(r: &Json, cause: &str) -> f64 {
    probs(r)[cause]
}

/// Every success response has the shape of DESIGN §8.
fn check_success(r: &Json, engine: &Engine) {
    let m = &engine.model;
    let kb = &engine.kb;
    assert_eq!(r["ok"], json!(true), "{r}");
    assert!(r.get("error").is_none());

    // ranking: all causes incl. other, descending, sums to 1
    let ranking = r["ranking"].as_array().expect("ranking is an array");
    assert_eq!(
        ranking.len(),
        m.causes.len(),
        "every cause incl. other is ranked"
    );
    let ids: BTreeSet<&str> = ranking
        .iter()
        .map(|x| string(&x["cause"], "cause"))
        .collect();
    let expect: BTreeSet<&str> = m.causes.iter().map(String::as_str).collect();
    assert_eq!(ids, expect);
    assert!(ids.contains("other"));
    let mut sum = 0.0;
    let mut last = f64::INFINITY;
    for x in ranking {
        assert!(!string(&x["title"], "title").is_empty());
        let p = num(&x["probability"], "probability");
        assert!((0.0..=1.0).contains(&p));
        assert!(p <= last, "ranking not descending: {r}");
        last = p;
        sum += p;
    }
    assert!((sum - 1.0).abs() <= 1e-9, "ranking sums to {sum}");

    // next: null or a question
    let next = &r["next"];
    assert!(r.as_object().unwrap().contains_key("next"));
    if !next.is_null() {
        let id = string(&next["evidence"], "next.evidence");
        let e = kb
            .evidence(id)
            .unwrap_or_else(|| panic!("unknown evidence {id}"));
        assert!(e.question.is_some(), "{id} is not askable");
        assert!(!string(&next["question"], "question").is_empty());
        let answers = next["answers"].as_array().expect("answers");
        let values: Vec<&str> = answers
            .iter()
            .map(|a| string(&a["value"], "value"))
            .collect();
        assert_eq!(
            values,
            e.values.iter().map(String::as_str).collect::<Vec<_>>()
        );
        for a in answers {
            assert!(!string(&a["label"], "label").is_empty());
        }
        assert_eq!(num(&next["cost"], "cost"), e.cost);
        assert!(num(&next["expected_gain_bits"], "expected_gain_bits") >= 0.0);
    }

    // fixes: the plan, best P/C first, untried only
    let tried: BTreeSet<&str> = r["state"]["fixes"]
        .as_array()
        .expect("state.fixes")
        .iter()
        .map(|f| f["fix"].as_str().unwrap())
        .collect();
    let fixes = r["fixes"].as_array().expect("fixes");
    let mut seen = BTreeSet::new();
    let mut last = f64::INFINITY;
    for f in fixes {
        let id = string(&f["fix"], "fix");
        let k = kb.fix(id).unwrap_or_else(|| panic!("unknown fix {id}"));
        assert!(seen.insert(id), "{id} listed twice");
        assert!(!tried.contains(id), "tried fix {id} still planned");
        assert_eq!(string(&f["title"], "title"), k.title);
        let p = num(&f["p_works"], "p_works");
        assert!(p > 0.0 && p <= 1.0 + 1e-12);
        assert_eq!(num(&f["cost"], "cost"), k.cost);
        // The plan orders by effort plus what the fix's risks add, plus the
        // KB's cost per step.
        let cost = k.cost + f["risk_cost"].as_f64().unwrap_or(0.0) + kb.manifest.step_cost;
        assert_eq!(
            f["lowers_security"].as_bool().unwrap_or(false),
            k.lowers_security
        );
        assert!(f["risk"].is_string() || f["risk"].is_null(), "{f}");
        assert!(
            p / cost <= last + 1e-15,
            "fixes not ordered by p_works/cost"
        );
        last = p / cost;
    }

    // advice
    let a = &r["advice"];
    let step = string(&a["step"], "advice.step");
    assert!(["ask", "try_fix", "escalate"].contains(&step), "{step}");
    assert!(a["fix"].is_null() || a["fix"].is_string());
    assert!(num(&a["ecr"], "ecr") >= 0.0);
    assert!(a["eco"].is_null() || a["eco"].is_number());
    assert!(!string(&a["reason"], "reason").is_empty());
    let verifying = !r["state"]["verifying"].is_null();
    if step == "try_fix" {
        assert_eq!(a["fix"], fixes[0]["fix"], "try_fix names the top fix");
    }
    if step == "ask" && !verifying {
        assert!(!next.is_null(), "advice says ask but there is no question");
    }
    if let (Some(eco), false) = (a["eco"].as_f64(), verifying) {
        let ecr = num(&a["ecr"], "ecr");
        match step {
            "ask" => assert!(eco < ecr, "ask chosen although ECO {eco} >= ECR {ecr}"),
            "try_fix" => assert!(eco >= ecr, "try_fix chosen although ECO {eco} < ECR {ecr}"),
            _ => {}
        }
    }

    // done, state
    let done = r["done"].as_bool().expect("done is a boolean");
    if done {
        assert!(next.is_null(), "done but a next question");
    } else if !verifying {
        assert!(!next.is_null(), "not done but no next question");
    }
    assert!(r["state"].is_object());
    assert_eq!(r["state"]["kb"], json!(kb.manifest.id));
}

fn check_error(r: &Json, code: &str) {
    assert_eq!(r["ok"], json!(false), "expected error {code}, got {r}");
    assert_eq!(r["error"]["code"], json!(code), "{r}");
    assert!(!string(&r["error"]["message"], "message").is_empty());
    assert!(r.get("ranking").is_none() && r.get("state").is_none());
}

/// ECR of the listed plan from the listed probabilities and the KB's `resolves`.
fn ecr_of(r: &Json, engine: &Engine) -> f64 {
    let p = probs(r);
    let mut still: BTreeMap<String, f64> = p.clone();
    let mut total = 0.0;
    for f in r["fixes"].as_array().unwrap() {
        let fix = engine.kb.fix(f["fix"].as_str().unwrap()).unwrap();
        let cost = fix.cost + f["risk_cost"].as_f64().unwrap_or(0.0) + engine.kb.manifest.step_cost;
        total += cost * still.values().sum::<f64>();
        for (c, m) in still.iter_mut() {
            *m *= 1.0 - fix.resolves.get(c).copied().unwrap_or(0.0);
        }
    }
    total
}

/// Equal JSON, numbers within `tol` relative. (serde_json's default float
/// parser may be off by one ulp, so numbers that went through a parse, like
/// the trace inside a carried `state`, are compared with a tolerance.)
fn assert_json_close(a: &Json, b: &Json, tol: f64, path: &str) {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= tol * x.abs().max(y.abs()),
                "{path}: {x} vs {y}"
            );
        }
        (Json::Array(x), Json::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}: lengths differ");
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                assert_json_close(u, v, tol, &format!("{path}[{i}]"));
            }
        }
        (Json::Object(x), Json::Object(y)) => {
            let kx: Vec<&String> = x.keys().collect();
            let ky: Vec<&String> = y.keys().collect();
            assert_eq!(kx, ky, "{path}: keys differ");
            for (k, u) in x {
                assert_json_close(u, &y[k], tol, &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

fn without_id(mut r: Json) -> Json {
    r.as_object_mut().unwrap().remove("id");
    r
}

// ---------------------------------------------------------------------------
// Ops

#[test]
fn start_variants_and_id_echo() {
    let e = embedded();
    let mut p = Proc::embedded();

    // start without observations: the prior
    let r = p.ok(json!({"op": "start", "id": 1}));
    check_success(&r, e);
    assert_eq!(r["id"], json!(1));
    for (c, id) in e.model.causes.iter().enumerate() {
        assert!((prob(&r, id) - e.model.prior[c]).abs() <= 1e-12, "{id}");
    }
    assert_eq!(r["state"]["observations"], json!([]));
    assert_eq!(r["done"], json!(false));
    let prior = r.clone();

    // with observations
    let r = p.ok(json!({"op": "start", "id": 2,
        "observations": {"connection_path": "vpn", "packet_loss_or_high_latency": "yes"}}));
    check_success(&r, e);
    assert_eq!(r["state"]["observations"].as_array().unwrap().len(), 2);
    assert_ne!(r["ranking"], prior["ranking"]);
    let with_obs = r.clone();

    // with the KB named
    let r = p.ok(json!({"op": "start", "id": 3, "kb": "rdp-0x904",
        "observations": {"connection_path": "vpn", "packet_loss_or_high_latency": "yes"}}));
    check_success(&r, e);
    assert_eq!(r["ranking"], with_obs["ranking"]);

    // start again resets the session
    let r = p.ok(json!({"op": "start"}));
    assert_eq!(r["ranking"], prior["ranking"]);
    assert!(r.get("id").is_none(), "no id, none echoed: {r}");

    // ids of every JSON type come back unchanged
    for id in [
        json!("abc"),
        json!(-7),
        json!(2.5),
        json!(12345678901234u64),
        json!({"conv": "x", "n": [1, 2]}),
        json!([1, "two"]),
        json!(true),
        json!(null),
        json!(""),
    ] {
        let r = p.ok(json!({"op": "state", "id": id.clone()}));
        assert_eq!(r.get("id"), Some(&id), "{r}");
        let r = p.req(json!({"op": "no_such_op", "id": id.clone()}));
        check_error(&r, "unknown_op");
        assert_eq!(r.get("id"), Some(&id), "errors echo the id too: {r}");
    }
    p.finish();
}

#[test]
fn start_with_the_intake() {
    let e = embedded();
    let mut p = Proc::embedded();
    // The `kb` op lists the choices, what the dialog says first.
    let kb = p.ok(json!({"op": "kb"}));
    let choices = kb["intake"].as_array().expect("intake choices");
    assert_eq!(choices[0]["part"], json!("shown"));
    assert!(choices.iter().any(|c| c["choice"] == json!("update")));
    // A triage choice names the question it answers.
    let vpn = choices
        .iter()
        .find(|c| c["choice"] == json!("vpn"))
        .expect("vpn");
    assert_eq!(vpn["part"], json!("triage"));
    assert_eq!(vpn["evidence"], json!("connection_path"));
    assert_eq!(vpn["sets"], json!({"connection_path": "vpn"}));

    // One list of choices sets several answers; the response says which.
    let r = p.ok(json!({"op": "start", "id": 1, "intake": ["credssp", "update"]}));
    check_success(&r, e);
    assert_eq!(
        r["intake"],
        json!({"credssp_error_shown": "yes", "recent_windows_update": "yes"})
    );
    assert_eq!(r["ranking"][0]["cause"], json!("credssp_oracle_mismatch"));
    assert_eq!(r["state"]["observations"].as_array().unwrap().len(), 2);
    // With the intake and observations together, both apply.
    let r = p.ok(json!({"op": "start", "intake": ["none"],
        "observations": {"connection_path": "vpn"}}));
    assert_eq!(r["intake"], json!({}));
    assert_eq!(r["state"]["observations"].as_array().unwrap().len(), 1);

    // Errors: an unknown choice, a list of the wrong type.
    let r = p.req(json!({"op": "start", "id": 2, "intake": ["coffee"]}));
    check_error(&r, "bad_value");
    assert!(
        string(&r["error"]["message"], "message").contains("cant_connect"),
        "{r}"
    );
    // Two answers to one question: refused.
    let r = p.req(json!({"op": "start", "intake": ["lan", "vpn"]}));
    check_error(&r, "bad_value");
    assert!(
        string(&r["error"]["message"], "message").contains("connection_path"),
        "{r}"
    );
    let r = p.req(json!({"op": "start", "intake": "update"}));
    check_error(&r, "bad_request");
    let r = p.req(json!({"op": "start", "intake": [1]}));
    check_error(&r, "bad_request");
    p.finish();
}

#[test]
fn observe_aliases_unknown_and_retract() {
    let e = embedded();
    let mut p = Proc::embedded();
    let base = p.ok(json!({"op": "start", "observations": {"connection_path": "internet"}}));

    // a string value
    let yes =
        p.ok(json!({"op": "observe", "id": "s", "evidence": "host_is_cloud_vm", "value": "yes"}));
    check_success(&yes, e);
    assert_eq!(yes["id"], json!("s"));
    assert_ne!(yes["ranking"], base["ranking"]);
    let obs = yes["state"]["observations"].as_array().unwrap();
    assert_eq!(obs.last().unwrap()["evidence"], json!("host_is_cloud_vm"));
    assert_eq!(obs.last().unwrap()["value"], json!("yes"));

    // retract: back exactly to before
    let r = p.ok(json!({"op": "retract", "evidence": "host_is_cloud_vm"}));
    check_success(&r, e);
    assert_eq!(r["ranking"], base["ranking"]);
    assert_eq!(r["state"]["observations"], base["state"]["observations"]);

    // JSON true is `yes`
    let t = p.ok(json!({"op": "observe", "evidence": "host_is_cloud_vm", "value": true}));
    assert_eq!(t["ranking"], yes["ranking"]);
    assert_eq!(
        t["state"]["observations"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["value"],
        json!("yes")
    );

    // JSON false is `no`, and replaces the earlier answer
    let f = p.ok(json!({"op": "observe", "evidence": "host_is_cloud_vm", "value": false}));
    check_success(&f, e);
    let obs = f["state"]["observations"].as_array().unwrap();
    assert_eq!(obs.len(), 2);
    assert_eq!(obs.last().unwrap()["value"], json!("no"));
    let s = p.ok(json!({"op": "start", "observations": {"connection_path": "internet", "host_is_cloud_vm": "no"}}));
    assert_eq!(f["ranking"], s["ranking"]);

    // `unknown` changes nothing and is not asked again
    let before = p.ok(json!({"op": "state"}));
    let q = before["next"]["evidence"]
        .as_str()
        .expect("a next question")
        .to_string();
    let u = p.ok(json!({"op": "observe", "evidence": q, "value": "unknown"}));
    check_success(&u, e);
    assert_eq!(u["ranking"], before["ranking"]);
    assert_eq!(u["fixes"], before["fixes"]);
    assert_ne!(
        u["next"]["evidence"],
        json!(q),
        "a question answered unknown is asked again"
    );
    let obs = u["state"]["observations"].as_array().unwrap();
    assert_eq!(obs.last().unwrap()["value"], json!("unknown"));

    // retracting the unknown makes the question askable again
    let r = p.ok(json!({"op": "retract", "evidence": q}));
    assert_eq!(r["next"], before["next"]);

    // retracting what was never observed is a no-op
    let r = p.ok(json!({"op": "retract", "evidence": "license_error_shown"}));
    assert_eq!(r["ranking"], before["ranking"]);
    assert_eq!(r["state"]["observations"], before["state"]["observations"]);

    // evidence without a question can be observed too (collector evidence)
    let r = p.ok(json!({"op": "observe", "evidence": "tls_handshake", "value": "fails"}));
    check_success(&r, e);
    assert_ne!(r["ranking"], before["ranking"]);
    p.finish();
}

#[test]
fn advice_and_plan_numbers_are_consistent() {
    let e = embedded();
    let mut p = Proc::embedded();
    let cases = [
        json!({}),
        json!({"connection_path": "gateway", "works_bypassing_path": "yes"}),
        json!({"certificate_expired": "yes", "host_recently_renamed_or_migrated": "yes"}),
        json!({"credssp_error_shown": "yes", "recent_windows_update": "yes"}),
        json!({"port_reachable": "no"}),
    ];
    for obs in cases {
        let r = p.ok(json!({"op": "start", "observations": obs}));
        check_success(&r, e);
        let pr = probs(&r);
        for f in r["fixes"].as_array().unwrap() {
            let fix = e.kb.fix(f["fix"].as_str().unwrap()).unwrap();
            let pw: f64 = fix
                .resolves
                .iter()
                .map(|(c, s)| pr.get(c).copied().unwrap_or(0.0) * s)
                .sum();
            assert!(
                (num(&f["p_works"], "p_works") - pw).abs() <= 1e-9,
                "{}",
                f["fix"]
            );
        }
        let ecr = ecr_of(&r, e);
        assert!(
            (num(&r["advice"]["ecr"], "ecr") - ecr).abs() <= 1e-9,
            "ECR {} vs {ecr}",
            r["advice"]["ecr"]
        );
        // why on the next question: its gain, rank 1
        if let Some(q) = r["next"]["evidence"].as_str() {
            let w = p.ok(json!({"op": "why", "evidence": q}));
            assert_eq!(
                w["ranking"], r["ranking"],
                "why does not change the session"
            );
            assert!(
                (num(&w["gain"], "gain") - num(&r["next"]["expected_gain_bits"], "gain")).abs()
                    <= 1e-12
            );
            assert_eq!(w["rank"], json!(1));
        }
    }
    p.finish();
}

#[test]
fn answering_next_questions_reaches_done() {
    let e = embedded();
    let m = &e.model;
    let mut p = Proc::embedded();
    for target in [
        "rdp_certificate_invalid",
        "network_instability",
        "credssp_oracle_mismatch",
    ] {
        let c = m.cause_index(target).unwrap();
        let mut r = p.ok(json!({"op": "start"}));
        let mut asked = BTreeSet::new();
        let mut steps = 0;
        while r["done"] == json!(false) {
            check_success(&r, e);
            let q = r["next"]["evidence"].as_str().unwrap().to_string();
            assert!(asked.insert(q.clone()), "{q} asked twice");
            // the answer most typical of the target cause
            let ev = &m.evidence[m.evidence_index(&q).unwrap()];
            let v = (0..ev.arity())
                .max_by(|&a, &b| ev.p(c, a).total_cmp(&ev.p(c, b)))
                .unwrap();
            r = p.ok(json!({"op": "observe", "evidence": q, "value": ev.values[v]}));
            steps += 1;
            assert!(
                steps <= m.max_questions + 1,
                "no end after {steps} questions"
            );
        }
        check_success(&r, e);
        assert!(r["next"].is_null());
        let reason = r["done_reason"].as_str().unwrap_or("");
        assert!(
            ["threshold", "no_informative_question", "question_budget"].contains(&reason),
            "{reason}"
        );
        let top = num(&r["ranking"][0]["probability"], "p");
        if reason == "threshold" {
            assert!(top >= m.threshold);
        } else {
            assert!(top < m.threshold);
        }
    }
    p.finish();
}

#[test]
fn fix_results_and_verification_on_the_mini_kb() {
    let e = mini();
    let mut p = Proc::mini();

    let s = p.ok(json!({"op": "start", "kb": "mini",
        "observations": {"printer_online": "yes", "paper_light": "yes"}}));
    check_success(&s, e);

    // A fix that did not work lowers what it would have resolved.
    let f = p.ok(json!({"op": "fix_result", "id": 1, "fix": "add_paper", "worked": false}));
    check_success(&f, e);
    assert_eq!(f["id"], json!(1));
    assert!(prob(&f, "no_paper") < prob(&s, "no_paper"));
    assert_eq!(
        f["state"]["fixes"],
        json!([{"fix": "add_paper", "worked": false}])
    );
    assert!(
        f["fixes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["fix"] != json!("add_paper"))
    );
    // P(failed | c) = 1 − success(f, c), checked on the odds of no_paper vs driver
    let odds = |r: &Json| prob(r, "no_paper") / prob(r, "driver");
    assert!((odds(&f) / odds(&s) - (1.0 - 0.95)).abs() <= 1e-9);

    // The same fix then worked: the result is replaced and verified next.
    let w = p.ok(json!({"op": "fix_result", "fix": "add_paper", "worked": true}));
    check_success(&w, e);
    assert_eq!(
        w["state"]["fixes"],
        json!([{"fix": "add_paper", "worked": true}])
    );
    assert_eq!(w["state"]["verifying"], json!("add_paper"));
    assert_eq!(w["done"], json!(false));
    // The verification question is asked again; the earlier answer stays a
    // finding about the cause (it described the broken printer).
    assert_eq!(w["next"]["evidence"], json!("paper_light"));
    assert!(
        w["state"]["observations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["evidence"] == json!("paper_light"))
    );
    assert_eq!(w["advice"]["step"], json!("ask"));
    assert_eq!(w["advice"]["fix"], json!("add_paper"));
    assert!(w.get("verified_fix").is_none());

    // The expected answer confirms it.
    let v = p.ok(json!({"op": "observe", "evidence": "paper_light", "value": "no"}));
    check_success(&v, e);
    assert_eq!(v["done"], json!(true));
    assert_eq!(v["verified_fix"], json!("add_paper"));
    assert_eq!(v["done_reason"], json!("verified"));
    assert!(v["next"].is_null());
    assert_eq!(v["state"]["verifying"], json!(null));
    // The answer about the repaired printer is kept apart from the findings.
    assert_eq!(v["state"]["verify_answers"], json!({"paper_light": "no"}));
    assert_eq!(
        v["ranking"], w["ranking"],
        "a verification answer does not move the ranking"
    );

    // An unexpected answer: not verified, counted as failed.
    p.ok(json!({"op": "start"}));
    p.ok(json!({"op": "fix_result", "fix": "add_paper", "worked": true}));
    let n = p.ok(json!({"op": "observe", "evidence": "paper_light", "value": "yes"}));
    check_success(&n, e);
    assert!(n.get("verified_fix").is_none());
    assert_eq!(n["state"]["verifying"], json!(null));
    assert_eq!(
        n["state"]["fixes"],
        json!([{"fix": "add_paper", "worked": false}])
    );
    assert_ne!(n["done_reason"], json!("verified"));

    // A fix without verification answers is verified at once.
    p.ok(json!({"op": "start"}));
    let d = p.ok(json!({"op": "fix_result", "fix": "reinstall_driver", "worked": true}));
    check_success(&d, e);
    assert_eq!(d["done"], json!(true));
    assert_eq!(d["verified_fix"], json!("reinstall_driver"));
    p.finish();
}

#[test]
fn fix_results_and_verification_on_the_embedded_kb() {
    let e = embedded();
    // A fix whose verification asks questions.
    let fix =
        e.kb.fixes
            .iter()
            .find(|f| {
                f.verify.as_ref().is_some_and(|v| {
                    !v.expect.is_empty()
                        && v.expect
                            .keys()
                            .all(|k| e.kb.evidence(k).is_some_and(|x| x.question.is_some()))
                })
            })
            .expect("the embedded KB has a fix verified by questions");
    let expect = &fix.verify.as_ref().unwrap().expect;
    let mut p = Proc::embedded();
    let s = p.ok(json!({"op": "start", "observations": {"connection_path": "lan"}}));

    let f = p.ok(json!({"op": "fix_result", "fix": fix.id, "worked": false}));
    check_success(&f, e);
    assert!(
        f["fixes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["fix"] != json!(fix.id))
    );
    // Bayes: P(c | failed) ∝ P(c) · (1 − success(f, c)), so the ratio of new
    // to old probability over (1 − success) is the same for every cause.
    let ratio = |c: &str| {
        let s_c = fix.resolves.get(c).copied().unwrap_or(0.0);
        prob(&f, c) / prob(&s, c) / (1.0 - s_c)
    };
    let k = ratio("other");
    for c in &e.model.causes {
        assert!(
            (ratio(c) / k - 1.0).abs() <= 1e-9,
            "{c}: {} vs {k}",
            ratio(c)
        );
    }

    let mut r = p.ok(json!({"op": "fix_result", "fix": fix.id, "worked": true}));
    check_success(&r, e);
    assert_eq!(r["state"]["verifying"], json!(fix.id));
    let mut answered = 0;
    while r["done"] == json!(false) {
        let q = r["next"]["evidence"]
            .as_str()
            .expect("verification asks")
            .to_string();
        let v = expect
            .get(&q)
            .unwrap_or_else(|| panic!("{q} is not one of {:?}", expect.keys()));
        r = p.ok(json!({"op": "observe", "evidence": q, "value": v}));
        check_success(&r, e);
        answered += 1;
        assert!(answered <= expect.len());
    }
    assert_eq!(answered, expect.len());
    assert_eq!(r["verified_fix"], json!(fix.id));
    assert_eq!(r["done_reason"], json!("verified"));
    assert!(r["next"].is_null());
    p.finish();
}

#[test]
fn explain_whynot_why_and_kb() {
    let e = embedded();
    let m = &e.model;
    let mut p = Proc::embedded();
    let s = p.ok(json!({"op": "start", "observations": {
        "connection_path": "vpn", "packet_loss_or_high_latency": "yes",
        "failure_intermittent": "yes", "certificate_expired": "unknown"}}));
    p.ok(json!({"op": "fix_result", "fix": "regenerate_rdp_certificate", "worked": false}));
    let s2 = p.ok(json!({"op": "state"}));
    assert_ne!(s["ranking"], s2["ranking"]);

    // explain: contributions telescope to the change of log2 odds
    for cause in ["network_instability", "rdp_certificate_invalid", "other"] {
        let x = p.ok(json!({"op": "explain", "id": cause, "cause": cause}));
        check_success(&x, e);
        assert_eq!(x["ranking"], s2["ranking"], "explain changed the session");
        assert_eq!(x["cause"], json!(cause));
        let contribs = x["contributions"].as_array().expect("contributions");
        // One contribution per finding (observations, then fix results),
        // unknown answers excluded. (`observations` is a JSON object: its
        // order is not significant.)
        let mut findings: Vec<&str> = contribs
            .iter()
            .map(|c| string(&c["finding"], "finding"))
            .collect();
        assert_eq!(findings.pop(), Some("regenerate_rdp_certificate"));
        findings.sort();
        assert_eq!(
            findings,
            [
                "connection_path",
                "failure_intermittent",
                "packet_loss_or_high_latency"
            ]
        );
        let sum: f64 = contribs.iter().map(|c| num(&c["bits"], "bits")).sum();
        assert!((sum - num(&x["total_bits"], "total_bits")).abs() <= 1e-12);
        let prior = m.prior[m.cause_index(cause).unwrap()];
        assert!((num(&x["prior"], "prior") - prior).abs() <= 1e-15);
        let post = prob(&s2, cause);
        assert_eq!(num(&x["probability"], "probability"), post);
        let lo = |p: f64| (p / (1.0 - p)).log2();
        assert!(
            (sum - (lo(post) - lo(prior))).abs() <= 1e-9,
            "{cause}: {sum} vs {}",
            lo(post) - lo(prior)
        );
        let last = contribs.last().unwrap();
        assert!((num(&last["p_after"], "p_after") - post).abs() <= 1e-12);
    }

    // whynot: what counts against a cause and what would raise it
    let ranking = s2["ranking"].as_array().unwrap();
    for (i, entry) in ranking.iter().enumerate() {
        let cause = entry["cause"].as_str().unwrap();
        let w = p.ok(json!({"op": "whynot", "cause": cause}));
        check_success(&w, e);
        assert_eq!(w["rank"], json!(i + 1));
        assert_eq!(w["probability"], entry["probability"]);
        let against = w["against"].as_array().expect("against");
        let mut last = f64::NEG_INFINITY;
        for a in against {
            let b = num(&a["bits"], "bits");
            assert!(b < 0.0, "{cause}: {a} does not count against it");
            assert!(b >= last, "against is sorted, strongest first");
            last = b;
        }
        let p_now = num(&entry["probability"], "p");
        let observed: BTreeSet<&str> = w["state"]["observations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["evidence"].as_str().unwrap())
            .collect();
        for x in w["would_raise"].as_array().expect("would_raise") {
            let ev = string(&x["evidence"], "evidence");
            assert!(!observed.contains(ev), "{ev} is already answered");
            let value = string(&x["value"], "value");
            assert!(e.kb.evidence(ev).unwrap().values.iter().any(|v| v == value));
            assert!(num(&x["p_after"], "p_after") > p_now);
            let pa = num(&x["p_answer"], "p_answer");
            assert!(pa > 0.0 && pa <= 1.0);
        }
    }
    // A low-ranked cause has answers that would raise it.
    let low = ranking[ranking.len() - 2]["cause"].as_str().unwrap();
    let w = p.ok(json!({"op": "whynot", "cause": low}));
    assert!(!w["would_raise"].as_array().unwrap().is_empty(), "{w}");
    // network_instability is supported by loss and the VPN, not against.
    let w = p.ok(json!({"op": "whynot", "cause": "network_instability"}));
    assert!(
        w["against"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["finding"] != json!("packet_loss_or_high_latency"))
    );

    // why: the value of asking a question
    let q = s2["next"]["evidence"].as_str().unwrap();
    let y = p.ok(json!({"op": "why", "evidence": q}));
    check_success(&y, e);
    assert_eq!(y["evidence"], json!(q));
    assert!(
        (num(&y["gain"], "gain") - num(&s2["next"]["expected_gain_bits"], "gain")).abs() <= 1e-12
    );
    assert_eq!(y["rank"], json!(1));
    assert_eq!(num(&y["cost"], "cost"), num(&s2["next"]["cost"], "cost"));
    let outcomes = y["outcomes"].as_array().expect("outcomes");
    let total: f64 = outcomes
        .iter()
        .map(|o| num(&o["p_answer"], "p_answer"))
        .sum();
    assert!((total - 1.0).abs() <= 1e-9);
    // why on an answered question: no rank, still a gain
    let y = p.ok(json!({"op": "why", "evidence": "connection_path"}));
    assert!(y["rank"].is_null());
    assert!(num(&y["gain"], "gain") >= 0.0);

    // kb: causes, evidence, fixes
    // (Its `fixes` is the KB's fix list, which takes the place of the plan:
    // DESIGN §8 names `fixes` among the fields `kb` adds.)
    let k = p.ok(json!({"op": "kb", "id": "k"}));
    assert_eq!(k["id"], json!("k"));
    assert_eq!(
        k["ranking"], s2["ranking"],
        "kb does not change the session"
    );
    assert_eq!(k["next"], s2["next"]);
    assert_eq!(k["advice"], s2["advice"]);
    assert_eq!(k["state"], s2["state"]);
    let causes = k["causes"].as_array().expect("causes");
    let ids: Vec<&str> = causes.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        e.kb.causes
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>()
    );
    for c in causes {
        let i = m.cause_index(c["id"].as_str().unwrap()).unwrap();
        assert!((num(&c["prior"], "prior") - m.prior[i]).abs() <= 1e-15);
        assert!(!string(&c["title"], "title").is_empty());
    }
    let evidence = k["evidence"].as_array().expect("evidence");
    assert_eq!(evidence.len(), e.kb.evidence.len());
    for x in evidence {
        let ev = e.kb.evidence(x["id"].as_str().unwrap()).unwrap();
        assert_eq!(x["values"], json!(ev.values));
        assert_eq!(x["askable"], json!(ev.question.is_some()));
    }
    let fixes = k["fixes"].as_array().expect("fixes");
    assert_eq!(fixes.len(), e.kb.fixes.len());
    for f in fixes {
        let fx = e.kb.fix(f["id"].as_str().unwrap()).unwrap();
        assert_eq!(f["resolves"], json!(fx.resolves));
        assert_eq!(num(&f["cost"], "cost"), fx.cost);
    }
    // The public vocabulary of DESIGN §5.
    for &c in DESIGN_CAUSES {
        assert!(ids.contains(&c), "cause {c} missing");
    }
    let values = |id: &str| -> Json {
        evidence
            .iter()
            .find(|x| x["id"] == json!(id))
            .unwrap_or_else(|| panic!("evidence {id} missing"))["values"]
            .clone()
    };
    for (id, want) in DESIGN_EVIDENCE {
        assert_eq!(values(id), json!(want), "{id}");
    }
    assert!(
        fixes
            .iter()
            .any(|f| f["id"] == json!("regenerate_rdp_certificate"))
    );
    p.finish();
}

// ---------------------------------------------------------------------------
// Errors

#[test]
fn every_error_code() {
    let e = embedded();
    let mut p = Proc::embedded();
    let base = p.ok(json!({"op": "start", "observations": {"connection_path": "vpn"}}));
    let big = "x".repeat(2 << 20);
    let too_many: Vec<Json> = (0..=rootcause_engine::session::MAX_ITEMS)
        .map(|_| json!({"evidence": "connection_path", "value": "vpn", "source": {"kind": "user"}}))
        .collect();
    let mut other_kb = base["state"].clone();
    other_kb["kb"] = json!("mini");
    let mut extra_field = base["state"].clone();
    extra_field["surprise"] = json!(1);
    let mut twice = base["state"].clone();
    twice["observations"] = json!([
        {"evidence": "connection_path", "value": "vpn", "source": {"kind": "user"}},
        {"evidence": "connection_path", "value": "lan", "source": {"kind": "user"}}]);
    let mut bad_value_state = base["state"].clone();
    bad_value_state["observations"] =
        json!([{"evidence": "connection_path", "value": "mars", "source": {"kind": "user"}}]);

    // An alias is fine in a request but a stored state holds canonical
    // values only (otherwise the posterior would silently ignore it).
    let mut alias_state = base["state"].clone();
    alias_state["observations"] =
        json!([{"evidence": "host_is_cloud_vm", "value": "true", "source": {"kind": "user"}}]);
    let mut unknown_ev_state = base["state"].clone();
    unknown_ev_state["observations"] =
        json!([{"evidence": "no_such_evidence", "value": "yes", "source": {"kind": "user"}}]);
    let mut unknown_fix_state = base["state"].clone();
    unknown_fix_state["fixes"] = json!([{"fix": "no_such_fix", "worked": false}]);

    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{\"op\":\"state\"".to_vec(), "bad_json"),
        (b"not json at all".to_vec(), "bad_json"),
        (b"[{\"op\":\"state\"}]".to_vec(), "bad_json"),
        (b"\"state\"".to_vec(), "bad_json"),
        (b"42".to_vec(), "bad_json"),
        (b"null".to_vec(), "bad_json"),
        (b"{\"op\":\"state\"} trailing".to_vec(), "bad_json"),
        (b"\xff\xfe{\"op\":\"state\"}".to_vec(), "bad_json"),
        (json!({"op": "frobnicate", "id": 1}).to_string().into_bytes(), "unknown_op"),
        (json!({"op": "observe", "id": 2, "evidence": "no_such_evidence", "value": "yes"}).to_string().into_bytes(), "unknown_evidence"),
        (json!({"op": "retract", "evidence": "no_such_evidence"}).to_string().into_bytes(), "unknown_evidence"),
        (json!({"op": "why", "evidence": "no_such_evidence"}).to_string().into_bytes(), "unknown_evidence"),
        (json!({"op": "start", "observations": {"no_such_evidence": "yes"}}).to_string().into_bytes(), "unknown_evidence"),
        (json!({"op": "observe", "evidence": "connection_path", "value": "mars"}).to_string().into_bytes(), "bad_value"),
        (json!({"op": "observe", "evidence": "connection_path", "value": true}).to_string().into_bytes(), "bad_value"),
        (json!({"op": "observe", "evidence": "host_is_cloud_vm", "value": "maybe"}).to_string().into_bytes(), "bad_value"),
        (json!({"op": "observe", "evidence": "host_is_cloud_vm", "value": 5}).to_string().into_bytes(), "bad_value"),
        (json!({"op": "observe", "evidence": "host_is_cloud_vm", "value": ["yes"]}).to_string().into_bytes(), "bad_value"),
        (json!({"op": "start", "observations": {"host_is_cloud_vm": "yes", "connection_path": "mars"}}).to_string().into_bytes(), "bad_value"),
        (json!({"op": "explain", "cause": "no_such_cause"}).to_string().into_bytes(), "unknown_cause"),
        (json!({"op": "whynot", "cause": "no_such_cause"}).to_string().into_bytes(), "unknown_cause"),
        (json!({"op": "fix_result", "fix": "no_such_fix", "worked": true}).to_string().into_bytes(), "unknown_fix"),
        (json!({"op": "state", "state": 5}).to_string().into_bytes(), "bad_state"),
        (json!({"op": "state", "state": {"observations": []}}).to_string().into_bytes(), "bad_state"),
        (json!({"op": "state", "state": other_kb}).to_string().into_bytes(), "bad_state"),
        (json!({"op": "state", "state": extra_field}).to_string().into_bytes(), "bad_state"),
        (json!({"op": "state", "state": twice}).to_string().into_bytes(), "bad_state"),
        // Problems inside a carried state are the state's, not the request's.
        (json!({"op": "observe", "evidence": "host_is_cloud_vm", "value": "yes", "state": bad_value_state}).to_string().into_bytes(), "bad_state"),
        (json!({"op": "state", "state": alias_state}).to_string().into_bytes(), "bad_state"),
        (json!({"op": "state", "state": unknown_ev_state}).to_string().into_bytes(), "bad_state"),
        (json!({"op": "fix_result", "fix": "regenerate_rdp_certificate", "worked": false, "state": unknown_fix_state}).to_string().into_bytes(), "bad_state"),
        (format!("{{\"op\":\"state\",\"pad\":\"{big}\"}}").into_bytes(), "too_large"),
        (json!({"op": "state", "state": {"kb": "rdp-0x904", "kb_version": base["state"]["kb_version"], "observations": too_many}}).to_string().into_bytes(), "too_large"),
        (b"{}".to_vec(), "bad_request"),
        (json!({"op": 5}).to_string().into_bytes(), "bad_request"),
        (json!({"op": null}).to_string().into_bytes(), "bad_request"),
        (json!({"op": "observe", "value": "yes"}).to_string().into_bytes(), "bad_request"),
        (json!({"op": "observe", "evidence": 5, "value": "yes"}).to_string().into_bytes(), "bad_request"),
        (json!({"op": "observe", "evidence": "host_is_cloud_vm"}).to_string().into_bytes(), "bad_request"),
        (json!({"op": "fix_result", "fix": "regenerate_rdp_certificate", "worked": "yes"}).to_string().into_bytes(), "bad_request"),
        (json!({"op": "fix_result", "fix": "regenerate_rdp_certificate"}).to_string().into_bytes(), "bad_request"),
        (json!({"op": "explain"}).to_string().into_bytes(), "bad_request"),
        (json!({"op": "start", "observations": ["connection_path"]}).to_string().into_bytes(), "bad_request"),
        (json!({"op": "start", "kb": 5}).to_string().into_bytes(), "bad_request"),
        (json!({"op": "start", "kb": "no-such-kb"}).to_string().into_bytes(), "unknown_kb"),
        (json!({"op": "start", "kb": "mini"}).to_string().into_bytes(), "unknown_kb"),
        (json!({"op": "collect", "collector": "rdp_probe", "host": "127.0.0.1"}).to_string().into_bytes(), "not_allowed"),
    ];
    let mut codes = BTreeSet::new();
    for (i, (line, code)) in cases.iter().enumerate() {
        let r = p.raw(line);
        check_error(&r, code);
        codes.insert(*code);
        // The id comes back whenever the request could be parsed.
        if let Ok(Json::Object(req)) = serde_json::from_slice::<Json>(line) {
            assert_eq!(r.get("id"), req.get("id"), "case {i}: {r}");
        } else {
            assert!(r.get("id").is_none());
        }
        // The session is untouched and the process still answers.
        let s = p.ok(json!({"op": "state", "id": i}));
        assert_eq!(s["id"], json!(i));
        assert_eq!(
            s["ranking"], base["ranking"],
            "case {i} ({code}) changed the session"
        );
        assert_eq!(
            s["state"], base["state"],
            "case {i} ({code}) changed the session"
        );
    }
    for code in [
        "bad_json",
        "unknown_op",
        "unknown_evidence",
        "bad_value",
        "unknown_cause",
        "unknown_fix",
        "bad_state",
        "too_large",
        "bad_request",
        "unknown_kb",
        "not_allowed",
    ] {
        assert!(codes.contains(code), "{code} not exercised");
    }
    check_success(&base, e);
    p.finish();
}

#[test]
fn garbage_lines_leave_the_process_answering() {
    let e = embedded();
    let mut p = Proc::embedded();
    let base = p.ok(json!({"op": "start", "observations": {"connection_path": "gateway", "works_bypassing_path": "yes"}}));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_obj = format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    let garbage: Vec<Vec<u8>> = vec![
        vec![0xff, 0xfe, 0xfd, 0x80],
        b"\xc3\x28 {\"op\":\"state\"}".to_vec(),
        b"{\"op\":\"observe\",\"evidence\":\"connection_path\",\"val".to_vec(),
        b"{\"op\":\"observe\",\"evidence\":\"connection_path\",\"value\":\"lan\"".to_vec(),
        json!({"op": "observe", "evidence": 5, "value": "yes"})
            .to_string()
            .into_bytes(),
        json!({"op": "fix_result", "fix": "regenerate_rdp_certificate", "worked": "yes"})
            .to_string()
            .into_bytes(),
        b"[1, 2, {\"op\": \"start\"}]".to_vec(),
        b"{}".to_vec(),
        b"\0\0\0".to_vec(),
        b"{\"op\":\"start\"}{\"op\":\"start\"}".to_vec(),
        deep.into_bytes(),
        deep_obj.into_bytes(),
        vec![b'{'; 2 << 20],
        format!(
            "{{\"op\":\"start\",\"observations\":{{\"connection_path\":\"{}\"}}}}",
            "a".repeat(2 << 20)
        )
        .into_bytes(),
    ];
    for (i, g) in garbage.iter().enumerate() {
        let r = p.raw(g);
        assert_eq!(r["ok"], json!(false), "garbage {i} accepted: {r}");
        assert!(r["error"]["code"].is_string(), "{r}");
        let s = p.ok(json!({"op": "state", "id": format!("after-{i}")}));
        check_success(&s, e);
        assert_eq!(s["id"], json!(format!("after-{i}")));
        assert_eq!(
            s["ranking"], base["ranking"],
            "garbage {i} changed the session"
        );
        assert_eq!(s["state"], base["state"]);
        // and a request that changes the session still works
        let o = p.ok(json!({"op": "observe", "evidence": "host_is_cloud_vm", "value": "no"}));
        assert_ne!(o["ranking"], base["ranking"]);
        let back = p.ok(json!({"op": "retract", "evidence": "host_is_cloud_vm"}));
        assert_eq!(back["ranking"], base["ranking"]);
        p.ok(json!({"op": "start", "observations": {"connection_path": "gateway", "works_bypassing_path": "yes"}}));
    }
    // A large but acceptable request (100 KB) is served normally.
    let r = p.raw(
        format!(
            "{{\"op\":\"state\",\"id\":9,\"pad\":\"{}\"}}",
            "p".repeat(100_000)
        )
        .as_bytes(),
    );
    check_success(&r, e);
    assert_eq!(r["id"], json!(9));
    p.finish();
}

#[test]
fn one_response_per_line_blank_lines_ignored_exit_zero() {
    let mut input = Vec::new();
    let n = 40;
    for i in 0..n {
        let req = match i % 5 {
            0 => json!({"op": "start", "id": i, "observations": {"connection_path": "vpn"}}),
            1 => json!({"op": "observe", "id": i, "evidence": "host_is_cloud_vm", "value": "yes"}),
            2 => json!({"op": "retract", "id": i, "evidence": "host_is_cloud_vm"}),
            3 => json!({"op": "no_such_op", "id": i}),
            _ => json!({"op": "state", "id": i}),
        };
        input.extend_from_slice(req.to_string().as_bytes());
        // Various line ends and blank lines in between.
        match i % 4 {
            0 => input.extend_from_slice(b"\n\n"),
            1 => input.extend_from_slice(b"\r\n   \n\t\n"),
            2 => input.extend_from_slice(b"\r\n"),
            _ => input.extend_from_slice(b"\n \r\n"),
        }
    }
    // the last request has no newline at all
    input.extend_from_slice(json!({"op": "state", "id": n}).to_string().as_bytes());
    let (code, out, err) = run_stdin(&["json"], &input);
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with('\n'));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), n + 1, "one response per request:\n{out}");
    for (i, line) in lines.iter().enumerate() {
        let r: Json = serde_json::from_str(line).expect("JSON");
        assert_eq!(r["id"], json!(i), "responses in request order");
        assert_eq!(r["ok"], json!(i % 5 != 3 || i == n), "{r}");
    }

    // Empty input, or only blank lines: no output, exit 0.
    let (code, out, _) = run_stdin(&["json"], b"");
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, out, _) = run_stdin(&["json"], b"\n\n  \n\r\n");
    assert_eq!((code, out.as_str()), (0, ""));

    // Interleaved: each answer arrives before the next request is written.
    let mut p = Proc::embedded();
    for i in 0..20 {
        p.send_raw(b"");
        p.send_raw(b"   ");
        let r = p.ok(json!({"op": "state", "id": i}));
        assert_eq!(r["id"], json!(i));
    }
    assert!(
        p.lines.recv_timeout(Duration::from_millis(200)).is_err(),
        "a blank line was answered"
    );
    p.finish();
}

// ---------------------------------------------------------------------------
// State round trip

#[test]
fn state_round_trips_across_processes() {
    let e = embedded();
    let mut a = Proc::embedded();
    a.ok(json!({"op": "start", "observations": {"connection_path": "internet", "host_is_cloud_vm": "yes"}}));
    a.ok(json!({"op": "observe", "evidence": "port_reachable", "value": "yes"}));
    a.ok(json!({"op": "observe", "evidence": "certificate_expired", "value": "unknown"}));
    let some_fix = e.kb.fixes.last().unwrap().id.clone();
    a.ok(json!({"op": "fix_result", "fix": some_fix, "worked": false}));
    let ra = a.ok(json!({"op": "state", "id": "a"}));
    let sa = ra["state"].clone();

    // A fresh process given the state answers exactly the same.
    let mut b = Proc::embedded();
    let rb = b.ok(json!({"op": "state", "id": "a", "state": sa}));
    check_success(&rb, e);
    // The ranking is recomputed from the observations: exactly the same.
    assert_eq!(rb["ranking"], ra["ranking"]);
    assert_eq!(rb["next"], ra["next"]);
    assert_eq!(rb["fixes"], ra["fixes"]);
    assert_eq!(rb["advice"], ra["advice"]);
    // The rest too (the trace's numbers went through a float parse).
    assert_json_close(&rb, &ra, 4.0 * f64::EPSILON, "response");

    // Carrying state does not touch the process's own session.
    let own = b.ok(json!({"op": "state"}));
    assert_eq!(own["state"]["observations"], json!([]));
    for (c, id) in e.model.causes.iter().enumerate() {
        assert!((prob(&own, id) - e.model.prior[c]).abs() <= 1e-12);
    }
    let fresh_state = own["state"].clone();

    // An op applied to a carried state equals the op in the owning process.
    let next_b = b.ok(
        json!({"op": "observe", "evidence": "works_bypassing_path", "value": "no", "state": sa}),
    );
    let again = b.ok(json!({"op": "state"}));
    assert_eq!(
        again["state"], fresh_state,
        "observe with state changed the process session"
    );
    let sb2 = next_b["state"].clone();
    let r = b.ok(json!({"op": "fix_result", "fix": "regenerate_rdp_certificate", "worked": false, "state": sb2}));
    let r2 = b.ok(json!({"op": "explain", "cause": "firewall_blocking", "state": r["state"]}));
    assert_eq!(b.ok(json!({"op": "state"}))["state"], fresh_state);

    let next_a = a.ok(json!({"op": "observe", "evidence": "works_bypassing_path", "value": "no"}));
    assert_eq!(next_a["ranking"], next_b["ranking"]);
    assert_eq!(next_a["next"], next_b["next"]);
    assert_json_close(
        &without_id(next_a.clone()),
        &without_id(next_b.clone()),
        4.0 * f64::EPSILON,
        "observe",
    );
    a.ok(json!({"op": "fix_result", "fix": "regenerate_rdp_certificate", "worked": false}));
    let x = a.ok(json!({"op": "explain", "cause": "firewall_blocking"}));
    assert_eq!(x["contributions"], r2["contributions"]);
    assert_eq!(x["ranking"], r2["ranking"]);

    // start with a carried state neither resets nor replaces A's session.
    let before = a.ok(json!({"op": "state"}));
    let s = a.ok(
        json!({"op": "start", "state": fresh_state, "observations": {"connection_path": "lan"}}),
    );
    assert_eq!(s["state"]["observations"].as_array().unwrap().len(), 1);
    let r = a.ok(json!({"op": "state", "state": fresh_state}));
    assert_eq!(r["state"], fresh_state);
    assert_eq!(a.ok(json!({"op": "state"}))["state"], before["state"]);

    // A state from the mini KB is refused by the RDP process, and vice versa.
    let mut m = Proc::mini();
    let mini_state = m.ok(json!({"op": "start"}))["state"].clone();
    check_error(
        &a.req(json!({"op": "state", "state": mini_state})),
        "bad_state",
    );
    check_error(&m.req(json!({"op": "state", "state": sa})), "bad_state");
    a.finish();
    b.finish();
    m.finish();
}
