//! The edge's durable store-and-forward spool.
//!
//! Every outgoing event is appended to a [`Spool`] before it is sent. The spool numbers events
//! with a per-sensor sequence (monotonic, surviving restarts and crashes, never reused),
//! fsyncs each append before returning, and deletes records only once the core has
//! acknowledged them.
//!
//! On disk, a directory holds segment files named after the first sequence they hold
//! (`NNNNNNNNNNNNNNNNNNNN.spool`), each a run of records
//! `[u32 LE payload length][u32 LE crc32c(seq ++ payload)][u64 LE seq][payload]`, a
//! `state.json` with the next sequence, the acknowledged ranges and the spool's epoch, and an
//! `epoch.json` with the epoch and a floor under the numbering, each replaced atomically with a
//! crc32c trailer.
//!
//! The epoch is a random 128-bit id made when the spool is created (written durably before the
//! first append); a spool from before epochs gets one when it is opened. Sequence numbers
//! mean something only within one epoch: a spool made again numbers from 1 under a new one.
//! A damaged `state.json` is quarantined and rebuilt: the epoch from `epoch.json`, the next
//! sequence from the segments and the floor (written before the newest segment is deleted),
//! nothing acknowledged but damaged records (what is still spooled is sent again). Only if
//! both files are damaged does the spool take a new epoch.
//!
//! A torn tail of the last segment (a crash mid-write) is cut off when the spool is opened.
//! Damage anywhere else costs the damaged records only: the scan resynchronises on the next
//! record that verifies and follows in sequence, copies the damaged bytes to
//! `quarantine/<segment>-<from>-<to>.bin` and reports them ([`OpenReport::damaged`]); the
//! sequences lost are never sent, so the core sees them as a gap.
//!
//! The code is synchronous `std::fs`; run it on a blocking thread. There is one writer per
//! directory, enforced by a lock file.

mod error;
mod format;
mod options;
mod quarantine;
mod ranges;
mod scan;
mod segment;
mod spool;
mod state;
mod types;

pub use error::SpoolError;
pub use options::{Overflow, SpoolOptions};
pub use spool::Spool;
pub use types::{
    Appended, DamagedFile, DamagedRange, OpenReport, Record, SpoolStats, TruncatedTail,
};
