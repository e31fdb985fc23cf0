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

/// Apply a host check's parser to what its command printed.
///
/// JSON values become facts (`true`/`false`, numbers, strings); `null` or a
/// missing member leaves the fact out. A UTF-8 byte order mark and lines
/// printed around the JSON object (warnings) are tolerated; strings that
/// PowerShell writes where `-Depth` cut an object off
/// (`System.Collections.Hashtable`, `@{...}`) are not taken as values. With a
/// `Regex` parser the first capture group is the value; numbers become
/// numbers and `True`/`False` booleans.
pub fn parse_output(collector: &Collector, output: &str) -> Result<Facts, CollectError> {
    parse_output_detailed(collector, output).map(|p| p.facts)
}

/// [`parse_output`], also returning the warnings.
pub fn parse_output_detailed(collector: &Collector, output: &str) -> Result<Parsed, CollectError> {
    let CollectorKind::HostCommand(h) = &collector.kind else {
        return Err(CollectError::Usage(format!(
            "collector `{}` is not a host command",
            collector.id
        )));
    };
    let format_err = |message: String| CollectError::Format {
        path: format!("check {}", collector.id),
        message,
    };
    let text = output.trim_start_matches('\u{feff}');
    let mut parsed = Parsed::default();
    match &h.parse {
        Parser::Json(map) => {
            let doc = json_document(text).map_err(format_err)?;
            for (fact, pointer) in map {
                match doc.pointer(pointer) {
                    Some(v) => match json_fact(v) {
                        Ok(Some(value)) => {
                            parsed.facts.insert(fact.clone(), limit_text(value));
                        }
                        Ok(None) => {}
                        Err(why) => parsed
                            .warnings
                            .push(format!("{fact} ({pointer}) {why}: left out")),
                    },
                    None => {
                        if let Some(prefix) = truncated_prefix(&doc, pointer) {
                            parsed.warnings.push(format!(
                                "{fact} ({pointer}): {prefix} was cut off by ConvertTo-Json -Depth: left out"
                            ));
                        }
                    }
                }
            }
        }
        Parser::Regex(map) => {
            if text.trim().is_empty() {
                return Err(format_err("the command printed nothing".into()));
            }
            for (fact, pattern) in map {
                let re = crate::kb::rules::regex(pattern).map_err(|e| {
                    CollectError::Usage(format!(
                        "collector `{}`: bad regex for `{fact}`: {e}",
                        collector.id
                    ))
                })?;
                if let Some(m) = re
                    .captures(text)
                    .and_then(|c| c.get(1).or_else(|| c.get(0)))
                {
                    parsed
                        .facts
                        .insert(fact.clone(), limit_text(text_fact(m.as_str())));
                }
            }
        }
    }
    Ok(parsed)
}

/// The JSON object in a command's output.
fn json_document(text: &str) -> Result<Json, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("the command printed nothing".into());
    }
    let doc = match serde_json::from_str::<Json>(t) {
        Ok(v) => v,
        Err(first) => {
            // Warnings or host output around the JSON: `-Compress` prints the
            // object on one line, so take the last line that is one; else the
            // span from the first `{` to the last `}`.
            let line = t.lines().rev().find_map(|l| {
                let l = l.trim().trim_start_matches('\u{feff}');
                if l.starts_with('{') {
                    serde_json::from_str::<Json>(l).ok()
                } else {
                    None
                }
            });
            let span = || {
                let (a, b) = (t.find('{')?, t.rfind('}')?);
                (a < b)
                    .then(|| serde_json::from_str::<Json>(&t[a..=b]).ok())
                    .flatten()
            };
            match line.or_else(span) {
                Some(v) => v,
                None => return Err(format!("the output is not JSON ({first})")),
            }
        }
    };
    if !doc.is_object() {
        return Err(format!(
            "expected one JSON object, found {}",
            json_kind(&doc)
        ));
    }
    Ok(doc)
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Strings PowerShell writes for objects deeper than `ConvertTo-Json -Depth`
/// (the object's `ToString()`): a type name or a `@{Name=value; ...}` text.
static TRUNCATED: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"(?s)^(?:(?:System|Microsoft)\.[A-Za-z0-9_.`+#/\[\], ]+|@\{.*\})$")
        .expect("valid regex")
});

/// Whether a JSON string is PowerShell's stand-in for a cut-off object.
pub fn is_depth_truncation(s: &str) -> bool {
    TRUNCATED.is_match(s.trim())
}

fn json_fact(v: &Json) -> Result<Option<Value>, String> {
    match v {
        Json::Null => Ok(None),
        Json::Bool(b) => Ok(Some(Value::Bool(*b))),
        Json::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() => Ok(Some(Value::Number(x))),
            _ => Err("is not a usable number".into()),
        },
        Json::String(s) if is_depth_truncation(s) => Err(format!(
            "is {s:.60?}, an object cut off by ConvertTo-Json -Depth"
        )),
        Json::String(s) => Ok(Some(Value::Text(s.clone()))),
        Json::Array(_) | Json::Object(_) => Err(format!("is {}, not a single value", json_kind(v))),
    }
}

/// The longest prefix of `pointer` that resolves to a depth-truncation string.
fn truncated_prefix(doc: &Json, pointer: &str) -> Option<String> {
    pointer
        .match_indices('/')
        .map(|(i, _)| &pointer[..i])
        .filter(|prefix| !prefix.is_empty())
        .find(
            |prefix| matches!(doc.pointer(prefix), Some(Json::String(s)) if is_depth_truncation(s)),
        )
        .map(str::to_string)
}

/// A regex capture as a typed value.
fn text_fact(raw: &str) -> Value {
    let t = raw.trim();
    if t.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if t.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    let numeric = !t.is_empty()
        && t.chars().any(|c| c.is_ascii_digit())
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
    if numeric
        && let Ok(n) = t.parse::<f64>()
        && n.is_finite()
    {
        return Value::Number(n);
    }
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))
        && !hex.is_empty()
        && hex.len() <= 16
        && let Ok(n) = u64::from_str_radix(hex, 16)
    {
        return Value::Number(n as f64);
    }
    Value::Text(t.to_string())
}

fn limit_text(v: Value) -> Value {
    match v {
        Value::Text(s) if s.chars().count() > MAX_TEXT_FACT => {
            Value::Text(s.chars().take(MAX_TEXT_FACT).collect())
        }
        v => v,
    }
}

// ---------------------------------------------------------------- running

/// What a process printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOutput {
    /// Exit code; `None` when it was killed or ended by a signal.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Output beyond the size limit was dropped.
    pub truncated: bool,
    /// The process outlived its timeout and was killed.
    pub timed_out: bool,
    pub elapsed: Duration,
}

#[derive(Default)]
struct Capture {
    data: Vec<u8>,
    truncated: bool,
}

fn lock(c: &Mutex<Capture>) -> std::sync::MutexGuard<'_, Capture> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

/// Read a pipe to its end, keeping at most `max` bytes (the rest is drained
/// so the child never blocks on a full pipe).
fn spawn_reader(
    mut pipe: impl Read + Send + 'static,
    capture: Arc<Mutex<Capture>>,
    max: usize,
    done: mpsc::Sender<()>,
) {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let mut c = lock(&capture);
                    let room = max.saturating_sub(c.data.len());
                    let keep = n.min(room);
                    c.data.extend_from_slice(&buf[..keep]);
                    if keep < n {
                        c.truncated = true;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = done.send(());
    });
}

/// Run a command with a time limit, capturing stdout and stderr (at most
/// `max_output` bytes each; stdin is empty).
///
/// When the command outlives `timeout` it is killed: on Unix its whole
/// process group (the child is made a group leader, so a shell's children go
/// too), on Windows its process tree. The call returns within about
/// `timeout` plus a fraction of a second even if a grandchild keeps the
/// output pipes open. Generic on purpose: the tests run it with `sh -c`.
pub fn run_command(
    mut cmd: Command,
    timeout: Duration,
    max_output: usize,
) -> Result<ProcessOutput, CollectError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let program = cmd.get_program().to_string_lossy().into_owned();
    let start = Instant::now();
    let deadline = start + timeout;
    let mut child = cmd.spawn().map_err(|source| CollectError::Io {
        path: program,
        source,
    })?;
    let out = Arc::new(Mutex::new(Capture::default()));
    let err = Arc::new(Mutex::new(Capture::default()));
    let (done_tx, done_rx) = mpsc::channel();
    let mut readers = 0;
    if let Some(p) = child.stdout.take() {
        spawn_reader(p, out.clone(), max_output, done_tx.clone());
        readers += 1;
    }
    if let Some(p) = child.stderr.take() {
        spawn_reader(p, err.clone(), max_output, done_tx.clone());
        readers += 1;
    }
    drop(done_tx);

    let mut timed_out = false;
    let mut poll = Duration::from_millis(1);
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code(),
            Ok(None) => {}
            Err(_) => {
                kill_tree(&mut child);
                let _ = child.wait();
                break None;
            }
        }
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            kill_tree(&mut child);
            let _ = child.wait();
            break None;
        }
        thread::sleep(poll.min(deadline - now));
        poll = (poll * 2).min(Duration::from_millis(20));
    };

    // The pipes close when every process holding them has ended. A process
    // the command left behind may keep them open: wait until the deadline,
    // then kill the group and stop waiting.
    let mut limit = if timed_out {
        Instant::now() + PIPE_GRACE
    } else {
        deadline.max(Instant::now())
    };
    let mut killed_rest = timed_out;
    while readers > 0 {
        let now = Instant::now();
        if now >= limit {
            if killed_rest {
                break;
            }
            killed_rest = true;
            kill_group(&child);
            limit = Instant::now() + PIPE_GRACE;
            continue;
        }
        match done_rx.recv_timeout(limit - now) {
            Ok(()) => readers -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let (stdout, t1) = {
        let c = lock(&out);
        (c.data.clone(), c.truncated)
    };
    let (stderr, t2) = {
        let c = lock(&err);
        (c.data.clone(), c.truncated)
    };
    Ok(ProcessOutput {
        code,
        stdout,
        stderr,
        truncated: t1 || t2,
        timed_out,
        elapsed: start.elapsed(),
    })
}

/// Kill the child and what it started.
fn kill_tree(child: &mut Child) {
    kill_group(child);
    let _ = child.kill();
}

#[cfg(unix)]
fn kill_group(child: &Child) {
    // The child leads its own process group (`process_group(0)`).
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", child.id())])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(windows)]
fn kill_group(child: &Child) {
    use std::os::windows::process::CommandExt;
    let taskkill = system32("taskkill.exe");
    let spawned = Command::new(taskkill)
        .args(["/PID", &child.id().to_string(), "/T", "/F"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .creation_flags(CREATE_NO_WINDOW)
        .spawn();
    if let Ok(mut k) = spawned {
        let until = Instant::now() + Duration::from_millis(700);
        while Instant::now() < until {
            if let Ok(Some(_)) = k.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = k.kill();
    }
}

#[cfg(not(any(unix, windows)))]
fn kill_group(_child: &Child) {}

#[cfg(windows)]
const CREATE_NO_WINDOW: u32 = 0x0800_0000;

/// `%SystemRoot%\System32\<exe>` (never a program found through PATH).
#[cfg_attr(not(windows), allow(dead_code))]
fn system32(exe: &str) -> String {
    let root = std::env::var("SystemRoot").unwrap_or_else(|_| r"C:\Windows".to_string());
    format!(r"{root}\System32\{exe}")
}

/// The process that runs a host check's script.
///
/// PowerShell: `powershell.exe -NoProfile -NonInteractive -ExecutionPolicy
/// Bypass -OutputFormat Text -EncodedCommand <base64 of UTF-16LE script>`.
/// `-EncodedCommand` carries the script exactly (no quoting rules of the
/// Windows command line get in the way of its quotes and backslashes); a
/// short preamble turns off progress output and sets UTF-8 output. Cmd:
/// `cmd.exe /d /s /c "<run>"`.
pub fn shell_command(shell: &str, run: &str) -> Result<Command, CollectError> {
    if shell.eq_ignore_ascii_case("powershell") {
        let script = format!("{POWERSHELL_PREAMBLE}{run}");
        let mut cmd = Command::new(system32(r"WindowsPowerShell\v1.0\powershell.exe"));
        cmd.args([
            "-NoProfile",
            "-NonInteractive",
            "-ExecutionPolicy",
            "Bypass",
            "-OutputFormat",
            "Text",
            "-EncodedCommand",
            &encode_powershell(&script),
        ]);
        #[cfg(windows)]
        {
            use std::os::windows::process::CommandExt;
            cmd.creation_flags(CREATE_NO_WINDOW);
        }
        Ok(cmd)
    } else if shell.eq_ignore_ascii_case("cmd") {
        let mut cmd = Command::new(system32("cmd.exe"));
        #[cfg(windows)]
        {
            use std::os::windows::process::CommandExt;
            cmd.creation_flags(CREATE_NO_WINDOW);
            cmd.args(["/d", "/s", "/c"]);
            cmd.raw_arg(format!("\"{run}\""));
        }
        #[cfg(not(windows))]
        cmd.args(["/d", "/s", "/c", run]);
        Ok(cmd)
    } else {
        Err(CollectError::Usage(format!(
            "unknown shell `{shell}` (PowerShell or Cmd)"
        )))
    }
}

/// Base64 of the script as UTF-16LE, what `-EncodedCommand` expects.
pub fn encode_powershell(script: &str) -> String {
    let bytes: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    base64(&bytes)
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Why host checks do not run here, or `None` on Windows.
pub fn not_applicable_reason() -> Option<String> {
    if cfg!(windows) {
        None
    } else {
        Some(format!(
            "not applicable: host checks run only on Windows (this is {}); run kb/rdp-0x904/collect.ps1 on the host and read its bundle with `rootcause collect --bundle FILE`",
            std::env::consts::OS
        ))
    }
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
