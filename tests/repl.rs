//! `rootcause diagnose` driven through a real pseudo-terminal (expectrl),
//! through piped stdin, and killed in the middle of `:save`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use expectrl::{ControlCode, Eof, Expect, Regex, Session};

type Pty = expectrl::session::OsSession;

fn spawn(args: &[&str], home: &Path) -> Pty {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rootcause"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME");
    let mut p = Session::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(Duration::from_secs(20)));
    p
}

/// A fresh session opens with the intake screen: press Enter to skip it.
fn skip_intake(p: &mut Pty) {
    p.expect("intake> ").unwrap();
    p.send_line("").unwrap();
    p.expect("(intake skipped)").unwrap();
}

fn text(c: &expectrl::Captures) -> String {
    String::from_utf8_lossy(c.before()).into_owned() + &String::from_utf8_lossy(c.as_bytes())
}

/// Answer every question with `answer` until the conclusion appears.
/// (Prompts are redrawn while typing, so the loop waits for what an answer
/// prints, not for the prompt.)
fn answer_until_conclusion(p: &mut Pty, answer: &str) -> String {
    let mut seen = String::new();
    for _ in 0..60 {
        p.send_line(answer).unwrap();
        let c = p
            .expect(Regex(r"Q\d+\.|=== Conclusion ==="))
            .expect("a question or the conclusion");
        let t = text(&c);
        seen.push_str(&t);
        if t.ends_with("=== Conclusion ===") {
            let c = p.expect("rootcause> ").expect("the command prompt");
            seen.push_str(&text(&c));
            return seen;
        }
    }
    panic!("no conclusion after 60 answers:\n{seen}");
}

#[test]
fn full_diagnosis_to_a_conclusion_in_a_terminal() {
    let home = temp_dir("pty-full");
    let mut p = spawn(
        &[
            "diagnose",
            "--observe",
            "certificate_expired=yes",
            "--observe",
            "host_recently_renamed_or_migrated=yes",
        ],
        &home,
    );
    let c = p.expect("answer> ").unwrap();
    assert!(text(&c).contains("rdp-0x904"), "header names the KB");
    // Two answers were given on the command line: the first question is Q3.
    assert!(text(&c).contains("Q3."), "{}", text(&c));
    // Answer "I don't know" to everything: the engine still concludes.
    let seen = answer_until_conclusion(&mut p, "?");
    assert!(seen.contains("=== Conclusion ==="), "{seen}");
    assert!(seen.contains("Most likely: "), "{seen}");
    assert!(seen.contains("Fix plan"), "{seen}");
    p.send_line(":quit").unwrap();
    p.expect(Eof).unwrap();
    assert!(p.get_process().wait().is_ok());
    // History was written to the user's data dir.
    assert!(home.join(".local/share/rootcause/history").exists());
}

#[test]
fn why_explain_and_back() {
    let home = temp_dir("pty-why");
    let mut p = spawn(&["diagnose"], &home);
    skip_intake(&mut p);
    p.expect("answer> ").unwrap();
    p.send_line(":why").unwrap();
    p.expect("bits of uncertainty").unwrap();
    p.expect("What each answer would do").unwrap();

    p.send_line("2").unwrap();
    p.expect("Most likely causes:").unwrap();
    p.expect("Advice:").unwrap();
    p.expect("Q2.").unwrap();

    p.send_line(":explain").unwrap();
    p.expect("weight of evidence").unwrap();
    let c = p.expect(Regex(r"total [+-]\d")).unwrap();
    assert!(text(&c).contains("connection_path = vpn"), "{}", text(&c));

    p.send_line(":back").unwrap();
    p.expect("(last change undone)").unwrap();
    p.expect("Q1.").unwrap();
    p.send_line(":quit").unwrap();
    p.expect(Eof).unwrap();
}

#[test]
fn tab_completes_a_command() {
    let home = temp_dir("pty-tab");
    let mut p = spawn(&["diagnose"], &home);
    skip_intake(&mut p);
    p.expect("answer> ").unwrap();
    p.send(":expl\t").unwrap();
    p.expect(":explain").unwrap();
    p.send("\r").unwrap();
    p.expect("weight of evidence").unwrap();
    p.send_line(":quit").unwrap();
    p.expect(Eof).unwrap();
}

#[test]
fn ctrl_c_cancels_the_line_and_ctrl_d_offers_to_save() {
    let home = temp_dir("pty-ctrl");
    let mut p = spawn(&["diagnose"], &home);
    skip_intake(&mut p);
    p.expect("answer> ").unwrap();
    p.send("3").unwrap();
    p.send(ControlCode::EndOfText).unwrap(); // Ctrl-C
    p.expect("(line cancelled").unwrap();
    p.expect("answer> ").unwrap();
    // The cancelled "3" was not taken as an answer: answer 2 now.
    p.send_line("2").unwrap();
    p.expect("Q2.").unwrap();
    p.expect("answer> ").unwrap();
    p.send(ControlCode::EndOfTransmission).unwrap(); // Ctrl-D
    p.expect("Save this session before leaving?").unwrap();
    let file = home.join("saved.json");
    p.send_line(file.to_str().unwrap()).unwrap();
    p.expect("saved to").unwrap();
    p.expect(Eof).unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["format"], "rootcause-session");
    assert_eq!(
        saved["state"]["observations"][0]["evidence"],
        "connection_path"
    );
    assert_eq!(saved["state"]["observations"][0]["value"], "vpn");
}

#[test]
fn piped_session_prints_plain_text_and_a_report() {
    let input = "2\n1\n:why\n?\n:observe certificate_expired=yes\n:rank\n:fixes\n:quit\n";
    let (code, out, err) = run_stdin(&["diagnose", "--report", "md"], input.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains('\x1b'), "no escape sequences when piped");
    assert!(
        out.contains("Q1. How does the failing client reach the host?"),
        "{out}"
    );
    assert!(
        out.contains("answer> 2"),
        "piped answers are echoed:\n{out}"
    );
    assert!(out.contains("Most likely causes:"), "{out}");
    assert!(
        out.contains("Fix plan, best chance of success per effort first:"),
        "{out}"
    );
    // The report at the end.
    let report = &out[out.find("# Troubleshooting report").expect("report")..];
    assert!(
        report.contains("| Question | Answer | Source |"),
        "{report}"
    );
    assert!(report.contains("Over a VPN (vpn)"), "{report}");
    assert!(report.contains("## Ranking"), "{report}");
    assert!(report.contains("## Fix plan"), "{report}");
    assert!(report.contains("## How the ranking moved"), "{report}");
    assert!(
        report.contains("| 1 | observe connection_path = vpn | user |"),
        "{report}"
    );
}

#[test]
fn save_and_load_round_trip() {
    let dir = temp_dir("save-load");
    let file = dir.join("s.json");
    let input = format!("2\n1\n:save {}\n:quit\n", file.display());
    let (code, _, err) = run_stdin(&["diagnose"], input.as_bytes());
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run_stdin(
        &[
            "diagnose",
            "--load",
            file.to_str().unwrap(),
            "--report",
            "json",
        ],
        b":quit\n",
    );
    assert_eq!(code, 0, "{err}");
    let json = &out[out.find("{\n").expect("json report")..];
    let report: serde_json::Value = serde_json::from_str(json).unwrap();
    let obs = report["state"]["observations"].as_array().unwrap();
    assert_eq!(obs.len(), 2);
    assert_eq!(obs[0]["value"], "vpn");
}

#[test]
fn load_reports_what_no_longer_fits() {
    let dir = temp_dir("load-drop");
    let file = dir.join("s.json");
    let state = serde_json::json!({
        "format": "rootcause-session", "version": 1,
        "state": {"kb": "rdp-0x904", "kb_version": "0.9.0", "observations": [
            {"evidence": "connection_path", "value": "vpn", "source": {"kind": "user"}},
            {"evidence": "retired_question", "value": "yes", "source": {"kind": "user"}},
            {"evidence": "port_reachable", "value": "perhaps", "source": {"kind": "user"}}
        ]}
    });
    std::fs::write(&file, state.to_string()).unwrap();
    let (code, out, err) = run_stdin(&["diagnose", "--load", file.to_str().unwrap()], b":quit\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("saved with KB version 0.9.0"), "{out}");
    assert!(
        out.contains("dropped answer retired_question = yes: unknown evidence"),
        "{out}"
    );
    assert!(
        out.contains("dropped answer port_reachable = perhaps"),
        "{out}"
    );
}

#[test]
fn a_crash_during_save_never_corrupts_the_existing_file() {
    let dir = temp_dir("crash-save");
    let file = dir.join("s.json");
    let input = format!("2\n:save {}\n:quit\n", file.display());
    let (code, _, _) = run_stdin(&["diagnose"], input.as_bytes());
    assert_eq!(code, 0);
    let before = std::fs::read_to_string(&file).unwrap();

    // Crash between writing the temporary file and renaming it.
    let input = format!("2\n1\n1\n:save {}\n", file.display());
    let out = bin()
        .arg("diagnose")
        .env("ROOTCAUSE_CRASH_BEFORE_RENAME", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(input.as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(!out.success(), "the process was meant to crash");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        before,
        "the old file is intact"
    );
    let _: serde_json::Value = serde_json::from_str(&before).unwrap();
}

#[test]
fn pasted_text_and_recent_changes_fill_in_facts_and_the_fix_is_offered() {
    // Pasting at the first prompt, a multi-line :paste, :changed, and a
    // fix offered with its steps when trying it beats asking.
    let input = "Error code: 0x904\n:changed update,antivirus\n:paste\nAn authentication error has occurred.\nThis could be due to CredSSP encryption oracle remediation.\n\n:tried patch_credssp_both_sides worked\n:quit\n";
    let (code, out, err) = run_stdin(&["diagnose"], input.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Quicker: paste what you see"), "{out}");
    assert!(out.contains("What changed recently? :changed"), "{out}");
    // The pasted dialog: decoded and turned into a fact.
    assert!(out.contains("Error code: 0x904: Socket closed"), "{out}");
    assert!(
        out.contains("port_reachable = yes    from \"Error code: 0x904\""),
        "{out}"
    );
    // The multi-line paste.
    assert!(
        out.contains("credssp_error_shown = yes    from \"CredSSP encryption oracle remediation\""),
        "{out}"
    );
    // The fix is offered with its steps, and asking more stays possible.
    assert!(
        out.contains(
            "Try now: Install the CredSSP updates on client and host [patch_credssp_both_sides]"
        ),
        "{out}"
    );
    assert!(
        out.contains("Then tell me: :tried patch_credssp_both_sides worked"),
        "{out}"
    );
    // After the fix, its verification question comes next.
    let after = &out[out.find(":tried patch_credssp_both_sides worked").unwrap()..];
    assert!(after.contains("Check 1."), "{after}");
    // A paste that holds nothing known is said so, and the session goes on.
    let (code, out, _) = run_stdin(&["diagnose"], b"hello world\n:quit\n");
    assert_eq!(code, 0);
    assert!(out.contains("holds nothing I recognise"), "{out}");
}

#[test]
fn long_lines_wrap_at_word_boundaries_in_a_narrow_terminal() {
    let home = temp_dir("pty-narrow");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rootcause"));
    cmd.arg("diagnose")
        .env("NO_COLOR", "1")
        .env("HOME", &home)
        .env("COLUMNS", "40")
        .env_remove("XDG_DATA_HOME");
    let mut p = Session::spawn(cmd).expect("spawn in a pty");
    let _ = p.get_process_mut().set_window_size(40, 24);
    p.set_expect_timeout(Some(Duration::from_secs(20)));
    // The header and the intake screen, then the first question.
    let c = p.expect("intake> ").unwrap();
    let mut screen = text(&c);
    assert!(
        screen.contains("What does the error dialog say?"),
        "{screen}"
    );
    p.send_line("").unwrap();
    let c = p.expect("answer> ").unwrap();
    screen.push_str(&text(&c));
    // The header, question, answers and help are wrapped to 40 columns,
    // at spaces: every word of the question's help appears whole.
    // What the terminal shows: without rustyline's control sequences.
    let shown = strip_ansi(&screen);
    let long: Vec<&str> = shown
        .lines()
        .map(|l| l.rsplit('\r').next().unwrap_or(l))
        .filter(|l| l.chars().count() > 40 && l.trim().contains(' '))
        .collect();
    assert!(long.is_empty(), "lines over 40 columns: {long:#?}");
    assert!(screen.contains("Quicker: paste what"), "{screen}");
    assert!(screen.contains("CredSSP encryption oracle"), "{screen}");
    assert!(screen.contains("RD Gateway server name means"), "{screen}");
    p.send_line(":quit").unwrap();
    p.expect(Eof).unwrap();
}

/// `text` without ANSI escape sequences (ESC [ … letter).
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn the_intake_fills_in_several_facts_from_one_answer() {
    let home = temp_dir("pty-intake");
    let mut p = spawn(&["diagnose"], &home);
    let c = p.expect("intake> ").unwrap();
    let screen = text(&c);
    assert!(
        screen.contains("What does the error dialog say?"),
        "{screen}"
    );
    assert!(
        screen.contains("What changed shortly before it started?"),
        "{screen}"
    );
    assert!(
        screen.contains("How does the failing client reach the host? One of:"),
        "{screen}"
    );
    // Something that is neither a choice nor a known text: said so, and
    // the intake is asked again.
    p.send_line("7 banana").unwrap();
    p.expect("names no choice").unwrap();
    p.expect("intake> ").unwrap();
    // Two answers to one triage question: refused, asked again.
    p.send_line("lan vpn").unwrap();
    p.expect("pick one of them").unwrap();
    p.expect("intake> ").unwrap();
    // The CredSSP dialog (choice 2), the path and an update: one answer,
    // three facts, and the CredSSP fix is offered at once.
    p.send_line("2 vpn update").unwrap();
    p.expect("From the intake:").unwrap();
    p.expect("credssp_error_shown = yes").unwrap();
    p.expect("connection_path = vpn").unwrap();
    let c = p.expect("Advice:").unwrap();
    assert!(
        text(&c).contains("recent_windows_update = yes"),
        "{}",
        text(&c)
    );
    let c = p.expect("answer> ").unwrap();
    assert!(
        text(&c).contains("[patch_credssp_both_sides]"),
        "{}",
        text(&c)
    );
    p.send_line(":quit").unwrap();
    p.expect(Eof).unwrap();

    // Pasting the dialog at the intake works as pasting anywhere.
    let home = temp_dir("pty-intake-paste");
    let mut p = spawn(&["diagnose"], &home);
    p.expect("intake> ").unwrap();
    p.send_line("Error code: 0x904").unwrap();
    p.expect("From what you pasted:").unwrap();
    p.expect("port_reachable = yes").unwrap();
    p.expect("answer> ").unwrap();
    p.send_line(":quit").unwrap();
    p.expect(Eof).unwrap();
}
