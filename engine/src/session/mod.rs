//! A diagnosis session: what is known so far, and what follows from it.
//!
//! [`State`] is plain serialisable data (observations with provenance, raw
//! facts, fix results, a trace). Operations validate their input against the
//! KB and never panic; [`State::assess`] derives the ranking, the next
//! question, the fix plan and the ask-or-fix advice from it.
//!
//! - `state`: the data ([`State`], [`Observation`], [`Source`],
//!   [`TraceStep`]), its validation and the canonical form of answers;
//! - `update`: what changes a state (answers, retractions, fix results
//!   and their verification, collector facts run through the KB's rules);
//! - `assess`: what a state implies ([`Assessment`]: ranking, next
//!   question, fix plan, [`Advice`], [`Done`]);
//! - `explain`: why this question, how this ranking, why not that cause;
//! - `history`: the posterior after each step, replayed from the trace;
//! - `intake`: the first screen, what the error says, the triage questions
//!   and what changed (several facts from one answer);
//! - `findings`: what `rootcause scan` reports about one endpoint
//!   (`findings.ron` over the probe's facts and the evidence they set).

mod assess;
mod explain;
mod findings;
mod history;
mod intake;
mod state;
mod update;

pub use assess::{Advice, Assessment, Done};
pub use explain::{
    CauseExplanation, ContributionItem, Outcome, QuestionExplanation, Raiser, WhyNot,
};
pub use findings::{Found, ScanSettings, Verdict};
pub use history::{History, Point};
pub use intake::{INTAKE_NONE, IntakeChoice, IntakePart};
pub use state::{FixResult, Observation, SessionError, Source, State, TraceStep};
pub use update::PastedValue;

/// The collector name recorded for values extracted from pasted text.
pub const PASTED_TEXT: &str = "pasted text";

/// The answer that records "I don't know": it changes nothing.
pub const UNKNOWN: &str = "unknown";

/// Most observations, facts or fix results a state may hold.
pub const MAX_ITEMS: usize = 10_000;

/// Steps kept in a state's trace: a state travels with every protocol
/// response, so its size must not grow with the session's length.
pub const MAX_TRACE: usize = 100;
