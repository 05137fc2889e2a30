//! The sequence book across restarts (with each sensor's spool epochs): saved with the store
//! position it reflects (`<data_dir>/bus/sequences.json`, written atomically with a checksum;
//! also right after a sensor's history restarts under a new epoch; a damaged one is
//! quarantined and the book rebuilt from the whole store), and brought up to date at start with
//! the bus events stored after that position, read in the same pass as correlation recovery. An event stored just before a crash is
//! therefore known as stored, and its batch sent again by the edge is a duplicate, not a
//! second copy.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use vigil_bus::SequenceBook;
use vigil_event::{Event, Transport};
use vigil_store::{Corruption, StateFile, Store};

use super::report::{BUS_PLUGIN_ID, BusIncident};

/// A saved book and the event record number it covers up to.
#[derive(Debug, Serialize, Deserialize)]
struct SavedBook {
    events_next: u64,
    book: SequenceBook,
}

/// `<data_dir>/bus/sequences.json`
pub fn book_path(data_dir: &Path) -> PathBuf {
    data_dir.join("bus").join("sequences.json")
}

/// Saves the book durably (temporary file, fsync, rename).
pub fn save(data_dir: &Path, book: &SequenceBook, store: &Store) -> anyhow::Result<()> {
    let path = book_path(data_dir);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let saved = SavedBook {
        events_next: store.events.next_record(),
        book: book.clone(),
    };
    Ok(vigil_store::write_state(
        &path,
        &serde_json::to_vec(&saved)?,
    )?)
}

/// The saved book and the event record number from which stored events are not in it: an
/// empty book from 0 (rebuilt from the whole store) the first time, or when the file is
/// damaged, which is then quarantined and returned to be reported.
pub fn load(data_dir: &Path) -> anyhow::Result<(SequenceBook, u64, Option<Corruption>)> {
    let path = book_path(data_dir);
    let parse =
        |bytes: &[u8]| serde_json::from_slice::<SavedBook>(bytes).map_err(|e| e.to_string());
    match vigil_store::read_state(&path, parse)
        .with_context(|| format!("cannot read {}", path.display()))?
    {
        StateFile::Valid(saved) => Ok((saved.book, saved.events_next, None)),
        StateFile::Missing => Ok((SequenceBook::default(), 0, None)),
        StateFile::Damaged(found) => Ok((SequenceBook::default(), 0, Some(found))),
    }
}

/// Records a stored event in the book: a numbered bus event's number, or the report that a
/// sensor's history restarted, after which its numbers start afresh (as they did when it was
/// stored: the report is stored before any event of the new epoch). Without that, a book
/// rebuilt from a store holding two histories of one sensor would count the first one's
/// numbers as stored in the second, and drop its new events as duplicates.
pub fn record(book: &mut SequenceBook, event: &Event) {
    match (event.provenance.transport, event.provenance.sequence) {
        (Transport::Bus, Some(seq)) => book.insert(&event.provenance.sensor, seq, seq),
        (Transport::Core, _)
            if event.plugin_id == BUS_PLUGIN_ID
                && event.plugin_sid == BusIncident::HistoryRestarted.sid() =>
        {
            if let Some(sensor) = &event.userdata.userdata1 {
                book.restart_numbers(sensor);
            }
        }
        _ => {}
    }
}

/// Records the stored events with record numbers in `from..to` (the part of the tail that
/// correlation recovery did not read, when the book was saved earlier than its state).
pub fn catch_up(book: &mut SequenceBook, store: &Store, from: u64, to: u64) -> anyhow::Result<()> {
    store.events.scan_from(from, |n, event| {
        if n < to {
            record(book, &event);
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_event::Timestamp;

    fn bus_event(sensor: &str, seq: u64) -> Event {
        let mut event = Event::new(uuid::Uuid::nil(), Timestamp::from_secs(1), 4003, 1);
        event.provenance.transport = Transport::Bus;
        event.provenance.sensor = sensor.to_string();
        event.provenance.sequence = Some(seq);
        event
    }

    fn restart_report(sensor: &str) -> Event {
        let mut event = Event::new(
            uuid::Uuid::nil(),
            Timestamp::from_secs(2),
            BUS_PLUGIN_ID,
            BusIncident::HistoryRestarted.sid(),
        );
        event.provenance.transport = Transport::Core;
        event.provenance.sensor = "core".to_string();
        event.userdata.userdata1 = Some(sensor.to_string());
        event
    }

    #[test]
    fn a_book_rebuilt_from_two_histories_counts_only_the_second() {
        let mut book = SequenceBook::default();
        for seq in 1..=50 {
            record(&mut book, &bus_event("edge1", seq));
        }
        record(&mut book, &bus_event("edge2", 1));
        record(&mut book, &restart_report("edge1"));
        for seq in 1..=30 {
            record(&mut book, &bus_event("edge1", seq));
        }
        let edge1 = book.sensor("edge1").unwrap();
        assert_eq!((edge1.stored_through(), edge1.highest()), (30, 30));
        assert!(!book.contains("edge1", 31));
        assert_eq!(book.sensor("edge2").unwrap().stored_through(), 1);
    }
}
