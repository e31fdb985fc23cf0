//! docs/ARCHITECTURE.md matches the tree, and the tree keeps its invariants:
//! every folder the map names exists, every source folder is named, no
//! source file outgrows one reading, the engine does no terminal I/O, only
//! the collectors touch sockets and processes, and the CLI does no
//! probability.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn map() -> String {
    fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap()
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn source_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_dirs(&path, out);
        }
    }
}

fn relative(p: &Path) -> String {
    p.strip_prefix(root()).unwrap().display().to_string()
}

#[test]
fn every_folder_the_map_names_exists() {
    let text = map();
    let named: Vec<&str> = text
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("engine/") || s.starts_with("cli/"))
        .collect();
    assert!(named.len() >= 12, "the map names too few places: {named:?}");
    for place in named {
        assert!(
            root().join(place).exists(),
            "docs/ARCHITECTURE.md names `{place}`, which does not exist"
        );
    }
}

#[test]
fn every_source_folder_is_on_the_map() {
    let text = map();
    let mut dirs = Vec::new();
    source_dirs(&root().join("engine/src"), &mut dirs);
    source_dirs(&root().join("cli"), &mut dirs);
    for dir in dirs {
        let name = format!("`{}/`", relative(&dir));
        if name == "`engine/src/`" || name == "`cli/`" {
            continue;
        }
        assert!(
            text.contains(&name),
            "{name} is not described in docs/ARCHITECTURE.md"
        );
    }
}

#[test]
fn the_engine_has_few_top_level_entries() {
    let n = fs::read_dir(root().join("engine/src")).unwrap().count();
    assert!(n <= 8, "engine/src has {n} top-level entries");
}

#[test]
fn no_source_file_outgrows_one_reading() {
    let mut files = Vec::new();
    rust_files(&root().join("engine/src"), &mut files);
    rust_files(&root().join("cli"), &mut files);
    for f in files {
        let lines = fs::read_to_string(&f).unwrap().lines().count();
        assert!(lines <= 600, "{} has {lines} lines", relative(&f));
    }
}

#[test]
fn only_the_collectors_touch_sockets_and_processes_and_nothing_prints() {
    let mut files = Vec::new();
    rust_files(&root().join("engine/src"), &mut files);
    let collect = root().join("engine/src/collect");
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        for needle in ["println!", "eprintln!", "print!(", "stdin()", "IsTerminal"] {
            assert!(
                !text.contains(needle),
                "{} uses `{needle}`: the engine does no terminal I/O",
                relative(&f)
            );
        }
        if !f.starts_with(&collect) {
            for needle in ["std::net", "std::process", "TcpStream", "Command::new"] {
                assert!(
                    !text.contains(needle),
                    "{} uses `{needle}`: only engine/src/collect/ may",
                    relative(&f)
                );
            }
        }
    }
}

#[test]
fn the_cli_does_no_probability() {
    let mut files = Vec::new();
    rust_files(&root().join("cli"), &mut files);
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains("rootcause_engine::infer"),
            "{} uses the engine's math directly",
            relative(&f)
        );
    }
}
