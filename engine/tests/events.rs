//! The event-log collector (`collect::events`) on real samples and on
//! fixtures in the real export formats (`tests/data/evtx/README.md` lists
//! them, with sources and licences), through the KB's rules.
//!
//! The real samples' counts come from `tests/data/evtx/expected_counts.json`
//! (what `evtx_dump` of evtx 0.15.1 gives); they are asserted exactly.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use rootcause_engine::Engine;
use rootcause_engine::collect::CollectError;
use rootcause_engine::collect::events::{self, EventLog, Format, MAX_FILE_BYTES};
use rootcause_engine::kb::model::Value;
use rootcause_engine::session::State;
use serde_json::Value as Json;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/evtx")
        .join(name)
}

/// `../shared/data/evtx/` beside the project, when it exists.
fn shared_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/evtx");
    dir.is_dir().then_some(dir)
}

/// A scratch file in Cargo's temporary folder for integration tests.
fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("events-{}-{name}", std::process::id()));
    fs::write(&path, bytes).expect("write scratch file");
    path
}

/// Read a file on another thread, failing the test if it takes longer than
/// 60 s (old evtx versions loop forever on the zero-data-size sample).
fn read(path: &Path) -> Result<EventLog, CollectError> {
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(events::read_file(&p));
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("reading {} took more than 60 s", path.display()))
}

fn read_ok(path: &Path) -> EventLog {
    read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expected(path: &Path) -> Json {
    let text = fs::read_to_string(path).expect("expected_counts.json");
    serde_json::from_str(&text).expect("expected_counts.json is JSON")
}

fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

/// Assert everything `expected_counts.json` says about one file.
fn check_expected(log: &EventLog, e: &Json) {
    let name = &log.path;
    assert_eq!(
        Some(log.records),
        e["records_parsed"].as_u64(),
        "{name}: records"
    );
    assert_eq!(
        Some(log.records_failed),
        e["records_failed_to_parse"].as_u64(),
        "{name}: failed records"
    );
    assert_eq!(log.computers, strings(&e["computers"]), "{name}: computers");
    let range = strings(&e["time_range_utc"]);
    assert_eq!(
        log.first_time.as_deref(),
        Some(range[0].as_str()),
        "{name}: first time"
    );
    assert_eq!(
        log.last_time.as_deref(),
        Some(range[1].as_str()),
        "{name}: last time"
    );

    let providers = e["providers_all"].as_array().expect("providers_all");
    let mut total = 0;
    for p in providers {
        let provider = p["provider"].as_str().expect("provider");
        let count = p["count"].as_u64().expect("count");
        assert_eq!(
            log.provider_count(provider),
            count,
            "{name}: events of {provider}"
        );
        total += count;
    }
    assert_eq!(
        total, log.records,
        "{name}: providers_all covers every record"
    );
    let mine: std::collections::BTreeSet<&str> =
        log.events.iter().map(|e| e.provider.as_str()).collect();
    assert_eq!(mine.len(), providers.len(), "{name}: number of providers");

    for r in e["rdp_relevant"].as_array().expect("rdp_relevant") {
        let provider = r["provider"].as_str().expect("provider");
        let id = u16::try_from(r["event_id"].as_u64().expect("event_id")).expect("16-bit id");
        let count = r["count"].as_u64().expect("count");
        let ev = log
            .event(provider, id)
            .unwrap_or_else(|| panic!("{name}: no {provider} {id}"));
        if provider == "Service Control Manager" && id == 7036 {
            // expected_counts lists only the five RDP-service 7036s; all 7036s are counted here.
            assert!(ev.count >= count, "{name}: 7036 {} < {count}", ev.count);
        } else {
            assert_eq!(ev.count, count, "{name}: {provider} {id}");
        }
        let channel = r["channel"].as_str().expect("channel");
        assert!(
            ev.channels.iter().any(|c| c == channel),
            "{name}: {id} channel {channel}"
        );
        let example = &r["first_example"];
        assert_eq!(
            ev.qualifiers.map(u64::from),
            example["EventID_Qualifiers"].as_u64(),
            "{name}: {id} qualifiers"
        );
        if let Some(source) = example["EventSourceName"].as_str() {
            assert_eq!(
                ev.source.as_deref(),
                Some(source),
                "{name}: {id} EventSourceName"
            );
        }
        // Examples are kept for the events the KB reads; their field names are
        // evtx_dump's, with unnamed classic <Data> numbered (Data -> Data1).
        for ex in &ev.examples {
            let mut want: Vec<String> = strings(&r["field_names"])
                .into_iter()
                .map(|f| if f == "Data" { "Data1".into() } else { f })
                .collect();
            want.sort();
            let got: Vec<String> = ex.data.keys().cloned().collect();
            assert_eq!(got, want, "{name}: {id} data fields");
        }
    }
}

const COPIED: [&str; 4] = [
    "2-vss_0-RdpCoreTS-Operational.evtx",
    "2-vss_7-System.evtx",
    "sample-with-zero-data-size-event.evtx",
    "ID1149-RDP-success-logins-to-multiple-hosts.evtx",
];

#[test]
fn real_samples_match_expected_counts() {
    let all = expected(&data("expected_counts.json"));
    for name in COPIED {
        let log = read_ok(&data(name));
        assert_eq!(log.format, Format::Evtx);
        check_expected(&log, &all["files"][name]);
    }
}

#[test]
fn rdpcorets_sample_reports_damage_and_counts_the_rest() {
    let log = read_ok(&data("2-vss_0-RdpCoreTS-Operational.evtx"));
    assert_eq!((log.records, log.records_failed), (1910, 2));
    // After each failed record the parser lost its place once and resynchronised.
    assert_eq!(log.regions_skipped, 2);
    assert_eq!((log.chunks, log.chunks_failed), (16, 0));
    let crc: Vec<_> = log
        .warnings
        .iter()
        .filter(|w| w.contains("CRC32"))
        .collect();
    assert_eq!(
        crc.len(),
        2,
        "two chunks fail their CRC32: {:?}",
        log.warnings
    );
    for record in ["6914519", "6335011"] {
        assert!(
            log.warnings.iter().any(|w| w.contains(record)),
            "failed record {record} named: {:?}",
            log.warnings
        );
    }
    let core = "Microsoft-Windows-RemoteDesktopServices-RdpCoreTS";
    assert_eq!(log.count(core, 131), 126);
    assert_eq!(log.count(core, 140), 126);
    assert_eq!(log.details.rdpcorets_131_clients.values().sum::<u64>(), 126);
    assert_eq!(
        log.details.rdpcorets_140_addresses.values().sum::<u64>(),
        126
    );
    assert_eq!(
        log.details.rdpcorets_131_clients.get("212.92.115.217"),
        Some(&16)
    );
    let ex = &log.event(core, 131).expect("131").examples;
    assert_eq!(ex.len(), events::MAX_EXAMPLES);
    assert!(
        ex.iter()
            .all(|e| e.data["ConnType"] == "TCP" && e.data["ClientIP"].contains(':'))
    );
    // Most recent examples, in time order.
    assert!(ex.windows(2).all(|w| w[0].time <= w[1].time));
}

#[test]
fn classic_events_with_qualifiers_and_several_computers() {
    let rcm = "Microsoft-Windows-TerminalServices-RemoteConnectionManager";
    let system = read_ok(&data("2-vss_7-System.evtx"));
    let ev = system.event(rcm, 1056).expect("1056");
    assert_eq!(
        (ev.count, ev.qualifiers, ev.source.as_deref()),
        (1, Some(49152), Some("TermService"))
    );
    assert_eq!(ev.channels, ["System"]);
    let fields = &ev.examples[0].data;
    assert_eq!(fields["Data1"], "DESKTOP-1N4R894");
    assert_eq!(fields["Binary"], "59EFF2E3B509C83137E81085E02A1AC63A7E61AA");
    assert_eq!(ev.examples[0].record_id, Some(201));
    // No chunk is damaged; empty chunks are skipped silently.
    assert!(system.warnings.is_empty(), "{:?}", system.warnings);

    let renamed = read_ok(&data("sample-with-zero-data-size-event.evtx"));
    assert_eq!((renamed.records, renamed.records_failed), (449, 1));
    assert!(
        renamed.warnings.iter().any(|w| w.contains("data size")),
        "{:?}",
        renamed.warnings
    );
    assert_eq!(renamed.computers.len(), 4);
    let ev = renamed.event(rcm, 1056).expect("1056");
    // EventID {"#text": 1056, "#attributes": {"Qualifiers": 49152}}.
    assert_eq!((ev.count, ev.qualifiers), (4, Some(49152)));
    assert_eq!(ev.examples.len(), events::MAX_EXAMPLES);
    assert!(ev.examples.iter().all(|e| e.data.contains_key("Binary")));
}

#[test]
fn string_event_ids_and_json_lines() {
    let log = read_ok(&data("ID1149-RDP-success-logins-to-multiple-hosts.evtx"));
    let rcm = "Microsoft-Windows-TerminalServices-RemoteConnectionManager";
    assert_eq!((log.records, log.count(rcm, 1149)), (11, 11));
    assert_eq!(log.computers.len(), 11);
    assert_eq!(log.details.rcm_1149_logons.values().sum::<u64>(), 11);
    let ex = &log.event(rcm, 1149).expect("1149").examples[0];
    assert_eq!(
        ex.data.keys().collect::<Vec<_>>(),
        ["Param1", "Param2", "Param3"]
    );

    // The same records as evtx_dump JSON lines.
    let jsonl = read_ok(&data(
        "ID1149-RDP-success-logins-to-multiple-hosts.evtx_dump.jsonl",
    ));
    assert_eq!(jsonl.format, Format::Json);
    assert_eq!((jsonl.records, jsonl.records_failed), (11, 0));
    assert_eq!(jsonl.computers, log.computers);
    assert_eq!(
        (&jsonl.first_time, &jsonl.last_time),
        (&log.first_time, &log.last_time)
    );
    assert_eq!(jsonl.events, log.events);
    assert_eq!(jsonl.details, log.details);
}

/// Record-id range of chunk `n` from its header (`ElfChnk\0`, first/last
/// record number, first/last record id), or 0 when the chunk is empty.
fn records_in_chunk(file: &[u8], n: usize) -> u64 {
    let at = 4096 + n * 65536;
    let chunk = &file[at..at + 512];
    if &chunk[..8] != b"ElfChnk\0" {
        return 0;
    }
    let u64_at = |o: usize| u64::from_le_bytes(chunk[o..o + 8].try_into().expect("8 bytes"));
    u64_at(32) - u64_at(24) + 1
}

#[test]
fn corrupt_chunk_is_skipped_with_a_warning() {
    let original = fs::read(data("2-vss_7-System.evtx")).expect("sample");
    let lost = records_in_chunk(&original, 3);
    assert!(lost > 0);

    let mut bad = original.clone();
    let at = 4096 + 3 * 65536;
    bad[at..at + 8].copy_from_slice(b"XXXXXXXX");
    let path = scratch("bad-chunk-magic.evtx", &bad);
    let log = read_ok(&path);
    assert_eq!(log.chunks_failed, 1);
    assert_eq!(
        log.records,
        1160 - lost,
        "the other chunks' events are all counted"
    );
    assert_eq!(log.records_failed, 0);
    assert!(
        log.warnings.iter().any(|w| w.contains("chunk 3 skipped")),
        "{:?}",
        log.warnings
    );
    // The 1056 (record 201, chunk 1) is still counted.
    let rcm = "Microsoft-Windows-TerminalServices-RemoteConnectionManager";
    assert_eq!(log.count(rcm, 1056), 1);
    // The warning reaches the collector output, prefixed with the file.
    let c = events::facts(std::slice::from_ref(&log));
    assert!(
        c.warnings
            .iter()
            .any(|w| w.starts_with(&log.path) && w.contains("chunk 3 skipped"))
    );

    // Bytes flipped inside the records of chunk 2: some records of that chunk
    // are lost or fail, everything else is read.
    let mut flipped = original.clone();
    let at = 4096 + 2 * 65536 + 0x3000;
    for b in &mut flipped[at..at + 512] {
        *b ^= 0xA5;
    }
    let log = read_ok(&scratch("flipped.evtx", &flipped));
    assert!(log.records_failed + log.regions_skipped >= 1, "{log:?}");
    assert!(log.records < 1160 && log.records >= 1160 - records_in_chunk(&original, 2));
    assert!(
        log.warnings.iter().any(|w| w.contains("chunk 2")),
        "{:?}",
        log.warnings
    );
}

#[test]
fn truncated_and_bare_evtx_files() {
    let original = fs::read(data("2-vss_7-System.evtx")).expect("sample");
    // Cut 1000 bytes into chunk 3.
    let cut = &original[..4096 + 3 * 65536 + 1000];
    let log = read_ok(&scratch("truncated.evtx", cut));
    let whole: u64 = (0..3).map(|n| records_in_chunk(&original, n)).sum();
    assert_eq!(log.records, whole);
    assert!(
        log.warnings
            .iter()
            .any(|w| w.contains("ends inside a chunk")),
        "{:?}",
        log.warnings
    );
    assert!(
        log.warnings.iter().any(|w| w.contains("declares")),
        "{:?}",
        log.warnings
    );

    // Only the file header: readable, no events.
    let log = read_ok(&scratch("header-only.evtx", &original[..4096]));
    assert_eq!(log.records, 0);
    assert!(log.warnings.iter().any(|w| w.contains("no events")));

    // Header that declares 65535 chunks and a 65535-byte header block.
    let mut huge = original[..4096 + 65536].to_vec();
    huge[0x2A..0x2C].copy_from_slice(&0xFFFFu16.to_le_bytes()); // chunk count
    huge[0x28..0x2A].copy_from_slice(&0xFFFFu16.to_le_bytes()); // header block size
    match read(&scratch("huge-declared.evtx", &huge)) {
        Ok(log) => assert!(!log.warnings.is_empty()),
        Err(e) => assert!(matches!(e, CollectError::Format { .. }), "{e}"),
    }

    // The magic and nothing else.
    let e =
        read(&scratch("magic-only.evtx", b"ElfFile\0 and then nothing")).expect_err("no header");
    assert!(matches!(e, CollectError::Format { .. }), "{e}");
}

#[test]
fn garbage_empty_missing_and_huge_inputs() {
    let e = read(&scratch("empty.evtx", b"")).expect_err("empty");
    assert!(matches!(e, CollectError::Format { .. }), "{e}");
    let e = read(&scratch("blank.xml", b" \r\n\t ")).expect_err("blank");
    assert!(matches!(e, CollectError::Format { .. }), "{e}");
    let garbage: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80)
        .collect();
    let e = read(&scratch("garbage.bin", &garbage)).expect_err("garbage");
    assert!(matches!(e, CollectError::Format { .. }), "{e}");
    let e = read(&scratch(
        "html.xml",
        b"<html><body>not events</body></html>",
    ))
    .expect_err("html");
    assert!(matches!(e, CollectError::Format { .. }), "{e}");
    let e = read(&data("no-such-file.evtx")).expect_err("missing");
    assert!(matches!(e, CollectError::Io { .. }), "{e}");

    // A (sparse) file one byte over the limit is refused before it is read.
    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("events-{}-huge.evtx", std::process::id()));
    let f = fs::File::create(&path).expect("create");
    f.set_len(MAX_FILE_BYTES + 1).expect("set_len");
    drop(f);
    let e = read(&path).expect_err("too large");
    assert!(matches!(e, CollectError::TooLarge(_)), "{e}");
    let _ = fs::remove_file(&path);
}

#[test]
fn mutated_evtx_never_panics() {
    let original =
        fs::read(data("ID1149-RDP-success-logins-to-multiple-hosts.evtx")).expect("sample");
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..150 {
        let mut bytes = original.clone();
        let flips = 1 + (next() % 64) as usize;
        for _ in 0..flips {
            // Mostly inside the single chunk's header and records.
            let at = 4096 + (next() % 12_000) as usize;
            bytes[at] = next() as u8;
        }
        if round % 5 == 0 {
            let keep = 4096 + (next() % 65536) as usize;
            bytes.truncate(keep);
        }
        // Errors are fine; a panic or a hang is not.
        let _ = events::read_bytes("mutated.evtx", &bytes);
    }
}

#[test]
fn wevtutil_xml_export() {
    let log = read_ok(&data("wevtutil-rdp-0x904.xml"));
    assert_eq!(log.format, Format::Xml);
    assert_eq!((log.records, log.records_failed), (13, 0));
    assert!(log.warnings.is_empty(), "{:?}", log.warnings);
    assert_eq!(
        log.computers,
        ["RDS01.contoso.local", "WS042.contoso.local"]
    );
    assert_eq!(
        log.first_time.as_deref(),
        Some("2024-02-11T07:02:44.5120000Z")
    );
    assert_eq!(
        log.last_time.as_deref(),
        Some("2024-03-05T10:02:37.0000000Z")
    );
    assert_eq!(log.channels.len(), 4);

    let s = log.event("Schannel", 36870).expect("36870");
    assert_eq!(s.count, 2);
    assert_eq!(s.examples.len(), 2);
    for ex in &s.examples {
        assert_eq!(ex.data["ErrorCode"], "0x8009030D");
        assert_eq!(ex.data["ErrorStatus"], "10001");
        assert_eq!(ex.data["Type"], "server");
        assert_eq!(ex.computer.as_deref(), Some("RDS01.contoso.local"));
    }
    assert_eq!(
        log.details.schannel_36870_errors.get("0x8009030D"),
        Some(&2)
    );

    let rcm = "Microsoft-Windows-TerminalServices-RemoteConnectionManager";
    for id in [1056, 1057, 1058] {
        let ev = log.event(rcm, id).expect("rcm");
        assert_eq!(
            (ev.count, ev.qualifiers, ev.source.as_deref()),
            (1, Some(49152), Some("TermService"))
        );
    }
    assert_eq!(
        log.event(rcm, 1057).expect("1057").examples[0].data["Data1"],
        "Keyset does not exist"
    );
    assert_eq!(
        log.details.rcm_cert_status.get("Keyset does not exist"),
        Some(&1)
    );
    assert_eq!(
        log.details.rcm_cert_status.get("Access is denied."),
        Some(&1)
    );
    assert_eq!(
        log.details
            .rcm_1149_logons
            .get("CONTOSO\\alice from 10.20.30.40"),
        Some(&1)
    );

    let core = "Microsoft-Windows-RemoteDesktopServices-RdpCoreTS";
    assert_eq!(
        (
            log.count(core, 131),
            log.count(core, 140),
            log.count(core, 102)
        ),
        (2, 1, 1)
    );
    assert_eq!(
        log.details.rdpcorets_131_clients.get("10.20.30.40"),
        Some(&2)
    );
    assert_eq!(
        log.details.rdpcorets_140_addresses.get("203.0.113.77"),
        Some(&1)
    );
    let client = "Microsoft-Windows-TerminalServices-ClientActiveXCore";
    assert_eq!(
        log.event(client, 1026).expect("1026").examples[0].data["Value"],
        "2308"
    );
    assert_eq!(log.details.client_1026_reasons.get("2308"), Some(&1));
    assert_eq!(log.count("Service Control Manager", 7036), 1);
}

#[test]
fn event_viewer_xml_export_with_root_bom_and_rendering_info() {
    let log = read_ok(&data("eventviewer-system-schannel.xml"));
    assert_eq!(log.format, Format::Xml);
    assert_eq!((log.records, log.records_failed), (4, 0));
    assert_eq!(log.computers, ["RDS02.fabrikam.test"]);
    for id in [36871, 36874, 36887, 36888] {
        assert_eq!(log.count("Schannel", id), 1, "{id}");
    }
    let ex = &log.event("Schannel", 36888).expect("36888").examples[0];
    assert_eq!(
        (
            ex.data["AlertDesc"].as_str(),
            ex.data["ErrorState"].as_str()
        ),
        ("40", "1205")
    );
    assert_eq!(ex.record_id, Some(120_346));
}

#[test]
fn damaged_xml_costs_only_the_damaged_events() {
    let good = fs::read_to_string(data("wevtutil-rdp-0x904.xml")).expect("fixture");
    let lines: Vec<&str> = good.lines().collect();
    let broken = lines[3].replace("</EventData>", "</EventDta>");
    let no_id = lines[4].replace(
        "<EventID Qualifiers='49152'>1058</EventID>",
        "<EventID>twelve</EventID>",
    );
    let cut = &lines[5][..lines[5].len() / 2];
    let text = format!(
        "{}\r\n{}\r\n{broken}\r\n{no_id}\r\n{cut}",
        lines[0], lines[1]
    );
    let log = read_ok(&scratch("damaged.xml", text.as_bytes()));
    assert_eq!((log.records, log.records_failed), (2, 3));
    assert_eq!(log.warnings.len(), 3, "{:?}", log.warnings);
    assert!(log.warnings.iter().any(|w| w.contains("not well-formed")));
    assert!(log.warnings.iter().any(|w| w.contains("not a number")));
    assert!(log.warnings.iter().any(|w| w.contains("cut off")));

    // An Events root with no events: read, with a warning.
    let log = read_ok(&scratch("no-events.xml", b"<Events></Events>"));
    assert_eq!(log.records, 0);
    assert!(!log.warnings.is_empty());
}

#[test]
fn get_winevent_json_exports() {
    let log = read_ok(&data("get-winevent-ps51.json"));
    assert_eq!(log.format, Format::Json);
    assert_eq!((log.records, log.records_failed), (5, 0));
    assert!(log.warnings.is_empty(), "{:?}", log.warnings);
    assert_eq!(
        log.computers,
        ["RDS01.contoso.local", "WS017.contoso.local"]
    );
    // "\/Date(1709630038001)\/" .. "\/Date(1709630411456)\/"
    assert_eq!(
        log.first_time.as_deref(),
        Some("2024-03-05T09:13:58.0010000Z")
    );
    assert_eq!(
        log.last_time.as_deref(),
        Some("2024-03-05T09:20:11.4560000Z")
    );
    let s = log.event("Schannel", 36870).expect("36870");
    // Positional Properties get the manifest's names; the numeric code becomes hex.
    assert_eq!(s.examples[0].data["ErrorCode"], "0x8009030D");
    assert_eq!(s.examples[0].data["Type"], "server");
    assert_eq!(
        s.examples[0].time.as_deref(),
        Some("2024-03-05T09:14:02.1230000Z")
    );
    assert_eq!(s.examples[0].record_id, Some(48201));
    let rcm = "Microsoft-Windows-TerminalServices-RemoteConnectionManager";
    assert_eq!(log.event(rcm, 1058).expect("1058").qualifiers, Some(49152));
    assert_eq!(
        log.details.rcm_cert_status.get("Object already exists."),
        Some(&1)
    );
    assert_eq!(
        log.details.rcm_1149_logons.get("bob from 10.20.30.41"),
        Some(&1)
    );
    assert_eq!(
        log.details.rdpcorets_131_clients.get("10.20.30.41"),
        Some(&1)
    );
    assert_eq!(log.details.client_1026_reasons.get("2308"), Some(&1));

    // The same export as UTF-16LE with BOM (Windows PowerShell's `>`).
    let text = fs::read_to_string(data("get-winevent-ps51.json")).expect("fixture");
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let again = read_ok(&scratch("ps51-utf16.json", &utf16));
    assert_eq!((&again.events, &again.details), (&log.events, &log.details));
    // And with a UTF-8 BOM.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(text.as_bytes());
    assert_eq!(read_ok(&scratch("ps51-bom.json", &bom)).events, log.events);

    // PowerShell 7, one event: an object, not an array; ISO time with offset.
    let one = read_ok(&data("get-winevent-ps7-single.json"));
    assert_eq!((one.records, one.records_failed), (1, 0));
    assert_eq!(
        one.first_time.as_deref(),
        Some("2024-03-05T09:14:02.2500000Z")
    );
    assert_eq!(one.computers, ["WS042.contoso.local"]);
    assert_eq!(one.details.client_1026_reasons.get("2308"), Some(&1));

    // Default depth, UTF-16LE: Properties lost, the Message text is used.
    let lost = read_ok(&data("get-winevent-ps51-depth2-utf16le.json"));
    assert_eq!((lost.records, lost.records_failed), (2, 0));
    assert!(
        lost.warnings.iter().any(|w| w.contains("-Depth")),
        "{:?}",
        lost.warnings
    );
    assert_eq!(
        lost.details.schannel_36870_errors.get("0x8009030D"),
        Some(&1)
    );
    assert_eq!(
        lost.details.rcm_cert_status.get("Keyset does not exist"),
        Some(&1)
    );
    let ex = &lost.event("Schannel", 36870).expect("36870").examples[0];
    assert!(ex.data["Message"].contains("0x8009030D"));
}

#[test]
fn json_variants_and_damage() {
    let ev = |id: &str, provider: &str| {
        format!(
            r#"{{"Id": {id}, "ProviderName": "{provider}", "LogName": "System", "MachineName": "H1", "TimeCreated": "/Date(1700000000000)/", "Properties": []}}"#
        )
    };
    let rcm = "Microsoft-Windows-TerminalServices-RemoteConnectionManager";
    // Event ids with severity bits (0xC0000421) and as strings are masked / parsed.
    let text = format!(
        "[{}, {}, {}]",
        ev("3221226529", rcm),
        ev("\"1058\"", rcm),
        ev("1e300", rcm)
    );
    let log = read_ok(&scratch("ids.json", text.as_bytes()));
    assert_eq!((log.records, log.records_failed), (2, 1));
    assert_eq!((log.count(rcm, 1057), log.count(rcm, 1058)), (1, 1));

    // PowerShell 5.1's {"value": [...], "Count": n} wrapper, and JSON lines.
    let text = format!(
        r#"{{"value": [{}, {}], "Count": 2}}"#,
        ev("36870", "Schannel"),
        ev("36871", "Schannel")
    );
    assert_eq!(
        read_ok(&scratch("wrapped.json", text.as_bytes())).records,
        2
    );
    let text = format!("{}\n{}\n", ev("36870", "Schannel"), ev("36888", "Schannel"));
    assert_eq!(read_ok(&scratch("lines.json", text.as_bytes())).records, 2);

    // Cut off inside the array: the events before the cut are kept.
    let text = format!(
        "[{}, {}, {{\"Id\": 13",
        ev("36870", "Schannel"),
        ev("36888", "Schannel")
    );
    let log = read_ok(&scratch("cut.json", text.as_bytes()));
    assert_eq!(log.records, 2);
    assert!(
        log.warnings.iter().any(|w| w.contains("cut off")),
        "{:?}",
        log.warnings
    );

    // Not events.
    let log = read_ok(&scratch("numbers.json", b"[1, \"two\", {\"foo\": 3}]"));
    assert_eq!((log.records, log.records_failed), (0, 3));
    for bad in [&b"{\"Id\": "[..], b"[[[[[[[[[[[[", b"{]"] {
        let e = read(&scratch("bad.json", bad)).expect_err("invalid JSON");
        assert!(matches!(e, CollectError::Format { .. }), "{e}");
    }
    let deep = "[".repeat(100_000);
    assert!(read(&scratch("deep.json", deep.as_bytes())).is_err());
}

fn facts_of(files: &[&str]) -> rootcause_engine::collect::Collected {
    let logs: Vec<EventLog> = files.iter().map(|f| read_ok(&data(f))).collect();
    events::facts(&logs)
}

fn num(c: &rootcause_engine::collect::Collected, name: &str) -> f64 {
    match c.facts.get(name) {
        Some(Value::Number(n)) => *n,
        other => panic!("{name}: {other:?}"),
    }
}

fn evidence(c: &rootcause_engine::collect::Collected) -> State {
    let engine = Engine::embedded().expect("embedded KB");
    let mut state = State::new(&engine);
    state
        .add_facts(&engine, c.facts.clone(), &c.collector)
        .expect("facts accepted");
    state
}

#[test]
fn facts_and_evidence_from_the_fixtures() {
    let c = facts_of(&["wevtutil-rdp-0x904.xml"]);
    assert_eq!(c.collector, "event_logs");
    assert!(c.label.contains("wevtutil-rdp-0x904.xml"));
    for (name, want) in [
        ("events.total", 13.0),
        ("events.files", 1.0),
        ("events.computers", 2.0),
        ("events.schannel.36870", 2.0),
        ("events.schannel.36871", 0.0),
        ("events.schannel.36888", 0.0),
        ("events.rcm.1056", 1.0),
        ("events.rcm.1057", 1.0),
        ("events.rcm.1058", 1.0),
        ("events.rcm.1149", 1.0),
        ("events.rdpcorets.131", 2.0),
        ("events.rdpcorets.140", 1.0),
        ("events.client.1026", 1.0),
        ("events.client.1026_2308", 1.0),
    ] {
        assert_eq!(num(&c, name), want, "{name}");
    }
    assert_eq!(c.facts["events.system_log"], Value::Bool(true));
    assert_eq!(c.facts["events.rdpcorets_log"], Value::Bool(true));
    assert_eq!(c.facts["events.client_log"], Value::Bool(true));
    assert_eq!(
        c.facts["events.schannel.36870_error"],
        Value::Text("0x8009030D".into())
    );
    assert!(
        c.warnings.iter().any(|w| w.contains("2 computers")),
        "{:?}",
        c.warnings
    );

    let state = evidence(&c);
    assert_eq!(state.value_of("schannel_36870_seen"), Some("yes"));
    assert_eq!(state.value_of("cert_events_1057_1058_seen"), Some("yes"));
    assert_eq!(state.value_of("rdpcorets_131_seen"), Some("yes"));
    assert_eq!(state.value_of("schannel_36871_or_36874_seen"), Some("no"));

    let c = facts_of(&["eventviewer-system-schannel.xml"]);
    assert_eq!(num(&c, "events.schannel.36874"), 1.0);
    let state = evidence(&c);
    assert_eq!(state.value_of("schannel_36871_or_36874_seen"), Some("yes"));
    assert_eq!(state.value_of("schannel_36870_seen"), Some("no"));
    assert_eq!(state.value_of("cert_events_1057_1058_seen"), Some("no"));
    assert_eq!(
        state.value_of("rdpcorets_131_seen"),
        None,
        "no RdpCoreTS log read"
    );

    // Several files at once: counts add up.
    let c = facts_of(&[
        "get-winevent-ps51.json",
        "get-winevent-ps7-single.json",
        "get-winevent-ps51-depth2-utf16le.json",
    ]);
    assert_eq!(num(&c, "events.total"), 8.0);
    assert_eq!(num(&c, "events.files"), 3.0);
    assert_eq!(num(&c, "events.schannel.36870"), 2.0);
    assert_eq!(num(&c, "events.client.1026_2308"), 2.0);
    assert_eq!(
        (num(&c, "events.rcm.1057"), num(&c, "events.rcm.1058")),
        (1.0, 1.0)
    );
    let state = evidence(&c);
    assert_eq!(state.value_of("schannel_36870_seen"), Some("yes"));
    assert_eq!(state.value_of("cert_events_1057_1058_seen"), Some("yes"));
}

#[test]
fn facts_and_evidence_from_the_real_samples() {
    let c = facts_of(&["2-vss_7-System.evtx"]);
    assert_eq!(num(&c, "events.total"), 1160.0);
    assert_eq!(c.facts["events.system_log"], Value::Bool(true));
    assert_eq!(num(&c, "events.rcm.1056"), 1.0);
    assert_eq!(num(&c, "events.schannel.36870"), 0.0);
    assert!(!c.facts.contains_key("events.schannel.36870_error"));
    let state = evidence(&c);
    assert_eq!(state.value_of("schannel_36870_seen"), Some("no"));
    assert_eq!(state.value_of("cert_events_1057_1058_seen"), Some("no"));
    assert_eq!(state.value_of("schannel_36871_or_36874_seen"), Some("no"));
    assert_eq!(state.value_of("rdpcorets_131_seen"), None);

    let c = facts_of(&["2-vss_0-RdpCoreTS-Operational.evtx"]);
    assert_eq!(c.facts["events.system_log"], Value::Bool(false));
    assert_eq!(c.facts["events.rdpcorets_log"], Value::Bool(true));
    assert_eq!(num(&c, "events.rdpcorets.131"), 126.0);
    assert_eq!(num(&c, "events.rdpcorets.140"), 126.0);
    assert!(c.warnings.iter().any(|w| w.contains("no System log")));
    assert!(c.warnings.iter().any(|w| w.contains("6914519")));
    let state = evidence(&c);
    assert_eq!(state.value_of("rdpcorets_131_seen"), Some("yes"));
    assert_eq!(
        state.value_of("schannel_36870_seen"),
        None,
        "no System log read"
    );

    // Nothing read: counts are zero and no evidence follows.
    let c = events::facts(&[]);
    assert_eq!(num(&c, "events.total"), 0.0);
    assert_eq!(c.facts["events.system_log"], Value::Bool(false));
    let state = evidence(&c);
    assert_eq!(state.value_of("schannel_36870_seen"), None);
}

#[test]
fn facts_are_declared_by_the_kb() {
    let engine = Engine::embedded().expect("embedded KB");
    let collector = engine
        .kb
        .collectors
        .iter()
        .find(|c| c.id == "event_logs")
        .expect("event_logs collector");
    let c = facts_of(&["wevtutil-rdp-0x904.xml", "get-winevent-ps51.json"]);
    for name in c.facts.keys() {
        assert!(
            collector.produces.contains(name),
            "{name} is not in collectors.ron"
        );
    }
}

#[test]
fn event_log_serializes_for_json_output() {
    let log = read_ok(&data("wevtutil-rdp-0x904.xml"));
    let v = serde_json::to_value(&log).expect("serialize");
    assert_eq!(v["format"], "xml");
    assert_eq!(v["records"], 13);
    let first = &v["events"][0];
    assert!(first["provider"].is_string() && first["id"].is_u64() && first["count"].is_u64());
    assert_eq!(v["details"]["client_1026_reasons"]["2308"], 1);
}

/// The AGPL/GPL samples stay in `../shared/data/evtx/`; checked when present.
#[test]
fn shared_samples_when_present() {
    let Some(dir) = shared_dir() else {
        eprintln!("../shared/data/evtx not found: skipping the AGPL/GPL samples");
        return;
    };
    let all = expected(&dir.join("expected_counts.json"));
    for name in [
        "RDPAuth_LocalSessionManager.evtx",
        "RDPAuth_RemoteConnectionManager.evtx",
        "RDPAuth_System.evtx",
        "rdpcorets_148_mst120_bluekeep_rpdscan_full.evtx",
    ] {
        let path = dir.join(name);
        if !path.is_file() {
            eprintln!("{} missing: skipped", path.display());
            continue;
        }
        let log = read_ok(&path);
        check_expected(&log, &all["files"][name]);
        // RDPAuth_System ends with 4 KiB of zero padding: not a truncation.
        assert!(
            log.warnings
                .iter()
                .all(|w| !w.contains("ends inside a chunk")),
            "{name}: {:?}",
            log.warnings
        );
    }
}
