//! Static validation of a parsed KB: every problem at once, each located.
//!
//! Errors make a KB unusable (duplicate ids, unknown references, bad
//! probabilities, cycles, unreachable questions, indistinguishable causes…);
//! warnings point at weak spots a contributor should look at (lints).
//!
//! A `Checker` walks the KB once per family of checks and locates each
//! problem in its source file: `distributions` (causes, priors, sums),
//! `evidence` (values, likelihoods, `ask_if`), `rule_set` (conditions
//! and actions), `fixes` (fixes and collectors), `cases` (code tables
//! and cases), `graph` (cycles, unsettable evidence, indistinguishable
//! causes) and `lints` (warnings).

use std::collections::{BTreeMap, HashMap, HashSet};

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;

use crate::infer::OTHER;
use crate::kb::diag::{Diagnostic, Severity, SourceFile};
use crate::kb::load::Kb;
use crate::kb::model::{Action, Bound, CollectorKind, Condition, INTAKE_NONE, Parser, Value};
use crate::kb::rules;

mod cases;
mod distributions;
mod evidence;
mod findings;
mod fixes;
mod graph;
mod lints;
mod patterns;
mod rule_set;

use cases::{check_cases, check_codes};
use distributions::{check_causes, check_distribution};
use evidence::{check_condition, check_evidence, known_facts};
use findings::check_findings;
pub use findings::placeholders;
use fixes::{check_collectors, check_fixes};
use graph::{check_ask_if_graph, check_distinguishable, check_settable};
use lints::lint;
use patterns::check_patterns;
use rule_set::check_rules;

/// Tolerance for a distribution's sum.
pub const SUM_TOLERANCE: f64 = 1e-9;
/// Values reserved by the engine and protocol.
pub const RESERVED_VALUES: &[&str] = &["unknown"];

/// Where to report: the file, the entity id, and optionally a needle inside it.
pub(super) struct Place<'p>(&'p str, &'p str, Option<&'p str>);

pub(super) struct Checker<'a> {
    pub(super) kb: &'a Kb,
    pub(super) out: Vec<Diagnostic>,
    empty: SourceFile,
}

impl<'a> Checker<'a> {
    pub(super) fn file(&self, name: &str) -> &SourceFile {
        self.kb.source.file(name).unwrap_or(&self.empty)
    }

    /// Report at the definition of `id` in `file`, or at `needle` inside it.
    pub(super) fn at(
        &mut self,
        sev: Severity,
        code: &'static str,
        place: Place,
        msg: String,
        help: Option<String>,
    ) {
        let Place(file, id, needle) = place;
        let f = self.file(file);
        let start = f.find_id(id).unwrap_or(0);
        let offset = match needle {
            Some(n) => f.find_in_entity(start, n),
            None => start,
        };
        let mut d = f.diag(sev, code, offset, msg);
        d.help = help;
        self.out.push(d);
    }

    pub(super) fn err(
        &mut self,
        code: &'static str,
        file: &str,
        id: &str,
        needle: Option<&str>,
        msg: String,
    ) {
        self.at(Severity::Error, code, Place(file, id, needle), msg, None);
    }

    pub(super) fn warn(
        &mut self,
        code: &'static str,
        file: &str,
        id: &str,
        needle: Option<&str>,
        msg: String,
        help: &str,
    ) {
        self.at(
            Severity::Warning,
            code,
            Place(file, id, needle),
            msg,
            Some(help.to_string()),
        );
    }
}

/// Check a KB; returns errors and warnings, errors first within each file.
pub fn check(kb: &Kb) -> Vec<Diagnostic> {
    let mut c = Checker {
        kb,
        out: Vec::new(),
        empty: SourceFile::new(format!("{}/kb.ron", kb.source.root), "kb.ron", ""),
    };
    check_manifest(&mut c);
    check_causes(&mut c);
    let facts = known_facts(kb);
    check_evidence(&mut c, &facts);
    check_rules(&mut c, &facts);
    check_fixes(&mut c);
    for f in &kb.fixes {
        if let Some(cond) = &f.applies_if {
            check_condition(&mut c, "fixes.ron", &f.id, cond, &facts);
        }
    }
    check_collectors(&mut c);
    check_codes(&mut c);
    check_cases(&mut c);
    check_patterns(&mut c);
    check_findings(&mut c, &facts);
    check_ask_if_graph(&mut c);
    check_settable(&mut c);
    check_distinguishable(&mut c);
    lint(&mut c);
    let mut out = c.out;
    out.sort_by(|a, b| {
        (a.severity, &a.file, a.line, a.column).cmp(&(b.severity, &b.file, b.line, b.column))
    });
    out.dedup();
    out
}

pub(super) fn check_manifest(c: &mut Checker) {
    let m = &c.kb.manifest;
    let id = m.id.clone();
    if !(m.leak > 0.0 && m.leak < 1.0) {
        c.err(
            "probability",
            "kb.ron",
            &id,
            Some("leak"),
            format!("leak {} must be strictly between 0 and 1", m.leak),
        );
    }
    if !(m.threshold > 0.0 && m.threshold <= 1.0) {
        c.err(
            "probability",
            "kb.ron",
            &id,
            None,
            format!("threshold {} must be in (0, 1]", m.threshold),
        );
    }
    if !(m.min_gain_bits >= 0.0 && m.min_gain_bits.is_finite()) {
        c.err(
            "range",
            "kb.ron",
            &id,
            None,
            format!(
                "min_gain_bits {} must be a non-negative number",
                m.min_gain_bits
            ),
        );
    }
    for e in &m.checklist {
        if c.kb.evidence(e).is_none() {
            c.err(
                "unknown_evidence",
                "kb.ron",
                &id,
                Some(e),
                format!("checklist names unknown evidence `{e}`"),
            );
        }
    }
    if m.max_questions == 0 {
        c.err(
            "range",
            "kb.ron",
            &id,
            None,
            "max_questions must be at least 1".into(),
        );
    }
    for choices in [&m.recent_changes, &m.error_shown] {
        for (choice, change) in choices {
            for (ev, v) in &change.sets {
                let ok = c.kb.evidence(ev).is_some_and(|e| e.values.contains(v));
                if !ok {
                    c.err(
                        "unknown_reference",
                        "kb.ron",
                        &id,
                        Some(choice),
                        format!("intake choice `{choice}` sets `{ev}` to `{v}`, which is not an evidence value of this KB"),
                    );
                }
            }
        }
    }
    check_triage(c, &id);
    // One answer names choices by their words: a word must mean one choice.
    let mut seen: HashSet<&str> = HashSet::new();
    let words = m
        .error_shown
        .keys()
        .map(|k| ("error_shown", k))
        .chain(
            m.triage
                .iter()
                .flat_map(|t| t.choices.keys().map(|k| ("triage", k))),
        )
        .chain(m.recent_changes.keys().map(|k| ("recent_changes", k)));
    for (list, word) in words {
        if !seen.insert(word)
            || INTAKE_NONE.contains(&word.as_str())
            || word.parse::<usize>().is_ok()
        {
            c.err(
                "duplicate_id",
                "kb.ron",
                &id,
                Some(word),
                format!("intake choice `{word}` ({list}) is another choice's word, a number or one of {}: one answer could not tell them apart", INTAKE_NONE.join(", ")),
            );
        }
    }
}

/// The triage questions: askable evidence, each listed once, every choice
/// one of its values.
fn check_triage(c: &mut Checker, id: &str) {
    let kb = c.kb;
    let mut listed = HashSet::new();
    for t in &kb.manifest.triage {
        let Some(e) = kb.evidence(&t.evidence) else {
            c.err(
                "unknown_evidence",
                "kb.ron",
                id,
                Some(&t.evidence),
                format!("triage names unknown evidence `{}`", t.evidence),
            );
            continue;
        };
        if e.question.is_none() {
            c.err(
                "unknown_reference",
                "kb.ron",
                id,
                Some(&t.evidence),
                format!("triage evidence `{}` has no question to show", t.evidence),
            );
        }
        if !listed.insert(t.evidence.as_str()) {
            c.err(
                "duplicate_id",
                "kb.ron",
                id,
                Some(&t.evidence),
                format!("triage lists `{}` twice", t.evidence),
            );
        }
        for (word, v) in &t.choices {
            if !e.values.contains(v) {
                c.err(
                    "unknown_reference",
                    "kb.ron",
                    id,
                    Some(word),
                    format!(
                        "triage choice `{word}` means `{v}`, which is not a value of `{}` ({})",
                        t.evidence,
                        e.values.join(", ")
                    ),
                );
            }
        }
    }
}

/// Report duplicates among `ids` (second and later definitions).
pub(super) fn duplicates<'b>(
    c: &mut Checker,
    file: &str,
    what: &str,
    ids: impl IntoIterator<Item = &'b str>,
) {
    let mut seen = HashSet::new();
    let f = c.file(file).clone();
    let mut from = 0;
    for id in ids {
        let quoted = format!("\"{id}\"");
        // locate this occurrence: the next `"id"` after the previous entity
        let offset = f.find_after(from, &quoted);
        from = offset + 1;
        if !seen.insert(id.to_string()) {
            let mut d = f.diag(
                Severity::Error,
                "duplicate_id",
                offset,
                format!("duplicate {what} id `{id}`"),
            );
            d.help = Some(format!(
                "{what} ids must be unique; rename or merge the two definitions"
            ));
            c.out.push(d);
        }
    }
}
