//! Text patterns: each regex compiles within its bounds, sets known
//! evidence to known values, matches its examples and none of its
//! counter-examples.

use super::*;
use crate::kb::patterns::{compiled, precompile};

pub(super) fn check_patterns(c: &mut Checker) {
    let kb = c.kb;
    let file = "patterns.ron";
    duplicates(
        c,
        file,
        "pattern",
        kb.patterns.iter().map(|p| p.id.as_str()),
    );
    let regexes: Vec<&str> = kb.patterns.iter().map(|p| p.regex.as_str()).collect();
    precompile(&regexes);
    for p in &kb.patterns {
        let re = match compiled(&p.regex) {
            Ok(re) => Some(re),
            Err(e) => {
                c.err(
                    "bad_regex",
                    file,
                    &p.id,
                    Some("regex"),
                    format!("pattern `{}`: {e}", p.id),
                );
                None
            }
        };
        if p.sets.is_empty() {
            c.err(
                "empty",
                file,
                &p.id,
                Some("sets"),
                format!("pattern `{}` sets no evidence", p.id),
            );
        }
        for (ev, v) in &p.sets {
            match kb.evidence(ev) {
                None => c.err(
                    "unknown_reference",
                    file,
                    &p.id,
                    Some(ev),
                    format!("pattern `{}` sets unknown evidence `{ev}`", p.id),
                ),
                Some(e) if !e.values.contains(v) => c.err(
                    "bad_value",
                    file,
                    &p.id,
                    Some(v),
                    format!(
                        "pattern `{}` sets `{ev}` to `{v}`, which is not one of its values ({})",
                        p.id,
                        e.values.join(", ")
                    ),
                ),
                Some(_) => {}
            }
        }
        if p.examples.is_empty() {
            c.err(
                "empty",
                file,
                &p.id,
                Some("examples"),
                format!("pattern `{}` has no example text to test it with", p.id),
            );
        }
        let Some(re) = re else { continue };
        for ex in &p.examples {
            if !re.is_match(ex.as_bytes()) {
                c.err(
                    "example_fails",
                    file,
                    &p.id,
                    Some(ex.get(..ex.len().min(40)).unwrap_or(ex)),
                    format!("pattern `{}` does not match its example {ex:?}", p.id),
                );
            }
        }
        for ex in &p.counter_examples {
            if re.is_match(ex.as_bytes()) {
                c.err(
                    "counter_example_matches",
                    file,
                    &p.id,
                    Some(ex.get(..ex.len().min(40)).unwrap_or(ex)),
                    format!("pattern `{}` matches its counter-example {ex:?}", p.id),
                );
            }
        }
    }
}
