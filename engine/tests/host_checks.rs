//! Windows host checks and the evidence bundle: the KB's declarations,
//! collect.ps1, the parsers on recorded outputs (tests/data/host, hand-made
//! in the real Windows PowerShell 5.1 formats), the evidence they lead to,
//! the process runner and the bundle reader's errors.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rootcause_engine::Engine;
use rootcause_engine::collect::bundle::{self, MAX_BUNDLE_BYTES, parse_bundle, read_bundle};
use rootcause_engine::collect::host::{
    self, CheckStatus, parse_output, parse_output_detailed, run_checks, run_command, shell_command,
};
use rootcause_engine::collect::{CollectError, Facts};
use rootcause_engine::kb::model::{Collector, CollectorKind, HostCommand, Parser, Value};
use rootcause_engine::session::State;

/// The host checks the KB must declare (the issue's list plus recent events).
const CHECK_IDS: &[&str] = &[
    "host_os_hotfixes",
    "host_rdp_certificate",
    "host_rdp_tcp_settings",
    "host_machinekeys_acl",
    "host_services",
    "host_firewall_rules",
    "host_antivirus",
    "host_credssp",
    "host_tls_protocols",
    "host_licensing",
    "host_recent_events",
];

fn engine() -> Engine {
    Engine::embedded().expect("the embedded KB is valid")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn data(rel: &str) -> PathBuf {
    repo().join("tests/data/host").join(rel)
}

fn read(rel: &str) -> String {
    let bytes = std::fs::read(data(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    String::from_utf8(bytes).expect("recorded outputs are UTF-8")
}

fn collector<'a>(engine: &'a Engine, id: &str) -> &'a Collector {
    engine
        .kb
        .collectors
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("collector {id} in the KB"))
}

/// Parse the recorded output of `id` in `folder`.
fn parse(engine: &Engine, folder: &str, id: &str) -> Facts {
    let text = read(&format!("{folder}/{id}.json"));
    let parsed = parse_output_detailed(collector(engine, id), &text)
        .unwrap_or_else(|e| panic!("{folder}/{id}: {e}"));
    assert!(
        parsed.warnings.is_empty(),
        "{folder}/{id}: {:?}",
        parsed.warnings
    );
    parsed.facts
}

/// All facts of a recorded host.
fn parse_all(engine: &Engine, folder: &str) -> Facts {
    let mut all = Facts::new();
    for id in CHECK_IDS {
        all.extend(parse(engine, folder, id));
    }
    all
}

trait IntoValue {
    fn into_value(self) -> Value;
}
impl IntoValue for i32 {
    fn into_value(self) -> Value {
        Value::Number(f64::from(self))
    }
}
impl IntoValue for bool {
    fn into_value(self) -> Value {
        Value::Bool(self)
    }
}
impl IntoValue for &str {
    fn into_value(self) -> Value {
        Value::Text(self.to_string())
    }
}

macro_rules! facts {
    ($($k:literal => $v:expr),* $(,)?) => {{
        let mut f = Facts::new();
        $(f.insert($k.to_string(), IntoValue::into_value($v));)*
        f
    }};
}

// ------------------------------------------------------------ declarations

#[test]
fn kb_declares_the_host_checks() {
    let engine = engine();
    let ids: Vec<&str> = host::host_checks(&engine)
        .iter()
        .map(|(c, _)| c.id.as_str())
        .collect();
    assert_eq!(ids, CHECK_IDS, "HostCommand collectors, in KB order");
    let mut union = BTreeSet::new();
    for (c, h) in host::host_checks(&engine) {
        assert_eq!(h.shell, "PowerShell", "{}", c.id);
        assert!(
            h.run.is_ascii(),
            "{}: Windows PowerShell 5.1 reads scripts as ANSI",
            c.id
        );
        assert!(
            h.run
                .trim_end()
                .ends_with("ConvertTo-Json -Depth 5 -Compress"),
            "{}: prints one compressed JSON object",
            c.id
        );
        assert!(c.timeout_secs > 0.0 && c.timeout_secs <= 60.0, "{}", c.id);
        let Parser::Json(map) = &h.parse else {
            panic!("{}: JSON parser", c.id)
        };
        let parsed: BTreeSet<&str> = map.keys().map(String::as_str).collect();
        let produces: BTreeSet<&str> = c.produces.iter().map(String::as_str).collect();
        assert_eq!(parsed, produces, "{}: parse map and produces agree", c.id);
        for pointer in map.values() {
            assert!(pointer.starts_with('/'), "{}: {pointer}", c.id);
        }
        union.extend(c.produces.iter().cloned());
    }
    // The bundle produces exactly the facts of the checks it carries.
    let bundle: BTreeSet<String> = collector(&engine, "host_bundle")
        .produces
        .iter()
        .cloned()
        .collect();
    assert_eq!(
        bundle, union,
        "host_bundle.produces = the host checks' facts"
    );
    // The facts the issue names.
    for f in [
        "host.os.product_type",
        "host.cloud.azure",
        "host.cert.expired",
        "host.cert.days_left",
        "host.rdp.f_deny_ts_connections",
        "host.rdp.user_authentication",
        "host.rdp.security_layer",
        "host.rdp.min_encryption_level",
        "host.service.termservice",
        "host.machinekeys.acl_ok",
        "host.av.third_party",
        "host.hotfix.days_since_last",
    ] {
        assert!(union.contains(f), "{f}");
    }
}

/// `$Checks.Add('<id>', @{ Timeout = <n>; Run = @'\n<run>\n'@ })` entries.
fn ps1_checks(ps1: &str) -> Vec<(String, f64, String)> {
    let re = regex::Regex::new(
        r"(?s)\$Checks\.Add\('([A-Za-z0-9_]+)', @\{ Timeout = (\d+); Run = @'\n(.*?)\n'@ \}\)",
    )
    .unwrap();
    re.captures_iter(ps1)
        .map(|c| (c[1].to_string(), c[2].parse().unwrap(), c[3].to_string()))
        .collect()
}

#[test]
fn collect_ps1_runs_exactly_the_kb_scripts() {
    let engine = engine();
    let ps1 = std::fs::read_to_string(repo().join("kb/rdp-0x904/collect.ps1")).unwrap();
    assert!(
        ps1.is_ascii(),
        "collect.ps1 must be ASCII (5.1 reads BOM-less scripts as ANSI)"
    );
    for (c, h) in host::host_checks(&engine) {
        assert!(
            ps1.contains(&h.run),
            "the run text of {} is not verbatim in collect.ps1",
            c.id
        );
    }
    let checks = ps1_checks(&ps1);
    let kb: Vec<(String, f64, String)> = host::host_checks(&engine)
        .iter()
        .map(|(c, h)| (c.id.clone(), c.timeout_secs, h.run.clone()))
        .collect();
    assert_eq!(
        checks.len(),
        kb.len(),
        "one $Checks.Add per host check, nothing else"
    );
    for (got, want) in checks.iter().zip(&kb) {
        assert_eq!(got.0, want.0, "same checks in the same order");
        assert_eq!(got.1, want.1, "{}: same time limit", got.0);
        assert_eq!(got.2, want.2, "{}: same script", got.0);
    }
    // The header tells what it reads, that it changes nothing, how to run it.
    for needle in [
        "CHANGES NOTHING",
        "powershell -ExecutionPolicy Bypass -File collect.ps1 -OutFile C:\\temp\\bundle.json",
        "MachineKeys",
        "WaitOne(",
        "UTF8Encoding $false",
        "'rootcause-bundle'",
    ] {
        assert!(ps1.contains(needle), "collect.ps1 mentions {needle}");
    }
}

// ------------------------------------------------------ recorded outputs

#[test]
fn healthy_outputs_give_exact_facts() {
    let engine = engine();
    let e = &engine;
    let thumb = "8E1B2C7D4A09F3E6B5C1D2A3F4E5D6C7B8A9F0E1";
    assert_eq!(
        parse(e, "healthy-en", "host_os_hotfixes"),
        facts! {
            "host.os.computer" => "SRV-APP01",
            "host.os.caption" => "Microsoft Windows Server 2022 Datacenter",
            "host.os.version" => "10.0.20348",
            "host.os.build" => 20348,
            "host.os.product_type" => 3,
            "host.os.last_boot" => "2026-01-21T03:12:09.5000000+01:00",
            "host.cloud.azure" => false,
            "host.cloud.other" => false,
            "host.hotfix.count" => 4,
            "host.hotfix.last_id" => "KB5073457",
            "host.hotfix.last_installed" => "2026-01-20T00:00:00.0000000",
            "host.hotfix.days_since_last" => 41,
            "host.hotfix.count_30d" => 0,
        }
    );
    assert_eq!(
        parse(e, "healthy-en", "host_rdp_certificate"),
        facts! {
            "host.cert.found" => true,
            "host.cert.bound_thumbprint" => thumb,
            "host.cert.bound_found" => true,
            "host.cert.remote_desktop_count" => 1,
            "host.cert.source" => "binding",
            "host.cert.store" => "Remote Desktop",
            "host.cert.thumbprint" => thumb,
            "host.cert.subject" => "CN=SRV-APP01.corp.example.com",
            "host.cert.not_after" => "2026-06-02T08:12:44.0000000+02:00",
            "host.cert.expired" => false,
            "host.cert.not_yet_valid" => false,
            "host.cert.days_left" => 91,
            "host.cert.self_signed" => true,
            "host.cert.has_private_key" => true,
            "host.cert.server_auth" => true,
        }
    );
    assert_eq!(
        parse(e, "healthy-en", "host_rdp_tcp_settings"),
        facts! {
            "host.rdp.f_deny_ts_connections" => 0,
            "host.rdp.security_layer" => 2,
            "host.rdp.user_authentication" => 1,
            "host.rdp.min_encryption_level" => 2,
            "host.rdp.policy_overrides" => false,
            "host.rdp.port" => 3389,
            "host.rdp.cert_hash" => thumb,
            "host.rdp.allow_sec_protocol_negotiation" => 1,
            "host.rdp.max_instance_count" => -1,
            "host.rdp.logons_disabled" => false,
            "host.rdp.drain_mode" => 0,
        }
    );
    assert_eq!(
        parse(e, "healthy-en", "host_machinekeys_acl"),
        facts! {
            "host.machinekeys.acl_ok" => true,
            "host.machinekeys.folder_found" => true,
            "host.machinekeys.folder_ok" => true,
            "host.machinekeys.folder_admins_full" => true,
            "host.machinekeys.folder_everyone_rw" => true,
            "host.machinekeys.key_count" => 1,
            "host.machinekeys.key_acl_ok" => true,
            "host.machinekeys.network_service_read" => true,
            "host.machinekeys.system_full" => true,
        }
    );
    assert_eq!(
        parse(e, "healthy-en", "host_services"),
        facts! {
            "host.service.termservice" => "Running",
            "host.service.termservice_start" => "Manual",
            "host.service.sessionenv" => "Running",
            "host.service.umrdpservice" => "Running",
            "host.service.certpropsvc" => "Running",
            "host.service.keyiso" => "Running",
            "host.service.cryptsvc" => "Running",
            "host.rdp.listening" => true,
            "host.rdp.listener_is_termservice" => true,
            "host.rdp.listener_process" => "svchost",
        }
    );
    assert_eq!(
        parse(e, "healthy-en", "host_firewall_rules"),
        facts! {
            "host.firewall.enabled" => true,
            "host.firewall.profiles" => "Domain,Private,Public",
            "host.firewall.builtin_rule_found" => true,
            "host.firewall.builtin_rule_enabled" => true,
            "host.firewall.builtin_rule_port_matches" => true,
            "host.firewall.allow_rules" => 1,
            "host.firewall.block_rules" => 0,
            "host.firewall.allows_rdp" => true,
        }
    );
    assert_eq!(
        parse(e, "healthy-en", "host_antivirus"),
        facts! {
            "host.av.third_party" => 0,
            "host.av.names" => "",
            "host.av.security_center" => false,
            "host.av.defender_mode" => "Normal",
        }
    );
    // AllowEncryptionOracle is not set (null): the fact is absent.
    assert_eq!(
        parse(e, "healthy-en", "host_credssp"),
        facts! {
            "host.credssp.policy_set" => false,
            "host.credssp.effective" => 1,
            "host.credssp.tspkg_version" => "10.0.20348.2227",
            "host.credssp.patched" => true,
        }
    );
    assert_eq!(
        parse(e, "healthy-en", "host_tls_protocols"),
        facts! {
            "host.tls.disabled_protocols" => "TLS 1.0,TLS 1.1",
            "host.tls.tls10_disabled" => true,
            "host.tls.tls11_disabled" => true,
            "host.tls.tls12_disabled" => false,
            "host.tls.legacy_disabled" => true,
            "host.tls.fips" => false,
            "host.tls.cipher_policy" => false,
            "host.lsa.disable_domain_creds" => false,
        }
    );
    assert_eq!(
        parse(e, "healthy-en", "host_licensing"),
        facts! { "host.licensing.rdsh" => false, "host.licensing.type" => 2 }
    );
    assert_eq!(
        parse(e, "healthy-en", "host_recent_events"),
        facts! {
            "events.system_log" => true,
            "events.schannel.36870" => 0,
            "events.schannel.36871" => 0,
            "events.schannel.36874" => 0,
            "events.schannel.36888" => 0,
            "events.rcm.1056" => 0,
            "events.rcm.1057" => 0,
            "events.rcm.1058" => 0,
            "events.rcm.1070" => 0,
            "events.rcm.1071" => 0,
            "events.rcm.1149" => 14,
            "events.rdpcorets.131" => 23,
        }
    );
}

#[test]
fn broken_outputs_give_exact_facts() {
    let engine = engine();
    let e = &engine;
    let cert = parse(e, "broken-en", "host_rdp_certificate");
    assert_eq!(cert["host.cert.expired"], Value::Bool(true));
    assert_eq!(cert["host.cert.days_left"], Value::Number(-33.0));
    assert_eq!(
        cert["host.cert.not_after"],
        Value::Text("2026-01-29T05:03:11.0000000+01:00".into())
    );
    assert_eq!(
        parse(e, "broken-en", "host_machinekeys_acl"),
        facts! {
            "host.machinekeys.acl_ok" => false,
            "host.machinekeys.folder_found" => true,
            "host.machinekeys.folder_ok" => true,
            "host.machinekeys.folder_admins_full" => true,
            "host.machinekeys.folder_everyone_rw" => true,
            "host.machinekeys.key_count" => 1,
            "host.machinekeys.key_acl_ok" => false,
            "host.machinekeys.network_service_read" => false,
            "host.machinekeys.system_full" => true,
        }
    );
    let rdp = parse(e, "broken-en", "host_rdp_tcp_settings");
    assert_eq!(rdp["host.rdp.f_deny_ts_connections"], Value::Number(1.0));
    assert_eq!(rdp["host.rdp.policy_overrides"], Value::Bool(true));
    // ListenerIsTermService is null when nothing listens: absent.
    assert_eq!(
        parse(e, "broken-en", "host_services"),
        facts! {
            "host.service.termservice" => "Stopped",
            "host.service.termservice_start" => "Manual",
            "host.service.sessionenv" => "Running",
            "host.service.umrdpservice" => "Stopped",
            "host.service.certpropsvc" => "Running",
            "host.service.keyiso" => "Running",
            "host.service.cryptsvc" => "Running",
            "host.rdp.listening" => false,
            "host.rdp.listener_process" => "",
        }
    );
    assert_eq!(
        parse(e, "broken-en", "host_antivirus"),
        facts! {
            "host.av.third_party" => 1,
            "host.av.names" => "SepMasterService",
            "host.av.security_center" => false,
            "host.av.defender_mode" => "Passive Mode",
        }
    );
    let os = parse(e, "broken-en", "host_os_hotfixes");
    assert_eq!(os["host.cloud.azure"], Value::Bool(true));
    assert_eq!(os["host.hotfix.days_since_last"], Value::Number(3.0));
    let credssp = parse(e, "broken-en", "host_credssp");
    assert_eq!(
        credssp["host.credssp.allow_encryption_oracle"],
        Value::Number(2.0)
    );
    let licensing = parse(e, "broken-en", "host_licensing");
    assert_eq!(licensing["host.licensing.grace_days"], Value::Number(0.0));
    let events = parse(e, "broken-en", "host_recent_events");
    assert_eq!(events["events.schannel.36870"], Value::Number(4.0));
    assert_eq!(events["events.rcm.1058"], Value::Number(6.0));
}

#[test]
fn german_host_gives_the_english_facts() {
    let engine = engine();
    for id in CHECK_IDS {
        assert_eq!(
            parse(&engine, "german", id),
            parse(&engine, "healthy-en", id),
            "{id}: a German Windows must give the same facts"
        );
    }
    // Not vacuous: the German recordings do carry localized labels and BOMs.
    let acl = read("german/host_machinekeys_acl.json");
    assert!(acl.starts_with('\u{feff}'));
    assert!(acl.contains("NT-AUTORITÄT\\\\NETZWERKDIENST") && acl.contains("\"Jeder\""));
    assert!(!acl.contains("NETWORK SERVICE"));
    let services = read("german/host_services.json");
    assert!(services.starts_with('\u{feff}') && services.contains("Remotedesktopdienste"));
    assert!(read("german/host_firewall_rules.json").contains("Benutzermodus (TCP eingehend)"));
    assert_ne!(
        read("german/host_licensing.json"),
        read("healthy-en/host_licensing.json")
    );
}

// ---------------------------------------------------------------- evidence

fn evidence_of(engine: &Engine, facts: Facts, from: &str) -> State {
    let mut state = State::new(engine);
    state
        .add_facts(engine, facts, from)
        .expect("facts accepted");
    assert!(
        state.conflicts.is_empty(),
        "rule conflicts: {:?}",
        state.conflicts
    );
    state
}

#[test]
fn broken_bundle_sets_the_evidence() {
    let engine = engine();
    let collected = read_bundle(&engine, &data("bundle-broken.json")).expect("bundle reads");
    assert_eq!(collected.collector, "host_bundle");
    assert_eq!(
        collected.label,
        "bundle from SRV-FS02 collected 2026-03-02T09:15:38.6604127Z"
    );
    assert_eq!(
        collected.warnings,
        vec!["check host_licensing failed on SRV-FS02: timed out after 30 s".to_string()]
    );
    // Built from broken-en/: the same facts, less the check that timed out.
    let mut expected = parse_all(&engine, "broken-en");
    expected.retain(|k, _| !k.starts_with("host.licensing."));
    assert_eq!(collected.facts, expected);

    let state = evidence_of(&engine, collected.facts, &collected.collector);
    let want = [
        ("certificate_expired", "yes"),
        ("rdp_enabled", "no"),
        ("termservice_running", "no"),
        ("machinekeys_acl_ok", "no"),
        ("third_party_security_software", "yes"),
        ("recent_windows_update", "yes"),
        ("host_os", "windows_server"),
        ("host_is_cloud_vm", "yes"),
        ("nla_required", "yes"),
        ("firewall_allows_rdp", "no"),
        ("schannel_36870_seen", "yes"),
        ("cert_events_1057_1058_seen", "yes"),
        ("schannel_36871_or_36874_seen", "no"),
    ];
    for (ev, value) in want {
        assert_eq!(state.value_of(ev), Some(value), "{ev}");
    }
    assert_eq!(state.value_of("connections_denied_by_policy"), None);
    assert_eq!(state.value_of("security_policy_nondefault"), None);
    let assessment = state.assess(&engine);
    let top = &engine.model.causes[assessment.ranking[0]];
    assert!(
        [
            "rdp_service_unavailable",
            "rdp_certificate_invalid",
            "machinekeys_corruption"
        ]
        .contains(&top.as_str()),
        "top cause {top}"
    );
}

#[test]
fn healthy_bundle_sets_the_opposite() {
    let engine = engine();
    // Re-saved with Out-File: UTF-16LE with a byte order mark.
    let raw = std::fs::read(data("bundle-healthy.utf16.json")).unwrap();
    assert_eq!(&raw[..2], &[0xFF, 0xFE]);
    let collected = read_bundle(&engine, &data("bundle-healthy.utf16.json")).expect("bundle reads");
    assert!(collected.warnings.is_empty(), "{:?}", collected.warnings);
    assert_eq!(collected.facts, parse_all(&engine, "healthy-en"));
    assert!(
        collected
            .label
            .starts_with("bundle from SRV-APP01 collected 2026-03-02T09:15:04")
    );

    let state = evidence_of(&engine, collected.facts, &collected.collector);
    for (ev, value) in [
        ("certificate_expired", "no"),
        ("rdp_enabled", "yes"),
        ("termservice_running", "yes"),
        ("machinekeys_acl_ok", "yes"),
        ("nla_required", "yes"),
        ("host_os", "windows_server"),
        ("schannel_36870_seen", "no"),
        ("cert_events_1057_1058_seen", "no"),
        ("schannel_36871_or_36874_seen", "no"),
    ] {
        assert_eq!(state.value_of(ev), Some(value), "{ev}");
    }
    // The host alone cannot rule these out (they also concern the client or
    // the network), so they stay questions.
    for ev in [
        "third_party_security_software",
        "recent_windows_update",
        "firewall_allows_rdp",
        "security_policy_nondefault",
        "host_is_cloud_vm",
        "connections_denied_by_policy",
    ] {
        assert_eq!(state.value_of(ev), None, "{ev}");
    }
}

#[test]
fn host_settings_rules() {
    let engine = engine();
    let with = |pairs: &[(&str, Value)]| {
        let facts: Facts = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        evidence_of(&engine, facts, "test")
    };
    let n = Value::Number;
    let b = Value::Bool;
    let s = with(&[("host.rdp.security_layer", n(0.0))]);
    assert_eq!(s.value_of("security_policy_nondefault"), Some("yes"));
    let s = with(&[("host.tls.fips", b(true))]);
    assert_eq!(s.value_of("security_policy_nondefault"), Some("yes"));
    let s = with(&[("host.rdp.min_encryption_level", n(4.0))]);
    assert_eq!(s.value_of("security_policy_nondefault"), Some("yes"));
    let s = with(&[("host.rdp.drain_mode", n(2.0))]);
    assert_eq!(s.value_of("connections_denied_by_policy"), Some("yes"));
    let s = with(&[("events.rcm.1071", n(1.0))]);
    assert_eq!(s.value_of("connections_denied_by_policy"), Some("yes"));
    // TermService runs, but another program holds the port.
    let s = with(&[
        ("host.service.termservice", Value::Text("Running".into())),
        ("host.rdp.listening", b(true)),
        ("host.rdp.listener_is_termservice", b(false)),
    ]);
    assert_eq!(s.value_of("termservice_running"), Some("no"));
    let s = with(&[("host.cloud.other", b(true))]);
    assert_eq!(s.value_of("host_is_cloud_vm"), Some("yes"));
}

// ------------------------------------------------------------ parser edges

fn fake_collector(parse: Parser) -> Collector {
    Collector {
        id: "test_check".into(),
        title: "test".into(),
        description: String::new(),
        kind: CollectorKind::HostCommand(HostCommand {
            shell: "PowerShell".into(),
            run: "'x'".into(),
            parse,
        }),
        produces: Vec::new(),
        timeout_secs: 5.0,
    }
}

fn json_parser(pairs: &[(&str, &str)]) -> Collector {
    fake_collector(Parser::Json(
        pairs
            .iter()
            .map(|(f, p)| (f.to_string(), p.to_string()))
            .collect::<BTreeMap<_, _>>(),
    ))
}

#[test]
fn json_parser_edges() {
    let c = json_parser(&[
        ("a", "/A"),
        ("b", "/B/C"),
        ("n", "/N"),
        ("t", "/T"),
        ("deep", "/Keys/0/Ok"),
        ("list", "/List"),
    ]);
    // BOM, a warning line before the JSON and CRLF, as powershell.exe prints them.
    let out = "\u{feff}WARNING: Not running as Administrator\r\n\
               {\"A\":true,\"B\":{\"C\":\"x\"},\"N\":null,\"T\":\"System.Collections.Specialized.OrderedDictionary\",\
               \"Keys\":\"System.Object[]\",\"List\":[1,2]}\r\n";
    let p = parse_output_detailed(&c, out).unwrap();
    assert_eq!(
        p.facts,
        facts! { "a" => true, "b" => "x" },
        "null, truncated and array values are left out"
    );
    assert_eq!(p.warnings.len(), 3, "{:?}", p.warnings);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.starts_with("t (/T)") && w.contains("-Depth"))
    );
    assert!(
        p.warnings
            .iter()
            .any(|w| w.starts_with("deep (/Keys/0/Ok): /Keys was cut off"))
    );
    assert!(
        p.warnings
            .iter()
            .any(|w| w.starts_with("list (/List) is an array"))
    );
    // pscustomobject truncation text.
    let p = parse_output_detailed(&c, r#"{"A":"@{Sid=S-1-5-18; Type=Allow}"}"#).unwrap();
    assert!(p.facts.is_empty());

    for (bad, why) in [
        ("", "printed nothing"),
        ("   \r\n", "printed nothing"),
        ("Get-CimInstance : Access denied", "not JSON"),
        ("[1,2,3]", "expected one JSON object"),
        ("{\"A\":", "not JSON"),
    ] {
        match parse_output(&c, bad) {
            Err(CollectError::Format { path, message }) => {
                assert_eq!(path, "check test_check");
                assert!(message.contains(why), "{bad:?}: {message}");
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // Not a host command.
    let engine = engine();
    assert!(matches!(
        parse_output(collector(&engine, "rdp_probe"), "{}"),
        Err(CollectError::Usage(_))
    ));
}

#[test]
fn regex_parser_on_wmic_output() {
    // Fact sheet §7: wmic ... Win32_TerminalServiceSetting ... CALL GetGracePeriodDays
    let c = fake_collector(Parser::Regex(
        [
            ("grace", r"DaysLeft = (\d+);"),
            ("rv", r"ReturnValue = (\d+);"),
            ("ok", r"Method execution (successful)"),
            ("missing", r"Nothing = (\d+)"),
        ]
        .iter()
        .map(|(f, p)| (f.to_string(), p.to_string()))
        .collect(),
    ));
    let out = "Executing (Win32_TerminalServiceSetting)->GetGracePeriodDays()\r\n\
               Method execution successful.\r\nOut Parameters:\r\ninstance of __PARAMETERS\r\n{\r\n\
               \tDaysLeft = 97;\r\n\tReturnValue = 0;\r\n};\r\n";
    assert_eq!(
        parse_output(&c, out).unwrap(),
        facts! { "grace" => 97, "rv" => 0, "ok" => "successful" }
    );
    assert!(parse_output(&c, "").is_err());
}

// ------------------------------------------------------------------ running

#[cfg(not(windows))]
#[test]
fn run_checks_is_not_applicable_off_windows() {
    let engine = engine();
    let start = Instant::now();
    let runs = run_checks(&engine, Some(Duration::from_secs(1)));
    assert!(start.elapsed() < Duration::from_millis(500), "nothing ran");
    let ids: Vec<&str> = runs.iter().map(|r| r.collector.as_str()).collect();
    assert_eq!(ids, CHECK_IDS);
    for r in &runs {
        assert_eq!(r.status, CheckStatus::NotApplicable, "{}", r.collector);
        let msg = r.message.as_deref().unwrap_or_default();
        assert!(
            msg.contains("only on Windows") && msg.contains("collect.ps1"),
            "{msg}"
        );
        assert!(r.facts.is_empty());
    }
    let collected = host::collect(&engine, &runs);
    assert_eq!(collected.collector, "host_checks");
    assert!(collected.facts.is_empty());
    assert_eq!(collected.warnings.len(), 1, "{:?}", collected.warnings);
    assert!(collected.warnings[0].contains("not applicable"));
    assert!(
        collected.label.contains("0 of 11 ran"),
        "{}",
        collected.label
    );
}

#[test]
fn collect_merges_runs() {
    let engine = engine();
    let run = |id: &str, status, facts: Facts, message: Option<&str>| host::CheckRun {
        collector: id.into(),
        title: id.into(),
        status,
        message: message.map(str::to_string),
        facts,
        warnings: Vec::new(),
        seconds: 0.5,
        output: String::new(),
    };
    let runs = vec![
        run(
            "host_a",
            CheckStatus::Ok,
            facts! { "x" => 1, "y" => true },
            None,
        ),
        run(
            "host_b",
            CheckStatus::TimedOut,
            Facts::new(),
            Some("no result within 30 s"),
        ),
        run(
            "host_c",
            CheckStatus::Ok,
            facts! { "x" => 2, "z" => "q" },
            None,
        ),
    ];
    let c = host::collect(&engine, &runs);
    assert_eq!(c.facts, facts! { "x" => 1, "y" => true, "z" => "q" });
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    assert!(c.warnings[0].contains("host_b") && c.warnings[0].contains("timed out"));
    assert!(c.warnings[1].contains("x: host_c says 2"));
    assert!(c.label.contains("2 of 3 ran"));
}

#[test]
fn powershell_command_line() {
    let run = "$x = 'a \"b\" \\ c'\n[ordered]@{ A = $x } | ConvertTo-Json -Depth 5 -Compress";
    let cmd = shell_command("PowerShell", run).unwrap();
    assert!(
        cmd.get_program()
            .to_string_lossy()
            .ends_with(r"System32\WindowsPowerShell\v1.0\powershell.exe")
    );
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        &args[..7],
        [
            "-NoProfile",
            "-NonInteractive",
            "-ExecutionPolicy",
            "Bypass",
            "-OutputFormat",
            "Text",
            "-EncodedCommand"
        ]
    );
    let script = decode_encoded_command(&args[7]);
    assert!(script.ends_with(run), "the script is carried exactly");
    assert!(script.contains("$ProgressPreference = 'SilentlyContinue'"));
    assert!(matches!(
        shell_command("bash", "ls"),
        Err(CollectError::Usage(_))
    ));
    assert!(shell_command("Cmd", "ver").is_ok());
}

/// Base64 → UTF-16LE → text (what powershell.exe does with -EncodedCommand).
fn decode_encoded_command(b64: &str) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut bytes = Vec::new();
    for c in b64.bytes().filter(|&c| c != b'=') {
        let v = alphabet.iter().position(|&a| a == c).expect("base64 digit") as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            bytes.push((bits >> n) as u8);
        }
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).unwrap()
}

#[cfg(unix)]
mod runner {
    use super::*;
    use std::process::Command;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn captures_stdout_stderr_and_exit_code() {
        let out = run_command(
            sh("printf hello; printf oops >&2"),
            Duration::from_secs(10),
            1 << 20,
        )
        .unwrap();
        assert_eq!(out.code, Some(0));
        assert_eq!(out.stdout, b"hello");
        assert_eq!(out.stderr, b"oops");
        assert!(!out.timed_out && !out.truncated);

        let out =
            run_command(sh("echo partial; exit 3"), Duration::from_secs(10), 1 << 20).unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, b"partial\n");
        assert!(!out.timed_out);
    }

    #[test]
    fn a_command_that_outlives_its_timeout_is_killed() {
        let timeout = Duration::from_millis(600);
        let start = Instant::now();
        // The shell waits for a child: both must die.
        let out = run_command(sh("sleep 30 & echo $!; wait"), timeout, 1 << 20).unwrap();
        let took = start.elapsed();
        assert!(out.timed_out);
        assert_eq!(out.code, None);
        assert!(took >= timeout, "{took:?}");
        assert!(took < timeout + Duration::from_secs(1), "{took:?}");
        let pid: u32 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("pid of sleep");
        // The grandchild was killed with its process group (it may linger as
        // a zombie until something reaps it).
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .next();
            if stat.is_empty() || state == Some("Z") || state == Some("X") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "sleep {pid} still running: {stat}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_leftover_background_process_does_not_hold_it_up() {
        let timeout = Duration::from_millis(700);
        let start = Instant::now();
        // The shell exits at once, but its background child keeps the pipes open.
        let out = run_command(sh("echo done; sleep 30 & exit 0"), timeout, 1 << 20).unwrap();
        assert!(
            start.elapsed() < timeout + Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(out.code, Some(0));
        assert!(!out.timed_out);
        assert_eq!(out.stdout, b"done\n");
    }

    #[test]
    fn output_is_bounded() {
        let out = run_command(
            sh("head -c 3000000 /dev/zero; echo end >&2"),
            Duration::from_secs(20),
            1 << 20,
        )
        .unwrap();
        assert_eq!(
            out.code,
            Some(0),
            "the rest was drained, so the writer finished"
        );
        assert_eq!(out.stdout.len(), 1 << 20);
        assert!(out.truncated);
        assert_eq!(out.stderr, b"end\n");
    }

    #[test]
    fn a_missing_program_is_an_io_error() {
        let err = run_command(
            Command::new("/nonexistent/rootcause-no-such-program"),
            Duration::from_secs(1),
            1024,
        )
        .unwrap_err();
        assert!(matches!(err, CollectError::Io { .. }), "{err}");
    }
}

// ------------------------------------------------------------ bundle errors

fn bundle_err(bytes: &[u8]) -> String {
    let engine = engine();
    match parse_bundle(&engine, bytes, "b.json") {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_bundles_give_clear_errors() {
    let engine = engine();
    let malformed = read_bundle(&engine, &data("bundle-malformed.json")).unwrap_err();
    let text = malformed.to_string();
    assert!(
        text.contains("bundle-malformed.json") && text.contains("not valid JSON"),
        "{text}"
    );

    assert!(bundle_err(b"").contains("empty"));
    assert!(bundle_err(b"\xEF\xBB\xBF  \r\n").contains("empty"));
    assert!(bundle_err(b"[1,2]").contains("expected a JSON object"));
    assert!(bundle_err(b"\x00\x01\xfe\xff\x80garbage").contains("neither UTF-8 nor UTF-16"));
    assert!(bundle_err(b"{}").contains("no \"format\""));
    assert!(
        bundle_err(br#"{"format":"evtx-json","version":1}"#)
            .contains("\"format\" is \"evtx-json\"")
    );
    assert!(
        bundle_err(br#"{"format":"rootcause-bundle","version":2,"kb":"rdp-0x904","checks":{}}"#)
            .contains("newer than this rootcause reads")
    );
    assert!(
        bundle_err(br#"{"format":"rootcause-bundle","version":"1","kb":"rdp-0x904","checks":{}}"#)
            .contains("\"version\" is \"1\", expected 1")
    );
    assert!(
        bundle_err(br#"{"format":"rootcause-bundle","version":1,"kb":"smb-errors","checks":{}}"#)
            .contains("written for KB \"smb-errors\", but the KB in use is rdp-0x904")
    );
    assert!(
        bundle_err(br#"{"format":"rootcause-bundle","version":1,"kb":"rdp-0x904"}"#)
            .contains("no \"checks\" object")
    );

    let missing = read_bundle(&engine, &data("no-such-bundle.json")).unwrap_err();
    assert!(matches!(missing, CollectError::Io { .. }), "{missing}");
    let dir = read_bundle(&engine, &data("german")).unwrap_err();
    assert!(dir.to_string().contains("directory"), "{dir}");

    // Huge: refused by size before reading.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("host_checks_huge_bundle.json");
    let f = std::fs::File::create(&tmp).unwrap();
    f.set_len(MAX_BUNDLE_BYTES + 1).unwrap();
    drop(f);
    let huge = read_bundle(&engine, &tmp).unwrap_err();
    let _ = std::fs::remove_file(&tmp);
    assert!(matches!(huge, CollectError::TooLarge(_)), "{huge}");
    assert!(huge.to_string().contains("16 MiB"));
    let big = vec![b' '; MAX_BUNDLE_BYTES as usize + 1];
    assert!(matches!(
        parse_bundle(&engine, &big, "x"),
        Err(CollectError::TooLarge(_))
    ));
}

#[test]
fn bundle_checks_are_applied_leniently() {
    let engine = engine();
    let cert = read("broken-en/host_rdp_certificate.json");
    let bundle = serde_json::json!({
        "format": "rootcause-bundle", "version": 1, "kb": "rdp-0x904",
        "computer": "HOST\u{7}1", "collected": "2026-03-02T09:00:00Z",
        "checks": {
            "host_rdp_certificate": {"output": cert, "error": null, "seconds": 0.4},
            // assembled by hand: the object itself instead of its text
            "host_services": {"output": {"TermService": {"Status": "Running"}, "Listening": true}},
            "host_antivirus": {"output": "Get-CimInstance : Invalid namespace", "error": null},
            "host_credssp": {"output": null, "error": "Access is denied"},
            "host_custom_inventory": {"output": "{}", "error": null},
            "host_licensing": 42
        }
    });
    // UTF-8 with a byte order mark, as Out-File -Encoding UTF8 writes it in 5.1.
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend(serde_json::to_vec_pretty(&bundle).unwrap());
    let c = parse_bundle(&engine, &bytes, "hand.json").unwrap();
    assert_eq!(c.label, "bundle from HOST1 collected 2026-03-02T09:00:00Z");
    assert_eq!(c.facts["host.cert.expired"], Value::Bool(true));
    assert_eq!(
        c.facts["host.service.termservice"],
        Value::Text("Running".into())
    );
    assert_eq!(c.facts["host.rdp.listening"], Value::Bool(true));
    let w = c.warnings.join("\n");
    for needle in [
        "check host_antivirus: check host_antivirus: the output is not JSON",
        "check host_credssp failed on HOST1: Access is denied",
        "check host_custom_inventory is not a host check of KB rdp-0x904: ignored",
        "check host_licensing: not an object",
        "check host_os_hotfixes is not in the bundle",
    ] {
        assert!(w.contains(needle), "missing warning {needle:?} in\n{w}");
    }
    // UTF-16BE with BOM is read too.
    let mut be = vec![0xFE, 0xFF];
    for u in serde_json::to_string(&bundle).unwrap().encode_utf16() {
        be.extend(u.to_be_bytes());
    }
    assert_eq!(
        parse_bundle(&engine, &be, "be.json").unwrap().facts,
        c.facts
    );
}

#[test]
fn bundle_reader_never_panics() {
    let engine = engine();
    let good = std::fs::read(data("bundle-broken.json")).unwrap();
    // Every cut and a byte flipped at many places: an error or a result, never a panic.
    for cut in (0..good.len()).step_by(37) {
        let _ = parse_bundle(&engine, &good[..cut], "cut");
        let mut flipped = good.clone();
        flipped[cut] ^= 0x5A;
        let _ = parse_bundle(&engine, &flipped, "flip");
    }
    let wide = std::fs::read(data("bundle-healthy.utf16.json")).unwrap();
    for cut in (0..wide.len()).step_by(101) {
        let _ = parse_bundle(&engine, &wide[..cut], "wide");
    }
    // Deep nesting and odd shapes.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let _ = parse_bundle(&engine, deep.as_bytes(), "deep");
    let _ = parse_bundle(&engine, &[0xFF, 0xFE, 0x00], "odd utf16");
    let _ = parse_bundle(&engine, &[0xFF, 0xFE, 0x00, 0xD8], "lone surrogate");
    let _ = bundle::COLLECTOR_ID;
}
