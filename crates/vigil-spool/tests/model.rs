//! Property test: random appends, acks, reads, flushes and restarts agree with an in-memory
//! model of the unacknowledged records.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{opts, payload, segment_files};
use proptest::prelude::*;
use vigil_spool::{Overflow, Spool, SpoolError, SpoolOptions};

#[derive(Debug, Clone)]
enum Op {
    /// Append payloads of these lengths.
    Append(Vec<usize>),
    /// Ack `[lo + a, lo + a + len]` where lo is a bit below the oldest model record.
    Ack(u64, u64),
    /// Read from `lo + from` with these limits.
    Read(u64, usize, usize),
    Flush,
    /// Drop and reopen; `true` flushes first (clean shutdown), `false` simulates a crash.
    Reopen(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::collection::vec(0usize..300, 0..12).prop_map(Op::Append),
        4 => (0u64..40, 0u64..12).prop_map(|(a, l)| Op::Ack(a, l)),
        2 => (0u64..40, 0usize..20, 0usize..2000).prop_map(|(f, n, b)| Op::Read(f, n, b)),
        1 => Just(Op::Flush),
        1 => any::<bool>().prop_map(Op::Reopen),
    ]
}

fn options() -> impl Strategy<Value = SpoolOptions> {
    (
        prop_oneof![Just(200u64), Just(1000), Just(4096)],
        prop_oneof![Just(1500u64), Just(6000), Just(1 << 20)],
        prop_oneof![Just(Overflow::Block), Just(Overflow::DropOldest)],
    )
        .prop_map(|(seg, max, overflow)| opts(seg, max, overflow))
}

struct Model {
    /// Stored, unacknowledged records.
    unacked: BTreeMap<u64, Vec<u8>>,
    /// Acknowledged since the last flush: a crash may bring these back.
    unflushed: BTreeSet<u64>,
    next: u64,
}

fn check(spool: &Spool, model: &Model, dir: &Path, o: &SpoolOptions) -> Result<(), TestCaseError> {
    let all: BTreeMap<u64, Vec<u8>> = spool
        .read_from(0, usize::MAX, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|r| (r.seq, r.payload))
        .collect();
    prop_assert_eq!(&all, &model.unacked);
    let stats = spool.stats();
    prop_assert_eq!(stats.records_unacked, model.unacked.len() as u64);
    prop_assert_eq!(stats.next_sequence, model.next);
    prop_assert_eq!(spool.first_unacked(), model.unacked.keys().next().copied());
    let files = segment_files(dir);
    prop_assert_eq!(stats.segments, files.len());
    prop_assert_eq!(stats.bytes, files.iter().map(|f| f.1).sum::<u64>());
    prop_assert!(stats.bytes <= o.max_bytes);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn spool_agrees_with_model(o in options(), ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Some(Spool::open(dir.path(), o.clone()).unwrap());
        let mut model = Model { unacked: BTreeMap::new(), unflushed: BTreeSet::new(), next: 1 };
        for op in ops {
            let s = spool.as_mut().unwrap();
            let lo = model.unacked.keys().next().copied().unwrap_or(model.next).saturating_sub(5);
            match op {
                Op::Append(lens) => {
                    let first = model.next;
                    let ps: Vec<Vec<u8>> =
                        lens.iter().enumerate().map(|(i, &l)| payload(first + i as u64, l)).collect();
                    let needed: u64 = lens.iter().map(|&l| 16 + l as u64).sum();
                    match s.append(&ps) {
                        Ok(a) => {
                            prop_assert_eq!((a.first, a.count), (first, ps.len() as u64));
                            if let Some((d0, d1)) = a.dropped {
                                prop_assert_eq!(o.overflow, Overflow::DropOldest);
                                prop_assert_eq!(model.unacked.keys().next().copied(), Some(d0));
                                prop_assert!(model.unacked.contains_key(&d1));
                                model.unacked.retain(|&k, _| k > d1);
                            }
                            for (i, p) in ps.into_iter().enumerate() {
                                model.unacked.insert(first + i as u64, p);
                            }
                            model.next += a.count;
                        }
                        Err(SpoolError::TooLarge { needed: n, .. }) => {
                            prop_assert_eq!(n, needed);
                            prop_assert!(needed > o.max_bytes);
                        }
                        Err(SpoolError::Full { needed: n, free }) => {
                            prop_assert_eq!(o.overflow, Overflow::Block);
                            prop_assert_eq!(n, needed);
                            prop_assert!(needed > free);
                        }
                        Err(e) => prop_assert!(false, "append failed: {e}"),
                    }
                }
                Op::Ack(a, len) => {
                    let (a, b) = (lo + a, lo + a + len);
                    s.ack(a, b).unwrap();
                    for seq in a..=b {
                        if model.unacked.remove(&seq).is_some() {
                            model.unflushed.insert(seq);
                        }
                    }
                }
                Op::Read(from, n, bytes) => {
                    let got = s.read_from(lo + from, n, bytes).unwrap();
                    let mut expected = Vec::new();
                    let mut used = 0;
                    for (&seq, p) in model.unacked.range(lo + from..) {
                        if expected.len() == n || (!expected.is_empty() && used + p.len() > bytes) {
                            break;
                        }
                        used += p.len();
                        expected.push(seq);
                    }
                    prop_assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), expected);
                }
                Op::Flush => {
                    s.flush_acks().unwrap();
                    model.unflushed.clear();
                }
                Op::Reopen(clean) => {
                    if clean {
                        s.flush_acks().unwrap();
                        model.unflushed.clear();
                    }
                    drop(spool.take());
                    let s = Spool::open(dir.path(), o.clone()).unwrap();
                    prop_assert_eq!(s.next_sequence(), model.next);
                    // Unflushed acks may come back; nothing else may change.
                    let now: BTreeMap<u64, Vec<u8>> = s
                        .read_from(0, usize::MAX, usize::MAX)
                        .unwrap()
                        .into_iter()
                        .map(|r| (r.seq, r.payload))
                        .collect();
                    for (seq, p) in &model.unacked {
                        prop_assert_eq!(now.get(seq), Some(p));
                    }
                    for (seq, p) in &now {
                        if !model.unacked.contains_key(seq) {
                            prop_assert!(model.unflushed.contains(seq), "seq {} resurrected", seq);
                            prop_assert_eq!(p, &payload(*seq, p.len()));
                        }
                    }
                    model.unacked = now;
                    model.unflushed.clear();
                    spool = Some(s);
                }
            }
            check(spool.as_ref().unwrap(), &model, dir.path(), &o)?;
        }
    }
}
