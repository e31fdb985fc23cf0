#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rootcause_engine::eval::fuzzing::scan_input(data);
});
