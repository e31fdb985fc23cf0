//! One module per subcommand; each holds that command only and shares
//! helpers through [`crate::shared`].

pub mod bench;
pub mod collect;
pub mod decode;
pub mod diagnose;
pub mod json;
pub mod kb;
pub mod mcp;
pub mod probe;
pub mod scan;
