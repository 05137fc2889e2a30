//! Crash simulation: a child process (this test binary, in child mode) appends in a loop and
//! prints each range once `append` has returned (fsynced); the parent SIGKILLs it, reopens the
//! spool and checks every printed range is there and numbering continues.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use vigil_spool::{Spool, SpoolOptions};

/// Set (to the spool directory) in the child.
const CHILD_ENV: &str = "VIGIL_SPOOL_CRASH_CHILD";

fn options() -> SpoolOptions {
    SpoolOptions {
        segment_bytes: 256 << 10,
        ..SpoolOptions::default()
    }
}

/// The payload the child writes for record `j` of batch `batch`.
fn payload(batch: u64, j: u64) -> Vec<u8> {
    let mut p = format!("batch {batch} record {j} ").into_bytes();
    p.resize(200 + (j as usize * 7) % 300, b'.');
    p
}

/// Child mode: append forever, printing `DURABLE first last batch` after each append.
/// Without the environment variable (a normal test run) it does nothing.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut spool = Spool::open(&dir, options()).unwrap();
    for batch in 0u64.. {
        let n = 1 + batch % 97;
        let payloads: Vec<Vec<u8>> = (0..n).map(|j| payload(batch, j)).collect();
        let a = spool.append(&payloads).unwrap();
        println!("DURABLE {} {} {batch} END", a.first, a.first + a.count - 1);
    }
}

#[test]
fn killed_mid_append_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).unwrap() > 0 {
            // Only whole lines count: the kill may cut the last one.
            if line.ends_with(b"END\n") {
                let text = String::from_utf8(line.clone()).unwrap();
                if text.starts_with("DURABLE ") {
                    let _ = tx.send(());
                    lines.push(text);
                }
            }
            line.clear();
        }
        lines
    });
    rx.recv_timeout(Duration::from_secs(60)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let lines = reader.join().unwrap();
    assert!(lines.len() > 1);

    let mut spool = Spool::open(dir.path(), options()).unwrap();
    let stored: BTreeMap<u64, Vec<u8>> = spool
        .read_from(0, usize::MAX, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|r| (r.seq, r.payload))
        .collect();
    let mut highest_printed = 0;
    for line in &lines {
        let f: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(3)
            .map(|w| w.parse().unwrap())
            .collect();
        let (first, last, batch) = (f[0], f[1], f[2]);
        for seq in first..=last {
            assert_eq!(
                stored.get(&seq),
                Some(&payload(batch, seq - first)),
                "seq {seq} of {line}"
            );
        }
        highest_printed = last;
    }
    // No holes: records run from 1 to the highest stored, which is at least the last printed.
    let highest = *stored.keys().next_back().unwrap();
    assert!(highest >= highest_printed);
    assert_eq!(stored.len() as u64, highest);
    assert_eq!(spool.next_sequence(), highest + 1);
    assert_eq!(
        spool.append(&[b"after the crash"]).unwrap().first,
        highest + 1
    );
    eprintln!(
        "crash test: {} ranges printed up to {highest_printed}, {highest} stored, cut {} bytes",
        lines.len(),
        spool.open_report().truncated_bytes
    );
}
