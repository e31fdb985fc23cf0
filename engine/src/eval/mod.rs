//! What judges a KB rather than uses it.
//!
//! [`cases`] runs a KB's regression cases (all observations at once, or
//! interactively with the engine asking); [`simulate`] measures diagnostic
//! efficiency on simulated cases against a checklist; [`stats`] finds the
//! causes the evidence cannot tell apart; [`fuzzing`] holds the body of
//! every fuzz target, so `cargo fuzz` and `cargo test` drive the same code.
//! Each takes an [`crate::Engine`] and returns plain data; the CLI prints it.

pub mod cases;
pub mod fix_steps;
pub mod fuzzing;
pub mod simulate;
pub mod stats;
