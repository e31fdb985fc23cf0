//! Small helpers for writing self-contained SVG: escaping, a diverging
//! colour scale, text and rectangles.

use std::fmt::Write as _;

/// Escape text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The diverging scale: `x` in [−1, 1], blue (−) through white to red (+)
/// (ColorBrewer RdBu end points).
pub fn diverging(x: f64) -> String {
    let x = x.clamp(-1.0, 1.0);
    let (end, t) = if x >= 0.0 {
        ((178.0, 24.0, 43.0), x)
    } else {
        ((33.0, 102.0, 172.0), -x)
    };
    let mix = |e: f64| (255.0 + (e - 255.0) * t).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(end.0), mix(end.1), mix(end.2))
}

/// A categorical colour for series `i` (Tableau 10).
pub fn series_colour(i: usize) -> &'static str {
    const C: [&str; 10] = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
        "#9c755f", "#bab0ac",
    ];
    C[i % C.len()]
}

/// An SVG document being written.
pub struct Doc {
    pub body: String,
    width: f64,
    height: f64,
}

impl Doc {
    pub fn new(width: f64, height: f64) -> Doc {
        Doc {
            body: String::new(),
            width,
            height,
        }
    }

    /// Text at (x, y); `anchor` is start, middle or end; `extra` more attributes.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, extra: &str, s: &str) {
        let _ = writeln!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" {extra}>{}</text>"#,
            esc(s)
        );
    }

    /// A rectangle with a tooltip.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, attrs: &str, title: &str) {
        let _ = write!(
            self.body,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" {attrs}>"#,
            w.max(0.0),
            h.max(0.0)
        );
        if title.is_empty() {
            self.body.push_str("</rect>\n");
        } else {
            let _ = writeln!(self.body, "<title>{}</title></rect>", esc(title));
        }
    }

    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, attrs: &str) {
        let _ = writeln!(
            self.body,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" {attrs}/>"#
        );
    }

    /// The whole document.
    pub fn finish(self, title: &str) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n<title>{}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n{}</svg>\n",
            esc(title),
            self.body,
            w = self.width,
            h = self.height
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_and_escaping() {
        assert_eq!(diverging(0.0), "#ffffff");
        assert_eq!(diverging(1.0), "#b2182b");
        assert_eq!(diverging(-5.0), "#2166ac");
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
