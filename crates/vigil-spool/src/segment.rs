//! One segment file: its in-memory index (sequence → offset), scanning it when the spool is
//! opened, appending encoded records to it and reading runs of records back.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::SpoolError;
use crate::format::{HEADER_LEN, HEADER_USIZE, Header, segment_name};
use crate::types::{DamagedRange, Record, TruncatedTail};
use crate::{quarantine, scan};

/// A live segment file and its index. Holds at least one sequence, consecutive
/// `first ..= last()`: each a record, or one lost to damage in the middle of the file.
#[derive(Debug)]
pub(crate) struct Segment {
    /// The file.
    path: PathBuf,
    /// Sequence of its first record (also its name).
    first: u64,
    /// File offset of each sequence: record `i` has sequence `first + i`; a sequence lost to
    /// damage has the offset where the damaged range starts.
    offsets: Vec<u64>,
    /// Where each damaged range skipped in the file starts, ascending: a record ends at the
    /// next offset, or at a damaged range starting before it.
    damaged: Vec<u64>,
    /// The file's length: where the next record will go.
    size: u64,
    /// How many of its sequences are acknowledged (or lost to damage).
    pub(crate) acked: u64,
    /// Open handle (readable; also appendable if `appendable`).
    file: File,
    /// The handle was opened for appending.
    appendable: bool,
}

/// A segment as opened, and what opening it found and repaired.
pub(crate) struct Opened {
    /// The segment.
    pub(crate) segment: Segment,
    /// The torn tail cut off, if any.
    pub(crate) torn: Option<TruncatedTail>,
    /// Damaged ranges quarantined and skipped, in file order.
    pub(crate) damaged: Vec<DamagedRange>,
}

impl Segment {
    /// Creates the (new, empty) segment file for records starting at `first`. It holds no
    /// record until [`Segment::write`] is called.
    pub(crate) fn create(dir: &Path, first: u64) -> Result<Self, SpoolError> {
        let path = dir.join(segment_name(first));
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| SpoolError::io("create", &path, e))?;
        Ok(Self {
            path,
            first,
            offsets: Vec::new(),
            damaged: Vec::new(),
            size: 0,
            acked: 0,
            file,
            appendable: true,
        })
    }

    /// Opens and indexes an existing segment named for `first`, verifying every record.
    /// `next_first` is the first sequence of the next segment, `None` for the last segment.
    ///
    /// A bad frame with nothing valid after it in the last segment is a torn write: the file is
    /// cut there and the cut is returned. Any other damaged range is copied to the quarantine
    /// first, then skipped and returned; the sequences it held are never read. A record whose
    /// checksum holds but whose sequence is not the expected one is [`SpoolError::Corrupt`].
    pub(crate) fn open(
        path: PathBuf,
        first: u64,
        next_first: Option<u64>,
    ) -> Result<Opened, SpoolError> {
        let is_last = next_first.is_none();
        let file = OpenOptions::new()
            .read(true)
            .append(is_last)
            .open(&path)
            .map_err(|e| SpoolError::io("open", &path, e))?;
        let size_hint = file
            .metadata()
            .map_err(|e| SpoolError::io("stat", &path, e))?
            .len();
        // Sized once: a segment is read whole, to resynchronise forward past damage.
        let mut bytes = Vec::with_capacity(usize::try_from(size_hint).unwrap_or(0));
        (&file)
            .read_to_end(&mut bytes)
            .map_err(|e| SpoolError::io("read", &path, e))?;
        let found = scan::scan(&bytes, first, next_first).map_err(|m| SpoolError::Corrupt {
            path: path.clone(),
            offset: m.offset,
            reason: m.reason,
        })?;
        let starts = found.damage.iter().map(|d| d.from).collect();
        let mut damaged = Vec::with_capacity(found.damage.len());
        for d in found.damage {
            let range = bytes
                .get(d.from as usize..d.to as usize)
                .unwrap_or_default();
            damaged.push(DamagedRange {
                quarantine: quarantine::keep(&path, d.from, range)?,
                path: path.clone(),
                from: d.from,
                to: d.to,
                lost: d.lost,
                reason: d.reason,
            });
        }
        let len = bytes.len() as u64;
        let torn = match found.torn {
            Some(reason) => {
                file.set_len(found.end)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| SpoolError::io("truncate", &path, e))?;
                Some(TruncatedTail {
                    path: path.clone(),
                    offset: found.end,
                    bytes: len - found.end,
                    reason,
                })
            }
            None => None,
        };
        let size = if torn.is_some() { found.end } else { len };
        debug_assert!(
            !is_last || found.end == size,
            "only the last segment's tail is cut"
        );
        let segment = Self {
            path,
            first,
            offsets: found.offsets,
            damaged: starts,
            size,
            acked: 0,
            file,
            appendable: is_last,
        };
        Ok(Opened {
            segment,
            torn,
            damaged,
        })
    }

    /// Reopens the handle for appending (for a segment that became the last one after an
    /// empty successor was removed).
    pub(crate) fn make_appendable(&mut self) -> Result<(), SpoolError> {
        if !self.appendable {
            self.file = OpenOptions::new()
                .read(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| SpoolError::io("open", &self.path, e))?;
            self.appendable = true;
        }
        Ok(())
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Sequence of the first record.
    pub(crate) fn first(&self) -> u64 {
        self.first
    }

    /// Number of records.
    pub(crate) fn len(&self) -> u64 {
        self.offsets.len() as u64
    }

    /// Whether it holds no record (only while being created, or found so when opening).
    pub(crate) fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Sequence of the last record (`first - 1` while empty).
    pub(crate) fn last(&self) -> u64 {
        (self.first + self.len()).wrapping_sub(1)
    }

    /// The sequence a record appended here would need to have.
    pub(crate) fn next_seq(&self) -> u64 {
        self.first + self.len()
    }

    /// The file's length.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Whether the file ends with its last record (no damaged range after it), so records
    /// appended follow it.
    pub(crate) fn ends_clean(&self) -> bool {
        // A damaged range in the middle starts before the record that follows it.
        self.damaged
            .last()
            .is_none_or(|&from| self.offsets.last().is_some_and(|&o| from <= o))
    }

    /// Records not yet acknowledged.
    pub(crate) fn unacked(&self) -> u64 {
        self.len() - self.acked
    }

    /// Whether every record is acknowledged.
    pub(crate) fn fully_acked(&self) -> bool {
        self.acked == self.len()
    }

    /// Byte span `[start, end)` of record `seq`, which must be in this segment.
    fn span(&self, seq: u64) -> (u64, u64) {
        let i = (seq - self.first) as usize;
        let start = self.offsets[i];
        let next = self.offsets.get(i + 1).copied().unwrap_or(self.size);
        let k = self.damaged.partition_point(|&from| from <= start);
        let end = self.damaged.get(k).copied().filter(|&from| from < next);
        (start, end.unwrap_or(next))
    }

    /// Payload length of record `seq`, which must be in this segment.
    pub(crate) fn payload_len(&self, seq: u64) -> u64 {
        let (start, end) = self.span(seq);
        end - start - HEADER_LEN
    }

    /// Appends `buf` (encoded records, the `k`-th starting at `starts[k]` within `buf`, with
    /// consecutive sequences from [`Segment::next_seq`]) to the file and the index. Not synced.
    pub(crate) fn write(&mut self, buf: &[u8], starts: &[u64]) -> Result<(), SpoolError> {
        (&self.file)
            .write_all(buf)
            .map_err(|e| SpoolError::io("write", &self.path, e))?;
        debug_assert!(self.ends_clean(), "appending after a damaged range");
        self.offsets.extend(starts.iter().map(|s| self.size + s));
        self.size += buf.len() as u64;
        Ok(())
    }

    /// Makes everything written so far durable (data and file size).
    pub(crate) fn sync(&self) -> Result<(), SpoolError> {
        self.file
            .sync_data()
            .map_err(|e| SpoolError::io("fsync", &self.path, e))
    }

    /// Undoes writes: keeps only the first `records` records and cuts the file to `size`.
    pub(crate) fn truncate(&mut self, records: usize, size: u64) -> Result<(), SpoolError> {
        self.offsets.truncate(records);
        self.size = size;
        self.file
            .set_len(size)
            .map_err(|e| SpoolError::io("truncate", &self.path, e))
    }

    /// Deletes the file (the caller then drops this value).
    pub(crate) fn remove_file(&self) -> Result<(), SpoolError> {
        fs::remove_file(&self.path).map_err(|e| SpoolError::io("remove", &self.path, e))
    }

    /// Reads the `count` consecutive records from `seq` (all in this segment) with one read,
    /// verifying each, onto `out`.
    pub(crate) fn read_run(
        &self,
        seq: u64,
        count: u64,
        out: &mut Vec<Record>,
    ) -> Result<(), SpoolError> {
        if count == 0 {
            return Ok(());
        }
        let (start, _) = self.span(seq);
        let (_, end) = self.span(seq + count - 1);
        let mut buf = vec![0u8; (end - start) as usize];
        self.file
            .read_exact_at(&mut buf, start)
            .map_err(|e| SpoolError::io("read", &self.path, e))?;
        for s in seq..seq + count {
            // Records are contiguous except across bytes inserted by damage.
            let pos = (self.span(s).0 - start) as usize;
            let corrupt = |reason: &str| SpoolError::Corrupt {
                path: self.path.clone(),
                offset: start + pos as u64,
                reason: reason.to_owned(),
            };
            let mut head = [0u8; HEADER_USIZE];
            head.copy_from_slice(&buf[pos..pos + HEADER_USIZE]);
            let h = Header::decode(&head);
            if h.seq != s || u64::from(h.len) != self.payload_len(s) {
                return Err(corrupt("record header changed since it was indexed"));
            }
            let body = &buf[pos + HEADER_USIZE..pos + HEADER_USIZE + h.len as usize];
            if !h.verifies(body) {
                return Err(corrupt("checksum mismatch"));
            }
            out.push(Record {
                seq: s,
                payload: body.to_vec(),
            });
        }
        Ok(())
    }
}
