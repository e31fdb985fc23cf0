//! The story of a diagnosis as a chart: the top causes' probabilities after
//! each step (answers, pasted text, collected facts, fix results), each step
//! labelled underneath, so a ticket shows why the engine concluded what it
//! did.

use std::fmt::Write as _;

use super::svg::{Doc, esc, series_colour};
use crate::Engine;
use crate::session::{History, State};

/// A session's history and its chart, titled with the KB's problem.
pub fn of_session(engine: &Engine, state: &State) -> (History, String) {
    let history = engine.history(state);
    let title = format!("How the ranking moved: {}", engine.kb.manifest.title);
    let svg = svg(&history, &title);
    (history, svg)
}

/// Causes drawn: the highest at any step.
pub const LINES: usize = 5;

/// Room on the left for the first steps' slanted labels.
const LEFT: f64 = 170.0;
const TOP: f64 = 50.0;
const PLOT_H: f64 = 280.0;
const LABEL_H: f64 = 190.0;
const LEGEND_W: f64 = 260.0;

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// The chart as a self-contained SVG document.
pub fn svg(history: &History, title: &str) -> String {
    let n = history.points.len();
    let lines = history.top_causes(LINES);
    let step_w = if n > 1 {
        (760.0 / (n - 1) as f64).clamp(14.0, 110.0)
    } else {
        110.0
    };
    let plot_w = (step_w * (n.max(2) - 1) as f64).max(440.0);
    let step_w = plot_w / (n.max(2) - 1) as f64;
    let width = LEFT + plot_w + 40.0 + LEGEND_W;
    let height = TOP + PLOT_H + LABEL_H;
    let x_of = |i: usize| LEFT + i as f64 * step_w;
    let y_of = |p: f64| TOP + PLOT_H * (1.0 - p.clamp(0.0, 1.0));
    let mut d = Doc::new(width, height);
    d.text(
        20.0,
        24.0,
        "start",
        r#"font-size="15" font-weight="bold""#,
        title,
    );
    // Axes and grid.
    for k in 0..=4 {
        let p = k as f64 / 4.0;
        let y = y_of(p);
        d.line(LEFT, y, LEFT + plot_w, y, r##"stroke="#ddd""##);
        d.text(
            LEFT - 6.0,
            y + 4.0,
            "end",
            r##"font-size="10" fill="#555""##,
            &format!("{:.0}%", p * 100.0),
        );
    }
    d.line(LEFT, TOP, LEFT, TOP + PLOT_H, r##"stroke="#888""##);
    // One label per step (every k-th when crowded).
    let every = (16.0 / step_w).ceil().max(1.0) as usize;
    for (i, p) in history.points.iter().enumerate() {
        let x = x_of(i);
        d.line(x, TOP + PLOT_H, x, TOP + PLOT_H + 4.0, r##"stroke="#888""##);
        if i % every == 0 || i + 1 == n {
            let y = TOP + PLOT_H + 12.0;
            d.text(
                x,
                y,
                "end",
                &format!(
                    r#"class="step-label" font-size="10" transform="rotate(-45 {x:.1} {y:.1})""#
                ),
                &format!("{}. {}", i, short(&p.label, 34)),
            );
        }
    }
    // The lines, with a marker per step.
    for (k, &c) in lines.iter().enumerate() {
        let colour = series_colour(k);
        let mut path = String::new();
        for (i, p) in history.points.iter().enumerate() {
            let _ = write!(
                path,
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                x_of(i),
                y_of(p.posterior[c])
            );
        }
        let _ = writeln!(
            d.body,
            r#"<path class="series" data-cause="{}" d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            esc(&history.causes[c])
        );
        for (i, p) in history.points.iter().enumerate() {
            let _ = writeln!(
                d.body,
                r#"<circle class="point" data-cause="{}" data-step="{i}" data-p="{:.4}" cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"><title>{}: {} {:.1}%</title></circle>"#,
                esc(&history.causes[c]),
                p.posterior[c],
                x_of(i),
                y_of(p.posterior[c]),
                esc(&p.label),
                esc(&history.causes[c]),
                p.posterior[c] * 100.0
            );
        }
    }
    // Legend, with each cause's last probability.
    let lx = LEFT + plot_w + 30.0;
    for (k, &c) in lines.iter().enumerate() {
        let y = TOP + 10.0 + k as f64 * 22.0;
        let last = history.points.last().map_or(0.0, |p| p.posterior[c]);
        d.rect(
            lx,
            y - 9.0,
            14.0,
            10.0,
            &format!(r#"fill="{}""#, series_colour(k)),
            "",
        );
        d.text(
            lx + 20.0,
            y,
            "start",
            r#"class="legend-label""#,
            &format!("{} {:.0}%", history.causes[c], last * 100.0),
        );
    }
    if history.dropped > 0 {
        d.text(
            LEFT,
            height - 8.0,
            "start",
            r##"font-size="10" fill="#555""##,
            &format!("{} earlier steps are summed up in step 0.", history.dropped),
        );
    }
    d.finish(title)
}
