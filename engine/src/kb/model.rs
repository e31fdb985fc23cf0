//! The knowledge-base model: the typed form of the RON files in a KB folder.
//!
//! These types are plain data. They are deserialized by [`crate::kb::load`],
//! checked by [`crate::kb::check`] and compiled into dense probability tables by
//! [`crate::infer::Model`]. Field documentation here is the reference for KB
//! authors (see `docs/kb-authoring.md`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::intake::{INTAKE_NONE, RecentChange, TriageQuestion};

pub use super::finding::{Finding, Level, SCAN_SETTINGS};
pub use super::patterns::Pattern;

/// `kb.ron`: what the KB is about and the inference settings it wants.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Short id, e.g. `rdp-0x904`; JSON clients name the KB by it.
    pub id: String,
    pub title: String,
    pub version: String,
    /// The symptom as the user sees it, shown at the start of a session.
    #[serde(default)]
    pub problem: String,
    #[serde(default)]
    pub description: String,
    /// Prior of the implicit `other` cause (the leak): none of the KB's causes.
    #[serde(default = "default_leak")]
    pub leak: f64,
    /// A diagnosis is done when the top cause reaches this probability.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// A diagnosis is done when no question gains more than this (bits).
    #[serde(default = "default_min_gain")]
    pub min_gain_bits: f64,
    /// A diagnosis is done after this many questions.
    #[serde(default = "default_max_questions")]
    pub max_questions: usize,
    /// Source keys (e.g. `S8`) and what they are, so references can cite a key.
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
    /// A fixed checklist (evidence ids in the order a how-to article gives
    /// its steps): the baseline `bench simulate` compares the engine with.
    #[serde(default)]
    pub checklist: Vec<String>,
    /// What a fix's risks add to its cost when fixes are ordered: a test
    /// that lowers security is advised only when the evidence points at its
    /// cause.
    #[serde(default)]
    pub risk_costs: RiskCosts,
    /// Each `unknown` answer multiplies the answerability of the questions
    /// that need the same access (host event logs, host registry, …) by
    /// this factor for the rest of the session.
    #[serde(default = "default_unknown_decay")]
    pub unknown_decay: f64,
    /// What every step (a question asked or a fix tried) costs on top of
    /// its own effort: the user's round trip of reading, doing and
    /// reporting back. It makes the engine prefer fewer, surer steps.
    #[serde(default)]
    pub step_cost: f64,
    /// The intake's "what changed recently?" choices: each choice (e.g.
    /// `update`) and the evidence values it means. One answer can then
    /// fill in several variables at once.
    #[serde(default)]
    pub recent_changes: BTreeMap<String, RecentChange>,
    /// The intake's "what does the error say?" choices, in the same form:
    /// a user who reads the client's dialog answers several variables.
    #[serde(default)]
    pub error_shown: BTreeMap<String, RecentChange>,
    /// The intake's questions that a user answers at a glance (how the
    /// client reaches the host, whether others still connect): each is an
    /// askable evidence variable whose values get a short word to type.
    /// Its text and labels are the evidence's own question.
    #[serde(default)]
    pub triage: Vec<TriageQuestion>,
}

/// Extra cost per kind of risk (see [`Fix::lowers_security`] and friends).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RiskCosts {
    #[serde(default = "default_security_risk")]
    pub lowers_security: f64,
    #[serde(default = "default_reboot_risk")]
    pub needs_reboot: f64,
    #[serde(default = "default_downtime_risk")]
    pub needs_downtime: f64,
    /// A fix that lowers security is planned only once the cause it
    /// resolves best is at least this likely: a fact must point at it.
    #[serde(default)]
    pub security_gate: f64,
}

impl Default for RiskCosts {
    fn default() -> Self {
        RiskCosts {
            lowers_security: default_security_risk(),
            needs_reboot: default_reboot_risk(),
            needs_downtime: default_downtime_risk(),
            security_gate: 0.0,
        }
    }
}

fn default_security_risk() -> f64 {
    8.0
}
fn default_reboot_risk() -> f64 {
    1.0
}
fn default_downtime_risk() -> f64 {
    2.0
}
fn default_unknown_decay() -> f64 {
    0.5
}

fn default_leak() -> f64 {
    0.05
}
fn default_threshold() -> f64 {
    0.90
}
fn default_min_gain() -> f64 {
    0.01
}
fn default_max_questions() -> usize {
    25
}

/// `causes.ron`: one root cause the KB can conclude.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cause {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Relative base rate; the loader normalises priors to `1 - leak`.
    pub prior: f64,
    /// Source keys from the manifest (`S8`) or URLs.
    #[serde(default)]
    pub references: Vec<String>,
}

/// `evidence.ron`: a discrete variable that tells causes apart.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub id: String,
    /// A short noun phrase for reports ("RDP certificate expired").
    #[serde(default)]
    pub title: String,
    /// The finite set of values, e.g. `["yes", "no"]`.
    pub values: Vec<String>,
    /// How to ask the user; evidence without a question is only collected.
    #[serde(default)]
    pub question: Option<Question>,
    /// Cost of obtaining it: 1 = trivial question ... 10 = risky action.
    pub cost: f64,
    /// The question is reachable only when this holds.
    #[serde(default)]
    pub ask_if: Option<Condition>,
    /// `P(value | cause)` for causes not listed below and for `other`.
    pub default: BTreeMap<String, f64>,
    /// `P(value | cause)` per cause id.
    #[serde(default)]
    pub likelihoods: BTreeMap<String, BTreeMap<String, f64>>,
}

/// The prompt for an evidence variable.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub text: String,
    /// One answer label per value.
    pub labels: BTreeMap<String, String>,
    /// How to find the answer (where to click, what to run).
    #[serde(default)]
    pub help: Option<String>,
    /// The chance a typical help-desk user can answer it (0..=1); an
    /// `unknown` answer is the rest. Questions are scored by expected gain
    /// times answerability per cost.
    #[serde(default = "default_answerability")]
    pub answerability: f64,
    /// What answering needs (`client`, `host_console`, `host_events`,
    /// `host_registry`, `network`, `gateway`, `test_change`): an `unknown`
    /// answer lowers the answerability of the other questions that need
    /// the same access.
    #[serde(default)]
    pub access: Option<String>,
}

fn default_answerability() -> f64 {
    0.9
}

/// A typed raw value: collectors produce these, rules read them.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Number(f64),
    Text(String),
}

impl Value {
    /// The value as a string, as evidence values are compared.
    pub fn as_text(&self) -> String {
        match self {
            Value::Bool(true) => "yes".to_string(),
            Value::Bool(false) => "no".to_string(),
            Value::Number(n) => format_number(*n),
            Value::Text(s) => s.clone(),
        }
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => f.write_str(&format_number(*n)),
            Value::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// The right-hand side of a numeric comparison: a number, or the name of a
/// fact whose number it is (`Lt("probe.cert.days_left", "scan.warn_days")`;
/// false when that fact is missing or not a number).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Bound {
    Number(f64),
    Fact(String),
}

impl From<f64> for Bound {
    fn from(n: f64) -> Bound {
        Bound::Number(n)
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bound::Number(n) => f.write_str(&format_number(*n)),
            Bound::Fact(name) => f.write_str(name),
        }
    }
}

/// A condition over facts and evidence (used by `ask_if` and rules).
///
/// The first field names a fact; an evidence id names the evidence's value.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Condition {
    Eq(String, Value),
    Ne(String, Value),
    In(String, Vec<Value>),
    Lt(String, Bound),
    Le(String, Bound),
    Gt(String, Bound),
    Ge(String, Bound),
    /// The fact, as text, matches the regular expression.
    Matches(String, String),
    /// The fact has a value (an evidence answered `unknown` does not).
    Known(String),
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    /// Every fact or evidence id the condition reads, in order.
    pub fn facts(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_facts(&mut out);
        out
    }

    /// The fact a leaf condition reads (`None` for `All`, `Any`, `Not`).
    pub fn leaf_fact(&self) -> Option<&str> {
        match self {
            Condition::Eq(f, _)
            | Condition::Ne(f, _)
            | Condition::In(f, _)
            | Condition::Lt(f, _)
            | Condition::Le(f, _)
            | Condition::Gt(f, _)
            | Condition::Ge(f, _)
            | Condition::Matches(f, _)
            | Condition::Known(f) => Some(f),
            Condition::All(_) | Condition::Any(_) | Condition::Not(_) => None,
        }
    }

    fn collect_facts<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Condition::All(cs) | Condition::Any(cs) => {
                for c in cs {
                    c.collect_facts(out);
                }
            }
            Condition::Not(c) => c.collect_facts(out),
            Condition::Lt(f, b)
            | Condition::Le(f, b)
            | Condition::Gt(f, b)
            | Condition::Ge(f, b) => {
                out.push(f);
                if let Bound::Fact(g) = b {
                    out.push(g);
                }
            }
            leaf => out.extend(leaf.leaf_fact()),
        }
    }
}

/// `rules.ron`: forward-chaining rule from facts to evidence or derived facts.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    #[serde(default)]
    pub description: String,
    pub when: Condition,
    pub then: Vec<Action>,
}

/// What a rule does when its condition holds.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Action {
    /// Set an evidence variable to one of its values.
    Set(String, String),
    /// Set a derived fact that other rules can read.
    Derive(String, Value),
}

/// `fixes.ron`: a repair action and the causes it resolves.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fix {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Ordered steps.
    pub steps: Vec<Step>,
    /// Probability that the fix resolves the problem, per cause id.
    pub resolves: BTreeMap<String, f64>,
    /// Effort: 1 = a click ... 10 = a rebuild.
    pub cost: f64,
    /// What could go wrong or must be undone.
    #[serde(default)]
    pub risk: Option<String>,
    /// The fix lowers security (a test such as disabling NLA): it costs
    /// [`RiskCosts::lowers_security`] more and needs a `revert`.
    #[serde(default)]
    pub lowers_security: bool,
    /// The fix needs a reboot of the host or client.
    #[serde(default)]
    pub needs_reboot: bool,
    /// The fix interrupts every user of the host.
    #[serde(default)]
    pub needs_downtime: bool,
    /// How to undo the fix (required when it lowers security).
    #[serde(default)]
    pub revert: Option<String>,
    /// The fix is planned only when this holds (like a question's
    /// `ask_if`): an Azure-only repair needs `host_is_cloud_vm = yes`,
    /// bypassing a gateway needs one in the path.
    #[serde(default)]
    pub applies_if: Option<Condition>,
    /// How to confirm it worked.
    #[serde(default)]
    pub verify: Option<Verify>,
    #[serde(default)]
    pub references: Vec<String>,
}

/// One step of a fix.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub text: String,
    #[serde(default)]
    pub commands: Vec<Command>,
}

/// A command or setting path quoted in a step.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub enum Command {
    PowerShell(String),
    Cmd(String),
    Shell(String),
    /// A Group Policy path and the setting to choose.
    GroupPolicy(String),
    /// A registry key, value and data.
    Registry(String),
}

impl Command {
    pub fn kind(&self) -> &'static str {
        match self {
            Command::PowerShell(_) => "PowerShell",
            Command::Cmd(_) => "cmd",
            Command::Shell(_) => "shell",
            Command::GroupPolicy(_) => "Group Policy",
            Command::Registry(_) => "registry",
        }
    }
    pub fn text(&self) -> &str {
        match self {
            Command::PowerShell(s)
            | Command::Cmd(s)
            | Command::Shell(s)
            | Command::GroupPolicy(s)
            | Command::Registry(s) => s,
        }
    }
}

/// What to check after a fix (the resolver → verifier loop).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    pub text: String,
    /// Evidence to re-collect or re-ask, with the value that confirms the fix.
    #[serde(default)]
    pub expect: BTreeMap<String, String>,
}

/// `collectors.ron`: an automated source of facts, implemented by the engine.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Collector {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub kind: CollectorKind,
    /// Facts it may produce (rules read them).
    #[serde(default)]
    pub produces: Vec<String>,
    /// Upper bound for one run.
    #[serde(default = "default_collector_timeout")]
    pub timeout_secs: f64,
}

fn default_collector_timeout() -> f64 {
    10.0
}

/// The collector implementations the engine knows.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub enum CollectorKind {
    /// TCP + X.224 negotiation + TLS certificate probe of an RDP endpoint.
    RdpProbe,
    /// Windows event logs (.evtx, wevtutil XML, Get-WinEvent JSON).
    EventLog,
    /// A JSON evidence bundle written by the KB's collection script.
    Bundle,
    /// A command run on the Windows host, with a parser for its output.
    HostCommand(HostCommand),
}

/// A host check declared in the KB.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HostCommand {
    /// `PowerShell` or `Cmd`.
    pub shell: String,
    pub run: String,
    pub parse: Parser,
}

/// How a host command's output becomes facts.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub enum Parser {
    /// JSON output: fact name -> JSON pointer (`/NotAfter`).
    Json(BTreeMap<String, String>),
    /// Text output: fact name -> regex whose first capture group is the value.
    Regex(BTreeMap<String, String>),
}

/// `codes.ron`: mstsc disconnect and extended (ERRINFO) codes.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Codes {
    #[serde(default)]
    pub disconnect: Vec<Code>,
    #[serde(default)]
    pub extended: Vec<Code>,
    /// Explanations of specific (code, extended) pairs.
    #[serde(default)]
    pub pairs: Vec<CodePair>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    pub code: u32,
    #[serde(default)]
    pub name: String,
    pub meaning: String,
    #[serde(default)]
    pub source: String,
    /// Causes of this KB the code points to.
    #[serde(default)]
    pub causes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CodePair {
    pub code: u32,
    pub extended: u32,
    pub summary: String,
    pub explanation: String,
    #[serde(default)]
    pub causes: Vec<String>,
    /// True when this KB diagnoses the pair (`rootcause diagnose`).
    #[serde(default)]
    pub diagnose: bool,
}

/// `cases/*.ron`: a KB regression test.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// Where the scenario comes from (seed article, fact-sheet section).
    pub source: String,
    #[serde(default)]
    pub description: String,
    /// What the reporter pasted or wrote first (an error text, command
    /// output): run through the KB's patterns before anything is asked.
    #[serde(default)]
    pub text: Option<String>,
    /// Evidence id -> value, as a user or collector would give them.
    #[serde(default)]
    pub observations: BTreeMap<String, String>,
    /// Raw collector facts, run through the KB's rules.
    #[serde(default)]
    pub facts: BTreeMap<String, Value>,
    pub expect: Expect,
}

/// What a case expects from the ranking.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The cause that must rank first.
    #[serde(default)]
    pub top: Option<String>,
    /// Acceptable causes, one of which must be within the top `within`.
    #[serde(default)]
    pub any_of: Vec<String>,
    #[serde(default = "default_within")]
    pub within: usize,
    /// The expected cause's minimum probability (all observations given).
    #[serde(default)]
    pub min_probability: Option<f64>,
    /// Questions allowed in the interactive run.
    #[serde(default)]
    pub max_questions: Option<usize>,
}

fn default_within() -> usize {
    1
}
