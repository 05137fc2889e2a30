//! One segment file: its in-memory index (sequence → offset), scanning it when the spool is
//! opened, appending encoded records to it and reading runs of records back.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::SpoolError;
use crate::format::{HEADER_LEN, HEADER_USIZE, Header, segment_name};
use crate::types::{Record, TruncatedTail};

/// Read buffer used while scanning a segment.
const SCAN_BUFFER: usize = 1 << 20;

/// A live segment file and its index. Holds at least one record, with consecutive sequences
/// `first ..= last()`.
#[derive(Debug)]
pub(crate) struct Segment {
    /// The file.
    path: PathBuf,
    /// Sequence of its first record (also its name).
    first: u64,
    /// File offset of each record: record `i` has sequence `first + i`.
    offsets: Vec<u64>,
    /// The file's length: where the next record will go.
    size: u64,
    /// How many of its records are acknowledged.
    pub(crate) acked: u64,
    /// Open handle (readable; also appendable if `appendable`).
    file: File,
    /// The handle was opened for appending.
    appendable: bool,
}

/// Why the record at some offset is not accepted while scanning.
enum Bad {
    /// Incomplete or failing its checksum: what a crash mid-write leaves.
    Torn(String),
    /// Verifies but has the wrong sequence: never a torn write.
    Misnumbered(String),
}

/// Reads and verifies the record expected to have sequence `expected`, with `remain` bytes
/// left in the file; returns its length on disk.
fn next_record(
    reader: &mut impl Read,
    payload: &mut Vec<u8>,
    remain: u64,
    expected: u64,
) -> io::Result<Result<u64, Bad>> {
    if remain < HEADER_LEN {
        return Ok(Err(Bad::Torn(format!(
            "incomplete header ({remain} bytes)"
        ))));
    }
    let mut head = [0u8; HEADER_USIZE];
    reader.read_exact(&mut head)?;
    let h = Header::decode(&head);
    let record_len = HEADER_LEN + u64::from(h.len);
    if record_len > remain {
        return Ok(Err(Bad::Torn(format!(
            "incomplete record: {} payload bytes claimed, {} present",
            h.len,
            remain - HEADER_LEN
        ))));
    }
    payload.resize(h.len as usize, 0);
    reader.read_exact(payload)?;
    if !h.verifies(payload) {
        return Ok(Err(Bad::Torn("checksum mismatch".to_owned())));
    }
    if h.seq != expected {
        return Ok(Err(Bad::Misnumbered(format!(
            "sequence {} where {expected} was expected",
            h.seq
        ))));
    }
    Ok(Ok(record_len))
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
            size: 0,
            acked: 0,
            file,
            appendable: true,
        })
    }

    /// Opens and indexes an existing segment named for `first`, verifying every record.
    ///
    /// A record that does not verify is a torn write if `is_last`: the file is cut there and
    /// the cut is returned. Anywhere else it is [`SpoolError::Corrupt`]. A record whose
    /// checksum holds but whose sequence is not the expected one is always `Corrupt`.
    pub(crate) fn open(
        path: PathBuf,
        first: u64,
        is_last: bool,
    ) -> Result<(Self, Option<TruncatedTail>), SpoolError> {
        let file = OpenOptions::new()
            .read(true)
            .append(is_last)
            .open(&path)
            .map_err(|e| SpoolError::io("open", &path, e))?;
        let len = file
            .metadata()
            .map_err(|e| SpoolError::io("stat", &path, e))?
            .len();
        let mut reader = BufReader::with_capacity(SCAN_BUFFER, &file);
        let mut offsets = Vec::new();
        let mut payload = Vec::new();
        let mut off = 0u64;
        let mut torn = None;
        while off < len {
            let expected = first + offsets.len() as u64;
            let reason = match next_record(&mut reader, &mut payload, len - off, expected) {
                Ok(Ok(record_len)) => {
                    offsets.push(off);
                    off += record_len;
                    continue;
                }
                Ok(Err(Bad::Torn(reason))) if is_last => reason,
                Ok(Err(Bad::Torn(reason) | Bad::Misnumbered(reason))) => {
                    return Err(SpoolError::Corrupt {
                        path,
                        offset: off,
                        reason,
                    });
                }
                Err(e) => return Err(SpoolError::io("read", &path, e)),
            };
            file.set_len(off)
                .and_then(|()| file.sync_all())
                .map_err(|e| SpoolError::io("truncate", &path, e))?;
            torn = Some(TruncatedTail {
                path: path.clone(),
                offset: off,
                bytes: len - off,
                reason,
            });
            break;
        }
        drop(reader);
        let segment = Self {
            path,
            first,
            offsets,
            size: off,
            acked: 0,
            file,
            appendable: is_last,
        };
        Ok((segment, torn))
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
        let end = self.offsets.get(i + 1).copied().unwrap_or(self.size);
        (start, end)
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
        let mut pos = 0usize;
        for s in seq..seq + count {
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
            pos += HEADER_USIZE + h.len as usize;
        }
        Ok(())
    }
}
