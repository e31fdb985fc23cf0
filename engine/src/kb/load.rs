//! Reading a KB folder (or the embedded KB) into the typed model.
//!
//! Loading never panics: a missing folder, an unreadable, non-UTF-8, empty or
//! malformed file each become a [`Diagnostic`] naming the place.

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::kb::diag::{Diagnostic, Severity, SourceFile};
use crate::kb::model::*;

/// Largest KB file read (bytes); a larger one is refused.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Most files read from one KB folder.
pub const MAX_FILES: usize = 2000;
/// Deepest nesting accepted in a RON file.
pub const MAX_NESTING: usize = 64;

/// The files of one KB, read but not yet parsed.
#[derive(Debug, Clone)]
pub struct KbSource {
    /// Display name of the folder, e.g. `kb/rdp-0x904` or `<embedded>/rdp-0x904`.
    pub root: String,
    pub files: Vec<SourceFile>,
}

/// The known top-level files and what they hold.
pub const FILES: &[(&str, bool, &str)] = &[
    (
        "kb.ron",
        true,
        "the manifest `(id: ..., title: ..., version: ...)`",
    ),
    (
        "causes.ron",
        true,
        "a list of causes `[ (id: ..., title: ..., prior: ...), ... ]`",
    ),
    (
        "evidence.ron",
        true,
        "a list of evidence variables `[ (id: ..., values: [...], ...), ... ]`",
    ),
    (
        "fixes.ron",
        true,
        "a list of fixes `[ (id: ..., steps: [...], resolves: {...}, ...), ... ]`",
    ),
    (
        "rules.ron",
        false,
        "a list of rules `[ (id: ..., when: ..., then: [...]), ... ]`",
    ),
    (
        "collectors.ron",
        false,
        "a list of collectors `[ (id: ..., kind: ..., ...), ... ]`",
    ),
    (
        "patterns.ron",
        false,
        "a list of text patterns `[ (id: ..., regex: ..., sets: {...}, examples: [...]), ... ]`",
    ),
    (
        "findings.ron",
        false,
        "a list of scan findings `[ (id: ..., title: ..., severity: ..., when: ...), ... ]`",
    ),
    (
        "codes.ron",
        false,
        "the code tables `(disconnect: [...], extended: [...], pairs: [...])`",
    ),
];

impl KbSource {
    /// Read every `.ron` file of a KB folder (top level, `cases/` and `reports/`).
    pub fn from_dir(dir: &Path) -> Result<KbSource, Box<Diagnostic>> {
        let root = dir.display().to_string();
        let meta = fs::metadata(dir).map_err(|e| {
            folder_error(
                &root,
                format!("cannot open KB folder {root}: {e}"),
                "pass --kb with a folder that holds kb.ron, causes.ron, evidence.ron and fixes.ron",
            )
        })?;
        if !meta.is_dir() {
            return Err(folder_error(
                &root,
                format!("{root} is not a folder"),
                "--kb takes the KB folder, not one of its files",
            ));
        }
        let mut paths: Vec<(PathBuf, String)> = Vec::new();
        collect_ron(dir, "", &mut paths).map_err(|e| {
            folder_error(
                &root,
                format!("cannot list {root}: {e}"),
                "check the folder's permissions",
            )
        })?;
        for sub in ["cases", "reports"] {
            let folder = dir.join(sub);
            if folder.is_dir() {
                collect_ron(&folder, &format!("{sub}/"), &mut paths).map_err(|e| {
                    folder_error(
                        &root,
                        format!("cannot list {}: {e}", folder.display()),
                        "check the folder's permissions",
                    )
                })?;
            }
        }
        if paths.len() > MAX_FILES {
            return Err(folder_error(
                &root,
                format!(
                    "{root} holds {} .ron files; at most {MAX_FILES} are read",
                    paths.len()
                ),
                "split the KB",
            ));
        }
        paths.sort_by(|a, b| a.1.cmp(&b.1));
        let mut files = Vec::new();
        for (path, name) in paths {
            let display = path.display().to_string();
            let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if size > MAX_FILE_BYTES {
                return Err(folder_error(
                    &display,
                    format!("{display} is {size} bytes; KB files are limited to {MAX_FILE_BYTES}"),
                    "split it into smaller files",
                ));
            }
            let bytes = fs::read(&path).map_err(|e| {
                folder_error(
                    &display,
                    format!("cannot read {display}: {e}"),
                    "check the file's permissions",
                )
            })?;
            let text = match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => {
                    let valid = e.utf8_error().valid_up_to();
                    let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
                    let sf = SourceFile::new(display.clone(), name, prefix);
                    let mut d = sf.diag(
                        Severity::Error,
                        "not_utf8",
                        valid,
                        format!("{display} is not valid UTF-8 (byte offset {valid})"),
                    );
                    d.help = Some("save the file as UTF-8".into());
                    return Err(Box::new(d));
                }
            };
            files.push(SourceFile::new(display, name, text));
        }
        Ok(KbSource { root, files })
    }

    /// A KB from in-memory files: `(name relative to the KB folder, text)`.
    pub fn from_memory(root: &str, files: &[(&str, &str)]) -> KbSource {
        KbSource {
            root: root.to_string(),
            files: files
                .iter()
                .map(|(name, text)| SourceFile::new(format!("{root}/{name}"), *name, *text))
                .collect(),
        }
    }

    pub fn file(&self, name: &str) -> Option<&SourceFile> {
        self.files.iter().find(|f| f.name == name)
    }
}

fn collect_ron(dir: &Path, prefix: &str, out: &mut Vec<(PathBuf, String)>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // Anything but a folder: a dangling link or a special file is read
        // (and reported) instead of silently skipped.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir && path.extension().is_some_and(|e| e == "ron") {
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            out.push((path, name));
        }
    }
    Ok(())
}

fn folder_error(file: &str, message: String, help: &str) -> Box<Diagnostic> {
    Box::new(Diagnostic {
        severity: Severity::Error,
        code: "io",
        message,
        file: file.to_string(),
        line: 1,
        column: 1,
        snippet: None,
        help: Some(help.to_string()),
    })
}

/// A parsed KB: the model plus the sources, for locating problems.
#[derive(Debug, Clone)]
pub struct Kb {
    pub manifest: Manifest,
    pub causes: Vec<Cause>,
    pub evidence: Vec<Evidence>,
    pub rules: Vec<Rule>,
    pub fixes: Vec<Fix>,
    pub collectors: Vec<Collector>,
    pub codes: Codes,
    /// Patterns that turn pasted text into evidence.
    pub patterns: Vec<Pattern>,
    /// What `rootcause scan` reports about an endpoint.
    pub findings: Vec<Finding>,
    /// Cases with the name of the file each came from.
    pub cases: Vec<(String, Case)>,
    /// Real user reports (`reports/*.ron`), in the cases' format: the
    /// measure of `kb test --reports` and `bench fix-steps`, not a
    /// regression gate.
    pub reports: Vec<(String, Case)>,
    pub source: KbSource,
}

impl Kb {
    pub fn cause(&self, id: &str) -> Option<&Cause> {
        self.causes.iter().find(|c| c.id == id)
    }
    pub fn evidence(&self, id: &str) -> Option<&Evidence> {
        self.evidence.iter().find(|e| e.id == id)
    }
    pub fn fix(&self, id: &str) -> Option<&Fix> {
        self.fixes.iter().find(|f| f.id == id)
    }
}

/// Parse every file of a KB source. Returns the KB, or every syntax problem.
pub fn parse(source: KbSource) -> Result<Kb, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    for f in &source.files {
        if !f.name.starts_with("cases/")
            && !f.name.starts_with("reports/")
            && !FILES.iter().any(|(n, _, _)| *n == f.name)
        {
            let mut d = f.diag(
                Severity::Warning,
                "unknown_file",
                0,
                format!("{} is not a KB file and is ignored", f.name),
            );
            d.help = Some(format!(
                "KB files are {}, cases/*.ron and reports/*.ron",
                FILES.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
            ));
            diags.push(d);
        }
    }
    for (name, required, _) in FILES {
        if *required && source.file(name).is_none() {
            diags.push(*folder_error(
                &format!("{}/{name}", source.root),
                format!("{name} is missing from {}", source.root),
                "every KB needs kb.ron, causes.ron, evidence.ron and fixes.ron",
            ));
        }
    }
    let manifest: Option<Manifest> = parse_file(&source, "kb.ron", &mut diags);
    let causes: Option<Vec<Cause>> = parse_file(&source, "causes.ron", &mut diags);
    let evidence: Option<Vec<Evidence>> = parse_file(&source, "evidence.ron", &mut diags);
    let fixes: Option<Vec<Fix>> = parse_file(&source, "fixes.ron", &mut diags);
    let rules: Option<Vec<Rule>> = parse_file(&source, "rules.ron", &mut diags);
    let collectors: Option<Vec<Collector>> = parse_file(&source, "collectors.ron", &mut diags);
    let codes: Option<Codes> = parse_file(&source, "codes.ron", &mut diags);
    let patterns: Option<Vec<Pattern>> = parse_file(&source, "patterns.ron", &mut diags);
    let findings: Option<Vec<Finding>> = parse_file(&source, "findings.ron", &mut diags);
    let mut cases = Vec::new();
    let mut reports = Vec::new();
    for f in &source.files {
        let into = if f.name.starts_with("cases/") {
            &mut cases
        } else if f.name.starts_with("reports/") {
            &mut reports
        } else {
            continue;
        };
        if let Some(list) = parse_text::<Vec<Case>>(f, &mut diags) {
            into.extend(list.into_iter().map(|c| (f.name.clone(), c)));
        }
    }
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    // All required files parsed (an error was reported otherwise).
    let (Some(manifest), Some(causes), Some(evidence), Some(fixes)) =
        (manifest, causes, evidence, fixes)
    else {
        return Err(diags);
    };
    Ok(Kb {
        manifest,
        causes,
        evidence,
        fixes,
        rules: rules.unwrap_or_default(),
        collectors: collectors.unwrap_or_default(),
        codes: codes.unwrap_or_default(),
        patterns: patterns.unwrap_or_default(),
        findings: findings.unwrap_or_default(),
        cases,
        reports,
        source,
    })
}

fn parse_file<T: DeserializeOwned>(
    source: &KbSource,
    name: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    parse_text(source.file(name)?, diags)
}

/// Parse one RON file, turning errors into positioned diagnostics.
pub fn parse_text<T: DeserializeOwned>(f: &SourceFile, diags: &mut Vec<Diagnostic>) -> Option<T> {
    let expected = FILES
        .iter()
        .find(|(n, _, _)| *n == f.name)
        .map_or("a list of cases `[ (name: ..., expect: ...), ... ]`", |x| {
            x.2
        });
    if f.text.trim().is_empty() {
        let mut d = f.diag(
            Severity::Error,
            "empty_file",
            0,
            format!("{} is empty", f.name),
        );
        d.help = Some(format!("it should hold {expected}"));
        diags.push(d);
        return None;
    }
    if let Some(offset) = too_deep(&f.text) {
        diags.push(f.diag(
            Severity::Error,
            "too_deep",
            offset,
            format!("nesting deeper than {MAX_NESTING} levels"),
        ));
        return None;
    }
    let options = ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .with_recursion_limit(MAX_NESTING * 2);
    match options.from_str::<T>(&f.text) {
        Ok(v) => Some(v),
        Err(e) => {
            let pos = e.span.start;
            let offset = f.offset(pos.line, pos.col);
            let mut d = f.diag(Severity::Error, "syntax", offset, e.code.to_string());
            d.help = Some(format!("{} should hold {expected}", f.name));
            diags.push(d);
            None
        }
    }
}

/// Offset of the first bracket beyond [`MAX_NESTING`], ignoring strings.
fn too_deep(text: &str) -> Option<usize> {
    // Bytes, not chars: every byte of a multi-byte UTF-8 character is at
    // least 0x80, so none is a bracket, a quote or a backslash.
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if in_str {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}
