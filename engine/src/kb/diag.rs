//! Diagnostics: problems found in a KB, each with a file:line:column.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a KB file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable machine-readable kind, e.g. `duplicate_id`, `syntax`.
    pub code: &'static str,
    pub message: String,
    /// Path of the file as given (relative to the KB folder's parent).
    pub file: String,
    /// 1-based line and column (characters).
    pub line: usize,
    pub column: usize,
    /// The offending source line, for a caret display.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}[{}]: {}",
            self.file, self.line, self.column, self.code, self.message
        )
    }
}

/// A text file with a line index, for turning byte offsets into positions.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Display path, e.g. `kb/rdp-0x904/causes.ron`.
    pub path: String,
    /// Path relative to the KB folder, e.g. `causes.ron`, `cases/net.ron`.
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            path: path.into(),
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// 1-based (line, column) of a byte offset; columns count characters.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }

    /// The text of a 1-based line, without its newline.
    pub fn line_text(&self, line: usize) -> Option<&str> {
        let start = *self.line_starts.get(line.checked_sub(1)?)?;
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&e| e.saturating_sub(1));
        self.text.get(start..end).map(|s| s.trim_end_matches('\r'))
    }

    /// Byte offset of a 1-based (line, column).
    pub fn offset(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        rest.char_indices()
            .nth(col.saturating_sub(1))
            .map_or(self.text.len(), |(i, _)| start + i)
    }

    /// A diagnostic at a byte offset of this file.
    pub fn diag(
        &self,
        severity: Severity,
        code: &'static str,
        offset: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, column) = self.position(offset);
        Diagnostic {
            severity,
            code,
            message: message.into(),
            file: self.path.clone(),
            line,
            column,
            snippet: self.line_text(line).map(str::to_string),
            help: None,
        }
    }

    /// Byte offset where the entity with this `id` is defined (`id: "X"`),
    /// or where the string literal `"X"` first appears.
    pub fn find_id(&self, id: &str) -> Option<usize> {
        let quoted = format!("\"{id}\"");
        let mut first = None;
        for (i, _) in self.text.match_indices(&quoted) {
            first.get_or_insert(i);
            let before = self.text[..i].trim_end();
            if let Some(b) = before.strip_suffix(':') {
                let b = b.trim_end();
                if b.ends_with("id") || b.ends_with("name") {
                    return Some(i);
                }
            }
        }
        first
    }

    /// Where the entity starting at `start` ends: the next `id:` or `name:`
    /// key (the next entity of a list), or the end of the file.
    pub fn entity_end(&self, start: usize) -> usize {
        static KEY: once_cell::sync::Lazy<regex::Regex> = once_cell::sync::Lazy::new(|| {
            regex::Regex::new(r#"\b(id|name)\s*:\s*""#).expect("valid regex")
        });
        let from = (start + 1).min(self.text.len());
        let from = (from..=self.text.len())
            .find(|&i| self.text.is_char_boundary(i))
            .unwrap_or(self.text.len());
        KEY.find_at(&self.text, from)
            .map_or(self.text.len(), |m| m.start())
    }

    /// Offset of `needle` inside the entity starting at `start`: the quoted
    /// string `"needle"`, else the field `needle:`; `start` when absent.
    pub fn find_in_entity(&self, start: usize, needle: &str) -> usize {
        let end = self.entity_end(start);
        let block = self.text.get(start..end).unwrap_or("");
        if let Some(i) = block.find(&format!("\"{needle}\"")) {
            return start + i;
        }
        let mut from = 0;
        while let Some(i) = block[from..].find(needle) {
            let at = from + i;
            let before_ok =
                at == 0 || !block[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
            let after = block[at + needle.len()..].trim_start();
            if before_ok && after.starts_with(':') {
                return start + at;
            }
            from = at + needle.len();
        }
        start
    }

    /// Offset of `needle` at or after `from`, or `from` when absent.
    pub fn find_after(&self, from: usize, needle: &str) -> usize {
        self.text
            .get(from..)
            .and_then(|rest| rest.find(needle))
            .map_or(from, |i| from + i)
    }

    /// Offset of the quoted string `"s"` at or after `from` (or `from`).
    pub fn find_str_after(&self, from: usize, s: &str) -> usize {
        self.find_after(from, &format!("\"{s}\""))
    }
}
