//! Scan findings: unique ids, a title, conditions over facts the probe
//! produces, evidence or the scan's settings, placeholders that name such a
//! fact, and a cause and fix the KB has.

use super::*;
use crate::kb::model::{Finding, SCAN_SETTINGS};

/// The `{name}` placeholders of a finding's detail line.
pub fn placeholders(detail: &str) -> impl Iterator<Item = &str> {
    detail
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

pub(super) fn check_findings(c: &mut Checker, facts: &HashSet<String>) {
    let kb = c.kb;
    let file = "findings.ron";
    duplicates(
        c,
        file,
        "finding",
        kb.findings.iter().map(|f| f.id.as_str()),
    );
    let mut known = facts.clone();
    known.extend(SCAN_SETTINGS.iter().map(|s| s.to_string()));
    for f in &kb.findings {
        let Finding { id, title, .. } = f;
        if title.trim().is_empty() {
            c.err(
                "empty",
                file,
                id,
                None,
                format!("finding `{id}` has no title"),
            );
        }
        check_condition(c, file, id, &f.when, &known);
        for name in placeholders(&f.detail) {
            if kb.evidence(name).is_none() && !known.contains(name) {
                c.err(
                    "unknown_reference",
                    file,
                    id,
                    Some(name),
                    format!("the detail of `{id}` shows `{{{name}}}`, which is neither an evidence id nor a fact the probe or a scan setting provides"),
                );
            }
        }
        if let Some(cause) = &f.cause
            && kb.cause(cause).is_none()
        {
            c.err(
                "unknown_cause",
                file,
                id,
                Some(cause),
                format!("finding `{id}` names unknown cause `{cause}`"),
            );
        }
        if let Some(fix) = &f.fix
            && kb.fix(fix).is_none()
        {
            c.err(
                "unknown_fix",
                file,
                id,
                Some(fix),
                format!("finding `{id}` names unknown fix `{fix}`"),
            );
        }
    }
}
