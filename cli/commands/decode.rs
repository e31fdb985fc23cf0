//! `rootcause decode CODE [EXTENDED]`.

use anyhow::{Result, anyhow};
use rootcause_engine::Engine;
use rootcause_engine::kb::codes::{self, parse_code};

pub fn run(engine: &Engine, code: &str, extended: Option<&str>, json: bool) -> Result<()> {
    let c = parse_code(code).map_err(|e| anyhow!(e))?;
    let x = extended
        .map(parse_code)
        .transpose()
        .map_err(|e| anyhow!(e))?;
    let d = codes::decode(&engine.kb.codes, c, x);
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(());
    }
    let mut known = false;
    match d.disconnect {
        Some(e) => {
            known = true;
            println!("Error code {c:#x} ({c}){}: {}", name_of(e), e.meaning);
            if !e.source.is_empty() {
                println!("  source: {}", e.source);
            }
        }
        None => match d.main_reason {
            Some(r) => {
                println!("Error code {c:#x} ({c}) is not in the table; its low byte says: {r}.")
            }
            None => println!(
                "Error code {c:#x} ({c}) is not a disconnect code this knowledge base knows."
            ),
        },
    }
    if let Some(x) = x {
        match d.extended_entry {
            Some(e) => {
                known = true;
                println!("Extended code {x:#x} ({x}){}: {}", name_of(e), e.meaning);
            }
            None => println!("Extended code {x:#x} ({x}) is not in the ERRINFO table."),
        }
    }
    if let Some(p) = d.pair {
        println!("\nTogether: {}.\n", p.summary);
        println!("{}", p.explanation);
        if !p.causes.is_empty() {
            println!("\nLikely causes: {}", p.causes.join(", "));
        }
        if p.diagnose {
            println!("\nTo find which one, run: rootcause diagnose");
        }
    } else if let Some(e) = d.disconnect.filter(|e| !e.causes.is_empty()) {
        println!("\nRelated causes: {}", e.causes.join(", "));
    }
    if !known && d.pair.is_none() {
        std::process::exit(1);
    }
    Ok(())
}

/// ` NAME` for a table entry with a name, nothing otherwise.
fn name_of(e: &rootcause_engine::kb::model::Code) -> String {
    if e.name.is_empty() {
        String::new()
    } else {
        format!(" {}", e.name)
    }
}
