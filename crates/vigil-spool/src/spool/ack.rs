//! Acknowledgements: marking ranges, deleting segments whose every record is acknowledged,
//! and persisting the state lazily.

use crate::error::SpoolError;
use crate::format::HEADER_LEN;
use crate::state::{self, Numbering, State};

use super::Spool;

impl Spool {
    /// Marks `first ..= last` acknowledged. Ranges may overlap, repeat or come out of order;
    /// sequences not stored (never appended, or already deleted) are ignored. Segments whose
    /// every record is now acknowledged are deleted (the segment being written only once it is
    /// full).
    ///
    /// Does not fsync: call [`Spool::flush_acks`] periodically. Losing unflushed acks in a
    /// crash only means those records are sent again. If a segment holding the newest record is
    /// about to be deleted, `state.json` is written first so numbering survives.
    pub fn ack(&mut self, first: u64, last: u64) -> Result<(), SpoolError> {
        if let Some((lo, hi)) = self.apply_ack(first, last) {
            for i in (lo..hi).rev() {
                if self.deletable(i) {
                    self.delete_segment(i)?;
                }
            }
        }
        Ok(())
    }

    /// Writes `state.json` (next sequence and acknowledged ranges) durably if acknowledgements
    /// changed since it was last written, after retrying any segment deletion that failed.
    pub fn flush_acks(&mut self) -> Result<(), SpoolError> {
        self.delete_acked_segments()?;
        if self.state_dirty {
            self.write_state()?;
        }
        Ok(())
    }

    /// Records `first ..= last` in the acknowledged set, clipped to each live segment, and
    /// updates the counters. Returns the index range of the segments it overlapped.
    pub(super) fn apply_ack(&mut self, first: u64, last: u64) -> Option<(usize, usize)> {
        if first > last {
            return None;
        }
        let lo = self.segments.partition_point(|s| s.last() < first);
        let mut hi = lo;
        while let Some(seg) = self.segments.get_mut(hi) {
            if seg.first() > last {
                break;
            }
            let added = self
                .acked
                .insert(first.max(seg.first()), last.min(seg.last()));
            if added > 0 {
                seg.acked += added;
                self.records_unacked -= added;
                self.state_dirty = true;
            }
            hi += 1;
        }
        (hi > lo).then_some((lo, hi))
    }

    /// Whether segment `i` may be deleted: every record acknowledged, and it is not the
    /// segment being written unless that one is full.
    fn deletable(&self, i: usize) -> bool {
        let Some(seg) = self.segments.get(i) else {
            return false;
        };
        let writing = self.tail_open && i + 1 == self.segments.len();
        seg.fully_acked() && !(writing && seg.size() + HEADER_LEN <= self.options.segment_bytes)
    }

    /// Deletes every deletable segment.
    pub(super) fn delete_acked_segments(&mut self) -> Result<(), SpoolError> {
        for i in (0..self.segments.len()).rev() {
            if self.deletable(i) {
                self.delete_segment(i)?;
            }
        }
        Ok(())
    }

    /// Deletes every fully acknowledged segment, including the one being written.
    pub(super) fn reclaim_acked_segments(&mut self) -> Result<(), SpoolError> {
        for i in (0..self.segments.len()).rev() {
            if self.segments.get(i).is_some_and(|s| s.fully_acked()) {
                self.delete_segment(i)?;
            }
        }
        Ok(())
    }

    /// Deletes segment `i` (acknowledged or not) and forgets its records. If it holds the
    /// newest record, `epoch.json` and `state.json` are made to hold the next sequence first.
    pub(super) fn delete_segment(&mut self, i: usize) -> Result<(), SpoolError> {
        let is_newest = i + 1 == self.segments.len();
        if is_newest && self.durable_floor < self.next_sequence {
            self.write_numbering()?;
        }
        if is_newest && self.durable_next < self.next_sequence {
            self.write_state()?;
        }
        let Some(seg) = self.segments.get(i) else {
            return Ok(());
        };
        seg.remove_file()?;
        let Some(seg) = self.segments.remove(i) else {
            return Ok(());
        };
        self.bytes -= seg.size();
        self.records_unacked -= seg.unacked();
        if seg.acked > 0 {
            self.acked.remove(seg.first(), seg.last());
            self.state_dirty = true;
        }
        if is_newest {
            self.tail_open = false;
        }
        Ok(())
    }

    /// Writes `state.json` now.
    pub(super) fn write_state(&mut self) -> Result<(), SpoolError> {
        let state = State::new(self.next_sequence, self.acked.iter().collect(), self.epoch);
        state::store(&self.dir, &state)?;
        self.durable_next = self.next_sequence;
        self.state_dirty = false;
        Ok(())
    }

    /// Writes `epoch.json` now, with the next sequence as its floor.
    pub(super) fn write_numbering(&mut self) -> Result<(), SpoolError> {
        let numbering = Numbering {
            epoch: Some(self.epoch),
            floor: self.next_sequence,
        };
        state::store_numbering(&self.dir, &numbering)?;
        self.durable_floor = self.next_sequence;
        Ok(())
    }
}
