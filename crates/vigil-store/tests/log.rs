//! Historian behaviour on real files: search filters, ordering, sealing, recovery from torn
//! writes and damaged indexes, retention, locking.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::OpenOptions;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use vigil_event::{Event, Timestamp, Uuid};
use vigil_store::{ClockCheck, Log, LogOptions, Order, Query, RetentionReport, StoreError};

fn event(n: u32, time_secs: i64) -> Event {
    let mut e = Event::new(
        Uuid::from_u128(n.into()),
        Timestamp::from_secs(time_secs),
        4000 + n % 3,
        n % 5,
    );
    e.src_ip = IpAddr::from([10, 0, 0, (n % 4) as u8]);
    e.dst_ip = IpAddr::from([192, 168, 0, (n % 2) as u8]);
    e.provenance.sensor = format!("sensor-{}", n % 2);
    e.provenance.received_at = Timestamp::from_secs(1_000_000 + i64::from(n));
    e.log = Some(format!("line {n}"));
    e
}

fn ids(events: &[Event]) -> Vec<u128> {
    events.iter().map(|e| e.id.as_u128()).collect()
}

fn small_segments() -> LogOptions {
    LogOptions {
        segment_bytes: 2_000,
        retention_max_age: None,
        ..LogOptions::default()
    }
}

fn all_oldest() -> Query {
    Query {
        limit: usize::MAX,
        order: Order::OldestFirst,
        ..Query::default()
    }
}

fn segment_files(dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files
}

#[test]
fn filters_time_ranges_order_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::<Event>::open(dir.path(), small_segments()).unwrap();
    let events: Vec<Event> = (0..100).map(|n| event(n, 1000 + i64::from(n))).collect();
    for chunk in events.chunks(7) {
        log.append(chunk).unwrap();
    }
    assert!(
        log.stats().segments > 3,
        "small segments seal: {:?}",
        log.stats()
    );
    assert_eq!(log.stats().records, 100);

    let q = |f: &dyn Fn(&mut Query)| {
        let mut query = all_oldest();
        f(&mut query);
        ids(&log.search(&query).unwrap())
    };
    let expect = |pred: &dyn Fn(u32) -> bool| {
        (0..100u32)
            .filter(|n| pred(*n))
            .map(u128::from)
            .collect::<Vec<_>>()
    };

    assert_eq!(q(&|_| {}), expect(&|_| true));
    assert_eq!(
        q(&|q| {
            q.from = Timestamp::from_secs(1010);
            q.to = Timestamp::from_secs(1019)
        }),
        expect(&|n| (10..=19).contains(&n))
    );
    assert_eq!(
        q(&|q| q.src_ip = Some(IpAddr::from([10, 0, 0, 3]))),
        expect(&|n| n % 4 == 3)
    );
    assert_eq!(
        q(&|q| q.dst_ip = Some(IpAddr::from([192, 168, 0, 1]))),
        expect(&|n| n % 2 == 1)
    );
    assert_eq!(q(&|q| q.plugin_id = Some(4002)), expect(&|n| n % 3 == 2));
    assert_eq!(q(&|q| q.plugin_sid = Some(4)), expect(&|n| n % 5 == 4));
    assert_eq!(
        q(&|q| q.sensor = Some("sensor-0".into())),
        expect(&|n| n % 2 == 0)
    );
    assert_eq!(q(&|q| q.sensor = Some("nobody".into())), Vec::<u128>::new());
    assert_eq!(
        q(&|q| {
            q.plugin_id = Some(4001);
            q.plugin_sid = Some(1);
            q.src_ip = Some(IpAddr::from([10, 0, 0, 1]));
            q.to = Timestamp::from_secs(1060)
        }),
        expect(&|n| n % 3 == 1 && n % 5 == 1 && n % 4 == 1 && n <= 60)
    );
    assert_eq!(q(&|q| { q.limit = 3 }), vec![0, 1, 2]);
    assert_eq!(
        q(&|q| {
            q.limit = 3;
            q.order = Order::NewestFirst
        }),
        vec![99, 98, 97]
    );
    assert_eq!(q(&|q| { q.limit = 0 }), Vec::<u128>::new());

    // Records come back whole.
    let found = log
        .search(&Query {
            plugin_sid: Some(3),
            limit: 1,
            order: Order::OldestFirst,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(found, vec![events[3].clone()]);
}

#[test]
fn reopening_gives_the_same_answers_and_rebuilds_damaged_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<Event> = (0..60).map(|n| event(n, 5000 - i64::from(n))).collect();
    {
        let mut log = Log::<Event>::open(dir.path(), small_segments()).unwrap();
        for e in &events {
            log.append(std::slice::from_ref(e)).unwrap();
        }
    }
    let sidecars = segment_files(dir.path(), "idx");
    assert!(sidecars.len() >= 3);
    std::fs::remove_file(&sidecars[0]).unwrap();
    let mut damaged = std::fs::read(&sidecars[1]).unwrap();
    let last = damaged.len() - 1;
    damaged[last] ^= 0xff;
    std::fs::write(&sidecars[1], damaged).unwrap();

    let reader = Log::<Event>::open_read_only(dir.path()).unwrap();
    let mut expected = events.clone();
    expected.sort_by_key(|e| e.time);
    assert_eq!(
        reader.search(&all_oldest()).unwrap(),
        expected,
        "read-only open copes with damaged indexes"
    );

    let log = Log::<Event>::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.search(&all_oldest()).unwrap(), expected);
    assert!(
        sidecars[0].exists(),
        "writable open rebuilds the missing index"
    );
    assert_eq!(
        log.search(&Query {
            src_ip: Some(IpAddr::from([10, 0, 0, 2])),
            ..all_oldest()
        })
        .unwrap()
        .len(),
        15
    );
}

#[test]
fn a_damaged_or_inconsistent_index_is_quarantined_reported_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<Event> = (0..60).map(|n| event(n, 5000 - i64::from(n))).collect();
    {
        let mut log = Log::<Event>::open(dir.path(), small_segments()).unwrap();
        for e in &events {
            log.append(std::slice::from_ref(e)).unwrap();
        }
    }
    let sidecars = segment_files(dir.path(), "idx");
    assert!(sidecars.len() >= 2);
    // A flipped bit in the body (offsets, times, postings) of the first index.
    let mut first = std::fs::read(&sidecars[0]).unwrap();
    let mid = 72 + (first.len() - 72) / 2;
    first[mid] ^= 0x10;
    std::fs::write(&sidecars[0], &first).unwrap();
    // The second claims more bytes than its segment holds, its checksum made to match.
    let mut second = std::fs::read(&sidecars[1]).unwrap();
    second[24..32].copy_from_slice(&1_000_000u64.to_le_bytes());
    let crc = crc32c::crc32c(&second[8..64]);
    second[64..68].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&sidecars[1], &second).unwrap();

    let log = Log::<Event>::open(dir.path(), small_segments()).unwrap();
    let found = log.corruption();
    assert_eq!(found.len(), 2, "{found:?}");
    for (c, (path, bytes)) in found
        .iter()
        .zip([(&sidecars[0], &first), (&sidecars[1], &second)])
    {
        assert_eq!(
            (&c.segment, c.from, c.to, c.records_lost),
            (path, 0, bytes.len() as u64, Some(0))
        );
        let kept = c.quarantine.as_ref().unwrap();
        assert_eq!(&std::fs::read(kept).unwrap(), bytes);
        let name = kept.file_name().unwrap().to_str().unwrap();
        assert!(name.contains(".idx-0-"), "{name}");
    }
    // Searches by an indexed field are exact.
    let mut expected: Vec<Event> = events
        .iter()
        .filter(|e| e.src_ip == IpAddr::from([10, 0, 0, 2]))
        .cloned()
        .collect();
    expected.sort_by_key(|e| e.time);
    let query = Query {
        src_ip: Some(IpAddr::from([10, 0, 0, 2])),
        ..all_oldest()
    };
    assert_eq!(ids(&log.search(&query).unwrap()), ids(&expected));
    drop(log);
    // Rebuilt: the next open finds nothing wrong.
    let log = Log::<Event>::open(dir.path(), small_segments()).unwrap();
    assert!(log.corruption().is_empty(), "{:?}", log.corruption());
    assert_eq!(ids(&log.search(&query).unwrap()), ids(&expected));
}

#[test]
fn a_torn_tail_is_cut_and_nothing_acknowledged_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = Log::<Event>::open(dir.path(), LogOptions::default()).unwrap();
        log.append(&[event(1, 10), event(2, 20)]).unwrap();
        log.append(&[event(3, 30)]).unwrap();
    }
    let segment = segment_files(dir.path(), "seg").pop().unwrap();
    let good_len = std::fs::metadata(&segment).unwrap().len();
    // A crash mid-write: a frame header promising more bytes than were written.
    let mut file = OpenOptions::new().append(true).open(&segment).unwrap();
    file.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9])
        .unwrap();
    drop(file);

    let reader = Log::<Event>::open_read_only(dir.path()).unwrap();
    assert_eq!(ids(&reader.search(&all_oldest()).unwrap()), vec![1, 2, 3]);
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        good_len + 11,
        "readers change nothing"
    );

    let mut log = Log::<Event>::open(dir.path(), LogOptions::default()).unwrap();
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        good_len,
        "writer cut the torn tail"
    );
    log.append(&[event(4, 40)]).unwrap();
    assert_eq!(ids(&log.search(&all_oldest()).unwrap()), vec![1, 2, 3, 4]);
}

#[test]
fn a_damaged_last_record_is_dropped_with_everything_after_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = Log::<Event>::open(dir.path(), LogOptions::default()).unwrap();
        log.append(&[event(1, 10), event(2, 20)]).unwrap();
    }
    let segment = segment_files(dir.path(), "seg").pop().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 0x40;
    std::fs::write(&segment, bytes).unwrap();
    let log = Log::<Event>::open(dir.path(), LogOptions::default()).unwrap();
    assert_eq!(ids(&log.search(&all_oldest()).unwrap()), vec![1]);
}

#[test]
fn retention_by_age_and_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions {
        segment_bytes: 2_000,
        segment_max_age: Duration::from_secs(1_000_000),
        retention_max_age: Some(Duration::from_secs(30)),
        retention_max_bytes: None,
        retention_max_share: 100,
        ..LogOptions::default()
    };
    let mut log = Log::<Event>::open(dir.path(), options.clone()).unwrap();
    for n in 0..80 {
        log.append(&[event(n, 1)]).unwrap();
    }
    let before = log.stats();
    // received_at of record n is 1_000_000 + n: at now = 1_000_060 everything received before
    // 1_000_030 is expired, but only whole sealed segments go.
    let report = log
        .enforce_retention(Timestamp::from_secs(1_000_060))
        .unwrap();
    assert!(report.segments > 0);
    let left = ids(&log.search(&all_oldest()).unwrap());
    assert_eq!(left.len() as u64, before.records - report.records);
    assert!(
        left.iter().all(|&n| n >= 14),
        "no record older than a kept one was deleted: {left:?}"
    );
    assert!(
        left.contains(&30) && left.contains(&79),
        "nothing within the age limit was deleted"
    );
    assert_eq!(segment_files(dir.path(), "seg").len(), log.stats().segments);

    let mut options = options;
    options.retention_max_age = None;
    options.retention_max_bytes = Some(4_000);
    drop(log);
    let mut log = Log::<Event>::open(dir.path(), options).unwrap();
    log.enforce_retention(Timestamp::from_secs(1_000_060))
        .unwrap();
    assert!(
        log.stats().bytes <= 4_000 || log.stats().segments == 1,
        "{:?}",
        log.stats()
    );
    let newest = ids(&log
        .search(&Query {
            limit: 1,
            ..Query::default()
        })
        .unwrap());
    assert_eq!(newest, vec![79], "size retention deletes the oldest first");
}

#[test]
fn quiet_segments_are_sealed_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions {
        segment_max_age: Duration::from_secs(60),
        retention_max_age: Some(Duration::from_secs(3600)),
        ..LogOptions::default()
    };
    let mut log = Log::<Event>::open(dir.path(), options).unwrap();
    log.append(&[event(1, 1)]).unwrap();
    log.enforce_retention(Timestamp::from_secs(1_000_030))
        .unwrap();
    assert_eq!(log.stats().segments, 1);
    log.enforce_retention(Timestamp::from_secs(1_000_100))
        .unwrap();
    assert_eq!(log.stats().segments, 2, "the quiet segment was sealed");
    log.enforce_retention(Timestamp::from_secs(1_010_000))
        .unwrap();
    assert_eq!(
        log.stats().records,
        1,
        "the clock alone expires nothing newer than the store's own newest data"
    );
    log.append(&[event(20_000, 1)]).unwrap();
    log.enforce_retention(Timestamp::from_secs(1_020_000))
        .unwrap();
    assert_eq!(
        ids(&log.search(&all_oldest()).unwrap()),
        vec![20_000],
        "expired once newer data was stored"
    );
}

/// 80 records received a second apart (1_000_000..1_000_079) in segments of about 14.
fn aged_log(dir: &Path, options: LogOptions) -> Log<Event> {
    let mut log = Log::<Event>::open(dir, options).unwrap();
    for n in 0..80 {
        log.append(&[event(n, 1)]).unwrap();
    }
    log
}

fn age_retention(max_age: u64) -> LogOptions {
    LogOptions {
        segment_bytes: 2_000,
        segment_max_age: Duration::from_secs(1_000_000),
        retention_max_age: Some(Duration::from_secs(max_age)),
        ..LogOptions::default()
    }
}

#[test]
fn a_clock_far_ahead_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = aged_log(dir.path(), age_retention(90 * 86_400));
    let before = log.stats();
    let hundred_days_ahead = Timestamp::from_secs(1_000_079 + 100 * 86_400);
    assert!(matches!(
        log.check_clock(hundred_days_ahead),
        ClockCheck::Ahead { segments, .. } if segments == before.segments
    ));
    let report = log.enforce_retention(hundred_days_ahead).unwrap();
    // Not even refused: age is measured from the newest stored data, not from the clock.
    assert_eq!(report, RetentionReport::default());
    // (The clock may seal the active segment: harmless.)
    assert_eq!(log.stats().records, before.records);
    assert_eq!(log.search(&all_oldest()).unwrap().len(), 80);
}

#[test]
fn a_clock_far_ahead_of_a_store_in_its_active_segment_alone_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::<Event>::open(dir.path(), age_retention(90 * 86_400)).unwrap();
    for n in 0..5 {
        log.append(&[event(n, 1)]).unwrap();
    }
    assert_eq!(log.stats().segments, 1);
    assert!(matches!(
        log.check_clock(Timestamp::from_secs(1_000_004 + 100 * 86_400)),
        ClockCheck::Ahead { segments: 1, .. }
    ));
    assert_eq!(
        log.check_clock(Timestamp::from_secs(1_000_004 + 80 * 86_400)),
        ClockCheck::Consistent,
        "ahead, but within the retention age: a quiet weekend, not a wrong clock"
    );
}

#[test]
fn a_large_deletion_is_refused_unless_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    // New data 100 s after the rest makes most of the log older than 30 s at once.
    let mut log = aged_log(dir.path(), age_retention(30));
    log.append(&[event(180, 1)]).unwrap();
    let before = log.stats();
    let report = log
        .enforce_retention(Timestamp::from_secs(1_000_180))
        .unwrap();
    assert!(report.refused && report.segments > 1, "{report:?}");
    assert_eq!(log.stats(), before, "a refused pass keeps everything");
    drop(log);

    let mut log = Log::<Event>::open(
        dir.path(),
        LogOptions {
            retention_confirmed: true,
            ..age_retention(30)
        },
    )
    .unwrap();
    let report = log
        .enforce_retention(Timestamp::from_secs(1_000_180))
        .unwrap();
    assert!(!report.refused && report.segments > 1, "{report:?}");
    assert!(log.stats().records < before.records);
}

#[test]
fn a_normal_advance_deletes_old_segments_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = aged_log(dir.path(), age_retention(60));
    assert_eq!(
        log.check_clock(Timestamp::from_secs(1_000_080)),
        ClockCheck::Consistent
    );
    let mut deleted = 0;
    // The clock and the data advance together: each pass expires at most one segment.
    for n in 80..200 {
        log.append(&[event(n, 1)]).unwrap();
        let report = log
            .enforce_retention(Timestamp::from_secs(1_000_000 + i64::from(n)))
            .unwrap();
        assert!(!report.refused, "{report:?}");
        deleted += report.records;
    }
    assert!(deleted >= 100, "{deleted}");
    let left = ids(&log.search(&all_oldest()).unwrap());
    assert!(left.iter().all(|&n| n >= 120), "{left:?}");
    assert!(left.contains(&140) && left.contains(&199), "{left:?}");
}

#[test]
fn a_clock_behind_the_stored_data_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let log = aged_log(dir.path(), age_retention(60));
    assert!(matches!(
        log.check_clock(Timestamp::from_secs(1_000_079 - 3600)),
        ClockCheck::Behind { by, .. } if by == Duration::from_secs(3600)
    ));
    assert_eq!(
        log.check_clock(Timestamp::from_secs(1_000_079 - 60)),
        ClockCheck::Consistent,
        "within the tolerance"
    );
}

#[test]
fn one_writer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let _log = Log::<Event>::open(dir.path(), LogOptions::default()).unwrap();
    match Log::<Event>::open(dir.path(), LogOptions::default()) {
        Err(StoreError::Locked { .. }) => {}
        other => panic!("expected a lock error, got {:?}", other.map(|l| l.stats())),
    }
    let mut reader = Log::<Event>::open_read_only(dir.path()).unwrap();
    assert!(reader.append(&[event(1, 1)]).is_err());
}

#[test]
fn generic_events_are_found_under_their_original_sid_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::<Event>::open(dir.path(), LogOptions::default()).unwrap();
    let mut generic = event(1, 10);
    generic.unknown_sid = Some(4);
    generic.plugin_sid = vigil_event::GENERIC_PLUGIN_SID;
    log.append(&[generic, event(4, 20)]).unwrap();
    let by_sid = |sid| {
        ids(&log
            .search(&Query {
                plugin_sid: Some(sid),
                ..all_oldest()
            })
            .unwrap())
    };
    assert_eq!(by_sid(4), vec![1, 4]);
    assert_eq!(by_sid(vigil_event::GENERIC_PLUGIN_SID), vec![1]);
    assert_eq!(by_sid(1), Vec::<u128>::new());
}

#[test]
fn scan_from_reads_in_append_order_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::<Event>::open(dir.path(), small_segments()).unwrap();
    assert_eq!(log.next_record(), 0);
    for n in 0..40 {
        log.append(&[event(n, 5000 - i64::from(n))]).unwrap();
    }
    assert!(log.stats().segments > 2);
    assert_eq!(log.next_record(), 40);
    let mut seen = Vec::new();
    log.scan_from(25, |ordinal, e| seen.push((ordinal, e.id.as_u128())))
        .unwrap();
    assert_eq!(
        seen,
        (25..40)
            .map(|n| (n, u128::from(n as u32)))
            .collect::<Vec<_>>()
    );
    let mut all = 0;
    Log::<Event>::open_read_only(dir.path())
        .unwrap()
        .scan_from(0, |_, _| all += 1)
        .unwrap();
    assert_eq!(all, 40);
}

// Regressions from the store review.

#[test]
fn a_failed_seal_never_stores_a_batch_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::<Event>::open(
        dir.path(),
        LogOptions {
            segment_bytes: 300,
            retention_max_age: None,
            ..LogOptions::default()
        },
    )
    .unwrap();
    // Block the next segment: a file with a valid segment header already has its name.
    log.append(&[event(1, 1)]).unwrap();
    // The seal happens after the next two records: the new segment's base will be 3.
    let next = log.next_record() + 2;
    let blocker = dir.path().join(format!("{next:020}.seg"));
    let mut header = b"VIGILSG1".to_vec();
    header.extend_from_slice(&next.to_le_bytes());
    std::fs::write(&blocker, &header).unwrap();
    // This append fills the segment; its seal fails but the batch is durable: Ok.
    log.append(&[event(2, 2), event(3, 3)]).unwrap();
    // The next append must seal first, cannot, and writes nothing.
    assert!(log.append(&[event(4, 4)]).is_err());
    assert!(log.append(&[event(4, 4)]).is_err());
    std::fs::remove_file(&blocker).unwrap();
    log.append(&[event(4, 4)]).unwrap();
    assert_eq!(
        ids(&log.search(&all_oldest()).unwrap()),
        vec![1, 2, 3, 4],
        "no duplicates"
    );
}

#[test]
fn a_leftover_headerless_segment_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::<Event>::open(
        dir.path(),
        LogOptions {
            segment_bytes: 300,
            retention_max_age: None,
            ..LogOptions::default()
        },
    )
    .unwrap();
    log.append(&[event(1, 1)]).unwrap();
    let next = log.next_record() + 2;
    // A crash while creating a segment left an empty file with the name the next seal needs.
    std::fs::write(dir.path().join(format!("{next:020}.seg")), b"").unwrap();
    log.append(&[event(2, 2), event(3, 3)]).unwrap();
    log.append(&[event(4, 4)]).unwrap();
    assert_eq!(ids(&log.search(&all_oldest()).unwrap()), vec![1, 2, 3, 4]);
    assert!(log.stats().segments >= 2);
}

#[test]
fn an_oversized_record_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::<Event>::open(dir.path(), LogOptions::default()).unwrap();
    let mut huge = event(2, 2);
    huge.log = Some("x".repeat(17 << 20));
    match log.append(&[event(1, 1), huge]) {
        Err(StoreError::RecordTooLarge { size, .. }) => assert!(size > 16 << 20),
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    log.append(&[event(3, 3)]).unwrap();
    drop(log);
    let log = Log::<Event>::open(dir.path(), LogOptions::default()).unwrap();
    assert_eq!(
        ids(&log.search(&all_oldest()).unwrap()),
        vec![3],
        "nothing of the refused batch"
    );
}

/// Byte ranges of the frames of a segment, in order.
fn frames(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut pos = 16;
    while let Some(len) = bytes.get(pos..pos + 4) {
        let len = u32::from_le_bytes(len.try_into().unwrap()) as usize;
        out.push(pos..pos + 8 + len);
        pos += 8 + len;
    }
    out
}

/// Stores events 0..count in one segment, a few per batch; returns the segment path.
fn one_segment(dir: &Path, count: u32) -> std::path::PathBuf {
    let mut log = Log::<Event>::open(dir, LogOptions::default()).unwrap();
    let events: Vec<Event> = (0..count).map(|n| event(n, 1000 + i64::from(n))).collect();
    for chunk in events.chunks(3) {
        log.append(chunk).unwrap();
    }
    segment_files(dir, "seg").pop().unwrap()
}

fn numbered(log: &Log<Event>) -> Vec<(u64, u128)> {
    let mut out = Vec::new();
    log.scan_from(0, |n, e| out.push((n, e.id.as_u128())))
        .unwrap();
    out
}

#[test]
fn damage_in_the_active_segment_costs_one_record_and_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let segment = one_segment(dir.path(), 50);
    let mut bytes = std::fs::read(&segment).unwrap();
    let damaged = frames(&bytes)[5].clone();
    bytes[damaged.start + 20] ^= 0x08;
    // And a torn tail after it.
    let good_len = bytes.len() as u64;
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3]);
    std::fs::write(&segment, &bytes).unwrap();

    let mut log = Log::<Event>::open(dir.path(), LogOptions::default()).unwrap();
    let expected: Vec<u128> = (0..50).filter(|&n| n != 5).collect();
    assert_eq!(ids(&log.search(&all_oldest()).unwrap()), expected);
    assert_eq!(
        numbered(&log),
        expected.iter().map(|&n| (n as u64, n)).collect::<Vec<_>>(),
        "every record keeps its number"
    );
    assert_eq!(log.next_record(), 50);
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        good_len,
        "torn tail cut"
    );
    let [found] = log.corruption() else {
        panic!("one damaged range: {:?}", log.corruption())
    };
    assert_eq!(found.segment, segment);
    assert_eq!(
        (found.from, found.to),
        (damaged.start as u64, damaged.end as u64)
    );
    assert_eq!(found.records_lost, Some(1));
    let quarantined = found.quarantine.clone().unwrap();
    assert_eq!(
        quarantined,
        dir.path()
            .join("quarantine")
            .join(format!("{:020}-{}-{}.bin", 0, damaged.start, damaged.end))
    );
    assert_eq!(
        std::fs::read(&quarantined).unwrap(),
        &bytes[damaged.clone()]
    );

    log.append(&[event(50, 2000)]).unwrap();
    drop(log);
    let log = Log::<Event>::open(dir.path(), LogOptions::default()).unwrap();
    assert_eq!(log.search(&all_oldest()).unwrap().len(), 50);
    assert_eq!(numbered(&log).last(), Some(&(50, 50)));
    assert_eq!(
        log.corruption().len(),
        1,
        "still reported while it is there"
    );
}

#[test]
fn a_damaged_length_field_loses_only_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let segment = one_segment(dir.path(), 30);
    let mut bytes = std::fs::read(&segment).unwrap();
    let damaged = frames(&bytes)[2].clone();
    bytes[damaged.start + 1] ^= 0x01;
    std::fs::write(&segment, &bytes).unwrap();

    let log = Log::<Event>::open(dir.path(), LogOptions::default()).unwrap();
    let expected: Vec<u128> = (0..30).filter(|&n| n != 2).collect();
    assert_eq!(ids(&log.search(&all_oldest()).unwrap()), expected);
    assert_eq!(log.corruption()[0].records_lost, None, "unknown");
    assert_eq!(log.corruption()[0].to, damaged.end as u64);
}

#[test]
fn a_damaged_header_is_quarantined_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let segment = one_segment(dir.path(), 10);
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[3] ^= 0x10;
    std::fs::write(&segment, &bytes).unwrap();

    let reader = Log::<Event>::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.search(&all_oldest()).unwrap().len(), 10);
    let log = Log::<Event>::open(dir.path(), LogOptions::default()).unwrap();
    assert_eq!(log.search(&all_oldest()).unwrap().len(), 10);
    assert_eq!(log.corruption()[0].records_lost, Some(0));
    assert_eq!(&std::fs::read(&segment).unwrap()[..8], b"VIGILSG1");
}

#[test]
fn read_only_readers_skip_damage_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let segment = one_segment(dir.path(), 40);
    let mut bytes = std::fs::read(&segment).unwrap();
    let damaged = frames(&bytes)[1].clone();
    bytes[damaged.end - 1] ^= 0x80;
    std::fs::write(&segment, &bytes).unwrap();

    let reader = Log::<Event>::open_read_only(dir.path()).unwrap();
    let expected: Vec<u128> = (0..40).filter(|&n| n != 1).collect();
    assert_eq!(ids(&reader.search(&all_oldest()).unwrap()), expected);
    let mut scanned = Vec::new();
    reader
        .scan_time_range(&all_oldest(), |e| scanned.push(e.id.as_u128()))
        .unwrap();
    assert_eq!(scanned, expected);
    assert_eq!(reader.corruption().len(), 1);
    assert_eq!(reader.corruption()[0].quarantine, None);
    assert_eq!(
        std::fs::read(&segment).unwrap(),
        bytes,
        "readers change nothing"
    );
    assert!(!dir.path().join("quarantine").exists());
}

#[test]
fn a_sealed_segment_damaged_under_its_index_loses_one_record_and_rebuilds() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = Log::<Event>::open(dir.path(), small_segments()).unwrap();
        let events: Vec<Event> = (0..60).map(|n| event(n, 1000 + i64::from(n))).collect();
        log.append(&events).unwrap();
        log.append(&[event(60, 2000)]).unwrap();
    }
    let segment = segment_files(dir.path(), "seg")[0].clone();
    let mut bytes = std::fs::read(&segment).unwrap();
    let damaged = frames(&bytes)[3].clone();
    bytes[damaged.start + 12] ^= 0x02;
    std::fs::write(&segment, &bytes).unwrap();

    let expected: Vec<u128> = (0..=60).filter(|&n| n != 3).collect();
    let log = Log::<Event>::open(dir.path(), small_segments()).unwrap();
    assert_eq!(
        ids(&log.search(&all_oldest()).unwrap()),
        expected,
        "through the index"
    );
    let before = numbered(&log);
    drop(log);
    std::fs::remove_file(segment_files(dir.path(), "idx")[0].clone()).unwrap();
    let log = Log::<Event>::open(dir.path(), small_segments()).unwrap();
    assert_eq!(
        ids(&log.search(&all_oldest()).unwrap()),
        expected,
        "rebuilt index"
    );
    assert_eq!(numbered(&log), before, "same numbers after the rebuild");
    assert_eq!(log.corruption().len(), 1);
    assert!(log.corruption()[0].quarantine.is_some());
}

/// One way of damaging a segment.
#[derive(Debug, Clone)]
enum Damage {
    Flip { at: usize, mask: u8 },
    Zero { at: usize, len: usize },
    Truncate { at: usize },
}

fn damage() -> impl proptest::strategy::Strategy<Value = Damage> {
    use proptest::prelude::*;
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Damage::Flip { at, mask }),
        (any::<usize>(), 1usize..200).prop_map(|(at, len)| Damage::Zero { at, len }),
        any::<usize>().prop_map(|at| Damage::Truncate { at }),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Random damage never panics, and every record whose bytes it did not touch is read, in
    /// order, by readers and by the writer (which also quarantines and reopens cleanly).
    #[test]
    fn random_damage_loses_only_the_records_it_touches(
        damages in proptest::collection::vec(damage(), 1..4)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let segment = one_segment(dir.path(), 30);
        let mut bytes = std::fs::read(&segment).unwrap();
        let records = frames(&bytes);
        let mut touched = vec![false; bytes.len()];
        for d in &damages {
            match *d {
                Damage::Flip { at, mask } => {
                    let at = at % bytes.len();
                    bytes[at] ^= mask;
                    touched[at] = true;
                }
                Damage::Zero { at, len } => {
                    let at = at % bytes.len();
                    let end = (at + len).min(bytes.len());
                    bytes[at..end].fill(0);
                    touched[at..end].fill(true);
                }
                Damage::Truncate { at } => {
                    let at = at % bytes.len();
                    bytes.truncate(at);
                    touched[at..].fill(true);
                }
            }
        }
        std::fs::write(&segment, &bytes).unwrap();
        let intact: Vec<u128> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| !touched[(*r).clone()].contains(&true))
            .map(|(n, _)| n as u128)
            .collect();

        let check = |log: &Log<Event>| {
            let found = ids(&log.search(&all_oldest()).unwrap());
            let mut sorted = found.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted, found, "in order, no duplicates");
            assert!(found.iter().all(|n| *n < 30), "nothing invented: {found:?}");
            for n in &intact {
                assert!(found.contains(n), "record {n} untouched but lost: {found:?} {damages:?}");
            }
            let scanned: Vec<u128> = numbered(log).into_iter().map(|(_, id)| id).collect();
            assert_eq!(scanned, found);
        };
        check(&Log::<Event>::open_read_only(dir.path()).unwrap());
        let log = Log::<Event>::open(dir.path(), LogOptions::default()).unwrap();
        check(&log);
        drop(log);
        let mut log = Log::<Event>::open(dir.path(), LogOptions::default()).unwrap();
        check(&log);
        log.append(&[event(99, 5000)]).unwrap();
    }
}
