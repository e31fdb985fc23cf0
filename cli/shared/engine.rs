//! Loading the KB a command works on (a folder or the embedded one), with
//! its problems printed compiler-style when it is invalid.

use std::path::Path;
use std::process::ExitCode;

use rootcause_engine::{Diagnostic, Engine};

use crate::shared::render;

/// Print diagnostics: compiler-style on stderr, or one JSON object a line.
pub fn print_diags(diags: &[Diagnostic], json: bool) {
    let color = render::stderr_color();
    for d in diags {
        if json {
            println!("{}", serde_json::to_string(d).unwrap_or_default());
        } else {
            eprint!("{}", render::diagnostic(d, color));
            eprintln!();
        }
    }
}

/// The engine for `--kb DIR`, or the embedded KB; an invalid KB prints
/// every problem and gives the exit code.
pub fn load_engine(dir: Option<&Path>) -> Result<Engine, ExitCode> {
    let loaded = match dir {
        Some(d) => Engine::from_dir(d),
        None => Engine::embedded(),
    };
    loaded.map_err(|diags| {
        print_diags(&diags, false);
        eprintln!("the knowledge base is invalid; `rootcause kb check` lists every problem");
        ExitCode::from(1)
    })
}
