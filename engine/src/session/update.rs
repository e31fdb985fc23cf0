//! What changes a state: answers, retractions, fix results and their
//! verification, and collector facts run through the KB's rules.

use std::collections::BTreeMap;

use super::{FixResult, MAX_ITEMS, Observation, SessionError, Source, State, UNKNOWN};
use crate::Engine;
use crate::kb::model::Value;
use crate::kb::patterns::{self, Extracted, TextError};
use crate::kb::rules;

/// The verification evidence of a fix that can be asked (has a question).
/// In KB order, so they are asked in the order the KB defines its questions.
pub(super) fn verify_questions<'a>(
    engine: &'a Engine,
    fix: &str,
) -> impl Iterator<Item = &'a String> + 'a {
    let expect = engine
        .kb
        .fix(fix)
        .and_then(|f| f.verify.as_ref())
        .map(|v| &v.expect);
    engine
        .kb
        .evidence
        .iter()
        .filter(move |e| e.question.is_some() && expect.is_some_and(|x| x.contains_key(&e.id)))
        .map(|e| &e.id)
}

impl State {
    /// Record an answer (or `unknown`) for an evidence variable.
    pub fn observe(
        &mut self,
        engine: &Engine,
        evidence: &str,
        value: &str,
        source: Source,
    ) -> Result<(), SessionError> {
        let value = engine.normalise_value(evidence, value)?;
        if self.observations.len() >= MAX_ITEMS {
            return Err(SessionError::TooLarge(format!(
                "a session holds at most {MAX_ITEMS} observations"
            )));
        }
        let before = self.posterior(engine);
        let label = source.to_string();
        if let Some(fix) = self.verifying.clone()
            && verify_questions(engine, &fix).any(|e| e == evidence)
        {
            // An answer about the repaired system: checks the fix, is no
            // finding about the cause.
            self.verify_answers
                .insert(evidence.to_string(), value.clone());
            self.record(
                engine,
                &before,
                "verify_answer",
                evidence,
                Some(&value),
                label,
            );
            self.settle_verification(engine);
            return Ok(());
        }
        self.observations.retain(|o| o.evidence != evidence);
        self.observations.push(Observation {
            evidence: evidence.to_string(),
            value: value.clone(),
            source,
        });
        self.record(engine, &before, "observe", evidence, Some(&value), label);
        Ok(())
    }

    /// Forget an observation. Retracting what was never observed is a no-op.
    pub fn retract(&mut self, engine: &Engine, evidence: &str) -> Result<(), SessionError> {
        if engine.model.evidence_index(evidence).is_none() {
            return Err(SessionError::UnknownEvidence(evidence.to_string()));
        }
        if self.value_of(evidence).is_none() {
            return Ok(());
        }
        let before = self.posterior(engine);
        self.observations.retain(|o| o.evidence != evidence);
        self.record(engine, &before, "retract", evidence, None, "user".into());
        Ok(())
    }

    /// Report that a fix was tried. A fix that worked is verified next.
    pub fn fix_result(
        &mut self,
        engine: &Engine,
        fix: &str,
        worked: bool,
    ) -> Result<(), SessionError> {
        let Some(f) = engine.kb.fix(fix) else {
            return Err(SessionError::UnknownFix(fix.to_string()));
        };
        if self.fixes.len() >= MAX_ITEMS {
            return Err(SessionError::TooLarge(format!(
                "a session holds at most {MAX_ITEMS} fix results"
            )));
        }
        let before = self.posterior(engine);
        self.fixes.retain(|r| r.fix != fix);
        self.fixes.push(FixResult {
            fix: fix.to_string(),
            worked,
        });
        let _ = f;
        self.verify_answers.clear();
        if worked {
            // Earlier answers stay: they describe the broken system and
            // remain evidence about the cause. The verification questions
            // are asked afresh and kept apart (`verify_answers`).
            if verify_questions(engine, fix).next().is_some() {
                self.verifying = Some(fix.to_string());
            } else {
                // Nothing to ask: the user's word (and any collected
                // evidence that comes later) is all there is.
                self.verified = Some(fix.to_string());
            }
        } else if self.verifying.as_deref() == Some(fix) {
            self.verifying = None;
        }
        let outcome = if worked { "worked" } else { "failed" };
        self.record(
            engine,
            &before,
            "fix_result",
            fix,
            Some(outcome),
            "user".into(),
        );
        Ok(())
    }

    /// When every verification answer is in, conclude or reopen.
    fn settle_verification(&mut self, engine: &Engine) {
        let Some(fix) = self.verifying.clone() else {
            return;
        };
        let Some(expect) = engine
            .kb
            .fix(&fix)
            .and_then(|f| f.verify.as_ref())
            .map(|v| &v.expect)
        else {
            self.verifying = None;
            return;
        };
        // Only questions are waited for; collected evidence is checked when present.
        if verify_questions(engine, &fix).any(|e| !self.verify_answers.contains_key(e)) {
            return;
        }
        let answers: Vec<Option<bool>> = expect
            .iter()
            .filter_map(|(e, v)| self.verify_answers.get(e).map(|got| (got, v)))
            .map(|(got, want)| (got != UNKNOWN).then(|| got == want))
            .collect();
        let before = self.posterior(engine);
        self.verifying = None;
        let outcome = if answers.contains(&Some(false)) {
            if let Some(r) = self.fixes.iter_mut().find(|r| r.fix == fix) {
                r.worked = false;
            }
            "not confirmed: counted as failed"
        } else if answers.contains(&None) {
            // Some answers are unknown: the fix still counts as having
            // worked, but the case is not closed as verified.
            "not confirmed: some answers unknown"
        } else {
            self.verified = Some(fix.clone());
            "confirmed"
        };
        self.record(
            engine,
            &before,
            "verify",
            &fix,
            Some(outcome),
            "user".into(),
        );
    }

    /// Add collector facts and run the KB's rules over all facts. Evidence
    /// the user answered is kept; rule results replace earlier rule results.
    pub fn add_facts(
        &mut self,
        engine: &Engine,
        facts: BTreeMap<String, Value>,
        collector: &str,
    ) -> Result<(), SessionError> {
        if self.facts.len() + facts.len() > MAX_ITEMS {
            return Err(SessionError::TooLarge(format!(
                "a session holds at most {MAX_ITEMS} facts"
            )));
        }
        let before = self.posterior(engine);
        let n = facts.len();
        for name in facts.keys() {
            self.fact_sources
                .insert(name.clone(), collector.to_string());
        }
        self.facts.extend(facts);
        self.apply_rules(engine);
        self.record(
            engine,
            &before,
            "facts",
            collector,
            Some(&format!("{n} facts")),
            collector.to_string(),
        );
        Ok(())
    }

    fn apply_rules(&mut self, engine: &Engine) {
        let user: BTreeMap<String, String> = self
            .observations
            .iter()
            .filter(|o| !matches!(o.source, Source::Rule { .. }) && o.value != UNKNOWN)
            .map(|o| (o.evidence.clone(), o.value.clone()))
            .collect();
        let out = rules::run(&engine.kb.rules, &self.facts, &|name| {
            user.get(name).cloned()
        });
        self.observations
            .retain(|o| !matches!(o.source, Source::Rule { .. }));
        for inf in out.evidence {
            if self.value_of(&inf.evidence).is_some() {
                continue;
            }
            self.observations.push(Observation {
                evidence: inf.evidence,
                value: inf.value,
                source: Source::Rule {
                    rule: inf.rule,
                    because: inf
                        .because
                        .into_iter()
                        .map(|b| {
                            // "fact = value" -> "fact = value (probe of host:3389)"
                            let name = b.split(" = ").next().unwrap_or_default();
                            match self.fact_sources.get(name) {
                                Some(src) => format!("{b} ({src})"),
                                None => b,
                            }
                        })
                        .collect(),
                },
            });
        }
        self.derived = out.derived;
        self.conflicts = out.conflicts;
    }

    /// Extract every fact the KB's patterns find in pasted text and observe
    /// it. A value the user already gave stands (the item says so). Returns
    /// each extracted value and whether it was applied.
    pub fn observe_text(
        &mut self,
        engine: &Engine,
        text: &str,
    ) -> Result<Vec<PastedValue>, SessionError> {
        let found = patterns::extract(&engine.kb, text).map_err(|e| match e {
            TextError::TooLarge(_) => SessionError::TooLarge(e.to_string()),
            _ => SessionError::BadText(e.to_string()),
        })?;
        let mut out = Vec::with_capacity(found.len());
        for x in found {
            let answered = self
                .observations
                .iter()
                .find(|o| o.evidence == x.evidence && o.value != UNKNOWN)
                .map(|o| o.value.clone());
            let applied = match &answered {
                Some(v) => *v == x.value,
                None => {
                    let source = Source::Collector {
                        collector: super::PASTED_TEXT.into(),
                        detail: format!("{}: \"{}\"", x.pattern, x.text),
                    };
                    self.observe(engine, &x.evidence, &x.value, source)?;
                    true
                }
            };
            out.push(PastedValue {
                extracted: x,
                applied,
                kept: answered.filter(|_| !applied),
            });
        }
        Ok(out)
    }
}

/// One value found in pasted text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PastedValue {
    #[serde(flatten)]
    pub extracted: Extracted,
    /// The value is now part of the session (false: an earlier answer differs).
    pub applied: bool,
    /// The earlier answer that was kept instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
}
