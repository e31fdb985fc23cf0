//! The KB as a graph (Graphviz dot or Mermaid): causes, evidence and fixes
//! as nodes; likelihood links weighted by how strongly the evidence's most
//! telling value points at the cause; `ask_if` edges dashed.
//!
//! The whole KB, or a neighbourhood small enough to read ([`Focus`]): a
//! cause with the evidence that moves it, its fixes and the rules that set
//! that evidence; or an evidence variable with the causes it moves, the
//! questions it gates or is gated by, the rules that set it and the fixes
//! it verifies.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::Engine;

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub enum Focus {
    All,
    Cause(String),
    Evidence(String),
}

/// The nodes drawn (`None`: all of that kind), and whether rules are.
struct Selection {
    causes: Option<BTreeSet<String>>,
    evidence: Option<BTreeSet<String>>,
    fixes: Option<BTreeSet<String>>,
    rules: bool,
}

impl Selection {
    fn has(set: &Option<BTreeSet<String>>, id: &str) -> bool {
        set.as_ref().is_none_or(|s| s.contains(id))
    }
    fn cause(&self, id: &str) -> bool {
        Self::has(&self.causes, id)
    }
    fn evidence(&self, id: &str) -> bool {
        Self::has(&self.evidence, id)
    }
    fn fix(&self, id: &str) -> bool {
        Self::has(&self.fixes, id)
    }
}

/// The rules that set an evidence variable of `evidence`, with the ones they set.
fn setting_rules<'a>(engine: &'a Engine, sel: &Selection) -> Vec<(&'a str, Vec<&'a str>)> {
    if !sel.rules {
        return Vec::new();
    }
    engine
        .kb
        .rules
        .iter()
        .filter_map(|r| {
            let sets: Vec<&str> = r
                .then
                .iter()
                .filter_map(|a| match a {
                    super::model::Action::Set(e, _) if sel.evidence(e) => Some(e.as_str()),
                    _ => None,
                })
                .collect();
            (!sets.is_empty()).then_some((r.id.as_str(), sets))
        })
        .collect()
}

fn select(engine: &Engine, focus: &Focus) -> Result<Selection, String> {
    let m = &engine.model;
    let kb = &engine.kb;
    let set = |v: Vec<&String>| Some(v.into_iter().cloned().collect::<BTreeSet<String>>());
    match focus {
        Focus::All => Ok(Selection {
            causes: None,
            evidence: None,
            fixes: None,
            rules: false,
        }),
        Focus::Cause(id) => {
            let c = m
                .cause_index(id)
                .filter(|&c| c + 1 < m.n_causes())
                .ok_or_else(|| {
                    format!(
                        "unknown cause `{id}` (causes: {})",
                        kb.causes
                            .iter()
                            .map(|c| c.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            let evidence = (0..m.evidence.len())
                .filter(|&e| link_bits(engine, c, e) > 0.05)
                .map(|e| &m.evidence[e].id)
                .collect();
            let fixes = kb
                .fixes
                .iter()
                .filter(|f| f.resolves.contains_key(id))
                .map(|f| &f.id)
                .collect();
            Ok(Selection {
                causes: set(vec![id]),
                evidence: set(evidence),
                fixes: set(fixes),
                rules: true,
            })
        }
        Focus::Evidence(id) => {
            let e = m
                .evidence_index(id)
                .ok_or_else(|| format!("unknown evidence `{id}`"))?;
            let causes = (0..m.n_causes() - 1)
                .filter(|&c| link_bits(engine, c, e) > 0.05)
                .map(|c| &m.causes[c])
                .collect();
            let mut evidence = vec![id];
            for (a, b) in ask_if_edges(engine) {
                if a == *id {
                    evidence.push(&kb.evidence[m.evidence_index(&b).unwrap_or(e)].id);
                } else if b == *id {
                    evidence.push(&kb.evidence[m.evidence_index(&a).unwrap_or(e)].id);
                }
            }
            let fixes = kb
                .fixes
                .iter()
                .filter(|f| f.verify.as_ref().is_some_and(|v| v.expect.contains_key(id)))
                .map(|f| &f.id)
                .collect();
            Ok(Selection {
                causes: set(causes),
                evidence: set(evidence),
                fixes: set(fixes),
                rules: true,
            })
        }
    }
}

/// Strength of the link cause → evidence: the largest likelihood ratio of
/// any value against the evidence's default, in bits (0 = no link).
fn link_bits(engine: &Engine, cause: usize, evidence: usize) -> f64 {
    let e = &engine.model.evidence[evidence];
    let other = engine.model.n_causes() - 1;
    (0..e.arity())
        .map(|v| {
            let (p, d) = (e.p(cause, v), e.p(other, v));
            if p > 0.0 && d > 0.0 {
                (p / d).log2().abs()
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

fn edges(engine: &Engine) -> Vec<(String, String, f64)> {
    let m = &engine.model;
    let mut out = Vec::new();
    for c in 0..m.n_causes() - 1 {
        for e in 0..m.evidence.len() {
            let bits = link_bits(engine, c, e);
            if bits > 0.05 {
                out.push((m.causes[c].clone(), m.evidence[e].id.clone(), bits));
            }
        }
    }
    out
}

fn ask_if_edges(engine: &Engine) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in &engine.kb.evidence {
        if let Some(cond) = &e.ask_if {
            let mut seen: Vec<&str> = Vec::new();
            for f in cond.facts() {
                if engine.kb.evidence(f).is_some() && !seen.contains(&f) {
                    seen.push(f);
                    out.push((f.to_string(), e.id.clone()));
                }
            }
        }
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Graphviz dot of the whole KB.
pub fn dot(engine: &Engine) -> String {
    dot_of(engine, &Focus::All).unwrap_or_default()
}

/// Graphviz dot of the whole KB or of a neighbourhood.
pub fn dot_of(engine: &Engine, focus: &Focus) -> Result<String, String> {
    let sel = select(engine, focus)?;
    let kb = &engine.kb;
    let mut s = String::new();
    let _ = writeln!(s, "digraph \"{}\" {{", esc(&kb.manifest.id));
    let _ = writeln!(
        s,
        "  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];"
    );
    for c in kb.causes.iter().filter(|c| sel.cause(&c.id)) {
        let _ = writeln!(
            s,
            "  \"c:{}\" [label=\"{}\", shape=box, style=\"rounded,filled\", fillcolor=\"#fde2e2\"];",
            esc(&c.id),
            esc(&c.id)
        );
    }
    for e in kb.evidence.iter().filter(|e| sel.evidence(&e.id)) {
        let shape = if e.question.is_some() {
            "ellipse"
        } else {
            "hexagon"
        };
        let _ = writeln!(
            s,
            "  \"e:{}\" [label=\"{}\", shape={shape}, style=filled, fillcolor=\"#e2ecfd\"];",
            esc(&e.id),
            esc(&e.id)
        );
    }
    for f in kb.fixes.iter().filter(|f| sel.fix(&f.id)) {
        let _ = writeln!(
            s,
            "  \"f:{}\" [label=\"{}\\ncost {}\", shape=note, style=filled, fillcolor=\"#e2fde6\"];",
            esc(&f.id),
            esc(&f.id),
            f.cost
        );
    }
    for (r, _) in setting_rules(engine, &sel) {
        let _ = writeln!(
            s,
            "  \"r:{}\" [label=\"rule {}\", shape=cds, style=filled, fillcolor=\"#f3f3f3\"];",
            esc(r),
            esc(r)
        );
    }
    for (c, e, bits) in edges(engine) {
        if !sel.cause(&c) || !sel.evidence(&e) {
            continue;
        }
        let w = (bits / 2.0).clamp(0.3, 4.0);
        let _ = writeln!(
            s,
            "  \"c:{}\" -> \"e:{}\" [penwidth={w:.2}, label=\"{bits:.1}\"];",
            esc(&c),
            esc(&e)
        );
    }
    for (r, sets) in setting_rules(engine, &sel) {
        for e in sets {
            let _ = writeln!(
                s,
                "  \"r:{}\" -> \"e:{}\" [color=\"#777777\", label=\"sets\"];",
                esc(r),
                esc(e)
            );
        }
    }
    for (a, b) in ask_if_edges(engine) {
        if !sel.evidence(&a) || !sel.evidence(&b) {
            continue;
        }
        let _ = writeln!(
            s,
            "  \"e:{}\" -> \"e:{}\" [style=dashed, label=\"ask_if\"];",
            esc(&a),
            esc(&b)
        );
    }
    for f in kb.fixes.iter().filter(|f| sel.fix(&f.id)) {
        for (c, p) in f.resolves.iter().filter(|(c, _)| sel.cause(c)) {
            let _ = writeln!(
                s,
                "  \"f:{}\" -> \"c:{}\" [color=\"#2e8b57\", label=\"{p:.2}\"];",
                esc(&f.id),
                esc(c)
            );
        }
        if let (Focus::Evidence(e), Some(_)) = (focus, &f.verify) {
            let _ = writeln!(
                s,
                "  \"f:{}\" -> \"e:{}\" [style=dotted, label=\"verified by\"];",
                esc(&f.id),
                esc(e)
            );
        }
    }
    s.push_str("}\n");
    Ok(s)
}

fn mermaid_id(prefix: &str, id: &str) -> String {
    let clean: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{prefix}_{clean}")
}

/// Mermaid flowchart of the whole KB.
pub fn mermaid(engine: &Engine) -> String {
    mermaid_of(engine, &Focus::All).unwrap_or_default()
}

/// Mermaid flowchart of the whole KB or of a neighbourhood.
pub fn mermaid_of(engine: &Engine, focus: &Focus) -> Result<String, String> {
    let sel = select(engine, focus)?;
    let kb = &engine.kb;
    let mut s = String::from("flowchart LR\n");
    for c in kb.causes.iter().filter(|c| sel.cause(&c.id)) {
        let _ = writeln!(s, "  {}[\"{}\"]", mermaid_id("c", &c.id), c.id);
    }
    for e in kb.evidence.iter().filter(|e| sel.evidence(&e.id)) {
        let _ = writeln!(s, "  {}([\"{}\"])", mermaid_id("e", &e.id), e.id);
    }
    for f in kb.fixes.iter().filter(|f| sel.fix(&f.id)) {
        let _ = writeln!(s, "  {}[/\"{}\"/]", mermaid_id("f", &f.id), f.id);
    }
    for (r, sets) in setting_rules(engine, &sel) {
        let _ = writeln!(s, "  {}{{{{\"rule {r}\"}}}}", mermaid_id("r", r));
        for e in sets {
            let _ = writeln!(
                s,
                "  {} -->|sets| {}",
                mermaid_id("r", r),
                mermaid_id("e", e)
            );
        }
    }
    for (c, e, bits) in edges(engine) {
        if !sel.cause(&c) || !sel.evidence(&e) {
            continue;
        }
        let arrow = if bits >= 2.0 { "==>" } else { "-->" };
        let _ = writeln!(
            s,
            "  {} {arrow}|{bits:.1}| {}",
            mermaid_id("c", &c),
            mermaid_id("e", &e)
        );
    }
    for (a, b) in ask_if_edges(engine) {
        if !sel.evidence(&a) || !sel.evidence(&b) {
            continue;
        }
        let _ = writeln!(
            s,
            "  {} -.->|ask_if| {}",
            mermaid_id("e", &a),
            mermaid_id("e", &b)
        );
    }
    for f in kb.fixes.iter().filter(|f| sel.fix(&f.id)) {
        for (c, p) in f.resolves.iter().filter(|(c, _)| sel.cause(c)) {
            let _ = writeln!(
                s,
                "  {} -->|{p:.2}| {}",
                mermaid_id("f", &f.id),
                mermaid_id("c", c)
            );
        }
        if let Focus::Evidence(e) = focus {
            let _ = writeln!(
                s,
                "  {} -.->|verified by| {}",
                mermaid_id("f", &f.id),
                mermaid_id("e", e)
            );
        }
    }
    Ok(s)
}
