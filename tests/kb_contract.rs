//! The embedded RDP KB against its public contracts: the model export
//! (DESIGN §9), the vocabulary (DESIGN §5), seed coverage, graphs, decode.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

fn export() -> Value {
    let (code, out, err) = run(&["kb", "export", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("export is JSON")
}

#[test]
fn export_is_a_complete_normalised_model() {
    let m = export();
    assert_eq!(m["kb"], "rdp-0x904");
    let causes: Vec<&str> = m["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let sum: f64 = m["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["prior"].as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-9, "priors sum to {sum}");
    assert_eq!(causes.last(), Some(&"other"));
    for want in DESIGN_CAUSES.iter().chain(&["other"]) {
        assert!(causes.contains(want), "cause {want} missing");
    }
    let evidence = m["evidence"].as_array().unwrap();
    for (id, values) in DESIGN_EVIDENCE {
        let e = evidence
            .iter()
            .find(|e| e["id"] == *id)
            .unwrap_or_else(|| panic!("evidence {id} missing"));
        let got: Vec<&str> = e["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(&got, values, "values of {id}");
    }
    for e in evidence {
        let values = e["values"].as_array().unwrap();
        let rows = e["likelihood"].as_object().unwrap();
        assert_eq!(
            rows.len(),
            causes.len(),
            "{}: one row per cause incl. other",
            e["id"]
        );
        for cause in &causes {
            let row = rows[*cause]
                .as_object()
                .unwrap_or_else(|| panic!("{} lacks row {cause}", e["id"]));
            assert_eq!(row.len(), values.len());
            let s: f64 = values
                .iter()
                .map(|v| row[v.as_str().unwrap()].as_f64().unwrap())
                .sum();
            assert!((s - 1.0).abs() < 1e-9, "{} | {cause} sums to {s}", e["id"]);
        }
    }
    for f in m["fixes"].as_array().unwrap() {
        assert!(f["cost"].as_f64().unwrap() > 0.0);
        for (c, p) in f["resolves"].as_object().unwrap() {
            assert!(causes.contains(&c.as_str()));
            assert!((0.0..=1.0).contains(&p.as_f64().unwrap()));
        }
    }
    let fixes: Vec<&str> = m["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(
        fixes.contains(&"regenerate_rdp_certificate"),
        "named in the protocol example"
    );
}

/// Every backticked id in the KB-ids column of docs/seed-coverage.md exists.
#[test]
fn seed_coverage_names_existing_ids() {
    let m = export();
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for key in ["causes", "evidence", "fixes"] {
        for x in m[key].as_array().unwrap() {
            ids.insert(x["id"].as_str().unwrap().to_string());
        }
    }
    let doc = std::fs::read_to_string(root().join("docs/seed-coverage.md")).unwrap();
    let mut tables = 0;
    let mut rows = 0;
    let mut in_table = false;
    for line in doc.lines() {
        if line.starts_with("| # | Seed statement | Kind | KB ids |") {
            tables += 1;
            in_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if !in_table || line.starts_with("|---") || line.starts_with("| ---") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').collect();
        let kind = cells[3].trim();
        assert!(
            ["cause", "check", "fix", "context"].contains(&kind),
            "bad kind in: {line}"
        );
        let col = cells[4];
        let named: Vec<&str> = col.split('`').skip(1).step_by(2).collect();
        assert!(!named.is_empty(), "a row names no KB id: {line}");
        for id in named {
            assert!(
                ids.contains(id),
                "seed-coverage names `{id}`, which is not in the KB"
            );
        }
        rows += 1;
    }
    assert_eq!(tables, 3, "one table per seed article");
    assert!(rows >= 30, "only {rows} seed statements covered");
}

#[test]
fn every_cause_has_a_case_and_a_fix_and_kb_test_passes() {
    let (code, out, err) = run(&["kb", "test"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.trim_end()
            .lines()
            .last()
            .unwrap()
            .ends_with(" passed, 0 failed"),
        "{out}"
    );
}

#[test]
fn graphs_render() {
    let (code, dot, _) = run(&["kb", "graph", "--format", "dot"]);
    assert_eq!(code, 0);
    assert!(dot.starts_with("digraph \"rdp-0x904\""));
    assert!(
        dot.contains("\"c:rdp_certificate_invalid\" -> \"e:certificate_expired\""),
        "likelihood link"
    );
    assert!(
        dot.contains("style=dashed, label=\"ask_if\""),
        "ask_if edges are dashed"
    );
    assert!(dot.contains("\"f:regenerate_rdp_certificate\" -> \"c:rdp_certificate_invalid\""));
    assert!(dot.trim_end().ends_with('}'));
    let (code, mm, _) = run(&["kb", "graph", "--format", "mermaid"]);
    assert_eq!(code, 0);
    assert!(mm.starts_with("flowchart LR"));
    assert!(mm.contains("-.->|ask_if|"));
}

#[test]
fn decode_explains_0x904_0x7_in_hex_and_decimal() {
    let (code, out, _) = run(&["decode", "0x904", "0x7"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("socket closed by the far end during connection setup, no error PDU"),
        "{out}"
    );
    assert!(out.contains("rootcause diagnose"), "{out}");
    let (code, dec, _) = run(&["decode", "2308", "7"]);
    assert_eq!(code, 0);
    assert_eq!(out, dec, "decimal and hex give the same answer");
    let (code, _, err) = run(&["decode", "0xZZ"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a code"), "{err}");
    let (code, out, _) = run(&["decode", "0x1104"]);
    assert_eq!(code, 0);
    assert!(out.contains("0x1104"), "{out}");
}

#[test]
fn decode_covers_the_fact_sheet_tables() {
    // Every disconnect code of fact sheet §1.5 and every ERRINFO of §1.4.
    for code in [
        "0x104", "0x108", "0x204", "0x304", "0x404", "0x406", "0x408", "0x506", "0x508", "0x604",
        "0x606", "0x704", "0x706", "0x708", "0x804", "0x808", "0x904", "0x906", "0x907", "0x908",
        "0xA06", "0xB06", "0xB08", "0xB09", "0xC06", "0xC08", "0xE06", "0x807", "0xA07", "0xB07",
        "0xC07", "0xD07", "0xE07", "0xF07", "0x1207", "0x1607", "0x1707", "0x1807", "0x1B07",
        "0x1C07", "0x1D07", "0x2107", "0x2207", "0x1104", "0x112F", "50331673",
    ] {
        let (c, out, _) = run(&["decode", code, "--json"]);
        assert_eq!(c, 0, "{code}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert!(
            v["disconnect"].is_object(),
            "disconnect code {code} missing from codes.ron"
        );
    }
    for x in (0x0..=0xC)
        .chain(0xF..=0x12)
        .chain(0x17..=0x1A)
        .chain(0x100..=0x10B)
    {
        let (c, out, _) = run(&["decode", "0x904", &x.to_string(), "--json"]);
        assert_eq!(c, 0);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert!(
            v["extended_entry"].is_object(),
            "extended code {x:#x} missing from codes.ron"
        );
    }
}
