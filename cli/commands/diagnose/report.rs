//! Session reports: Markdown ready to paste into a ticket (the chart of
//! how the ranking moved in an SVG file beside it), one self-contained HTML
//! page (the chart inline), or JSON (the chart's data and SVG).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rootcause_engine::Engine;
use rootcause_engine::picture::chart;
use rootcause_engine::protocol;
use rootcause_engine::session::{State, UNKNOWN};
use serde_json::{Value, json};

use super::html;

/// The chart of the top causes after each step, as SVG.
pub fn chart_svg(engine: &Engine, state: &State) -> String {
    chart::of_session(engine, state).1
}

/// A report and the files it is made of.
pub struct Rendered {
    pub text: String,
    /// A file to write beside the report (the Markdown report's chart).
    pub beside: Option<(PathBuf, String)>,
}

/// The report in `format` (`md`, `html` or `json`), to be written to `file`
/// or printed (`None`).
pub fn render(
    engine: &Engine,
    state: &State,
    format: &str,
    file: Option<&Path>,
) -> Option<Rendered> {
    Some(match format {
        "md" => {
            let chart_file = file.map(|f| f.with_extension("chart.svg"));
            let image = match &chart_file {
                Some(c) => format!(
                    "![The top causes after each step]({})",
                    c.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
                None => "(Write the report to a file, `:report md FILE` or `--report-out FILE`, to get the chart beside it.)".into(),
            };
            Rendered {
                text: markdown(engine, state).replace("<!-- chart -->", &image),
                beside: chart_file.map(|c| (c, chart_svg(engine, state))),
            }
        }
        "html" => Rendered {
            text: html::page(
                &format!("Troubleshooting report: {}", engine.kb.manifest.title),
                &markdown(engine, state),
                &chart_svg(engine, state),
            ),
            beside: None,
        },
        "json" => Rendered {
            text: serde_json::to_string_pretty(&json(engine, state)).unwrap_or_default() + "\n",
            beside: None,
        },
        _ => return None,
    })
}

fn pct(p: f64) -> String {
    format!("{:.1}%", p * 100.0)
}

fn cause_title<'a>(engine: &'a Engine, id: &'a str) -> &'a str {
    engine
        .kb
        .cause(id)
        .map_or("None of the known causes", |c| c.title.as_str())
}

/// The answer's label, as the user saw it.
pub fn answer_label(engine: &Engine, evidence: &str, value: &str) -> String {
    if value == UNKNOWN {
        return "unknown".into();
    }
    engine
        .kb
        .evidence(evidence)
        .and_then(|e| e.question.as_ref())
        .and_then(|q| q.labels.get(value))
        .map_or_else(|| value.to_string(), |l| format!("{l} ({value})"))
}

fn evidence_text(engine: &Engine, id: &str) -> String {
    match engine.kb.evidence(id) {
        Some(e) => match &e.question {
            Some(q) => q.text.clone(),
            None if !e.title.is_empty() => e.title.clone(),
            None => id.to_string(),
        },
        None => id.to_string(),
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown report.
pub fn markdown(engine: &Engine, state: &State) -> String {
    let kb = &engine.kb;
    let a = state.assess(engine);
    let m = &engine.model;
    let mut s = String::new();
    let _ = writeln!(s, "# Troubleshooting report: {}\n", kb.manifest.title);
    if !kb.manifest.problem.is_empty() {
        let _ = writeln!(s, "**Problem:** {}\n", kb.manifest.problem);
    }
    let _ = writeln!(
        s,
        "Knowledge base `{}` {}.\n",
        kb.manifest.id, kb.manifest.version
    );

    let top = a.ranking[0];
    let status = match a.done {
        Some(rootcause_engine::session::Done::Verified) => "fixed and verified".to_string(),
        Some(_) => "diagnosis complete".to_string(),
        None => "diagnosis in progress".to_string(),
    };
    let _ = writeln!(
        s,
        "**Most likely cause:** {} (`{}`), {} ({status}).\n",
        cause_title(engine, &m.causes[top]),
        m.causes[top],
        pct(a.posterior[top])
    );
    if let Some(f) = &state.verified {
        let _ = writeln!(s, "**Fixed by:** `{f}`, verified.\n");
    }

    let _ = writeln!(s, "## Answers\n");
    if state.observations.is_empty() {
        let _ = writeln!(s, "No answers yet.\n");
    } else {
        let _ = writeln!(s, "| Question | Answer | Source |\n|---|---|---|");
        for o in &state.observations {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                cell(&evidence_text(engine, &o.evidence)),
                cell(&answer_label(engine, &o.evidence, &o.value)),
                cell(&o.source.to_string())
            );
        }
        s.push('\n');
    }
    if !state.fixes.is_empty() {
        let _ = writeln!(s, "## Fixes tried\n");
        for r in &state.fixes {
            let title = kb.fix(&r.fix).map_or("", |f| f.title.as_str());
            let _ = writeln!(
                s,
                "- {title} (`{}`): {}",
                r.fix,
                if r.worked { "worked" } else { "did not work" }
            );
        }
        s.push('\n');
    }

    let _ = writeln!(
        s,
        "## Ranking\n\n| # | Cause | Probability |\n|---|---|---|"
    );
    for (i, &c) in a.ranking.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {} | {} (`{}`) | {} |",
            i + 1,
            cell(cause_title(engine, &m.causes[c])),
            m.causes[c],
            pct(a.posterior[c])
        );
    }
    s.push('\n');

    if let Ok(x) = engine.explain_cause(state, &m.causes[top])
        && !x.contributions.is_empty()
    {
        let _ = writeln!(
            s,
            "### Why `{}`\n\nEach finding's weight of evidence in bits (positive supports the cause; the sum, {:+.2} bits, is the change in log2 odds from the prior {} to {}).\n",
            x.cause,
            x.total_bits,
            pct(x.prior),
            pct(x.probability)
        );
        let _ = writeln!(
            s,
            "| Finding | Value | Bits | Probability after |\n|---|---|---|---|"
        );
        for c in &x.contributions {
            let _ = writeln!(
                s,
                "| {} | {} | {:+.2} | {} |",
                cell(&c.finding),
                cell(&c.value),
                c.bits,
                pct(c.p_after)
            );
        }
        s.push('\n');
    }

    let _ = writeln!(s, "## Fix plan\n");
    if a.plan.is_empty() {
        let _ = writeln!(s, "No untried fix is left.\n");
    }
    for (i, p) in a.plan.iter().enumerate() {
        let f = &kb.fixes[p.fix];
        let _ = writeln!(
            s,
            "### {}. {} (`{}`)\n\nChance of success {}, effort {}.\n",
            i + 1,
            f.title,
            f.id,
            pct(p.p_works),
            f.cost
        );
        if let Some(risk) = &f.risk {
            let _ = writeln!(s, "> **Risk:** {risk}\n");
        }
        for (k, step) in f.steps.iter().enumerate() {
            let _ = writeln!(s, "{}. {}", k + 1, step.text);
            for c in &step.commands {
                let _ = writeln!(
                    s,
                    "\n   ```\n   {}\n   ```\n   ({})\n",
                    c.text().replace('\n', "\n   "),
                    c.kind()
                );
            }
        }
        if let Some(v) = &f.verify {
            let _ = writeln!(s, "\n**Verify:** {}", v.text);
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Next step\n\n{}\n", a.advice.reason);
    trace(&mut s, state);
    s
}

/// The session's steps and how the top of the ranking moved with each.
fn trace(s: &mut String, state: &State) {
    if state.trace.is_empty() {
        return;
    }
    let _ = writeln!(s, "## How the ranking moved\n\n<!-- chart -->\n");
    if state.trace_dropped > 0 {
        let _ = writeln!(s, "({} earlier steps not kept.)\n", state.trace_dropped);
    }
    let _ = writeln!(
        s,
        "| # | step | by | top before | top after |\n|---|---|---|---|---|"
    );
    let top = |v: &[(String, f64)]| {
        v.first()
            .map_or(String::new(), |(c, p)| format!("{c} {}", pct(*p)))
    };
    for (i, t) in state.trace.iter().enumerate() {
        let what = match &t.value {
            Some(v) => format!("{} {} = {}", t.action, t.target, v),
            None => format!("{} {}", t.action, t.target),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            state.trace_dropped + i + 1,
            cell(&what),
            cell(&t.source),
            top(&t.before),
            top(&t.after)
        );
    }
    s.push('\n');
}

/// The JSON report: the protocol's response plus explanations and fix steps.
pub fn json(engine: &Engine, state: &State) -> Value {
    let mut body = protocol::response(engine, state);
    body.remove("ok");
    let a = state.assess(engine);
    let top = engine.model.causes[a.ranking[0]].clone();
    if let Ok(x) = engine.explain_cause(state, &top) {
        body.insert(
            "explanation".into(),
            serde_json::to_value(x).unwrap_or(Value::Null),
        );
    }
    body.insert(
        "kb".into(),
        json!({"id": engine.kb.manifest.id, "title": engine.kb.manifest.title,
               "version": engine.kb.manifest.version, "problem": engine.kb.manifest.problem}),
    );
    let steps: Vec<Value> = a
        .plan
        .iter()
        .map(|p| {
            let f = &engine.kb.fixes[p.fix];
            json!({"fix": f.id, "steps": f.steps, "verify": f.verify})
        })
        .collect();
    body.insert("fix_steps".into(), Value::Array(steps));
    let (history, svg) = chart::of_session(engine, state);
    body.insert(
        "history".into(),
        serde_json::to_value(history).unwrap_or(Value::Null),
    );
    body.insert("chart_svg".into(), Value::String(svg));
    Value::Object(body)
}
