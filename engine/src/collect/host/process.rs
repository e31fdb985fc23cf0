//! Running a check's command: the shell, the PowerShell preamble and encoding, captured output bounded in bytes, a deadline, and the whole process tree killed when it passes.

use super::*;

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
pub(super) struct Capture {
    pub(super) data: Vec<u8>,
    pub(super) truncated: bool,
}

pub(super) fn lock(c: &Mutex<Capture>) -> std::sync::MutexGuard<'_, Capture> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

/// Read a pipe to its end, keeping at most `max` bytes (the rest is drained
/// so the child never blocks on a full pipe).
pub(super) fn spawn_reader(
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
pub(super) fn kill_tree(child: &mut Child) {
    kill_group(child);
    let _ = child.kill();
}

#[cfg(unix)]
pub(super) fn kill_group(child: &Child) {
    // The child leads its own process group (`process_group(0)`).
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", child.id())])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(windows)]
pub(super) fn kill_group(child: &Child) {
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
pub(super) fn kill_group(_child: &Child) {}

#[cfg(windows)]
pub(super) const CREATE_NO_WINDOW: u32 = 0x0800_0000;

/// `%SystemRoot%\System32\<exe>` (never a program found through PATH).
#[cfg_attr(not(windows), allow(dead_code))]
pub(super) fn system32(exe: &str) -> String {
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

pub(super) fn base64(bytes: &[u8]) -> String {
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
