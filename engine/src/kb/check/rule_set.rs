//! Rules: conditions over known facts, actions on known evidence.

use super::*;

pub(super) fn check_rules(c: &mut Checker, facts: &HashSet<String>) {
    let kb = c.kb;
    duplicates(
        c,
        "rules.ron",
        "rule",
        kb.rules.iter().map(|x| x.id.as_str()),
    );
    let file = "rules.ron";
    for r in &kb.rules {
        check_condition(c, file, &r.id, &r.when, facts);
        if r.then.is_empty() {
            c.err(
                "empty",
                file,
                &r.id,
                None,
                format!("rule `{}` does nothing", r.id),
            );
        }
        for a in &r.then {
            if let Action::Set(ev, val) = a {
                match kb.evidence(ev) {
                    None => c.err(
                        "unknown_evidence",
                        file,
                        &r.id,
                        Some(ev),
                        format!("rule `{}` sets unknown evidence `{ev}`", r.id),
                    ),
                    Some(e) if !e.values.contains(val) => c.err(
                        "unknown_value",
                        file,
                        &r.id,
                        Some(val),
                        format!(
                            "rule `{}` sets `{ev}` to `{val}`, which is not one of its values ({})",
                            r.id,
                            e.values.join(", ")
                        ),
                    ),
                    _ => {}
                }
            }
        }
    }
    // Static conflicts: identical conditions setting different values.
    for (i, a) in kb.rules.iter().enumerate() {
        for b in &kb.rules[i + 1..] {
            if a.when != b.when {
                continue;
            }
            for x in &a.then {
                for y in &b.then {
                    if let (Action::Set(e1, v1), Action::Set(e2, v2)) = (x, y)
                        && e1 == e2
                        && v1 != v2
                    {
                        c.err("rule_conflict", file, &b.id, None, format!("rules `{}` and `{}` have the same condition but set `{e1}` to `{v1}` and `{v2}`", a.id, b.id));
                    }
                }
            }
        }
    }
    // Cycles: rule A -> rule B when B reads something A sets or derives.
    let mut g = DiGraph::<usize, ()>::new();
    let nodes: Vec<_> = (0..kb.rules.len()).map(|i| g.add_node(i)).collect();
    for (i, a) in kb.rules.iter().enumerate() {
        let writes: HashSet<&str> = a
            .then
            .iter()
            .map(|x| match x {
                Action::Set(e, _) => e.as_str(),
                Action::Derive(f, _) => f.as_str(),
            })
            .collect();
        for (j, b) in kb.rules.iter().enumerate() {
            if b.when.facts().iter().any(|f| writes.contains(f)) {
                g.add_edge(nodes[i], nodes[j], ());
            }
        }
    }
    for scc in tarjan_scc(&g) {
        let cyclic = scc.len() > 1 || g.contains_edge(scc[0], scc[0]);
        if cyclic {
            let mut ids: Vec<&str> = scc.iter().map(|n| kb.rules[g[*n]].id.as_str()).collect();
            ids.sort_unstable();
            c.err(
                "rule_cycle",
                file,
                ids[0],
                None,
                format!("rules form a cycle: {}", ids.join(" -> ")),
            );
        }
    }
}
