//! Property test: random damage to the segment files of a spool (flipped bits, zeroed ranges,
//! a truncation, inserted garbage) never panics the open, and costs only what it touched:
//! every record whose bytes are untouched comes back exactly once, in order; every other
//! record is reported lost, or was in the torn tail cut off the last segment (or cut off a
//! segment exactly between two records, which leaves nothing to detect).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{opts, read_all};
use proptest::prelude::*;
use vigil_spool::{Overflow, Spool};

/// Damage to one segment file, in the coordinates of its original bytes (`u16`s are scaled
/// to the file's length).
#[derive(Debug, Clone)]
struct Damage {
    flips: Vec<(u16, u8)>,
    zeroed: Vec<(u16, u8)>,
    truncate: Option<u16>,
    insert: Option<(u16, Vec<u8>)>,
}

fn damage() -> impl Strategy<Value = Damage> {
    (
        proptest::collection::vec((any::<u16>(), 0u8..8), 0..4),
        proptest::collection::vec((any::<u16>(), 1u8..64), 0..2),
        proptest::option::weighted(0.2, any::<u16>()),
        proptest::option::weighted(
            0.2,
            (any::<u16>(), proptest::collection::vec(any::<u8>(), 1..80)),
        ),
    )
        .prop_map(|(flips, zeroed, truncate, insert)| Damage {
            flips,
            zeroed,
            truncate,
            insert,
        })
}

/// A position in `0..len` (`len` > 0) from a `u16`.
fn at(x: u16, len: usize) -> usize {
    x as usize * len / (u16::MAX as usize + 1)
}

/// A record as written: its sequence, file and byte span.
#[derive(Debug, Clone)]
struct Written {
    seq: u64,
    file: PathBuf,
    span: (usize, usize),
}

/// The records of the (undamaged) segment files of `dir`, parsed from their bytes.
fn written(dir: &Path) -> Vec<Written> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "spool"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let mut pos = 0;
        while pos < bytes.len() {
            let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            let seq = u64::from_le_bytes(bytes[pos + 8..pos + 16].try_into().unwrap());
            out.push(Written {
                seq,
                file: file.clone(),
                span: (pos, pos + 16 + len),
            });
            pos += 16 + len;
        }
    }
    out
}

/// What damage did to a file, in its original coordinates.
struct Applied {
    /// Byte ranges touched (an insertion touches the record it falls inside, not the one it
    /// precedes).
    touched: Vec<(usize, usize)>,
    /// Where the file was truncated.
    cut: Option<usize>,
    /// Where garbage was inserted, and how much.
    inserted: Option<(usize, usize)>,
}

impl Applied {
    /// Where original offset `at` is now.
    fn moved(&self, at: usize) -> usize {
        match self.inserted {
            Some((i, n)) if i <= at => at + n,
            _ => at,
        }
    }
}

/// Applies `d` to `file`.
fn apply(file: &Path, d: &Damage) -> Applied {
    let mut bytes = std::fs::read(file).unwrap();
    let len = bytes.len();
    let mut touched = Vec::new();
    for &(x, bit) in &d.flips {
        let i = at(x, len);
        bytes[i] ^= 1 << bit;
        touched.push((i, i + 1));
    }
    for &(x, n) in &d.zeroed {
        let i = at(x, len);
        let end = (i + n as usize).min(len);
        bytes[i..end].fill(0);
        touched.push((i, end));
    }
    let cut = d.truncate.map(|x| at(x, len));
    if let Some(cut) = cut {
        bytes.truncate(cut);
        touched.push((cut, len));
    }
    let inserted = d.insert.as_ref().map(|(x, garbage)| {
        let i = at(*x, bytes.len().max(1)).min(bytes.len());
        bytes.splice(i..i, garbage.iter().copied());
        touched.push((i, i));
        (i, garbage.len())
    });
    std::fs::write(file, &bytes).unwrap();
    Applied {
        touched,
        cut,
        inserted,
    }
}

fn overlaps(span: (usize, usize), range: (usize, usize)) -> bool {
    span.0 < range.1 && range.0 < span.1
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn random_damage_costs_only_the_records_it_touched(
        lens in proptest::collection::vec(0usize..200, 1..60),
        damages in proptest::collection::vec((any::<u16>(), damage()), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let options = opts(700, 1 << 30, Overflow::Block);
        let payloads: Vec<Vec<u8>> = lens
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|j| (i * 31 + j * 7) as u8).collect())
            .collect();
        {
            let mut spool = Spool::open(dir.path(), options.clone()).unwrap();
            for chunk in payloads.chunks(7) {
                spool.append(chunk).unwrap();
            }
        }
        let records = written(dir.path());
        let files: Vec<PathBuf> = records.iter().map(|r| r.file.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let last_file = files.last().unwrap().clone();
        let mut touched: Vec<(PathBuf, (usize, usize))> = Vec::new();
        let mut last_applied = None;
        let mut boundary_cuts: Vec<(PathBuf, usize)> = Vec::new();
        let mut damaged_files = BTreeSet::new();
        for (which, d) in &damages {
            let file = &files[*which as usize % files.len()];
            if !damaged_files.insert(file.clone()) {
                continue;
            }
            let applied = apply(file, d);
            // A segment cut between two records is well-formed, only shorter: like an append
            // a crash lost, its missing tail is a gap before the next segment, not damage.
            if let Some(cut) = applied.cut.filter(|&c| records.iter().any(|w| w.file == *file && w.span.0 == c)) {
                boundary_cuts.push((file.clone(), cut));
            }
            touched.extend(applied.touched.iter().map(|&r| (file.clone(), r)));
            if *file == last_file {
                last_applied = Some(applied);
            }
        }

        let spool = Spool::open(dir.path(), options.clone()).unwrap();
        let report = spool.open_report().clone();
        let got = read_all(&spool);
        let seqs: Vec<u64> = got.iter().map(|r| r.seq).collect();
        prop_assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order, each once: {seqs:?}");
        for r in &got {
            prop_assert_eq!(&r.payload, &payloads[r.seq as usize - 1], "record {} intact", r.seq);
        }
        let lost: Vec<(u64, u64)> = report.damaged.iter().filter_map(|d| d.lost).collect();
        for w in &records {
            let untouched = !touched.iter().any(|(f, r)| *f == w.file && overlaps(w.span, *r));
            let found = seqs.binary_search(&w.seq).is_ok();
            if untouched {
                prop_assert!(found, "untouched record {} lost; report {:?}", w.seq, report);
            } else if !found {
                let counted = lost.iter().any(|&(a, b)| (a..=b).contains(&w.seq));
                let torn = (w.file == last_file
                    && report.truncated.as_ref().is_some_and(|t| {
                        let start = last_applied.as_ref().map_or(w.span.0, |a| a.moved(w.span.0));
                        t.offset as usize <= start
                    }))
                    || boundary_cuts.iter().any(|(f, c)| *f == w.file && *c <= w.span.0);
                prop_assert!(counted || torn, "record {} lost uncounted; report {:?}", w.seq, report);
            }
        }
        for d in &report.damaged {
            let copy = std::fs::read(&d.quarantine).unwrap();
            prop_assert_eq!(copy.len() as u64, d.to - d.from);
        }
        drop(spool);

        // Opening again finds the same records and takes appends after them.
        let mut spool = Spool::open(dir.path(), options).unwrap();
        prop_assert_eq!(read_all(&spool).iter().map(|r| r.seq).collect::<Vec<_>>(), seqs.clone());
        let appended = spool.append(&[b"after"]).unwrap().first;
        prop_assert!(seqs.last().is_none_or(|&s| appended > s));
        let again = read_all(&spool);
        prop_assert_eq!(again.last().map(|r| (r.seq, r.payload.clone())), Some((appended, b"after".to_vec())));
    }
}
