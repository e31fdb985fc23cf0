//! Whole-KB structure: `ask_if` cycles, evidence nothing can set, causes the evidence cannot tell apart.

use super::*;

pub(super) fn check_ask_if_graph(c: &mut Checker) {
    let kb = c.kb;
    let index: HashMap<&str, usize> = kb
        .evidence
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), i))
        .collect();
    let mut g = DiGraph::<usize, ()>::new();
    let nodes: Vec<_> = (0..kb.evidence.len()).map(|i| g.add_node(i)).collect();
    for (i, e) in kb.evidence.iter().enumerate() {
        if let Some(cond) = &e.ask_if {
            for f in cond.facts() {
                if let Some(&j) = index.get(f)
                    && j != i
                {
                    g.add_edge(nodes[j], nodes[i], ());
                }
            }
        }
    }
    for scc in tarjan_scc(&g) {
        if scc.len() > 1 {
            let mut ids: Vec<&str> = scc.iter().map(|n| kb.evidence[g[*n]].id.as_str()).collect();
            ids.sort_unstable();
            c.err(
                "ask_if_cycle",
                "evidence.ron",
                ids[0],
                Some("ask_if"),
                format!("ask_if conditions form a cycle: {}", ids.join(" -> ")),
            );
        }
    }
}

pub(super) fn check_settable(c: &mut Checker) {
    let kb = c.kb;
    let set_by_rule: HashSet<&str> = kb
        .rules
        .iter()
        .flat_map(|r| r.then.iter())
        .filter_map(|a| match a {
            Action::Set(e, _) => Some(e.as_str()),
            Action::Derive(..) => None,
        })
        .collect();
    for e in &kb.evidence {
        if e.question.is_none() && !set_by_rule.contains(e.id.as_str()) {
            c.at(
                Severity::Error,
                "unsettable",
                Place("evidence.ron", &e.id, None),
                format!(
                    "nothing can set `{}`: it has no question and no rule sets it",
                    e.id
                ),
                Some(
                    "add a `question`, or a rule in rules.ron that sets it from collector facts"
                        .into(),
                ),
            );
        }
    }
    for cause in &kb.causes {
        if !kb
            .fixes
            .iter()
            .any(|f| f.resolves.get(&cause.id).is_some_and(|p| *p > 0.0))
        {
            c.at(
                Severity::Error,
                "no_fix",
                Place("causes.ron", &cause.id, None),
                format!("no fix resolves `{}`", cause.id),
                Some("add a fix in fixes.ron whose `resolves` names this cause".into()),
            );
        }
    }
}

pub(super) fn check_distinguishable(c: &mut Checker) {
    let kb = c.kb;
    if kb.evidence.is_empty() {
        return;
    }
    // The resolved likelihood column of a cause, over all evidence.
    let column = |cause: &str| -> Vec<u64> {
        kb.evidence
            .iter()
            .flat_map(|e| {
                let dist = e.likelihoods.get(cause).unwrap_or(&e.default);
                e.values
                    .iter()
                    .map(move |v| dist.get(v).copied().unwrap_or(0.0).to_bits())
            })
            .collect()
    };
    let mut seen: HashMap<Vec<u64>, &str> = HashMap::new();
    seen.insert(column(OTHER), OTHER);
    let mut ids = HashSet::new();
    for cause in kb.causes.iter().filter(|c| ids.insert(c.id.as_str())) {
        let col = column(&cause.id);
        if let Some(first) = seen.get(&col) {
            let msg = if *first == OTHER {
                format!(
                    "no evidence tells `{}` apart from `other`: every likelihood is the default",
                    cause.id
                )
            } else {
                format!(
                    "no evidence tells `{}` apart from `{first}`: their likelihoods are identical",
                    cause.id
                )
            };
            c.at(
                Severity::Error,
                "indistinguishable",
                Place("causes.ron", &cause.id, None),
                msg,
                Some(
                    "give one of them a different likelihood for some evidence in evidence.ron"
                        .into(),
                ),
            );
        } else {
            seen.insert(col, &cause.id);
        }
    }
}
