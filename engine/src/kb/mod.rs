//! The knowledge base: what a KB folder says and whether it is sound.
//!
//! A KB folder of RON files is read by [`load`] into the typed [`model`]
//! (data only: `Cause`, `Evidence`, `Rule`, `Fix`, `Collector`, `Case`;
//! the scan's [`finding`]s, the [`intake`]'s choices),
//! then [`check`]ed: every problem becomes a [`diag::Diagnostic`] naming its
//! file:line:column. [`rules`] evaluates the KB's conditions and runs its
//! forward-chaining rules over facts; [`patterns`] turns pasted text into
//! evidence. The remaining modules present a KB to
//! the outside: [`codes`] decodes mstsc error codes, [`graph`] draws the KB
//! and [`export`] writes the resolved model (DESIGN §9).
//!
//! Nothing here does probability: [`crate::infer`] compiles a checked KB
//! into dense tables and does the math.

pub mod check;
pub mod codes;
pub mod diag;
pub mod export;
pub mod finding;
pub mod graph;
pub mod intake;
pub mod load;
pub mod model;
pub mod patterns;
pub mod rules;
