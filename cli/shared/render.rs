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

/// The width of the terminal on stdout, when stdout is one.
pub fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ fills a `winsize` we own; a failing call
        // leaves it zeroed and is ignored.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
        if ok && ws.ws_col >= 20 {
            return Some(usize::from(ws.ws_col));
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&c: &usize| c >= 20)
}

/// `text` broken at word boundaries so no line is wider than `width`;
/// continuation lines start with `indent`. Words longer than a line stay
/// whole. Without a width (not a terminal) the text is unchanged.
pub fn wrap(text: &str, first: &str, indent: &str, width: Option<usize>) -> String {
    let Some(width) = width else {
        return format!("{first}{text}");
    };
    let mut out = String::from(first);
    let mut col = first.chars().count();
    let mut line_start = true;
    for word in text.split_whitespace() {
        let w = word.chars().count();
        if !line_start && col + 1 + w > width {
            out.push('\n');
            out.push_str(indent);
            col = indent.chars().count();
            line_start = true;
        }
        if !line_start {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
        line_start = false;
    }
    out
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

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_word_boundaries() {
        let text = "disable NLA on the host as administrator, then reset machinekeys permissions";
        let out = wrap(text, "  ", "    ", Some(30));
        for line in out.lines() {
            assert!(line.chars().count() <= 30, "{line:?}");
        }
        assert!(out.contains("administrator,"), "{out}");
        assert!(out.contains("machinekeys"), "{out}");
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>(),
            text.split_whitespace().collect::<Vec<_>>()
        );
        assert_eq!(wrap(text, "> ", "", None), format!("> {text}"));
    }
}
