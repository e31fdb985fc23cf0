//! `.evtx` files read chunk by chunk with the `evtx` crate; damaged chunks are skipped and reported.

use super::*;

pub(super) fn read_evtx<T: Read + Seek>(
    mut data: T,
    size: u64,
    b: &mut Builder,
) -> Result<(), CollectError> {
    let path = b.log.path.clone();
    let body = size.saturating_sub(EVTX_HEADER_BYTES);
    let present = body / EVTX_CHUNK_BYTES;
    let tail = body % EVTX_CHUNK_BYTES;
    // A partial chunk at the end: zero padding is harmless, anything else
    // is a cut-off copy (the parser ignores a partial last chunk silently).
    let tail_has_data = tail > 0 && {
        let mut buf = Vec::new();
        data.seek(SeekFrom::Start(size - tail))
            .and_then(|_| (&mut data).take(tail).read_to_end(&mut buf))
            .map_or(true, |_| buf.iter().any(|&x| x != 0))
    };
    data.seek(SeekFrom::Start(0))
        .map_err(|source| CollectError::Io {
            path: path.clone(),
            source,
        })?;
    let mut parser = EvtxParser::from_read_seek(data).map_err(|e| {
        format_err(
            &path,
            format!("not a readable .evtx file: {}", error_chain(&e)),
        )
    })?;
    let header = parser.header();
    let (header_ok, declared) = (header.validate_checksum(), u64::from(header.chunk_count));
    if !header_ok {
        b.warn("the file header's CRC32 does not match (read anyway)");
    }
    if tail_has_data {
        b.warn(format!(
            "the file ends inside a chunk ({tail} bytes after chunk {}): truncated copy; that part was not read",
            present.saturating_sub(1)
        ));
    }
    if declared > present {
        b.warn(format!(
            "the file header declares {declared} chunks but the file holds {present}: truncated copy"
        ));
    }
    let settings = Arc::new(ParserSettings::new().indent(false));
    let outcome = catch_unwind(AssertUnwindSafe(|| evtx_chunks(&mut parser, &settings, b)));
    if outcome.is_err() {
        b.log.chunks_failed += 1;
        b.warn("the evtx parser failed (internal error) while looking for chunks; reading stopped there");
    }
    Ok(())
}

pub(super) fn evtx_chunks<T: Read + Seek>(
    parser: &mut EvtxParser<T>,
    settings: &Arc<ParserSettings>,
    b: &mut Builder,
) {
    for chunk in parser.chunks() {
        let mut chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                b.log.chunks_failed += 1;
                let which = match &e {
                    EvtxError::FailedToParseChunk { chunk_id, .. } => format!("chunk {chunk_id}"),
                    _ => "a chunk".to_string(),
                };
                b.warn(format!("{which} skipped: {}", error_chain(&e)));
                continue;
            }
        };
        b.log.chunks += 1;
        let number = chunk
            .number
            .map_or_else(|| "?".to_string(), |n| n.to_string());
        if !chunk.validate_header_checksum() || !chunk.validate_data_checksum() {
            b.warn(format!(
                "chunk {number}: CRC32 mismatch (records read anyway)"
            ));
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            match chunk.parse(Arc::clone(settings)) {
                Err(e) => {
                    b.log.chunks_failed += 1;
                    b.warn(format!("chunk {number} skipped: {}", error_chain(&e)));
                }
                Ok(mut parsed) => {
                    for record in parsed.iter() {
                        evtx_record(record.and_then(|r| r.into_json_value()), &number, b);
                    }
                }
            }
        }));
        if outcome.is_err() {
            b.log.chunks_failed += 1;
            b.warn(format!(
                "chunk {number}: the evtx parser failed (internal error); the rest of the chunk was skipped"
            ));
        }
    }
}

pub(super) fn evtx_record(
    record: Result<::evtx::SerializedEvtxRecord<Json>, EvtxError>,
    chunk: &str,
    b: &mut Builder,
) {
    match record {
        Ok(r) => match record_from_evtx_json(&r.data) {
            Ok(mut rec) => {
                rec.record_id = rec.record_id.or(Some(r.event_record_id));
                b.add(rec);
            }
            Err(why) => b.fail_record(format!(
                "chunk {chunk}: record {} not understood: {why}",
                r.event_record_id
            )),
        },
        Err(EvtxError::FailedToReadRecordAt { source, .. })
            if matches!(
                source.as_ref(),
                EvtxError::DeserializationError(
                    DeserializationError::InvalidEvtxRecordHeaderMagic { .. }
                )
            ) =>
        {
            b.log.regions_skipped += 1;
            b.warn(format!(
                "chunk {chunk}: no record header where one should start; skipped to the next record ({})",
                error_chain(source.as_ref())
            ));
        }
        Err(e) => b.fail_record(format!("chunk {chunk}: {}", error_chain(&e))),
    }
}

/// An error and its sources, one line, without the `evtx` crate's generic
/// wrapper messages ("An error occurred while trying to …").
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !text.starts_with("An error occurred while trying to")
            && !parts.iter().any(|p| p.contains(&text))
        {
            parts.push(text);
        }
        cur = err.source();
        if parts.len() > 8 {
            break;
        }
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    clip(&parts.join(": "), 400)
}
