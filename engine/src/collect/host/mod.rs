//! Windows host checks (DESIGN §7): the KB's `HostCommand` collectors.
//!
//! Each check is a PowerShell (or cmd) script declared in `collectors.ron`
//! with a parser: `Json` maps fact names to JSON pointers into the one JSON
//! object the script prints, `Regex` maps fact names to a regular expression
//! whose first capture group is the value. The checks run only on Windows,
//! each as its own `powershell.exe` process with the collector's timeout
//! (the process is killed when it runs over); on every other platform they
//! report "not applicable", and `kb/rdp-0x904/collect.ps1` runs the same
//! scripts on the host and writes a bundle ([`super::bundle`]).
//!
//! Only what the KB declares runs: [`run_checks`] takes the scripts from the
//! engine's KB and nothing else.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;
use regex::Regex;
use serde::Serialize;
use serde_json::Value as Json;

use super::{CollectError, Collected, Facts};
use crate::Engine;
use crate::kb::model::{Collector, CollectorKind, HostCommand, Parser, Value};

mod parse;
mod process;

pub use parse::{is_depth_truncation, parse_output, parse_output_detailed};
pub use process::{
    ProcessOutput, encode_powershell, not_applicable_reason, run_command, shell_command,
};

/// The id [`collect`] reports as its collector.
pub const COLLECTOR_ID: &str = "host_checks";
/// Most bytes kept of a command's stdout (and, separately, stderr).
pub const MAX_OUTPUT: usize = 1 << 20;
/// Longest text fact kept (characters); longer values are cut.
pub const MAX_TEXT_FACT: usize = 4096;
/// How many checks run at the same time on Windows.
const PARALLEL: usize = 4;
/// After a kill, how long to wait for the output pipes to close.
const PIPE_GRACE: Duration = Duration::from_millis(300);

/// Runs before every PowerShell check: no progress records, UTF-8 output.
const POWERSHELL_PREAMBLE: &str = "$ProgressPreference = 'SilentlyContinue'\n\
     try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false } catch { }\n";

/// What one host check did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckRun {
    /// The KB collector id, e.g. `host_rdp_certificate`.
    pub collector: String,
    pub title: String,
    pub status: CheckStatus,
    /// Why it did not run, failed or timed out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub facts: Facts,
    /// Problems that did not stop the check (a value truncated by
    /// `ConvertTo-Json -Depth`, a non-zero exit code with usable output).
    pub warnings: Vec<String>,
    pub seconds: f64,
    /// What the command printed on stdout (at most [`MAX_OUTPUT`] bytes).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub output: String,
}

/// Outcome of a [`CheckRun`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    /// Not on Windows: nothing was run.
    NotApplicable,
    Failed,
    TimedOut,
}

/// Facts parsed from a check's output, with what could not be used.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub facts: Facts,
    pub warnings: Vec<String>,
}

/// The KB's host checks, in KB order.
pub fn host_checks(engine: &Engine) -> Vec<(&Collector, &HostCommand)> {
    engine
        .kb
        .collectors
        .iter()
        .filter_map(|c| match &c.kind {
            CollectorKind::HostCommand(h) => Some((c, h)),
            _ => None,
        })
        .collect()
}

/// Run every host check the KB declares (on Windows), each with its
/// timeout or `timeout_override`. Elsewhere every check is reported as
/// [`CheckStatus::NotApplicable`] and nothing runs.
pub fn run_checks(engine: &Engine, timeout_override: Option<Duration>) -> Vec<CheckRun> {
    let checks = host_checks(engine);
    if let Some(reason) = not_applicable_reason() {
        return checks
            .into_iter()
            .map(|(c, _)| CheckRun {
                collector: c.id.clone(),
                title: c.title.clone(),
                status: CheckStatus::NotApplicable,
                message: Some(reason.clone()),
                facts: Facts::new(),
                warnings: Vec::new(),
                seconds: 0.0,
                output: String::new(),
            })
            .collect();
    }
    let results: Mutex<Vec<Option<CheckRun>>> = Mutex::new(vec![None; checks.len()]);
    let next = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..PARALLEL.min(checks.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((c, h)) = checks.get(i) else { break };
                    let timeout = timeout_override.unwrap_or_else(|| {
                        Duration::from_secs_f64(c.timeout_secs.clamp(0.1, 600.0))
                    });
                    let run = run_check(c, h, timeout);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(run);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

/// Run one host check and parse its output.
pub fn run_check(collector: &Collector, h: &HostCommand, timeout: Duration) -> CheckRun {
    let mut run = CheckRun {
        collector: collector.id.clone(),
        title: collector.title.clone(),
        status: CheckStatus::Failed,
        message: None,
        facts: Facts::new(),
        warnings: Vec::new(),
        seconds: 0.0,
        output: String::new(),
    };
    let cmd = match shell_command(&h.shell, &h.run) {
        Ok(c) => c,
        Err(e) => {
            run.message = Some(e.to_string());
            return run;
        }
    };
    let out = match run_command(cmd, timeout, MAX_OUTPUT) {
        Ok(o) => o,
        Err(e) => {
            run.message = Some(e.to_string());
            return run;
        }
    };
    run.seconds = out.elapsed.as_secs_f64();
    run.output = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = gist(&String::from_utf8_lossy(&out.stderr));
    if out.timed_out {
        run.status = CheckStatus::TimedOut;
        run.message = Some(format!(
            "no result within {:.0} s: the process was killed",
            timeout.as_secs_f64()
        ));
        return run;
    }
    if out.truncated {
        run.warnings
            .push(format!("output longer than {MAX_OUTPUT} bytes was cut"));
    }
    match parse_output_detailed(collector, &run.output) {
        Ok(p) => {
            run.status = CheckStatus::Ok;
            run.facts = p.facts;
            run.warnings.extend(p.warnings);
            if out.code != Some(0) {
                run.warnings.push(format!(
                    "exited with {}{}",
                    exit_text(out.code),
                    if stderr.is_empty() {
                        String::new()
                    } else {
                        format!(": {stderr}")
                    }
                ));
            }
        }
        Err(e) => {
            run.message = Some(if out.code == Some(0) || stderr.is_empty() {
                e.to_string()
            } else {
                format!("{} ({e}): {stderr}", exit_text(out.code))
            });
        }
    }
    run
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(c) => format!("exit code {c}"),
        None => "no exit code".into(),
    }
}

/// The first lines of an error text, on one line.
fn gist(text: &str) -> String {
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(3)
        .collect::<Vec<_>>()
        .join(" / ");
    let mut s: String = joined
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
    if joined.chars().count() > 300 {
        s.push('…');
    }
    s
}

/// Merge the facts of host check runs into one collection, with a warning
/// for every check that failed or timed out.
pub fn collect(engine: &Engine, runs: &[CheckRun]) -> Collected {
    let mut facts = Facts::new();
    let mut warnings = Vec::new();
    let mut not_applicable = None;
    for run in runs {
        match run.status {
            CheckStatus::Ok => {}
            CheckStatus::NotApplicable => {
                not_applicable.get_or_insert_with(|| run.message.clone().unwrap_or_default());
                continue;
            }
            CheckStatus::Failed | CheckStatus::TimedOut => warnings.push(format!(
                "check {} ({}) {}: {}",
                run.collector,
                run.title,
                if run.status == CheckStatus::TimedOut {
                    "timed out"
                } else {
                    "failed"
                },
                run.message.as_deref().unwrap_or("no message")
            )),
        }
        for w in &run.warnings {
            warnings.push(format!("check {}: {w}", run.collector));
        }
        merge_facts(&mut facts, &run.facts, &run.collector, &mut warnings);
    }
    if let Some(reason) = not_applicable {
        warnings.push(format!("host checks {reason}"));
    }
    let ok = runs.iter().filter(|r| r.status == CheckStatus::Ok).count();
    let computer = std::env::var("COMPUTERNAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "this computer".into());
    Collected {
        collector: COLLECTOR_ID.to_string(),
        label: format!(
            "host checks of KB {} on {}: {ok} of {} ran",
            engine.kb.manifest.id,
            computer,
            runs.len()
        ),
        facts,
        warnings,
    }
}

/// Add `new` to `facts`; a fact another check already set keeps its first
/// value (with a warning when the values differ).
pub(crate) fn merge_facts(facts: &mut Facts, new: &Facts, from: &str, warnings: &mut Vec<String>) {
    for (k, v) in new {
        match facts.get(k) {
            Some(old) if old != v => warnings.push(format!(
                "{k}: {from} says {v}, an earlier check said {old}; kept {old}"
            )),
            Some(_) => {}
            None => {
                facts.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse::{is_depth_truncation, text_fact};
    use super::process::{base64, encode_powershell};
    use super::*;
    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        // What `powershell -EncodedCommand` expects for "dir".
        assert_eq!(encode_powershell("dir"), "ZABpAHIA");
    }

    #[test]
    fn regex_values_are_typed() {
        assert_eq!(text_fact(" 120 "), Value::Number(120.0));
        assert_eq!(text_fact("-3.5"), Value::Number(-3.5));
        assert_eq!(text_fact("0x904"), Value::Number(2308.0));
        assert_eq!(text_fact("True"), Value::Bool(true));
        assert_eq!(text_fact("inf"), Value::Text("inf".into()));
        assert_eq!(text_fact("1.2.3"), Value::Text("1.2.3".into()));
    }

    #[test]
    fn truncation_strings() {
        for s in [
            "System.Collections.Hashtable",
            "System.Collections.Specialized.OrderedDictionary",
            "System.Object[]",
            "@{Sid=S-1-5-18; Type=Allow; Rights=2032127}",
        ] {
            assert!(is_depth_truncation(s), "{s}");
        }
        for s in ["Running", "CN=srv01.contoso.com", "System", "S-1-5-20"] {
            assert!(!is_depth_truncation(s), "{s}");
        }
    }
}
