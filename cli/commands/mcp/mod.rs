//! `rootcause mcp`: the engine as a Model Context Protocol server, on stdio
//! (`handler`) or on streamable HTTP (`http`).
//!
//! Sessions live in signed tokens, not in the process: with the same
//! session key (`ROOTCAUSE_SESSION_KEY` or `--session-key-file`) any
//! number of processes serve the same sessions. Nothing is probed unless
//! the operator names the hosts with `--allow-probe`.

mod handler;
mod http;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rmcp::ServiceExt;
use rootcause_engine::Engine;
use rootcause_engine::protocol::token::SessionKey;

use crate::shared::allow::AllowedProbe;

pub use http::Limits;

/// How the server was asked to run.
pub struct Options {
    pub allow_probe: Vec<String>,
    pub http: Option<String>,
    pub token: Option<String>,
    pub session_key_file: Option<std::path::PathBuf>,
    pub limits: Limits,
}

fn session_key(opts: &Options) -> Result<SessionKey> {
    let secret = match (
        &opts.session_key_file,
        std::env::var("ROOTCAUSE_SESSION_KEY"),
    ) {
        (Some(path), _) => Some(
            std::fs::read(path)
                .with_context(|| format!("cannot read the session key file {}", path.display()))?,
        ),
        (None, Ok(s)) if !s.is_empty() => Some(s.into_bytes()),
        _ => None,
    };
    match secret {
        Some(bytes) => {
            let trimmed = bytes.trim_ascii();
            SessionKey::new(trimmed).map_err(|e| anyhow::anyhow!("{}", e.message))
        }
        None => {
            eprintln!(
                "rootcause mcp: sessions are signed with a key made for this process; set ROOTCAUSE_SESSION_KEY (16+ bytes) to let several processes share sessions"
            );
            SessionKey::random().map_err(|e| anyhow::anyhow!("{}", e.message))
        }
    }
}

pub fn run(engine: Engine, opts: Options) -> Result<ExitCode> {
    let addr = match &opts.http {
        None => None,
        Some(a) => {
            let addr: SocketAddr = a
                .parse()
                .with_context(|| format!("`{a}` is not an address such as 127.0.0.1:8808"))?;
            if !addr.ip().is_loopback() && opts.token.is_none() {
                bail!(
                    "refusing to serve on non-loopback address {addr} without --token: anyone who can reach it could use this server; give --token (or ROOTCAUSE_MCP_TOKEN), or bind 127.0.0.1"
                );
            }
            Some(addr)
        }
    };
    let probe =
        AllowedProbe::parse(&opts.allow_probe).map_err(|e| anyhow::anyhow!("--allow-probe {e}"))?;
    let inner = Arc::new(handler::Inner {
        engine: Arc::new(engine),
        key: session_key(&opts)?,
        probe: (!probe.is_empty()).then_some(probe),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        match addr {
            None => {
                let service = handler::Handler(inner)
                    .serve(rmcp::transport::stdio())
                    .await
                    .context("the MCP handshake on stdio failed")?;
                service
                    .waiting()
                    .await
                    .context("the MCP stdio session failed")?;
                Ok(ExitCode::SUCCESS)
            }
            Some(addr) => http::serve(inner, addr, opts.token, opts.limits).await,
        }
    })
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 2 << 20,
            max_concurrent: 256,
            idle: Duration::from_secs(30),
        }
    }
}
