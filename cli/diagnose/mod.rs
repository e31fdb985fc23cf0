//! `rootcause diagnose`: the administrator's interactive session.
//!
//! One question at a time with numbered answers; after each answer the
//! ranking and the ask-or-fix advice; at the end the fix plan. Colour and
//! bars only on a terminal with `NO_COLOR` unset; with piped stdin it reads
//! one answer per line and prints plain, stable text.

mod complete;
mod report;

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

use crate::{atomic, kb_cmd, render};
use complete::{COMMANDS, ReplHelper};

#[derive(Args)]
pub struct DiagnoseArgs {
    /// Knowledge-base folder (default: the embedded rdp-0x904 KB)
    #[arg(long, value_name = "DIR")]
    kb: Option<PathBuf>,
    /// An answer known in advance, e.g. --observe connection_path=vpn (repeatable)
    #[arg(long, value_name = "ID=VALUE")]
    observe: Vec<String>,
    /// Print a report when the session ends
    #[arg(long, value_name = "md|json", value_parser = ["md", "json"])]
    report: Option<String>,
    /// Resume a session saved with :save
    #[arg(long, value_name = "FILE")]
    load: Option<PathBuf>,
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
    let engine = match kb_cmd::load_engine(args.kb.as_deref()) {
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
    if let Some(target) = &args.probe {
        repl.probe(target, args.probe_timeout)?;
    }
    if !args.events.is_empty() || args.bundle.is_some() {
        repl.read_files(&args.events, args.bundle.as_ref())?;
    }
    repl.run()?;
    match args.report.as_deref() {
        Some("md") => print!("{}", report::markdown(&engine, &repl.state)),
        Some("json") => println!(
            "{}",
            serde_json::to_string_pretty(&report::json(&engine, &repl.state))?
        ),
        _ => {}
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
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        render::paint(self.color, code, s)
    }

    fn header(&self) {
        let kb = &self.engine.kb;
        let questions = kb.evidence.iter().filter(|e| e.question.is_some()).count();
        println!(
            "{} {} ({} {}: {} causes, {} questions, {} fixes)",
            self.paint("1", "rootcause:"),
            kb.manifest.title,
            kb.manifest.id,
            kb.manifest.version,
            kb.causes.len(),
            questions,
            kb.fixes.len()
        );
        if !kb.manifest.problem.is_empty() {
            println!("Problem: {}", kb.manifest.problem);
        }
        println!(
            "Answer with the number of a choice, ? if you don't know, :help for commands, :quit to leave.\n"
        );
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
        loop {
            let assessment = self.state.assess(self.engine);
            match assessment.next {
                Some(q) if self.shown != Some(q.evidence) => {
                    self.show_question(q.evidence, q.gain, q.cost);
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

    fn show_question(&self, e: usize, gain: f64, cost: f64) {
        let ev = &self.engine.kb.evidence[e];
        let label = match &self.state.verifying {
            Some(_) => format!("Check {}.", self.state.verify_answers.len() + 1),
            None => format!("Q{}.", self.state.questions_answered() + 1),
        };
        let text = ev
            .question
            .as_ref()
            .map_or(ev.title.as_str(), |q| q.text.as_str());
        println!("{} {text}", self.paint("1;36", &label));
        println!(
            "    [{} | cost {cost} | expected gain {gain:.2} bits]",
            ev.id
        );
        for (i, v) in ev.values.iter().enumerate() {
            let label = ev
                .question
                .as_ref()
                .and_then(|q| q.labels.get(v))
                .map_or(v.as_str(), String::as_str);
            println!("  {}) {label}", i + 1);
        }
        println!("  ?) I don't know");
        if let Some(help) = ev.question.as_ref().and_then(|q| q.help.as_ref()) {
            println!("  How to check: {help}");
        }
    }

    fn handle(&mut self, line: &str) -> Result<Flow> {
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
            self.engine.normalise_value(&ev.id, line).map_err(|_| {
                anyhow!(
                    "`{line}` is not an answer: choose 1 to {}, ? or a :command",
                    ev.values.len()
                )
            })?
        };
        let id = ev.id.clone();
        self.apply(|s, eng| {
            s.observe(eng, &id, &value, Source::User)
                .map_err(Into::into)
        })?;
        Ok(Flow::Continue)
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

    fn show_ranking(&self, a: &Assessment, n: usize) {
        let m = &self.engine.model;
        println!("\nMost likely causes:");
        for &c in a.ranking.iter().take(n) {
            let id = &m.causes[c];
            let title = self
                .engine
                .kb
                .cause(id)
                .map_or("None of the known causes", |x| &x.title);
            let p = a.posterior[c];
            if self.color {
                println!(
                    "  {:>5.1}%  {}  {title} [{id}]",
                    p * 100.0,
                    render::bar(p, 20, true)
                );
            } else {
                println!("  {:>5.1}%  {title} [{id}]", p * 100.0);
            }
        }
        if a.contradiction {
            println!(
                "  (the answers contradict each other; showing the prior: check them with :back or :observe)"
            );
        }
        for c in &self.state.conflicts {
            println!(
                "  (rule conflict on {}: {} says {}, {} says {}; kept {})",
                c.target, c.kept.0, c.kept.1, c.rejected.0, c.rejected.1, c.kept.1
            );
        }
    }

    fn show_advice(&self, a: &Assessment) {
        let a = &a.advice;
        println!("{} {}\n", self.paint("1;33", "Advice:"), a.reason);
    }

    fn conclude(&self, a: &Assessment) {
        let m = &self.engine.model;
        let top = a.ranking[0];
        let id = &m.causes[top];
        let title = self
            .engine
            .kb
            .cause(id)
            .map_or("None of the known causes", |x| &x.title);
        let why = match a.done {
            Some(Done::Verified) => "a fix worked and was verified",
            Some(Done::Threshold) => "the top cause reached the confidence threshold",
            Some(Done::NoInformativeQuestion) => {
                "no remaining question would change the ranking much"
            }
            Some(Done::QuestionBudget) => "the question budget is spent",
            None => "nothing left to ask",
        };
        println!("{}", self.paint("1", "=== Conclusion ==="));
        println!(
            "Most likely: {title} [{id}], {:.1}% ({why}).",
            a.posterior[top] * 100.0
        );
        if let Some(f) = &self.state.verified {
            println!("Fixed by {f}, verified. Use :report md for the ticket.\n");
            return;
        }
        self.show_plan(a, 3);
        println!(
            "Report each fix with :tried FIX worked|failed; :fixes shows the whole plan, :explain the reasoning.\n"
        );
    }

    fn show_plan(&self, a: &Assessment, n: usize) {
        if a.plan.is_empty() {
            println!("No untried fix is left: escalate with :report md.");
            return;
        }
        println!("Fix plan, best chance of success per effort first:");
        for (i, p) in a.plan.iter().take(n).enumerate() {
            let f = &self.engine.kb.fixes[p.fix];
            println!(
                "{} {} [{}]: chance {:.0}%, effort {}",
                self.paint("1", &format!("{:>2}.", i + 1)),
                f.title,
                f.id,
                p.p_works * 100.0,
                f.cost
            );
            if let Some(risk) = &f.risk {
                println!("    {} {risk}", self.paint("1;31", "Risk:"));
            }
            for (k, step) in f.steps.iter().enumerate() {
                println!("    {}. {}", k + 1, step.text);
                for c in &step.commands {
                    for (j, line) in c.text().lines().enumerate() {
                        let tag = if j == 0 {
                            format!("{}>", c.kind())
                        } else {
                            " ".repeat(c.kind().len() + 1)
                        };
                        println!("         {} {line}", self.paint("2", &tag));
                    }
                }
            }
            if let Some(v) = &f.verify {
                println!("    Verify: {}", v.text);
            }
        }
    }

    fn command(&mut self, line: &str) -> Result<Flow> {
        let mut parts = line.splitn(2, char::is_whitespace);
        let name = parts.next().unwrap_or("");
        let arg = parts.next().unwrap_or("").trim();
        let name = match name {
            ":q" | ":exit" => ":quit",
            ":h" | ":?" => ":help",
            other => other,
        };
        match name {
            ":help" => {
                for c in COMMANDS {
                    println!("  {:<10} {:<20} {}", c.name, c.args, c.help);
                }
                println!(
                    "  Answers: a number, the value's name, ? or unknown. Tab completes; Ctrl-C cancels a line."
                );
            }
            ":quit" => return Ok(Flow::Quit),
            ":why" => {
                let e = if arg.is_empty() {
                    self.state
                        .assess(self.engine)
                        .next
                        .map(|q| self.engine.model.evidence[q.evidence].id.clone())
                        .ok_or_else(|| {
                            anyhow!("no question is open: :why EVIDENCE explains any question")
                        })?
                } else {
                    arg.to_string()
                };
                self.why(&e)?;
            }
            ":explain" => {
                let cause = if arg.is_empty() {
                    let a = self.state.assess(self.engine);
                    self.engine.model.causes[a.ranking[0]].clone()
                } else {
                    arg.to_string()
                };
                self.explain(&cause)?;
            }
            ":whynot" => {
                if arg.is_empty() {
                    bail!("usage: :whynot CAUSE");
                }
                self.why_not(arg)?;
            }
            ":rank" => self.show_ranking(&self.state.assess(self.engine), usize::MAX),
            ":fixes" => self.show_plan(&self.state.assess(self.engine), usize::MAX),
            ":tried" => {
                let mut it = arg.split_whitespace();
                let (Some(fix), Some(result)) = (it.next(), it.next()) else {
                    bail!("usage: :tried FIX worked|failed");
                };
                let worked = match result {
                    "worked" | "yes" | "ok" => true,
                    "failed" | "no" => false,
                    _ => bail!("say whether the fix `worked` or `failed`"),
                };
                let fix = fix.to_string();
                self.apply(|s, e| s.fix_result(e, &fix, worked).map_err(Into::into))?;
                self.shown = None;
            }
            ":back" => match self.undo.pop() {
                Some(prev) => {
                    self.state = prev;
                    self.shown = None;
                    self.concluded = false;
                    println!("(last change undone)");
                }
                None => println!("(nothing to undo)"),
            },
            ":skip" => return self.handle("?"),
            ":observe" => {
                let (id, value) = arg
                    .split_once('=')
                    .ok_or_else(|| anyhow!("usage: :observe ID=VALUE"))?;
                let (id, value) = (id.trim().to_string(), value.trim().to_string());
                self.apply(|s, e| s.observe(e, &id, &value, Source::User).map_err(Into::into))?;
            }
            ":save" => {
                if arg.is_empty() {
                    bail!("usage: :save FILE");
                }
                self.save(Path::new(arg))?;
                println!("saved to {arg}");
            }
            ":load" => {
                if arg.is_empty() {
                    bail!("usage: :load FILE");
                }
                let notes = self.load(Path::new(arg))?;
                println!("loaded {arg}");
                for n in notes {
                    println!("  {n}");
                }
                self.show_ranking(&self.state.assess(self.engine), 5);
            }
            ":report" => {
                let mut it = arg.split_whitespace();
                let format = it.next().unwrap_or("md");
                let text = match format {
                    "md" => report::markdown(self.engine, &self.state),
                    "json" => {
                        serde_json::to_string_pretty(&report::json(self.engine, &self.state))?
                            + "\n"
                    }
                    other => bail!("unknown report format `{other}`: md or json"),
                };
                match it.next() {
                    Some(file) => {
                        atomic::write(Path::new(file), text.as_bytes())
                            .with_context(|| format!("writing {file}"))?;
                        println!("report written to {file}");
                    }
                    None => print!("{text}"),
                }
            }
            ":events" | ":bundle" => {
                if arg.is_empty() {
                    bail!("usage: {name} FILE");
                }
                let files: Vec<PathBuf> = arg.split_whitespace().map(PathBuf::from).collect();
                if name == ":events" {
                    self.read_files(&files, None)?;
                } else {
                    self.read_files(&[], files.first())?;
                }
            }
            ":probe" => {
                if arg.is_empty() {
                    bail!("usage: :probe HOST[:PORT]");
                }
                self.probe(arg, 3.0)?;
            }
            ":restart" => {
                self.undo.push(self.state.clone());
                self.state = State::new(self.engine);
                self.shown = None;
                self.concluded = false;
                println!("(started over; :back returns to the previous session)\n");
            }
            other => bail!("unknown command `{other}`; :help lists them"),
        }
        Ok(Flow::Continue)
    }

    fn why(&self, evidence: &str) -> Result<()> {
        let x = self.engine.why_question(&self.state, evidence)?;
        let ev = self
            .engine
            .kb
            .evidence(evidence)
            .ok_or_else(|| anyhow!("unknown evidence `{evidence}`"))?;
        match x.rank {
            Some(r) => println!(
                "`{evidence}` is question {r} of {} by information per cost: it is expected to remove {:.3} bits of uncertainty about the cause at cost {} ({:.3} bits per unit).",
                x.candidates, x.gain, x.cost, x.score
            ),
            None => println!(
                "`{evidence}` cannot be asked now (answered already, only collected, or its precondition does not hold); if asked it would remove {:.3} bits.",
                x.gain
            ),
        }
        if !x.separates.is_empty() {
            println!("It separates: {}.", x.separates.join(", "));
        }
        println!("What each answer would do:");
        for o in &x.outcomes {
            let label = ev
                .question
                .as_ref()
                .and_then(|q| q.labels.get(&o.value))
                .unwrap_or(&o.value);
            println!(
                "  {label}: likely {:.0}% of the time; then {} leads at {:.0}%",
                o.p_answer * 100.0,
                o.top_cause,
                o.top_probability * 100.0
            );
        }
        Ok(())
    }

    fn explain(&self, cause: &str) -> Result<()> {
        let x = self.engine.explain_cause(&self.state, cause)?;
        println!(
            "`{cause}`: prior {:.1}%, now {:.1}%. Each finding's weight of evidence (bits; + supports, - counts against):",
            x.prior * 100.0,
            x.probability * 100.0
        );
        if x.contributions.is_empty() {
            println!("  (no answers yet: the prior is all there is)");
        }
        for c in &x.contributions {
            println!(
                "  {:+6.2}  {} = {}  [{}]  -> {:.1}%",
                c.bits,
                c.finding,
                c.value,
                c.source,
                c.p_after * 100.0
            );
        }
        println!("  total {:+.2} bits", x.total_bits);
        Ok(())
    }

    fn why_not(&self, cause: &str) -> Result<()> {
        let x = self.engine.why_not(&self.state, cause)?;
        println!(
            "`{cause}` ranks #{} at {:.1}%.",
            x.rank,
            x.probability * 100.0
        );
        if x.against.is_empty() {
            println!("  Nothing observed counts against it.");
        } else {
            println!("  Against it:");
            for c in &x.against {
                println!("    {:+6.2} bits  {} = {}", c.bits, c.finding, c.value);
            }
        }
        if x.would_raise.is_empty() {
            println!("  No open question would raise it.");
        } else {
            println!("  Answers that would raise it:");
            for r in &x.would_raise {
                println!(
                    "    {} = {}  -> {:.1}%  (that answer is {:.0}% likely now)",
                    r.evidence,
                    r.value,
                    r.p_after * 100.0,
                    r.p_answer * 100.0
                );
            }
        }
        Ok(())
    }

    /// Run the RDP probe and add what it found.
    fn probe(&mut self, target: &str, timeout: f64) -> Result<()> {
        let cfg = crate::probe_cmd::config(target, timeout)?;
        println!("Probing {target} ...");
        let (report, collected) = rootcause_engine::collect::rdp_probe::collect(&cfg);
        let evidence = crate::collect_cmd::evidence(self.engine, std::slice::from_ref(&collected))?;
        crate::probe_cmd::print_human(&report, &evidence);
        println!();
        let label = collected.label.clone();
        self.apply(|s, e| s.add_facts(e, collected.facts, &label).map_err(Into::into))?;
        self.shown = None;
        Ok(())
    }

    /// Read event logs and/or a bundle and add what they say.
    fn read_files(&mut self, events: &[PathBuf], bundle: Option<&PathBuf>) -> Result<()> {
        let (collected, _) = crate::collect_cmd::gather(self.engine, events, bundle)?;
        for c in collected {
            println!("Read {}: {} facts", c.label, c.facts.len());
            for w in &c.warnings {
                println!("  warning: {w}");
            }
            let before: Vec<String> = self
                .state
                .observations
                .iter()
                .map(|o| o.evidence.clone())
                .collect();
            let label = c.label.clone();
            self.apply(|s, e| s.add_facts(e, c.facts, &label).map_err(Into::into))?;
            for o in self
                .state
                .observations
                .iter()
                .filter(|o| !before.contains(&o.evidence))
            {
                println!("  {} = {}    [{}]", o.evidence, o.value, o.source);
            }
        }
        self.shown = None;
        Ok(())
    }

    fn save(&self, path: &Path) -> Result<()> {
        let file = SessionFile {
            format: SESSION_FORMAT.into(),
            version: 1,
            state: serde_json::to_value(&self.state)?,
        };
        let text = serde_json::to_string_pretty(&file)? + "\n";
        atomic::write(path, text.as_bytes()).with_context(|| format!("saving {}", path.display()))
    }

    /// Load a saved session; what no longer fits the KB is dropped and
    /// reported.
    fn load(&mut self, path: &Path) -> Result<Vec<String>> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file: SessionFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a saved session", path.display()))?;
        if file.format != SESSION_FORMAT {
            bail!(
                "{} is not a rootcause session (format `{}`)",
                path.display(),
                file.format
            );
        }
        let saved: State = serde_json::from_value(file.state)
            .with_context(|| format!("{} holds a damaged session state", path.display()))?;
        let engine = self.engine;
        if saved.kb != engine.kb.manifest.id {
            bail!(
                "{} belongs to KB `{}`, not `{}`",
                path.display(),
                saved.kb,
                engine.kb.manifest.id
            );
        }
        let mut notes = Vec::new();
        if saved.kb_version != engine.kb.manifest.version {
            notes.push(format!(
                "saved with KB version {}, this is {}",
                saved.kb_version, engine.kb.manifest.version
            ));
        }
        let mut state = State::new(engine);
        for o in &saved.observations {
            let result = match &o.source {
                Source::Rule { .. } => Ok(()), // re-derived from the facts below
                s => state.observe(engine, &o.evidence, &o.value, s.clone()),
            };
            if let Err(e) = result {
                notes.push(format!("dropped answer {} = {}: {e}", o.evidence, o.value));
            }
        }
        if !saved.facts.is_empty() {
            state.add_facts(engine, saved.facts.clone(), "saved facts")?;
        }
        for r in &saved.fixes {
            if let Err(e) = state.fix_result(engine, &r.fix, r.worked) {
                notes.push(format!("dropped fix result {}: {e}", r.fix));
            }
        }
        self.undo.push(std::mem::replace(&mut self.state, state));
        self.shown = None;
        self.concluded = false;
        Ok(notes)
    }
}
