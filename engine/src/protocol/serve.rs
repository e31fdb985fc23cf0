//! The request/response loop over a byte stream, with bounded lines.

use std::io::{self, BufRead, Write};

use serde_json::json;

use super::{MAX_REQUEST_BYTES, Server};

/// Read one line of at most `max` bytes. Returns `None` at end of input;
/// a longer line is consumed to its end and reported as `Err(len)`.
pub fn read_line_bounded(
    r: &mut impl BufRead,
    max: usize,
    buf: &mut Vec<u8>,
) -> io::Result<Option<Result<(), usize>>> {
    buf.clear();
    let mut total = 0usize;
    let mut over = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(if total == 0 && !over {
                None
            } else if over {
                Some(Err(total))
            } else {
                Some(Ok(()))
            });
        }
        let (part, found) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        total += part.len();
        if !over {
            if buf.len() + part.len() > max {
                over = true;
                buf.clear();
            } else {
                buf.extend_from_slice(part);
            }
        }
        let consumed = found.unwrap_or(chunk.len());
        r.consume(consumed);
        if found.is_some() {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Some(if over { Err(total) } else { Ok(()) }));
        }
    }
}

/// Serve requests from `input` until it ends, one response line each.
pub fn serve(
    server: &mut Server,
    input: &mut impl BufRead,
    output: &mut impl Write,
) -> io::Result<()> {
    let mut buf = Vec::new();
    while let Some(line) = read_line_bounded(input, MAX_REQUEST_BYTES, &mut buf)? {
        let reply = match line {
            Ok(()) if buf.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(()) => server.handle_line(&buf),
            Err(len) => json!({"ok": false, "error": {"code": "too_large",
                "message": format!("request of {len} bytes exceeds the limit of {MAX_REQUEST_BYTES}")}})
            .to_string(),
        };
        output.write_all(reply.as_bytes())?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(())
}
