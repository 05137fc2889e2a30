//! Per-segment index: offsets and times of every record, postings for the indexed fields, and
//! a summary used to skip whole segments. Sealed segments keep it in a checksummed sidecar:
//! `[VIGILIX1][summary 56 bytes][crc32c(summary)][crc32c(body)][postcard body]`.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use vigil_event::Timestamp;

use crate::record::IndexFields;
use crate::{Query, StoreError};

const MAGIC: &[u8; 8] = b"VIGILIX1";
const SUMMARY_LEN: usize = 56;
/// The offset recorded for a record number lost to damage (segments are far smaller than 4 GiB).
const HOLE: u32 = u32::MAX;

/// What is known about a segment without reading its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Summary {
    pub base: u64,
    /// Record numbers used, including those of records lost to damage.
    pub count: u64,
    /// Length of the segment file's valid prefix.
    pub bytes: u64,
    pub min_time: Timestamp,
    pub max_time: Timestamp,
    pub min_received: Timestamp,
    pub max_received: Timestamp,
}

impl Summary {
    fn empty(base: u64) -> Self {
        Summary {
            base,
            count: 0,
            bytes: crate::segment::HEADER_LEN,
            min_time: Timestamp::MAX,
            max_time: Timestamp::MIN,
            min_received: Timestamp::MAX,
            max_received: Timestamp::MIN,
        }
    }

    /// Whether any record of the segment can fall in the query's time range.
    pub fn overlaps(&self, query: &Query) -> bool {
        self.count > 0 && self.min_time <= query.to && query.from <= self.max_time
    }

    fn to_bytes(self) -> [u8; SUMMARY_LEN] {
        let mut out = [0u8; SUMMARY_LEN];
        let fields = [
            self.base,
            self.count,
            self.bytes,
            self.min_time.as_micros() as u64,
            self.max_time.as_micros() as u64,
            self.min_received.as_micros() as u64,
            self.max_received.as_micros() as u64,
        ];
        for (chunk, value) in out.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&value.to_le_bytes());
        }
        out
    }

    fn from_bytes(bytes: &[u8; SUMMARY_LEN]) -> Self {
        let mut fields = bytes.chunks_exact(8).map(|c| {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            u64::from_le_bytes(word)
        });
        let mut next = || fields.next().unwrap_or_default();
        Summary {
            base: next(),
            count: next(),
            bytes: next(),
            min_time: Timestamp::from_micros(next() as i64),
            max_time: Timestamp::from_micros(next() as i64),
            min_received: Timestamp::from_micros(next() as i64),
            max_received: Timestamp::from_micros(next() as i64),
        }
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Postings {
    src_ip: HashMap<IpAddr, Vec<u32>>,
    dst_ip: HashMap<IpAddr, Vec<u32>>,
    plugin_id: HashMap<u32, Vec<u32>>,
    plugin_sid: HashMap<u32, Vec<u32>>,
    sensor: HashMap<String, Vec<u32>>,
}

fn post<K: Hash + Eq>(map: &mut HashMap<K, Vec<u32>>, key: K, ordinal: u32) {
    map.entry(key).or_default().push(ordinal);
}

/// The index of one segment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SegmentIndex {
    #[serde(skip, default = "default_summary")]
    pub summary: Summary,
    offsets: Vec<u32>,
    times: Vec<i64>,
    postings: Postings,
}

fn default_summary() -> Summary {
    Summary::empty(0)
}

impl SegmentIndex {
    pub fn new(base: u64) -> Self {
        SegmentIndex {
            summary: Summary::empty(base),
            offsets: Vec::new(),
            times: Vec::new(),
            postings: Postings::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Byte offset of the record with this ordinal; `None` past the end or for a record lost to
    /// damage.
    pub fn offset(&self, ordinal: u32) -> Option<u64> {
        self.offsets
            .get(ordinal as usize)
            .filter(|&&o| o != HOLE)
            .map(|&o| u64::from(o))
    }

    /// Gives `count` record numbers to records lost to damage, so the records after them keep
    /// their numbers.
    pub fn push_lost(&mut self, count: u64) {
        for _ in 0..count {
            self.offsets.push(HOLE);
            self.times.push(i64::MIN);
        }
        self.summary.count += count;
    }

    /// Adds a record stored at `offset` whose frame ends at `end`.
    pub fn push(
        &mut self,
        offset: u64,
        end: u64,
        time: Timestamp,
        received: Timestamp,
        fields: IndexFields<'_>,
    ) {
        let ordinal = self.offsets.len() as u32;
        // Segments are capped well below 4 GiB (LogOptions::segment_bytes), so offsets fit.
        self.offsets.push(offset as u32);
        self.times.push(time.as_micros());
        let s = &mut self.summary;
        s.count += 1;
        s.bytes = end;
        s.min_time = s.min_time.min(time);
        s.max_time = s.max_time.max(time);
        s.min_received = s.min_received.min(received);
        s.max_received = s.max_received.max(received);
        let p = &mut self.postings;
        if let Some(ip) = fields.src_ip {
            post(&mut p.src_ip, ip, ordinal);
        }
        if let Some(ip) = fields.dst_ip {
            post(&mut p.dst_ip, ip, ordinal);
        }
        if let Some(id) = fields.plugin_id {
            post(&mut p.plugin_id, id, ordinal);
        }
        for sid in [
            fields.plugin_sid,
            fields
                .original_sid
                .filter(|&o| Some(o) != fields.plugin_sid),
        ]
        .into_iter()
        .flatten()
        {
            post(&mut p.plugin_sid, sid, ordinal);
        }
        if let Some(sensor) = fields.sensor {
            match p.sensor.get_mut(sensor) {
                Some(list) => list.push(ordinal),
                None => {
                    p.sensor.insert(sensor.to_string(), vec![ordinal]);
                }
            }
        }
    }

    /// Ordinals and times of the records matching every filter of `query`, ascending.
    pub fn matches(&self, query: &Query) -> Vec<(u32, Timestamp)> {
        let p = &self.postings;
        let mut lists: Vec<&[u32]> = Vec::new();
        let filters = [
            query.src_ip.map(|ip| p.src_ip.get(&ip)),
            query.dst_ip.map(|ip| p.dst_ip.get(&ip)),
            query.plugin_id.map(|id| p.plugin_id.get(&id)),
            query.plugin_sid.map(|sid| p.plugin_sid.get(&sid)),
            query.sensor.as_deref().map(|s| p.sensor.get(s)),
        ];
        for filter in filters.into_iter().flatten() {
            match filter {
                Some(list) => lists.push(list),
                None => return Vec::new(),
            }
        }
        let in_range = |ordinal: u32| {
            self.offset(ordinal)?;
            let time = Timestamp::from_micros(
                self.times
                    .get(ordinal as usize)
                    .copied()
                    .unwrap_or(i64::MIN),
            );
            query.covers(time).then_some((ordinal, time))
        };
        if lists.is_empty() {
            return (0..self.len() as u32).filter_map(in_range).collect();
        }
        lists.sort_by_key(|l| l.len());
        let (first, rest) = lists
            .split_first()
            .map(|(f, r)| (*f, r))
            .unwrap_or_default();
        first
            .iter()
            .copied()
            .filter(|ordinal| rest.iter().all(|list| list.binary_search(ordinal).is_ok()))
            .filter_map(in_range)
            .collect()
    }

    /// Writes the sidecar durably (temporary file, fsync, rename).
    pub fn write_sidecar(&self, path: &Path) -> Result<(), StoreError> {
        let body = postcard::to_stdvec(self).map_err(|e| StoreError::Corrupt {
            path: path.to_path_buf(),
            offset: 0,
            reason: format!("cannot encode index: {e}"),
        })?;
        let summary = self.summary.to_bytes();
        let mut bytes = Vec::with_capacity(MAGIC.len() + SUMMARY_LEN + 8 + body.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&summary);
        bytes.extend_from_slice(&crc32c::crc32c(&summary).to_le_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        bytes.extend_from_slice(&body);
        crate::replace_file(path, &bytes).map_err(StoreError::io("write index", path))
    }

    /// Reads a sidecar's summary; `None` if the file is missing or damaged.
    pub fn read_summary(path: &Path) -> Option<Summary> {
        use std::io::Read;
        let mut head = [0u8; 8 + SUMMARY_LEN + 4];
        std::fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
        parse_summary(&head)
    }

    /// Reads a whole sidecar; `None` if the file is missing or damaged ([`Self::load_sidecar`]).
    pub fn read_sidecar(path: &Path, base: u64) -> Option<SegmentIndex> {
        Self::load_sidecar(path, base).ok()
    }

    /// Reads a whole sidecar of the segment `base` and checks it: `Err(None)` if the file is
    /// missing, `Err(Some(why))` if it is damaged or disagrees with itself.
    pub fn load_sidecar(path: &Path, base: u64) -> Result<SegmentIndex, Option<String>> {
        let bytes = read_existing(path)?;
        let (summary, body) = verified(&bytes, base)?;
        let mut index: SegmentIndex =
            postcard::from_bytes(body).map_err(|e| Some(format!("body does not decode: {e}")))?;
        index.summary = summary;
        index.check().map_err(Some)?;
        Ok(index)
    }

    /// Verifies a sidecar of the segment `base` without decoding its body (its checksums and
    /// base), and returns its summary: what a writer checks of every index when it opens the
    /// log, at the cost of reading it. Errors as [`Self::load_sidecar`].
    pub fn verify_sidecar(path: &Path, base: u64) -> Result<Summary, Option<String>> {
        Ok(verified(&read_existing(path)?, base)?.0)
    }

    /// Checks that the index agrees with itself: one offset and time per record number,
    /// offsets ascending inside the segment's valid bytes, postings ascending and naming record
    /// numbers that exist.
    fn check(&self) -> Result<(), String> {
        let s = &self.summary;
        if self.offsets.len() as u64 != s.count || self.times.len() != self.offsets.len() {
            return Err(format!(
                "{} offsets and {} times for {} records",
                self.offsets.len(),
                self.times.len(),
                s.count
            ));
        }
        let mut previous = None;
        for &offset in self.offsets.iter().filter(|&&o| o != HOLE) {
            let offset = u64::from(offset);
            let inside = offset >= crate::segment::HEADER_LEN
                && offset + crate::segment::FRAME_LEN as u64 <= s.bytes;
            if !inside || previous.is_some_and(|p| p >= offset) {
                return Err(format!(
                    "record offset {offset} out of order or outside the segment's {} valid bytes",
                    s.bytes
                ));
            }
            previous = Some(offset);
        }
        let p = &self.postings;
        let lists = (p.src_ip.values().chain(p.dst_ip.values()))
            .chain(p.plugin_id.values().chain(p.plugin_sid.values()))
            .chain(p.sensor.values());
        for list in lists {
            let sorted = list.windows(2).all(|w| w[0] < w[1]);
            if !sorted
                || list
                    .last()
                    .is_some_and(|&o| o as usize >= self.offsets.len())
            {
                return Err(
                    "a postings list is out of order or names a record that does not exist"
                        .to_string(),
                );
            }
        }
        Ok(())
    }
}

/// The bytes of a file: `Err(None)` if it is missing.
fn read_existing(path: &Path) -> Result<Vec<u8>, Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(None),
        Err(e) => Err(Some(format!("unreadable: {e}"))),
    }
}

/// The summary and body of a sidecar of segment `base` whose checksums hold.
fn verified(bytes: &[u8], base: u64) -> Result<(Summary, &[u8]), Option<String>> {
    let damaged = |why: &str| Some(why.to_string());
    let head = bytes
        .get(..8 + SUMMARY_LEN + 4)
        .ok_or_else(|| damaged("shorter than its header"))?;
    let summary = parse_summary(head).ok_or_else(|| damaged("bad magic or summary checksum"))?;
    let crc = bytes.get(8 + SUMMARY_LEN + 4..8 + SUMMARY_LEN + 8);
    let body = bytes.get(8 + SUMMARY_LEN + 8..).unwrap_or_default();
    if crc != Some(crc32c::crc32c(body).to_le_bytes().as_slice()) {
        return Err(damaged("body checksum mismatch"));
    }
    if summary.base != base {
        return Err(Some(format!(
            "indexes segment {} instead of {base}",
            summary.base
        )));
    }
    Ok((summary, body))
}

fn parse_summary(head: &[u8]) -> Option<Summary> {
    if head.get(..8)? != MAGIC {
        return None;
    }
    let summary: &[u8; SUMMARY_LEN] = head.get(8..8 + SUMMARY_LEN)?.try_into().ok()?;
    let crc = head.get(8 + SUMMARY_LEN..8 + SUMMARY_LEN + 4)?;
    (crc32c::crc32c(summary).to_le_bytes() == crc).then(|| Summary::from_bytes(summary))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// An index of segment 7 with three records, one posted under plugin 4000.
    fn index() -> SegmentIndex {
        let mut index = SegmentIndex::new(7);
        for (i, offset) in [16u64, 40, 64].into_iter().enumerate() {
            let fields = IndexFields {
                plugin_id: (i == 1).then_some(4000),
                ..IndexFields::default()
            };
            let t = Timestamp::from_secs(i as i64);
            index.push(offset, offset + 24, t, t, fields);
        }
        index
    }

    #[test]
    fn an_index_disagreeing_with_itself_is_never_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.idx");
        index().write_sidecar(&path).unwrap();
        assert!(SegmentIndex::load_sidecar(&path, 7).is_ok());
        assert_eq!(
            SegmentIndex::verify_sidecar(&path, 8).unwrap_err(),
            Some("indexes segment 7 instead of 8".to_string())
        );
        // Checksums made to match, contents wrong: an offset past the valid bytes, offsets
        // out of order, a posting naming a record that does not exist.
        let mut past_end = index();
        past_end.offsets[2] = 1_000;
        let mut unordered = index();
        unordered.offsets.swap(0, 1);
        let mut dangling = index();
        dangling.postings.plugin_id.insert(4001, vec![3]);
        for bad in [past_end, unordered, dangling] {
            bad.write_sidecar(&path).unwrap();
            assert!(SegmentIndex::verify_sidecar(&path, 7).is_ok());
            assert!(
                matches!(SegmentIndex::load_sidecar(&path, 7), Err(Some(_))),
                "{bad:?}"
            );
            assert!(SegmentIndex::read_sidecar(&path, 7).is_none());
        }
        std::fs::remove_file(&path).unwrap();
        assert_eq!(SegmentIndex::load_sidecar(&path, 7).unwrap_err(), None);
    }
}
