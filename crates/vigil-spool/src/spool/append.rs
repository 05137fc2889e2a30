//! Appending: numbering, the size bound and its overflow policy, segment roll-over, fsync,
//! and undoing a write that failed half-way.

use crate::error::SpoolError;
use crate::format::{encode_record, record_len};
use crate::options::Overflow;
use crate::segment::Segment;
use crate::state::sync_dir;
use crate::types::Appended;

use super::Spool;

/// Where the spool stood before an append, to undo it.
struct Undo {
    /// Segments live before the append.
    segments: usize,
    /// The open tail before the append: its records and size.
    tail: Option<(usize, u64)>,
}

impl Spool {
    /// Appends `payloads` as consecutive records numbered from [`Spool::next_sequence`], and
    /// fsyncs them: once this returns `Ok`, they survive a crash or power loss.
    ///
    /// If they do not fit under `max_bytes` (fully acknowledged segments are reclaimed first):
    /// with [`Overflow::Block`] nothing is written and [`SpoolError::Full`] is returned; with
    /// [`Overflow::DropOldest`] the oldest segments are deleted until they fit and the
    /// unacknowledged range lost is reported in [`Appended::dropped`]. An empty `payloads`
    /// does nothing.
    pub fn append<P: AsRef<[u8]>>(&mut self, payloads: &[P]) -> Result<Appended, SpoolError> {
        if self.poisoned {
            return Err(SpoolError::Poisoned);
        }
        let first = self.next_sequence;
        if payloads.is_empty() {
            return Ok(Appended {
                first,
                count: 0,
                dropped: None,
            });
        }
        let needed = self.check_sizes(payloads)?;
        let count = payloads.len() as u64;
        let next = first
            .checked_add(count)
            .ok_or(SpoolError::SequenceOverflow)?;
        let dropped = self.make_room(needed)?;
        let undo = Undo {
            segments: self.segments.len(),
            tail: self
                .tail_open
                .then(|| self.segments.back().map(|s| (s.len() as usize, s.size())))
                .flatten(),
        };
        if let Err(e) = self.write_records(payloads) {
            self.undo(&undo);
            return Err(e);
        }
        self.next_sequence = next;
        self.bytes += needed;
        self.records_unacked += count;
        self.delete_rolled_over(undo.segments);
        Ok(Appended {
            first,
            count,
            dropped,
        })
    }

    /// Checks each payload against `max_record_bytes` and the whole against `max_bytes`;
    /// returns the bytes the records will take.
    fn check_sizes<P: AsRef<[u8]>>(&self, payloads: &[P]) -> Result<u64, SpoolError> {
        let max = self.options.max_record_bytes;
        let mut needed = 0u64;
        for (index, p) in payloads.iter().enumerate() {
            let len = p.as_ref().len();
            if len > max {
                return Err(SpoolError::RecordTooLarge { index, len, max });
            }
            needed += record_len(len);
        }
        if needed > self.options.max_bytes {
            return Err(SpoolError::TooLarge {
                needed,
                max_bytes: self.options.max_bytes,
            });
        }
        Ok(needed)
    }

    /// Frees space for `needed` more bytes under the overflow policy; returns the
    /// unacknowledged range dropped, if any.
    fn make_room(&mut self, needed: u64) -> Result<Option<(u64, u64)>, SpoolError> {
        let max = self.options.max_bytes;
        if self.bytes + needed <= max {
            return Ok(None);
        }
        self.reclaim_acked_segments()?;
        if self.bytes + needed <= max {
            return Ok(None);
        }
        if self.options.overflow == Overflow::Block {
            return Err(SpoolError::Full {
                needed,
                free: max.saturating_sub(self.bytes),
            });
        }
        let mut dropped: Option<(u64, u64)> = None;
        while self.bytes + needed > max {
            let Some(oldest) = self.segments.front() else {
                break;
            };
            if oldest.unacked() > 0 {
                let (a, b) = (self.first_unacked_in(oldest), self.last_unacked_in(oldest));
                dropped = Some((dropped.map_or(a, |d| d.0), b));
            }
            self.delete_segment(0)?;
        }
        if let Some((a, b)) = dropped {
            tracing::warn!(
                first = a,
                last = b,
                "spool full: dropped unacknowledged records"
            );
        }
        Ok(dropped)
    }

    /// Encodes and writes the records, rolling to new segments as needed, then fsyncs. Each
    /// segment is synced before the next is created, so only the last can have a torn tail.
    fn write_records<P: AsRef<[u8]>>(&mut self, payloads: &[P]) -> Result<(), SpoolError> {
        let limit = self.options.segment_bytes;
        let mut seq = self.next_sequence;
        let mut rest = payloads;
        let mut created = false;
        let mut unsynced = false;
        while let Some(head) = rest.first() {
            let head_len = record_len(head.as_ref().len());
            let roll = match self.segments.back() {
                Some(tail) if self.tail_open => !tail.is_empty() && tail.size() + head_len > limit,
                _ => true,
            };
            if roll {
                if unsynced && let Some(tail) = self.segments.back() {
                    tail.sync()?;
                }
                self.segments.push_back(Segment::create(&self.dir, seq)?);
                self.tail_open = true;
                created = true;
            }
            let Some(tail) = self.segments.back_mut() else {
                break;
            };
            self.buf.clear();
            self.starts.clear();
            let mut size = tail.size();
            let mut taken = 0;
            for p in rest {
                let p = p.as_ref();
                let len = record_len(p.len());
                if taken > 0 && size + len > limit {
                    break;
                }
                self.starts.push(self.buf.len() as u64);
                encode_record(&mut self.buf, seq, p);
                size += len;
                seq += 1;
                taken += 1;
            }
            tail.write(&self.buf, &self.starts)?;
            unsynced = true;
            rest = &rest[taken..];
        }
        if let Some(tail) = self.segments.back() {
            tail.sync()?;
        }
        if created {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Restores the segments to `undo` after a failed write; poisons the spool if that fails.
    fn undo(&mut self, undo: &Undo) {
        let mut clean = true;
        while self.segments.len() > undo.segments {
            if let Some(seg) = self.segments.pop_back()
                && let Err(e) = seg.remove_file()
            {
                tracing::error!(error = %e, "cannot remove segment after failed append");
                clean = false;
            }
        }
        match (undo.tail, self.segments.back_mut()) {
            (Some((records, size)), Some(tail)) => {
                if let Err(e) = tail.truncate(records, size) {
                    tracing::error!(error = %e, "cannot undo failed append");
                    clean = false;
                }
                self.tail_open = true;
            }
            _ => self.tail_open = false,
        }
        if !clean {
            self.poisoned = true;
        }
    }

    /// After a roll-over, deletes the previous tail if it is fully acknowledged. A failure is
    /// only logged: the append succeeded, and [`Spool::flush_acks`] retries.
    fn delete_rolled_over(&mut self, live_before: usize) {
        let Some(old_tail) = live_before.checked_sub(1) else {
            return;
        };
        if self.segments.len() > live_before
            && self.segments.get(old_tail).is_some_and(|s| s.fully_acked())
            && let Err(e) = self.delete_segment(old_tail)
        {
            tracing::warn!(error = %e, "cannot delete acknowledged segment");
        }
    }
}
