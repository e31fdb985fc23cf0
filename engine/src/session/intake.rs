//! The intake: before the first question, what the client's error dialog
//! says and what changed shortly before the failures. One answer (a few
//! choice names) fills in several variables at once; the KB lists the
//! choices (`error_shown` and `recent_changes` in `kb.ron`).

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
    /// What changed recently (the user may not know all of it).
    Changed,
}

/// One intake choice of the KB.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct IntakeChoice<'k> {
    pub part: IntakePart,
    pub key: &'k str,
    pub label: &'k str,
    #[serde(skip)]
    pub sets: &'k RecentChange,
}

/// Words that answer "nothing changed / none of these": no facts.
pub const INTAKE_NONE: &[&str] = &["none", "nothing", "skip"];

impl Engine {
    /// The KB's intake choices: what the error says first, then what changed.
    pub fn intake_choices(&self) -> Vec<IntakeChoice<'_>> {
        let m = &self.kb.manifest;
        let shown = m.error_shown.iter().map(|(k, c)| (IntakePart::Shown, k, c));
        let changed = m
            .recent_changes
            .iter()
            .map(|(k, c)| (IntakePart::Changed, k, c));
        shown
            .chain(changed)
            .map(|(part, key, c)| IntakeChoice {
                part,
                key,
                label: &c.label,
                sets: c,
            })
            .collect()
    }
}

impl State {
    /// Apply intake choices (keys of `error_shown` or `recent_changes`,
    /// or `none`), all or nothing. Returns the (evidence, value) pairs set.
    pub fn intake(
        &mut self,
        engine: &Engine,
        keys: &[&str],
    ) -> Result<Vec<(String, String)>, SessionError> {
        let mut sets: Vec<(String, String)> = Vec::new();
        for key in keys {
            let key = key.trim();
            if key.is_empty() || INTAKE_NONE.contains(&key) {
                continue;
            }
            let m = &engine.kb.manifest;
            let Some(choice) = m.error_shown.get(key).or_else(|| m.recent_changes.get(key)) else {
                let known: Vec<&str> = engine.intake_choices().iter().map(|c| c.key).collect();
                return Err(SessionError::UnknownChoice {
                    choice: key.to_string(),
                    allowed: known.join(", "),
                });
            };
            for (e, v) in &choice.sets {
                sets.retain(|(x, _)| x != e);
                sets.push((e.clone(), v.clone()));
            }
        }
        let mut next = self.clone();
        for (e, v) in &sets {
            next.observe(engine, e, v, Source::User)?;
        }
        *self = next;
        Ok(sets)
    }
}
