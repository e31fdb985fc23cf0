//! The pictures from the command line: `kb heatmap`, `kb stats --heatmap`,
//! focused `kb graph`, and the chart in `diagnose --report md|html|json`
//! of a real session.

mod common;

use common::*;
use serde_json::Value as Json;

/// A session: a pasted Schannel event, two answers, a fix that worked and
/// its verification answers.
const SESSION: &str = ":paste\nEvent ID: 36870 A fatal error occurred when attempting to access the TLS server credential private key.\n\nlan\nno\n:tried reset_machinekeys_permissions worked\nno\nyes\nyes\n:quit\n";

fn points(svg: &str) -> usize {
    let doc = roxmltree::Document::parse(svg).expect("the chart is XML");
    let first = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("point"))
        .and_then(|n| n.attribute("data-cause"))
        .expect("a point");
    doc.descendants()
        .filter(|n| {
            n.attribute("class") == Some("point") && n.attribute("data-cause") == Some(first)
        })
        .count()
}

#[test]
fn markdown_report_with_its_chart_beside_it() {
    let dir = temp_dir("report-md");
    let out = dir.join("ticket.md");
    let (code, _, err) = run_stdin(
        &[
            "diagnose",
            "--report",
            "md",
            "--report-out",
            out.to_str().unwrap(),
        ],
        SESSION.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let md = std::fs::read_to_string(&out).expect("the report");
    assert!(
        md.contains("![The top causes after each step](ticket.chart.svg)"),
        "{md}"
    );
    let svg = std::fs::read_to_string(dir.join("ticket.chart.svg")).expect("the chart");
    // The table lists each step; the chart has a point per step plus the start.
    let moved = &md[md.find("## How the ranking moved").expect("the section")..];
    let steps = moved
        .lines()
        .filter(|l| {
            l.split(" | ")
                .next()
                .is_some_and(|n| n.trim_start_matches("| ").parse::<u32>().is_ok())
        })
        .count();
    assert!(steps >= 5, "{md}");
    // Verification outcomes follow from the answers: one row, no point of their own.
    let verify_rows = moved.lines().filter(|l| l.contains("| verify ")).count();
    assert_eq!(points(&svg), steps + 1 - verify_rows, "{svg}");
    assert!(md.contains("Fixed by:") || md.contains("reset_machinekeys_permissions"));
}

#[test]
fn html_and_json_reports_carry_the_chart() {
    let (code, html, err) = run_stdin(&["diagnose", "--report", "html"], SESSION.as_bytes());
    assert_eq!(code, 0, "{err}");
    let start = html.find("<!DOCTYPE html>").expect("an HTML page");
    let page = &html[start..];
    let svg_start = page.find("<svg").expect("the chart inline");
    let svg_end = page.find("</svg>").expect("the chart's end") + 6;
    assert!(points(&page[svg_start..svg_end]) >= 5);
    assert!(page.contains("<table>") && page.ends_with("</html>\n"));

    let (code, out, err) = run_stdin(&["diagnose", "--report", "json"], SESSION.as_bytes());
    assert_eq!(code, 0, "{err}");
    let json: Json = serde_json::from_str(&out[out.find("\n{").map_or(0, |i| i + 1)..])
        .expect("JSON at the end");
    let history = json["history"]["points"].as_array().expect("history");
    assert_eq!(points(json["chart_svg"].as_str().unwrap()), history.len());
}

#[test]
fn heatmap_and_focused_graph_commands() {
    let dir = temp_dir("heatmap");
    let file = dir.join("kb.svg");
    let (code, _, err) = run(&["kb", "heatmap", "-o", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let svg = std::fs::read_to_string(&file).unwrap();
    roxmltree::Document::parse(&svg).expect("XML");
    let (code, out, _) = run(&[
        "kb",
        "heatmap",
        "--kb",
        fixture("kb/mini").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(out.starts_with("<svg"));
    let stats_file = dir.join("stats.svg");
    let (code, out, err) = run(&[
        "kb",
        "stats",
        "--runs",
        "2",
        "--heatmap",
        stats_file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Hardest pairs"));
    assert_eq!(std::fs::read_to_string(&stats_file).unwrap(), svg);

    let (code, out, _) = run(&["kb", "graph", "--cause", "mtu_mismatch"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"c:mtu_mismatch\"") && !out.contains("\"c:licensing_or_cache\" ["));
    assert!(out.contains("\"r:"), "the rules that set the evidence");
    let (code, out, _) = run(&[
        "kb",
        "graph",
        "--evidence",
        "works_with_lower_mtu",
        "--format",
        "mermaid",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("e_works_with_lower_mtu"));
    let (code, _, err) = run(&["kb", "graph", "--cause", "no_such_cause"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown cause `no_such_cause`"), "{err}");
}

#[test]
fn json_lines_history_op_carries_the_chart() {
    let input = [
        r#"{"op":"start","text":"Event ID: 36870 A fatal error occurred when attempting to access the TLS server credential private key."}"#,
        r#"{"op":"observe","evidence":"connection_path","value":"lan"}"#,
        r#"{"op":"fix_result","fix":"regenerate_rdp_certificate","worked":false}"#,
        r#"{"op":"history","id":7}"#,
    ]
    .join("\n");
    let (code, out, err) = run_stdin(&["json"], input.as_bytes());
    assert_eq!(code, 0, "{err}");
    let last: Json = serde_json::from_str(out.lines().last().expect("a response")).unwrap();
    assert_eq!(last["id"], 7);
    let points = last["history"]["points"].as_array().expect("points");
    // start, the pasted value, the answer, the fix result
    assert_eq!(points.len(), 4, "{last}");
    assert_eq!(points[3]["label"], "fix regenerate_rdp_certificate failed");
    assert_eq!(self::points(last["chart_svg"].as_str().unwrap()), 4);
}
