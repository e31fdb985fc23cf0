//! `rootcause json`: the JSON lines protocol on stdin/stdout.
//!
//! Collectors are off unless the operator allows them on the command line:
//! `--allow-probe HOST,CIDR,...` lets the `collect` op probe exactly those
//! hosts and address blocks (any port), so a chatbot cannot make this machine probe arbitrary
//! addresses or run programs.

use std::io::{self, BufWriter};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use rootcause_engine::Engine;
use rootcause_engine::protocol::{self, Server};

use crate::shared::allow::AllowedProbe;

pub fn run(engine: Engine, allow_probe: &[String]) -> Result<ExitCode> {
    let mut server = Server::new(Arc::new(engine));
    let allowed = match AllowedProbe::parse(allow_probe) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: --allow-probe {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if !allowed.is_empty() {
        server = server.with_collector(Box::new(allowed));
    }
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut output = BufWriter::new(io::stdout().lock());
    match protocol::serve(&mut server, &mut input, &mut output) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // The reader went away: nothing left to answer.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}
