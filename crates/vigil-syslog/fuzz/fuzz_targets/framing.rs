//! Fuzz target: the stream decoder never panics, stays bounded, and gives the same frames
//! however the stream is split.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vigil_syslog::fuzz_framing(data);
});
