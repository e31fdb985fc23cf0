//! `wevtutil qe … /f:xml` exports, each event parsed on its own.

use super::*;

pub(super) fn read_xml(name: &str, text: &str, b: &mut Builder) -> Result<(), CollectError> {
    let mut found = 0u64;
    let mut pos = 0usize;
    while let Some(start) = next_event_start(text, pos) {
        found += 1;
        let Some(end_rel) = text[start..].find("</Event>") else {
            b.fail_record(format!(
                "event {found} (byte {start}) has no closing </Event>: the export is cut off"
            ));
            break;
        };
        let end = start + end_rel + "</Event>".len();
        let slice = &text[start..end];
        pos = end;
        let opts = roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: MAX_XML_NODES,
            ..roxmltree::ParsingOptions::default()
        };
        match roxmltree::Document::parse_with_options(slice, opts) {
            Ok(doc) => match record_from_xml(doc.root_element()) {
                Ok(rec) => b.add(rec),
                Err(why) => b.fail_record(format!(
                    "event {found} (byte {start}) not understood: {why}"
                )),
            },
            Err(e) => b.fail_record(format!(
                "event {found} (byte {start}) is not well-formed XML: {e}"
            )),
        }
    }
    if found == 0 && !text.contains("<Events") {
        return Err(format_err(
            name,
            "XML without <Event> elements: not a wevtutil or Event Viewer export",
        ));
    }
    Ok(())
}

/// Byte offset of the next `<Event` start tag (not `<EventData`, `<Events`…).
pub(super) fn next_event_start(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut pos = from;
    while let Some(rel) = text.get(pos..)?.find("<Event") {
        let at = pos + rel;
        match bytes.get(at + "<Event".len()) {
            Some(b' ' | b'\t' | b'\r' | b'\n' | b'>') => return Some(at),
            _ => pos = at + 1,
        }
    }
    None
}

pub(super) fn child<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

pub(super) fn xml_text(node: roxmltree::Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<String>()
}

pub(super) fn record_from_xml(ev: roxmltree::Node) -> Result<Record, String> {
    if ev.tag_name().name() != "Event" {
        return Err(format!("root element <{}>", ev.tag_name().name()));
    }
    let sys = child(ev, "System").ok_or("no <System>")?;
    let prov = child(sys, "Provider").ok_or("no <Provider>")?;
    let provider = prov
        .attribute("Name")
        .and_then(clean_name)
        .ok_or("no provider name")?;
    let id_node = child(sys, "EventID").ok_or("no <EventID>")?;
    let id_text = xml_text(id_node);
    let id = parse_u64(&id_text)
        .ok_or_else(|| format!("event id {:?} is not a number", clip(&id_text, 40)))?;
    let text_of = |name: &str| child(sys, name).map(xml_text).and_then(|s| clean_name(&s));
    let mut rec = Record {
        provider,
        source: prov.attribute("EventSourceName").and_then(clean_name),
        id: (id & 0xFFFF) as u16,
        qualifiers: id_node
            .attribute("Qualifiers")
            .and_then(parse_u64)
            .and_then(|q| u32::try_from(q).ok()),
        channel: text_of("Channel"),
        computer: text_of("Computer"),
        time: child(sys, "TimeCreated")
            .and_then(|t| t.attribute("SystemTime"))
            .and_then(parse_time),
        record_id: child(sys, "EventRecordID").and_then(|n| parse_u64(&xml_text(n))),
        ..Record::default()
    };
    if let Some(data) = child(ev, "EventData") {
        let mut unnamed = 0;
        for d in data.children().filter(|c| c.is_element()) {
            let value = clip(&xml_text(d), MAX_VALUE_CHARS);
            match (d.tag_name().name(), d.attribute("Name")) {
                ("Data", Some(n)) => {
                    let v = if n.eq_ignore_ascii_case("ErrorCode") {
                        normalize_code(&value)
                    } else {
                        value
                    };
                    rec.push(n, v);
                }
                ("Data", None) => {
                    unnamed += 1;
                    rec.push(&format!("Data{unnamed}"), value);
                }
                (tag, _) => rec.push(tag, value),
            }
        }
    }
    if let Some(user) = child(ev, "UserData")
        && let Some(inner) = user.children().find(|c| c.is_element())
    {
        for f in inner.children().filter(|c| c.is_element()) {
            let subs: Vec<_> = f.children().filter(|c| c.is_element()).collect();
            if subs.is_empty() {
                rec.push(f.tag_name().name(), clip(&xml_text(f), MAX_VALUE_CHARS));
            } else {
                for s in subs {
                    let name = format!("{}.{}", f.tag_name().name(), s.tag_name().name());
                    rec.push(&name, clip(&xml_text(s), MAX_VALUE_CHARS));
                }
            }
        }
    }
    if let Some(m) = child(ev, "RenderingInfo").and_then(|r| child(r, "Message")) {
        let m = xml_text(m);
        if !m.trim().is_empty() {
            rec.message = Some(clip(m.trim(), 2000));
        }
    }
    Ok(rec)
}
