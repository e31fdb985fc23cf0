//! Conditions and forward-chaining rules: raw facts in, evidence out.
//!
//! A fact is a typed value ([`Value`]) named like `probe.cert.days_left`; an
//! evidence id names the evidence's current value. Rules fire at most once
//! each and run to a fixpoint, so evaluation always terminates. Two rules
//! setting different values for one evidence variable is reported as a
//! [`Conflict`]; the first value stands.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use once_cell::sync::Lazy;
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use crate::kb::model::{Action, Bound, Condition, Rule, Value};

/// Compiled size limit for a KB regex (bytes of automaton).
pub const MAX_REGEX_BYTES: usize = 1 << 20;
/// Longest regex source accepted in a KB.
pub const MAX_REGEX_LEN: usize = 1000;

static REGEX_CACHE: Lazy<Mutex<HashMap<String, Arc<Regex>>>> = Lazy::new(Default::default);

/// The gist of a regex error: the `regex` crate's message spans several
/// lines with a caret; its last line says what is wrong.
pub fn regex_error_gist(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .last()
        .unwrap_or("invalid regex")
        .trim_start_matches("error: ")
        .to_string()
}

/// Compile a KB regex (cached), with bounded size.
pub fn regex(pattern: &str) -> Result<Arc<Regex>, String> {
    if let Ok(cache) = REGEX_CACHE.lock()
        && let Some(r) = cache.get(pattern)
    {
        return Ok(r.clone());
    }
    if pattern.len() > MAX_REGEX_LEN {
        return Err(format!("regex longer than {MAX_REGEX_LEN} characters"));
    }
    let re = RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_BYTES)
        .dfa_size_limit(MAX_REGEX_BYTES)
        .build()
        .map_err(|e| regex_error_gist(&e))?;
    let re = Arc::new(re);
    if let Ok(mut cache) = REGEX_CACHE.lock() {
        cache.insert(pattern.to_string(), re.clone());
    }
    Ok(re)
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Text(s) => s.trim().parse().ok(),
        Value::Bool(_) => None,
    }
}

/// Equality as conditions see it: numbers numerically, everything else as
/// text (`true` = `yes`, `false` = `no`).
pub fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::Number(x), Value::Text(_)) | (Value::Text(_), Value::Number(x)) => {
            let other = if matches!(a, Value::Number(_)) { b } else { a };
            as_number(other) == Some(*x)
        }
        _ => a.as_text() == b.as_text(),
    }
}

/// Evaluate a condition; `lookup` gives a fact's or evidence's value.
pub fn eval(cond: &Condition, lookup: &dyn Fn(&str) -> Option<Value>) -> bool {
    let num = |f: &str| lookup(f).as_ref().and_then(as_number);
    let bound = |b: &Bound| match b {
        Bound::Number(n) => Some(*n),
        Bound::Fact(g) => num(g),
    };
    let cmp = |f: &str, b: &Bound, op: fn(f64, f64) -> bool| matches!((num(f), bound(b)), (Some(x), Some(y)) if op(x, y));
    match cond {
        Condition::Eq(f, v) => lookup(f).is_some_and(|x| value_eq(&x, v)),
        Condition::Ne(f, v) => lookup(f).is_some_and(|x| !value_eq(&x, v)),
        Condition::In(f, vs) => lookup(f).is_some_and(|x| vs.iter().any(|v| value_eq(&x, v))),
        Condition::Lt(f, b) => cmp(f, b, |x, y| x < y),
        Condition::Le(f, b) => cmp(f, b, |x, y| x <= y),
        Condition::Gt(f, b) => cmp(f, b, |x, y| x > y),
        Condition::Ge(f, b) => cmp(f, b, |x, y| x >= y),
        Condition::Matches(f, p) => match (lookup(f), regex(p)) {
            (Some(x), Ok(re)) => re.is_match(&x.as_text()),
            _ => false,
        },
        Condition::Known(f) => lookup(f).is_some(),
        Condition::All(cs) => cs.iter().all(|c| eval(c, lookup)),
        Condition::Any(cs) => cs.iter().any(|c| eval(c, lookup)),
        Condition::Not(c) => !eval(c, lookup),
    }
}

/// An evidence value set by a rule, with what it was based on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inferred {
    pub evidence: String,
    pub value: String,
    pub rule: String,
    /// The facts the rule read, e.g. `probe.cert.days_left = -30`.
    pub because: Vec<String>,
}

/// Two rules that want different values for one evidence variable or fact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub target: String,
    pub kept: (String, String),
    pub rejected: (String, String),
}

/// What a rule run produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub evidence: Vec<Inferred>,
    pub derived: BTreeMap<String, Value>,
    pub conflicts: Vec<Conflict>,
    /// Ids of the rules that fired, in order.
    pub fired: Vec<String>,
}

/// Run rules to a fixpoint over `facts` and already-known evidence.
pub fn run(
    rules: &[Rule],
    facts: &BTreeMap<String, Value>,
    known: &dyn Fn(&str) -> Option<String>,
) -> Outcome {
    let mut out = Outcome::default();
    let mut fired = vec![false; rules.len()];
    let mut set_by: HashMap<String, (String, String)> = HashMap::new();
    loop {
        let mut progress = false;
        for (i, rule) in rules.iter().enumerate() {
            if fired[i] {
                continue;
            }
            let lookup = |name: &str| -> Option<Value> {
                if let Some((v, _)) = set_by.get(name) {
                    return Some(Value::Text(v.clone()));
                }
                if let Some(v) = out.derived.get(name) {
                    return Some(v.clone());
                }
                if let Some(v) = facts.get(name) {
                    return Some(v.clone());
                }
                known(name).map(Value::Text)
            };
            if !eval(&rule.when, &lookup) {
                continue;
            }
            let because: Vec<String> = rule
                .when
                .facts()
                .into_iter()
                .filter_map(|f| lookup(f).map(|v| format!("{f} = {}", v.as_text())))
                .collect();
            fired[i] = true;
            progress = true;
            out.fired.push(rule.id.clone());
            for action in &rule.then {
                match action {
                    Action::Set(ev, val) => match set_by.get(ev) {
                        Some((v, by)) if v != val => out.conflicts.push(Conflict {
                            target: ev.clone(),
                            kept: (by.clone(), v.clone()),
                            rejected: (rule.id.clone(), val.clone()),
                        }),
                        Some(_) => {}
                        None => {
                            set_by.insert(ev.clone(), (val.clone(), rule.id.clone()));
                            out.evidence.push(Inferred {
                                evidence: ev.clone(),
                                value: val.clone(),
                                rule: rule.id.clone(),
                                because: because.clone(),
                            });
                        }
                    },
                    Action::Derive(name, val) => match out.derived.get(name) {
                        Some(v) if !value_eq(v, val) => out.conflicts.push(Conflict {
                            target: name.clone(),
                            kept: (String::from("(earlier rule)"), v.as_text()),
                            rejected: (rule.id.clone(), val.as_text()),
                        }),
                        Some(_) => {}
                        None => {
                            out.derived.insert(name.clone(), val.clone());
                        }
                    },
                }
            }
        }
        if !progress {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, when: Condition, then: Vec<Action>) -> Rule {
        Rule {
            id: id.into(),
            description: String::new(),
            when,
            then,
        }
    }

    #[test]
    fn chains_to_fixpoint_and_reports_conflicts() {
        let rules = vec![
            rule(
                "b",
                Condition::Eq("mid".into(), Value::Bool(true)),
                vec![Action::Set("certificate_expired".into(), "yes".into())],
            ),
            rule(
                "a",
                Condition::Lt("days".into(), 0.0.into()),
                vec![Action::Derive("mid".into(), Value::Bool(true))],
            ),
            rule(
                "c",
                Condition::Known("days".into()),
                vec![Action::Set("certificate_expired".into(), "no".into())],
            ),
        ];
        let facts = BTreeMap::from([("days".to_string(), Value::Number(-3.0))]);
        let out = run(&rules, &facts, &|_| None);
        assert_eq!(out.fired, vec!["a", "c", "b"]);
        assert_eq!(out.evidence.len(), 1);
        assert_eq!(out.evidence[0].value, "no");
        assert_eq!(out.conflicts.len(), 1);
        assert_eq!(
            out.conflicts[0].rejected,
            ("b".to_string(), "yes".to_string())
        );
    }

    #[test]
    fn comparisons() {
        let look = |f: &str| match f {
            "n" => Some(Value::Text("12".into())),
            "s" => Some(Value::Text("Keyset does not exist".into())),
            "b" => Some(Value::Bool(true)),
            _ => None,
        };
        assert!(eval(&Condition::Gt("n".into(), 10.0.into()), &look));
        // A bound read from another fact; a missing one never holds.
        let warn = |f: &str| match f {
            "days" => Some(Value::Number(12.0)),
            "warn" => Some(Value::Number(30.0)),
            _ => None,
        };
        let below = |b: &str| Condition::Lt("days".into(), Bound::Fact(b.into()));
        assert!(eval(&below("warn"), &warn));
        assert!(!eval(
            &Condition::Gt("days".into(), Bound::Fact("warn".into())),
            &warn
        ));
        assert!(!eval(&below("missing"), &warn));
        let parsed: Condition =
            ron::from_str(r#"All([Lt("days", "warn"), Ge("days", -3)])"#).expect("ron");
        assert!(eval(&parsed, &warn));
        assert_eq!(parsed.facts(), vec!["days", "warn", "days"]);
        assert!(eval(&Condition::Eq("n".into(), Value::Number(12.0)), &look));
        assert!(eval(
            &Condition::Matches("s".into(), "(?i)keyset".into()),
            &look
        ));
        assert!(eval(
            &Condition::Eq("b".into(), Value::Text("yes".into())),
            &look
        ));
        assert!(!eval(
            &Condition::Ne("missing".into(), Value::Text("x".into())),
            &look
        ));
        assert!(eval(
            &Condition::Not(Box::new(Condition::Known("missing".into()))),
            &look
        ));
    }
}
