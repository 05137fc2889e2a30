//! Opening after damage: torn tails are cut off, corruption elsewhere is refused.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs::OpenOptions;
use std::io::Write;

use common::{opts, payload, payloads, read_all, rec, seg_name, segment_files, seqs};
use vigil_spool::{Overflow, Spool, SpoolError, SpoolOptions};

const LEN: usize = 100;

fn options() -> SpoolOptions {
    opts(5 * rec(LEN), 1 << 30, Overflow::Block)
}

/// A spool with 12 records in segments of 5: 1-5, 6-10, 11-12.
fn filled() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), options()).unwrap();
    spool.append(&payloads(1, 12, LEN)).unwrap();
    dir
}

#[test]
fn truncated_mid_record_is_cut_off() {
    let dir = filled();
    let last = dir.path().join(seg_name(11));
    let file = OpenOptions::new().write(true).open(&last).unwrap();
    // Cut 50 bytes into the second record of the last segment.
    file.set_len(rec(LEN) + 50).unwrap();
    drop(file);

    let mut spool = Spool::open(dir.path(), options()).unwrap();
    let report = spool.open_report().clone();
    assert_eq!(report.truncated_bytes, 50);
    let torn = report.truncated.unwrap();
    assert_eq!((torn.path, torn.offset), (last.clone(), rec(LEN)));
    assert_eq!(report.records, 11);
    assert_eq!(seqs(&spool), (1..=11).collect::<Vec<_>>());
    assert!(
        read_all(&spool)
            .iter()
            .all(|r| r.payload == payload(r.seq, LEN))
    );
    assert_eq!(std::fs::metadata(&last).unwrap().len(), rec(LEN));
    assert_eq!(spool.next_sequence(), 12);

    // The repaired segment takes appends again and reopens clean.
    assert_eq!(spool.append(&[payload(12, LEN)]).unwrap().first, 12);
    drop(spool);
    let spool = Spool::open(dir.path(), options()).unwrap();
    assert_eq!(spool.open_report().truncated_bytes, 0);
    assert_eq!(seqs(&spool), (1..=12).collect::<Vec<_>>());
}

#[test]
fn garbage_after_the_last_record_is_cut_off() {
    for garbage in [
        vec![0u8; 7],
        vec![0u8; 4096],
        (0..=255u8).cycle().take(1000).collect(),
    ] {
        let dir = filled();
        let last = dir.path().join(seg_name(11));
        OpenOptions::new()
            .append(true)
            .open(&last)
            .unwrap()
            .write_all(&garbage)
            .unwrap();

        let mut spool = Spool::open(dir.path(), options()).unwrap();
        assert_eq!(spool.open_report().truncated_bytes, garbage.len() as u64);
        assert_eq!(spool.open_report().records, 12);
        assert_eq!(seqs(&spool), (1..=12).collect::<Vec<_>>());
        assert_eq!(spool.append(&[b"x"]).unwrap().first, 13);
    }
}

#[test]
fn an_empty_last_segment_is_removed() {
    let dir = filled();
    std::fs::File::create(dir.path().join(seg_name(13))).unwrap();
    let mut spool = Spool::open(dir.path(), options()).unwrap();
    assert_eq!(spool.open_report().empty_segments_removed, 1);
    assert_eq!(spool.open_report().segments, 3);
    assert_eq!(spool.append(&[b"x"]).unwrap().first, 13);
    assert_eq!(segment_files(dir.path()).len(), 3);
}

#[test]
fn corruption_in_an_older_segment_is_an_error() {
    let dir = filled();
    let middle = dir.path().join(seg_name(6));
    let mut bytes = std::fs::read(&middle).unwrap();
    let at = 2 * rec(LEN) as usize + 40; // inside record 8's payload
    bytes[at] ^= 0x20;
    std::fs::write(&middle, &bytes).unwrap();

    let err = Spool::open(dir.path(), options()).unwrap_err();
    match &err {
        SpoolError::Corrupt { path, offset, .. } => {
            assert_eq!(path, &middle);
            assert_eq!(*offset, 2 * rec(LEN));
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&seg_name(6)) && text.contains("offset 232"),
        "{text}"
    );
    // Nothing was cut.
    assert_eq!(std::fs::read(&middle).unwrap(), bytes);
}

#[test]
fn a_torn_older_segment_is_an_error() {
    let dir = filled();
    let middle = dir.path().join(seg_name(6));
    OpenOptions::new()
        .write(true)
        .open(&middle)
        .unwrap()
        .set_len(4 * rec(LEN) + 3)
        .unwrap();
    let err = Spool::open(dir.path(), options()).unwrap_err();
    assert!(
        matches!(&err, SpoolError::Corrupt { path, offset, .. } if *path == middle && *offset == 4 * rec(LEN)),
        "{err}"
    );
}

#[test]
fn misnumbered_record_is_an_error_even_in_the_last_segment() {
    let dir = filled();
    // The last segment's name no longer matches its records.
    std::fs::rename(dir.path().join(seg_name(11)), dir.path().join(seg_name(14))).unwrap();
    let err = Spool::open(dir.path(), options()).unwrap_err();
    assert!(
        matches!(err, SpoolError::Corrupt { offset: 0, .. }),
        "{err}"
    );
}
