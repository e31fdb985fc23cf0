//! The resolved probabilistic model as JSON (DESIGN §9, a contract): every
//! cause including `other` in every likelihood row, priors summing to 1, so
//! another tool can rebuild the same Bayesian network.

use serde_json::{Map, Value, json};

use crate::Engine;

/// `kb export --format json`.
pub fn model_json(engine: &Engine) -> Value {
    let m = &engine.model;
    let causes: Vec<Value> = m
        .causes
        .iter()
        .zip(&m.prior)
        .map(|(id, p)| json!({"id": id, "prior": p}))
        .collect();
    let evidence: Vec<Value> = m
        .evidence
        .iter()
        .map(|e| {
            let mut rows = Map::new();
            for (c, cause) in m.causes.iter().enumerate() {
                let row: Map<String, Value> = e
                    .values
                    .iter()
                    .enumerate()
                    .map(|(v, value)| (value.clone(), json!(e.p(c, v))))
                    .collect();
                rows.insert(cause.clone(), Value::Object(row));
            }
            json!({"id": e.id, "values": e.values, "likelihood": rows})
        })
        .collect();
    let fixes: Vec<Value> = engine
        .kb
        .fixes
        .iter()
        .map(|f| json!({"id": f.id, "cost": f.cost, "resolves": f.resolves}))
        .collect();
    json!({
        "kb": engine.kb.manifest.id,
        "version": engine.kb.manifest.version,
        "leak": engine.kb.manifest.leak,
        "causes": causes,
        "evidence": evidence,
        "fixes": fixes,
    })
}
