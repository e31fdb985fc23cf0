//! Scratch checker used while the loader is written: parses each KB file into the model types.
use rootcause_engine::model::*;
use std::collections::BTreeMap;
fn parse<T: serde::de::DeserializeOwned>(dir: &str, name: &str) -> Option<T> {
    let p = format!("{dir}/{name}");
    let text = std::fs::read_to_string(&p).ok()?;
    match ron::from_str::<T>(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            println!("{p}:{}:{}: {}", e.span.start.line, e.span.start.col, e.code);
            None
        }
    }
}
fn main() {
    let dir = std::env::args().nth(1).unwrap_or("kb/rdp-0x904".into());
    let _m: Option<Manifest> = parse(&dir, "kb.ron");
    let causes: Vec<Cause> = parse(&dir, "causes.ron").unwrap_or_default();
    let ev: Vec<Evidence> = parse(&dir, "evidence.ron").unwrap_or_default();
    let fixes: Vec<Fix> = parse(&dir, "fixes.ron").unwrap_or_default();
    let _codes: Option<Codes> = parse(&dir, "codes.ron");
    let ids: Vec<&str> = causes.iter().map(|c| c.id.as_str()).collect();
    let check = |what: &str, d: &BTreeMap<String, f64>, vals: &[String]| {
        let s: f64 = d.values().sum();
        if (s - 1.0).abs() > 1e-9 {
            println!("{what}: sums to {s}");
        }
        for v in vals {
            if !d.contains_key(v) {
                println!("{what}: missing value {v}");
            }
        }
        for k in d.keys() {
            if !vals.contains(k) {
                println!("{what}: unknown value {k}");
            }
        }
    };
    for e in &ev {
        check(&format!("{}.default", e.id), &e.default, &e.values);
        for (c, d) in &e.likelihoods {
            if !ids.contains(&c.as_str()) {
                println!("{}: unknown cause {c}", e.id);
            }
            check(&format!("{}.{c}", e.id), d, &e.values);
        }
    }
    for f in &fixes {
        for c in f.resolves.keys() {
            if !ids.contains(&c.as_str()) {
                println!("fix {}: unknown cause {c}", f.id);
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(format!("{dir}/cases")) {
        for ent in rd.flatten() {
            let name = format!("cases/{}", ent.file_name().to_string_lossy());
            let _cases: Option<Vec<Case>> = parse(&dir, &name);
        }
    }
    println!(
        "parsed: {} causes, {} evidence, {} fixes",
        causes.len(),
        ev.len(),
        fixes.len()
    );
}
