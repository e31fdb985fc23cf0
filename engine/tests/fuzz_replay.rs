//! Replays the fuzz seeds and every committed regression input through the
//! fuzz targets' own code (`rootcause_engine::eval::fuzzing`), so `cargo test`
//! keeps every past finding fixed without a fuzzer or a nightly toolchain.

use std::path::Path;

use rootcause_engine::eval::fuzzing::TARGETS;

#[test]
fn seeds_and_regressions_never_panic() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut total = 0;
    for (name, run) in TARGETS {
        let mut count = 0;
        for kind in ["seeds", "regressions"] {
            let Ok(dir) = std::fs::read_dir(fuzz.join(kind).join(name)) else {
                continue;
            };
            for entry in dir.flatten() {
                let data = std::fs::read(entry.path()).expect("read input");
                run(&data);
                count += 1;
            }
        }
        assert!(count > 0, "no seed for fuzz target {name}");
        total += count;
    }
    assert!(total >= 400, "only {total} inputs replayed");
}
