//! Reading unacknowledged records back, in order, through the in-memory index.

use crate::error::SpoolError;
use crate::types::Record;

use super::Spool;

impl Spool {
    /// The unacknowledged records with `seq >= from_seq`, in order: at most `max_records`,
    /// and no more payload bytes than `max_bytes` except that the first record is returned
    /// however large it is. Empty when there is nothing (or `max_records` is 0).
    ///
    /// Costs one positioned read per run of consecutive unacknowledged records, found through
    /// the index: proportional to what is returned, not to what is stored.
    pub fn read_from(
        &self,
        from_seq: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<Record>, SpoolError> {
        let mut out = Vec::with_capacity(max_records.min(1024));
        let budget = max_bytes as u64;
        let mut used = 0u64;
        let mut seq = from_seq;
        let start = self.segments.partition_point(|s| s.last() < from_seq);
        for seg in self.segments.range(start..) {
            seq = seq.max(seg.first());
            while seq <= seg.last() {
                if out.len() >= max_records {
                    return Ok(out);
                }
                if let Some((_, end)) = self.acked.containing(seq) {
                    seq = end.saturating_add(1);
                    continue;
                }
                let run_end = self
                    .acked
                    .next_start_after(seq)
                    .map_or(seg.last(), |s| (s - 1).min(seg.last()));
                let mut n = 0u64;
                let mut full = false;
                while seq + n <= run_end && out.len() + (n as usize) < max_records {
                    let len = seg.payload_len(seq + n);
                    if (n > 0 || !out.is_empty()) && used + len > budget {
                        full = true;
                        break;
                    }
                    used += len;
                    n += 1;
                }
                seg.read_run(seq, n, &mut out)?;
                seq += n;
                if full {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }
}
