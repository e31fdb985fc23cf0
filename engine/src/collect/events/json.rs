//! JSON exports: `evtx_dump`-style records (`{"Event": {"System": …}}`) and `Get-WinEvent | ConvertTo-Json` (object, array, wrapper or lines).

use super::*;

/// `obj[element]["#attributes"][attr]`, or `obj[element + "_attributes"][attr]`
/// (evtx's `--separate-json-attributes`).
pub(super) fn json_attr<'a>(obj: &'a Json, element: &str, attr: &str) -> Option<&'a Json> {
    obj.get(element)
        .and_then(|e| e.get("#attributes"))
        .and_then(|a| a.get(attr))
        .or_else(|| {
            obj.get(format!("{element}_attributes"))
                .and_then(|a| a.get(attr))
        })
}

pub(super) fn json_text(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Object(o) => o.get("#text").and_then(json_text),
        Json::Array(_) => None,
    }
}

/// A JSON number or numeric string as u64 (negative and fractional: none).
pub(super) fn json_u64(v: &Json) -> Option<u64> {
    match v {
        Json::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15)
                .map(|f| f as u64)
        }),
        Json::String(s) => parse_u64(s),
        _ => None,
    }
}

/// A value rendered as text for a data field.
pub(super) fn render(v: &Json) -> String {
    let s = match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        Json::Bool(b) => b.to_string(),
        Json::Array(items) => {
            let bytes: Option<Vec<u8>> = items
                .iter()
                .map(|i| i.as_u64().and_then(|n| u8::try_from(n).ok()))
                .collect();
            match bytes {
                // byte[] (Binary) from ConvertTo-Json: hex, as evtx shows it.
                Some(b) if !b.is_empty() => b.iter().map(|x| format!("{x:02X}")).collect(),
                _ => items.iter().map(render).collect::<Vec<_>>().join(", "),
            }
        }
        Json::Object(o) => {
            if let Some(x) = o.get("#text").or_else(|| o.get("Value")) {
                render(x)
            } else {
                serde_json::to_string(v).unwrap_or_default()
            }
        }
    };
    clip(&s, MAX_VALUE_CHARS)
}

/// Event id: number, numeric string, or `{"#text": id, "#attributes": {"Qualifiers": q}}`.
pub(super) fn event_id(v: &Json) -> Result<(u16, Option<u32>), String> {
    let (raw, qualifiers) = match v {
        Json::Object(o) => (
            o.get("#text").unwrap_or(&Json::Null),
            o.get("#attributes")
                .and_then(|a| a.get("Qualifiers"))
                .and_then(json_u64)
                .and_then(|q| u32::try_from(q).ok()),
        ),
        other => (other, None),
    };
    let id = json_u64(raw).ok_or_else(|| format!("event id {} is not a number", render(raw)))?;
    Ok(((id & 0xFFFF) as u16, qualifiers))
}

pub(super) fn record_from_evtx_json(root: &Json) -> Result<Record, String> {
    let ev = root.get("Event").unwrap_or(root);
    let sys = ev.get("System").ok_or("no System element")?;
    let provider = json_attr(sys, "Provider", "Name")
        .and_then(json_text)
        .and_then(|s| clean_name(&s))
        .ok_or("no provider name")?;
    let (id, qualifiers) = event_id(sys.get("EventID").ok_or("no event id")?)?;
    let mut rec = Record {
        provider,
        source: json_attr(sys, "Provider", "EventSourceName")
            .and_then(json_text)
            .and_then(|s| clean_name(&s)),
        id,
        qualifiers,
        channel: sys
            .get("Channel")
            .and_then(json_text)
            .and_then(|s| clean_name(&s)),
        computer: sys
            .get("Computer")
            .and_then(json_text)
            .and_then(|s| clean_name(&s)),
        time: json_attr(sys, "TimeCreated", "SystemTime")
            .and_then(json_text)
            .and_then(|s| parse_time(&s)),
        record_id: sys.get("EventRecordID").and_then(json_u64),
        ..Record::default()
    };
    match ev.get("EventData") {
        None | Some(Json::Null) => {}
        Some(Json::Object(map)) => {
            for (k, v) in map {
                match k.as_str() {
                    "#attributes" => {}
                    "Data" => unnamed_data(&mut rec, v),
                    _ => rec.push(k, render(v)),
                }
            }
        }
        Some(other) => unnamed_data(&mut rec, other),
    }
    if let Some(Json::Object(user)) = ev.get("UserData")
        && let Some((name, inner)) = user.iter().find(|(k, _)| k.as_str() != "#attributes")
    {
        match inner {
            Json::Object(fields) => {
                for (k, v) in fields {
                    match (k.as_str(), v) {
                        ("#attributes", _) => {}
                        (_, Json::Object(sub)) if !sub.contains_key("#text") => {
                            for (k2, v2) in
                                sub.iter().filter(|(k2, _)| k2.as_str() != "#attributes")
                            {
                                rec.push(&format!("{k}.{k2}"), render(v2));
                            }
                        }
                        _ => rec.push(k, render(v)),
                    }
                }
            }
            other => rec.push(name, render(other)),
        }
    }
    if let Some(m) = ev
        .get("RenderingInfo")
        .and_then(|r| r.get("Message"))
        .and_then(json_text)
    {
        rec.message = Some(clip(&m, 2000));
    }
    Ok(rec)
}

/// Classic unnamed `<Data>` values: `{"#text": x}`, `{"#text": [x, y]}`, a
/// scalar or a list; named `Data1`, `Data2`… by position.
pub(super) fn unnamed_data(rec: &mut Record, v: &Json) {
    let items: Vec<&Json> = match v {
        Json::Object(o) => match o.get("#text") {
            Some(Json::Array(a)) => a.iter().collect(),
            Some(x) => vec![x],
            None => {
                // Data with attributes only, or a name map: keep what is there.
                for (k, x) in o.iter().filter(|(k, _)| k.as_str() != "#attributes") {
                    rec.push(k, render(x));
                }
                return;
            }
        },
        Json::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    for (i, item) in items.into_iter().enumerate() {
        rec.push(&format!("Data{}", i + 1), render(item));
    }
}

// ---------------------------------------------------------------------------
// Get-WinEvent JSON

pub(super) fn record_from_winevent_json(
    obj: &Json,
    depth_lost: &mut bool,
) -> Result<Record, String> {
    let get = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| obj.get(*n).filter(|v| !v.is_null()))
    };
    let provider = get(&["ProviderName", "Source", "Provider"])
        .and_then(json_text)
        .and_then(|s| clean_name(&s))
        .ok_or("no ProviderName")?;
    let raw_id = get(&["Id", "EventID", "EventId", "InstanceId"]).ok_or("no Id")?;
    let (id, _) = event_id(raw_id)?;
    let time = get(&["TimeCreated", "TimeGenerated", "TimeWritten"]).and_then(|t| match t {
        // Windows PowerShell 5.1 sometimes wraps dates: {"value": "/Date(…)/", "DateTime": "…"}.
        Json::Object(o) => o
            .get("value")
            .and_then(json_text)
            .and_then(|s| parse_time(&s)),
        other => json_text(other).and_then(|s| parse_time(&s)),
    });
    let mut rec = Record {
        provider,
        id,
        qualifiers: get(&["Qualifiers"])
            .and_then(json_u64)
            .and_then(|q| u32::try_from(q).ok()),
        channel: get(&["LogName", "Channel"])
            .and_then(json_text)
            .and_then(|s| clean_name(&s)),
        computer: get(&["MachineName", "Computer"])
            .and_then(json_text)
            .and_then(|s| clean_name(&s)),
        time,
        record_id: get(&["RecordId", "Index"]).and_then(json_u64),
        message: get(&["Message"])
            .and_then(json_text)
            .map(|m| clip(&m, 2000)),
        ..Record::default()
    };
    let family = family_of(&rec.provider, None);
    let props = get(&["Properties", "ReplacementStrings"]);
    if let Some(Json::Array(items)) = props {
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Json::Object(o) => values.push(o.get("Value").map(render).unwrap_or_default()),
                Json::String(s) if s.starts_with("System.Diagnostics.Eventing.Reader.") => {
                    *depth_lost = true;
                }
                other => values.push(render(other)),
            }
        }
        let names = property_names(family, id, values.len());
        for (i, v) in values.into_iter().enumerate() {
            let name = names
                .and_then(|n| n.get(i))
                .map_or_else(|| format!("Data{}", i + 1), |n| (*n).to_string());
            let v = if name.eq_ignore_ascii_case("ErrorCode") {
                normalize_code(&v)
            } else {
                v
            };
            rec.push(&name, v);
        }
    } else if let Some(Json::String(s)) = props
        && s.starts_with("System.")
    {
        *depth_lost = true;
    }
    Ok(rec)
}

pub(super) fn read_json(name: &str, text: &str, b: &mut Builder) -> Result<(), CollectError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut state = JsonState {
        b,
        depth_lost: false,
        values: 0,
    };
    loop {
        if let Err(e) = (TopLevel { state: &mut state }).deserialize(&mut de) {
            let seen = state.b.log.records + state.b.log.records_failed;
            if seen == 0 && state.values == 0 {
                return Err(format_err(
                    name,
                    format!("not a Get-WinEvent JSON export: {e}"),
                ));
            }
            state.b.warn(format!(
                "the JSON is invalid or cut off at line {}, column {} ({e}); the events before it were read",
                e.line(),
                e.column()
            ));
            break;
        }
        state.values += 1;
        if de.end().is_ok() {
            break;
        }
    }
    if state.depth_lost {
        state.b.warn(
            "Properties were cut off by ConvertTo-Json's default depth: event data fields are missing (re-export with ConvertTo-Json -Depth 4); the Message text was used where possible",
        );
    }
    Ok(())
}

pub(super) struct JsonState<'a> {
    pub(super) b: &'a mut Builder,
    pub(super) depth_lost: bool,
    /// Top-level JSON values read.
    pub(super) values: u64,
}

impl JsonState<'_> {
    pub(super) fn event(&mut self, v: &Json) {
        let result = if v.get("Event").is_some() || v.get("System").is_some() {
            record_from_evtx_json(v)
        } else {
            record_from_winevent_json(v, &mut self.depth_lost)
        };
        match result {
            Ok(rec) => self.b.add(rec),
            Err(why) => {
                let n = self.b.log.records + self.b.log.records_failed + 1;
                self.b
                    .fail_record(format!("JSON event {n} not understood: {why}"));
            }
        }
    }

    /// A whole top-level object: an event, or PowerShell 5.1's `{"value": [...], "Count": n}`.
    pub(super) fn object(&mut self, v: Json) {
        if let Some(Json::Array(items)) = v.get("value")
            && v.get("Id").is_none()
            && v.get("ProviderName").is_none()
        {
            for item in items {
                self.element(item);
            }
        } else {
            self.event(&v);
        }
    }

    pub(super) fn element(&mut self, v: &Json) {
        if v.is_object() {
            self.event(v);
        } else {
            let n = self.b.log.records + self.b.log.records_failed + 1;
            self.b
                .fail_record(format!("JSON item {n} is not an object, not an event"));
        }
    }
}

/// Streams a top-level array element by element (bounded memory per event).
pub(super) struct TopLevel<'s, 'b> {
    pub(super) state: &'s mut JsonState<'b>,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object or an array of event objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Json>()? {
            self.state.element(&v);
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let v: Json =
            serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        self.state.object(v);
        Ok(())
    }
}
