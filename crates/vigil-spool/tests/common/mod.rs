//! Helpers shared by the integration tests.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

use vigil_spool::{Overflow, Record, Spool, SpoolOptions};

/// Bytes a record with a payload of `len` bytes takes on disk.
pub fn rec(len: usize) -> u64 {
    16 + len as u64
}

/// Options with the given segment and total bounds.
pub fn opts(segment_bytes: u64, max_bytes: u64, overflow: Overflow) -> SpoolOptions {
    SpoolOptions {
        max_bytes,
        segment_bytes,
        max_record_bytes: 1 << 20,
        overflow,
    }
}

/// A recognisable payload of `len` bytes for sequence-ish tag `tag`.
pub fn payload(tag: u64, len: usize) -> Vec<u8> {
    let mut p = format!("p{tag}:").into_bytes();
    p.resize(len, b'a' + (tag % 26) as u8);
    p.truncate(len);
    p
}

/// `n` payloads of `len` bytes tagged from `from`.
pub fn payloads(from: u64, n: u64, len: usize) -> Vec<Vec<u8>> {
    (from..from + n).map(|t| payload(t, len)).collect()
}

/// Every unacknowledged record.
pub fn read_all(spool: &Spool) -> Vec<Record> {
    spool.read_from(0, usize::MAX, usize::MAX).unwrap()
}

/// Sequences of every unacknowledged record.
pub fn seqs(spool: &Spool) -> Vec<u64> {
    read_all(spool).into_iter().map(|r| r.seq).collect()
}

/// The segment files in `dir` with their sizes, sorted by name.
pub fn segment_files(dir: &Path) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter_map(|e| {
            let name = e.file_name().into_string().unwrap();
            name.ends_with(".spool")
                .then(|| (name, e.metadata().unwrap().len()))
        })
        .collect();
    files.sort();
    files
}

/// The file name of the segment starting at `seq`.
pub fn seg_name(seq: u64) -> String {
    format!("{seq:020}.spool")
}
