//! The spool's epoch: made durably with a new spool, kept across reopening, another for a spool
//! made again, and given at open to a spool from before epochs.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;

use vigil_spool::{Spool, SpoolOptions};

/// The `epoch` field of the spool's `state.json`, as written on disk (the same in
/// `epoch.json`).
fn epoch_on_disk(dir: &Path) -> String {
    let field = |name: &str| {
        let text = fs::read_to_string(dir.join(name)).unwrap();
        let (json, _trailer) = text.rsplit_once("\ncrc32c ").unwrap();
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        value["epoch"].as_str().unwrap().to_string()
    };
    let epoch = field("state.json");
    assert_eq!(field("epoch.json"), epoch);
    epoch
}

fn hex(epoch: [u8; 16]) -> String {
    epoch.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_new_spool_has_a_durable_epoch_kept_across_reopening_and_another_when_made_again() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("spool");
    let spool = Spool::open(&dir, SpoolOptions::default()).unwrap();
    let first = spool.epoch();
    assert_ne!(first, [0; 16]);
    // On disk before anything was appended.
    assert_eq!(epoch_on_disk(&dir), hex(first));
    drop(spool);

    let mut spool = Spool::open(&dir, SpoolOptions::default()).unwrap();
    assert_eq!(spool.epoch(), first);
    spool.append(&[b"one".as_slice(), b"two"]).unwrap();
    spool.ack(1, 2).unwrap();
    spool.flush_acks().unwrap();
    drop(spool);
    let spool = Spool::open(&dir, SpoolOptions::default()).unwrap();
    assert_eq!((spool.epoch(), spool.next_sequence()), (first, 3));
    drop(spool);

    // The spool lost: a new one numbers from 1 under another epoch.
    fs::remove_dir_all(&dir).unwrap();
    let spool = Spool::open(&dir, SpoolOptions::default()).unwrap();
    assert_eq!(spool.next_sequence(), 1);
    assert_ne!(spool.epoch(), first);
    assert_eq!(epoch_on_disk(&dir), hex(spool.epoch()));
}

#[test]
fn a_spool_from_before_epochs_gets_one_at_open_and_keeps_its_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path(), SpoolOptions::default()).unwrap();
    spool.append(&[b"a".as_slice(), b"b", b"c", b"d"]).unwrap();
    spool.ack(1, 2).unwrap();
    spool.flush_acks().unwrap();
    drop(spool);
    // state.json as written before epochs.
    fs::write(
        dir.path().join("state.json"),
        r#"{"version":1,"next_sequence":5,"acked":[[1,2]]}"#,
    )
    .unwrap();

    let spool = Spool::open(dir.path(), SpoolOptions::default()).unwrap();
    let epoch = spool.epoch();
    assert_eq!(epoch_on_disk(dir.path()), hex(epoch));
    assert_eq!((spool.next_sequence(), spool.first_unacked()), (5, Some(3)));
    drop(spool);
    let spool = Spool::open(dir.path(), SpoolOptions::default()).unwrap();
    assert_eq!(spool.epoch(), epoch);
}
