//! The intake: before the first question, what the client's error dialog
//! says, the triage questions anyone answers at a glance (how the client
//! reaches the host, whether others still connect) and what changed
//! shortly before the failures. One answer (a few choice words) fills in
//! several variables at once; the KB lists the choices (`error_shown`,
//! `triage` and `recent_changes` in `kb.ron`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{SessionError, Source, State};
use crate::Engine;
use crate::kb::model::RecentChange;

/// Which question of the intake a choice answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntakePart {
    /// What the error dialog says (the user reads it off the screen).
    Shown,
    /// A triage question: one value of an evidence variable the user
    /// knows without looking anything up.
    Triage,
    /// What changed recently (the user may not know all of it).
    Changed,
}

/// One intake choice of the KB.
#[derive(Debug, Clone, Serialize)]
pub struct IntakeChoice<'k> {
    pub part: IntakePart,
    pub key: &'k str,
    pub label: &'k str,
    /// For a triage choice, the evidence it answers (its question heads
    /// the choices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<&'k str>,
    /// The (evidence, value) pairs the choice sets.
    pub sets: Vec<(&'k str, &'k str)>,
}

pub use crate::kb::model::INTAKE_NONE;

impl Engine {
    /// The KB's intake choices: what the error says, then the triage
    /// questions, then what changed.
    pub fn intake_choices<'a>(&'a self) -> Vec<IntakeChoice<'a>> {
        let m = &self.kb.manifest;
        let listed = |part, map: &'a BTreeMap<String, RecentChange>| {
            map.iter().map(move |(k, c)| IntakeChoice {
                part,
                key: k,
                label: &c.label,
                evidence: None,
                sets: c
                    .sets
                    .iter()
                    .map(|(e, v)| (e.as_str(), v.as_str()))
                    .collect(),
            })
        };
        let mut out: Vec<IntakeChoice<'a>> = listed(IntakePart::Shown, &m.error_shown).collect();
        for t in &m.triage {
            let evidence = self.kb.evidence(&t.evidence);
            let question = evidence.and_then(|e| e.question.as_ref());
            // In the order of the evidence's values, as its question lists them.
            let mut words: Vec<(&String, &String)> = t.choices.iter().collect();
            words
                .sort_by_key(|(_, v)| evidence.and_then(|e| e.values.iter().position(|x| x == *v)));
            for (key, value) in words {
                let label = question
                    .and_then(|q| q.labels.get(value))
                    .map_or(value.as_str(), String::as_str);
                out.push(IntakeChoice {
                    part: IntakePart::Triage,
                    key,
                    label,
                    evidence: Some(&t.evidence),
                    sets: vec![(t.evidence.as_str(), value.as_str())],
                });
            }
        }
        out.extend(listed(IntakePart::Changed, &m.recent_changes));
        out
    }
}

impl State {
    /// Apply intake choices (keys of `error_shown`, `triage` or
    /// `recent_changes`, or `none`), all or nothing; two choices that give
    /// one variable different values are refused. Returns the (evidence,
    /// value) pairs set.
    pub fn intake(
        &mut self,
        engine: &Engine,
        keys: &[&str],
    ) -> Result<Vec<(String, String)>, SessionError> {
        let choices = engine.intake_choices();
        // (evidence, value, the choice that set it)
        let mut sets: Vec<(&str, &str, &str)> = Vec::new();
        for key in keys {
            let key = key.trim();
            if key.is_empty() || INTAKE_NONE.contains(&key) {
                continue;
            }
            let Some(choice) = choices.iter().find(|c| c.key == key) else {
                let known: Vec<&str> = choices.iter().map(|c| c.key).collect();
                return Err(SessionError::UnknownChoice {
                    choice: key.to_string(),
                    allowed: known.join(", "),
                });
            };
            for &(e, v) in &choice.sets {
                match sets.iter().find(|(x, _, _)| *x == e) {
                    Some(&(_, other, by)) if other != v => {
                        return Err(SessionError::ConflictingChoices {
                            first: by.to_string(),
                            second: choice.key.to_string(),
                            evidence: e.to_string(),
                        });
                    }
                    Some(_) => {}
                    None => sets.push((e, v, choice.key)),
                }
            }
        }
        let sets: Vec<(String, String)> = sets
            .into_iter()
            .map(|(e, v, _)| (e.to_string(), v.to_string()))
            .collect();
        let mut next = self.clone();
        for (e, v) in &sets {
            next.observe(engine, e, v, Source::User)?;
        }
        *self = next;
        Ok(sets)
    }
}
