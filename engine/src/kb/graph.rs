//! The KB as a graph (Graphviz dot or Mermaid): causes, evidence and fixes
//! as nodes; likelihood links weighted by how strongly the evidence's most
//! telling value points at the cause; `ask_if` edges dashed.

use std::fmt::Write as _;

use crate::Engine;

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

/// Graphviz dot.
pub fn dot(engine: &Engine) -> String {
    let kb = &engine.kb;
    let mut s = String::new();
    let _ = writeln!(s, "digraph \"{}\" {{", esc(&kb.manifest.id));
    let _ = writeln!(
        s,
        "  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];"
    );
    for c in &kb.causes {
        let _ = writeln!(
            s,
            "  \"c:{}\" [label=\"{}\", shape=box, style=\"rounded,filled\", fillcolor=\"#fde2e2\"];",
            esc(&c.id),
            esc(&c.id)
        );
    }
    for e in &kb.evidence {
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
    for f in &kb.fixes {
        let _ = writeln!(
            s,
            "  \"f:{}\" [label=\"{}\\ncost {}\", shape=note, style=filled, fillcolor=\"#e2fde6\"];",
            esc(&f.id),
            esc(&f.id),
            f.cost
        );
    }
    for (c, e, bits) in edges(engine) {
        let w = (bits / 2.0).clamp(0.3, 4.0);
        let _ = writeln!(
            s,
            "  \"c:{}\" -> \"e:{}\" [penwidth={w:.2}, label=\"{bits:.1}\"];",
            esc(&c),
            esc(&e)
        );
    }
    for (a, b) in ask_if_edges(engine) {
        let _ = writeln!(
            s,
            "  \"e:{}\" -> \"e:{}\" [style=dashed, label=\"ask_if\"];",
            esc(&a),
            esc(&b)
        );
    }
    for f in &kb.fixes {
        for (c, p) in &f.resolves {
            let _ = writeln!(
                s,
                "  \"f:{}\" -> \"c:{}\" [color=\"#2e8b57\", label=\"{p:.2}\"];",
                esc(&f.id),
                esc(c)
            );
        }
    }
    s.push_str("}\n");
    s
}

fn mermaid_id(prefix: &str, id: &str) -> String {
    let clean: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{prefix}_{clean}")
}

/// Mermaid flowchart.
pub fn mermaid(engine: &Engine) -> String {
    let kb = &engine.kb;
    let mut s = String::from("flowchart LR\n");
    for c in &kb.causes {
        let _ = writeln!(s, "  {}[\"{}\"]", mermaid_id("c", &c.id), c.id);
    }
    for e in &kb.evidence {
        let _ = writeln!(s, "  {}([\"{}\"])", mermaid_id("e", &e.id), e.id);
    }
    for f in &kb.fixes {
        let _ = writeln!(s, "  {}[/\"{}\"/]", mermaid_id("f", &f.id), f.id);
    }
    for (c, e, bits) in edges(engine) {
        let arrow = if bits >= 2.0 { "==>" } else { "-->" };
        let _ = writeln!(
            s,
            "  {} {arrow}|{bits:.1}| {}",
            mermaid_id("c", &c),
            mermaid_id("e", &e)
        );
    }
    for (a, b) in ask_if_edges(engine) {
        let _ = writeln!(
            s,
            "  {} -.->|ask_if| {}",
            mermaid_id("e", &a),
            mermaid_id("e", &b)
        );
    }
    for f in &kb.fixes {
        for (c, p) in &f.resolves {
            let _ = writeln!(
                s,
                "  {} -->|{p:.2}| {}",
                mermaid_id("f", &f.id),
                mermaid_id("c", c)
            );
        }
    }
    s
}
