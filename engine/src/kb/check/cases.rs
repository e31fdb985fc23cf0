//! The code tables and the KB's cases.

use super::*;

pub(super) fn check_codes(c: &mut Checker) {
    let kb = c.kb;
    let file = "codes.ron";
    let f = c.file(file).clone();
    for (table, list) in [
        ("disconnect", &kb.codes.disconnect),
        ("extended", &kb.codes.extended),
    ] {
        let mut seen = HashSet::new();
        let table_at = f.find_after(0, table);
        for code in list {
            if !seen.insert(code.code) {
                let mut d = f.diag(
                    Severity::Error,
                    "duplicate_id",
                    table_at,
                    format!("{table} code {:#x} is listed twice", code.code),
                );
                d.help = Some("merge the two entries".into());
                c.out.push(d);
            }
            for cause in &code.causes {
                if kb.cause(cause).is_none() {
                    let at = f.find_str_after(table_at, cause);
                    c.out.push(f.diag(
                        Severity::Error,
                        "unknown_cause",
                        at,
                        format!("code {:#x} points to unknown cause `{cause}`", code.code),
                    ));
                }
            }
        }
    }
    for pair in &kb.codes.pairs {
        for cause in &pair.causes {
            if kb.cause(cause).is_none() {
                let at = f.find_str_after(f.find_after(0, "pairs"), cause);
                c.out.push(f.diag(
                    Severity::Error,
                    "unknown_cause",
                    at,
                    format!(
                        "pair {:#x}/{:#x} points to unknown cause `{cause}`",
                        pair.code, pair.extended
                    ),
                ));
            }
        }
    }
}

pub(super) fn check_cases(c: &mut Checker) {
    let kb = c.kb;
    let mut names = HashSet::new();
    for (file, case) in kb.cases.iter().chain(&kb.reports) {
        let name = case.name.as_str();
        if !names.insert(name) {
            c.err(
                "duplicate_id",
                file,
                name,
                None,
                format!("duplicate case name `{name}`"),
            );
        }
        for (ev, val) in &case.observations {
            match kb.evidence(ev) {
                None => c.err(
                    "unknown_evidence",
                    file,
                    name,
                    Some(ev),
                    format!("case `{name}` observes unknown evidence `{ev}`"),
                ),
                Some(e) if !e.values.contains(val) && val != "unknown" => c.err(
                    "unknown_value",
                    file,
                    name,
                    Some(val),
                    format!(
                        "case `{name}`: `{val}` is not a value of `{ev}` ({})",
                        e.values.join(", ")
                    ),
                ),
                _ => {}
            }
        }
        let ex = &case.expect;
        for cause in ex.top.iter().chain(&ex.any_of) {
            if kb.cause(cause).is_none() && cause != OTHER {
                c.err(
                    "unknown_cause",
                    file,
                    name,
                    Some(cause),
                    format!("case `{name}` expects unknown cause `{cause}`"),
                );
            }
        }
        if ex.top.is_none() && ex.any_of.is_empty() {
            c.err(
                "empty",
                file,
                name,
                Some("expect"),
                format!("case `{name}` expects nothing: give `top` or `any_of`"),
            );
        }
        if ex.within == 0 {
            c.err(
                "range",
                file,
                name,
                Some("within"),
                format!("case `{name}`: `within` must be at least 1"),
            );
        }
    }
}
