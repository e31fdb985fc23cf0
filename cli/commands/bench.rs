//! `rootcause bench simulate|fix-steps`: how well a KB diagnoses, measured
//! on simulated users and on the KB's own cases.

use std::process::ExitCode;

use anyhow::Result;
use rootcause_engine::Engine;
use rootcause_engine::eval::fix_steps::{self, Figures};
use rootcause_engine::eval::simulate;
use serde_json::json;

/// `bench simulate`: the efficiency table.
pub fn simulate_cmd(engine: &Engine, cases: usize, seed: u64, json: bool) -> Result<ExitCode> {
    let r = simulate::simulate(engine, cases, seed);
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} simulated cases of {} (seed {}). Entropy of the prior: {:.2} bits, the lower bound on the mean number of yes/no questions.\n",
        r.cases, r.kb, r.seed, r.prior_entropy_bits
    );
    println!("| policy | mean questions | top-1 | top-3 | mean cost to fix | fixed |");
    println!("|---|---|---|---|---|---|");
    for p in &r.policies {
        let diag = p.mean_cost == 0.0 && p.resolved == 0.0;
        let pct = |x: f64| format!("{:.1}%", x * 100.0);
        println!(
            "| {} | {:.2} | {} | {} | {} | {} |",
            p.policy,
            p.mean_questions,
            if diag { pct(p.top1) } else { "-".into() },
            if diag { pct(p.top3) } else { "-".into() },
            if diag {
                "-".into()
            } else {
                format!("{:.2}", p.mean_cost)
            },
            if diag { "-".into() } else { pct(p.resolved) },
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What `bench fix-steps` runs and prints.
pub struct FixSteps<'a> {
    /// Simulated users.
    pub cases: usize,
    /// Runs per report or case.
    pub repeats: usize,
    /// The real reports (`reports/`) rather than `cases/`.
    pub reports: bool,
    pub filter: Option<&'a str>,
    pub seed: u64,
    pub json: bool,
    /// Print each report's first run, and each true cause's first simulated
    /// run, step by step.
    pub trace: bool,
}

/// `bench fix-steps`: steps to a working fix for users who follow the advice.
pub fn fix_steps_cmd(engine: &Engine, o: FixSteps) -> Result<ExitCode> {
    let FixSteps {
        cases,
        repeats,
        reports,
        filter,
        seed,
        json,
        trace,
    } = o;
    let from_cases = fix_steps::from_cases(engine, reports, filter, repeats, seed);
    let simulated = fix_steps::simulated(engine, cases, seed);
    let probed = fix_steps::simulated_probed(engine, cases, seed);
    let (oracle_5, oracle_fixed) = fix_steps::oracle(engine);
    let (informed_5, informed_fixed) = fix_steps::informed(engine, cases, seed);
    if json {
        let oracle = json!({"fixed_within_5": oracle_5, "fixed": oracle_fixed});
        let informed = json!({"fixed_within_5": informed_5, "fixed": informed_fixed});
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "cases": from_cases,
                "simulated": simulated,
                "simulated_probed": probed,
                "informed": informed,
                "oracle": oracle
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let what = if reports { "real reports" } else { "KB cases" };
    let cases_label = match filter {
        Some(f) => format!("{what} matching `{f}`"),
        None => what.to_string(),
    };
    println!(
        "Steps to a working fix on {} (seed {}): questions answered or `unknown`, plus fixes tried, following the advice.\n",
        engine.kb.manifest.id, seed
    );
    println!(
        "| users | runs | mean steps to fix | fixed within 5 steps | fixed | questions | fixes tried | cost |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let row = |name: &str, f: &Figures| {
        println!(
            "| {name} | {} | {:.2} | {:.1}% | {:.1}% | {:.2} | {:.2} | {:.1} |",
            f.runs,
            f.mean_steps_to_fix,
            f.fixed_within_5 * 100.0,
            f.fixed * 100.0,
            f.mean_questions,
            f.mean_fixes_tried,
            f.mean_cost
        )
    };
    row(&format!("{cases_label}, x{repeats}"), &from_cases.overall);
    row("simulated (answerability)", &simulated.overall);
    if let Some(p) = &probed {
        row("simulated, host named (the probe first)", &p.overall);
    }
    println!(
        "\nCeilings for simulated users: one who answers every question at no step cost is fixed within 5 steps in {:.1}% and at all in {:.1}%; one who knows the true cause (drawn from the priors) and tries its best fixes first, in {:.1}% and {:.1}%.",
        informed_5 * 100.0,
        informed_fixed * 100.0,
        oracle_5 * 100.0,
        oracle_fixed * 100.0
    );
    let mut sections = vec![
        (cases_label.as_str(), &from_cases),
        ("simulated", &simulated),
    ];
    if let Some(p) = &probed {
        sections.push(("simulated, host named", p));
    }
    for (title, r) in sections {
        println!("\nPer true cause, {title}:\n");
        println!("| cause | runs | mean steps to fix | fixed within 5 steps | fixed |");
        println!("|---|---|---|---|---|");
        for (c, f) in &r.per_cause {
            println!(
                "| {c} | {} | {:.2} | {:.1}% | {:.1}% |",
                f.runs,
                f.mean_steps_to_fix,
                f.fixed_within_5 * 100.0,
                f.fixed * 100.0
            );
        }
    }
    if trace {
        println!("\nThe first run of each, step by step:\n");
        for (name, trail) in &from_cases.trails {
            println!("- {name} ({} steps): {}", trail.len(), trail.join(" → "));
        }
        let mut runs = vec![("", &simulated)];
        if let Some(p) = &probed {
            runs.push((", host named (the probe is no step)", p));
        }
        for (title, r) in runs {
            println!("\nThe first simulated run of each true cause{title}:\n");
            for (cause, trail) in &r.trails {
                let steps = trail.iter().filter(|t| !t.starts_with("probe: ")).count();
                println!("- {cause} ({steps} steps): {}", trail.join(" → "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
