//! The size bound: blocking, dropping the oldest segments, and oversized appends.

#![allow(clippy::unwrap_used)]

mod common;

use common::{opts, payloads, rec, seg_name, segment_files, seqs};
use vigil_spool::{Overflow, Spool, SpoolError, SpoolOptions};

const LEN: usize = 100;

/// Room for 10 records, 3 per segment.
fn options(overflow: Overflow) -> SpoolOptions {
    opts(3 * rec(LEN), 10 * rec(LEN), overflow)
}

#[test]
fn block_refuses_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), options(Overflow::Block)).unwrap();
    spool.append(&payloads(1, 10, LEN)).unwrap();
    let files = segment_files(dir.path());
    let stats = spool.stats();

    let err = spool.append(&payloads(11, 1, LEN)).unwrap_err();
    assert!(
        matches!(err, SpoolError::Full { needed, free: 0 } if needed == rec(LEN)),
        "{err}"
    );
    assert_eq!(segment_files(dir.path()), files);
    assert_eq!(spool.stats(), stats);
    assert_eq!(spool.next_sequence(), 11);

    // Acking some of the oldest segment is not enough; all of it frees room.
    spool.ack(1, 2).unwrap();
    assert!(matches!(
        spool.append(&payloads(11, 1, LEN)),
        Err(SpoolError::Full { .. })
    ));
    spool.ack(3, 3).unwrap();
    let err = spool.append(&payloads(11, 4, LEN)).unwrap_err();
    assert!(
        matches!(err, SpoolError::Full { needed, free } if needed == 4 * rec(LEN) && free == 3 * rec(LEN)),
        "{err}"
    );
    let a = spool.append(&payloads(11, 3, LEN)).unwrap();
    assert_eq!((a.first, a.count, a.dropped), (11, 3, None));
    assert_eq!(spool.stats().bytes, 10 * rec(LEN));
}

#[test]
fn block_reclaims_an_acked_tail() {
    let dir = tempfile::tempdir().unwrap();
    // One big segment: the tail is never full, so acking it keeps it, until room is needed.
    let mut spool = Spool::open(dir.path(), opts(1 << 20, 10 * rec(LEN), Overflow::Block)).unwrap();
    spool.append(&payloads(1, 10, LEN)).unwrap();
    spool.ack(1, 10).unwrap();
    assert_eq!(spool.stats().segments, 1);
    let a = spool.append(&payloads(11, 5, LEN)).unwrap();
    assert_eq!((a.first, a.dropped), (11, None));
    assert_eq!(segment_files(dir.path()), [(seg_name(11), 5 * rec(LEN))]);
}

#[test]
fn oversized_appends_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(Overflow::DropOldest);
    o.max_record_bytes = LEN;
    let mut spool = Spool::open(dir.path(), o).unwrap();
    let err = spool.append(&payloads(1, 11, LEN)).unwrap_err();
    assert!(matches!(err, SpoolError::TooLarge { .. }), "{err}");
    let mut batch = payloads(1, 3, LEN);
    batch[1].push(b'!');
    let err = spool.append(&batch).unwrap_err();
    assert!(
        matches!(
            err,
            SpoolError::RecordTooLarge {
                index: 1,
                len: 101,
                max: 100
            }
        ),
        "{err}"
    );
    assert_eq!(spool.next_sequence(), 1);
    assert!(segment_files(dir.path()).is_empty());
}

#[test]
fn drop_oldest_reports_the_exact_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), options(Overflow::DropOldest)).unwrap();
    spool.append(&payloads(1, 10, LEN)).unwrap(); // segments 1-3, 4-6, 7-9, 10
    spool.ack(2, 2).unwrap();
    spool.ack(5, 6).unwrap();

    // Two more records need 2 slots: segment 1-3 goes (2 was acked; the range is 1..=3).
    let a = spool.append(&payloads(11, 2, LEN)).unwrap();
    assert_eq!((a.first, a.count, a.dropped), (11, 2, Some((1, 3))));
    assert_eq!(seqs(&spool), [4, 7, 8, 9, 10, 11, 12]);

    // Four more: segment 4-6 goes, whose only unacked record was 4.
    let a = spool.append(&payloads(13, 4, LEN)).unwrap();
    assert_eq!((a.first, a.count, a.dropped), (13, 4, Some((4, 4))));
    assert_eq!(seqs(&spool), (7..=16).collect::<Vec<_>>());
    assert_eq!(spool.first_unacked(), Some(7));
    assert!(spool.stats().bytes <= 10 * rec(LEN));
    let names: Vec<String> = segment_files(dir.path()).into_iter().map(|f| f.0).collect();
    assert_eq!(
        names,
        [seg_name(7), seg_name(10), seg_name(13), seg_name(16)]
    );

    // Dropping everything, numbering still continues, across a restart too.
    let a = spool.append(&payloads(17, 10, LEN)).unwrap();
    assert_eq!((a.first, a.dropped), (17, Some((7, 16))));
    drop(spool);
    let mut spool = Spool::open(dir.path(), options(Overflow::DropOldest)).unwrap();
    assert_eq!(spool.next_sequence(), 27);
    assert_eq!(seqs(&spool), (17..=26).collect::<Vec<_>>());
    assert_eq!(spool.append(&[b"z"]).unwrap().first, 27);
}

#[test]
fn reopening_with_a_smaller_bound_blocks_or_drops() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), options(Overflow::Block)).unwrap();
    spool.append(&payloads(1, 10, LEN)).unwrap();
    drop(spool);
    let mut small = options(Overflow::Block);
    small.max_bytes = 5 * rec(LEN);
    let mut spool = Spool::open(dir.path(), small.clone()).unwrap();
    let err = spool.append(&payloads(11, 1, LEN)).unwrap_err();
    assert!(matches!(err, SpoolError::Full { free: 0, .. }), "{err}");
    drop(spool);
    small.overflow = Overflow::DropOldest;
    let mut spool = Spool::open(dir.path(), small).unwrap();
    let a = spool.append(&payloads(11, 1, LEN)).unwrap();
    assert_eq!((a.first, a.dropped), (11, Some((1, 6))));
    assert_eq!(seqs(&spool), (7..=11).collect::<Vec<_>>());
}
