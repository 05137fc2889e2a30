//! Recognising a RELP sender's resends. A sender keeps every frame it has not seen a `rsp`
//! for, and sends them all again after reconnecting. When the edge wrote a line durably but
//! was killed before its `rsp` went out, the resend is a line already written: it is
//! acknowledged again without being written twice.
//!
//! The output records the lines of each batch ([`Journal::record`]: peer, digest of the
//! message, and the output's position once the batch is written) and syncs that record
//! *before* writing the batch. At start, records beyond the output's position are dropped
//! (their batch never made it), so what is remembered is exactly what was written. The last
//! [`WINDOW`] lines of the last [`SESSIONS`] sessions of the last [`PEERS`] sender addresses
//! are kept ([`Tails`]); a new session's first
//! frames are matched against them ([`Resend`]): a resend is the run of one session's
//! unacknowledged frames, in order, and those the edge wrote are the end of that session's
//! lines. Matching a run of one session, not lines anywhere, keeps a new line that merely
//! repeats an earlier one (same text) from being taken for a resend.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Lines remembered per session: more than a sender keeps unacknowledged (librelp's window is
/// 128 frames unless `windowSize` says otherwise; a larger window than this weakens the
/// recognition of resends).
pub const WINDOW: usize = 1024;
/// Sessions remembered per sender address.
pub const SESSIONS: usize = 16;
/// Sender addresses remembered (the one written to least recently is forgotten first):
/// memory stays bounded whoever connects.
pub const PEERS: usize = 1024;

/// A message's fingerprint (the first 16 bytes of its BLAKE3 hash).
pub type Digest = [u8; 16];

/// The fingerprint of `message`.
pub fn digest(message: &[u8]) -> Digest {
    let mut d = [0u8; 16];
    d.copy_from_slice(&blake3::hash(message).as_bytes()[..16]);
    d
}

/// A line a sender sent: from where, over which session, and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentLine {
    /// The sender's address.
    pub peer: IpAddr,
    /// The session (connection) it came over.
    pub session: u64,
    /// The message's fingerprint.
    pub digest: Digest,
}

/// One session's last lines written, with the output position after each.
#[derive(Debug)]
struct SessionTail {
    session: u64,
    lines: VecDeque<(Digest, u64)>,
}

/// The last lines written, per session of each sender address (shared by the output and the
/// sessions). A sender may hold several sessions at once (rsyslog opens one per worker), so
/// a resend is matched against one session's lines, in order.
#[derive(Debug)]
pub struct Tails {
    window: usize,
    next_session: std::sync::atomic::AtomicU64,
    peers: Mutex<Peers>,
}

/// Each sender's sessions, and when it was last written to (a count of writes).
#[derive(Debug, Default)]
struct Peers {
    by_address: HashMap<IpAddr, (u64, VecDeque<SessionTail>)>,
    writes: u64,
}

impl Peers {
    /// The sessions of `peer`, making room for it among [`PEERS`] addresses.
    fn sessions(&mut self, peer: IpAddr) -> &mut VecDeque<SessionTail> {
        self.writes += 1;
        if !self.by_address.contains_key(&peer)
            && self.by_address.len() >= PEERS
            && let Some(oldest) = self
                .by_address
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(a, _)| *a)
        {
            self.by_address.remove(&oldest);
        }
        let entry = self.by_address.entry(peer).or_default();
        entry.0 = self.writes;
        &mut entry.1
    }
}

impl Tails {
    /// Remembers the last `window` lines of the last [`SESSIONS`] sessions of each peer.
    pub fn new(window: usize) -> Tails {
        debug_assert!(window > 0);
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        Tails {
            window,
            // Sessions of earlier runs are in the journal: numbers start anywhere, so they
            // do not collide with theirs.
            next_session: std::sync::atomic::AtomicU64::new(u64::from_le_bytes(seed) >> 1),
            peers: Mutex::new(Peers::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Peers> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A number for a new session.
    pub fn new_session(&self) -> u64 {
        self.next_session
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Adds lines written, the output being at `position` after them.
    pub fn push(&self, lines: &[SentLine], position: u64) {
        let mut peers = self.lock();
        for line in lines {
            let sessions = peers.sessions(line.peer);
            // The session written to last is at the back.
            let at = match sessions.iter().rposition(|t| t.session == line.session) {
                Some(i) => i,
                None => {
                    if sessions.len() == SESSIONS {
                        sessions.pop_front();
                    }
                    sessions.push_back(SessionTail {
                        session: line.session,
                        lines: VecDeque::new(),
                    });
                    sessions.len() - 1
                }
            };
            if at + 1 != sessions.len()
                && let Some(t) = sessions.remove(at)
            {
                sessions.push_back(t);
            }
            if let Some(tail) = sessions.back_mut() {
                if tail.lines.len() == self.window {
                    tail.lines.pop_front();
                }
                tail.lines.push_back((line.digest, position));
            }
        }
    }

    /// The matcher for a new session from `peer`.
    pub fn resend(&self, peer: IpAddr) -> Resend {
        let tails = self
            .lock()
            .by_address
            .get(&peer)
            .map(|(_, sessions)| {
                sessions
                    .iter()
                    .map(|t| t.lines.iter().map(|(d, _)| *d).collect())
                    .collect()
            })
            .unwrap_or_default();
        Resend::new(tails)
    }

    /// Every remembered line with its position, for rewriting the journal.
    fn records(&self) -> Vec<(SentLine, u64)> {
        self.lock()
            .by_address
            .iter()
            .flat_map(|(peer, (_, sessions))| {
                sessions.iter().flat_map(|t| {
                    t.lines.iter().map(|&(digest, position)| {
                        let line = SentLine {
                            peer: *peer,
                            session: t.session,
                            digest,
                        };
                        (line, position)
                    })
                })
            })
            .collect()
    }
}

/// Tells which of a session's first lines are resends of lines already written: a resend is
/// a run of one earlier session's lines, in their order.
#[derive(Debug)]
pub struct Resend {
    tails: Vec<Vec<Digest>>,
    /// Where the lines matched so far may have started: (session, index in its tail).
    starts: Vec<(usize, usize)>,
    matched: usize,
}

impl Resend {
    /// A matcher against the tails of earlier sessions (each oldest first).
    pub fn new(tails: Vec<Vec<Digest>>) -> Resend {
        Resend {
            tails,
            starts: Vec::new(),
            matched: 0,
        }
    }

    /// Whether the session's next line is a resend. Once a line is not, none after it is.
    pub fn is_resent(&mut self, digest: &Digest) -> bool {
        let k = self.matched;
        let at = |&(s, p): &(usize, usize)| self.tails.get(s).and_then(|t| t.get(p + k));
        let starts: Vec<(usize, usize)> = match k {
            0 => self
                .tails
                .iter()
                .enumerate()
                .flat_map(|(s, t)| {
                    t.iter()
                        .enumerate()
                        .filter(|(_, d)| *d == digest)
                        .map(move |(p, _)| (s, p))
                })
                .collect(),
            _ => self
                .starts
                .iter()
                .filter(|start| at(start) == Some(digest))
                .copied()
                .collect(),
        };
        if starts.is_empty() {
            self.tails = Vec::new();
            self.starts = Vec::new();
            return false;
        }
        self.starts = starts;
        self.matched += 1;
        true
    }
}

/// One record: peer (16 bytes, IPv4 mapped), session (8), digest (16), position (8; numbers
/// little-endian).
const RECORD: usize = 48;

/// The durable record of lines written (`<data_dir>/relp-sent`).
pub struct Journal {
    path: PathBuf,
    file: std::fs::File,
    records: usize,
    /// How many records the file may hold before it is rewritten.
    rewrite_at: usize,
    tails: std::sync::Arc<Tails>,
}

impl Journal {
    /// `<data_dir>/relp-sent`.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("relp-sent")
    }

    /// The journal's file.
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Opens the journal; the lines it records up to the output's `position` fill `tails`
    /// (records beyond it are of batches that were never written).
    pub fn open(
        data_dir: &Path,
        position: u64,
        tails: std::sync::Arc<Tails>,
    ) -> anyhow::Result<Journal> {
        use anyhow::Context;
        let path = Journal::path_in(data_dir);
        let mut bytes = Vec::new();
        match std::fs::File::open(&path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes)
                    .with_context(|| format!("cannot read {}", path.display()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
        // A torn last record (killed while appending) is ignored.
        for record in bytes.chunks_exact(RECORD) {
            let (line, at) = decode(record);
            if at <= position {
                tails.push(&[line], at);
            }
        }
        let (file, records) =
            rewrite(&path, &tails).with_context(|| format!("cannot rewrite {}", path.display()))?;
        Ok(Journal {
            path,
            file,
            records,
            rewrite_at: rewrite_at(records),
            tails,
        })
    }

    /// Durably records `lines`, which the output is about to write, reaching `position`.
    pub fn record(&mut self, lines: &[SentLine], position: u64) -> std::io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let named = |e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("{}: {e}", self.path.display()))
        };
        if self.records + lines.len() > self.rewrite_at {
            (self.file, self.records) = rewrite(&self.path, &self.tails).map_err(named)?;
            self.rewrite_at = rewrite_at(self.records);
        }
        let mut bytes = Vec::with_capacity(lines.len() * RECORD);
        for line in lines {
            encode(line, position, &mut bytes);
        }
        self.file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data())
            .map_err(named)?;
        self.records += lines.len();
        Ok(())
    }

    /// The lines are written: sessions from now on recognise their resends.
    pub fn written(&self, lines: &[SentLine], position: u64) {
        self.tails.push(lines, position);
    }
}

/// When a journal of `records` remembered lines is rewritten next: once it doubled, and not
/// before another 4 windows of lines.
fn rewrite_at(records: usize) -> usize {
    records * 2 + 4 * WINDOW
}

/// Replaces the journal at `path` with what `tails` hold (atomically, durably); returns it open
/// for appending, and how many records it holds.
fn rewrite(path: &Path, tails: &Tails) -> std::io::Result<(std::fs::File, usize)> {
    let records = tails.records();
    let mut bytes = Vec::with_capacity(records.len() * RECORD);
    for (line, position) in &records {
        encode(line, *position, &mut bytes);
    }
    vigil_store::replace_file(path, &bytes)?;
    let file = std::fs::OpenOptions::new().append(true).open(path)?;
    Ok((file, records.len()))
}

fn encode(line: &SentLine, position: u64, out: &mut Vec<u8>) {
    let peer = match line.peer {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    out.extend_from_slice(&peer.octets());
    out.extend_from_slice(&line.session.to_le_bytes());
    out.extend_from_slice(&line.digest);
    out.extend_from_slice(&position.to_le_bytes());
}

/// A record of [`RECORD`] bytes.
fn decode(record: &[u8]) -> (SentLine, u64) {
    debug_assert_eq!(record.len(), RECORD);
    let mut peer = [0u8; 16];
    let mut session = [0u8; 8];
    let mut digest = [0u8; 16];
    let mut position = [0u8; 8];
    peer.copy_from_slice(record.get(..16).unwrap_or(&[0; 16]));
    session.copy_from_slice(record.get(16..24).unwrap_or(&[0; 8]));
    digest.copy_from_slice(record.get(24..40).unwrap_or(&[0; 16]));
    position.copy_from_slice(record.get(40..48).unwrap_or(&[0; 8]));
    let peer = Ipv6Addr::from(peer);
    let peer = peer.to_ipv4_mapped().map_or(IpAddr::V6(peer), IpAddr::V4);
    let line = SentLine {
        peer,
        session: u64::from_le_bytes(session),
        digest,
    };
    (line, u64::from_le_bytes(position))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Digest {
        digest(text.as_bytes())
    }

    fn line(peer: [u8; 4], session: u64, text: &str) -> SentLine {
        SentLine {
            peer: IpAddr::from(peer),
            session,
            digest: d(text),
        }
    }

    fn resent(r: &mut Resend, texts: &[&str]) -> Vec<bool> {
        texts.iter().map(|t| r.is_resent(&d(t))).collect()
    }

    #[test]
    fn a_resend_is_the_end_of_one_session_then_new_lines() {
        let tails = Tails::new(8);
        // Two sessions of one sender, written interleaved.
        for (i, (s, t)) in [(1, "a1"), (2, "b1"), (1, "a2"), (2, "b2"), (1, "a3")]
            .iter()
            .enumerate()
        {
            tails.push(&[line([10, 0, 0, 1], *s, t)], i as u64 + 1);
        }
        let mut r = tails.resend(IpAddr::from([10, 0, 0, 1]));
        assert_eq!(
            resent(&mut r, &["a2", "a3", "a4", "a3"]),
            [true, true, false, false]
        );
        let mut r = tails.resend(IpAddr::from([10, 0, 0, 1]));
        assert_eq!(resent(&mut r, &["b2", "b3"]), [true, false]);
        let mut r = tails.resend(IpAddr::from([10, 0, 0, 1]));
        assert_eq!(
            resent(&mut r, &["a1", "b1"]),
            [true, false],
            "lines of two sessions are not one run"
        );
        let mut r = tails.resend(IpAddr::from([10, 0, 0, 2]));
        assert_eq!(resent(&mut r, &["a2"]), [false], "another sender");
    }

    #[test]
    fn a_repeated_line_is_a_resend_only_where_the_run_goes_on() {
        let tails = Tails::new(8);
        for (i, t) in ["x", "y", "x", "y"].iter().enumerate() {
            tails.push(&[line([10, 0, 0, 1], 1, t)], i as u64 + 1);
        }
        let mut r = tails.resend(IpAddr::from([10, 0, 0, 1]));
        assert_eq!(resent(&mut r, &["x", "y", "z"]), [true, true, false]);
        let mut r = tails.resend(IpAddr::from([10, 0, 0, 1]));
        assert_eq!(
            resent(&mut r, &["x", "y", "x", "y", "x"]),
            [true, true, true, true, false]
        );
    }

    #[test]
    fn tails_keep_the_window_of_the_last_sessions() {
        let tails = Tails::new(2);
        for (i, t) in ["a", "b", "c"].iter().enumerate() {
            tails.push(&[line([10, 0, 0, 1], 1, t)], i as u64);
        }
        let mut r = tails.resend(IpAddr::from([10, 0, 0, 1]));
        assert_eq!(resent(&mut r, &["a"]), [false], "out of the window");
        for s in 0..SESSIONS as u64 {
            tails.push(&[line([10, 0, 0, 1], 100 + s, "n")], 9);
        }
        let mut r = tails.resend(IpAddr::from([10, 0, 0, 1]));
        assert_eq!(
            resent(&mut r, &["b"]),
            [false],
            "the oldest session is forgotten"
        );
    }

    #[test]
    fn the_journal_keeps_only_what_the_output_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let peer = [192, 0, 2, 7];
        {
            let tails = std::sync::Arc::new(Tails::new(WINDOW));
            let mut journal = Journal::open(dir.path(), 0, tails).unwrap();
            journal
                .record(&[line(peer, 5, "a"), line(peer, 5, "b")], 100)
                .unwrap();
            journal.written(&[line(peer, 5, "a"), line(peer, 5, "b")], 100);
            // Recorded, then the edge died before the output wrote it.
            journal.record(&[line(peer, 5, "c")], 150).unwrap();
        }
        // A torn record at the end (killed while appending).
        let path = Journal::path_in(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[1, 2, 3]);
        std::fs::write(&path, bytes).unwrap();
        let tails = std::sync::Arc::new(Tails::new(WINDOW));
        let _journal = Journal::open(dir.path(), 100, tails.clone()).unwrap();
        let mut r = tails.resend(IpAddr::from(peer));
        assert_eq!(resent(&mut r, &["a", "b", "c"]), [true, true, false]);
        // The record of "c" is gone for good: the output reaching 150 later does not revive it.
        let tails = std::sync::Arc::new(Tails::new(WINDOW));
        let _journal = Journal::open(dir.path(), 150, tails.clone()).unwrap();
        let mut r = tails.resend(IpAddr::from(peer));
        assert_eq!(resent(&mut r, &["b", "c"]), [true, false]);
        assert_eq!(std::fs::read(&path).unwrap().len(), 2 * RECORD);
    }
}
