//! The intake screen: before the first question, what the error dialog says
//! and what changed recently, in one answer (choice numbers and words), or
//! the error text pasted.

use super::*;
use rootcause_engine::session::{INTAKE_NONE, IntakeChoice, IntakePart};

impl Repl<'_> {
    /// A fresh session on a terminal whose KB has an intake opens with it.
    pub(super) fn wants_intake(&self) -> bool {
        self.terminal
            && !self.engine.intake_choices().is_empty()
            && !self
                .state
                .observations
                .iter()
                .any(|o| o.source == Source::User)
    }

    pub(super) fn show_intake(&self) {
        let w = self.width;
        let choices = self.engine.intake_choices();
        println!("{}", render::wrap("Before the first question:", "", "", w));
        let heading = |text: &str| println!("{}", render::wrap(text, "  ", "  ", w));
        // A choice typed by its word: the word, then its label.
        let keyed = |c: &IntakeChoice| {
            let head = format!("    {:<15} ", c.key);
            println!("{}", render::wrap(c.label, &head, &" ".repeat(20), w));
        };
        let of = |part| {
            choices
                .iter()
                .filter(move |c: &&IntakeChoice| c.part == part)
        };
        for (n, c) in of(IntakePart::Shown).enumerate() {
            if n == 0 {
                heading("What does the error dialog say?");
            }
            println!(
                "{}",
                render::wrap(c.label, &format!("    {}) ", n + 1), "       ", w)
            );
        }
        // The triage questions, each headed by its evidence's question (a
        // question's choices come together).
        let mut last = None;
        for c in of(IntakePart::Triage) {
            if c.evidence != last {
                last = c.evidence;
                let ev = c.evidence.unwrap_or(c.key);
                let text = self
                    .engine
                    .kb
                    .evidence(ev)
                    .and_then(|e| e.question.as_ref())
                    .map_or(ev, |q| q.text.as_str());
                heading(&format!("{text} One of:"));
            }
            keyed(c);
        }
        for (n, c) in of(IntakePart::Changed).enumerate() {
            if n == 0 {
                heading("What changed shortly before it started? Any of:");
            }
            keyed(c);
        }
        // An example answer from this KB's own words.
        let first = |part| of(part).next().map(|c| c.key);
        let mut example: Vec<&str> = Vec::new();
        if first(IntakePart::Shown).is_some() {
            example.push("1");
        }
        example.extend(first(IntakePart::Triage));
        example.extend(first(IntakePart::Changed));
        println!(
            "{}",
            render::wrap(
                &format!(
                    "Type the numbers and words that apply (e.g. `{}`), or paste the error text; Enter skips.",
                    example.join(" ")
                ),
                "  ",
                "  ",
                w
            )
        );
    }

    /// The intake choices a line names (numbers of what the dialog says,
    /// choice keys, `none`), or `None` when the line is something else.
    fn intake_keys(&self, line: &str) -> Option<Vec<String>> {
        let choices = self.engine.intake_choices();
        let shown: Vec<&str> = choices
            .iter()
            .filter(|c| c.part == IntakePart::Shown)
            .map(|c| c.key)
            .collect();
        let mut keys = Vec::new();
        for token in line
            .split([',', ' ', ';', '\t'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let lower = token.to_ascii_lowercase();
            if let Ok(n) = lower.parse::<usize>() {
                keys.push(shown.get(n.checked_sub(1)?)?.to_string());
            } else if choices.iter().any(|c| c.key == lower) || INTAKE_NONE.contains(&&*lower) {
                keys.push(lower);
            } else {
                return None;
            }
        }
        Some(keys)
    }

    /// Apply intake choices and show what they set.
    pub(super) fn apply_intake(&mut self, keys: &[String]) -> Result<()> {
        let keys: Vec<&str> = keys
            .iter()
            .map(String::as_str)
            .filter(|k| !INTAKE_NONE.contains(k))
            .collect();
        if keys.is_empty() {
            println!("(nothing picked: no facts added)");
            return Ok(());
        }
        self.apply(|s, e| {
            let set = s.intake(e, &keys)?;
            println!("From the intake:");
            for (ev, v) in &set {
                println!("  {ev} = {v}");
            }
            Ok(())
        })?;
        self.shown = None;
        Ok(())
    }

    /// The intake's one answer: choices, pasted text, or nothing.
    pub(super) fn intake_answer(&mut self, line: &str) -> Result<()> {
        let line = line.trim();
        if line.is_empty() {
            println!("(intake skipped)\n");
            return Ok(());
        }
        match self.intake_keys(line) {
            Some(keys) => self.apply_intake(&keys),
            None if self.paste(line)? => Ok(()),
            None => bail!(
                "`{line}` names no choice and holds nothing I recognise: type choice numbers or words, paste the error text, or press Enter"
            ),
        }
    }

    /// `:intake [CHOICES]`: show the intake, or apply choices.
    pub(super) fn intake_command(&mut self, arg: &str) -> Result<()> {
        if arg.is_empty() {
            self.show_intake();
            println!("(answer with :intake CHOICES, e.g. :intake 1 update)");
            return Ok(());
        }
        let Some(keys) = self.intake_keys(arg) else {
            let known: Vec<&str> = self.engine.intake_choices().iter().map(|c| c.key).collect();
            bail!("`{arg}`: choose numbers or any of {}", known.join(", "));
        };
        self.apply_intake(&keys)
    }
}
