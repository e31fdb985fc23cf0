//! `rootcause-engine`: the knowledge-base model, its loader and validator,
//! the rule engine, Bayesian inference and the JSON lines protocol.
//!
//! The engine is I/O-free apart from reading KB folders: it knows nothing of
//! terminals or command lines. Dependencies point one way:
//! `model` ← `load` ← `check` ← `infer` ← `session` ← `protocol`.
//!
//! ```
//! use rootcause_engine::{Engine, session::{Source, State}};
//! let engine = Engine::embedded().expect("the embedded KB is valid");
//! let mut state = State::new(&engine);
//! state.observe(&engine, "connection_path", "vpn", Source::User).unwrap();
//! let assessment = state.assess(&engine);
//! assert!((assessment.posterior.iter().sum::<f64>() - 1.0).abs() < 1e-12);
//! ```

pub mod cases;
pub mod check;
pub mod civil;
pub mod codes;
pub mod collect;
pub mod diag;
pub mod export;
pub mod fuzzing;
pub mod graph;
pub mod infer;
pub mod load;
pub mod model;
pub mod protocol;
pub mod rules;
pub mod session;
pub mod simulate;
pub mod stats;

use std::path::Path;

pub use diag::{Diagnostic, Severity};
pub use infer::Model;
pub use load::{Kb, KbSource};

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
        Engine::from_kb(load::parse(source)?)
    }

    /// Check an already parsed (or generated) KB and compile it.
    pub fn from_kb(kb: Kb) -> Result<Engine, Vec<Diagnostic>> {
        let diags = check::check(&kb);
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
