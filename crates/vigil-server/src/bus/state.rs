//! The sequence book across restarts: saved with the store position it reflects
//! (`<data_dir>/bus/sequences.json`, written atomically), and brought up to date at start by
//! reading the bus events stored after that position. An event stored just before a crash is
//! therefore known as stored, and its batch sent again by the edge is a duplicate, not a
//! second copy.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use vigil_bus::SequenceBook;
use vigil_event::Transport;
use vigil_store::Store;

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
    Ok(vigil_store::replace_file(
        &path,
        &serde_json::to_vec(&saved)?,
    )?)
}

/// The saved book, updated with every bus event stored after it; returns it and how many
/// stored events were read.
pub fn recover(data_dir: &Path, store: &Store) -> anyhow::Result<(SequenceBook, u64)> {
    let path = book_path(data_dir);
    let saved = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<SavedBook>(&bytes)
            .with_context(|| format!("{} is damaged", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => SavedBook {
            events_next: 0,
            book: SequenceBook::default(),
        },
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut book = saved.book;
    let mut read = 0u64;
    let from = saved.events_next.min(store.events.next_record());
    store.events.scan_from(from, |_, event| {
        read += 1;
        if let (Transport::Bus, Some(seq)) = (event.provenance.transport, event.provenance.sequence)
        {
            book.insert(&event.provenance.sensor, seq, seq);
        }
    })?;
    Ok((book, read))
}
