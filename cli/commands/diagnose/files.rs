//! What the REPL reads and writes: the probe, event logs and bundles, saved
//! sessions, reports.

use super::*;
use rootcause_engine::kb::model::Value as KbValue;

impl Repl<'_> {
    /// Print the report in `format`, or write it (and its chart) to `file`.
    pub(super) fn report(&self, format: &str, file: Option<&Path>) -> Result<()> {
        let Some(r) = report::render(self.engine, &self.state, format, file) else {
            bail!("unknown report format `{format}`: md, html or json");
        };
        let Some(path) = file else {
            print!("{}", r.text);
            return Ok(());
        };
        if let Some((chart, svg)) = &r.beside {
            atomic::write(chart, svg.as_bytes())
                .with_context(|| format!("writing {}", chart.display()))?;
        }
        atomic::write(path, r.text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        match &r.beside {
            Some((chart, _)) => println!(
                "report written to {} (chart: {})",
                path.display(),
                chart.display()
            ),
            None => println!("report written to {}", path.display()),
        }
        Ok(())
    }

    /// Run the RDP probe and add what it found.
    pub(super) fn probe(&mut self, target: &str, timeout: f64) -> Result<()> {
        let cfg = probe_view::config(target, timeout)?;
        println!("Probing {target} ...");
        let (report, collected) = rootcause_engine::collect::rdp_probe::collect(&cfg);
        let evidence = evidence::evidence(self.engine, std::slice::from_ref(&collected))?;
        probe_view::print_human(&report, &evidence);
        println!();
        let label = collected.label.clone();
        self.apply(|s, e| s.add_facts(e, collected.facts, &label).map_err(Into::into))?;
        self.shown = None;
        Ok(())
    }

    /// Add the facts of one endpoint of a scan's JSON lines: the one whose
    /// target (`host:port`) or host is `host`, or the only one.
    pub(super) fn read_scan(&mut self, file: &Path, host: Option<&str>) -> Result<()> {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let mut endpoints = Vec::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let v: serde_json::Value = serde_json::from_str(line).with_context(|| {
                format!(
                    "{}:{}: not a line of `rootcause scan --format json`",
                    file.display(),
                    i + 1
                )
            })?;
            if v.get("type").and_then(|t| t.as_str()) == Some("endpoint") {
                endpoints.push(v);
            }
        }
        let field = |v: &serde_json::Value, k: &str| {
            v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string()
        };
        let chosen = match host {
            Some(h) => endpoints
                .iter()
                .find(|v| field(v, "target") == h)
                .or_else(|| endpoints.iter().find(|v| field(v, "host") == h)),
            None if endpoints.len() == 1 => endpoints.first(),
            None => bail!(
                "{} holds {} endpoints: name one, e.g. `rootcause diagnose --from-scan {} HOST[:PORT]`",
                file.display(),
                endpoints.len(),
                file.display()
            ),
        };
        let Some(endpoint) = chosen else {
            bail!(
                "{} has no endpoint `{}` (it holds: {})",
                file.display(),
                host.unwrap_or(""),
                endpoints
                    .iter()
                    .take(10)
                    .map(|v| field(v, "target"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let target = field(endpoint, "target");
        let mut facts = rootcause_engine::collect::Facts::new();
        if let Some(map) = endpoint.get("facts").and_then(|f| f.as_object()) {
            for (k, v) in map {
                let value = match v {
                    serde_json::Value::Bool(b) => KbValue::Bool(*b),
                    serde_json::Value::Number(n) => KbValue::Number(n.as_f64().unwrap_or(0.0)),
                    serde_json::Value::String(s) => KbValue::Text(s.clone()),
                    _ => bail!(
                        "{}: fact `{k}` of {target} is not a string, number or boolean",
                        file.display()
                    ),
                };
                facts.insert(k.clone(), value);
            }
        }
        let label = format!("scan of {target}");
        println!(
            "Read {label} from {}: {} facts",
            file.display(),
            facts.len()
        );
        let collected = rootcause_engine::collect::Collected {
            collector: "rdp_probe".into(),
            label: label.clone(),
            facts: facts.clone(),
            warnings: Vec::new(),
        };
        for (e, v, src) in evidence::evidence(self.engine, std::slice::from_ref(&collected))? {
            println!("  {e} = {v}    [{src}]");
        }
        println!();
        self.apply(|s, e| s.add_facts(e, facts, &label).map_err(Into::into))?;
        self.shown = None;
        Ok(())
    }

    /// Read event logs and/or a bundle and add what they say.
    pub(super) fn read_files(
        &mut self,
        events: &[PathBuf],
        bundle: Option<&PathBuf>,
    ) -> Result<()> {
        let (collected, _) = evidence::gather(self.engine, events, bundle)?;
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

    pub(super) fn save(&self, path: &Path) -> Result<()> {
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
    pub(super) fn load(&mut self, path: &Path) -> Result<Vec<String>> {
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
