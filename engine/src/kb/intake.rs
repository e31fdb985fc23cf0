//! The intake's choices as a KB states them (`kb.ron`: `error_shown`,
//! `triage`, `recent_changes`): data only, like the rest of [`super::model`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Words that answer the intake with "nothing changed / none of these": no
/// facts. No intake choice may be one of them.
pub const INTAKE_NONE: &[&str] = &["none", "nothing", "skip"];

/// One question of the intake's triage: an evidence variable, and the word
/// the user types for each of its values.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TriageQuestion {
    pub evidence: String,
    /// Choice word -> the evidence value it means.
    pub choices: BTreeMap<String, String>,
}

/// One choice of the intake ("what changed recently?", "what does the
/// error say?").
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecentChange {
    /// How the choice is shown.
    pub label: String,
    /// Evidence id -> value it sets.
    pub sets: BTreeMap<String, String>,
}
