//! `rootcause`: the command line of the troubleshooting expert system.
//!
//! The binary is a thin shell over `rootcause-engine`: it parses arguments,
//! reads files and terminals, and prints. It knows nothing of probability.

mod commands;
mod shared;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use commands::{bench, collect, decode, diagnose, json, kb, mcp, probe, scan};
use shared::engine;

#[derive(Parser)]
#[command(
    name = "rootcause",
    version,
    about = "Troubleshooting expert system: ranks root causes, asks the most informative question, orders fixes",
    long_about = "Troubleshooting expert system. Without --kb it uses the embedded knowledge base \
                  for Remote Desktop error 0x904 / extended 0x7."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct KbArg {
    /// Knowledge-base folder (default: the embedded rdp-0x904 KB)
    #[arg(long, value_name = "DIR")]
    kb: Option<PathBuf>,
}

#[derive(Args)]
struct McpArgs {
    #[command(flatten)]
    kb: KbArg,
    /// List the `probe_rdp` tool, for these hosts and CIDR blocks only (comma-separated)
    #[arg(long, value_name = "HOST,CIDR,...")]
    allow_probe: Vec<String>,
    /// Serve streamable HTTP on this address (e.g. 127.0.0.1:8808) instead of stdio
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// Require `Authorization: Bearer TOKEN` (needed to bind a non-loopback address)
    #[arg(long, env = "ROOTCAUSE_MCP_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// File holding the key that signs session tokens (default: $ROOTCAUSE_SESSION_KEY, else a key for this process only)
    #[arg(long, value_name = "FILE")]
    session_key_file: Option<PathBuf>,
    /// Largest HTTP request body, in bytes
    #[arg(long, default_value_t = 2 << 20)]
    max_body: usize,
    /// HTTP requests handled at once; more get 503
    #[arg(long, default_value_t = 256)]
    max_concurrent: usize,
    /// Seconds an idle HTTP connection is kept
    #[arg(long, default_value_t = 30.0)]
    idle_timeout: f64,
}

#[derive(Subcommand)]
enum Command {
    /// Diagnose interactively: answers in, ranked causes and fixes out
    Diagnose(diagnose::DiagnoseArgs),
    /// Serve the JSON lines protocol on stdin/stdout (for chatbots and scripts)
    Json {
        #[command(flatten)]
        kb: KbArg,
        /// Let the `collect` op probe these hosts and CIDR blocks (comma-separated); nothing else runs
        #[arg(long, value_name = "HOST,CIDR,...")]
        allow_probe: Vec<String>,
    },
    /// Serve the engine as an MCP server (Model Context Protocol) on stdio or streamable HTTP
    Mcp(McpArgs),
    /// Knowledge-base tools for contributors
    #[command(subcommand)]
    Kb(KbCommand),
    /// Probe a remote endpoint
    #[command(subcommand)]
    Probe(ProbeCommand),
    /// Scan many RDP endpoints (hosts, ports, CIDR blocks) and report what the KB finds: expiring certificates, weak security, closed ports
    #[command(
        after_help = "Exit status: 0 nothing at or above --fail-on was found, 1 something was, 2 usage or I/O error, 130 interrupted before anything was found."
    )]
    Scan(scan::ScanArgs),
    /// Read event logs or a host evidence bundle: facts and the evidence they imply
    Collect {
        /// .evtx, wevtutil XML or Get-WinEvent JSON files
        #[arg(long, value_name = "FILE", num_args = 1..)]
        events: Vec<PathBuf>,
        /// The JSON bundle written by kb/rdp-0x904/collect.ps1
        #[arg(long, value_name = "FILE")]
        bundle: Option<PathBuf>,
        /// Print JSON
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        kb: KbArg,
    },
    /// Measure diagnostic efficiency
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Explain an mstsc disconnect code and extended code, e.g. `decode 0x904 0x7`
    Decode {
        /// Disconnect code, hex (0x904) or decimal (2308)
        code: String,
        /// Extended (ERRINFO) code
        extended: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        kb: KbArg,
    },
}

#[derive(Subcommand)]
enum ProbeCommand {
    /// TCP, X.224 negotiation, TLS and certificate of an RDP endpoint
    Rdp {
        /// HOST, HOST:PORT or [IPv6]:PORT (default port 3389)
        target: String,
        /// Print one JSON object: facts, evidence, full report
        #[arg(long)]
        json: bool,
        /// Timeout of each step in seconds (the whole probe is bounded by 5x)
        #[arg(long, default_value_t = 3.0)]
        timeout: f64,
        #[command(flatten)]
        kb: KbArg,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Steps to a working fix for users who follow the advice: the KB's cases and simulated users
    FixSteps {
        /// Number of simulated users
        #[arg(long, default_value_t = 5_000)]
        cases: usize,
        /// Runs per KB case (whether a fix works is drawn)
        #[arg(long, default_value_t = 100)]
        repeats: usize,
        /// Use the KB's cases/ instead of its real reports (reports/)
        #[arg(long)]
        cases_folder: bool,
        /// Only reports (or cases) whose name or file contains this (e.g. held_out.ron)
        #[arg(long)]
        filter: Option<String>,
        /// Random seed (same seed, same runs)
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print JSON
        #[arg(long)]
        json: bool,
        /// Also print each report's first run step by step
        #[arg(long)]
        trace: bool,
        #[command(flatten)]
        kb: KbArg,
    },
    /// Simulate diagnoses: the engine against a fixed checklist and the entropy bound
    Simulate {
        /// Number of simulated cases
        #[arg(long, default_value_t = 10_000)]
        cases: usize,
        /// Random seed (same seed, same cases)
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print JSON
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        kb: KbArg,
    },
}

#[derive(Subcommand)]
enum KbCommand {
    /// Validate a KB: exit 0 when valid, 1 with every problem listed
    Check {
        /// KB folder (default: the embedded KB)
        dir: Option<PathBuf>,
        /// Fail on warnings too
        #[arg(long)]
        deny_warnings: bool,
        /// One JSON diagnostic per line
        #[arg(long)]
        json: bool,
    },
    /// Run the KB's cases, all answers at once and interactively
    Test {
        /// KB folder (default: the embedded KB)
        dir: Option<PathBuf>,
        /// Only cases (or reports) whose name or file contains this text
        #[arg(long)]
        filter: Option<String>,
        /// Run the real user reports (reports/) instead and print how often
        /// the confirmed cause ranks first and in the top 3 (a measure, not a gate)
        #[arg(long)]
        reports: bool,
        /// One JSON result per line
        #[arg(long)]
        json: bool,
    },
    /// How well the KB tells causes apart, and where it needs a new question
    Stats {
        /// KB folder (default: the embedded KB)
        dir: Option<PathBuf>,
        /// Simulated diagnoses per cause
        #[arg(long, default_value_t = 100)]
        runs: usize,
        /// How many of the hardest pairs to list
        #[arg(long, default_value_t = 12)]
        pairs: usize,
        /// Print JSON
        #[arg(long)]
        json: bool,
        /// Also write the heat map (as `kb heatmap` does) to this SVG file
        #[arg(long, value_name = "FILE.svg")]
        heatmap: Option<PathBuf>,
    },
    /// Print the KB as a graph (the whole KB, or one cause's or one evidence's neighbourhood)
    Graph {
        #[arg(long, default_value = "dot", value_parser = ["dot", "mermaid"])]
        format: String,
        /// Only this cause, the evidence that moves it, its fixes and the rules that set that evidence
        #[arg(long, value_name = "ID", conflicts_with = "evidence")]
        cause: Option<String>,
        /// Only this evidence, the causes it moves, the questions it gates, the rules that set it, the fixes it verifies
        #[arg(long, value_name = "ID")]
        evidence: Option<String>,
        #[command(flatten)]
        kb: KbArg,
    },
    /// Draw the KB as a heat map (SVG): evidence x causes, coloured by likelihood ratio
    Heatmap {
        #[command(flatten)]
        kb: KbArg,
        /// Write to this file instead of standard output
        #[arg(short, long, value_name = "FILE.svg")]
        output: Option<PathBuf>,
    },
    /// Print the resolved probabilistic model
    Export {
        #[arg(long, default_value = "json", value_parser = ["json"])]
        format: String,
        #[command(flatten)]
        kb: KbArg,
    },
}

fn main() -> ExitCode {
    // Like other Unix filters: a closed pipe (`rootcause ... | head`) ends
    // the process quietly instead of a panic in `println!`.
    #[cfg(unix)]
    // SAFETY: called before any thread starts; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Diagnose(args) => diagnose::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Json { kb, allow_probe } => match engine::load_engine(kb.kb.as_deref()) {
            Ok(engine) => json::run(engine, &allow_probe),
            Err(code) => Ok(code),
        },
        Command::Mcp(args) => match engine::load_engine(args.kb.kb.as_deref()) {
            Ok(engine) => mcp::run(
                engine,
                mcp::Options {
                    allow_probe: args.allow_probe,
                    http: args.http,
                    token: args.token,
                    session_key_file: args.session_key_file,
                    limits: mcp::Limits {
                        max_body: args.max_body,
                        max_concurrent: args.max_concurrent,
                        idle: std::time::Duration::from_secs_f64(
                            args.idle_timeout.clamp(0.1, 86_400.0),
                        ),
                    },
                },
            ),
            Err(code) => Ok(code),
        },
        Command::Kb(KbCommand::Check {
            dir,
            deny_warnings,
            json,
        }) => Ok(kb::check_cmd(dir.as_deref(), deny_warnings, json)),
        Command::Kb(KbCommand::Test {
            dir,
            filter,
            reports,
            json,
        }) => match engine::load_engine(dir.as_deref()) {
            Ok(engine) if reports => Ok(kb::reports_cmd(&engine, filter.as_deref(), json)),
            Ok(engine) => Ok(kb::test_cmd(&engine, filter.as_deref(), json)),
            Err(code) => Ok(code),
        },
        Command::Kb(KbCommand::Stats {
            dir,
            runs,
            pairs,
            json,
            heatmap,
        }) => match engine::load_engine(dir.as_deref()) {
            Ok(engine) => match heatmap {
                Some(path) => kb::heatmap_cmd(&engine, Some(&path))
                    .and_then(|_| kb::stats_cmd(&engine, runs, pairs, json)),
                None => kb::stats_cmd(&engine, runs, pairs, json),
            },
            Err(code) => Ok(code),
        },
        Command::Kb(KbCommand::Graph {
            format,
            cause,
            evidence,
            kb,
        }) => match engine::load_engine(kb.kb.as_deref()) {
            Ok(engine) => Ok(kb::graph_cmd(&engine, &format, cause, evidence)),
            Err(code) => Ok(code),
        },
        Command::Kb(KbCommand::Heatmap { kb, output }) => {
            match engine::load_engine(kb.kb.as_deref()) {
                Ok(engine) => kb::heatmap_cmd(&engine, output.as_deref()),
                Err(code) => Ok(code),
            }
        }
        Command::Kb(KbCommand::Export { format: _, kb }) => {
            match engine::load_engine(kb.kb.as_deref()) {
                Ok(engine) => kb::export_cmd(&engine),
                Err(code) => Ok(code),
            }
        }
        Command::Probe(ProbeCommand::Rdp {
            target,
            json,
            timeout,
            kb,
        }) => match engine::load_engine(kb.kb.as_deref()) {
            Ok(engine) => probe::run(&engine, &target, timeout, json),
            Err(code) => Ok(code),
        },
        Command::Collect {
            events,
            bundle,
            json,
            kb,
        } => match engine::load_engine(kb.kb.as_deref()) {
            Ok(engine) => collect::run(&engine, &events, bundle.as_ref(), json),
            Err(code) => Ok(code),
        },
        Command::Bench(BenchCommand::FixSteps {
            cases,
            repeats,
            cases_folder,
            filter,
            seed,
            json,
            trace,
            kb,
        }) => match engine::load_engine(kb.kb.as_deref()) {
            Ok(engine) => bench::fix_steps_cmd(
                &engine,
                bench::FixSteps {
                    cases,
                    repeats,
                    reports: !cases_folder,
                    filter: filter.as_deref(),
                    seed,
                    json,
                    trace,
                },
            ),
            Err(code) => Ok(code),
        },
        Command::Bench(BenchCommand::Simulate {
            cases,
            seed,
            json,
            kb,
        }) => match engine::load_engine(kb.kb.as_deref()) {
            Ok(engine) => bench::simulate_cmd(&engine, cases, seed, json),
            Err(code) => Ok(code),
        },
        Command::Decode {
            code,
            extended,
            json,
            kb,
        } => match engine::load_engine(kb.kb.as_deref()) {
            Ok(engine) => {
                decode::run(&engine, &code, extended.as_deref(), json).map(|()| ExitCode::SUCCESS)
            }
            Err(code) => Ok(code),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
