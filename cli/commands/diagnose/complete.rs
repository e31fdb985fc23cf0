//! Tab completion and hints for the REPL: command names, answer values,
//! and cause / fix / evidence ids as each command's arguments.

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

/// A REPL command: name, argument synopsis, one-line help.
pub struct CommandSpec {
    pub name: &'static str,
    pub args: &'static str,
    pub help: &'static str,
    /// What its first argument completes to.
    pub arg: ArgKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    None,
    Cause,
    Fix,
    Evidence,
    Observation,
    ReportFormat,
    File,
}

/// Every command, in the order `:help` lists them. Collector commands slot
/// in here with an `ArgKind` of their own.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: ":help",
        args: "",
        help: "list the commands",
        arg: ArgKind::None,
    },
    CommandSpec {
        name: ":why",
        args: "[EVIDENCE]",
        help: "why this question: information gain, cost, what each answer would do",
        arg: ArgKind::Evidence,
    },
    CommandSpec {
        name: ":explain",
        args: "[CAUSE]",
        help: "how the ranking came about: each answer's weight for a cause (default: the top one)",
        arg: ArgKind::Cause,
    },
    CommandSpec {
        name: ":whynot",
        args: "CAUSE",
        help: "what counts against a cause and which answers would raise it",
        arg: ArgKind::Cause,
    },
    CommandSpec {
        name: ":rank",
        args: "",
        help: "the full ranking",
        arg: ArgKind::None,
    },
    CommandSpec {
        name: ":fixes",
        args: "",
        help: "the fix plan with steps and commands",
        arg: ArgKind::None,
    },
    CommandSpec {
        name: ":tried",
        args: "FIX worked|failed",
        help: "report the result of a fix",
        arg: ArgKind::Fix,
    },
    CommandSpec {
        name: ":back",
        args: "",
        help: "undo the last answer",
        arg: ArgKind::None,
    },
    CommandSpec {
        name: ":skip",
        args: "",
        help: "answer the current question with unknown (same as ?)",
        arg: ArgKind::None,
    },
    CommandSpec {
        name: ":observe",
        args: "ID=VALUE",
        help: "record any answer, asked or not",
        arg: ArgKind::Observation,
    },
    CommandSpec {
        name: ":save",
        args: "FILE",
        help: "save the session (atomically)",
        arg: ArgKind::File,
    },
    CommandSpec {
        name: ":load",
        args: "FILE",
        help: "load a saved session",
        arg: ArgKind::File,
    },
    CommandSpec {
        name: ":report",
        args: "md|html|json [FILE]",
        help: "print or write a report for a ticket",
        arg: ArgKind::ReportFormat,
    },
    CommandSpec {
        name: ":events",
        args: "FILE...",
        help: "read Windows event logs (.evtx, wevtutil XML, Get-WinEvent JSON) and use what they show",
        arg: ArgKind::File,
    },
    CommandSpec {
        name: ":bundle",
        args: "FILE",
        help: "read a host evidence bundle written by collect.ps1",
        arg: ArgKind::File,
    },
    CommandSpec {
        name: ":paste",
        args: "[TEXT]",
        help: "paste an error dialog, an event or a command's output (several lines: end with an empty line); the facts in it are used",
        arg: ArgKind::None,
    },
    CommandSpec {
        name: ":intake",
        args: "[CHOICES]",
        help: "the first screen again: what the error dialog says and what changed, several facts in one answer (e.g. :intake 1 update)",
        arg: ArgKind::None,
    },
    CommandSpec {
        name: ":changed",
        args: "[CHOICE,...]",
        help: "what changed recently (update, certificate, antivirus, policy, network): several facts in one answer",
        arg: ArgKind::None,
    },
    CommandSpec {
        name: ":probe",
        args: "HOST[:PORT]",
        help: "probe an RDP endpoint (TCP, negotiation, TLS, certificate) and use what it finds",
        arg: ArgKind::None,
    },
    CommandSpec {
        name: ":restart",
        args: "",
        help: "start over",
        arg: ArgKind::None,
    },
    CommandSpec {
        name: ":quit",
        args: "",
        help: "leave (also Ctrl-D)",
        arg: ArgKind::None,
    },
];

pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// What completion can offer; the REPL refreshes it before each prompt.
#[derive(Default)]
pub struct ReplHelper {
    pub answers: Vec<String>,
    pub causes: Vec<String>,
    pub fixes: Vec<String>,
    /// Evidence ids with their values.
    pub evidence: Vec<(String, Vec<String>)>,
}

fn pairs<'a>(items: impl IntoIterator<Item = &'a str>, prefix: &str) -> Vec<Pair> {
    items
        .into_iter()
        .filter(|s| s.starts_with(prefix))
        .map(|s| Pair {
            display: s.to_string(),
            replacement: s.to_string(),
        })
        .collect()
}

impl ReplHelper {
    fn candidates(&self, line: &str) -> (usize, Vec<Pair>) {
        let word_start = line.rfind(' ').map_or(0, |i| i + 1);
        let word = &line[word_start..];
        let words: Vec<&str> = line.split_whitespace().collect();
        if !line.starts_with(':') {
            let mut values: Vec<&str> = self.answers.iter().map(String::as_str).collect();
            values.push("unknown");
            return (word_start, pairs(values, word));
        }
        if word_start == 0 {
            return (0, pairs(COMMANDS.iter().map(|c| c.name), word));
        }
        let Some(cmd) = find(words[0]) else {
            return (word_start, Vec::new());
        };
        let arg_index = if line.ends_with(' ') {
            words.len() - 1
        } else {
            words.len() - 2
        };
        let list: Vec<&str> = match (cmd.arg, arg_index) {
            (ArgKind::Cause, 0) => self.causes.iter().map(String::as_str).collect(),
            (ArgKind::Fix, 0) => self.fixes.iter().map(String::as_str).collect(),
            (ArgKind::Fix, 1) => vec!["worked", "failed"],
            (ArgKind::Evidence, 0) => self.evidence.iter().map(|(e, _)| e.as_str()).collect(),
            (ArgKind::ReportFormat, 0) => vec!["md", "html", "json"],
            (ArgKind::Observation, 0) => {
                if let Some((id, partial)) = word.split_once('=') {
                    let start = word_start + id.len() + 1;
                    let values = self
                        .evidence
                        .iter()
                        .find(|(e, _)| e == id)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    let mut v: Vec<&str> = values.iter().map(String::as_str).collect();
                    v.push("unknown");
                    return (start, pairs(v, partial));
                }
                return (
                    word_start,
                    self.evidence
                        .iter()
                        .filter(|(e, _)| e.starts_with(word))
                        .map(|(e, _)| Pair {
                            display: e.clone(),
                            replacement: format!("{e}="),
                        })
                        .collect(),
                );
            }
            _ => Vec::new(),
        };
        (word_start, pairs(list, word))
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        Ok(self.candidates(&line[..pos]))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
    /// After a complete command name, show its arguments.
    fn hint(&self, line: &str, pos: usize, _: &Context<'_>) -> Option<String> {
        if pos != line.len() {
            return None;
        }
        let cmd = find(line.trim_end())?;
        if cmd.args.is_empty() {
            return None;
        }
        Some(if line.ends_with(' ') {
            cmd.args.to_string()
        } else {
            format!(" {}", cmd.args)
        })
    }
}

impl Highlighter for ReplHelper {}
impl Validator for ReplHelper {}
impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ReplHelper {
        ReplHelper {
            answers: vec!["yes".into(), "no".into()],
            causes: vec!["rdp_certificate_invalid".into(), "mtu_mismatch".into()],
            fixes: vec!["regenerate_rdp_certificate".into()],
            evidence: vec![("connection_path".into(), vec!["lan".into(), "vpn".into()])],
        }
    }

    fn names(line: &str) -> Vec<String> {
        helper()
            .candidates(line)
            .1
            .into_iter()
            .map(|p| p.replacement)
            .collect()
    }

    #[test]
    fn completes_commands_values_and_ids() {
        assert_eq!(names(":ex"), vec![":explain"]);
        assert_eq!(names("y"), vec!["yes"]);
        assert_eq!(names(":whynot rdp"), vec!["rdp_certificate_invalid"]);
        assert_eq!(names(":tried regenerate_rdp_certificate w"), vec!["worked"]);
        assert_eq!(names(":observe conn"), vec!["connection_path="]);
        assert_eq!(names(":observe connection_path=v"), vec!["vpn"]);
        assert_eq!(names(":report "), vec!["md", "html", "json"]);
    }
}
