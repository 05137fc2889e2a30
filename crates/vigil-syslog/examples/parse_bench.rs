//! Parse throughput on the corpus lines (Linux, OpenSSH, system auth), single thread.
//!
//! `cargo run --release -p vigil-syslog --example parse_bench`

use std::time::Instant;

use vigil_event::Timestamp;
use vigil_syslog::{ParseContext, parse};

fn main() {
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/logs/");
    let mut lines = Vec::new();
    for rel in [
        "loghub/Linux/Linux_2k.log",
        "loghub/OpenSSH/OpenSSH_2k.log",
        "elastic-integrations/system_auth/test-auth.log",
    ] {
        let path = format!("{base}{rel}");
        let data = match std::fs::read(&path) {
            Ok(data) => data,
            Err(e) => {
                eprintln!("test corpus missing: {path}: {e}");
                std::process::exit(1);
            }
        };
        lines.extend(
            data.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    let bytes: usize = lines.iter().map(Vec::len).sum();
    let cx = ParseContext::utc(Timestamp::from_secs(1_123_000_000));
    let mut parsed = 0u64;
    let mut checksum = 0usize;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < 3.0 {
        for line in &lines {
            let msg = parse(line, &cx);
            checksum = checksum.wrapping_add(msg.body.len());
            parsed += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let rounds = parsed / lines.len() as u64;
    println!(
        "{} lines x {rounds} rounds: {:.0} msgs/s, {:.1} MiB/s (checksum {checksum})",
        lines.len(),
        parsed as f64 / secs,
        (bytes as f64 * rounds as f64) / secs / (1024.0 * 1024.0),
    );
}
