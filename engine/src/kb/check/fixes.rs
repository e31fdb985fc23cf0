//! Fixes (steps, `resolves`, `verify`) and collectors (kinds, parsers, facts).

use super::*;

pub(super) fn check_fixes(c: &mut Checker) {
    let kb = c.kb;
    duplicates(
        c,
        "fixes.ron",
        "fix",
        kb.fixes.iter().map(|x| x.id.as_str()),
    );
    let file = "fixes.ron";
    for f in &kb.fixes {
        if f.steps.is_empty() {
            c.err(
                "empty",
                file,
                &f.id,
                None,
                format!("fix `{}` has no steps", f.id),
            );
        }
        if !(f.cost > 0.0 && f.cost.is_finite()) {
            c.err(
                "range",
                file,
                &f.id,
                Some("cost"),
                format!("cost of `{}` is {}; it must be positive", f.id, f.cost),
            );
        }
        if f.lowers_security && f.revert.as_deref().is_none_or(|r| r.trim().is_empty()) {
            c.err(
                "missing_revert",
                file,
                &f.id,
                Some("lowers_security"),
                format!("fix `{}` lowers security but says no `revert`", f.id),
            );
        }
        if f.resolves.is_empty() {
            c.err(
                "empty",
                file,
                &f.id,
                Some("resolves"),
                format!("fix `{}` resolves no cause", f.id),
            );
        }
        for (cause, p) in &f.resolves {
            if kb.cause(cause).is_none() {
                c.err(
                    "unknown_cause",
                    file,
                    &f.id,
                    Some(cause),
                    format!("fix `{}` resolves unknown cause `{cause}`", f.id),
                );
            }
            if !(0.0..=1.0).contains(p) || !p.is_finite() {
                c.err(
                    "probability",
                    file,
                    &f.id,
                    Some(cause),
                    format!(
                        "fix `{}`: success for `{cause}` is {p}, outside [0, 1]",
                        f.id
                    ),
                );
            }
        }
        match &f.verify {
            None => c.warn(
                "no_verify",
                file,
                &f.id,
                None,
                format!("fix `{}` says nothing about how to verify it", f.id),
                "add `verify: Some((text: ..., expect: {...}))`",
            ),
            Some(v) => {
                for (ev, val) in &v.expect {
                    match kb.evidence(ev) {
                        None => c.err(
                            "unknown_evidence",
                            file,
                            &f.id,
                            Some(ev),
                            format!("fix `{}` verifies unknown evidence `{ev}`", f.id),
                        ),
                        Some(e) if !e.values.contains(val) => c.err(
                            "unknown_value",
                            file,
                            &f.id,
                            Some(val),
                            format!(
                                "fix `{}` expects `{ev}` = `{val}`, not one of its values",
                                f.id
                            ),
                        ),
                        _ => {}
                    }
                }
            }
        }
    }
}

pub(super) fn check_collectors(c: &mut Checker) {
    let kb = c.kb;
    duplicates(
        c,
        "collectors.ron",
        "collector",
        kb.collectors.iter().map(|x| x.id.as_str()),
    );
    for col in &kb.collectors {
        if !(col.timeout_secs > 0.0 && col.timeout_secs <= 600.0) {
            c.err(
                "range",
                "collectors.ron",
                &col.id,
                None,
                format!("timeout of `{}` must be in (0, 600] seconds", col.id),
            );
        }
        if let CollectorKind::HostCommand(h) = &col.kind
            && let Parser::Regex(map) = &h.parse
        {
            for (fact, p) in map {
                if let Err(e) = rules::regex(p) {
                    c.err(
                        "regex",
                        "collectors.ron",
                        &col.id,
                        Some(fact),
                        format!("bad regex for `{fact}`: {e}"),
                    );
                }
            }
        }
    }
}
