//! JSON lines protocol v1 (DESIGN §8, a contract).
//!
//! One JSON object per request line, exactly one JSON object per response
//! line. Nothing a client sends ends the loop: malformed input gets an error
//! object. A request may carry `state` (from an earlier response) to be
//! applied to that state instead of the process's session, so a caller can
//! keep the state and use any number of processes.
//!
//! - `request`: a request line parsed into fields, with the protocol's
//!   error codes ([`ProtoError`]);
//! - `server`: [`Server`] holds one session and applies each op to it (or
//!   to the state the request carried);
//! - `response`: the response body (ranking, next question, fix plan,
//!   advice, state) and the KB description, with the KB's texts escaped once;
//! - `serve`: bounded line reading and the request/response loop;
//! - `compact`: the compact view (`"view":"compact"`, and every MCP tool
//!   answer): top causes, next question, one-sentence advice, top fixes;
//! - `token`: signed session tokens that carry a whole state, so any
//!   process with the key continues any session;
//! - `tools`: the MCP tools (names, schemas, calls) as plain functions;
//!   the binary puts them on a transport.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use crate::kb::model::Value;
use crate::session::SessionError;

pub mod compact;
mod request;
mod response;
mod serve;
mod server;
pub mod token;
pub mod tools;

pub use response::{Escaped, kb_description, response};
pub use serve::{read_line_bounded, serve};
pub use server::Server;

/// Largest request line accepted (bytes, without the newline).
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// A protocol error: `code` is stable, `message` is for humans.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtoError {
    pub code: &'static str,
    pub message: String,
}

impl ProtoError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ProtoError {
            code,
            message: message.into(),
        }
    }
}

impl From<SessionError> for ProtoError {
    fn from(e: SessionError) -> Self {
        ProtoError::new(e.code(), e.to_string())
    }
}

/// Something that can run collectors on request (the CLI provides it, with
/// the operator's allow-list). The engine itself never touches the network.
pub trait Collect {
    /// Run collector `kind` with `args`; return facts and a description.
    fn collect(
        &mut self,
        kind: &str,
        args: &Map<String, Json>,
    ) -> Result<(String, BTreeMap<String, Value>), ProtoError>;
}
