//! The pictures, for the RDP KB and the small test KB: each SVG parses as
//! XML; the heat map has one cell per evidence x cause pair, coloured with
//! the sign of its likelihood ratio, and a label for every row and column;
//! the chart has one point per step; focused graphs hold the neighbourhood
//! only.

use std::collections::BTreeSet;
use std::path::Path;

use rootcause_engine::Engine;
use rootcause_engine::kb::graph::{self, Focus};
use rootcause_engine::picture::{chart, heatmap};
use rootcause_engine::session::{Source, State};

fn engines() -> Vec<Engine> {
    let mini = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/kb/mini");
    vec![
        Engine::embedded().unwrap(),
        Engine::from_dir(&mini).unwrap(),
    ]
}

fn rgb(fill: &str) -> (u8, u8, u8) {
    let h = fill.trim_start_matches('#');
    let c = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).unwrap();
    (c(0), c(2), c(4))
}

fn texts<'a>(doc: &'a roxmltree::Document, class: &str) -> Vec<&'a str> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text") && n.attribute("class") == Some(class))
        .filter_map(|n| n.text())
        .collect()
}

#[test]
fn heat_map_cells_colours_and_labels() {
    for engine in engines() {
        let m = &engine.model;
        let svg = heatmap::svg(&engine);
        let doc = roxmltree::Document::parse(&svg).expect("the heat map is XML");
        let cells: Vec<_> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("cell"))
            .collect();
        let causes = m.n_causes() - 1;
        assert_eq!(cells.len(), m.evidence.len() * causes, "one cell per pair");
        let mut pairs = BTreeSet::new();
        for cell in &cells {
            let e = m
                .evidence_index(cell.attribute("data-evidence").unwrap())
                .unwrap();
            let c = m
                .cause_index(cell.attribute("data-cause").unwrap())
                .unwrap();
            assert!(pairs.insert((e, c)), "a pair drawn twice");
            let (_, bits) = heatmap::most_telling(&engine, c, e);
            let shown: f64 = cell.attribute("data-bits").unwrap().parse().unwrap();
            assert!((shown - bits).abs() < 1e-3, "{e} {c}: {shown} vs {bits}");
            let (r, _, b) = rgb(cell.attribute("fill").unwrap());
            if bits > 0.01 {
                assert!(r > b, "a favouring cell is red: {bits} -> {r},{b}");
            } else if bits < -0.01 {
                assert!(b > r, "a disfavouring cell is blue: {bits} -> {r},{b}");
            } else {
                assert_eq!((r, b), (255, 255), "a cell that tells nothing is white");
            }
            assert!(
                cell.children().any(|t| t.has_tag_name("title")),
                "each cell has a tooltip"
            );
        }
        let rows: BTreeSet<String> = texts(&doc, "row-label")
            .into_iter()
            .map(|t| t.trim_start_matches("· ").to_string())
            .collect();
        let want: BTreeSet<String> = m.evidence.iter().map(|e| e.id.clone()).collect();
        assert_eq!(rows, want, "a label per row");
        let cols: BTreeSet<&str> = texts(&doc, "col-label").into_iter().collect();
        let want: BTreeSet<&str> = m.causes[..causes].iter().map(String::as_str).collect();
        assert_eq!(cols, want, "a label per column");
        let priors = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("prior"))
            .count();
        let gains = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("gain"))
            .count();
        assert_eq!((priors, gains), (causes, m.evidence.len()));
        assert!(
            !svg.contains("href"),
            "self-contained: no links to fonts, images or scripts"
        );
    }
}

#[test]
fn heat_map_fits_a_screen() {
    let engine = Engine::embedded().unwrap();
    let svg = heatmap::svg(&engine);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let root = doc.root_element();
    let w: f64 = root.attribute("width").unwrap().parse().unwrap();
    let h: f64 = root.attribute("height").unwrap().parse().unwrap();
    // Rendered 1,600 pixels wide, at most about 2,000 tall.
    assert!(h * 1600.0 / w <= 2000.0, "{w} x {h}");
}

#[test]
fn the_chart_has_a_point_per_step() {
    for engine in engines() {
        let mut state = State::new(&engine);
        let ids: Vec<String> = engine.kb.evidence.iter().map(|e| e.id.clone()).collect();
        let mut steps = 1;
        for id in ids.iter().take(4) {
            let v = engine.kb.evidence(id).unwrap().values[0].clone();
            state.observe(&engine, id, &v, Source::User).unwrap();
            steps += 1;
        }
        let fix = engine.kb.fixes[0].id.clone();
        state.fix_result(&engine, &fix, false).unwrap();
        steps += 1;
        state.retract(&engine, &ids[0]).unwrap();
        steps += 1;
        let h = engine.history(&state);
        assert_eq!(h.points.len(), steps);
        // The last point is the state's own posterior.
        let a = state.assess(&engine);
        for (x, y) in h.points.last().unwrap().posterior.iter().zip(&a.posterior) {
            assert!((x - y).abs() < 1e-9);
        }
        let svg = chart::svg(&h, "test");
        let doc = roxmltree::Document::parse(&svg).expect("the chart is XML");
        let lines = h.top_causes(chart::LINES);
        let points: Vec<_> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("point"))
            .collect();
        assert_eq!(points.len(), lines.len() * steps);
        for &c in &lines {
            let mine: Vec<usize> = points
                .iter()
                .filter(|p| p.attribute("data-cause") == Some(h.causes[c].as_str()))
                .map(|p| p.attribute("data-step").unwrap().parse().unwrap())
                .collect();
            assert_eq!(mine, (0..steps).collect::<Vec<_>>());
        }
        assert_eq!(texts(&doc, "step-label").len(), steps, "each step labelled");
    }
}

#[test]
fn focused_graphs_hold_the_neighbourhood() {
    for engine in engines() {
        let full = graph::dot(&engine);
        let cause = engine.kb.causes[0].id.clone();
        let g = graph::dot_of(&engine, &Focus::Cause(cause.clone())).unwrap();
        let nodes = |s: &str, prefix: &str| {
            s.lines()
                .filter(|l| {
                    l.trim_start().starts_with(&format!("\"{prefix}:")) && !l.contains("->")
                })
                .count()
        };
        assert_eq!(nodes(&g, "c"), 1);
        assert!(g.contains(&format!("\"c:{cause}\"")));
        assert!(nodes(&g, "e") < nodes(&full, "e") || engine.kb.evidence.len() < 4);
        for f in engine
            .kb
            .fixes
            .iter()
            .filter(|f| f.resolves.contains_key(&cause))
        {
            assert!(
                g.contains(&format!("\"f:{}\"", f.id)),
                "fix {} of the cause",
                f.id
            );
        }
        assert!(g.contains("rankdir=LR"));
        let ev = engine.kb.evidence[0].id.clone();
        let g = graph::dot_of(&engine, &Focus::Evidence(ev.clone())).unwrap();
        assert!(g.contains(&format!("\"e:{ev}\"")));
        assert!(nodes(&g, "c") < engine.kb.causes.len() + 1);
        let m = graph::mermaid_of(&engine, &Focus::Cause(cause)).unwrap();
        assert!(m.starts_with("flowchart LR"));
        assert!(graph::dot_of(&engine, &Focus::Cause("nope".into())).is_err());
        assert!(graph::dot_of(&engine, &Focus::Evidence("nope".into())).is_err());
    }
}
