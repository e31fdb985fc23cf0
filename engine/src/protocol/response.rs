//! The response body and the KB description, with the KB's fixed texts
//! escaped once per process.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json, json};

use crate::Engine;
use crate::session::{Advice, Assessment, Done, State};

/// The KB's fixed texts, escaped for JSON once instead of per response.
pub struct Escaped {
    cause_title: Vec<Box<RawValue>>,
    fix_title: Vec<Box<RawValue>>,
    fix_risk: Vec<Option<Box<RawValue>>>,
}

fn raw(s: &str) -> Box<RawValue> {
    let json = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    RawValue::from_string(json)
        .unwrap_or_else(|_| RawValue::from_string("\"\"".into()).expect("valid JSON"))
}

impl Escaped {
    pub fn new(engine: &Engine) -> Escaped {
        let kb = &engine.kb;
        Escaped {
            cause_title: engine
                .model
                .causes
                .iter()
                .map(|c| raw(kb.cause(c).map_or(OTHER_TITLE, |x| x.title.as_str())))
                .collect(),
            fix_title: kb.fixes.iter().map(|f| raw(&f.title)).collect(),
            fix_risk: kb
                .fixes
                .iter()
                .map(|f| f.risk.as_deref().map(raw))
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct RankItem<'a> {
    cause: &'a str,
    title: &'a RawValue,
    probability: f64,
}

#[derive(Serialize)]
struct AnswerItem<'a> {
    value: &'a str,
    label: &'a str,
}

#[derive(Serialize)]
struct NextItem<'a> {
    evidence: &'a str,
    question: &'a str,
    answers: Vec<AnswerItem<'a>>,
    cost: f64,
    expected_gain_bits: f64,
    /// The chance the user can answer it (lowered after `unknown` answers).
    answerability: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
}

#[derive(Serialize)]
struct FixItem<'a> {
    fix: &'a str,
    title: &'a RawValue,
    p_works: f64,
    cost: f64,
    risk: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "is_zero")]
    risk_cost: f64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    lowers_security: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    revert: Option<&'a str>,
}

/// A success response, serialised straight from borrowed data.
#[derive(Serialize)]
pub(super) struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Json>,
    ok: bool,
    ranking: Vec<RankItem<'a>>,
    next: Option<NextItem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixes: Option<Vec<FixItem<'a>>>,
    advice: &'a Advice,
    done: bool,
    done_reason: Option<Done>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    contradiction: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    verified_fix: Option<&'a str>,
    state: &'a State,
    #[serde(flatten)]
    extra: &'a Map<String, Json>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

const OTHER_TITLE: &str = "None of the causes in this knowledge base";

pub(super) fn body<'a>(
    engine: &'a Engine,
    texts: &'a Escaped,
    state: &'a State,
    a: &'a Assessment,
    extra: &'a Map<String, Json>,
    id: Option<&'a Json>,
) -> Body<'a> {
    let m = &engine.model;
    let kb = &engine.kb;
    let ranking = a
        .ranking
        .iter()
        .map(|&c| RankItem {
            cause: &m.causes[c],
            title: &texts.cause_title[c],
            probability: a.posterior[c],
        })
        .collect();
    let next = a.next.map(|q| {
        let e = &kb.evidence[q.evidence];
        let question = e.question.as_ref();
        NextItem {
            evidence: &e.id,
            question: question.map_or(e.title.as_str(), |q| q.text.as_str()),
            answers: e
                .values
                .iter()
                .map(|v| AnswerItem {
                    value: v,
                    label: question.and_then(|q| q.labels.get(v)).unwrap_or(v),
                })
                .collect(),
            // The KB's cost; the choice also counted the KB's cost per step.
            cost: e.cost,
            expected_gain_bits: q.gain,
            answerability: q.answerability,
            help: question.and_then(|q| q.help.as_deref()),
        }
    });
    // The `kb` op lists the KB's fixes under `fixes` instead of the plan.
    let fixes = (!extra.contains_key("fixes")).then(|| {
        a.plan
            .iter()
            .map(|p| {
                let f = &kb.fixes[p.fix];
                FixItem {
                    fix: &f.id,
                    title: &texts.fix_title[p.fix],
                    p_works: p.p_works,
                    cost: f.cost,
                    risk: texts.fix_risk[p.fix].as_deref(),
                    risk_cost: m.fixes[p.fix].risk_cost,
                    lowers_security: f.lowers_security,
                    revert: f.revert.as_deref(),
                }
            })
            .collect()
    });
    Body {
        id,
        ok: true,
        ranking,
        next,
        fixes,
        advice: &a.advice,
        done: a.done.is_some(),
        done_reason: a.done,
        contradiction: a.contradiction,
        verified_fix: state.verified.as_deref(),
        state,
        extra,
    }
}

/// The standard success body for a state, as a JSON object.
pub fn response(engine: &Engine, state: &State) -> Map<String, Json> {
    let a = state.assess(engine);
    let extra = Map::new();
    let texts = Escaped::new(engine);
    match serde_json::to_value(body(engine, &texts, state, &a, &extra, None)) {
        Ok(Json::Object(m)) => m,
        _ => Map::new(),
    }
}

/// The `kb` op's description of causes, evidence and fixes.
pub fn kb_description(engine: &Engine) -> Map<String, Json> {
    let kb = &engine.kb;
    let m = &engine.model;
    let causes: Vec<Json> = kb
        .causes
        .iter()
        .map(|c| {
            let prior = m.cause_index(&c.id).map_or(0.0, |i| m.prior[i]);
            json!({"id": c.id, "title": c.title, "description": c.description, "prior": prior, "references": c.references})
        })
        .collect();
    let evidence: Vec<Json> = kb
        .evidence
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "title": e.title, "values": e.values, "cost": e.cost,
                "askable": e.question.is_some(),
                "question": e.question.as_ref().map(|q| &q.text),
                "labels": e.question.as_ref().map(|q| &q.labels),
            })
        })
        .collect();
    let fixes: Vec<Json> = kb
        .fixes
        .iter()
        .map(|f| {
            json!({"id": f.id, "title": f.title, "cost": f.cost, "risk": f.risk, "resolves": f.resolves,
                   "steps": f.steps.iter().map(|s| json!({"text": s.text, "commands": s.commands.iter().map(|c| json!({"kind": c.kind(), "text": c.text()})).collect::<Vec<_>>()})).collect::<Vec<_>>()})
        })
        .collect();
    let mut out = Map::new();
    out.insert(
        "kb".into(),
        json!({"id": kb.manifest.id, "title": kb.manifest.title, "version": kb.manifest.version, "problem": kb.manifest.problem}),
    );
    out.insert("causes".into(), Json::Array(causes));
    out.insert("evidence".into(), Json::Array(evidence));
    out.insert("fixes".into(), Json::Array(fixes));
    let intake: Vec<Json> = engine
        .intake_choices()
        .iter()
        .map(|c| {
            let sets: Map<String, Json> = c
                .sets
                .iter()
                .map(|&(e, v)| (e.to_string(), json!(v)))
                .collect();
            let mut o = json!({"choice": c.key, "part": c.part, "label": c.label, "sets": sets});
            if let (Some(e), Some(obj)) = (c.evidence, o.as_object_mut()) {
                obj.insert("evidence".into(), json!(e));
            }
            o
        })
        .collect();
    out.insert("intake".into(), Json::Array(intake));
    out
}
