//! `rootcause json`: the JSON lines protocol on stdin/stdout.

use std::io::{self, BufWriter};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use rootcause_engine::Engine;
use rootcause_engine::protocol::{self, Server};

pub fn run(engine: Engine) -> Result<ExitCode> {
    let mut server = Server::new(Arc::new(engine));
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
