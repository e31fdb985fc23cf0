//! Terminal rendering helpers: colour decisions and compiler-style
//! diagnostics with the offending line and a caret.

use std::io::IsTerminal;

use rootcause_engine::{Diagnostic, Severity};

/// Colour is used only on a terminal and when `NO_COLOR` is unset.
pub fn use_color(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub fn stdout_color() -> bool {
    use_color(std::io::stdout().is_terminal())
}

pub fn stderr_color() -> bool {
    use_color(std::io::stderr().is_terminal())
}

/// Wrap `s` in an ANSI style when `on`.
pub fn paint(on: bool, code: &str, s: &str) -> String {
    if on {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// A diagnostic as a compiler would print it.
pub fn diagnostic(d: &Diagnostic, color: bool) -> String {
    let (label, style) = match d.severity {
        Severity::Error => ("error", "1;31"),
        Severity::Warning => ("warning", "1;33"),
    };
    let mut s = format!(
        "{}: {}\n",
        paint(color, style, &format!("{label}[{}]", d.code)),
        paint(color, "1", &d.message)
    );
    let gutter = d.line.to_string().len();
    let pad = " ".repeat(gutter);
    s.push_str(&format!(
        "{pad}{} {}:{}:{}\n",
        paint(color, "1;34", "-->"),
        d.file,
        d.line,
        d.column
    ));
    if let Some(line) = &d.snippet {
        let bar = paint(color, "1;34", "|");
        let shown: String = line
            .chars()
            .map(|c| if c == '\t' { ' ' } else { c })
            .collect();
        s.push_str(&format!("{pad} {bar}\n"));
        s.push_str(&format!(
            "{} {bar} {shown}\n",
            paint(color, "1;34", &d.line.to_string())
        ));
        let caret = format!("{}^", " ".repeat(d.column.saturating_sub(1)));
        s.push_str(&format!("{pad} {bar} {}\n", paint(color, style, &caret)));
    }
    if let Some(help) = &d.help {
        s.push_str(&format!("{pad} = {}: {help}\n", paint(color, "1", "help")));
    }
    s
}

/// A horizontal bar of `width` cells for a probability.
pub fn bar(p: f64, width: usize, color: bool) -> String {
    let filled = ((p.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    if color {
        format!(
            "{}{}",
            paint(true, "32", &"█".repeat(filled)),
            "·".repeat(width - filled)
        )
    } else {
        format!("{}{}", "#".repeat(filled), ".".repeat(width - filled))
    }
}
