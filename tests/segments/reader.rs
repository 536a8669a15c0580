//! `segments::Reader`: reading across segments, seeking, the end of the
//! stream and what comes after it, follow mode, removed segments, gaps.

use std::fs;
use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use mwsr::segments::{Dir, Entry, Naming, Reader, SegmentWrite, Stop, Storage, Writer};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::common::task::spawn;

/// `len` random bytes: no period, so a read from a wrong offset shows.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

/// Writes `data` as segment files of `sizes` (which must add up to its
/// length), the first at stream offset `first`; returns the bases.
fn segment_files(
    dir: &Path,
    naming: &Naming,
    first: u64,
    data: &[u8],
    sizes: &[usize],
) -> Vec<u64> {
    assert_eq!(sizes.iter().sum::<usize>(), data.len());
    let mut bases = Vec::new();
    let mut at = 0;
    for &size in sizes {
        let base = first + at as u64;
        fs::write(dir.join(naming.name(base)), &data[at..at + size]).unwrap();
        bases.push(base);
        at += size;
    }
    bases
}

/// Writes `data` through a `Writer` in appends of random lengths (up to
/// `max_append`), with segments of `segment_size`; returns how many
/// segments it made.
fn write_stream(dir: &Path, data: &[u8], segment_size: u64, max_append: usize) -> u64 {
    // Small batches, so that segments end near their size.
    let log = Writer::builder()
        .segment_size(segment_size)
        .capacity(segment_size as usize / 4)
        .open(dir)
        .unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let mut at = 0;
    while at < data.len() {
        let n = rng.random_range(1..=max_append).min(data.len() - at);
        log.append(&data[at..at + n]).unwrap();
        at += n;
    }
    log.close().unwrap();
    log.stats().segments_created
}

fn read_all(reader: &mut Reader) -> Vec<u8> {
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    out
}

/// The error of `result`, which must be one, of `kind`, whose message
/// holds `text`.
fn assert_error<T: std::fmt::Debug>(result: io::Result<T>, kind: io::ErrorKind, text: &str) {
    let err = result.expect_err("an error");
    assert_eq!(err.kind(), kind, "{err}");
    assert!(
        err.to_string().contains(text),
        "{err:?} does not say {text:?}"
    );
}

/// A `Dir` that counts listings and ranged reads, and fails them on demand.
#[derive(Debug)]
struct Probe {
    dir: Dir,
    lists: AtomicUsize,
    reads: AtomicUsize,
    fail_lists: AtomicBool,
    fail_reads: AtomicBool,
}

impl Probe {
    fn new(dir: &Path) -> Arc<Self> {
        Arc::new(Self {
            dir: Dir::new(dir).unwrap(),
            lists: AtomicUsize::new(0),
            reads: AtomicUsize::new(0),
            fail_lists: AtomicBool::new(false),
            fail_reads: AtomicBool::new(false),
        })
    }

    fn counts(&self) -> (usize, usize) {
        (
            self.lists.load(Ordering::SeqCst),
            self.reads.load(Ordering::SeqCst),
        )
    }
}

impl Storage for Probe {
    fn list(&self, prefix: &str, after: Option<&str>) -> io::Result<Vec<Entry>> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        if self.fail_lists.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected listing failure"));
        }
        self.dir.list(prefix, after)
    }

    fn read(&self, name: &str, offset: u64, len: u64) -> io::Result<Box<dyn Read + Send>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        if self.fail_reads.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected read failure"));
        }
        self.dir.read(name, offset, len)
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn SegmentWrite>> {
        self.dir.create(name)
    }

    fn delete(&self, name: &str) -> io::Result<()> {
        self.dir.delete(name)
    }

    fn sync(&self) -> io::Result<()> {
        Storage::sync(&self.dir)
    }

    fn syncs_open_segments(&self) -> bool {
        self.dir.syncs_open_segments()
    }

    fn lock(&self, lock_name: &str) -> io::Result<Box<dyn Send + Sync>> {
        self.dir.lock(lock_name)
    }
}

#[test]
fn reading_across_many_segments_gives_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(500_000, 1);
    let segments = write_stream(dir.path(), &data, 4096, 700);
    assert!(segments > 100, "only {segments} segments");

    assert_eq!(read_all(&mut Reader::open(dir.path()).unwrap()), data);

    // Small reads of every size through the buffer, and reads larger than
    // the buffer, which bypass it.
    for capacity in [1, 100, 4096, Reader::DEFAULT_CAPACITY] {
        let mut reader = Reader::builder()
            .capacity(capacity)
            .open(dir.path())
            .unwrap();
        let mut rng = StdRng::seed_from_u64(capacity as u64);
        let mut out = Vec::new();
        let mut chunk = vec![0; 3 * capacity.max(1000)];
        loop {
            let want = rng.random_range(1..=chunk.len());
            let n = reader.read(&mut chunk[..want]).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
            assert_eq!(reader.position(), out.len() as u64);
        }
        assert!(out == data, "capacity {capacity}: the stream read differs");
    }
}

#[test]
fn lines_read_whole_across_segment_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let log = Writer::builder()
        .segment_size(100)
        .capacity(64)
        .open(dir.path())
        .unwrap();
    for n in 0..1000 {
        writeln!(log, "line {n} {}", "x".repeat(n % 37)).unwrap();
    }
    log.close().unwrap();
    assert!(log.stats().segments_created > 100);

    let mut reader = Reader::builder().capacity(64).open(dir.path()).unwrap();
    let mut line = String::new();
    for n in 0..1000 {
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, format!("line {n} {}\n", "x".repeat(n % 37)));
    }
    line.clear();
    assert_eq!(reader.read_line(&mut line).unwrap(), 0);
    assert_eq!(reader.position(), log.stats().end);
}

#[test]
fn seeks_to_a_thousand_random_offsets_read_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(1 << 20, 2);
    assert!(write_stream(dir.path(), &data, 16 << 10, 5000) > 40);

    let mut reader = Reader::builder().capacity(4096).open(dir.path()).unwrap();
    let mut rng = StdRng::seed_from_u64(4);
    let mut out = vec![0; 10_000];
    for _ in 0..1000 {
        let at = rng.random_range(0..=data.len());
        let len = rng.random_range(0..=out.len()).min(data.len() - at);
        let from = if rng.random_bool(0.5) {
            SeekFrom::Start(at as u64)
        } else {
            SeekFrom::Current(at as i64 - reader.position() as i64)
        };
        assert_eq!(reader.seek(from).unwrap(), at as u64);
        assert_eq!(reader.position(), at as u64);
        reader.read_exact(&mut out[..len]).unwrap();
        assert!(
            out[..len] == data[at..at + len],
            "{len} bytes at {at} differ"
        );
        assert_eq!(reader.position(), (at + len) as u64);
    }
    // And the rest of the stream from the last position.
    let at = reader.position() as usize;
    assert!(read_all(&mut reader) == data[at..]);
}

#[test]
fn seek_from_end_and_from_current() {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(10_000, 5);
    let log = Writer::builder()
        .segment_size(1000)
        .open(dir.path())
        .unwrap();
    log.append(&data).unwrap();
    log.sync().unwrap();

    let mut reader = Reader::builder().capacity(256).open(dir.path()).unwrap();
    assert_eq!(reader.seek(SeekFrom::End(0)).unwrap(), 10_000);
    assert_eq!(reader.read(&mut [0; 8]).unwrap(), 0);
    assert_eq!(reader.seek(SeekFrom::End(-10)).unwrap(), 9990);
    let mut tail = [0; 10];
    reader.read_exact(&mut tail).unwrap();
    assert_eq!(tail, data[9990..]);

    assert_eq!(reader.seek(SeekFrom::Current(-5000)).unwrap(), 5000);
    let mut some = [0; 100];
    reader.read_exact(&mut some).unwrap();
    assert_eq!(some, data[5000..5100]);
    // Within the buffer, back and forth.
    assert_eq!(reader.seek(SeekFrom::Current(-50)).unwrap(), 5050);
    reader.read_exact(&mut some[..10]).unwrap();
    assert_eq!(some[..10], data[5050..5060]);
    assert_eq!(reader.seek(SeekFrom::Current(1000)).unwrap(), 6060);
    reader.read_exact(&mut some[..10]).unwrap();
    assert_eq!(some[..10], data[6060..6070]);
    assert_eq!(reader.stream_position().unwrap(), 6070);
    #[allow(clippy::seek_from_current)] // `seek` itself, on purpose
    let here = reader.seek(SeekFrom::Current(0)).unwrap();
    assert_eq!(here, 6070);

    // The end from a fresh listing: it has moved.
    let more = random_bytes(3000, 6);
    log.append(&more).unwrap();
    log.sync().unwrap();
    assert_eq!(reader.seek(SeekFrom::End(0)).unwrap(), 13_000);
    assert_eq!(reader.seek(SeekFrom::End(-3000)).unwrap(), 10_000);
    assert_eq!(read_all(&mut reader), more);
}

#[test]
fn bad_seeks_are_errors_naming_the_range_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let naming = Naming::default();
    let data = random_bytes(300, 7);
    // The stream's first 1000 bytes are gone.
    segment_files(dir.path(), &naming, 1000, &data, &[100, 100, 100]);

    let mut reader = Reader::open(dir.path()).unwrap();
    assert_eq!(reader.position(), 1000);
    let mut first = [0; 10];
    reader.read_exact(&mut first).unwrap();

    let range = "the stream holds offsets 1000..1300";
    assert_error(
        reader.seek(SeekFrom::Start(1301)),
        io::ErrorKind::InvalidInput,
        range,
    );
    assert_error(
        reader.seek(SeekFrom::Start(u64::MAX)),
        io::ErrorKind::InvalidInput,
        range,
    );
    assert_error(
        reader.seek(SeekFrom::End(1)),
        io::ErrorKind::InvalidInput,
        range,
    );
    assert_error(
        reader.seek(SeekFrom::Current(291)),
        io::ErrorKind::InvalidInput,
        range,
    );
    assert_error(
        reader.seek(SeekFrom::Current(i64::MIN)),
        io::ErrorKind::InvalidInput,
        range,
    );
    assert_error(
        reader.seek(SeekFrom::End(-1301)),
        io::ErrorKind::InvalidInput,
        range,
    );
    assert_error(
        reader.seek(SeekFrom::Start(999)),
        io::ErrorKind::NotFound,
        range,
    );
    assert_error(
        reader.seek(SeekFrom::End(-301)),
        io::ErrorKind::NotFound,
        range,
    );
    assert_error(reader.rewind(), io::ErrorKind::NotFound, range);
    assert_eq!(reader.available().unwrap(), 1000..1300);

    // Nothing moved: the reader goes on where it was.
    assert_eq!(reader.position(), 1010);
    assert_eq!(read_all(&mut reader), data[10..]);
    // The end itself is a place to be.
    assert_eq!(reader.seek(SeekFrom::Start(1300)).unwrap(), 1300);
    assert_eq!(reader.seek(SeekFrom::Start(1000)).unwrap(), 1000);
    assert_eq!(read_all(&mut reader), data);
}

#[test]
fn a_reader_at_the_end_sees_later_appends_without_starting_over() {
    let dir = tempfile::tempdir().unwrap();
    let log = Writer::builder().segment_size(64).open(dir.path()).unwrap();
    log.append(b"0123456789").unwrap();
    log.sync().unwrap();

    let mut reader = Reader::open(dir.path()).unwrap();
    assert_eq!(read_all(&mut reader), b"0123456789");
    assert_eq!(reader.read(&mut [0; 16]).unwrap(), 0);

    // The open segment grows in place.
    log.append(b"abcdefghij").unwrap();
    log.sync().unwrap();
    assert_eq!(log.stats().segments_created, 1);
    assert_eq!(read_all(&mut reader), b"abcdefghij");

    // New segments.
    let more = random_bytes(1000, 8);
    for part in more.chunks(50) {
        log.append(part).unwrap();
        log.sync().unwrap();
    }
    assert!(log.stats().segments_created > 10);
    assert!(read_all(&mut reader) == more);
    assert_eq!(reader.position(), 1020);
    assert_eq!(reader.read(&mut [0; 16]).unwrap(), 0);
}

#[test]
fn follow_mode_receives_data_appended_later_by_another_thread() {
    let dir = tempfile::tempdir().unwrap();
    let log = Writer::builder()
        .segment_size(500)
        .open(dir.path())
        .unwrap();
    let data = random_bytes(20_000, 9);

    let mut tail = Reader::builder()
        .follow(Duration::from_millis(1))
        .open(dir.path())
        .unwrap();
    let stop = tail.stopper();
    let len = data.len();
    let follower = spawn(move || {
        let mut out = vec![0; len];
        tail.read_exact(&mut out).map(|()| (out, tail))
    });
    let writing = data.clone();
    let writer = spawn(move || {
        for part in writing.chunks(333) {
            log.append(part).unwrap();
            log.sync().unwrap();
            thread::sleep(Duration::from_micros(200));
        }
        log.close().unwrap();
        log.stats().segments_created
    });
    assert!(writer.join() > 10);
    let (out, mut tail) = follower.join().unwrap();
    assert!(out == data, "the follower read other bytes");

    // At the end it waits, until stopped.
    let waiting = spawn(move || (tail.read(&mut [0; 16]), tail));
    thread::sleep(Duration::from_millis(20)); // most likely waiting by now
    stop.stop();
    let (read, mut tail) = waiting.join();
    assert_eq!(read.unwrap(), 0);
    assert_eq!(tail.read(&mut [0; 16]).unwrap(), 0);
    assert_eq!(tail.position(), len as u64);
}

/// The follower polls once an hour: only the stop's wake-up can end its
/// wait within the test's bound.
#[test]
fn stop_wakes_a_waiting_follower_and_later_reads_end_too() {
    let dir = tempfile::tempdir().unwrap();
    let log = Writer::open(dir.path()).unwrap();
    log.append(b"before").unwrap();
    log.sync().unwrap();

    let mut tail = Reader::builder()
        .follow(Duration::from_secs(3600))
        .open(dir.path())
        .unwrap();
    let stop = tail.stopper();
    let follower = spawn(move || {
        let mut out = Vec::new();
        // Reads "before", then waits at the end; the stop ends the wait.
        let end = tail.read_to_end(&mut out);
        (end, out, tail)
    });
    thread::sleep(Duration::from_millis(20));
    stop.stop();
    let (end, out, mut tail) = follower.join();
    end.unwrap();
    assert!(b"before".starts_with(&out), "{out:?}");
    assert!(stop.is_stopped());

    // Stopped for good: more data, and still the end.
    log.append(b"after").unwrap();
    log.sync().unwrap();
    assert_eq!(tail.read(&mut [0; 16]).unwrap(), 0);
    assert_eq!(tail.fill_buf().unwrap(), b"");
    stop.stop(); // idempotent
    assert_eq!(tail.read(&mut [0; 16]).unwrap(), 0);
}

#[test]
fn a_stop_before_the_read_ends_it_at_once_and_one_stop_serves_several_readers() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(Naming::default().name(0)), b"data").unwrap();
    let stop = Stop::new();
    let open = || {
        Reader::builder()
            .follow(Duration::from_secs(3600))
            .stopped_by(stop.clone())
            .open(dir.path())
            .unwrap()
    };
    let followers: Vec<_> = (0..3)
        .map(|_| {
            let mut tail = open();
            spawn(move || {
                let mut out = Vec::new();
                tail.read_to_end(&mut out).map(|_| out)
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(20));
    stop.stop();
    for follower in followers {
        let out = follower.join().unwrap();
        assert!(b"data".starts_with(&out), "{out:?}");
    }
    // Stopped before it read anything: nothing.
    assert_eq!(open().read(&mut [0; 4]).unwrap(), 0);
}

#[test]
fn a_segment_removed_under_the_reader_is_not_found_naming_the_earliest_offset() {
    let dir = tempfile::tempdir().unwrap();
    let naming = Naming::default();
    let data = random_bytes(400, 10);
    segment_files(dir.path(), &naming, 0, &data, &[100, 100, 100, 100]);

    let mut reader = Reader::builder().capacity(16).open(dir.path()).unwrap();
    let mut first = [0; 100];
    reader.read_exact(&mut first).unwrap();
    assert_eq!(first, data[..100]);
    // Retention removes the oldest first.
    for base in [0, 100, 200] {
        fs::remove_file(dir.path().join(naming.name(base))).unwrap();
    }

    let err = reader.read(&mut [0; 16]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    let message = err.to_string();
    assert!(
        message.contains("the earliest offset still stored is 300"),
        "{message}"
    );
    assert!(message.contains(&naming.name(100)), "{message}");
    // Still an error, not the end, until the reader moves on.
    assert_error(reader.read(&mut [0; 16]), io::ErrorKind::NotFound, "is 300");
    assert_eq!(reader.position(), 100);
    let available = reader.available().unwrap();
    assert_eq!(available, 300..400);
    reader.seek(SeekFrom::Start(available.start)).unwrap();
    assert_eq!(read_all(&mut reader), data[300..]);
}

#[test]
fn retention_under_a_lagging_reader_is_not_found_naming_the_earliest_offset() {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(5000, 11);
    let log = Writer::builder()
        .segment_size(100)
        .keep_segments(3)
        .open(dir.path())
        .unwrap();
    log.append(&data[..50]).unwrap();
    log.sync().unwrap();
    let mut reader = Reader::open(dir.path()).unwrap();
    for part in data[50..].chunks(100) {
        log.append(part).unwrap();
        log.sync().unwrap();
    }
    log.close().unwrap();
    assert!(log.stats().segments_deleted > 0);

    let earliest = fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| Naming::default().parse(e.unwrap().file_name().to_str()?))
        .min()
        .unwrap();
    assert!(earliest > 0);
    assert_error(
        reader.read(&mut [0; 16]),
        io::ErrorKind::NotFound,
        &format!("the earliest offset still stored is {earliest}"),
    );
    assert_eq!(reader.available().unwrap(), earliest..5000);
    reader.seek(SeekFrom::Start(earliest)).unwrap();
    assert!(read_all(&mut reader) == data[earliest as usize..]);
}

#[test]
fn three_thousand_tiny_segments_read_and_seek_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let naming = Naming::default();
    let mut rng = StdRng::seed_from_u64(12);
    let sizes: Vec<usize> = (0..3000).map(|_| rng.random_range(1..=8)).collect();
    let data = random_bytes(sizes.iter().sum(), 13);
    segment_files(dir.path(), &naming, 0, &data, &sizes);

    let probe = Probe::new(dir.path());
    let mut reader = Reader::builder().open_storage(probe.clone()).unwrap();
    assert!(read_all(&mut reader) == data);
    let (lists, reads) = probe.counts();
    assert_eq!(reads, 3000, "one ranged read per segment");
    assert!(
        lists <= 2,
        "listed {lists} times: once at open, once at the end"
    );

    let mut out = [0; 64];
    for _ in 0..1000 {
        let at = rng.random_range(0..=data.len());
        let len = rng.random_range(0..=out.len()).min(data.len() - at);
        reader.seek(SeekFrom::Start(at as u64)).unwrap();
        reader.read_exact(&mut out[..len]).unwrap();
        assert!(
            out[..len] == data[at..at + len],
            "{len} bytes at {at} differ"
        );
    }
    assert!(
        probe.counts().0 <= 2,
        "seeks within the stream known list nothing"
    );
    reader.seek(SeekFrom::End(-1)).unwrap();
    assert_eq!(read_all(&mut reader), data[data.len() - 1..]);
}

#[test]
fn a_segment_is_read_with_one_range_and_listed_only_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(3 << 20, 14);
    segment_files(
        dir.path(),
        &Naming::default(),
        0,
        &data,
        &[1 << 20, 2 << 20],
    );
    let probe = Probe::new(dir.path());
    let mut reader = Reader::builder().open_storage(probe.clone()).unwrap();
    assert_eq!(probe.counts(), (1, 0));

    // A byte at a time: still one range per segment, and no listing.
    let mut out = Vec::with_capacity(data.len());
    let mut byte = [0];
    while out.len() < data.len() {
        assert_eq!(reader.read(&mut byte).unwrap(), 1);
        out.push(byte[0]);
    }
    assert!(out == data);
    assert_eq!(probe.counts(), (1, 2));
    // At the end: one listing, and no new range (nothing grew).
    assert_eq!(reader.read(&mut byte).unwrap(), 0);
    assert_eq!(probe.counts(), (2, 2));
}

#[test]
fn listing_and_read_errors_are_errors_never_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = random_bytes(300, 15);
    segment_files(dir.path(), &Naming::default(), 0, &data, &[100, 200]);
    let probe = Probe::new(dir.path());
    let mut reader = Reader::builder()
        .capacity(16)
        .open_storage(probe.clone())
        .unwrap();

    probe.fail_reads.store(true, Ordering::SeqCst);
    assert_error(
        reader.read(&mut [0; 8]),
        io::ErrorKind::Other,
        "injected read failure",
    );
    probe.fail_reads.store(false, Ordering::SeqCst);
    let mut out = vec![0; 150];
    reader.read_exact(&mut out).unwrap();
    assert_eq!(out, data[..150]);

    probe.fail_lists.store(true, Ordering::SeqCst);
    let mut rest = Vec::new();
    let end = reader.read_to_end(&mut rest);
    assert_eq!(rest, data[150..], "what is known is read");
    assert_error(end, io::ErrorKind::Other, "injected listing failure");
    assert_error(
        reader.seek(SeekFrom::End(0)),
        io::ErrorKind::Other,
        "injected listing failure",
    );
    assert_error(
        reader.available(),
        io::ErrorKind::Other,
        "injected listing failure",
    );
    probe.fail_lists.store(false, Ordering::SeqCst);
    assert_eq!(reader.read(&mut [0; 8]).unwrap(), 0);
    assert_eq!(reader.position(), 300);

    probe.fail_lists.store(true, Ordering::SeqCst);
    let err = Reader::builder().open_storage(probe.clone()).unwrap_err();
    assert_eq!(err.to_string(), "injected listing failure");
}

#[test]
fn a_gap_between_segments_is_invalid_data() {
    let dir = tempfile::tempdir().unwrap();
    let naming = Naming::default();
    fs::write(dir.path().join(naming.name(0)), [1; 10]).unwrap();
    fs::write(dir.path().join(naming.name(20)), [2; 10]).unwrap();

    let mut reader = Reader::open(dir.path()).unwrap();
    let mut out = Vec::new();
    let end = reader.read_to_end(&mut out);
    assert_eq!(out, [1; 10]);
    assert_error(
        end,
        io::ErrorKind::InvalidData,
        "ends at offset 10, but the next segment begins at 20",
    );
    assert_eq!(reader.position(), 10);
    // Into the gap: the same.
    reader.seek(SeekFrom::Start(15)).unwrap();
    assert_error(reader.read(&mut [0; 4]), io::ErrorKind::InvalidData, "gap");
    // Past it, the next segment reads.
    reader.seek(SeekFrom::Start(25)).unwrap();
    assert_eq!(read_all(&mut reader), [2; 5]);

    // Overlapping segments: refused at the listing.
    fs::write(dir.path().join(naming.name(5)), [3; 10]).unwrap();
    assert_error(
        Reader::open(dir.path()),
        io::ErrorKind::InvalidData,
        "holds 10 bytes but the next begins at 5",
    );
}

#[test]
fn another_stream_in_the_same_directory_is_not_seen() {
    let dir = tempfile::tempdir().unwrap();
    let other = Naming::new("other-", ".seg");
    let ours_data = random_bytes(5000, 16);
    let other_data = random_bytes(7000, 17);
    let ours = Writer::builder()
        .segment_size(300)
        .open(dir.path())
        .unwrap();
    let theirs = Writer::builder()
        .segment_size(200)
        .naming(other.clone())
        .open(dir.path())
        .unwrap();
    for (a, b) in ours_data.chunks(100).zip(other_data.chunks(140)) {
        ours.append(a).unwrap();
        theirs.append(b).unwrap();
    }
    ours.close().unwrap();
    theirs.close().unwrap();
    // Not segments of either stream.
    fs::write(dir.path().join("00000000000000000000.seg.tmp"), b"junk").unwrap();
    fs::write(dir.path().join("0000000000000000000.seg"), b"junk").unwrap();

    assert!(read_all(&mut Reader::open(dir.path()).unwrap()) == ours_data);
    let mut reader = Reader::builder().naming(other).open(dir.path()).unwrap();
    assert!(read_all(&mut reader) == other_data);
    assert_eq!(reader.available().unwrap(), 0..7000);
    assert_eq!(reader.seek(SeekFrom::End(0)).unwrap(), 7000);
}

#[test]
fn an_empty_stream_reads_nothing_until_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut reader = Reader::open(dir.path()).unwrap();
    assert_eq!(reader.read(&mut [0; 8]).unwrap(), 0);
    assert_eq!(reader.position(), 0);
    assert_eq!(reader.seek(SeekFrom::End(0)).unwrap(), 0);
    assert_eq!(reader.available().unwrap(), 0..0);
    assert_error(
        reader.seek(SeekFrom::Start(1)),
        io::ErrorKind::InvalidInput,
        "no segments",
    );

    let log = Writer::builder().segment_size(10).open(dir.path()).unwrap();
    log.append(b"hello, ").unwrap();
    log.append(b"world").unwrap();
    log.sync().unwrap();
    assert_eq!(read_all(&mut reader), b"hello, world");
}

/// A reader opened before any segment existed starts at the first one
/// that appears, wherever retention left the stream's start.
#[test]
fn a_reader_of_an_empty_stream_starts_at_the_first_segment_that_appears() {
    let dir = tempfile::tempdir().unwrap();
    let mut reader = Reader::open(dir.path()).unwrap();
    assert_eq!(reader.read(&mut [0; 8]).unwrap(), 0);
    let data = random_bytes(30, 18);
    segment_files(dir.path(), &Naming::default(), 1000, &data, &[10, 20]);
    assert_eq!(read_all(&mut reader), data);
    assert_eq!(reader.position(), 1030);
}

#[test]
fn a_stop_ends_timed_and_untimed_waits() {
    let stop = Stop::default();
    assert!(!stop.is_stopped());
    assert!(
        !stop.wait_timeout(Duration::from_millis(1)),
        "not stopped: timed out"
    );
    let waiter = {
        let stop = stop.clone();
        spawn(move || {
            stop.wait();
            stop.wait_timeout(Duration::from_secs(3600))
        })
    };
    thread::sleep(Duration::from_millis(20));
    stop.stop();
    assert!(waiter.join(), "stopped");
    assert!(format!("{stop:?}").contains("stopped: true"));
}

#[test]
fn open_refuses_a_missing_directory_and_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    assert_error(Reader::open(&missing), io::ErrorKind::NotFound, "missing");
    assert!(!missing.exists(), "a reader creates nothing");
    let file = dir.path().join("file");
    fs::write(&file, b"").unwrap();
    assert_error(
        Reader::open(&file),
        io::ErrorKind::NotADirectory,
        "not a directory",
    );
    assert_error(
        Reader::builder().capacity(0).open(dir.path()),
        io::ErrorKind::InvalidInput,
        "above 0",
    );
    assert_error(
        Reader::builder().follow(Duration::ZERO).open(dir.path()),
        io::ErrorKind::InvalidInput,
        "above 0",
    );
}

#[test]
fn a_reader_and_its_stop_go_to_other_threads() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync + Clone>() {}
    send::<Reader>();
    send_sync::<Stop>();
}
