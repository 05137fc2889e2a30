//! Fuzz target: the plugin matcher never panics and its fast path equals the regex crate.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vigil_plugins::cfg::fuzz_match(data);
});
