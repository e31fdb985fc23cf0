//! `rootcause scan TARGET...`: the RDP probe over many hosts, ports and
//! CIDR blocks at once, each endpoint's facts judged by the KB's
//! `findings.ron`; a table, JSON lines, CSV, Markdown or Prometheus text;
//! an exit code for cron, CI and monitoring checks.

mod output;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rootcause_engine::collect::scan::{self, Options, Probed, Targets, targets};
use rootcause_engine::kb::model::Level;
use rootcause_engine::session::ScanSettings;

use crate::shared::{atomic, engine, render};
use output::{Row, Tally};

/// Exit code of a scan stopped by Ctrl-C before it found anything.
const INTERRUPTED: u8 = 130;

#[derive(Args)]
pub struct ScanArgs {
    /// Hosts, HOST:PORT, [IPv6]:PORT, or CIDR blocks (10.0.0.0/24, 2001:db8::/120)
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
    /// Read more targets from FILE, one per line (`#` starts a comment)
    #[arg(short = 'i', long = "input", value_name = "FILE")]
    input: Vec<PathBuf>,
    /// Ports for targets without their own (comma-separated)
    #[arg(
        long,
        value_name = "PORT,...",
        value_delimiter = ',',
        default_value = "3389"
    )]
    port: Vec<u16>,
    /// Endpoints probed at once (default: 64 per core, 32 to 512)
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Timeout of each probe step in seconds (an endpoint costs at most 3 steps)
    #[arg(long, value_name = "SECS", default_value_t = 3.0)]
    timeout: f64,
    /// At most this many new connections per second, over all endpoints
    #[arg(long, value_name = "N")]
    rate: Option<f64>,
    /// Warn when a certificate expires within this many days
    #[arg(long, value_name = "DAYS", default_value_t = 30.0)]
    warn_days: f64,
    /// CA-issued certificates are expected: self-signed or misnamed ones are warnings
    #[arg(long)]
    expect_ca: bool,
    /// Output format (default: table on a terminal, json otherwise)
    #[arg(long, value_parser = ["table", "json", "csv", "markdown", "prometheus"])]
    format: Option<String>,
    /// Exit with 1 when something at or above this severity is found
    #[arg(long, value_name = "SEVERITY", default_value = "warning", value_parser = ["critical", "warning", "info", "never"])]
    fail_on: String,
    /// Accept blocks larger than /16 (IPv4) or /112 (IPv6)
    #[arg(long)]
    allow_large: bool,
    /// Write the output to FILE (replaced atomically when complete) instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Table: list every endpoint (by default: those with a warning or worse, and those that answered)
    #[arg(long)]
    all: bool,
    /// Knowledge-base folder (default: the embedded rdp-0x904 KB)
    #[arg(long, value_name = "DIR")]
    kb: Option<PathBuf>,
}

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

extern "C" fn on_interrupt(_: libc::c_int) {
    if let Some(s) = STOP.get() {
        s.store(true, Ordering::Relaxed);
    }
    // A second Ctrl-C ends the process at once.
    // SAFETY: signal() is async-signal-safe; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

fn catch_interrupt() -> Arc<AtomicBool> {
    let stop = STOP
        .get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone();
    #[cfg(unix)]
    // SAFETY: the handler only stores to an atomic and resets itself.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    stop
}

fn read_targets(args: &ScanArgs) -> Result<Targets> {
    let mut list = Vec::new();
    for t in &args.targets {
        list.push(targets::parse(t, args.allow_large)?);
    }
    for f in &args.input {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        list.extend(targets::parse_file(
            &f.display().to_string(),
            &text,
            args.allow_large,
        )?);
    }
    if list.is_empty() {
        bail!("no targets: name hosts, HOST:PORT or CIDR blocks, or -i FILE");
    }
    if args.port.is_empty() || args.port.contains(&0) {
        bail!("--port takes ports from 1 to 65535");
    }
    Ok(Targets::new(list, args.port.clone()))
}

fn options(args: &ScanArgs) -> Result<Options> {
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 600.0) {
        bail!("--timeout takes seconds between 0 and 600");
    }
    if let Some(r) = args.rate
        && !(r.is_finite() && r > 0.0)
    {
        bail!("--rate takes a positive number of connections per second");
    }
    let concurrency = args.concurrency.unwrap_or_else(scan::default_concurrency);
    if concurrency == 0 || concurrency > 4096 {
        bail!("--concurrency takes 1 to 4096");
    }
    Ok(Options {
        step_timeout: Duration::from_secs_f64(args.timeout),
        concurrency,
        rate: args.rate,
    })
}

fn progress(total: u128) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(
        Some(total.min(u128::from(u64::MAX)) as u64),
        ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {pos}/{len} endpoints  {per_sec}  eta {eta}  {msg}")
    {
        pb.set_style(style);
    }
    // Redrawn while slow endpoints keep the count still.
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Where streamed lines go: stdout as they come, or a buffer for `-o`.
struct Sink {
    buffer: Option<String>,
}

impl Sink {
    fn line(&mut self, pb: &ProgressBar, text: &str) -> Result<()> {
        match &mut self.buffer {
            Some(b) => {
                b.push_str(text);
                b.push('\n');
                Ok(())
            }
            None => pb
                .suspend(|| {
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "{text}").and_then(|()| out.flush())
                })
                .context("writing to stdout"),
        }
    }
}

pub fn run(args: ScanArgs) -> Result<ExitCode> {
    let engine = match engine::load_engine(args.kb.as_deref()) {
        Ok(e) => e,
        Err(code) => return Ok(code),
    };
    let targets = Arc::new(read_targets(&args)?);
    let options = options(&args)?;
    let format = args.format.clone().unwrap_or_else(|| {
        if args.output.is_none() && std::io::stdout().is_terminal() {
            "table".into()
        } else {
            "json".into()
        }
    });
    let fail_on = Level::parse(&args.fail_on);
    let settings = ScanSettings {
        warn_days: args.warn_days,
        expect_ca: args.expect_ca,
    };
    let stop = catch_interrupt();
    let pb = progress(targets.len());
    let mut sink = Sink {
        buffer: args.output.as_ref().map(|_| String::new()),
    };
    if format == "csv" {
        sink.line(&pb, output::CSV_HEADER)?;
    }
    let streaming = matches!(format.as_str(), "json" | "csv");
    let mut tally = Tally::default();
    let mut rows = Vec::new();
    let mut failed = None;
    let ran = scan::run(targets, &options, &stop, |p: Probed| {
        let verdict = engine.scan_findings(&p.report.facts, &settings, p.endpoint.named);
        let row = Row {
            endpoint: p.endpoint,
            address: p.report.address,
            facts: p.report.facts,
            verdict,
            elapsed_ms: p.report.elapsed_ms,
        };
        tally.add(&row);
        pb.inc(1);
        pb.set_message(format!(
            "{} critical  {} warning",
            tally.by_severity.get("critical").unwrap_or(&0),
            tally.by_severity.get("warning").unwrap_or(&0)
        ));
        let written = match format.as_str() {
            "json" => sink.line(&pb, &output::endpoint_json(&row).to_string()),
            "csv" => sink.line(&pb, &output::csv_row(&row)),
            _ => Ok(()),
        };
        if let Err(e) = written {
            // Stdout is gone: stop probing, report it once.
            stop.store(true, Ordering::Relaxed);
            failed.get_or_insert(e);
        }
        if !streaming {
            rows.push(row);
        }
    });
    pb.finish_and_clear();
    if let Some(e) = failed {
        return Err(e);
    }
    let found = matches!((tally.worst, fail_on), (Some(w), Some(f)) if w >= f);
    let code = if found {
        1
    } else if ran.interrupted {
        INTERRUPTED
    } else {
        0
    };
    let tail = match format.as_str() {
        "json" => output::summary_json(&tally, &ran, fail_on, code).to_string() + "\n",
        "csv" => String::new(),
        "table" => {
            let color = args.output.is_none() && render::stdout_color();
            if !args.all {
                rows.retain(|r| {
                    r.verdict.severity.is_some_and(|s| s > Level::Info)
                        || r.facts
                            .get("probe.tcp")
                            .is_some_and(|t| t.as_text() == "ok")
                });
            }
            output::table(&mut rows, &tally, &ran, color)
        }
        "markdown" => output::markdown(&engine, &mut rows, &tally, &ran, &now_utc()),
        _ => output::prometheus(&rows, &ran),
    };
    match (&args.output, sink.buffer) {
        (Some(path), Some(mut text)) => {
            text.push_str(&tail);
            atomic::write(path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(tail.as_bytes())
                .and_then(|()| out.flush())
                .context("writing to stdout")?;
        }
    }
    if format != "table" && format != "json" && std::io::stderr().is_terminal() {
        eprintln!("{}", tally.line(&ran));
    }
    Ok(ExitCode::from(code))
}

fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    rootcause_engine::collect::rdp_probe::format_unix(secs)
}
