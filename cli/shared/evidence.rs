//! Collected facts turned into evidence by the KB's rules, and shown: used
//! by `collect`, `probe` and `diagnose`.

use std::path::PathBuf;

use anyhow::Result;
use rootcause_engine::Engine;
use rootcause_engine::collect::{Collected, bundle, events};
use rootcause_engine::session::{Source, State};
use serde_json::{Map, Value, json};

/// Read every source; fails on the first unreadable one.
pub fn gather(
    engine: &Engine,
    event_files: &[PathBuf],
    bundle_file: Option<&PathBuf>,
) -> Result<(Vec<Collected>, Vec<events::EventLog>)> {
    let mut out = Vec::new();
    let mut logs = Vec::new();
    for f in event_files {
        logs.push(events::read_file(f)?);
    }
    if !logs.is_empty() {
        out.push(events::facts(&logs));
    }
    if let Some(b) = bundle_file {
        out.push(bundle::read_bundle(engine, b)?);
    }
    Ok((out, logs))
}

/// The state after adding every collected source, in order.
pub fn state_with(engine: &Engine, collected: &[Collected]) -> Result<State> {
    let mut state = State::new(engine);
    for c in collected {
        state.add_facts(engine, c.facts.clone(), &c.label)?;
    }
    Ok(state)
}

/// An evidence value a rule set from collected facts: (evidence, value, provenance).
pub type Inferred = (String, String, String);

/// The evidence the KB's rules set in `state`.
pub fn inferred(state: &State) -> Vec<Inferred> {
    state
        .observations
        .iter()
        .filter(|o| matches!(o.source, Source::Rule { .. }))
        .map(|o| (o.evidence.clone(), o.value.clone(), o.source.to_string()))
        .collect()
}

/// The evidence collected facts imply under the KB's rules.
pub fn evidence(engine: &Engine, collected: &[Collected]) -> Result<Vec<Inferred>> {
    Ok(inferred(&state_with(engine, collected)?))
}

/// `evidence` and `provenance` objects keyed by evidence id, for `--json`.
pub fn evidence_json(evidence: &[Inferred]) -> (Map<String, Value>, Map<String, Value>) {
    let values = evidence
        .iter()
        .map(|(e, v, _)| (e.clone(), json!(v)))
        .collect();
    let sources = evidence
        .iter()
        .map(|(e, _, s)| (e.clone(), json!(s)))
        .collect();
    (values, sources)
}

/// The human form of the same.
pub fn print_evidence(evidence: &[Inferred]) {
    if evidence.is_empty() {
        println!("Evidence: none (no rule of the KB applies)");
    } else {
        println!("Evidence:");
        for (e, v, src) in evidence {
            println!("  {e} = {v}    [{src}]");
        }
    }
}
