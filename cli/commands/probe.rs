//! `rootcause probe rdp HOST[:PORT]`: the network probe and the evidence
//! the KB's rules draw from it.

use anyhow::Result;
use rootcause_engine::Engine;
use rootcause_engine::collect::rdp_probe;
use serde_json::json;
use std::process::ExitCode;

use crate::shared::evidence;
use crate::shared::probe_view::{config, print_human};

/// `probe rdp`.
pub fn run(engine: &Engine, target: &str, timeout_secs: f64, json: bool) -> Result<ExitCode> {
    let cfg = config(target, timeout_secs)?;
    let (report, collected) = rdp_probe::collect(&cfg);
    let evidence = evidence::evidence(engine, std::slice::from_ref(&collected))?;
    if json {
        let (ev, why) = evidence::evidence_json(&evidence);
        let out = json!({
            "target": report.target,
            "facts": report.facts,
            "evidence": ev,
            "provenance": why,
            "report": report,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_human(&report, &evidence);
    }
    Ok(ExitCode::SUCCESS)
}
