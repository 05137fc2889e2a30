//! Tailing real files: rotation, truncation, restarts from checkpoints, and a property test that
//! random writes, rotations, polls and restarts deliver every line exactly once, in order.

#![allow(clippy::unwrap_used)]

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use proptest::prelude::*;
use vigil_tail::{CheckpointFile, StartAt, Tailer};

fn append(path: &Path, text: &str) {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

fn poll(t: &mut Tailer) -> Vec<String> {
    // Everything ready: poll again while a poll stopped at its byte budget.
    let mut lines = Vec::new();
    loop {
        let (got, more) = poll_once(t);
        lines.extend(got);
        if !more {
            return lines;
        }
    }
}

/// One poll (which may stop at its byte budget): the lines, and whether more is ready.
fn poll_once(t: &mut Tailer) -> (Vec<String>, bool) {
    let mut out = Vec::new();
    let report = t.poll(&mut out).unwrap();
    (
        out.into_iter()
            .map(|l| String::from_utf8(l.bytes).unwrap())
            .collect(),
        report.more,
    )
}

#[test]
fn lines_only_once_complete() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let mut t = Tailer::new(&log, StartAt::Beginning, 1024).unwrap();
    assert!(poll(&mut t).is_empty(), "no file yet");
    append(&log, "one\ntw");
    assert_eq!(poll(&mut t), ["one"]);
    append(&log, "o\r\nthree\n");
    assert_eq!(
        poll(&mut t),
        ["two", "three"],
        "partial completed; CRLF trimmed"
    );
    assert!(poll(&mut t).is_empty());
}

#[test]
fn start_at_end_skips_history() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "old\n");
    let mut t = Tailer::new(&log, StartAt::End, 1024).unwrap();
    append(&log, "new\n");
    assert_eq!(poll(&mut t), ["new"]);
}

#[test]
fn rotation_reads_the_old_file_to_its_end_first() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "a\nb\n");
    let mut t = Tailer::new(&log, StartAt::Beginning, 1024).unwrap();
    assert_eq!(poll(&mut t), ["a", "b"]);
    // logrotate renames; the writer still appends to the old file, then reopens.
    std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    append(&dir.path().join("app.log.1"), "c\nlast-without-newline");
    // No new file yet: keep reading the old one; its unterminated line may still grow.
    assert_eq!(poll(&mut t), ["c"]);
    append(&log, "d\n");
    // The new file appeared: the old one is finished, unterminated last line included.
    assert_eq!(poll(&mut t), ["last-without-newline", "d"]);
    assert!(poll(&mut t).is_empty());
}

#[test]
fn rotation_order_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "a\n");
    let mut t = Tailer::new(&log, StartAt::Beginning, 1024).unwrap();
    assert_eq!(poll(&mut t), ["a"]);
    std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    append(&dir.path().join("app.log.1"), "b\n");
    append(&log, "c\n");
    let mut report_out = Vec::new();
    let report = t.poll(&mut report_out).unwrap();
    assert!(report.rotated);
    let lines: Vec<String> = report_out
        .into_iter()
        .map(|l| String::from_utf8(l.bytes).unwrap())
        .collect();
    assert_eq!(lines, ["b", "c"]);
}

#[test]
fn truncation_restarts_at_the_beginning() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "a\nb\n");
    let mut t = Tailer::new(&log, StartAt::Beginning, 1024).unwrap();
    assert_eq!(poll(&mut t), ["a", "b"]);
    // copytruncate
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, "c\n");
    let mut out = Vec::new();
    let report = t.poll(&mut out).unwrap();
    assert!(report.truncated);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].bytes, b"c");
}

#[test]
fn restart_from_a_checkpoint_neither_repeats_nor_skips() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let store = dir.path().join("checkpoints.json");
    append(&log, "1\n2\n3\n");
    let mut t = Tailer::new(&log, StartAt::Beginning, 1024).unwrap();
    assert_eq!(poll(&mut t), ["1", "2", "3"]);
    let mut file = CheckpointFile::default();
    file.files
        .insert(log.clone(), t.checkpoint().unwrap().unwrap());
    std::fs::write(&store, serde_json::to_vec(&file).unwrap()).unwrap();
    drop(t);
    append(&log, "4\n5\n");
    let saved: CheckpointFile = serde_json::from_slice(&std::fs::read(&store).unwrap()).unwrap();
    let checkpoint = saved.files[&log].clone();
    let mut t = Tailer::resume(&log, &checkpoint, 1024).unwrap();
    assert_eq!(poll(&mut t), ["4", "5"]);
}

#[test]
fn restart_after_a_rotation_while_down_reads_the_old_rest_first() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "1\n2\n");
    let mut t = Tailer::new(&log, StartAt::Beginning, 1024).unwrap();
    assert_eq!(poll(&mut t), ["1", "2"]);
    let checkpoint = t.checkpoint().unwrap().unwrap();
    drop(t);
    append(&log, "3\n");
    std::fs::rename(&log, dir.path().join("app.log-20261122")).unwrap();
    append(&log, "4\n5\n");
    let mut t = Tailer::resume(&log, &checkpoint, 1024).unwrap();
    assert_eq!(poll(&mut t), ["3", "4", "5"]);
}

#[test]
fn a_replaced_file_is_read_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "old content\n");
    let mut t = Tailer::new(&log, StartAt::Beginning, 1024).unwrap();
    poll(&mut t);
    let checkpoint = t.checkpoint().unwrap().unwrap();
    drop(t);
    std::fs::remove_file(&log).unwrap();
    append(&log, "fresh\n");
    let mut t = Tailer::resume(&log, &checkpoint, 1024).unwrap();
    assert_eq!(poll(&mut t), ["fresh"]);
}

#[test]
fn oversized_lines_are_cut_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, &format!("{}\nok\n", "x".repeat(50)));
    let mut t = Tailer::new(&log, StartAt::Beginning, 10).unwrap();
    let mut out = Vec::new();
    let report = t.poll(&mut out).unwrap();
    assert_eq!(report.oversized, 1);
    assert_eq!((out[0].bytes.len(), out[0].truncated), (10, true));
    assert_eq!(out[1].bytes, b"ok");
}

#[derive(Debug, Clone)]
enum Op {
    Write(u8),
    Rotate,
    Poll,
    /// Stop (saving a checkpoint) when running; resume from it when stopped.
    StopOrStart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![4 => (1u8..5).prop_map(Op::Write), 1 => Just(Op::Rotate), 3 => Just(Op::Poll), 2 => Just(Op::StopOrStart)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn every_line_exactly_once_in_order(
        ops in proptest::collection::vec(op(), 1..40),
        budget in prop_oneof![Just(usize::MAX), 1usize..40],
    ) {
        let new = |log: &Path| Tailer::new(log, StartAt::Beginning, 1024).unwrap().with_poll_budget(budget);
        let resume = |log: &Path, c: &vigil_tail::Checkpoint| Tailer::resume(log, c, 1024).unwrap().with_poll_budget(budget);
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let mut written: Vec<String> = Vec::new();
        let mut delivered: Vec<String> = Vec::new();
        let mut rotations = 0;
        let mut running = Some(new(&log));
        let mut stopped: Option<Option<vigil_tail::Checkpoint>> = None;
        for op in ops {
            match op {
                Op::Write(n) => {
                    for _ in 0..n {
                        let line = format!("line-{}", written.len());
                        append(&log, &format!("{line}\n"));
                        written.push(line);
                    }
                }
                Op::Rotate => {
                    // At most one rotated generation may be unread (logrotate keeps the newest
                    // rotation uncompressed): poll first when running; when stopped, only one
                    // rotation happens before the restart.
                    if let Some(t) = running.as_mut() {
                        delivered.extend(poll(t));
                    } else if matches!(stopped, Some(None)) {
                        // A file the tailer never saw (no checkpoint to find it by) cannot be
                        // followed through rotations while stopped.
                        continue;
                    }
                    rotations += 1;
                    if log.exists() {
                        std::fs::rename(&log, dir.path().join(format!("app.log.{rotations}"))).unwrap();
                    }
                }
                Op::Poll => {
                    if let Some(t) = running.as_mut() {
                        delivered.extend(poll_once(t).0);
                    }
                }
                Op::StopOrStart => match running.take() {
                    Some(mut t) => stopped = Some(t.checkpoint().unwrap()),
                    None => {
                        running = Some(match stopped.take().flatten() {
                            Some(c) => resume(&log, &c),
                            None => new(&log),
                        });
                    }
                },
            }
        }
        let mut t = match running {
            Some(t) => t,
            None => match stopped.flatten() {
                Some(c) => resume(&log, &c),
                None => new(&log),
            },
        };
        delivered.extend(poll(&mut t));
        delivered.extend(poll(&mut t));
        prop_assert_eq!(delivered, written);
    }
}

#[test]
fn a_backlog_is_read_over_several_polls_and_a_line_without_end_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "aaaa\nbbbb\ncccc\n");
    let mut t = Tailer::new(&log, StartAt::Beginning, 8)
        .unwrap()
        .with_poll_budget(6);
    assert_eq!(poll_once(&mut t), (vec!["aaaa".to_string()], true));
    assert_eq!(poll_once(&mut t), (vec!["bbbb".to_string()], true));
    assert_eq!(poll_once(&mut t), (vec!["cccc".to_string()], false));
    // A line that never ends is kept to its limit only, however long it grows.
    append(&log, &"z".repeat(100));
    assert_eq!(poll(&mut t), Vec::<String>::new());
    append(&log, "z\nnext\n");
    let mut out = Vec::new();
    while t.poll(&mut out).unwrap().more {}
    let got: Vec<(usize, bool)> = out.iter().map(|l| (l.bytes.len(), l.truncated)).collect();
    assert_eq!(got, [(8, true), (4, false)]);
    // Its checkpoint counts every byte of it: a restart resumes after "next".
    let c = t.checkpoint().unwrap().unwrap();
    assert_eq!(c.offset, 15 + 101 + 1 + 5);
}
