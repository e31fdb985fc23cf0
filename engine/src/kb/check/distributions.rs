//! Causes and their priors; probability distributions.

use super::*;

pub(super) fn check_causes(c: &mut Checker) {
    let kb = c.kb;
    duplicates(
        c,
        "causes.ron",
        "cause",
        kb.causes.iter().map(|x| x.id.as_str()),
    );
    if kb.causes.is_empty() {
        c.err(
            "empty",
            "causes.ron",
            "",
            None,
            "the KB has no causes".into(),
        );
    }
    for cause in &kb.causes {
        if cause.id == OTHER {
            c.err(
                "reserved_id",
                "causes.ron",
                &cause.id,
                None,
                "`other` is reserved for the leak cause (set `leak` in kb.ron)".into(),
            );
        }
        if !(cause.prior > 0.0 && cause.prior.is_finite()) {
            c.err(
                "probability",
                "causes.ron",
                &cause.id,
                Some("prior"),
                format!(
                    "prior of `{}` is {}; it must be a positive number",
                    cause.id, cause.prior
                ),
            );
        }
        if cause.references.is_empty() {
            c.warn(
                "no_references",
                "causes.ron",
                &cause.id,
                None,
                format!("cause `{}` cites no source", cause.id),
                "add `references: [\"S8\", ...]` naming where the cause is documented",
            );
        }
        for r in &cause.references {
            if !r.contains("://") && !kb.manifest.sources.contains_key(r) {
                c.err(
                    "unknown_source",
                    "causes.ron",
                    &cause.id,
                    Some(r),
                    format!("reference `{r}` is neither a URL nor a source key of kb.ron"),
                );
            }
        }
    }
}

/// Check one distribution over `values`; `owner`/`needle` locate it.
pub(super) fn check_distribution(
    c: &mut Checker,
    file: &str,
    owner: &str,
    needle: &str,
    what: &str,
    dist: &BTreeMap<String, f64>,
    values: &[String],
) {
    for (v, p) in dist {
        if !values.contains(v) {
            c.err(
                "unknown_value",
                file,
                owner,
                Some(v),
                format!(
                    "{what}: `{v}` is not a value of `{owner}` (values: {})",
                    values.join(", ")
                ),
            );
        }
        if !(0.0..=1.0).contains(p) || !p.is_finite() {
            c.err(
                "probability",
                file,
                owner,
                Some(v),
                format!("{what}: P({v}) = {p} is outside [0, 1]"),
            );
        }
    }
    let missing: Vec<&str> = values
        .iter()
        .filter(|v| !dist.contains_key(*v))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        c.err(
            "missing_value",
            file,
            owner,
            Some(needle),
            format!("{what} gives no probability for {}", missing.join(", ")),
        );
    }
    let sum: f64 = dist.values().sum();
    if (sum - 1.0).abs() > SUM_TOLERANCE {
        c.err(
            "sum",
            file,
            owner,
            Some(needle),
            format!("{what} sums to {sum}, not 1"),
        );
    }
}
