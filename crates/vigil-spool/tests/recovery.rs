//! Opening after damage: torn tails are cut off, damage elsewhere costs the damaged records
//! only (quarantined and reported), a misnumbered record is refused.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs::OpenOptions;
use std::io::Write;

use common::{opts, payload, payloads, read_all, rec, seg_name, segment_files, seqs};
use vigil_spool::{DamagedRange, Overflow, Spool, SpoolError, SpoolOptions};

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
fn a_flipped_bit_in_an_older_segment_costs_that_record_only() {
    let dir = filled();
    let middle = dir.path().join(seg_name(6));
    let mut bytes = std::fs::read(&middle).unwrap();
    let at = 2 * rec(LEN) as usize + 40; // inside record 8's payload
    let original = bytes[2 * rec(LEN) as usize..3 * rec(LEN) as usize].to_vec();
    bytes[at] ^= 0x20;
    std::fs::write(&middle, &bytes).unwrap();

    let mut spool = Spool::open(dir.path(), options()).unwrap();
    let report = spool.open_report().clone();
    let quarantine = dir
        .path()
        .join("quarantine")
        .join(format!("{}-232-348.bin", seg_name(6)));
    assert_eq!(
        report.damaged,
        vec![DamagedRange {
            path: middle.clone(),
            from: 2 * rec(LEN),
            to: 3 * rec(LEN),
            lost: Some((8, 8)),
            reason: "checksum mismatch".to_owned(),
            quarantine: quarantine.clone(),
        }]
    );
    assert_eq!(report.records, 11);
    // The damaged bytes are kept aside; the segment itself is not changed.
    let mut damaged = original;
    damaged[40] ^= 0x20;
    assert_eq!(std::fs::read(&quarantine).unwrap(), damaged);
    assert_eq!(std::fs::read(&middle).unwrap(), bytes);
    let want: Vec<u64> = (1..=12).filter(|&s| s != 8).collect();
    assert_eq!(seqs(&spool), want);
    assert!(
        read_all(&spool)
            .iter()
            .all(|r| r.payload == payload(r.seq, LEN))
    );
    assert_eq!(spool.stats().records_unacked, 11);

    // The lost sequence needs no acknowledgement: acking the others frees both full segments.
    spool.ack(1, 7).unwrap();
    spool.ack(9, 12).unwrap();
    assert_eq!(spool.stats().records_unacked, 0);
    assert_eq!(spool.first_unacked(), None);
    assert_eq!(
        segment_files(dir.path()),
        vec![(seg_name(11), 2 * rec(LEN))]
    );
    assert_eq!(spool.append(&[payload(13, LEN)]).unwrap().first, 13);
    spool.flush_acks().unwrap();
    drop(spool);
    let spool = Spool::open(dir.path(), options()).unwrap();
    assert!(spool.open_report().damaged.is_empty());
    assert_eq!(seqs(&spool), vec![13]);
}

#[test]
fn a_damaged_length_in_the_last_segment_resynchronises_and_appends_continue() {
    let dir = filled();
    let last = dir.path().join(seg_name(11));
    let mut bytes = std::fs::read(&last).unwrap();
    bytes[1] ^= 0x01; // record 11's length
    std::fs::write(&last, &bytes).unwrap();

    let mut spool = Spool::open(dir.path(), options()).unwrap();
    let report = spool.open_report().clone();
    assert_eq!(report.truncated, None);
    assert_eq!(report.damaged.len(), 1);
    let d = &report.damaged[0];
    assert_eq!((d.from, d.to, d.lost), (0, rec(LEN), Some((11, 11))));
    assert!(d.reason.starts_with("incomplete record"), "{}", d.reason);
    assert_eq!(
        seqs(&spool),
        (1..=12).filter(|&s| s != 11).collect::<Vec<_>>()
    );
    assert_eq!(spool.append(&[payload(13, LEN)]).unwrap().first, 13);
    drop(spool);

    // Found again at the next open, the same range; the appended record follows.
    let spool = Spool::open(dir.path(), options()).unwrap();
    let again = &spool.open_report().damaged;
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].from, again[0].to, again[0].lost),
        (0, rec(LEN), Some((11, 11)))
    );
    assert_eq!(
        seqs(&spool),
        (1..=13).filter(|&s| s != 11).collect::<Vec<_>>()
    );
    assert_eq!(
        spool.read_from(13, 1, usize::MAX).unwrap()[0].payload,
        payload(13, LEN)
    );
}

#[test]
fn garbage_inserted_between_records_loses_nothing() {
    let dir = filled();
    let last = dir.path().join(seg_name(11));
    let mut bytes = std::fs::read(&last).unwrap();
    let at = rec(LEN) as usize;
    bytes.splice(at..at, [0xABu8; 37]);
    std::fs::write(&last, &bytes).unwrap();

    let spool = Spool::open(dir.path(), options()).unwrap();
    let d = &spool.open_report().damaged;
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].from, d[0].to, d[0].lost),
        (rec(LEN), rec(LEN) + 37, None)
    );
    assert_eq!(seqs(&spool), (1..=12).collect::<Vec<_>>());
}

#[test]
fn a_torn_older_segment_loses_its_tail_up_to_the_next_segment() {
    let dir = filled();
    let middle = dir.path().join(seg_name(6));
    OpenOptions::new()
        .write(true)
        .open(&middle)
        .unwrap()
        .set_len(4 * rec(LEN) + 3)
        .unwrap();
    let mut spool = Spool::open(dir.path(), options()).unwrap();
    let report = spool.open_report().clone();
    assert_eq!(report.damaged.len(), 1);
    let d = &report.damaged[0];
    assert_eq!(
        (&d.path, d.from, d.to, d.lost),
        (&middle, 4 * rec(LEN), 4 * rec(LEN) + 3, Some((10, 10)))
    );
    assert_eq!(d.reason, "incomplete header (3 bytes)");
    assert_eq!(report.truncated, None);
    assert_eq!(seqs(&spool), vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12]);
    assert_eq!(spool.append(&[b"x"]).unwrap().first, 13);
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
