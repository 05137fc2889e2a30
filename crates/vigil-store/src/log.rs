//! A directory of segments: append with group commit, recovery, search, retention.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::{error, info, warn};
use vigil_event::Timestamp;

use crate::index::{SegmentIndex, Summary};
use crate::segment::{self, FRAME_LEN, HEADER_LEN, Item};
use crate::{Order, Query, Record, StoreError};

/// Sizing and retention of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// A segment is sealed once it holds this many bytes (at most 1 GiB).
    pub segment_bytes: u64,
    /// A non-empty segment is sealed once its first record is this old, so age retention applies
    /// to quiet logs too.
    pub segment_max_age: Duration,
    /// Sealed segments whose newest record was received longer ago than this are deleted.
    pub retention_max_age: Option<Duration>,
    /// Oldest sealed segments are deleted while the log is larger than this.
    pub retention_max_bytes: Option<u64>,
    /// A retention pass that would delete more than this percentage of the log's segments or
    /// bytes at once is refused and deletes nothing (100: no limit). A pass deleting a single
    /// segment is always allowed, so steady retention goes on.
    pub retention_max_share: u8,
    /// The operator confirmed a large deletion: `retention_max_share` is not applied.
    pub retention_confirmed: bool,
}

/// How far the clock may run ahead of the newest stored receive time before age retention
/// stops following it, and how far behind it before the clock is called wrong.
pub const CLOCK_TOLERANCE: Duration = Duration::from_secs(300);

/// How the clock relates to the newest receive time the log holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockCheck {
    /// Nothing stored, or the clock agrees with what is stored.
    Consistent,
    /// The clock is behind the newest stored receive time by more than [`CLOCK_TOLERANCE`].
    Behind {
        /// Newest stored receive time.
        newest: Timestamp,
        /// By how much.
        by: Duration,
    },
    /// The clock is so far ahead of the newest stored receive time that age retention, had it
    /// trusted the clock, would have deleted more than `retention_max_share` at once.
    Ahead {
        /// Newest stored receive time.
        newest: Timestamp,
        /// By how much.
        by: Duration,
        /// Segments the clock would have expired (the active one included).
        segments: usize,
    },
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            segment_bytes: 64 << 20,
            segment_max_age: Duration::from_secs(3600),
            retention_max_age: Some(Duration::from_secs(90 * 86_400)),
            retention_max_bytes: None,
            retention_max_share: 10,
            retention_confirmed: false,
        }
    }
}

/// Size of a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStats {
    /// Records held, counting the record numbers of records lost to damage.
    pub records: u64,
    /// Bytes on disk in segment files.
    pub bytes: u64,
    /// Segment files.
    pub segments: usize,
}

/// What a retention pass deleted, or would have deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionReport {
    /// Segments deleted.
    pub segments: usize,
    /// Records in them.
    pub records: u64,
    /// Bytes freed.
    pub bytes: u64,
    /// Set when the pass was refused for exceeding `retention_max_share`: nothing was deleted,
    /// and the other fields say what would have been.
    pub refused: bool,
}

/// A damaged range found in a segment and skipped: the records after it are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// The segment file.
    pub segment: PathBuf,
    /// First damaged byte.
    pub from: u64,
    /// End of the damaged bytes, where the next readable record starts.
    pub to: u64,
    /// Records lost, when known (one for a damaged checksum or payload whose length survived).
    pub records_lost: Option<u64>,
    /// Where a writer copied the damaged bytes before doing anything else; `None` for a
    /// read-only reader, which changes nothing on disk.
    pub quarantine: Option<PathBuf>,
}

struct Writer {
    file: File,
    _lock: File,
    /// Set when a failed write could not be rolled back; the log refuses further appends.
    poisoned: bool,
}

/// An append-only, indexed log of records of one kind.
pub struct Log<R> {
    dir: PathBuf,
    options: LogOptions,
    sealed: Vec<Summary>,
    active: SegmentIndex,
    writer: Option<Writer>,
    corruption: Vec<Corruption>,
    encoded: Vec<u8>,
    batch: Vec<u8>,
    _records: PhantomData<fn() -> R>,
}

/// One search hit before its record is read: (time, record number, segment position, ordinal).
type Hit = (Timestamp, u64, usize, u32);

impl<R: Record> Log<R> {
    /// Opens a log for writing, creating it if needed. Takes an exclusive lock, rebuilds any
    /// missing or damaged sealed-segment index, and cuts a torn tail off the active segment.
    /// Damage in the middle of a segment it reads (the active one, or a sealed one whose index
    /// is rebuilt) is quarantined and skipped, never cut: see [`Log::corruption`].
    pub fn open(dir: &Path, options: LogOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::io("create directory", dir))?;
        let lock_path = dir.join("LOCK");
        let lock = File::create(&lock_path).map_err(StoreError::io("create lock", &lock_path))?;
        if lock.try_lock().is_err() {
            return Err(StoreError::Locked { path: lock_path });
        }
        let bases = segment::list(dir)?;
        let mut sealed = Vec::new();
        let mut corruption = Vec::new();
        let active = match bases.split_last() {
            Some((&last, older)) => {
                for &base in older {
                    sealed.push(Self::sealed_summary(dir, base, Some(&mut corruption))?);
                }
                Self::recover_active(dir, last, &mut corruption)?
            }
            None => {
                segment::create(dir, 0)?;
                SegmentIndex::new(0)
            }
        };
        let active_base = active.summary.base;
        let path = segment::segment_path(dir, active_base);
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(StoreError::io("open segment", &path))?;
        let log = Log {
            dir: dir.to_path_buf(),
            options,
            sealed,
            active,
            writer: Some(Writer {
                file,
                _lock: lock,
                poisoned: false,
            }),
            corruption,
            encoded: Vec::new(),
            batch: Vec::new(),
            _records: PhantomData,
        };
        info!(dir = %dir.display(), records = log.stats().records, segments = log.stats().segments, "log opened");
        Ok(log)
    }

    /// Opens a log for searching only, alongside a writer in another process. Nothing is changed
    /// on disk; a torn or in-flight tail is simply not read, and damaged ranges are skipped.
    pub fn open_read_only(dir: &Path) -> Result<Self, StoreError> {
        let bases = segment::list(dir)?;
        let mut sealed = Vec::new();
        let mut active = SegmentIndex::new(0);
        let mut corruption = Vec::new();
        if let Some((&last, older)) = bases.split_last() {
            for &base in older {
                match Self::sealed_summary(dir, base, None) {
                    Ok(summary) => sealed.push(summary),
                    // Deleted by retention in the writer process since it was listed.
                    Err(StoreError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            let (index, _, damage) = Self::scan_segment(&segment::segment_path(dir, last), last)?;
            active = index;
            corruption = damage;
        }
        Ok(Log {
            dir: dir.to_path_buf(),
            options: LogOptions::default(),
            sealed,
            active,
            writer: None,
            corruption,
            encoded: Vec::new(),
            batch: Vec::new(),
            _records: PhantomData,
        })
    }

    /// Indexes the active (last) segment: quarantines damage in the middle (adding it to
    /// `corruption`), repairs a damaged header, cuts off a torn tail and drops a stale sidecar
    /// left by a crash between sealing and starting the next segment.
    fn recover_active(
        dir: &Path,
        base: u64,
        corruption: &mut Vec<Corruption>,
    ) -> Result<SegmentIndex, StoreError> {
        let path = segment::segment_path(dir, base);
        let (active, scan, mut damage) = Self::scan_segment(&path, base)?;
        for found in &mut damage {
            quarantine(dir, base, found)?;
        }
        let header_damaged = damage.first().is_some_and(|d| d.from == 0);
        corruption.append(&mut damage);
        if scan.valid_len < HEADER_LEN {
            if scan.file_len > HEADER_LEN {
                let mut whole = Corruption {
                    segment: path.clone(),
                    from: 0,
                    to: scan.file_len,
                    records_lost: None,
                    quarantine: None,
                };
                quarantine(dir, base, &mut whole)?;
                corruption.push(whole);
            }
            warn!(path = %path.display(), "segment header is damaged; recreating the empty segment");
            std::fs::remove_file(&path).map_err(StoreError::io("remove damaged segment", &path))?;
            segment::create(dir, base)?;
        } else if header_damaged {
            segment::repair_header(dir, base)?;
        }
        if scan.valid_len >= HEADER_LEN && scan.valid_len < scan.file_len {
            warn!(
                path = %path.display(),
                kept_records = active.len(),
                cut_bytes = scan.file_len - scan.valid_len,
                "cutting a torn tail left by a crash (records never reported stored)"
            );
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(StoreError::io("open segment", &path))?;
            file.set_len(scan.valid_len)
                .and_then(|()| file.sync_all())
                .map_err(StoreError::io("truncate segment", &path))?;
        }
        let stale = segment::sidecar_path(dir, base);
        if stale.exists() {
            std::fs::remove_file(&stale)
                .map_err(StoreError::io("remove index of active segment", &stale))?;
        }
        Ok(active)
    }

    /// Indexes a segment, resynchronising past damaged ranges: each takes the record numbers
    /// of the records it held (one when unknown), so the records after it keep theirs.
    fn scan_segment(
        path: &Path,
        base: u64,
    ) -> Result<(SegmentIndex, segment::Scan, Vec<Corruption>), StoreError> {
        let mut index = SegmentIndex::new(base);
        let mut damage = Vec::new();
        let scan = segment::scan(
            path,
            |payload| R::decode(payload).is_ok(),
            |item| match item {
                Item::Record { offset, payload } => match R::decode(payload) {
                    Ok(record) => {
                        let end = offset + (FRAME_LEN + payload.len()) as u64;
                        index.push(
                            offset,
                            end,
                            record.time(),
                            record.received_at(),
                            record.index_fields(),
                        );
                        true
                    }
                    Err(_) => false,
                },
                Item::Damage(d) => {
                    warn!(
                        path = %path.display(),
                        from = d.from,
                        to = d.to,
                        records_lost = ?d.records,
                        "skipping a damaged range of a segment"
                    );
                    index.push_lost(d.records.unwrap_or(1));
                    damage.push(Corruption {
                        segment: path.to_path_buf(),
                        from: d.from,
                        to: d.to,
                        records_lost: d.records,
                        quarantine: None,
                    });
                    true
                }
            },
        )?;
        Ok((index, scan, damage))
    }

    /// The summary of a sealed segment, from its sidecar or (when that is missing or damaged) by
    /// scanning the segment. A writer passes `repair`: it verifies the whole sidecar against the
    /// segment ([`Self::checked_sidecar`]), and damage found (in the sidecar or the segment) is
    /// then quarantined and added to it, and the sidecar rewritten.
    fn sealed_summary(
        dir: &Path,
        base: u64,
        repair: Option<&mut Vec<Corruption>>,
    ) -> Result<Summary, StoreError> {
        let sidecar = segment::sidecar_path(dir, base);
        let segment_path = segment::segment_path(dir, base);
        let Some(corruption) = repair else {
            // A reader checks the rest of the sidecar when it loads it to search.
            if let Some(summary) = SegmentIndex::read_summary(&sidecar) {
                return Ok(summary);
            }
            return Ok(Self::scan_segment(&segment_path, base)?.0.summary);
        };
        match Self::checked_sidecar(&sidecar, &segment_path, base)? {
            Ok(summary) => return Ok(summary),
            Err(Some(reason)) => {
                let len = std::fs::metadata(&sidecar)
                    .map_err(StoreError::io("stat index", &sidecar))?
                    .len();
                let mut whole = Corruption {
                    segment: sidecar.clone(),
                    from: 0,
                    to: len,
                    records_lost: Some(0),
                    quarantine: None,
                };
                quarantine(dir, base, &mut whole)?;
                error!(path = %sidecar.display(), %reason, "segment index damaged; quarantined and rebuilt from the segment");
                corruption.push(whole);
            }
            Err(None) => {}
        }
        let (index, _, mut damage) = Self::scan_segment(&segment_path, base)?;
        for found in &mut damage {
            quarantine(dir, base, found)?;
        }
        corruption.append(&mut damage);
        warn!(path = %sidecar.display(), "segment index missing or damaged; rebuilt from the segment");
        index.write_sidecar(&sidecar)?;
        Ok(index.summary)
    }

    /// The summary of a sealed segment's sidecar if its checksums hold, it names this segment
    /// and it indexes no more bytes than the segment holds; otherwise why not (`None`:
    /// missing). Its body is decoded and checked further only when a search loads it.
    fn checked_sidecar(
        sidecar: &Path,
        segment_path: &Path,
        base: u64,
    ) -> Result<Result<Summary, Option<String>>, StoreError> {
        let summary = match SegmentIndex::verify_sidecar(sidecar, base) {
            Ok(summary) => summary,
            Err(why) => return Ok(Err(why)),
        };
        let segment_len = std::fs::metadata(segment_path)
            .map_err(StoreError::io("stat segment", segment_path))?
            .len();
        if summary.bytes > segment_len {
            return Ok(Err(Some(format!(
                "indexes {} bytes of a segment of {segment_len}",
                summary.bytes
            ))));
        }
        Ok(Ok(summary))
    }

    /// The index of a sealed segment, from its sidecar or by scanning the segment; `None` if the
    /// segment was deleted by retention (in the writer process) since this log listed it.
    fn sealed_index(&self, summary: &Summary) -> Result<Option<SegmentIndex>, StoreError> {
        if let Some(index) = SegmentIndex::read_sidecar(
            &segment::sidecar_path(&self.dir, summary.base),
            summary.base,
        ) {
            return Ok(Some(index));
        }
        let path = segment::segment_path(&self.dir, summary.base);
        match Self::scan_segment(&path, summary.base) {
            Ok((index, _, _)) => Ok(Some(index)),
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Appends records and makes them durable (one `fdatasync`) before returning. On error
    /// nothing of the batch is kept, so retrying never stores a record twice.
    pub fn append(&mut self, records: &[R]) -> Result<(), StoreError> {
        if self.writer.is_none() {
            return Err(read_only_error(&self.dir));
        }
        // A seal that failed after an earlier append is retried before anything new is written.
        if self.active.summary.bytes >= self.seal_threshold() {
            self.seal()?;
        }
        let Some(writer) = self.writer.as_mut() else {
            return Err(read_only_error(&self.dir));
        };
        let path = segment::segment_path(&self.dir, self.active.summary.base);
        if writer.poisoned {
            return Err(StoreError::Io {
                action: "append to",
                path,
                source: std::io::Error::other(
                    "an earlier failed write could not be rolled back; restart to recover",
                ),
            });
        }
        self.batch.clear();
        let start = self.active.summary.bytes;
        let mut frames = Vec::with_capacity(records.len());
        for record in records {
            self.encoded.clear();
            record.encode(&mut self.encoded);
            let offset = start + self.batch.len() as u64;
            if self.encoded.len() > segment::MAX_RECORD {
                return Err(StoreError::RecordTooLarge {
                    path,
                    size: self.encoded.len(),
                });
            }
            if offset > u64::from(u32::MAX) {
                return Err(StoreError::RecordTooLarge {
                    path,
                    size: self.batch.len(),
                });
            }
            segment::frame(&self.encoded, &mut self.batch);
            frames.push((offset, start + self.batch.len() as u64));
        }
        use std::io::Write;
        if let Err(source) = writer
            .file
            .write_all(&self.batch)
            .and_then(|()| writer.file.sync_data())
        {
            if writer
                .file
                .set_len(start)
                .and_then(|()| writer.file.sync_data())
                .is_err()
            {
                writer.poisoned = true;
            }
            return Err(StoreError::Io {
                action: "append to",
                path,
                source,
            });
        }
        for (record, (offset, end)) in records.iter().zip(frames) {
            self.active.push(
                offset,
                end,
                record.time(),
                record.received_at(),
                record.index_fields(),
            );
        }
        if self.active.summary.bytes >= self.seal_threshold() {
            // The batch is durable whatever happens here: a failed seal is logged and retried
            // before the next append, never reported as a failed append.
            if let Err(e) = self.seal() {
                warn!(error = %e, "cannot seal the full segment yet; will retry before the next append");
            }
        }
        Ok(())
    }

    fn seal_threshold(&self) -> u64 {
        self.options.segment_bytes.min(1 << 30)
    }

    /// Seals the active segment (writes its index) and starts a new one.
    fn seal(&mut self) -> Result<(), StoreError> {
        let summary = self.active.summary;
        self.active
            .write_sidecar(&segment::sidecar_path(&self.dir, summary.base))?;
        let base = summary.base + summary.count;
        let file = segment::create(&self.dir, base)?;
        if let Some(writer) = self.writer.as_mut() {
            writer.file = file;
        }
        self.sealed.push(summary);
        self.active = SegmentIndex::new(base);
        Ok(())
    }

    /// Seals a quiet segment that has grown old, then deletes sealed segments past the
    /// configured age (by receive time, measured from [`Log::trusted_now`]) or beyond the size
    /// budget, oldest first: all of them, or none if they exceed `retention_max_share` unless
    /// `retention_confirmed` (the report is then marked `refused`).
    pub fn enforce_retention(&mut self, now: Timestamp) -> Result<RetentionReport, StoreError> {
        if self.writer.is_none() {
            return Err(read_only_error(&self.dir));
        }
        let active = self.active.summary;
        let seal_before = now.saturating_sub_micros(micros(self.options.segment_max_age));
        if active.count > 0 && active.min_received < seal_before {
            self.seal()?;
        }
        let plan = self.plan_retention(self.trusted_now(now));
        if plan.segments == 0 {
            return Ok(plan);
        }
        if !self.options.retention_confirmed && self.exceeds_share(&plan) {
            let stats = self.stats();
            warn!(
                dir = %self.dir.display(),
                segments = plan.segments,
                of_segments = stats.segments,
                bytes = plan.bytes,
                of_bytes = stats.bytes,
                max_share_percent = self.options.retention_max_share,
                "retention refused: it would delete more than store.retention_max_share of the store at once; the data is kept (set store.retention_confirm to allow it)"
            );
            return Ok(RetentionReport {
                refused: true,
                ..plan
            });
        }
        for oldest in self.sealed.drain(..plan.segments) {
            // Index first: a crash in between leaves a segment whose index is rebuilt, never an
            // orphaned index.
            let sidecar = segment::sidecar_path(&self.dir, oldest.base);
            match std::fs::remove_file(&sidecar) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StoreError::Io {
                        action: "delete expired index",
                        path: sidecar,
                        source: e,
                    });
                }
                _ => {}
            }
            let path = segment::segment_path(&self.dir, oldest.base);
            std::fs::remove_file(&path).map_err(StoreError::io("delete expired segment", &path))?;
        }
        segment::sync_dir(&self.dir)?;
        info!(dir = %self.dir.display(), segments = plan.segments, records = plan.records, "retention deleted old segments");
        Ok(plan)
    }

    /// The oldest sealed segments retention would delete at `now`: those received longer than
    /// `retention_max_age` before it, or beyond the size budget.
    fn plan_retention(&self, now: Timestamp) -> RetentionReport {
        self.plan_over(&self.sealed, now)
    }

    /// [`Log::plan_retention`] over `segments`, oldest first.
    fn plan_over<'a>(
        &self,
        segments: impl IntoIterator<Item = &'a Summary>,
        now: Timestamp,
    ) -> RetentionReport {
        let expire_before = self
            .options
            .retention_max_age
            .map(|age| now.saturating_sub_micros(micros(age)));
        let mut remaining = self.stats().bytes;
        let mut plan = RetentionReport::default();
        for oldest in segments {
            let too_old = expire_before.is_some_and(|t| oldest.max_received < t);
            let too_big = self
                .options
                .retention_max_bytes
                .is_some_and(|max| remaining > max);
            if !too_old && !too_big {
                break;
            }
            remaining -= oldest.bytes;
            plan.segments += 1;
            plan.records += oldest.count;
            plan.bytes += oldest.bytes;
        }
        plan
    }

    /// Whether deleting `plan` at once exceeds `retention_max_share` (never for one segment).
    fn exceeds_share(&self, plan: &RetentionReport) -> bool {
        plan.segments > 1 && self.over_share(plan)
    }

    /// Whether `plan` is more than `retention_max_share` of the log's segments or bytes.
    fn over_share(&self, plan: &RetentionReport) -> bool {
        let share = u128::from(self.options.retention_max_share.min(100));
        let stats = self.stats();
        let over = |part: u128, whole: u128| part * 100 > share * whole;
        over(plan.segments as u128, stats.segments as u128)
            || over(u128::from(plan.bytes), u128::from(stats.bytes))
    }

    /// The newest receive time of any record held, from the segments themselves (sealed
    /// segments' indexes, the active segment as scanned): `None` while the log is empty.
    pub fn newest_received(&self) -> Option<Timestamp> {
        self.sealed
            .iter()
            .chain(std::iter::once(&self.active.summary))
            .map(|s| s.max_received)
            .max()
            .filter(|&t| t != Timestamp::MIN)
    }

    /// The time age retention goes by: the clock, but never more than [`CLOCK_TOLERANCE`] past
    /// the newest receive time stored, so a clock that jumps ahead expires nothing the store's
    /// own history does not.
    pub fn trusted_now(&self, clock: Timestamp) -> Timestamp {
        match self.newest_received() {
            Some(newest) => clock.min(Timestamp::from_micros(
                newest.as_micros().saturating_add(micros(CLOCK_TOLERANCE)),
            )),
            None => clock,
        }
    }

    /// Compares the clock with the log's history: see [`ClockCheck`].
    pub fn check_clock(&self, clock: Timestamp) -> ClockCheck {
        let Some(newest) = self.newest_received() else {
            return ClockCheck::Consistent;
        };
        let gap = clock.as_micros().saturating_sub(newest.as_micros());
        let by = Duration::from_micros(gap.unsigned_abs());
        if gap < 0 && by > CLOCK_TOLERANCE {
            return ClockCheck::Behind { newest, by };
        }
        // The active segment too: trusting the clock would seal it by age, then expire it.
        let active = (self.active.summary.count > 0).then_some(&self.active.summary);
        let untrusted = self.plan_over(self.sealed.iter().chain(active), clock);
        if untrusted.segments > self.plan_retention(self.trusted_now(clock)).segments
            && self.over_share(&untrusted)
        {
            return ClockCheck::Ahead {
                newest,
                by,
                segments: untrusted.segments,
            };
        }
        ClockCheck::Consistent
    }

    /// The damage found in the middle of segments when the log was opened, each range skipped
    /// (and, by a writer, quarantined). Reported again at every open until retention deletes
    /// the segment.
    pub fn corruption(&self) -> &[Corruption] {
        &self.corruption
    }

    /// Records, bytes and segments currently held.
    pub fn stats(&self) -> LogStats {
        let summaries = self
            .sealed
            .iter()
            .chain(std::iter::once(&self.active.summary));
        summaries.fold(LogStats::default(), |acc, s| LogStats {
            records: acc.records + s.count,
            bytes: acc.bytes + s.bytes,
            segments: acc.segments + 1,
        })
    }

    /// The record number the next appended record will get (records are numbered from 0 in
    /// append order, and keep their numbers when retention deletes older ones).
    pub fn next_record(&self) -> u64 {
        self.active.summary.base + self.active.summary.count
    }

    /// Calls `each(record number, record)` for every record numbered `from` or later, in append
    /// order. Records already deleted by retention are skipped.
    pub fn scan_from(&self, from: u64, each: impl FnMut(u64, R)) -> Result<(), StoreError> {
        self.scan_where(|s| s.base + s.count > from, from, each)
    }

    /// Calls `each(record)` for every record whose time lies in `query`'s range (its other
    /// filters are ignored), in append order, reading only the segments whose time span meets
    /// the range: a full scan for what the index does not hold, such as ids.
    pub fn scan_time_range(
        &self,
        query: &Query,
        mut each: impl FnMut(R),
    ) -> Result<(), StoreError> {
        self.scan_where(
            |s| s.overlaps(query),
            0,
            |_, record| {
                if query.covers(record.time()) {
                    each(record)
                }
            },
        )
    }

    /// Decodes the records numbered `from` or later of the segments `wanted`, in append order,
    /// locating them through each segment's index; a record found damaged is skipped.
    fn scan_where(
        &self,
        wanted: impl Fn(&Summary) -> bool,
        from: u64,
        mut each: impl FnMut(u64, R),
    ) -> Result<(), StoreError> {
        for summary in self.sealed.iter().filter(|s| wanted(s)) {
            if let Some(index) = self.sealed_index(summary)? {
                self.read_indexed(&index, from, &mut each)?;
            }
        }
        if wanted(&self.active.summary) {
            self.read_indexed(&self.active, from, &mut each)?;
        }
        Ok(())
    }

    /// Decodes the records of one indexed segment numbered `from` or later.
    fn read_indexed(
        &self,
        index: &SegmentIndex,
        from: u64,
        each: &mut impl FnMut(u64, R),
    ) -> Result<(), StoreError> {
        let base = index.summary.base;
        let path = segment::segment_path(&self.dir, base);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            // Deleted by retention in the writer process since this log listed it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io("read segment", &path)(e)),
        };
        let first = u32::try_from(from.saturating_sub(base)).unwrap_or(u32::MAX);
        for ordinal in first..index.len() as u32 {
            let Some(offset) = index.offset(ordinal) else {
                continue;
            };
            match read_at::<R>(&path, offset, segment::frame_at(&bytes, offset as usize)) {
                Some(record) => each(base + u64::from(ordinal), record),
                None => continue,
            }
        }
        Ok(())
    }

    /// Runs a search: every record whose time is in range and whose indexed fields equal every
    /// filter, in the query's order, at most `query.limit` of them.
    pub fn search(&self, query: &Query) -> Result<Vec<R>, StoreError> {
        Ok(self
            .search_numbered(query)?
            .into_iter()
            .map(|(_, record)| record)
            .collect())
    }

    /// The times of every record [`Self::search`] would find (without its limit), read from the
    /// indexes alone, in no particular order: counts over time at the cost of the index.
    pub fn matching_times(&self, query: &Query) -> Result<Vec<Timestamp>, StoreError> {
        let mut times = Vec::new();
        for summary in self.sealed.iter().filter(|s| s.overlaps(query)) {
            if let Some(index) = self.sealed_index(summary)? {
                times.extend(index.matches(query).into_iter().map(|(_, t)| t));
            }
        }
        times.extend(self.active.matches(query).into_iter().map(|(_, t)| t));
        Ok(times)
    }

    /// [`Self::search`], each record with its record number (which orders records of equal
    /// time, so a time and a number mark a stable place in a result).
    pub fn search_numbered(&self, query: &Query) -> Result<Vec<(u64, R)>, StoreError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut loaded: Vec<(Summary, SegmentIndex)> = Vec::new();
        for summary in self.sealed.iter().filter(|s| s.overlaps(query)) {
            if let Some(index) = self.sealed_index(summary)? {
                loaded.push((*summary, index));
            }
        }
        let indexes: Vec<&SegmentIndex> = loaded
            .iter()
            .map(|(_, i)| i)
            .chain(std::iter::once(&self.active))
            .collect();

        // Keep the best `limit` hits in a heap whose top is the worst kept hit.
        let newest_first = query.order == Order::NewestFirst;
        let mut best_newest: BinaryHeap<Reverse<Hit>> = BinaryHeap::new();
        let mut best_oldest: BinaryHeap<Hit> = BinaryHeap::new();
        for (position, index) in indexes.iter().enumerate() {
            for (ordinal, time) in index.matches(query) {
                let hit = (
                    time,
                    index.summary.base + u64::from(ordinal),
                    position,
                    ordinal,
                );
                if newest_first {
                    best_newest.push(Reverse(hit));
                    if best_newest.len() > query.limit {
                        best_newest.pop();
                    }
                } else {
                    best_oldest.push(hit);
                    if best_oldest.len() > query.limit {
                        best_oldest.pop();
                    }
                }
            }
        }
        let mut hits: Vec<Hit> = best_newest
            .into_iter()
            .map(|Reverse(h)| h)
            .chain(best_oldest)
            .collect();
        hits.sort_unstable();
        if newest_first {
            hits.reverse();
        }

        let mut files: Vec<Option<File>> = (0..indexes.len()).map(|_| None).collect();
        let mut out = Vec::with_capacity(hits.len());
        for (_, number, position, ordinal) in hits {
            let index = indexes[position];
            let path = segment::segment_path(&self.dir, index.summary.base);
            let file = match &mut files[position] {
                Some(file) => file,
                slot => match File::open(&path) {
                    Ok(file) => slot.insert(file),
                    // Deleted by retention in the writer process during this search.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        return Err(StoreError::Io {
                            action: "open segment",
                            path,
                            source: e,
                        });
                    }
                },
            };
            let Some(offset) = index.offset(ordinal) else {
                continue;
            };
            let payload = segment::read_record(file, &path, offset)?;
            if let Some(record) = read_at::<R>(&path, offset, payload.as_deref()) {
                out.push((number, record));
            }
        }
        Ok(out)
    }
}

/// Decodes the record framed at `offset` (`payload` is `None` if the frame is damaged): `None`,
/// logged, if the record was damaged after it was indexed.
fn read_at<R: Record>(path: &Path, offset: u64, payload: Option<&[u8]>) -> Option<R> {
    let decoded = payload.map(R::decode);
    match decoded {
        Some(Ok(record)) => Some(record),
        Some(Err(_)) | None => {
            warn!(path = %path.display(), offset, "skipping a record damaged since it was indexed");
            None
        }
    }
}

/// Copies the damaged bytes of `found` to `<dir>/quarantine/<segment>-<from>-<to>.bin`
/// (`<segment>.idx-<from>-<to>.bin` for a segment's index) durably, records where, and logs
/// it.
fn quarantine(dir: &Path, base: u64, found: &mut Corruption) -> Result<(), StoreError> {
    use std::os::unix::fs::FileExt;
    let qdir = dir.join("quarantine");
    std::fs::create_dir_all(&qdir).map_err(StoreError::io("create directory", &qdir))?;
    let index = if found.segment.extension().is_some_and(|e| e == "idx") {
        ".idx"
    } else {
        ""
    };
    let path = qdir.join(format!("{base:020}{index}-{}-{}.bin", found.from, found.to));
    let len = usize::try_from(found.to - found.from).unwrap_or(usize::MAX);
    let mut bytes = vec![0u8; len];
    File::open(&found.segment)
        .and_then(|file| file.read_exact_at(&mut bytes, found.from))
        .map_err(StoreError::io("read damaged range of", &found.segment))?;
    crate::replace_file(&path, &bytes).map_err(StoreError::io("quarantine", &path))?;
    segment::sync_dir(&qdir)?;
    segment::sync_dir(dir)?;
    error!(
        segment = %found.segment.display(),
        from = found.from,
        to = found.to,
        records_lost = ?found.records_lost,
        quarantine = %path.display(),
        "damaged range of a segment quarantined and skipped; the records after it are kept"
    );
    found.quarantine = Some(path);
    Ok(())
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

fn read_only_error(dir: &Path) -> StoreError {
    StoreError::Io {
        action: "write to",
        path: dir.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "log was opened read-only",
        ),
    }
}
