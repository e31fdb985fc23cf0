//! Reading a file: size limits, format detection by content, text decoding (UTF-8, UTF-16 with BOM).

use super::*;

/// Read one event-log file, recognising its format by content.
///
/// Errors only when nothing can be read at all (missing file, too large,
/// unknown format, no evtx file header); damaged parts of a readable file
/// become warnings and the counters of [`EventLog`].
pub fn read_file(path: &Path) -> Result<EventLog, CollectError> {
    let shown = path.display().to_string();
    let io_err = |source| CollectError::Io {
        path: shown.clone(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let size = file.metadata().map_err(io_err)?.len();
    if size > MAX_FILE_BYTES {
        return Err(too_large(&shown, size));
    }
    let mut magic = [0u8; 8];
    let got = read_up_to(&mut file, &mut magic).map_err(io_err)?;
    if got == magic.len() && &magic == EVTX_MAGIC {
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let mut b = Builder::new(&shown, Format::Evtx);
        read_evtx(file, size, &mut b)?;
        return Ok(b.finish());
    }
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 20));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(&shown, bytes.len() as u64));
    }
    read_text(&shown, &bytes)
}

/// Parse an in-memory export (XML or JSON text, or `.evtx` bytes); `name`
/// is used in messages. Same rules as [`read_file`].
pub fn read_bytes(name: &str, bytes: &[u8]) -> Result<EventLog, CollectError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(name, bytes.len() as u64));
    }
    if bytes.starts_with(EVTX_MAGIC) {
        let mut b = Builder::new(name, Format::Evtx);
        read_evtx(
            std::io::Cursor::new(bytes.to_vec()),
            bytes.len() as u64,
            &mut b,
        )?;
        return Ok(b.finish());
    }
    read_text(name, bytes)
}

pub(super) fn too_large(path: &str, size: u64) -> CollectError {
    CollectError::TooLarge(format!(
        "{path}: {size} bytes; event-log files larger than {} MiB are not read (export a shorter time range)",
        MAX_FILE_BYTES / (1024 * 1024)
    ))
}

pub(super) fn format_err(path: &str, message: impl Into<String>) -> CollectError {
    CollectError::Format {
        path: path.to_string(),
        message: message.into(),
    }
}

pub(super) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

pub(super) fn read_text(name: &str, bytes: &[u8]) -> Result<EventLog, CollectError> {
    let mut notes = Vec::new();
    let text = decode_text(bytes, &mut notes);
    let body = text.trim_start_matches('\u{feff}').trim_start();
    let format = match body.as_bytes().first() {
        None => return Err(format_err(name, "empty file: no events")),
        Some(b'<') => Format::Xml,
        Some(b'[' | b'{') => Format::Json,
        Some(_) => {
            return Err(format_err(
                name,
                "not an event log: expected an .evtx file, a wevtutil XML export or a Get-WinEvent JSON export",
            ));
        }
    };
    let mut b = Builder::new(name, format);
    for n in notes {
        b.warn(n);
    }
    match format {
        Format::Xml => read_xml(name, body, &mut b)?,
        _ => read_json(name, body, &mut b)?,
    }
    Ok(b.finish())
}

/// Decode text by BOM: UTF-8 (BOM optional), UTF-16 LE/BE with BOM, or
/// UTF-16 LE without BOM when the second byte is zero.
pub(super) fn decode_text(bytes: &[u8], notes: &mut Vec<String>) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return utf8(rest, notes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, false, notes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, true, notes);
    }
    if bytes.len() >= 2 && bytes[0] != 0 && bytes[1] == 0 {
        return utf16(bytes, false, notes);
    }
    utf8(bytes, notes)
}

pub(super) fn utf8(bytes: &[u8], notes: &mut Vec<String>) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            notes.push("the text is not valid UTF-8; invalid bytes were replaced".into());
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

pub(super) fn utf16(bytes: &[u8], big_endian: bool, notes: &mut Vec<String>) -> String {
    if !bytes.len().is_multiple_of(2) {
        notes.push(
            "UTF-16 text with an odd number of bytes (truncated?); the last byte was ignored"
                .into(),
        );
    }
    let units = bytes.chunks_exact(2).map(|p| {
        if big_endian {
            u16::from_be_bytes([p[0], p[1]])
        } else {
            u16::from_le_bytes([p[0], p[1]])
        }
    });
    let mut bad = false;
    let s: String = char::decode_utf16(units)
        .map(|c| {
            c.unwrap_or_else(|_| {
                bad = true;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    if bad {
        notes.push("the UTF-16 text has unpaired surrogates; they were replaced".into());
    }
    s
}
