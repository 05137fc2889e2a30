//! A core started with its clock 100 days past everything its store holds deletes nothing by
//! age retention (default 90 days) and raises an alarm. The history is written 100 days in the
//! past rather than the server's clock moved 100 days ahead: the same gap, no `faketime`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use vigil_event::{Event, Timestamp, Uuid};
use vigil_store::{Log, LogOptions};

const DAY_SECS: i64 = 86_400;

#[test]
fn a_clock_100_days_ahead_deletes_nothing_and_raises_an_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let received = Timestamp::now().as_micros() / 1_000_000 - 100 * DAY_SECS;
    let written: BTreeSet<u128> = {
        let mut log = Log::<Event>::open(
            &dir.path().join("events"),
            LogOptions {
                segment_bytes: 4_000,
                ..LogOptions::default()
            },
        )
        .unwrap();
        for n in 0..200u32 {
            let mut event = Event::new(
                Uuid::from_u128(n.into()),
                Timestamp::from_secs(received + i64::from(n)),
                4000,
                1,
            );
            event.provenance.received_at = Timestamp::from_secs(received + i64::from(n));
            event.log = Some(format!("stored 100 days ago, line {n}"));
            log.append(&[event]).unwrap();
        }
        assert!(log.stats().segments > 5, "{:?}", log.stats());
        (0..200).collect()
    };

    // Retention runs as the writer starts, before it stores anything (the alarm included).
    let server = start(dir.path(), "", "");
    let alarm = wait_alarm_where(dir.path(), "the clock alarm", |a| {
        a.name
            .starts_with("Store: core clock disagrees with stored history")
    });
    server.terminate().unwrap();

    assert!(alarm.name.contains("ahead"), "{}", alarm.name);
    let kept: BTreeSet<u128> = stored(dir.path())
        .iter()
        .map(|e| e.id.as_u128())
        .filter(|id| *id < 200)
        .collect();
    assert_eq!(kept, written, "every stored event is still searchable");
}
