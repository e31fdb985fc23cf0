//! Embeds `kb/rdp-0x904/` (every `.ron` file, `cases/` and `reports/` too) into the library,
//! so the binary works with no files beside it.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn collect(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() && (name == "cases" || name == "reports") && prefix.is_empty() {
            collect(&path, &format!("{name}/"), out);
        } else if path.extension().is_some_and(|e| e == "ron") {
            out.push((
                format!("{prefix}{name}"),
                path.canonicalize().unwrap_or(path).display().to_string(),
            ));
        }
    }
}

fn main() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let kb = Path::new(&manifest).join("../kb/rdp-0x904");
    println!("cargo:rerun-if-changed={}", kb.display());
    let mut files = Vec::new();
    collect(&kb, "", &mut files);
    files.sort();
    let mut code = String::from(
        "/// The files of the embedded `rdp-0x904` KB: (name, text).\npub const RDP_0X904: &[(&str, &str)] = &[\n",
    );
    for (name, path) in &files {
        writeln!(code, "    ({name:?}, include_str!({path:?})),").expect("write to String");
    }
    code.push_str("];\n");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_kb.rs");
    fs::write(out, code).expect("write embedded_kb.rs");
}
