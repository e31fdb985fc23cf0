//! No data lost: killing the process at random moments while it saves its
//! session again and again leaves the file either the old or the new
//! complete version, never a torn one.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::*;

#[test]
fn killed_during_repeated_saves_the_session_file_is_always_whole() {
    let dir = temp_dir("kill-save");
    let file = dir.join("session.json");
    // Deterministic "random" delays (xorshift).
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut seen_versions = std::collections::BTreeSet::new();
    for round in 0..20 {
        let mut script = String::new();
        for k in 0..400 {
            let path = if k % 2 == 0 { "vpn" } else { "lan" };
            script.push_str(&format!(
                ":observe connection_path={path}\n:save {}\n",
                file.display()
            ));
        }
        let mut child = bin()
            .arg("diagnose")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(script.as_bytes());
        });
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::thread::sleep(Duration::from_millis(20 + x % 480));
        let _ = child.kill(); // SIGKILL: no chance to clean up
        let _ = child.wait();
        let _ = writer.join();
        if !file.exists() {
            continue; // killed before the first save finished
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("round {round}: torn file ({e}):\n{text}"));
        assert_eq!(v["format"], "rootcause-session");
        let obs = v["state"]["observations"].as_array().expect("observations");
        let path = obs
            .iter()
            .find(|o| o["evidence"] == "connection_path")
            .expect("the answer");
        seen_versions.insert(path["value"].as_str().unwrap().to_string());
        // The file loads back.
        let (code, _, err) = run_stdin(&["diagnose", "--load", file.to_str().unwrap()], b":quit\n");
        assert_eq!(code, 0, "round {round}: {err}");
    }
    assert!(file.exists(), "no save finished in 20 rounds");
    assert!(!seen_versions.is_empty());
    // A normal save cleans up what the killed writers left behind.
    let input = format!(
        ":observe connection_path=vpn\n:save {}\n:quit\n",
        file.display()
    );
    let (code, _, _) = run_stdin(&["diagnose"], input.as_bytes());
    assert_eq!(code, 0);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "stale temporary files: {leftovers:?}");
}
