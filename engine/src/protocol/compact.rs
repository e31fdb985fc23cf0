//! The compact view of an assessment: what a chatbot needs to go on and
//! nothing more. The top 5 causes (ids and probabilities; the titles are in
//! the KB description), the next question with its answers and
//! how to find out, the advice in one sentence, the top 3 fixes. Its size
//! does not grow with the session.
//!
//! The JSON lines mode returns it on request (`"view":"compact"`); the MCP
//! tools always do, with a short text rendering for the model ([`text`]).

use serde_json::{Map, Value as Json, json};

use crate::Engine;
use crate::session::{Assessment, Done, State};

/// Causes in the compact ranking.
pub const TOP_CAUSES: usize = 5;
/// Fixes in the compact plan.
pub const TOP_FIXES: usize = 3;

fn round3(p: f64) -> f64 {
    (p * 1000.0).round() / 1000.0
}

/// The compact view: `ranking`, `next`, `fixes`, `advice`, `done`,
/// `done_reason` (and `verified_fix` once a fix is verified).
pub fn compact(engine: &Engine, state: &State, a: &Assessment) -> Map<String, Json> {
    let m = &engine.model;
    let kb = &engine.kb;
    let ranking: Vec<Json> = a
        .ranking
        .iter()
        .take(TOP_CAUSES)
        .map(|&c| json!({"cause": m.causes[c], "probability": round3(a.posterior[c])}))
        .collect();
    let next = a.next.map(|q| {
        let e = &kb.evidence[q.evidence];
        let question = e.question.as_ref();
        // value -> label: the labels say what each answer means.
        let answers: Map<String, Json> = e
            .values
            .iter()
            .map(|v| {
                let label = question.and_then(|q| q.labels.get(v)).unwrap_or(v);
                (v.clone(), json!(label))
            })
            .collect();
        let mut n = json!({
            "evidence": e.id,
            "question": question.map_or(e.title.as_str(), |q| q.text.as_str()),
            "answers": answers,
        });
        if let Some(help) = question.and_then(|q| q.help.as_deref()) {
            n["how_to_find_out"] = json!(help);
        }
        n
    });
    // Once a fix is verified there is nothing left to try.
    let plan = if state.verified.is_some() {
        &[][..]
    } else {
        &a.plan[..]
    };
    let fixes: Vec<Json> = plan
        .iter()
        .take(TOP_FIXES)
        .map(|p| {
            let f = &kb.fixes[p.fix];
            let mut x = json!({"fix": f.id, "title": f.title, "p_works": round3(p.p_works)});
            if f.lowers_security {
                x["lowers_security"] = json!(true);
            }
            x
        })
        .collect();
    let mut out = Map::new();
    out.insert("ranking".into(), Json::Array(ranking));
    out.insert("next".into(), next.unwrap_or(Json::Null));
    out.insert("fixes".into(), Json::Array(fixes));
    let mut advice = json!({"step": a.advice.step, "say": say(state, a)});
    if let Some(fix) = &a.advice.fix {
        advice["fix"] = json!(fix);
    }
    out.insert("advice".into(), advice);
    out.insert("done".into(), json!(a.done.is_some()));
    if let Some(d) = a.done {
        out.insert("done_reason".into(), json!(d));
    }
    if let Some(v) = &state.verified {
        out.insert("verified_fix".into(), json!(v));
    }
    out
}

/// The advice in one sentence, addressed to whoever drives the session.
pub fn say(state: &State, a: &Assessment) -> String {
    if a.done == Some(Done::Verified) {
        return "The problem is fixed and verified: the session is over.".into();
    }
    if let Some(fix) = &state.verifying {
        return format!(
            "`{fix}` was reported to work: ask the verification question to confirm it before closing."
        );
    }
    match (a.advice.step, &a.advice.fix, a.next) {
        ("try_fix", Some(fix), _) => {
            format!("Try `{fix}` now (cheaper than asking more), then report whether it worked.")
        }
        ("ask", _, Some(_)) => {
            "Ask the user the next question in plain words (`unknown` is a fine answer).".into()
        }
        _ => "Nothing is left to ask or try: escalate with what was found.".into(),
    }
}

/// A short plain-text rendering of a compact view for a language model.
pub fn text(view: &Map<String, Json>, session: Option<&str>) -> String {
    let mut s = String::new();
    let s_of = |v: &Json| v.as_str().unwrap_or_default().to_string();
    if let Some(Json::Array(r)) = view.get("ranking") {
        let top: Vec<String> = r
            .iter()
            .map(|c| {
                format!(
                    "{} {:.0}%",
                    s_of(&c["cause"]),
                    c["probability"].as_f64().unwrap_or(0.0) * 100.0
                )
            })
            .collect();
        s.push_str(&format!("Likely causes: {}.\n", top.join(", ")));
    }
    if let Some(n) = view.get("next").filter(|n| !n.is_null()) {
        let answers: Vec<String> = n["answers"]
            .as_object()
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default();
        s.push_str(&format!(
            "Next question ({}): {} Answers: {}, unknown.\n",
            s_of(&n["evidence"]),
            s_of(&n["question"]),
            answers.join(", ")
        ));
        if let Some(h) = n.get("how_to_find_out").and_then(Json::as_str) {
            s.push_str(&format!("How to find out: {h}\n"));
        }
    }
    if let Some(a) = view.get("advice") {
        s.push_str(&format!("Advice: {}\n", s_of(&a["say"])));
    }
    if let Some(Json::Array(f)) = view.get("fixes") {
        let top: Vec<String> = f
            .iter()
            .map(|x| format!("{} ({})", s_of(&x["fix"]), s_of(&x["title"])))
            .collect();
        if !top.is_empty() {
            s.push_str(&format!("Top fixes: {}.\n", top.join("; ")));
        }
    }
    if let Some(t) = session {
        s.push_str(&format!("session: {t}\n"));
    }
    s
}
