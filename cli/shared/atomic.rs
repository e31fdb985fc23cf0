//! Crash-safe file writes: write a temporary file beside the target, flush
//! it to disk, then rename it over the target. A reader (or a crash at any
//! point) sees either the old complete file or the new complete file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Fault injection for tests: with `ROOTCAUSE_CRASH_BEFORE_RENAME=1` the
/// process aborts after writing the temporary file and before the rename,
/// as a power cut or a kill there would.
const CRASH_HOOK: &str = "ROOTCAUSE_CRASH_BEFORE_RENAME";

pub fn write(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        if std::env::var_os(CRASH_HOOK).is_some_and(|v| v == "1") {
            std::process::abort();
        }
        fs::rename(&tmp, path)?;
        // Persist the rename itself.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    } else {
        remove_stale_temporaries(dir, &name.to_string_lossy());
    }
    result
}

/// Temporary files of earlier writers that were killed before renaming:
/// `.NAME.tmp-PID` whose process no longer exists (checked in /proc, so
/// only where /proc exists; elsewhere they are left alone).
fn remove_stale_temporaries(dir: &Path, name: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(pid) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok_and(|p| p != std::process::id())
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}
