//! The worked example of docs/kb-authoring.md, executed: every annotated
//! block is applied to a copy of kb/rdp-0x904, and the result must pass
//! `kb check`, its new cases under `kb test`, and run under `kb stats`.

mod common;

use common::*;

/// (directive, target, body) for each fenced `ron` block whose first line is
/// `// append to: FILE`, `// add to likelihoods of: EVIDENCE` or `// new file: PATH`.
fn blocks(doc: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for block in doc.split("```ron\n").skip(1) {
        let body = block.split("```").next().unwrap();
        let (first, rest) = body.split_once('\n').unwrap();
        let (directive, target) = first
            .trim_start_matches("// ")
            .split_once(": ")
            .expect("a directive line");
        out.push((
            directive.to_string(),
            target.trim().to_string(),
            rest.to_string(),
        ));
    }
    out
}

#[test]
fn the_worked_example_passes_check_test_and_stats() {
    let doc = std::fs::read_to_string(root().join("docs/kb-authoring.md")).unwrap();
    let dir = temp_dir("authoring");
    copy_dir(&root().join("kb/rdp-0x904"), &dir);
    let steps = blocks(&doc);
    assert_eq!(steps.len(), 7, "the example has 7 RON blocks");
    for (directive, target, body) in &steps {
        match directive.as_str() {
            "append to" => {
                let path = dir.join(target);
                let text = std::fs::read_to_string(&path).unwrap();
                let end = text.rfind(']').expect("a list file");
                std::fs::write(&path, format!("{}{}\n{}", &text[..end], body, &text[end..]))
                    .unwrap();
            }
            "add to likelihoods of" => {
                let path = dir.join("evidence.ron");
                let text = std::fs::read_to_string(&path).unwrap();
                let at = text
                    .find(&format!("id: \"{target}\""))
                    .expect("the evidence exists");
                let open = at
                    + text[at..]
                        .find("likelihoods: {")
                        .expect("it has likelihoods")
                    + "likelihoods: {".len();
                std::fs::write(
                    &path,
                    format!("{}\n{}{}", &text[..open], body, &text[open..]),
                )
                .unwrap();
            }
            "new file" => std::fs::write(dir.join(target), body).unwrap(),
            other => panic!("unknown directive {other}"),
        }
    }
    let d = dir.to_str().unwrap();
    let (code, out, err) = run(&["kb", "check", "--deny-warnings", d]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok: 15 causes"), "{out}");
    let (code, out, _) = run(&["kb", "test", d, "--filter", "tls_inspection"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.trim_end().ends_with("4 passed, 0 failed"), "{out}");
    let (code, out, _) = run(&["kb", "test", d]);
    assert_eq!(code, 0, "the existing cases still pass:\n{out}");
    let (code, out, err) = run(&["kb", "stats", d, "--runs", "5"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("| tls_inspection_middlebox |"), "{out}");
}
