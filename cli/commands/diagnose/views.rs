//! What the REPL shows: the header, a question, the ranking, the advice, the conclusion and the fix plan.

use super::*;

impl Repl<'_> {
    pub(super) fn paint(&self, code: &str, s: &str) -> String {
        render::paint(self.color, code, s)
    }

    pub(super) fn header(&self) {
        let kb = &self.engine.kb;
        let w = self.width;
        let questions = kb.evidence.iter().filter(|e| e.question.is_some()).count();
        let title = format!(
            "{} ({} {}: {} causes, {} questions, {} fixes)",
            kb.manifest.title,
            kb.manifest.id,
            kb.manifest.version,
            kb.causes.len(),
            questions,
            kb.fixes.len()
        );
        let head = format!("{} ", self.paint("1", "rootcause:"));
        println!("{}", render::wrap(&title, &head, "  ", w));
        if !kb.manifest.problem.is_empty() {
            println!(
                "{}",
                render::wrap(&kb.manifest.problem, "Problem: ", "  ", w)
            );
        }
        println!(
            "{}",
            render::wrap(
                "Answer with the number of a choice, ? if you don't know, :help for commands, :quit to leave.",
                "",
                "  ",
                w
            )
        );
        let changes: Vec<&str> = kb
            .manifest
            .recent_changes
            .keys()
            .map(String::as_str)
            .collect();
        println!(
            "{}",
            render::wrap(
                "Quicker: paste what you see (the error dialog with its codes, an event, the output of Test-NetConnection or reg query) at any prompt, or :paste for several lines ending with an empty one.",
                "",
                "  ",
                w
            )
        );
        if !changes.is_empty() {
            println!(
                "{}\n",
                render::wrap(
                    &format!(
                        "What changed recently? :changed with any of {} (several at once, comma-separated).",
                        changes.join(", ")
                    ),
                    "",
                    "  ",
                    w
                )
            );
        } else {
            println!();
        }
    }

    pub(super) fn show_question(&self, e: usize, gain: f64, cost: f64) {
        let ev = &self.engine.kb.evidence[e];
        let label = match &self.state.verifying {
            Some(_) => format!("Check {}.", self.state.verify_answers.len() + 1),
            None => format!("Q{}.", self.state.questions_answered() + 1),
        };
        let text = ev
            .question
            .as_ref()
            .map_or(ev.title.as_str(), |q| q.text.as_str());
        let w = self.width;
        let head = format!("{label} ");
        let wrapped = render::wrap(text, &head, "    ", w);
        println!(
            "{}",
            wrapped.replacen(&label, &self.paint("1;36", &label), 1)
        );
        println!(
            "{}",
            render::wrap(
                &format!("[{} | cost {cost} | expected gain {gain:.2} bits]", ev.id),
                "    ",
                "     ",
                w
            )
        );
        for (i, v) in ev.values.iter().enumerate() {
            let label = ev
                .question
                .as_ref()
                .and_then(|q| q.labels.get(v))
                .map_or(v.as_str(), String::as_str);
            println!(
                "{}",
                render::wrap(label, &format!("  {}) ", i + 1), "     ", w)
            );
        }
        println!("  ?) I don't know");
        if let Some(help) = ev.question.as_ref().and_then(|q| q.help.as_ref()) {
            println!("{}", render::wrap(help, "  How to check: ", "    ", w));
        }
    }

    pub(super) fn show_ranking(&self, a: &Assessment, n: usize) {
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

    pub(super) fn show_advice(&self, a: &Assessment) {
        let advice = &a.advice;
        let w = self.width;
        let head = format!("{} ", self.paint("1;33", "Advice:"));
        println!("{}\n", render::wrap(&advice.reason, &head, "  ", w));
        if advice.step == "try_fix"
            && let Some(fix) = advice.fix.as_deref().and_then(|f| self.engine.kb.fix(f))
        {
            if self.offered.replace(Some(fix.id.clone())).as_ref() == Some(&fix.id) {
                // Shown already: a reminder, not the steps again.
                println!(
                    "{}\n",
                    render::wrap(
                        &format!(
                            "Still advised: {} (steps above, :fixes shows them again); :tried {} worked (or failed) when done.",
                            fix.id, fix.id
                        ),
                        "  ",
                        "  ",
                        w
                    )
                );
            } else {
                self.offer_fix(fix, a.next.is_some());
            }
        }
    }

    /// The fix to try now, step by step, with its risk and how to undo it.
    pub(super) fn offer_fix(&self, fix: &rootcause_engine::kb::model::Fix, can_ask: bool) {
        let w = self.width;
        println!(
            "{}",
            render::wrap(
                &format!("{} [{}]", fix.title, fix.id),
                &format!("{} ", self.paint("1;32", "Try now:")),
                "  ",
                w
            )
        );
        for (i, step) in fix.steps.iter().enumerate() {
            println!(
                "{}",
                render::wrap(&step.text, &format!("  {}. ", i + 1), "     ", w)
            );
            for c in &step.commands {
                println!("       {}: {}", c.kind(), c.text());
            }
        }
        if let Some(risk) = &fix.risk {
            println!("{}", render::wrap(risk, "  Risk: ", "    ", w));
        }
        if let Some(revert) = &fix.revert {
            println!("{}", render::wrap(revert, "  Undo afterwards: ", "    ", w));
        }
        let then = if can_ask {
            format!(
                "Then tell me: :tried {} worked (or failed). To ask more instead, answer the question below.",
                fix.id
            )
        } else {
            format!("Then tell me: :tried {} worked (or failed).", fix.id)
        };
        println!("{}\n", render::wrap(&then, "  ", "  ", w));
    }

    pub(super) fn conclude(&self, a: &Assessment) {
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

    pub(super) fn show_plan(&self, a: &Assessment, n: usize) {
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
}
