//! `rootcause-engine`: the knowledge base, Bayesian inference over it, the
//! diagnosis session, the collectors and the JSON lines protocol.
//!
//! Each folder is one concern, and dependencies point one way:
//!
//! - [`kb`]: the typed model of a KB folder, its loading, validation and
//!   rules (data and soundness, no probability);
//! - [`infer`]: the math, pure functions over the compiled [`Model`];
//! - [`session`]: a diagnosis in progress ([`session::State`]), its
//!   assessment, advice and explanations;
//! - [`collect`]: facts measured on the network, read from event logs or
//!   host checks (the only code here that opens sockets or runs programs);
//! - [`protocol`]: the JSON lines protocol over a session;
//! - [`eval`]: what judges a KB: cases, simulation, statistics, fuzzing.
//!
//! `kb` ← `infer` ← `session` ← `protocol`; `collect` uses `kb` only.
//! The engine knows nothing of terminals or command lines.
//!
//! ```
//! use rootcause_engine::{Engine, session::{Source, State}};
//! let engine = Engine::embedded().expect("the embedded KB is valid");
//! let mut state = State::new(&engine);
//! state.observe(&engine, "connection_path", "vpn", Source::User).unwrap();
//! let assessment = state.assess(&engine);
//! assert!((assessment.posterior.iter().sum::<f64>() - 1.0).abs() < 1e-12);
//! ```

pub mod collect;
pub mod eval;
pub mod infer;
pub mod kb;
pub mod picture;
pub mod protocol;
pub mod session;

use std::path::Path;

pub use infer::Model;
pub use kb::diag::{Diagnostic, Severity};
pub use kb::load::{Kb, KbSource};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_kb.rs"));
}

/// Id of the KB compiled into the library.
pub const EMBEDDED_KB: &str = "rdp-0x904";

/// A validated KB and its compiled model.
#[derive(Debug, Clone)]
pub struct Engine {
    pub kb: Kb,
    pub model: Model,
    /// Lint warnings found when loading (errors prevent loading).
    pub warnings: Vec<Diagnostic>,
}

impl Engine {
    /// Parse and check a KB; on any error, every diagnostic is returned.
    pub fn load(source: KbSource) -> Result<Engine, Vec<Diagnostic>> {
        Engine::from_kb(kb::load::parse(source)?)
    }

    /// Check an already parsed (or generated) KB and compile it.
    pub fn from_kb(kb: Kb) -> Result<Engine, Vec<Diagnostic>> {
        let diags = kb::check::check(&kb);
        if diags.iter().any(Diagnostic::is_error) {
            return Err(diags);
        }
        let model = Model::new(&kb);
        Ok(Engine {
            kb,
            model,
            warnings: diags,
        })
    }

    /// Load a KB folder.
    pub fn from_dir(dir: &Path) -> Result<Engine, Vec<Diagnostic>> {
        Engine::load(KbSource::from_dir(dir).map_err(|d| vec![*d])?)
    }

    /// The KB compiled into the binary.
    pub fn embedded() -> Result<Engine, Vec<Diagnostic>> {
        Engine::load(embedded_source())
    }
}

/// The embedded KB's files, as a source.
pub fn embedded_source() -> KbSource {
    KbSource::from_memory(&format!("<embedded>/{EMBEDDED_KB}"), embedded::RDP_0X904)
}
