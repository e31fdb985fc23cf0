//! Lint warnings: weak spots a contributor should look at (certain likelihoods, uninformative questions, unfinished text, missing references).

use super::*;

/// Words that mark unfinished text when they end it.
const PLACEHOLDER_WORDS: &[&str] = &["todo", "tbd", "fixme", "xxx", "lorem ipsum", "placeholder"];

/// Text that ends in a placeholder word or an ellipsis.
pub(super) fn placeholder(text: &str) -> bool {
    let trimmed = text.trim();
    if trimmed.ends_with("...") || trimmed.ends_with('…') {
        return true;
    }
    let t = trimmed
        .trim_end_matches(['.', '!', ':', ')', ']'])
        .to_ascii_lowercase();
    PLACEHOLDER_WORDS.iter().any(|p| {
        t.strip_suffix(p)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with(|c: char| !c.is_alphanumeric()))
    })
}

/// Warnings: weak spots that do not make the KB unusable.
pub(super) fn lint(c: &mut Checker) {
    let kb = c.kb;
    for e in &kb.evidence {
        let id = e.id.as_str();
        let mut extreme = None;
        for (cause, dist) in std::iter::once(("default", &e.default))
            .chain(e.likelihoods.iter().map(|(k, v)| (k.as_str(), v)))
        {
            if let Some((v, p)) = dist.iter().find(|(_, p)| **p == 0.0 || **p == 1.0) {
                extreme.get_or_insert((cause.to_string(), v.clone(), *p));
            }
        }
        if let Some((cause, v, p)) = extreme {
            c.warn(
                "certain_likelihood",
                "evidence.ron",
                id,
                Some(&cause),
                format!("P({id} = {v} | {cause}) is exactly {p}: one answer becomes final and a wrong answer cannot be outvoted"),
                "use a small probability such as 0.01 / 0.99 instead",
            );
        }
        if e.likelihoods.values().all(|d| d == &e.default) {
            c.warn(
                "never_informative",
                "evidence.ron",
                id,
                None,
                format!("`{id}` has the same likelihoods for every cause: its answer never changes the ranking"),
                "give the causes it tells apart their own likelihoods, or remove it",
            );
        }
        let texts = e.question.iter().flat_map(|q| {
            std::iter::once(&q.text)
                .chain(q.labels.values())
                .chain(q.help.iter())
        });
        for t in texts.chain(std::iter::once(&e.title)) {
            if placeholder(t) {
                c.warn(
                    "placeholder",
                    "evidence.ron",
                    id,
                    None,
                    format!("`{id}` has unfinished text: {t:?}"),
                    "finish the text",
                );
                break;
            }
        }
    }
    for cause in &kb.causes {
        if placeholder(&cause.title) || placeholder(&cause.description) {
            c.warn(
                "placeholder",
                "causes.ron",
                &cause.id,
                None,
                format!("cause `{}` has unfinished text", cause.id),
                "finish the text",
            );
        }
    }
    for f in &kb.fixes {
        let steps = f.steps.iter().map(|s| &s.text);
        if std::iter::once(&f.title)
            .chain(steps)
            .any(|t| placeholder(t))
        {
            c.warn(
                "placeholder",
                "fixes.ron",
                &f.id,
                None,
                format!("fix `{}` has unfinished text", f.id),
                "finish the text",
            );
        }
    }
}
