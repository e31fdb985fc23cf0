//! Evidence variables: values, questions, likelihoods, `ask_if` conditions.

use super::*;

/// Facts that collectors produce or rules derive.
pub(super) fn known_facts(kb: &Kb) -> HashSet<String> {
    let mut facts: HashSet<String> = kb
        .collectors
        .iter()
        .flat_map(|c| c.produces.iter().cloned())
        .collect();
    for r in &kb.rules {
        for a in &r.then {
            if let Action::Derive(f, _) = a {
                facts.insert(f.clone());
            }
        }
    }
    facts
}

/// Check the names, values and regexes a condition uses.
pub(super) fn check_condition(
    c: &mut Checker,
    file: &str,
    owner: &str,
    cond: &Condition,
    facts: &HashSet<String>,
) {
    let kb = c.kb;
    let values_of = |id: &str| kb.evidence(id).map(|e| e.values.clone());
    let check_value = |c: &mut Checker, f: &str, v: &Value| {
        if let Some(values) = values_of(f) {
            let t = v.as_text();
            if !values.contains(&t) {
                c.err(
                    "unknown_value",
                    file,
                    owner,
                    Some(f),
                    format!(
                        "`{owner}` compares `{f}` with `{t}`, which is not one of its values ({})",
                        values.join(", ")
                    ),
                );
            }
        }
    };
    match cond {
        Condition::Eq(f, v) | Condition::Ne(f, v) => check_value(c, f, v),
        Condition::In(f, vs) => vs.iter().for_each(|v| check_value(c, f, v)),
        Condition::Matches(f, p) => {
            if let Err(e) = rules::regex(p) {
                c.err(
                    "regex",
                    file,
                    owner,
                    Some(f),
                    format!("bad regex for `{f}`: {e}"),
                );
            }
        }
        Condition::All(cs) | Condition::Any(cs) => cs
            .iter()
            .for_each(|x| check_condition(c, file, owner, x, facts)),
        Condition::Not(x) => check_condition(c, file, owner, x, facts),
        Condition::Lt(_, Bound::Fact(g))
        | Condition::Le(_, Bound::Fact(g))
        | Condition::Gt(_, Bound::Fact(g))
        | Condition::Ge(_, Bound::Fact(g)) => unknown_reference(c, file, owner, g, facts),
        _ => {}
    }
    if let Some(f) = cond.leaf_fact() {
        unknown_reference(c, file, owner, f, facts);
    }
}

fn unknown_reference(c: &mut Checker, file: &str, owner: &str, f: &str, facts: &HashSet<String>) {
    if c.kb.evidence(f).is_none() && !facts.contains(f) {
        c.err("unknown_reference", file, owner, Some(f), format!("`{owner}` reads `{f}`, which is neither an evidence id nor a fact any collector or rule produces"));
    }
}

pub(super) fn check_evidence(c: &mut Checker, facts: &HashSet<String>) {
    let kb = c.kb;
    duplicates(
        c,
        "evidence.ron",
        "evidence",
        kb.evidence.iter().map(|x| x.id.as_str()),
    );
    if kb.evidence.is_empty() {
        c.err(
            "empty",
            "evidence.ron",
            "",
            None,
            "the KB has no evidence variables".into(),
        );
    }
    let file = "evidence.ron";
    for e in &kb.evidence {
        let id = e.id.as_str();
        if e.values.len() < 2 {
            c.err(
                "values",
                file,
                id,
                Some("values"),
                format!("`{id}` needs at least two values"),
            );
        }
        let mut seen = HashSet::new();
        for v in &e.values {
            if !seen.insert(v) {
                c.err(
                    "duplicate_value",
                    file,
                    id,
                    Some(v),
                    format!("`{id}` lists value `{v}` twice"),
                );
            }
            if RESERVED_VALUES.contains(&v.as_str()) {
                c.err(
                    "reserved_value",
                    file,
                    id,
                    Some(v),
                    format!("`{v}` is reserved: every question already accepts `unknown`"),
                );
            }
        }
        if !(e.cost > 0.0 && e.cost.is_finite()) {
            c.err(
                "range",
                file,
                id,
                None,
                format!("cost of `{id}` is {}; it must be positive", e.cost),
            );
        }
        if let Some(q) = &e.question
            && !(0.0..=1.0).contains(&q.answerability)
        {
            c.err(
                "range",
                file,
                id,
                Some("answerability"),
                format!(
                    "answerability of `{id}` is {}; it must be between 0 and 1",
                    q.answerability
                ),
            );
        }
        if let Some(q) = &e.question {
            for v in &e.values {
                if !q.labels.contains_key(v) {
                    c.err(
                        "missing_label",
                        file,
                        id,
                        Some(&q.text),
                        format!("question `{id}` has no label for value `{v}`"),
                    );
                }
            }
            for l in q.labels.keys() {
                if !e.values.contains(l) {
                    c.err(
                        "unknown_value",
                        file,
                        id,
                        Some(l),
                        format!("question `{id}` labels `{l}`, which is not one of its values"),
                    );
                }
            }
            if q.text.trim().is_empty() {
                c.err(
                    "empty",
                    file,
                    id,
                    None,
                    format!("question `{id}` has no text"),
                );
            }
        }
        check_distribution(
            c,
            file,
            id,
            "default",
            &format!("default of `{id}`"),
            &e.default,
            &e.values,
        );
        for (cause, dist) in &e.likelihoods {
            if kb.cause(cause).is_none() && cause != OTHER {
                c.err(
                    "unknown_cause",
                    file,
                    id,
                    Some(cause),
                    format!("`{id}` gives likelihoods for unknown cause `{cause}`"),
                );
                continue;
            }
            check_distribution(
                c,
                file,
                id,
                cause,
                &format!("P({id} | {cause})"),
                dist,
                &e.values,
            );
        }
        if let Some(cond) = &e.ask_if {
            check_condition(c, file, id, cond, facts);
            if cond.facts().contains(&id) {
                c.err(
                    "ask_if_cycle",
                    file,
                    id,
                    Some("ask_if"),
                    format!("`{id}`'s ask_if reads `{id}` itself"),
                );
            } else if !satisfiable(kb, cond) {
                c.err(
                    "unreachable",
                    file,
                    id,
                    Some("ask_if"),
                    format!("the ask_if of `{id}` can never hold, so it is never asked"),
                );
            }
        }
    }
}

/// Can the condition hold for some answers to the evidence it reads?
/// (Facts are unconstrained: a condition on facts alone is satisfiable.)
pub(super) fn satisfiable(kb: &Kb, cond: &Condition) -> bool {
    let mut names: Vec<&str> = cond.facts();
    names.sort_unstable();
    names.dedup();
    // each evidence: its values or absent; facts: treated as always possible
    let domains: Vec<(&str, Vec<Option<String>>)> = names
        .iter()
        .filter_map(|n| {
            kb.evidence(n).map(|e| {
                (
                    *n,
                    e.values.iter().cloned().map(Some).chain([None]).collect(),
                )
            })
        })
        .collect();
    if domains.len() < names.len() {
        return true;
    }
    let total: usize = domains.iter().map(|(_, d)| d.len()).product();
    if total > 1 << 16 {
        return true; // too many to enumerate: assume it can hold
    }
    (0..total).any(|mut k| {
        let mut assign: HashMap<&str, Option<String>> = HashMap::new();
        for (n, d) in &domains {
            assign.insert(n, d[k % d.len()].clone());
            k /= d.len();
        }
        rules::eval(cond, &|f| assign.get(f).cloned().flatten().map(Value::Text))
    })
}
