//! `rootcause kb check|test|stats|graph|heatmap|export`: tools for KB
//! contributors.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use rootcause_engine::eval::{cases, stats};
use rootcause_engine::kb::{check, export, graph, load};
use rootcause_engine::picture::heatmap;
use rootcause_engine::{Diagnostic, Engine, KbSource, embedded_source};

use crate::shared::{atomic, engine, render};

fn source(dir: Option<&Path>) -> Result<KbSource, Box<Diagnostic>> {
    match dir {
        Some(d) => KbSource::from_dir(d),
        None => Ok(embedded_source()),
    }
}

/// `kb check`: exit 0 when valid, 1 when not; every problem is listed.
pub fn check_cmd(dir: Option<&Path>, deny_warnings: bool, json: bool) -> ExitCode {
    let src = match source(dir) {
        Ok(s) => s,
        Err(d) => {
            engine::print_diags(std::slice::from_ref(&d), json);
            if !json {
                println!("{}: invalid: 1 error(s), 0 warning(s)", d.file);
            }
            return ExitCode::from(1);
        }
    };
    let root = src.root.clone();
    let (diags, kb) = match load::parse(src) {
        Ok(kb) => (check::check(&kb), Some(kb)),
        Err(diags) => (diags, None),
    };
    engine::print_diags(&diags, json);
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let failed = errors > 0 || (deny_warnings && warnings > 0);
    if !json {
        match (&kb, failed) {
            (Some(kb), false) => println!(
                "{root}: ok: {} causes, {} evidence, {} rules, {} fixes, {} collectors, {} codes, {} cases, {} findings; {warnings} warning(s)",
                kb.causes.len(),
                kb.evidence.len(),
                kb.rules.len(),
                kb.fixes.len(),
                kb.collectors.len(),
                kb.codes.disconnect.len() + kb.codes.extended.len(),
                kb.cases.len(),
                kb.findings.len(),
            ),
            _ => println!("{root}: invalid: {errors} error(s), {warnings} warning(s)"),
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// `kb export --format json`.
pub fn export_cmd(engine: &Engine) -> Result<ExitCode> {
    println!(
        "{}",
        serde_json::to_string_pretty(&export::model_json(engine))?
    );
    Ok(ExitCode::SUCCESS)
}

/// `kb graph --format dot|mermaid`.
pub fn graph_cmd(
    engine: &Engine,
    format: &str,
    cause: Option<String>,
    evidence: Option<String>,
) -> ExitCode {
    let focus = match (cause, evidence) {
        (Some(c), _) => graph::Focus::Cause(c),
        (None, Some(e)) => graph::Focus::Evidence(e),
        (None, None) => graph::Focus::All,
    };
    let out = match format {
        "dot" => graph::dot_of(engine, &focus),
        "mermaid" => graph::mermaid_of(engine, &focus),
        other => Err(format!(
            "unknown graph format `{other}`: use dot or mermaid"
        )),
    };
    match out {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `kb heatmap`: the SVG heat map, to a file (written atomically) or stdout.
pub fn heatmap_cmd(engine: &Engine, output: Option<&Path>) -> Result<ExitCode> {
    let svg = heatmap::svg(engine);
    match output {
        Some(path) => {
            atomic::write(path, svg.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("heat map written to {}", path.display());
        }
        None => print!("{svg}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `kb test`: every case both ways; `N passed, N failed` on the last line.
pub fn test_cmd(engine: &Engine, filter: Option<&str>, json: bool) -> ExitCode {
    let runs = cases::run_all(engine, filter);
    let failed = runs.iter().filter(|r| !r.passed).count();
    let passed = runs.len() - failed;
    if json {
        for r in &runs {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        }
    } else {
        let color = render::stdout_color();
        for r in runs.iter().filter(|r| !r.passed) {
            println!(
                "{} {} [{}] ({}): {}; got {}",
                render::paint(color, "1;31", "FAIL"),
                r.name,
                serde_json::to_value(r.mode)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                r.file,
                r.problems.join("; "),
                top3(r)
            );
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The first three causes of a run, with their probabilities.
fn top3(r: &cases::CaseRun) -> String {
    r.ranking
        .iter()
        .take(3)
        .map(|(c, p)| format!("{c} {:.0}%", p * 100.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `kb test --reports`: how often each real report's confirmed cause ranks
/// first and in the top 3, given all its facts and asked interactively.
pub fn reports_cmd(engine: &Engine, filter: Option<&str>, json: bool) -> ExitCode {
    let runs = cases::run_reports(engine, filter);
    if json {
        for r in &runs {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        }
        return ExitCode::SUCCESS;
    }
    for r in runs.iter().filter(|r| !r.passed) {
        println!(
            "miss {} [{}]: {}; got {}",
            r.name,
            if r.mode == cases::Mode::Batch {
                "given"
            } else {
                "asked"
            },
            r.problems.join("; "),
            top3(r)
        );
    }
    let n = runs.len() / 2;
    for (label, mode) in [
        ("given", cases::Mode::Batch),
        ("asked", cases::Mode::Interactive),
    ] {
        println!(
            "{label}: the confirmed cause ranks first in {:.1}%, in the top 3 in {:.1}% of {n} reports",
            100.0 * cases::rate_within(engine, &runs, mode, 1),
            100.0 * cases::rate_within(engine, &runs, mode, 3),
        );
    }
    ExitCode::SUCCESS
}

/// `kb stats`: separability of causes, value of each question, questions per cause.
pub fn stats_cmd(engine: &Engine, runs: usize, pairs: usize, json: bool) -> Result<ExitCode> {
    let s = stats::stats(engine, runs, 1);
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("## Hardest pairs of causes to tell apart\n");
    println!(
        "Separation in bits: what one answer tells about which of the two it is, when both are equally likely (1 = a perfect test).\n"
    );
    println!("| cause A | cause B | best question | its separation | all evidence |");
    println!("|---|---|---|---|---|");
    for p in s.pairs.iter().take(pairs) {
        println!(
            "| {} | {} | {} | {:.3} | {:.2} |",
            p.a, p.b, p.best_evidence, p.best_bits, p.total_bits
        );
    }
    println!("\n## Evidence at the prior\n");
    println!("| evidence | asked | cost | gain (bits) | gain per cost |");
    println!("|---|---|---|---|---|");
    for e in &s.evidence {
        println!(
            "| {} | {} | {} | {:.3} | {:.3} |",
            e.evidence,
            if e.askable { "yes" } else { "collected" },
            e.cost,
            e.gain_at_prior,
            e.gain_per_cost
        );
    }
    println!(
        "\n## Questions per cause ({} simulated diagnoses each)\n",
        s.runs_per_cause
    );
    println!("| cause | prior | mean questions | top-1 |");
    println!("|---|---|---|---|");
    for c in &s.causes {
        println!(
            "| {} | {:.3} | {:.1} | {:.0}% |",
            c.cause,
            c.prior,
            c.mean_questions,
            c.top1 * 100.0
        );
    }
    Ok(ExitCode::SUCCESS)
}
