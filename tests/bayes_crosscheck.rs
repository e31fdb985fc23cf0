//! Cross-check of the posteriors of `rootcause json` against brute-force
//! enumeration of the joint distribution, rebuilt from
//! `rootcause kb export --format json` (DESIGN §4, §8, §9).
//!
//! Nothing here uses engine code: the model comes from the exported JSON,
//! the posterior from summing `P(C, E_1..E_n)` over the cause, the observed
//! values and (to prove that unobserved evidence marginalises out) every
//! value of one or two unobserved variables.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::{Map, Value as Json, json};

use common::*;

/// The exported model.
struct Exported {
    causes: Vec<(String, f64)>,
    /// (id, values, lik[cause][value]) with causes in `causes` order.
    evidence: Vec<(String, Vec<String>, Vec<Vec<f64>>)>,
}

fn export() -> Exported {
    let (code, out, err) = run(&["kb", "export", "--format", "json"]);
    assert_eq!(code, 0, "kb export failed:\n{err}");
    let v: Json = serde_json::from_str(&out).expect("kb export prints JSON");
    let causes: Vec<(String, f64)> = v["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().expect("cause id").to_string(),
                c["prior"].as_f64().expect("prior"),
            )
        })
        .collect();
    let evidence = v["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .map(|e| {
            let id = e["id"].as_str().expect("evidence id").to_string();
            let values: Vec<String> = e["values"]
                .as_array()
                .expect("values")
                .iter()
                .map(|x| x.as_str().expect("value").to_string())
                .collect();
            let lik = causes
                .iter()
                .map(|(c, _)| {
                    let row = &e["likelihood"][c];
                    assert!(row.is_object(), "{id}: no likelihood row for `{c}`");
                    values
                        .iter()
                        .map(|x| row[x].as_f64().unwrap_or_else(|| panic!("{id}/{c}/{x}")))
                        .collect()
                })
                .collect();
            (id, values, lik)
        })
        .collect();
    Exported { causes, evidence }
}

/// xorshift64*: a small fixed-seed PRNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One `rootcause json` process, written and read line by line.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Proc {
    fn spawn() -> Proc {
        let mut child = bin()
            .arg("json")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn rootcause json");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            stdin,
            lines: rx,
        }
    }

    fn request(&mut self, req: &Json) -> Json {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{req}").expect("write request");
        stdin.flush().expect("flush");
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no response within 10 s to {req}"));
        serde_json::from_str(&line).expect("a response is JSON")
    }

    fn finish(mut self) -> i32 {
        drop(self.stdin.take());
        for _ in 0..1000 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(
                    self.lines.recv_timeout(Duration::from_secs(1)).is_err(),
                    "unexpected extra output"
                );
                return status.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("rootcause json did not exit at end of input");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `P(c | obs)` by enumeration. `obs` holds (evidence index, value index);
/// `hidden` are unobserved variables summed over explicitly.
fn enumerate(m: &Exported, obs: &[(usize, usize)], hidden: &[usize]) -> Vec<f64> {
    let mut joint = vec![0.0; m.causes.len()];
    // Every assignment of the hidden variables, as a mixed-radix counter.
    let radix: Vec<usize> = hidden.iter().map(|&e| m.evidence[e].1.len()).collect();
    let total: usize = radix.iter().product();
    for (c, (_, prior)) in m.causes.iter().enumerate() {
        for mut k in 0..total {
            let mut p = *prior;
            for &(e, v) in obs {
                p *= m.evidence[e].2[c][v];
            }
            for (i, &e) in hidden.iter().enumerate() {
                let v = k % radix[i];
                k /= radix[i];
                p *= m.evidence[e].2[c][v];
            }
            joint[c] += p;
        }
    }
    let z: f64 = joint.iter().sum();
    assert!(z > 0.0, "the observations have probability 0");
    joint.iter().map(|j| j / z).collect()
}

#[test]
fn export_is_a_complete_model() {
    let m = export();
    assert_eq!(m.causes.last().map(|c| c.0.as_str()), Some("other"));
    let s: f64 = m.causes.iter().map(|c| c.1).sum();
    assert!((s - 1.0).abs() <= 1e-9, "priors sum to {s}");
    assert!(m.causes.iter().all(|c| c.1 > 0.0));
    for (id, values, lik) in &m.evidence {
        assert!(values.len() >= 2, "{id}");
        for (c, row) in lik.iter().enumerate() {
            let s: f64 = row.iter().sum();
            assert!(
                (s - 1.0).abs() <= 1e-9,
                "{id} given {} sums to {s}",
                m.causes[c].0
            );
            assert!(row.iter().all(|p| (0.0..=1.0).contains(p)));
        }
    }
}

#[test]
fn posteriors_match_enumeration_of_the_joint() {
    let m = export();
    let n_ev = m.evidence.len();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut proc = Proc::spawn();
    let mut hidden_used = 0;
    for round in 0..200 {
        // 0..=8 distinct observed variables.
        let k = rng.below(9);
        let mut chosen: Vec<usize> = Vec::new();
        while chosen.len() < k {
            let e = rng.below(n_ev);
            if !chosen.contains(&e) {
                chosen.push(e);
            }
        }
        let mut observations = Map::new();
        let mut obs: Vec<(usize, usize)> = Vec::new();
        for &e in &chosen {
            let (id, values, _) = &m.evidence[e];
            if rng.below(10) == 0 {
                // `unknown` changes nothing.
                observations.insert(id.clone(), json!("unknown"));
                continue;
            }
            let v = rng.below(values.len());
            let yes_no = values.len() == 2 && values[0] == "yes" && values[1] == "no";
            let answer = if yes_no && rng.below(3) == 0 {
                json!(v == 0) // the JSON true/false aliases
            } else {
                json!(values[v])
            };
            observations.insert(id.clone(), answer);
            obs.push((e, v));
        }
        // One or two unobserved variables to marginalise explicitly.
        let mut hidden: Vec<usize> = Vec::new();
        let want = 1 + rng.below(2);
        for _ in 0..20 {
            if hidden.len() == want {
                break;
            }
            let e = rng.below(n_ev);
            if !chosen.contains(&e) && !hidden.contains(&e) {
                hidden.push(e);
            }
        }
        hidden_used += hidden.len();
        let expect = enumerate(&m, &obs, &hidden);
        // Marginalisation: summing over the hidden variables changes nothing.
        let plain = enumerate(&m, &obs, &[]);
        for (a, b) in expect.iter().zip(&plain) {
            assert!((a - b).abs() <= 1e-12);
        }

        let resp = proc.request(&json!({"op": "start", "id": round, "observations": observations}));
        assert_eq!(resp["ok"], json!(true), "round {round}: {resp}");
        assert_eq!(resp["id"], json!(round));
        assert!(resp.get("contradiction").is_none());
        let ranking = resp["ranking"].as_array().expect("ranking");
        assert_eq!(
            ranking.len(),
            m.causes.len(),
            "every cause incl. other is ranked"
        );
        let mut seen = vec![false; m.causes.len()];
        let mut sum = 0.0;
        let mut last = f64::INFINITY;
        for r in ranking {
            let id = r["cause"].as_str().expect("cause");
            let p = r["probability"].as_f64().expect("probability");
            let c = m
                .causes
                .iter()
                .position(|(x, _)| x == id)
                .unwrap_or_else(|| panic!("unknown cause {id} in the ranking"));
            assert!(!seen[c], "{id} ranked twice");
            seen[c] = true;
            assert!(
                (p - expect[c]).abs() <= 1e-9,
                "round {round}, {observations:?}: P({id}) = {p}, enumeration gives {}",
                expect[c]
            );
            assert!(p <= last, "ranking not descending");
            last = p;
            sum += p;
        }
        assert!((sum - 1.0).abs() <= 1e-9, "round {round}: sums to {sum}");

        // Every tenth set also goes through single `observe` requests.
        if round % 10 == 0 {
            proc.request(&json!({"op": "start"}));
            let mut resp = Json::Null;
            for (ev, v) in &observations {
                resp = proc.request(&json!({"op": "observe", "evidence": ev, "value": v}));
                assert_eq!(resp["ok"], json!(true), "{resp}");
            }
            if !observations.is_empty() {
                for r in resp["ranking"].as_array().unwrap() {
                    let c = m
                        .causes
                        .iter()
                        .position(|(x, _)| x == r["cause"].as_str().unwrap())
                        .unwrap();
                    let p = r["probability"].as_f64().unwrap();
                    assert!(
                        (p - expect[c]).abs() <= 1e-9,
                        "observe path: {p} vs {}",
                        expect[c]
                    );
                }
            }
        }
    }
    assert!(
        hidden_used > 200,
        "the enumeration marginalised hidden variables"
    );
    assert_eq!(proc.finish(), 0);
}
