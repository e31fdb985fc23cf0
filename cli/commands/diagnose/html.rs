//! The report as one self-contained HTML page: the Markdown report's subset
//! (headings, paragraphs, lists, tables, quotes, code, `**bold**`,
//! `` `code` ``) turned into HTML, with the chart inline.

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `**bold**` and `` `code` `` in escaped text.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut bold = false;
    let mut code = false;
    let mut rest = esc(s);
    while !rest.is_empty() {
        if !code && rest.starts_with("**") {
            out.push_str(if bold { "</strong>" } else { "<strong>" });
            bold = !bold;
            rest.drain(..2);
        } else if rest.starts_with('`') {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
            rest.drain(..1);
        } else {
            let c = rest.remove(0);
            out.push(c);
        }
    }
    if code {
        out.push_str("</code>");
    }
    if bold {
        out.push_str("</strong>");
    }
    out
}

fn cells(line: &str) -> Vec<String> {
    let t = line.trim().trim_start_matches('|').trim_end_matches('|');
    t.split(" | ")
        .map(|c| c.trim().replace("\\|", "|"))
        .collect()
}

/// The page: `markdown` converted, `chart` (an SVG document) where the
/// Markdown has the line `<!-- chart -->`.
pub fn page(title: &str, markdown: &str, chart: &str) -> String {
    let mut body = String::new();
    let lines: Vec<&str> = markdown.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim_start();
        if line.trim() == "<!-- chart -->" {
            body.push_str("<figure>");
            body.push_str(chart.trim_start_matches(|c| c != '<'));
            body.push_str("</figure>\n");
        } else if let Some(h) = t.strip_prefix("### ") {
            body.push_str(&format!("<h3>{}</h3>\n", inline(h)));
        } else if let Some(h) = t.strip_prefix("## ") {
            body.push_str(&format!("<h2>{}</h2>\n", inline(h)));
        } else if let Some(h) = t.strip_prefix("# ") {
            body.push_str(&format!("<h1>{}</h1>\n", inline(h)));
        } else if t.starts_with("```") {
            let mut code = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                code.push(lines[i].trim_start());
                i += 1;
            }
            body.push_str(&format!("<pre>{}</pre>\n", esc(&code.join("\n"))));
        } else if t.starts_with('|') {
            body.push_str("<table>\n");
            let header = cells(t);
            body.push_str("<tr>");
            for c in &header {
                body.push_str(&format!("<th>{}</th>", inline(c)));
            }
            body.push_str("</tr>\n");
            i += 1;
            if i < lines.len() && lines[i].trim_start().starts_with("|---") {
                i += 1;
            }
            while i < lines.len() && lines[i].trim_start().starts_with('|') {
                body.push_str("<tr>");
                for c in cells(lines[i]) {
                    body.push_str(&format!("<td>{}</td>", inline(&c)));
                }
                body.push_str("</tr>\n");
                i += 1;
            }
            body.push_str("</table>\n");
            continue;
        } else if let Some(q) = t.strip_prefix("> ") {
            body.push_str(&format!("<blockquote>{}</blockquote>\n", inline(q)));
        } else if let Some(item) = t.strip_prefix("- ") {
            body.push_str(&format!("<ul><li>{}</li></ul>\n", inline(item)));
        } else if t
            .split_once(". ")
            .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        {
            let (n, item) = t.split_once(". ").unwrap_or(("", t));
            body.push_str(&format!("<p class=\"step\">{n}. {}</p>\n", inline(item)));
        } else if !t.is_empty() {
            body.push_str(&format!("<p>{}</p>\n", inline(t)));
        }
        i += 1;
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}}pre{{background:#f4f4f4;padding:.6em;overflow-x:auto}}blockquote{{border-left:4px solid #e15759;margin:0;padding:.3em 1em}}figure{{margin:1em 0;overflow-x:auto}}</style></head>\n<body>\n{body}</body></html>\n",
        esc(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_subset() {
        let md = "# T\n\n**Most** `x` <b>\n\n| a | b |\n|---|---|\n| 1 | 2 \\| 3 |\n\n<!-- chart -->\n\n- item\n";
        let html = page("T", md, "<svg></svg>");
        assert!(html.contains("<h1>T</h1>"));
        assert!(html.contains("<strong>Most</strong> <code>x</code> &lt;b&gt;"));
        assert!(html.contains("<td>2 | 3</td>"));
        assert!(html.contains("<figure><svg></svg></figure>"));
        assert!(html.contains("<ul><li>item</li></ul>"));
    }
}
