//! Fuzz target: the syslog parser never panics and keeps its invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vigil_syslog::fuzz_parse(data);
});
