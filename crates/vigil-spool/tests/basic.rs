//! Appending, reading and acknowledging in order and out of order, and restarts.

#![allow(clippy::unwrap_used)]

mod common;

use common::{opts, payload, payloads, read_all, rec, seg_name, segment_files, seqs};
use vigil_spool::{Overflow, Spool, SpoolOptions, SpoolStats};

const LEN: usize = 100;

#[test]
fn append_read_ack_in_order() {
    let dir = tempfile::tempdir().unwrap();
    // 8 records of 116 bytes per segment.
    let mut spool = Spool::open(
        dir.path(),
        opts(8 * rec(LEN) + 50, 1 << 30, Overflow::Block),
    )
    .unwrap();
    assert_eq!(spool.next_sequence(), 1);
    assert_eq!(spool.first_unacked(), None);
    let empty: &[&[u8]] = &[];
    let a = spool.append(empty).unwrap();
    assert_eq!((a.first, a.count, a.dropped), (1, 0, None));
    assert!(segment_files(dir.path()).is_empty());

    for batch in 0..3 {
        let a = spool.append(&payloads(1 + batch * 10, 10, LEN)).unwrap();
        assert_eq!((a.first, a.count, a.dropped), (1 + batch * 10, 10, None));
    }
    assert_eq!(
        spool.stats(),
        SpoolStats {
            records_unacked: 30,
            bytes: 30 * rec(LEN),
            segments: 4,
            next_sequence: 31,
            oldest_unacked: Some(1),
        }
    );
    let names: Vec<String> = segment_files(dir.path()).into_iter().map(|f| f.0).collect();
    assert_eq!(
        names,
        [seg_name(1), seg_name(9), seg_name(17), seg_name(25)]
    );

    let all = read_all(&spool);
    assert_eq!(all.len(), 30);
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r.seq, i as u64 + 1);
        assert_eq!(r.payload, payload(r.seq, LEN));
    }
    // Limits: count, bytes, and at least one record however small the byte budget.
    let got: Vec<u64> = spool
        .read_from(7, 4, usize::MAX)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(got, [7, 8, 9, 10]);
    assert_eq!(spool.read_from(1, 100, 2 * LEN + 10).unwrap().len(), 2);
    assert_eq!(spool.read_from(1, 100, 0).unwrap().len(), 1);
    assert!(spool.read_from(1, 0, usize::MAX).unwrap().is_empty());
    assert!(spool.read_from(31, 10, usize::MAX).unwrap().is_empty());

    // Acking the first segment deletes it.
    spool.ack(1, 8).unwrap();
    assert_eq!(segment_files(dir.path()).len(), 3);
    assert_eq!(spool.first_unacked(), Some(9));
    assert_eq!(spool.read_from(1, 1, usize::MAX).unwrap()[0].seq, 9);
    spool.ack(9, 12).unwrap();
    assert_eq!(segment_files(dir.path()).len(), 3);
    assert_eq!(spool.stats().records_unacked, 18);
    assert_eq!(spool.stats().bytes, 22 * rec(LEN));

    // Acking everything: the tail (6 records, room left) is kept for further appends.
    spool.ack(13, 30).unwrap();
    assert_eq!(
        spool.stats(),
        SpoolStats {
            records_unacked: 0,
            bytes: 6 * rec(LEN),
            segments: 1,
            next_sequence: 31,
            oldest_unacked: None,
        }
    );
    assert!(read_all(&spool).is_empty());

    // Appending fills the tail (2 more), rolls over, and the acked tail then goes.
    spool.append(&payloads(31, 3, LEN)).unwrap();
    let names: Vec<String> = segment_files(dir.path()).into_iter().map(|f| f.0).collect();
    assert_eq!(names, [seg_name(25), seg_name(33)]);
    spool.ack(31, 32).unwrap();
    assert_eq!(segment_files(dir.path()), [(seg_name(33), rec(LEN))]);
    assert_eq!(seqs(&spool), [33]);
    assert_eq!(spool.stats().bytes, rec(LEN));
}

#[test]
fn restart_keeps_unacked_and_numbering() {
    let dir = tempfile::tempdir().unwrap();
    let options = opts(8 * rec(LEN), 1 << 30, Overflow::Block);
    let mut spool = Spool::open(dir.path(), options.clone()).unwrap();
    spool.append(&payloads(1, 20, LEN)).unwrap();
    spool.ack(5, 10).unwrap();
    spool.flush_acks().unwrap();
    spool.ack(11, 12).unwrap(); // not flushed: lost, so resent
    let before = read_all(&spool);
    drop(spool);

    let mut spool = Spool::open(dir.path(), options.clone()).unwrap();
    assert_eq!(spool.next_sequence(), 21);
    let after = read_all(&spool);
    assert_eq!(after.len(), before.len() + 2);
    let expected: Vec<u64> = (1..=4).chain(11..=20).collect();
    assert_eq!(after.iter().map(|r| r.seq).collect::<Vec<_>>(), expected);
    assert!(after.iter().all(|r| r.payload == payload(r.seq, LEN)));
    assert_eq!(spool.open_report().records, 20);
    assert_eq!(spool.open_report().truncated_bytes, 0);

    // Appending after a restart continues the tail segment.
    spool.append(&payloads(21, 4, LEN)).unwrap();
    assert_eq!(spool.stats().segments, 3);
    // Everything acked; all segments are full, so all go, without a flush.
    spool.ack(1, 24).unwrap();
    assert_eq!(spool.stats().segments, 0);
    assert!(segment_files(dir.path()).is_empty());
    drop(spool);

    let mut spool = Spool::open(dir.path(), options).unwrap();
    assert_eq!(spool.next_sequence(), 25);
    assert_eq!(spool.first_unacked(), None);
    let a = spool.append(&[b"again"]).unwrap();
    assert_eq!(a.first, 25);
}

#[test]
fn second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _spool = Spool::open(dir.path(), SpoolOptions::default()).unwrap();
    let err = Spool::open(dir.path(), SpoolOptions::default()).unwrap_err();
    assert!(
        matches!(err, vigil_spool::SpoolError::Locked { .. }),
        "{err}"
    );
}

#[test]
fn out_of_order_and_duplicate_acks() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), opts(10 * rec(20), 1 << 30, Overflow::Block)).unwrap();
    for b in 0..10 {
        spool.append(&payloads(1 + b * 10, 10, 20)).unwrap();
    }
    // Two paths acknowledge overlapping ranges, in scrambled order, some twice, some for
    // sequences never written or reversed.
    let path_a = [(41, 50), (1, 10), (21, 25), (60, 72), (21, 25), (95, 130)];
    let path_b = [
        (8, 15),
        (45, 47),
        (70, 80),
        (24, 30),
        (1, 3),
        (200, 300),
        (9, 2),
    ];
    let mut acked = std::collections::BTreeSet::new();
    for &(a, b) in path_a.iter().chain(path_b.iter()) {
        spool.ack(a, b).unwrap();
        acked.extend((a..=b).filter(|s| *s <= 100));
    }
    for &(a, b) in path_b.iter().rev() {
        spool.ack(a, b).unwrap();
    }
    let expected: Vec<u64> = (1..=100).filter(|s| !acked.contains(s)).collect();
    assert_eq!(seqs(&spool), expected);
    assert_eq!(spool.stats().records_unacked, expected.len() as u64);
    assert_eq!(spool.first_unacked(), expected.first().copied());
    // Segments 1-10, 21-30, 41-50, 61-70 and 71-80 are entirely acked.
    let names: Vec<String> = segment_files(dir.path()).into_iter().map(|f| f.0).collect();
    let live = [11, 31, 51, 81, 91];
    assert_eq!(names, live.map(seg_name));
    // Reading from the middle skips acked runs.
    let got: Vec<u64> = spool
        .read_from(22, 5, usize::MAX)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(got, [31, 32, 33, 34, 35]);
    // Acks survive a flush and restart exactly.
    spool.flush_acks().unwrap();
    let options = opts(10 * rec(20), 1 << 30, Overflow::Block);
    drop(spool);
    let spool = Spool::open(dir.path(), options).unwrap();
    assert_eq!(seqs(&spool), expected);
    assert_eq!(spool.stats().records_unacked, expected.len() as u64);
}
