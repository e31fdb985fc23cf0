//! The REPL's `:` commands and the why / how / why-not explanations they print.

use super::*;
use rootcause_engine::session::INTAKE_NONE;

impl Repl<'_> {
    pub(super) fn command(&mut self, line: &str) -> Result<Flow> {
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
                self.report(format, it.next().map(Path::new))?;
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
            ":paste" => {
                if arg.is_empty() {
                    println!("Paste the text; an empty line ends it.");
                    self.paste_buf = Some(String::new());
                } else {
                    self.paste(arg)?;
                }
            }
            ":intake" => self.intake_command(arg)?,
            ":changed" => {
                let changes = &self.engine.kb.manifest.recent_changes;
                if arg.is_empty() {
                    println!("What changed shortly before the failures? Choose any of:");
                    for (k, c) in changes {
                        println!("  {k:<12} {}", c.label);
                    }
                    println!("e.g. :changed update,antivirus (or :changed none)");
                    return Ok(Flow::Continue);
                }
                let keys: Vec<String> = arg
                    .split([',', ' '])
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect();
                if let Some(bad) = keys
                    .iter()
                    .find(|k| !changes.contains_key(*k) && !INTAKE_NONE.contains(&k.as_str()))
                {
                    bail!(
                        "`{bad}` is not one of: {}",
                        changes.keys().cloned().collect::<Vec<_>>().join(", ")
                    );
                }
                self.apply_intake(&keys)?;
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

    pub(super) fn why(&self, evidence: &str) -> Result<()> {
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

    pub(super) fn explain(&self, cause: &str) -> Result<()> {
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

    pub(super) fn why_not(&self, cause: &str) -> Result<()> {
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
}
