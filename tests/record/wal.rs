//! The group-commit log: what many threads append is in the file, whole, in
//! each thread's order, and durable when `append_sync` returns.

use std::collections::HashMap;
use std::fs::File;

use mwsr::record::{Mode, Reader, Wal};

use super::read_all;

/// Thread `t`'s `n`-th record: its id first, then a length that varies
/// from empty to larger than the batches of the test's logs.
fn record(t: usize, n: usize) -> Vec<u8> {
    let mut r = format!("{t} {n} ").into_bytes();
    r.resize(
        r.len() + (n * 7919 + t * 104_729) % 20_000,
        b'a' + (n % 26) as u8,
    );
    r
}

/// The records of a closed log: it ends at its last record.
fn read_file(path: &std::path::Path) -> Vec<Vec<u8>> {
    read_all(&std::fs::read(path).unwrap(), Mode::Strict).unwrap()
}

/// The records of a log still open (or left by a crash), whose file runs on
/// past its last record with zeros: read as after a crash, and with no
/// damage anywhere.
fn read_live(path: &std::path::Path) -> Vec<Vec<u8>> {
    let mut reader = Reader::tolerant(File::open(path).unwrap());
    let records = reader.records().collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(reader.corruptions(), 0, "damage in {}", path.display());
    records
}

#[test]
fn many_threads_append_and_every_record_is_in_the_file_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    // Small batches, so records larger than a batch go through too.
    let wal = Wal::from_file(File::create(&path).unwrap(), 0, 4096).unwrap();
    let (threads, per_thread) = (8, 150);
    std::thread::scope(|s| {
        for t in 0..threads {
            let wal = &wal;
            s.spawn(move || {
                for n in 0..per_thread {
                    if n % 3 == 0 {
                        wal.append(&record(t, n)).unwrap();
                    } else {
                        wal.append_sync(&record(t, n)).unwrap();
                    }
                }
            });
        }
    });
    wal.close().unwrap();
    let stats = wal.stats();
    assert_eq!(stats.records, (threads * per_thread) as u64);
    assert!(stats.syncs >= 1 && stats.syncs <= stats.records);
    assert_eq!(stats.bytes, std::fs::metadata(&path).unwrap().len());

    let mut next = HashMap::new();
    for r in read_file(&path) {
        let text = String::from_utf8_lossy(&r);
        let mut ids = text
            .split(' ')
            .map(|s| s.parse::<usize>().unwrap_or(usize::MAX));
        let (t, n) = (ids.next().unwrap(), ids.next().unwrap());
        let expected = next.entry(t).or_insert(0);
        assert_eq!(n, *expected, "thread {t}'s records out of order");
        assert_eq!(r, record(t, n));
        *expected += 1;
    }
    assert!((0..threads).all(|t| next[&t] == per_thread));
}

#[test]
fn a_synced_record_is_in_the_file_before_append_sync_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let wal = Wal::create(&path).unwrap();
    for n in 0..20 {
        wal.append_sync(&record(0, n)).unwrap();
        // Read while the log is open: the record must be there already.
        let records = read_live(&path);
        assert_eq!(records.len(), n + 1);
        assert_eq!(records[n], record(0, n));
    }
    wal.append(b"unsynced").unwrap();
    wal.sync().unwrap();
    assert_eq!(read_live(&path).last().unwrap(), b"unsynced");
    wal.close().unwrap();
    assert_eq!(read_file(&path).len(), 21);
}

#[test]
fn open_appends_to_an_existing_log_keeping_its_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let first: Vec<_> = (0..5).map(|n| record(1, n)).collect();
    let wal = Wal::create(&path).unwrap();
    first.iter().for_each(|r| wal.append(r).unwrap());
    wal.close().unwrap();
    let wal = Wal::open(&path).unwrap();
    let second: Vec<_> = (0..5).map(|n| record(2, n)).collect();
    second.iter().for_each(|r| wal.append(r).unwrap());
    drop(wal); // closes, syncing the rest
    let mut reader = Reader::new(File::open(&path).unwrap());
    let all: Vec<_> = reader.records().collect::<Result<_, _>>().unwrap();
    assert_eq!(all, [first, second].concat());
}

#[test]
fn a_failed_write_fails_the_log_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    File::create(&path).unwrap();
    // Opened read-only: every write fails.
    let wal = Wal::from_file(File::open(&path).unwrap(), 0, 4096).unwrap();
    let e = wal.append_sync(b"lost").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(9), "EBADF, kept from the write: {e}");
    assert!(wal.append(b"later").is_err());
    assert!(wal.sync().is_err());
    assert!(wal.close().is_err());
    assert_eq!(wal.stats().records, 0);
}

#[test]
fn a_bad_capacity_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for capacity in [0, usize::MAX] {
        let file = File::create(dir.path().join("wal.log")).unwrap();
        let e = Wal::from_file(file, 0, capacity).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{capacity}");
    }
}

/// Under contention most syncs return for a record another thread's commit
/// carried (the follower's path): each is in the file before it returns.
#[test]
fn every_thread_finds_its_synced_record_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let wal = Wal::create(&path).unwrap();
    std::thread::scope(|s| {
        for t in 0..6 {
            let (wal, path) = (&wal, &path);
            s.spawn(move || {
                for n in 0..25 {
                    let mine = format!("{t} {n}").into_bytes();
                    wal.append_sync(&mine).unwrap();
                    assert!(read_live(path).contains(&mine), "{t} {n} not in the file");
                }
            });
        }
    });
    let stats = wal.stats();
    assert_eq!(stats.records, 150);
    assert!(stats.syncs <= 150);
    wal.close().unwrap();
}

/// A plain append becomes durable with nobody calling `sync`: the log's
/// background thread commits it.
#[test]
fn an_unsynced_append_is_written_without_a_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let wal = Wal::create(&path).unwrap();
    wal.append(b"on its own").unwrap();
    super::common::task::eventually("the append is synced", || wal.stats().syncs == 1);
    assert_eq!(read_live(&path), [b"on its own".to_vec()]);
}

/// Small batches are written into space zero-filled ahead of the log (so
/// that their syncs need not make a new file size durable); what a crash
/// leaves (here: a log never closed) reads back whole, `open` cuts the
/// zeros off before appending, and `close` cuts them too.
#[test]
fn zeros_ahead_of_the_log_are_cut_by_open_and_by_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let len = |path| std::fs::metadata(path).unwrap().len();
    let wal = Wal::create(&path).unwrap();
    let first: Vec<_> = (0..10).map(|n| format!("first {n}").into_bytes()).collect();
    first.iter().for_each(|r| wal.append_sync(r).unwrap());
    let written = wal.stats().bytes;
    assert!(len(&path) > written, "no zeros ahead of the log");
    assert_eq!(read_live(&path), first);
    std::mem::forget(wal); // as if the process died: never closed

    let wal = Wal::open(&path).unwrap();
    let end = wal.recovery();
    assert_eq!(end.intact_len, written);
    assert!(!end.torn && !end.damaged && end.corruptions == 0, "{end:?}");
    let second: Vec<_> = (0..10)
        .map(|n| format!("second {n}").into_bytes())
        .collect();
    second.iter().for_each(|r| wal.append_sync(r).unwrap());
    wal.close().unwrap();
    assert_eq!(len(&path), written + wal.stats().bytes);
    assert_eq!(read_file(&path), [first, second].concat());
}

/// A log whose process died after zero-filling ahead and before its first
/// record is all zeros: `open` takes it as an empty log.
#[test]
fn open_takes_a_file_of_zeros_as_an_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    std::fs::write(&path, vec![0; 100_000]).unwrap();
    let wal = Wal::open(&path).unwrap();
    assert_eq!(wal.recovery().intact_len, 0);
    assert_eq!(wal.recovery().cut_bytes(), 100_000);
    wal.append(b"the first").unwrap();
    wal.close().unwrap();
    assert_eq!(read_file(&path), [b"the first".to_vec()]);
}

/// A batch of many kilobytes that runs past the zeroed space is appended
/// without zero-filling (writing zeros would double its bytes); the small
/// one after it zero-fills again.
#[test]
fn a_bulk_batch_is_appended_without_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let len = |path| std::fs::metadata(path).unwrap().len();
    let wal = Wal::create(&path).unwrap();
    wal.append_sync(&vec![b'b'; 2 << 20]).unwrap();
    assert_eq!(len(&path), wal.stats().bytes, "zeros after a bulk batch");
    wal.append_sync(b"small").unwrap();
    assert!(
        len(&path) > wal.stats().bytes,
        "no zeros after a small batch"
    );
    wal.close().unwrap();
    assert_eq!(len(&path), wal.stats().bytes);
    assert_eq!(read_file(&path).len(), 2);
}
