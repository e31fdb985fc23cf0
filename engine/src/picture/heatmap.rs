//! The KB as a heat map: evidence (rows, grouped by cost) × causes
//! (columns). Each cell is coloured by the log-likelihood ratio, in bits, of
//! that evidence's most telling value for the cause against the default row
//! (`log2 P(v | cause) / P(v | default)`): red favours the cause, blue
//! disfavours it, white tells nothing. On top, each cause's prior; on the
//! right, each question's expected information gain at the start of a
//! session. A column with few coloured cells is a cause the questions
//! cannot reach; two columns coloured alike are causes the questions
//! cannot tell apart.

use super::svg::{Doc, diverging, esc};
use crate::Engine;
use crate::infer::gain;

/// Bits at which the colour scale saturates.
pub const SCALE_BITS: f64 = 4.0;
/// A probability of 0 against a non-zero one counts as this many bits.
const INFINITE_BITS: f64 = 8.0;

/// One cell: the evidence's most telling value for the cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub evidence: usize,
    pub cause: usize,
    pub value: usize,
    /// Signed log2 likelihood ratio against the default row.
    pub bits: f64,
}

/// The value of `evidence` whose likelihood ratio for `cause` against the
/// default row is largest in size, and that ratio in bits (0 when the cause
/// uses the default row).
pub fn most_telling(engine: &Engine, cause: usize, evidence: usize) -> (usize, f64) {
    let e = &engine.model.evidence[evidence];
    let default = engine.model.n_causes() - 1;
    let mut best = (0, 0.0f64);
    for v in 0..e.arity() {
        let (p, d) = (e.p(cause, v), e.p(default, v));
        let bits = match (p > 0.0, d > 0.0) {
            (true, true) => (p / d).log2(),
            (false, true) => -INFINITE_BITS,
            (true, false) => INFINITE_BITS,
            (false, false) => 0.0,
        };
        if bits.abs() > best.1.abs() + 1e-12 {
            best = (v, bits);
        }
    }
    best
}

/// The KB's cost of evidence `e` (without the cost per step).
fn cost(engine: &Engine, e: usize) -> f64 {
    engine.kb.evidence.get(e).map_or(0.0, |x| x.cost)
}

/// Evidence indices in row order: by the KB's cost, then KB order.
pub fn row_order(engine: &Engine) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..engine.model.evidence.len()).collect();
    rows.sort_by(|&a, &b| cost(engine, a).total_cmp(&cost(engine, b)).then(a.cmp(&b)));
    rows
}

/// Every cell, rows in [`row_order`], causes in model order (`other` left out).
pub fn cells(engine: &Engine) -> Vec<Cell> {
    let causes = engine.model.n_causes() - 1;
    row_order(engine)
        .into_iter()
        .flat_map(|e| {
            (0..causes).map(move |c| {
                let (value, bits) = most_telling(engine, c, e);
                Cell {
                    evidence: e,
                    cause: c,
                    value,
                    bits,
                }
            })
        })
        .collect()
}

const LABEL_W: f64 = 270.0;
const CELL_W: f64 = 40.0;
const CELL_H: f64 = 17.0;
const GROUP_H: f64 = 22.0;
const PRIOR_H: f64 = 70.0;
const COL_LABEL_H: f64 = 195.0;
const GAIN_W: f64 = 170.0;

/// The heat map as a self-contained SVG document.
pub fn svg(engine: &Engine) -> String {
    let m = &engine.model;
    let kb = &engine.kb;
    let causes = m.n_causes() - 1;
    let rows = row_order(engine);
    let groups = {
        let mut g: Vec<f64> = rows.iter().map(|&e| cost(engine, e)).collect();
        g.dedup();
        g.len()
    };
    let grid_x = LABEL_W;
    let grid_w = causes as f64 * CELL_W;
    let gain_x = grid_x + grid_w + 24.0;
    let top = 40.0 + PRIOR_H + COL_LABEL_H;
    let grid_h = rows.len() as f64 * CELL_H + groups as f64 * GROUP_H;
    let width = gain_x + GAIN_W + 30.0;
    let height = top + grid_h + 110.0;
    let mut d = Doc::new(width, height);
    d.text(
        12.0,
        24.0,
        "start",
        r##"font-size="16" font-weight="bold""##,
        &format!(
            "{} {}: what each piece of evidence says about each cause",
            kb.manifest.id, kb.manifest.version
        ),
    );

    // Priors, as bars above the columns.
    let max_prior = m.prior[..causes]
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .max(1e-9);
    let base = 40.0 + PRIOR_H;
    d.text(grid_x - 8.0, base - 4.0, "end", r##"fill="#555""##, "prior");
    for c in 0..causes {
        let h = (m.prior[c] / max_prior) * (PRIOR_H - 16.0);
        let x = grid_x + c as f64 * CELL_W;
        d.rect(
            x + 6.0,
            base - h,
            CELL_W - 12.0,
            h,
            &format!(
                r##"class="prior" data-cause="{}" fill="#888""##,
                esc(&m.causes[c])
            ),
            &format!("{}: prior {:.3}", m.causes[c], m.prior[c]),
        );
        d.text(
            x + CELL_W / 2.0,
            base - h - 3.0,
            "middle",
            r##"font-size="9" fill="#555""##,
            &format!("{:.0}%", m.prior[c] * 100.0),
        );
    }
    // Column labels, rotated.
    for c in 0..causes {
        let x = grid_x + c as f64 * CELL_W + CELL_W / 2.0 + 4.0;
        let y = top - 6.0;
        d.text(
            x,
            y,
            "start",
            &format!(r##"class="col-label" transform="rotate(-60 {x:.1} {y:.1})""##),
            &m.causes[c],
        );
    }
    // Gain header.
    d.text(
        gain_x,
        top - 22.0,
        "start",
        r##"font-weight="bold""##,
        "expected gain at the start",
    );
    d.text(
        gain_x,
        top - 8.0,
        "start",
        r##"font-size="10" fill="#555""##,
        "bits, if answered (· = collector only)",
    );

    let max_gain = rows
        .iter()
        .map(|&e| gain::expected_gain(m, &m.prior, e))
        .fold(0.0, f64::max)
        .max(1e-9);
    let mut y = top;
    let mut last_cost = f64::NAN;
    for &e in &rows {
        let ev = &m.evidence[e];
        let c_e = cost(engine, e);
        if c_e != last_cost {
            last_cost = c_e;
            let n = rows.iter().filter(|&&r| cost(engine, r) == c_e).count();
            d.text(
                12.0,
                y + GROUP_H - 7.0,
                "start",
                r##"class="group" font-weight="bold" fill="#333""##,
                &format!("cost {c_e} ({n})"),
            );
            d.line(
                12.0,
                y + GROUP_H - 2.0,
                gain_x + GAIN_W,
                y + GROUP_H - 2.0,
                r##"stroke="#ccc""##,
            );
            y += GROUP_H;
        }
        let askable = kb.evidence.get(e).is_some_and(|x| x.question.is_some());
        d.text(
            grid_x - 8.0,
            y + CELL_H - 5.0,
            "end",
            r##"class="row-label""##,
            &format!("{}{}", if askable { "" } else { "· " }, ev.id),
        );
        for c in 0..causes {
            let (v, bits) = most_telling(engine, c, e);
            let value = &ev.values[v];
            let title = if bits == 0.0 {
                format!(
                    "{} tells nothing about {} (default row)",
                    ev.id, m.causes[c]
                )
            } else {
                format!(
                    "{}={value}: {bits:+.2} bits for {} (P = {:.3} vs {:.3} by default)",
                    ev.id,
                    m.causes[c],
                    ev.p(c, v),
                    ev.p(m.n_causes() - 1, v)
                )
            };
            d.rect(
                grid_x + c as f64 * CELL_W,
                y,
                CELL_W - 1.0,
                CELL_H - 1.0,
                &format!(
                    r##"class="cell" data-evidence="{}" data-cause="{}" data-value="{}" data-bits="{bits:.3}" fill="{}""##,
                    esc(&ev.id),
                    esc(&m.causes[c]),
                    esc(value),
                    diverging(bits / SCALE_BITS)
                ),
                &title,
            );
        }
        let g = gain::expected_gain(m, &m.prior, e);
        let w = g / max_gain * (GAIN_W - 40.0);
        d.rect(
            gain_x,
            y + 2.0,
            w,
            CELL_H - 5.0,
            &format!(
                r##"class="gain" data-evidence="{}" fill="#59a14f""##,
                esc(&ev.id)
            ),
            &format!("{}: {g:.3} bits at the start", ev.id),
        );
        d.text(
            gain_x + w + 4.0,
            y + CELL_H - 5.0,
            "start",
            r##"font-size="10" fill="#333""##,
            &format!("{g:.2}"),
        );
        y += CELL_H;
    }

    // Legend: the colour scale in bits.
    let ly = y + 30.0;
    d.text(
        grid_x,
        ly - 8.0,
        "start",
        r##"font-weight="bold""##,
        "log2 likelihood ratio of the most telling value against the default row",
    );
    let steps = 17;
    let lw = 360.0 / steps as f64;
    for i in 0..steps {
        let b = -SCALE_BITS + 2.0 * SCALE_BITS * i as f64 / (steps - 1) as f64;
        d.rect(
            grid_x + i as f64 * lw,
            ly,
            lw,
            14.0,
            &format!(r##"class="legend" fill="{}""##, diverging(b / SCALE_BITS)),
            &format!("{b:+.1} bits"),
        );
    }
    for (b, label) in [
        (-SCALE_BITS, "−4: disfavours"),
        (0.0, "0"),
        (SCALE_BITS, "+4: favours"),
    ] {
        let x = grid_x + (b + SCALE_BITS) / (2.0 * SCALE_BITS) * 360.0;
        d.text(x, ly + 28.0, "middle", r##"font-size="10""##, label);
    }
    d.text(
        grid_x,
        ly + 48.0,
        "start",
        r##"font-size="10" fill="#555""##,
        "Hover a cell for the value and the probabilities. Rows with · are set by collectors only.",
    );
    d.finish(&format!("{} heat map", kb.manifest.id))
}
