//! Collectors: automated sources of facts (DESIGN §7).
//!
//! Each collector turns something measured or read into typed [`Facts`]
//! named like `probe.cert.expired` or `events.schannel.36870`; the KB's
//! rules turn facts into evidence. Collectors run only what the KB declares
//! and every network or process call has a timeout. The engine never runs
//! one on its own: the CLI calls them (and, in JSON mode, only for what the
//! operator allowed).
//!
//! - [`rdp_probe`]: the network probe (TCP, the X.224 negotiation codec in
//!   [`rdp_probe::x224`], TLS and the certificate), returning a `Report`;
//! - [`events`]: exported Windows event logs (`.evtx`, wevtutil XML,
//!   Get-WinEvent JSON), returning an `EventLog` summary;
//! - [`host`]: the KB's PowerShell host checks, run on Windows or parsed
//!   from recorded output; [`bundle`]: the evidence bundle `collect.ps1`
//!   writes on a host;
//! - [`scan`]: the probe over many endpoints at once (targets, CIDR
//!   blocks, bounded concurrency, a connection rate);
//! - [`civil`]: calendar arithmetic for certificate and event times.
//!
//! Each hands back [`Collected`] facts; [`crate::session::State::add_facts`]
//! runs the KB's rules over them.

pub mod bundle;
pub mod civil;
pub mod events;
pub mod host;
pub mod rdp_probe;
pub mod scan;

use std::collections::BTreeMap;

use serde::Serialize;
use thiserror::Error;

use crate::kb::model::Value;

/// Raw facts by name.
pub type Facts = BTreeMap<String, Value>;

/// What one collector run produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Collected {
    /// The KB collector id (`rdp_probe`, `event_logs`, `host_bundle`, ...).
    pub collector: String,
    /// What was collected, for provenance: `probe of 127.0.0.1:3389`.
    pub label: String,
    pub facts: Facts,
    /// Things the user should know (a corrupt chunk skipped, a check that
    /// failed) that did not stop the collection.
    pub warnings: Vec<String>,
}

/// Why a collector could not run at all.
#[derive(Debug, Error)]
pub enum CollectError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    NotApplicable(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Usage(String),
}
