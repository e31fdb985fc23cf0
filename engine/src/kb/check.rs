//! Static validation of a parsed KB: every problem at once, each located.
//!
//! Errors make a KB unusable (duplicate ids, unknown references, bad
//! probabilities, cycles, unreachable questions, indistinguishable causes…);
//! warnings point at weak spots a contributor should look at (lints).

use std::collections::{BTreeMap, HashMap, HashSet};

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;

use crate::kb::diag::{Diagnostic, Severity, SourceFile};
use crate::infer::OTHER;
use crate::kb::load::Kb;
use crate::kb::model::{Action, CollectorKind, Condition, Parser, Value};
use crate::kb::rules;

/// Tolerance for a distribution's sum.
pub const SUM_TOLERANCE: f64 = 1e-9;
/// Values reserved by the engine and protocol.
pub const RESERVED_VALUES: &[&str] = &["unknown"];

/// Where to report: the file, the entity id, and optionally a needle inside it.
struct Place<'p>(&'p str, &'p str, Option<&'p str>);

struct Checker<'a> {
    kb: &'a Kb,
    out: Vec<Diagnostic>,
    empty: SourceFile,
}

impl<'a> Checker<'a> {
    fn file(&self, name: &str) -> &SourceFile {
        self.kb.source.file(name).unwrap_or(&self.empty)
    }

    /// Report at the definition of `id` in `file`, or at `needle` inside it.
    fn at(
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

    fn err(&mut self, code: &'static str, file: &str, id: &str, needle: Option<&str>, msg: String) {
        self.at(Severity::Error, code, Place(file, id, needle), msg, None);
    }

    fn warn(
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
    check_collectors(&mut c);
    check_codes(&mut c);
    check_cases(&mut c);
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

fn check_manifest(c: &mut Checker) {
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
}

/// Report duplicates among `ids` (second and later definitions).
fn duplicates<'b>(c: &mut Checker, file: &str, what: &str, ids: impl IntoIterator<Item = &'b str>) {
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

fn check_causes(c: &mut Checker) {
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
fn check_distribution(
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

/// Facts that collectors produce or rules derive.
fn known_facts(kb: &Kb) -> HashSet<String> {
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
fn check_condition(
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
        _ => {}
    }
    if let Some(f) = cond.leaf_fact()
        && kb.evidence(f).is_none()
        && !facts.contains(f)
    {
        c.err("unknown_reference", file, owner, Some(f), format!("`{owner}` reads `{f}`, which is neither an evidence id nor a fact any collector or rule produces"));
    }
}

fn check_evidence(c: &mut Checker, facts: &HashSet<String>) {
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
fn satisfiable(kb: &Kb, cond: &Condition) -> bool {
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

fn check_rules(c: &mut Checker, facts: &HashSet<String>) {
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

fn check_fixes(c: &mut Checker) {
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

fn check_collectors(c: &mut Checker) {
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

fn check_codes(c: &mut Checker) {
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

fn check_cases(c: &mut Checker) {
    let kb = c.kb;
    let mut names = HashSet::new();
    for (file, case) in &kb.cases {
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

fn check_ask_if_graph(c: &mut Checker) {
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

fn check_settable(c: &mut Checker) {
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

fn check_distinguishable(c: &mut Checker) {
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

/// Words that mark unfinished text when they end it.
const PLACEHOLDER_WORDS: &[&str] = &["todo", "tbd", "fixme", "xxx", "lorem ipsum", "placeholder"];

/// Text that ends in a placeholder word or an ellipsis.
fn placeholder(text: &str) -> bool {
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
fn lint(c: &mut Checker) {
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
