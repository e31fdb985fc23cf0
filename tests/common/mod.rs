//! Helpers shared by the integration tests: run the real binary.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The cause ids of DESIGN §5 (a public contract), without the leak `other`.
pub const DESIGN_CAUSES: &[&str] = &[
    "rdp_certificate_invalid",
    "machinekeys_corruption",
    "security_layer_mismatch",
    "credssp_oracle_mismatch",
    "nla_authentication_failure",
    "intermediary_security_mismatch",
    "antivirus_interference",
    "firewall_blocking",
    "network_instability",
    "mtu_mismatch",
    "outdated_client",
    "windows_update_regression",
    "licensing_or_cache",
    "rdp_service_unavailable",
];

/// The evidence ids and values of DESIGN §5 (a public contract).
pub const DESIGN_EVIDENCE: &[(&str, &[&str])] = &[
    ("connection_path", &["lan", "vpn", "gateway", "internet"]),
    (
        "host_os",
        &["windows_client", "windows_server", "non_windows"],
    ),
    ("host_is_cloud_vm", &["yes", "no"]),
    ("host_recently_renamed_or_migrated", &["yes", "no"]),
    ("recent_windows_update", &["yes", "no"]),
    ("other_clients_can_connect", &["yes", "no"]),
    ("client_fails_everywhere", &["yes", "no"]),
    ("works_bypassing_path", &["yes", "no"]),
    ("port_reachable", &["yes", "no"]),
    (
        "rdp_negotiation",
        &[
            "nla",
            "tls",
            "standard_rdp_only",
            "hybrid_required",
            "cert_missing",
            "closed_early",
            "not_rdp",
        ],
    ),
    ("tls_handshake", &["ok", "fails"]),
    ("certificate_expired", &["yes", "no"]),
    ("schannel_36870_seen", &["yes", "no"]),
    ("cert_events_1057_1058_seen", &["yes", "no"]),
    ("machinekeys_acl_ok", &["yes", "no"]),
    ("nla_required", &["yes", "no"]),
    ("works_with_nla_disabled", &["yes", "no"]),
    ("credssp_error_shown", &["yes", "no"]),
    ("third_party_security_software", &["yes", "no"]),
    ("works_with_security_software_disabled", &["yes", "no"]),
    ("packet_loss_or_high_latency", &["yes", "no"]),
    ("works_with_lower_mtu", &["yes", "no"]),
    ("client_up_to_date", &["yes", "no"]),
    ("termservice_running", &["yes", "no"]),
    ("rdp_enabled", &["yes", "no"]),
    ("license_error_shown", &["yes", "no"]),
    ("failure_intermittent", &["yes", "no"]),
];

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rootcause"));
    c.env("NO_COLOR", "1");
    c
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A Python that can `import` every module of `modules` (comma-separated):
/// `$ROOTCAUSE_MCP_PYTHON`, else the virtual environment `.ci/run` makes
/// (`target/mcp-venv`). `None` means skip, except under `CI=true`, where
/// CI installs them and a missing one is a failure.
pub fn python_with(modules: &str) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("ROOTCAUSE_MCP_PYTHON").map(PathBuf::from),
        Some(root().join("target/mcp-venv/bin/python")),
    ];
    for p in candidates.into_iter().flatten() {
        let ok = Command::new(&p)
            .args(["-c", &format!("import {modules}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(p);
        }
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but no Python with {modules}: .ci/run makes target/mcp-venv"
    );
    eprintln!("skipped: no Python with {modules} (run .ci/run, or set ROOTCAUSE_MCP_PYTHON)");
    None
}

pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// Run with arguments; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("run rootcause");
    finish(out)
}

/// Run with `input` on stdin.
pub fn run_stdin(args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rootcause");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    finish(out)
}

fn finish(out: Output) -> (i32, String, String) {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        !stderr.contains("panicked"),
        "the process panicked:\n{stderr}"
    );
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// A fresh temporary folder under the target directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = root().join("target/test-tmp").join(format!(
        "{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Copy a folder recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let dst = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), &dst).expect("copy");
        }
    }
}
