//! Fuzz target: the plugin loader never panics, and what it loads parses lines safely.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vigil_plugins::cfg::fuzz_load(data);
});
