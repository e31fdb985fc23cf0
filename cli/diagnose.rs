//! `rootcause diagnose`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use rootcause_engine::session::{Source, State};

use crate::kb_cmd;

#[derive(Args)]
pub struct DiagnoseArgs {
    /// Knowledge-base folder (default: the embedded rdp-0x904 KB)
    #[arg(long, value_name = "DIR")]
    kb: Option<PathBuf>,
    /// An answer known in advance, e.g. --observe connection_path=vpn
    #[arg(long, value_name = "ID=VALUE")]
    observe: Vec<String>,
}

pub fn run(args: DiagnoseArgs) -> Result<ExitCode> {
    let engine = match kb_cmd::load_engine(args.kb.as_deref()) {
        Ok(e) => e,
        Err(code) => return Ok(code),
    };
    let mut state = State::new(&engine);
    for o in &args.observe {
        let Some((id, value)) = o.split_once('=') else {
            bail!("--observe takes ID=VALUE, got `{o}`");
        };
        state.observe(&engine, id.trim(), value.trim(), Source::User)?;
    }
    let a = state.assess(&engine);
    for &c in a.ranking.iter().take(5) {
        println!(
            "{:5.1}%  {}",
            a.posterior[c] * 100.0,
            engine.model.causes[c]
        );
    }
    if let Some(q) = a.next {
        let e = &engine.kb.evidence[q.evidence];
        println!(
            "next: {} ({})",
            e.question.as_ref().map_or(&e.id, |q| &q.text),
            e.id
        );
    }
    Ok(ExitCode::SUCCESS)
}
