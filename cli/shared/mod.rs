//! What several commands share, so that no command borrows from another:
//! loading the KB ([`engine`]), rendering (colour, diagnostics, bars:
//! [`render`]), crash-safe writes ([`atomic`]), collected facts turned into
//! evidence ([`evidence`]), the probe's configuration and human output
//! ([`probe_view`]) and the operator's allow-list for client-requested
//! collectors ([`allow`]).

pub mod allow;
pub mod atomic;
pub mod engine;
pub mod evidence;
pub mod probe_view;
pub mod render;
