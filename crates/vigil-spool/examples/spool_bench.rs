//! Throughput of the spool: appends 1,000,000 records of ~300 bytes in batches of 512 (one
//! fsync per batch), then reads them all back 512 at a time, then acks them batch by batch,
//! printing records/s for each phase.
//!
//! `cargo run --release -p vigil-spool --example spool_bench [DIR]` (DIR defaults to a fresh
//! temporary directory under the system temp dir).

use std::error::Error;
use std::time::Instant;

use vigil_spool::{Spool, SpoolOptions};

const RECORDS: u64 = 1_000_000;
const BATCH: u64 = 512;

fn rate(records: u64, started: Instant) -> f64 {
    records as f64 / started.elapsed().as_secs_f64()
}

fn main() -> Result<(), Box<dyn Error>> {
    let base = std::env::args()
        .nth(1)
        .map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(base)?;
    let mut spool = Spool::open(dir.path(), SpoolOptions::default())?;
    let batch: Vec<Vec<u8>> = (0..BATCH)
        .map(|i| {
            let mut p = format!("{{\"event\":{i},\"msg\":\"").into_bytes();
            p.resize(280 + (i as usize % 40), b'x');
            p.extend_from_slice(b"\"}");
            p
        })
        .collect();

    let started = Instant::now();
    let mut appended = 0;
    while appended < RECORDS {
        let n = BATCH.min(RECORDS - appended) as usize;
        appended += spool.append(&batch[..n])?.count;
    }
    let stats = spool.stats();
    println!(
        "append: {appended} records in batches of {BATCH}: {:.0} records/s ({} segments, {} MiB)",
        rate(appended, started),
        stats.segments,
        stats.bytes >> 20
    );

    let started = Instant::now();
    let mut from = 1;
    let mut read = 0u64;
    let mut batches = Vec::new();
    loop {
        let got = spool.read_from(from, BATCH as usize, usize::MAX)?;
        let (Some(first), Some(last)) = (got.first(), got.last()) else {
            break;
        };
        batches.push((first.seq, last.seq));
        read += got.len() as u64;
        from = last.seq + 1;
    }
    println!(
        "read_from: {read} records, {BATCH} per call: {:.0} records/s",
        rate(read, started)
    );

    let started = Instant::now();
    for (first, last) in &batches {
        spool.ack(*first, *last)?;
    }
    spool.flush_acks()?;
    let stats = spool.stats();
    println!(
        "ack: {read} records in {} acks (+ flush): {:.0} records/s (left: {} unacked, {} segments)",
        batches.len(),
        rate(read, started),
        stats.records_unacked,
        stats.segments
    );
    Ok(())
}
