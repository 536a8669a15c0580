//! `segments::Writer`: rotation at append boundaries, many writers, retention,
//! lossless close and drop, one writer per stream, torn and empty last
//! segments, thousands of segments, and what `sync()` promises against a
//! storage that loses everything unsynced in a crash.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::thread;

use mwsr::segments::{Naming, Writer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::segment_files;
use crate::memory::Memory;

/// An append of writer `w`, number `seq`, `len` bytes long: a header (the
/// writer, the number and the length) and a filler derived from both, so
/// that a torn, merged or misplaced append cannot pass [`check_appends`].
fn append_bytes(w: u8, seq: u32, len: usize) -> Vec<u8> {
    assert!(len >= 9);
    let mut bytes = Vec::with_capacity(len);
    bytes.push(w);
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.extend_from_slice(&(len as u32).to_le_bytes());
    bytes.extend((9..len).map(|i| (i as u32 ^ seq).wrapping_mul(31) as u8 ^ w));
    bytes
}

/// Splits `stream` into the appends it holds, checking each is whole and
/// each writer's are in order; returns each writer's count, and where each
/// append began.
fn check_appends(stream: &[u8]) -> (HashMap<u8, u32>, Vec<usize>) {
    let mut next: HashMap<u8, u32> = HashMap::new();
    let mut starts = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let w = stream[at];
        let seq = u32::from_le_bytes(stream[at + 1..at + 5].try_into().unwrap());
        let len = u32::from_le_bytes(stream[at + 5..at + 9].try_into().unwrap()) as usize;
        assert_eq!(
            &stream[at..at + len],
            append_bytes(w, seq, len),
            "a torn append at {at}"
        );
        let expected = next.entry(w).or_default();
        assert_eq!(seq, *expected, "writer {w}: out of order at {at}");
        *expected += 1;
        starts.push(at);
        at += len;
    }
    (next, starts)
}

#[test]
fn segments_end_at_append_boundaries_and_exceed_the_limit_by_less_than_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    const SEGMENT: u64 = 4096;
    const CAPACITY: usize = 1024;
    let log = Writer::builder()
        .segment_size(SEGMENT)
        .capacity(CAPACITY)
        .open(dir.path())
        .unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    for seq in 0..2000 {
        log.append(&append_bytes(0, seq, rng.random_range(9..300)))
            .unwrap();
    }
    log.close().unwrap();
    let (stream, lens) = segment_files(dir.path());
    let (counts, starts) = check_appends(&stream);
    assert_eq!(counts[&0], 2000);
    assert!(lens.len() > 10, "{} segments", lens.len());
    let mut base = 0;
    for (i, &len) in lens.iter().enumerate() {
        assert!(
            starts.binary_search(&(base as usize)).is_ok(),
            "segment {i} begins inside an append"
        );
        if i + 1 < lens.len() {
            assert!(len >= SEGMENT, "segment {i} sealed early: {len}");
            assert!(len < SEGMENT + CAPACITY as u64, "segment {i}: {len}");
        }
        base += len;
    }
    let stats = log.stats();
    assert_eq!(stats.segments_created, lens.len() as u64);
    assert_eq!(stats.bytes_written, stream.len() as u64);
    assert_eq!(stats.end, stream.len() as u64);
    assert_eq!(stats.current_segment, None, "closed");
}

/// An append larger than the buffer still lands in one segment.
#[test]
fn a_large_vectored_append_is_not_split() {
    let dir = tempfile::tempdir().unwrap();
    let log = Writer::builder()
        .segment_size(100)
        .capacity(64)
        .open(dir.path())
        .unwrap();
    log.append(&append_bytes(0, 0, 50)).unwrap();
    let big = append_bytes(0, 1, 1000);
    log.append_v(&[&big[..10], &big[10..500], &big[500..]])
        .unwrap();
    log.append(&append_bytes(0, 2, 50)).unwrap();
    log.close().unwrap();
    let (stream, lens) = segment_files(dir.path());
    check_appends(&stream);
    assert_eq!(lens, [1050, 50]);
}

/// 8 threads, 64 MiB of random-sized appends, 1 MiB segments: every append
/// whole, each writer's in order, every byte there (by hash).
#[test]
fn eight_writers_64_mib_into_1_mib_segments() {
    const WRITERS: u8 = 8;
    const BYTES: usize = 64 << 20;
    let dir = tempfile::tempdir().unwrap();
    let log = Writer::builder()
        .segment_size(1 << 20)
        .capacity(64 << 10)
        .open(dir.path())
        .unwrap();
    let hashes: Vec<(u32, u64)> = thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let log = log.clone();
                s.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(u64::from(w));
                    let (mut written, mut seq, mut hash) = (0, 0u32, 0u64);
                    while written < BYTES / WRITERS as usize {
                        let bytes = append_bytes(w, seq, rng.random_range(9..4000));
                        hash = fold(hash, &bytes);
                        log.append(&bytes).unwrap();
                        written += bytes.len();
                        seq += 1;
                    }
                    (seq, hash)
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    drop(log); // the last handle: closes, losslessly
    let (stream, lens) = segment_files(dir.path());
    let (counts, starts) = check_appends(&stream);
    let mut per_writer: HashMap<u8, u64> = HashMap::new();
    for (i, &at) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(stream.len());
        let hash = per_writer.entry(stream[at]).or_default();
        *hash = fold(*hash, &stream[at..end]);
    }
    for (w, &(count, hash)) in hashes.iter().enumerate() {
        let w = w as u8;
        assert_eq!(counts[&w], count, "writer {w}'s appends");
        assert_eq!(per_writer[&w], hash, "writer {w}'s bytes");
    }
    // 64 MiB in segments of 1 MiB that may exceed it by less than a batch.
    assert!((60..=66).contains(&lens.len()), "{} segments", lens.len());
}

fn fold(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[test]
fn retention_by_count_keeps_the_newest_also_across_open() {
    let dir = tempfile::tempdir().unwrap();
    // A capacity below two appends: each batch is one append, so each
    // segment is one append.
    let log = Writer::builder()
        .segment_size(100)
        .capacity(128)
        .keep_segments(3)
        .open(dir.path())
        .unwrap();
    for seq in 0..50 {
        log.append(&append_bytes(0, seq, 100)).unwrap();
        log.sync().unwrap();
        let (_, lens) = segment_files_from(dir.path());
        assert!(
            lens.len() <= 3,
            "{} segments after append {seq}",
            lens.len()
        );
    }
    log.close().unwrap();
    let (stream, lens) = segment_files_from(dir.path());
    assert_eq!(lens.len(), 3);
    assert_eq!(log.stats().segments_deleted, 47);
    // The newest three appends, each a segment of its own.
    assert_eq!(
        stream,
        [47, 48, 49].map(|s| append_bytes(0, s, 100)).concat()
    );

    // Reopened with a lower limit, the same rule applies at once.
    let log = Writer::builder()
        .segment_size(100)
        .capacity(128)
        .keep_segments(2)
        .open(dir.path())
        .unwrap();
    assert_eq!(segment_files_from(dir.path()).1.len(), 2);
    assert_eq!(log.stats().segments_deleted, 1);
    log.append(&append_bytes(0, 50, 100)).unwrap();
    log.close().unwrap();
    assert_eq!(
        segment_files_from(dir.path()).0,
        [49, 50].map(|s| append_bytes(0, s, 100)).concat()
    );
}

/// The stream's bytes starting at the first segment still kept.
fn segment_files_from(dir: &Path) -> (Vec<u8>, Vec<u64>) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".seg"))
        .collect();
    names.sort();
    let mut stream = Vec::new();
    let mut lens = Vec::new();
    for name in names {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        lens.push(bytes.len() as u64);
        stream.extend_from_slice(&bytes);
    }
    (stream, lens)
}

#[test]
fn retention_by_bytes_counts_the_open_segment_and_never_deletes_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = Writer::builder()
        .segment_size(1000)
        .capacity(1024)
        .keep_bytes(2500)
        .open(dir.path())
        .unwrap();
    for seq in 0..20 {
        log.append(&append_bytes(0, seq, 1000)).unwrap();
        log.sync().unwrap();
    }
    // After each batch, with the open segment's bytes: one sealed segment
    // stays beside the full open one.
    let (stream, lens) = segment_files_from(dir.path());
    assert_eq!(lens, [1000, 1000]);
    assert_eq!(stream, [18, 19].map(|s| append_bytes(0, s, 1000)).concat());
    log.close().unwrap();

    // One append larger than the limit: its segment is kept all the same.
    let log = Writer::builder()
        .segment_size(1000)
        .keep_bytes(2500)
        .open(dir.path())
        .unwrap();
    log.append(&append_bytes(0, 20, 5000)).unwrap();
    log.close().unwrap();
    let (stream, lens) = segment_files_from(dir.path());
    assert_eq!(lens, [5000]);
    assert_eq!(stream, append_bytes(0, 20, 5000));
}

#[test]
fn close_and_drop_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = Writer::builder()
        .linger(std::time::Duration::from_secs(3600)) // nothing leaves on its own
        .capacity(1 << 20)
        .open(dir.path())
        .unwrap();
    let other = log.clone();
    for seq in 0..100 {
        other.append(&append_bytes(1, seq, 50)).unwrap();
    }
    drop(other);
    assert_eq!(log.stats().bytes_written, 0, "lingering");
    log.close().unwrap();
    assert_eq!(check_appends(&segment_files(dir.path()).0).0[&1], 100);
    let err = log.append(b"late").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    assert!(log.sync().is_err());
    log.close().unwrap(); // idempotent

    // Dropping the last handle closes: the next writer resumes at the end.
    let log = Writer::open(dir.path()).unwrap();
    log.append(&append_bytes(1, 100, 50)).unwrap();
    drop(log);
    assert_eq!(check_appends(&segment_files(dir.path()).0).0[&1], 101);
}

#[test]
fn a_second_writer_on_a_stream_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let first = Writer::open(dir.path()).unwrap();
    let err = Writer::open(dir.path()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    assert!(err.to_string().contains("another writer"), "{err}");
    // Another stream in the same directory is another lock.
    let other = Writer::builder()
        .naming(Naming::new("other-", ".seg"))
        .open(dir.path())
        .unwrap();
    other.append(b"elsewhere").unwrap();
    other.close().unwrap();
    first.append(&append_bytes(0, 0, 20)).unwrap();
    first.close().unwrap();
    let second = Writer::open(dir.path()).unwrap();
    second.append(&append_bytes(0, 1, 20)).unwrap();
    second.close().unwrap();
    assert_eq!(check_appends(&segment_files(dir.path()).0).0[&0], 2);
}

/// A crash in the middle of a write leaves the last segment cut short; the
/// next writer resumes at what is there, in a new segment.
#[test]
fn a_torn_last_segment_resumes_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = Writer::builder()
        .segment_size(1 << 20)
        .open(dir.path())
        .unwrap();
    for seq in 0..10 {
        log.append(&append_bytes(0, seq, 100)).unwrap();
    }
    log.close().unwrap();
    let last = dir.path().join(Naming::default().name(0));
    let file = std::fs::OpenOptions::new().write(true).open(&last).unwrap();
    file.set_len(950).unwrap(); // the tenth append, torn
    drop(file);
    let log = Writer::open(dir.path()).unwrap();
    assert_eq!(log.stats().end, 950);
    log.append(b"after").unwrap();
    log.close().unwrap();
    let (stream, lens) = segment_files(dir.path());
    assert_eq!(lens, [950, 5]);
    assert_eq!(&stream[950..], b"after");
}

/// A crash between creating a segment and writing to it leaves it empty:
/// the next writer takes its name.
#[test]
fn an_empty_last_segment_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let log = Writer::open(dir.path()).unwrap();
    log.append(b"first").unwrap();
    log.close().unwrap();
    std::fs::write(dir.path().join(Naming::default().name(5)), b"").unwrap();
    let log = Writer::open(dir.path()).unwrap();
    log.append(b"second").unwrap();
    log.close().unwrap();
    let (stream, lens) = segment_files(dir.path());
    assert_eq!((&stream[..], &lens[..]), (&b"firstsecond"[..], &[5, 6][..]));
}

#[test]
fn a_gap_between_segments_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(Naming::default().name(0)), b"abc").unwrap();
    std::fs::write(dir.path().join(Naming::default().name(10)), b"def").unwrap();
    let err = Writer::open(dir.path()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
}

#[test]
fn bad_settings_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    for builder in [
        Writer::builder().segment_size(0),
        Writer::builder().keep_segments(0),
        Writer::builder().capacity(0),
    ] {
        let err = builder.open(dir.path()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    }
}

#[test]
fn thousands_of_segments_reopen_at_the_right_end() {
    let dir = tempfile::tempdir().unwrap();
    // A capacity below two appends: one append per batch, so per segment.
    let open = || {
        Writer::builder()
            .segment_size(10)
            .capacity(16)
            .open(dir.path())
            .unwrap()
    };
    let log = open();
    for seq in 0..3000 {
        log.append(&append_bytes(0, seq, 10)).unwrap();
        if seq % 500 == 0 {
            log.sync().unwrap();
        }
    }
    log.close().unwrap();
    assert_eq!(log.stats().segments_created, 3000);
    let log = open();
    assert_eq!(log.stats().end, 30_000);
    log.append(&append_bytes(0, 3000, 10)).unwrap();
    log.close().unwrap();
    let (stream, lens) = segment_files(dir.path());
    assert_eq!(lens.len(), 3001);
    assert_eq!(check_appends(&stream).0[&0], 3001);
}

/// What `sync()` promises, against a storage that, in a crash, loses every
/// byte not synced and every name created or deleted since the last
/// `Storage::sync`: everything appended before a `sync()` that returned is
/// there after the crash, whatever the writer was doing when it came.
#[test]
fn synced_appends_survive_a_crash_that_drops_unsynced_data() {
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..30 {
        let memory = Arc::new(Memory::default());
        let log = Writer::builder()
            .segment_size(rng.random_range(50..2000))
            .capacity(256)
            .keep_segments(1000)
            .open_storage(memory.clone())
            .unwrap();
        let mut appended = Vec::new();
        let mut acknowledged = 0;
        let appends = rng.random_range(1..400);
        for seq in 0..appends {
            let bytes = append_bytes(0, seq, rng.random_range(9..200));
            log.append(&bytes).unwrap();
            appended.extend_from_slice(&bytes);
            if rng.random_bool(0.1) {
                log.sync().unwrap();
                acknowledged = appended.len();
            }
        }
        let crashed = Arc::new(memory.crash());
        std::mem::forget(log); // the process died: nothing more happens
        let reopened = Writer::builder()
            .open_storage(crashed.clone())
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        reopened.close().unwrap();
        let survived = crashed.stream(&Naming::default());
        assert!(
            survived.len() >= acknowledged,
            "round {round}: {acknowledged} bytes acknowledged, {} survived",
            survived.len()
        );
        assert_eq!(
            survived[..],
            appended[..survived.len()],
            "round {round}: the stream after the crash is not what was appended"
        );
    }
}

/// A storage that fails is reported, and the writer stays failed.
#[test]
fn a_failing_storage_fails_the_writer_for_good() {
    let memory = Arc::new(Memory::default());
    let log = Writer::builder()
        .segment_size(100)
        .open_storage(memory.clone())
        .unwrap();
    log.append(&[1; 150]).unwrap();
    log.sync().unwrap();
    memory.fail_writes();
    log.append(&[2; 10]).unwrap(); // accepted: the buffer has room
    let err = log.sync().unwrap_err();
    assert!(err.to_string().contains("injected"), "{err}");
    assert!(log.append(&[3; 10]).is_err());
    assert!(log.sync().is_err());
    assert!(log.close().is_err());
    // Closing gave the stream up: another writer may open it.
    memory.heal();
    let next = Writer::builder().open_storage(memory.clone()).unwrap();
    next.close().unwrap();
}

#[test]
fn a_segment_older_than_its_age_limit_is_sealed_at_the_next_batch() {
    let dir = tempfile::tempdir().unwrap();
    let age = std::time::Duration::from_millis(20);
    let log = Writer::builder().segment_age(age).open(dir.path()).unwrap();
    log.append(b"one").unwrap();
    log.sync().unwrap();
    std::thread::sleep(age * 2);
    log.append(b"two").unwrap();
    log.append(b"three").unwrap(); // may join either batch: both young
    log.close().unwrap();
    let (stream, lens) = segment_files(dir.path());
    assert_eq!(stream, b"onetwothree");
    assert_eq!(lens[0], 3, "the old segment was sealed before `two`");
    assert!(lens.len() >= 2);
}

#[test]
fn retention_by_age_deletes_old_segments_also_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = Writer::builder()
        .segment_size(10)
        .capacity(16)
        .open(dir.path())
        .unwrap();
    for seq in 0..5 {
        log.append(&append_bytes(0, seq, 10)).unwrap();
    }
    log.close().unwrap();
    // The first three were last written two hours ago.
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for base in [0, 10, 20] {
        let path = dir.path().join(Naming::default().name(base));
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let log = Writer::builder()
        .keep_for(std::time::Duration::from_secs(3600))
        .open(dir.path())
        .unwrap();
    assert_eq!(log.stats().segments_deleted, 3);
    assert_eq!(log.stats().end, 50, "the stream's offsets do not change");
    log.close().unwrap();
    assert_eq!(
        segment_files_from(dir.path()).0,
        [3, 4].map(|s| append_bytes(0, s, 10)).concat()
    );
}

/// Each `tracing` event is one append: never torn, never split across two
/// segments.
#[cfg(feature = "tracing")]
#[test]
fn tracing_events_are_whole_and_never_split_across_segments() {
    use crate::common::{LineChecker, line_body};
    const THREADS: usize = 4;
    const EVENTS: usize = 2000;
    let dir = tempfile::tempdir().unwrap();
    let log = Writer::builder()
        .segment_size(4096)
        .capacity(4096)
        .open(dir.path())
        .unwrap();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(log.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        thread::scope(|s| {
            for w in 0..THREADS {
                let dispatch = tracing::dispatcher::get_default(|d| d.clone());
                s.spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        for n in 0..EVENTS {
                            tracing::info!("{}", line_body(w, n));
                        }
                    })
                });
            }
        });
    });
    log.close().unwrap();
    let mut lines = LineChecker::new(THREADS);
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    names.sort();
    assert!(names.len() > 10, "{} segments", names.len());
    for name in names {
        // Every segment holds whole events only.
        lines.feed(&std::fs::read_to_string(name).unwrap());
    }
    lines.finish(EVENTS);
}
