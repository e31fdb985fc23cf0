//! `rootcause collect --events FILE... | --bundle FILE`: read event logs and
//! evidence bundles, print the facts found and the evidence they imply.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use rootcause_engine::Engine;
use rootcause_engine::collect::events;
use serde_json::json;

use crate::shared::evidence;

pub fn run(
    engine: &Engine,
    event_files: &[PathBuf],
    bundle_file: Option<&PathBuf>,
    json: bool,
) -> Result<ExitCode> {
    if event_files.is_empty() && bundle_file.is_none() {
        bail!("nothing to collect: give --events FILE... or --bundle FILE");
    }
    let (collected, logs) = evidence::gather(engine, event_files, bundle_file)?;
    let state = evidence::state_with(engine, &collected)?;
    let evidence = evidence::inferred(&state);
    if json {
        let (ev, why) = evidence::evidence_json(&evidence);
        let out = json!({
            "sources": collected,
            "events": logs,
            "facts": state.facts,
            "evidence": ev,
            "provenance": why,
            "conflicts": state.conflicts,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    for log in &logs {
        print!("{}", summary(log));
    }
    for c in &collected {
        println!("{}: {} facts", c.label, c.facts.len());
        for w in &c.warnings {
            println!("  warning: {w}");
        }
    }
    evidence::print_evidence(&evidence);
    for c in &state.conflicts {
        println!(
            "  conflict on {}: {} says {}, {} says {} (kept {})",
            c.target, c.kept.0, c.kept.1, c.rejected.0, c.rejected.1, c.kept.1
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A few lines about one event-log file: what was read, and its RDP events.
fn summary(log: &events::EventLog) -> String {
    let mut s = format!(
        "{} ({}): {} events, {} failed records, {} of {} chunks skipped; computers: {}; {} .. {}\n",
        log.path,
        log.format,
        log.records,
        log.records_failed,
        log.chunks_failed,
        log.chunks,
        if log.computers.is_empty() {
            "?".to_string()
        } else {
            log.computers.join(", ")
        },
        log.first_time.as_deref().unwrap_or("?"),
        log.last_time.as_deref().unwrap_or("?"),
    );
    // The RDP-relevant kinds carry examples; list those, then a count of the rest.
    let relevant: Vec<_> = log
        .events
        .iter()
        .filter(|e| !e.examples.is_empty())
        .collect();
    for e in &relevant {
        let example = e.examples.first().map_or(String::new(), |x| {
            let data: Vec<String> = x
                .data
                .iter()
                .take(4)
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if data.is_empty() {
                String::new()
            } else {
                format!("  e.g. {}", data.join(", "))
            }
        });
        s.push_str(&format!(
            "  {:>6} x {} {}{example}\n",
            e.count, e.provider, e.id
        ));
    }
    let others: u64 = log
        .events
        .iter()
        .filter(|e| e.examples.is_empty())
        .map(|e| e.count)
        .sum();
    if others > 0 {
        s.push_str(&format!("  {others:>6} other events\n"));
    }
    s
}
