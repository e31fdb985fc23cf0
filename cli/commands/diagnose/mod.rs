//! `rootcause diagnose`: the administrator's interactive session.
//!
//! One question at a time with numbered answers; after each answer the
//! ranking and the ask-or-fix advice; at the end the fix plan. Colour and
//! bars only on a terminal with `NO_COLOR` unset; with piped stdin it reads
//! one answer per line and prints plain, stable text.

mod commands;
mod complete;
mod files;
mod html;
mod intake;
mod report;
mod views;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;
use rootcause_engine::Engine;
use rootcause_engine::session::{Assessment, Done, Source, State, UNKNOWN};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor};
use serde::{Deserialize, Serialize};

use crate::shared::{atomic, engine, evidence, probe_view, render};
use complete::{COMMANDS, ReplHelper};

#[derive(Args)]
pub struct DiagnoseArgs {
    /// Knowledge-base folder (default: the embedded rdp-0x904 KB)
    #[arg(long, value_name = "DIR")]
    kb: Option<PathBuf>,
    /// An answer known in advance, e.g. --observe connection_path=vpn (repeatable)
    #[arg(long, value_name = "ID=VALUE")]
    observe: Vec<String>,
    /// Print a report when the session ends (Markdown, one HTML page, or JSON)
    #[arg(long, value_name = "md|html|json", value_parser = ["md", "html", "json"])]
    report: Option<String>,
    /// Write the report to this file instead (Markdown: its chart goes beside it, FILE.chart.svg)
    #[arg(long, value_name = "FILE", requires = "report")]
    report_out: Option<PathBuf>,
    /// Resume a session saved with :save
    #[arg(long, value_name = "FILE")]
    load: Option<PathBuf>,
    /// The RDP host that fails: it is probed before the first question
    #[arg(value_name = "HOST[:PORT]")]
    host: Option<String>,
    /// Probe this RDP endpoint first and use what it finds
    #[arg(long, value_name = "HOST[:PORT]")]
    probe: Option<String>,
    /// Event logs to read first (.evtx, wevtutil XML, Get-WinEvent JSON)
    #[arg(long, value_name = "FILE", num_args = 1..)]
    events: Vec<PathBuf>,
    /// A host evidence bundle (kb/rdp-0x904/collect.ps1) to read first
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// Step timeout of the probe, seconds
    #[arg(long, value_name = "SECS", default_value_t = 3.0)]
    probe_timeout: f64,
    /// Start from `rootcause scan --format json` output: the facts of HOST's endpoint (not probed again)
    #[arg(long, value_name = "FILE", conflicts_with = "probe")]
    from_scan: Option<PathBuf>,
}

/// A saved session file.
#[derive(Serialize, Deserialize)]
struct SessionFile {
    format: String,
    version: u32,
    state: serde_json::Value,
}

const SESSION_FORMAT: &str = "rootcause-session";

pub fn run(args: DiagnoseArgs) -> Result<ExitCode> {
    let engine = match engine::load_engine(args.kb.as_deref()) {
        Ok(e) => e,
        Err(code) => return Ok(code),
    };
    let mut repl = Repl::new(&engine);
    if let Some(path) = &args.load {
        let notes = repl.load(path)?;
        for n in notes {
            println!("{n}");
        }
    }
    for o in &args.observe {
        let (id, value) = o
            .split_once('=')
            .ok_or_else(|| anyhow!("--observe takes ID=VALUE, got `{o}`"))?;
        repl.state
            .observe(&engine, id.trim(), value.trim(), Source::User)
            .with_context(|| format!("--observe {o}"))?;
    }
    if let Some(file) = &args.from_scan {
        repl.read_scan(file, args.host.as_deref())?;
    } else if let Some(target) = args.probe.as_ref().or(args.host.as_ref()) {
        repl.probe(target, args.probe_timeout)?;
    }
    if !args.events.is_empty() || args.bundle.is_some() {
        repl.read_files(&args.events, args.bundle.as_ref())?;
    }
    repl.run()?;
    if let Some(format) = args.report.as_deref() {
        repl.report(format, args.report_out.as_deref())?;
    }
    Ok(ExitCode::SUCCESS)
}

struct Repl<'e> {
    engine: &'e Engine,
    state: State,
    /// States before each change, for `:back`.
    undo: Vec<State>,
    color: bool,
    terminal: bool,
    /// The question last shown (evidence index), so it is not repeated.
    shown: Option<usize>,
    /// The conclusion was shown for the current state.
    concluded: bool,
    /// Terminal width for wrapping (none when not a terminal).
    width: Option<usize>,
    /// Lines gathered by `:paste` until an empty line.
    paste_buf: Option<String>,
    /// The fix whose steps were shown last, so they are not repeated.
    offered: std::cell::RefCell<Option<String>>,
}

/// What a line asked the loop to do.
enum Flow {
    Continue,
    Quit,
}

fn history_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("rootcause").join("history"))
}

impl<'e> Repl<'e> {
    fn new(engine: &'e Engine) -> Self {
        let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        Repl {
            engine,
            state: State::new(engine),
            undo: Vec::new(),
            color: render::stdout_color(),
            terminal,
            shown: None,
            concluded: false,
            width: render::terminal_width(),
            paste_buf: None,
            offered: std::cell::RefCell::new(None),
        }
    }

    fn run(&mut self) -> Result<()> {
        self.header();
        let config = Config::builder()
            .auto_add_history(false)
            .history_ignore_dups(true)?
            .build();
        let mut rl: Editor<ReplHelper, FileHistory> = Editor::with_config(config)?;
        rl.set_helper(Some(self.helper()));
        let history = if self.terminal { history_path() } else { None };
        if let Some(h) = &history {
            let _ = rl.load_history(h);
        }
        if self.wants_intake() {
            self.show_intake();
            loop {
                match rl.readline("intake> ") {
                    Ok(line) => match self.intake_answer(&line) {
                        Ok(()) => break,
                        Err(e) => println!("{} {e:#}", self.paint("1;31", "error:")),
                    },
                    Err(ReadlineError::Interrupted | ReadlineError::Eof) => break,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        loop {
            let assessment = self.state.assess(self.engine);
            match assessment.next {
                Some(q) if self.shown != Some(q.evidence) => {
                    self.show_question(
                        q.evidence,
                        q.gain,
                        self.engine.kb.evidence[q.evidence].cost,
                    );
                    self.shown = Some(q.evidence);
                }
                None if !self.concluded => {
                    self.conclude(&assessment);
                    self.concluded = true;
                    self.shown = None;
                }
                _ => {}
            }
            if let Some(h) = rl.helper_mut() {
                h.answers = self.current_values();
            }
            let prompt = if assessment.next.is_some() {
                "answer> "
            } else {
                "rootcause> "
            };
            match rl.readline(prompt) {
                Ok(line) => {
                    if !self.terminal {
                        // Piped input is not echoed by a terminal: show it,
                        // so the transcript reads like the session.
                        println!("{prompt}{}", line.trim());
                    }
                    if !line.trim().is_empty() {
                        let _ = rl.add_history_entry(line.as_str());
                    }
                    match self.handle(line.trim()) {
                        Ok(Flow::Continue) => {}
                        Ok(Flow::Quit) => break,
                        Err(e) => println!("{} {e:#}", self.paint("1;31", "error:")),
                    }
                }
                Err(ReadlineError::Interrupted) => {
                    println!("(line cancelled; :quit or Ctrl-D leaves)");
                }
                Err(ReadlineError::Eof) => {
                    self.offer_save(&mut rl);
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(h) = &history {
            if let Some(dir) = h.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = rl.save_history(h);
        }
        Ok(())
    }

    fn helper(&self) -> ReplHelper {
        let kb = &self.engine.kb;
        let mut causes: Vec<String> = kb.causes.iter().map(|c| c.id.clone()).collect();
        causes.push("other".into());
        ReplHelper {
            answers: self.current_values(),
            causes,
            fixes: kb.fixes.iter().map(|f| f.id.clone()).collect(),
            evidence: kb
                .evidence
                .iter()
                .map(|e| (e.id.clone(), e.values.clone()))
                .collect(),
        }
    }

    fn current_values(&self) -> Vec<String> {
        self.shown
            .map(|e| self.engine.model.evidence[e].values.clone())
            .unwrap_or_default()
    }

    /// Ctrl-D with answers given: offer to save them first (terminal only).
    fn offer_save(&mut self, rl: &mut Editor<ReplHelper, FileHistory>) {
        if !self.terminal || self.state.observations.is_empty() {
            return;
        }
        let prompt = "Save this session before leaving? File name (Enter = don't save): ";
        if let Ok(name) = rl.readline(prompt) {
            let name = name.trim();
            if !name.is_empty() {
                match self.save(Path::new(name)) {
                    Ok(()) => println!("saved to {name}"),
                    Err(e) => println!("{} {e:#}", self.paint("1;31", "error:")),
                }
            }
        }
    }

    fn handle(&mut self, line: &str) -> Result<Flow> {
        if let Some(buf) = self.paste_buf.as_mut() {
            if !line.is_empty() {
                buf.push_str(line);
                buf.push('\n');
                return Ok(Flow::Continue);
            }
            let text = self.paste_buf.take().unwrap_or_default();
            self.paste(&text)?;
            return Ok(Flow::Continue);
        }
        if line.is_empty() {
            self.shown = None; // show the question again
            return Ok(Flow::Continue);
        }
        if line.starts_with(':') {
            return self.command(line);
        }
        let Some(e) = self.state.assess(self.engine).next.map(|q| q.evidence) else {
            bail!("no question is open; type :help for commands");
        };
        let ev = &self.engine.model.evidence[e];
        let value = if line == "?" || line.eq_ignore_ascii_case(UNKNOWN) {
            UNKNOWN.to_string()
        } else if let Ok(n) = line.parse::<usize>() {
            ev.values
                .get(n.wrapping_sub(1))
                .cloned()
                .ok_or_else(|| anyhow!("choose 1 to {}, or ? if you don't know", ev.values.len()))?
        } else {
            match self.engine.normalise_value(&ev.id, line) {
                Ok(v) => v,
                // Not an answer: perhaps something pasted.
                Err(_) => {
                    if self.paste(line)? {
                        return Ok(Flow::Continue);
                    }
                    bail!(
                        "`{line}` is not an answer and holds nothing I recognise: choose 1 to {}, ? or a :command",
                        ev.values.len()
                    )
                }
            }
        };
        let id = ev.id.clone();
        self.apply(|s, eng| {
            s.observe(eng, &id, &value, Source::User)
                .map_err(Into::into)
        })?;
        Ok(Flow::Continue)
    }

    /// Extract facts from pasted text, show which words said what, and
    /// apply them. Returns whether anything was found.
    fn paste(&mut self, text: &str) -> Result<bool> {
        self.decode_codes(text);
        let before = self.state.clone();
        let pasted = self.state.observe_text(self.engine, text)?;
        if pasted.is_empty() {
            println!("(nothing in that text that I recognise)");
            return Ok(false);
        }
        self.undo.push(before);
        self.concluded = false;
        println!("From what you pasted:");
        for p in &pasted {
            let x = &p.extracted;
            match &p.kept {
                None => println!("  {} = {}    from \"{}\"", x.evidence, x.value, x.text),
                Some(k) => println!(
                    "  {} = {} from \"{}\" (kept your earlier answer, {k})",
                    x.evidence, x.value, x.text
                ),
            }
        }
        self.shown = None;
        let a = self.state.assess(self.engine);
        self.show_ranking(&a, 5);
        self.show_advice(&a);
        Ok(true)
    }

    /// Explain any mstsc error codes (`Error code: 0x904`, `0x7`) in pasted text.
    fn decode_codes(&self, text: &str) {
        use rootcause_engine::kb::codes;
        let lower = text.to_ascii_lowercase();
        let grab = |label: &str| -> Option<u32> {
            let at = lower.find(label)?;
            let rest = text.get(at + label.len()..)?;
            let token = rest.split_whitespace().next()?;
            codes::parse_code(token).ok()
        };
        // The first "error code:" is the extended one when nothing precedes it.
        let Some(code) = grab("error code:").filter(|_| !lower.starts_with("extended")) else {
            return;
        };
        let extended = grab("extended error code:");
        let d = codes::decode(&self.engine.kb.codes, code, extended);
        if let Some(line) = d.summary() {
            println!("{}", render::wrap(&line, "Error code: ", "  ", self.width));
        }
    }

    /// Change the state (keeping an undo copy) and show the new ranking.
    fn apply(&mut self, f: impl FnOnce(&mut State, &Engine) -> Result<()>) -> Result<()> {
        let before = self.state.clone();
        f(&mut self.state, self.engine)?;
        self.undo.push(before);
        self.concluded = false;
        let a = self.state.assess(self.engine);
        self.show_ranking(&a, 5);
        self.show_advice(&a);
        Ok(())
    }
}
