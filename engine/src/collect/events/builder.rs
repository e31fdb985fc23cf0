//! Accumulating records into an [`EventLog`]: counts, examples, details, bounded; times parsed from every format.

use super::*;

pub(super) struct Kind {
    pub(super) source: Option<String>,
    pub(super) qualifiers: Option<u32>,
    pub(super) channels: BTreeSet<String>,
    pub(super) count: u64,
    pub(super) first: Option<Time>,
    pub(super) last: Option<Time>,
    pub(super) examples: Vec<(Option<Time>, Example)>,
}

pub(super) struct Builder {
    pub(super) log: EventLog,
    pub(super) kinds: BTreeMap<(String, u16), Kind>,
    pub(super) computers: BTreeSet<String>,
    pub(super) channels: BTreeSet<String>,
    pub(super) first: Option<Time>,
    pub(super) last: Option<Time>,
    pub(super) warnings_dropped: u64,
    pub(super) kinds_dropped: u64,
    pub(super) computers_dropped: u64,
}

impl Builder {
    pub(super) fn new(path: &str, format: Format) -> Builder {
        Builder {
            log: EventLog {
                path: path.to_string(),
                format,
                records: 0,
                records_failed: 0,
                regions_skipped: 0,
                chunks: 0,
                chunks_failed: 0,
                warnings: Vec::new(),
                computers: Vec::new(),
                channels: Vec::new(),
                first_time: None,
                last_time: None,
                events: Vec::new(),
                details: Details::default(),
            },
            kinds: BTreeMap::new(),
            computers: BTreeSet::new(),
            channels: BTreeSet::new(),
            first: None,
            last: None,
            warnings_dropped: 0,
            kinds_dropped: 0,
            computers_dropped: 0,
        }
    }

    pub(super) fn warn(&mut self, message: impl Into<String>) {
        if self.log.warnings.len() < MAX_WARNINGS {
            self.log.warnings.push(message.into());
        } else {
            self.warnings_dropped += 1;
        }
    }

    pub(super) fn fail_record(&mut self, message: impl Into<String>) {
        self.log.records_failed += 1;
        self.warn(message);
    }

    pub(super) fn add(&mut self, rec: Record) {
        self.log.records += 1;
        if let Some(c) = &rec.computer
            && !self.computers.contains(c)
        {
            if self.computers.len() < MAX_COMPUTERS {
                self.computers.insert(c.clone());
            } else {
                self.computers_dropped += 1;
            }
        }
        if let Some(ch) = &rec.channel
            && !self.channels.contains(ch)
            && self.channels.len() < MAX_EVENT_KINDS
        {
            self.channels.insert(ch.clone());
        }
        if let Some(t) = &rec.time {
            if self.first.as_ref().is_none_or(|f| t.key() < f.key()) {
                self.first = Some(t.clone());
            }
            if self.last.as_ref().is_none_or(|l| t.key() > l.key()) {
                self.last = Some(t.clone());
            }
        }
        let family = family_of(&rec.provider, rec.source.as_deref());
        if let Some(f) = family {
            self.details(f, &rec);
        }
        let key = (rec.provider.clone(), rec.id);
        if !self.kinds.contains_key(&key) && self.kinds.len() >= MAX_EVENT_KINDS {
            self.kinds_dropped += 1;
            return;
        }
        let kind = self.kinds.entry(key).or_insert_with(|| Kind {
            source: None,
            qualifiers: None,
            channels: BTreeSet::new(),
            count: 0,
            first: None,
            last: None,
            examples: Vec::new(),
        });
        kind.count += 1;
        if rec.source.is_some() {
            kind.source.clone_from(&rec.source);
        }
        if rec.qualifiers.is_some() {
            kind.qualifiers = rec.qualifiers;
        }
        if let Some(ch) = &rec.channel
            && kind.channels.len() < MAX_KIND_CHANNELS
        {
            kind.channels.insert(ch.clone());
        }
        if let Some(t) = &rec.time {
            if kind.first.as_ref().is_none_or(|f| t.key() < f.key()) {
                kind.first = Some(t.clone());
            }
            if kind.last.as_ref().is_none_or(|l| t.key() > l.key()) {
                kind.last = Some(t.clone());
            }
        }
        if family.is_some_and(|f| watched(f, rec.id)) {
            keep_example(&mut kind.examples, &rec);
        }
    }

    /// Count the data values the KB's rules read.
    pub(super) fn details(&mut self, family: Family, rec: &Record) {
        let d = &mut self.log.details;
        let msg = rec.message.as_deref();
        match (family, rec.id) {
            (Family::Schannel, 36870) => {
                let code = rec
                    .field("ErrorCode")
                    .map(normalize_code)
                    .or_else(|| {
                        msg.and_then(|m| capture(&HEX_CODE, m))
                            .map(|c| normalize_code(&c))
                    })
                    .unwrap_or_else(|| "unknown".into());
                bump(&mut d.schannel_36870_errors, code);
            }
            (Family::Rcm, 1057 | 1058) => {
                let status = rec
                    .field("Data1")
                    .map(str::to_string)
                    .or_else(|| msg.and_then(|m| capture(&STATUS_TEXT, m)))
                    .map(|s| clip(s.trim(), MAX_VALUE_CHARS))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "unknown".into());
                bump(&mut d.rcm_cert_status, status);
            }
            (Family::RdpCoreTs, 131) => {
                let addr = rec
                    .field("ClientIP")
                    .map(strip_port)
                    .unwrap_or_else(|| "unknown".into());
                bump(&mut d.rdpcorets_131_clients, addr);
            }
            (Family::RdpCoreTs, 140) => {
                let addr = rec
                    .field("IPString")
                    .map(|s| clip(s.trim(), MAX_VALUE_CHARS))
                    .unwrap_or_else(|| "unknown".into());
                bump(&mut d.rdpcorets_140_addresses, addr);
            }
            (Family::Rcm, 1149) => {
                let user = rec.field("Param1").unwrap_or("").trim();
                let domain = rec.field("Param2").unwrap_or("").trim();
                let addr = rec.field("Param3").unwrap_or("").trim();
                let who = if domain.is_empty() {
                    user.to_string()
                } else {
                    format!("{domain}\\{user}")
                };
                bump(
                    &mut d.rcm_1149_logons,
                    clip(&format!("{who} from {addr}"), MAX_VALUE_CHARS),
                );
            }
            (Family::Client, 1026) => {
                let reason = rec
                    .field("Value")
                    .and_then(parse_u64)
                    .or_else(|| {
                        msg.and_then(|m| capture(&REASON, m))
                            .and_then(|s| parse_u64(&s))
                    })
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "unknown".into());
                bump(&mut d.client_1026_reasons, reason);
            }
            _ => {}
        }
    }

    pub(super) fn finish(mut self) -> EventLog {
        if self.kinds_dropped > 0 {
            let n = self.kinds_dropped;
            self.warn(format!(
                "more than {MAX_EVENT_KINDS} distinct (provider, event id) pairs; {n} events of further pairs are counted in the total only"
            ));
        }
        if self.computers_dropped > 0 {
            let n = self.computers_dropped;
            self.warn(format!(
                "more than {MAX_COMPUTERS} computer names; {n} events named further ones"
            ));
        }
        if self.log.records == 0 && self.log.records_failed == 0 {
            self.warn("the file holds no events");
        }
        if self.warnings_dropped > 0 {
            let n = self.warnings_dropped;
            self.log.warnings.push(format!("… and {n} more warnings"));
        }
        self.log.computers = self.computers.into_iter().collect();
        self.log.channels = self.channels.into_iter().collect();
        self.log.first_time = self.first.map(|t| t.text);
        self.log.last_time = self.last.map(|t| t.text);
        self.log.events = self
            .kinds
            .into_iter()
            .map(|((provider, id), k)| {
                let mut examples = k.examples;
                examples.sort_by_key(|(t, _)| t.as_ref().map(Time::key));
                EventCount {
                    provider,
                    source: k.source,
                    id,
                    qualifiers: k.qualifiers,
                    channels: k.channels.into_iter().collect(),
                    count: k.count,
                    first_time: k.first.map(|t| t.text),
                    last_time: k.last.map(|t| t.text),
                    examples: examples.into_iter().map(|(_, e)| e).collect(),
                }
            })
            .collect();
        self.log
    }
}

pub(super) fn keep_example(examples: &mut Vec<(Option<Time>, Example)>, rec: &Record) {
    let key = rec.time.as_ref().map(Time::key);
    if examples.len() >= MAX_EXAMPLES {
        // Replace the oldest when this one is newer.
        let Some((i, oldest)) = examples
            .iter()
            .enumerate()
            .min_by_key(|(_, (t, _))| t.as_ref().map(Time::key))
            .map(|(i, (t, _))| (i, t.as_ref().map(Time::key)))
        else {
            return;
        };
        if key <= oldest {
            return;
        }
        examples.remove(i);
    }
    let mut data: BTreeMap<String, String> = rec
        .data
        .iter()
        .map(|(k, v)| (k.clone(), clip(v, MAX_VALUE_CHARS)))
        .collect();
    if data.is_empty()
        && let Some(m) = &rec.message
    {
        data.insert("Message".into(), clip(m, MAX_VALUE_CHARS));
    }
    examples.push((
        rec.time.clone(),
        Example {
            time: rec.time.as_ref().map(|t| t.text.clone()),
            computer: rec.computer.clone(),
            record_id: rec.record_id,
            data,
        },
    ));
}

pub(super) fn bump(map: &mut BTreeMap<String, u64>, key: String) {
    if let Some(n) = map.get_mut(&key) {
        *n += 1;
    } else if map.len() < MAX_DETAIL_KEYS {
        map.insert(key, 1);
    } else {
        *map.entry("(other)".into()).or_insert(0) += 1;
    }
}

pub(super) static HEX_CODE: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"\b(0[xX][0-9A-Fa-f]{8})\b").expect("valid regex"));
pub(super) static STATUS_TEXT: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?i)status code was\s*(.+?)\s*\.?\s*$").expect("valid regex"));
pub(super) static REASON: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?i)reason\s*=\s*(\d+)").expect("valid regex"));

pub(super) fn capture(re: &Regex, text: &str) -> Option<String> {
    re.captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
}

/// `0x8009030d` / `2148074253` / `-2146893043` → `0x8009030D`; small
/// numbers and other text stay as they are.
pub(super) fn normalize_code(s: &str) -> String {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))
        && let Ok(n) = u32::from_str_radix(hex, 16)
    {
        return format!("0x{n:08X}");
    }
    if let Ok(n) = t.parse::<i64>()
        && !(0..0x10000).contains(&n)
        && let Ok(n) = u32::try_from(n).or_else(|_| i32::try_from(n).map(|x| x as u32))
    {
        return format!("0x{n:08X}");
    }
    clip(t, MAX_VALUE_CHARS)
}

/// `62.170.2.215:50270` → `62.170.2.215`; `[::1]:3389` → `::1`.
pub(super) fn strip_port(s: &str) -> String {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('[')
        && let Some(end) = rest.find(']')
    {
        return clip(&rest[..end], MAX_VALUE_CHARS);
    }
    match t.rsplit_once(':') {
        // One colon: IPv4 (or name) with a port. Several: a bare IPv6 address.
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            clip(host, MAX_VALUE_CHARS)
        }
        _ => clip(t, MAX_VALUE_CHARS),
    }
}

pub(super) fn parse_u64(s: &str) -> Option<u64> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok();
    }
    t.parse().ok()
}

/// At most `max` characters, cut on a character boundary.
pub(super) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

pub(super) fn clean_name(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| clip(t, MAX_NAME_CHARS))
}

// ---------------------------------------------------------------------------
// Times

pub(super) static ISO_TIME: Lazy<Regex> = Lazy::new(|| {
    Regex::new(
        r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$",
    )
    .expect("valid regex")
});
pub(super) static MS_DATE: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"^\\?/Date\((-?\d{1,16})([+-]\d{4})?\)\\?/$").expect("valid regex"));

/// Parse `2018-08-02T04:32:33.1773324Z`, `2022-08-08T23:06:40.123+02:00`
/// or `/Date(1660000000000)/`. Times with an offset are converted to UTC;
/// times without a zone are taken as UTC.
pub(super) fn parse_time(s: &str) -> Option<Time> {
    let t = s.trim();
    if let Some(c) = MS_DATE.captures(t) {
        let ms: i64 = c.get(1)?.as_str().parse().ok()?;
        let secs = ms.div_euclid(1000);
        let nanos = u32::try_from(ms.rem_euclid(1000)).ok()? * 1_000_000;
        if !(-62_135_596_800..=253_402_300_799).contains(&secs) {
            return None;
        }
        return Some(Time {
            secs,
            nanos,
            text: format_utc(secs, nanos),
        });
    }
    let c = ISO_TIME.captures(t)?;
    let num = |i: usize| -> Option<i64> { c.get(i)?.as_str().parse().ok() };
    let (y, mo, d, h, mi, se) = (num(1)?, num(2)?, num(3)?, num(4)?, num(5)?, num(6)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut nanos: u32 = 0;
    if let Some(f) = c.get(7) {
        let digits: String = f.as_str().chars().take(9).collect();
        let scale = 10u32.pow(9 - digits.len() as u32);
        nanos = digits.parse::<u32>().ok()? * scale;
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se;
    let zone = c.get(8).map(|z| z.as_str());
    match zone {
        Some("Z") | None => {}
        Some(z) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let digits: String = z.chars().filter(char::is_ascii_digit).collect();
            let oh: i64 = digits.get(..2)?.parse().ok()?;
            let om: i64 = digits.get(2..)?.parse().ok()?;
            secs -= sign * (oh * 3600 + om * 60);
        }
    }
    let text = if zone == Some("Z") || zone.is_none() {
        t.to_string()
    } else {
        format_utc(secs, nanos)
    };
    Some(Time { secs, nanos, text })
}

/// `2022-08-08T21:06:40.1230000Z` (7 fractional digits, as Windows writes).
pub(super) fn format_utc(secs: i64, nanos: u32) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:07}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        nanos / 100
    )
}
