//! Workload 4, log to file: writers log 100-byte lines into one real file
//! in a temporary directory. `mwsr::AsyncBuffer` (one `write_all` per
//! batch) against `tracing-appender`'s non-blocking writer in lossless mode
//! (a channel of lines and a worker thread) and a `Mutex<BufWriter<File>>`.
//! A round ends when the file holds every line; `verify` reads it back.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mwsr::WriteOrder::{Global, PerWriter};
use parking_lot::Mutex;
use tempfile::TempDir;
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};

use super::{Contender, Entry};

pub const LINE: usize = 100;
/// Bytes per `AsyncBuffer` half and per `BufWriter`.
pub const CAPACITY: usize = 64 * 1024;
/// The larger size an independent run gave its `BufWriter`: 256 KiB, with
/// an `AsyncBuffer` of 256 KiB per half beside it.
const LARGE: usize = 256 * 1024;

pub fn entries() -> Vec<Entry> {
    vec![
        Entry {
            name: "mwsr::AsyncBuffer",
            build: |w| Arc::new(Log::new(w, |f, _| Mwsr::new(f, CAPACITY, Global))),
        },
        Entry {
            name: "mwsr::AsyncBuffer per-writer",
            build: |w| Arc::new(Log::new(w, |f, _| Mwsr::new(f, CAPACITY, PerWriter))),
        },
        Entry {
            name: "tracing-appender lossless",
            build: |w| Arc::new(Log::new(w, Appender::new)),
        },
        Entry {
            name: "Mutex<BufWriter<File>> (64 KiB)",
            build: |w| Arc::new(Log::new(w, |f, _| Locked::new(f, CAPACITY))),
        },
        Entry {
            name: "mwsr::AsyncBuffer (256 KiB per half)",
            build: |w| Arc::new(Log::new(w, |f, _| Mwsr::new(f, LARGE, Global))),
        },
        Entry {
            name: "mwsr::AsyncBuffer per-writer (256 KiB per half)",
            build: |w| Arc::new(Log::new(w, |f, _| Mwsr::new(f, LARGE, PerWriter))),
        },
        Entry {
            name: "Mutex<BufWriter<File>> (256 KiB)",
            build: |w| Arc::new(Log::new(w, |f, _| Locked::new(f, LARGE))),
        },
    ]
}

/// How lines get into the file.
trait Sink: Send + Sync + 'static {
    /// Writes one line, from writer `w`.
    fn line(&self, w: usize, line: &[u8]);
    /// Pushes buffered lines towards the file (the round is over).
    fn flush(&self);
}

/// A log file shared by `writers` threads through `S`; each writer numbers
/// its lines, so that `verify` can find lost, torn or reordered ones.
struct Log<S> {
    sink: S,
    next_seq: Vec<AtomicU64>,
    path: PathBuf,
    _dir: TempDir,
}

impl<S: Sink> Log<S> {
    fn new(writers: usize, sink: fn(File, usize) -> S) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.log");
        Self {
            sink: sink(File::create(&path).unwrap(), writers),
            next_seq: (0..writers).map(|_| AtomicU64::new(0)).collect(),
            path,
            _dir: dir,
        }
    }
}

/// Writer `w`'s line with its number left blank:
/// `ww ssssssssssss filler...\n`, 100 bytes.
pub fn template(w: usize) -> [u8; LINE] {
    let mut line = [b' '; LINE];
    line[0] = b'0' + (w / 10 % 10) as u8;
    line[1] = b'0' + (w % 10) as u8;
    for (i, b) in line[16..LINE - 1].iter_mut().enumerate() {
        *b = b'a' + ((w + i) % 26) as u8;
    }
    line[LINE - 1] = b'\n';
    line
}

/// Writes `seq` into the line's number field.
pub fn number(line: &mut [u8; LINE], mut seq: u64) {
    for b in line[3..15].iter_mut().rev() {
        *b = b'0' + (seq % 10) as u8;
        seq /= 10;
    }
}

impl<S: Sink> Contender for Log<S> {
    fn write(&self, w: usize, count: u64) {
        // ORDERING: Relaxed: only writer `w` touches its counter; rounds are ordered
        // by the rig's barriers.
        let first = self.next_seq[w].fetch_add(count, Ordering::Relaxed);
        let mut line = template(w);
        for seq in first..first + count {
            number(&mut line, seq);
            self.sink.line(w, &line);
        }
    }

    fn finish_round(&self, total: u64) {
        self.sink.flush();
        let expected = total * LINE as u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::metadata(&self.path).unwrap().len() < expected {
            assert!(Instant::now() < deadline, "lines never reached the file");
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    fn verify(&self, total: u64) {
        check_lines(File::open(&self.path).unwrap(), self.next_seq.len(), total);
    }
}

/// Panics unless `log` holds exactly `total` lines of `writers` writers,
/// each whole and the next of its writer.
pub fn check_lines(log: impl Read, writers: usize, total: u64) {
    let mut next = vec![0u64; writers];
    let mut lines = 0u64;
    for l in BufReader::with_capacity(CAPACITY, log).split(b'\n') {
        let l = l.unwrap();
        let w: usize = std::str::from_utf8(&l[..2]).unwrap().parse().unwrap();
        let mut expected = template(w);
        number(&mut expected, next[w]);
        assert_eq!(
            &expected[..LINE - 1],
            &l[..],
            "a torn, lost or reordered line"
        );
        next[w] += 1;
        lines += 1;
    }
    assert_eq!(lines, total, "lines in the file");
}

type Flusher = mwsr::AsyncBuffer<u8, mwsr::WriteSink<File>>;

struct Mwsr(Flusher);

impl Mwsr {
    /// `capacity` bytes per half.
    fn new(file: File, capacity: usize, order: mwsr::WriteOrder) -> Self {
        let buf = mwsr::AsyncBuffer::builder()
            .capacity(capacity)
            .write_order(order)
            .build(mwsr::WriteSink::new(file))
            .unwrap();
        Self(buf)
    }
}

impl Sink for Mwsr {
    fn line(&self, _w: usize, line: &[u8]) {
        self.0.write_slice(line).unwrap();
    }

    fn flush(&self) {
        self.0.flush().unwrap();
    }
}

/// One `NonBlocking` handle per writer (it writes through `&mut`).
struct Appender {
    handles: Vec<Mutex<NonBlocking>>,
    _guard: WorkerGuard,
}

impl Appender {
    fn new(file: File, writers: usize) -> Self {
        let (handle, guard) = NonBlockingBuilder::default().lossy(false).finish(file);
        Self {
            handles: (0..writers).map(|_| Mutex::new(handle.clone())).collect(),
            _guard: guard,
        }
    }
}

impl Sink for Appender {
    fn line(&self, w: usize, line: &[u8]) {
        self.handles[w].lock().write_all(line).unwrap();
    }

    fn flush(&self) {} // its worker flushes after each drained batch
}

struct Locked(Mutex<BufWriter<File>>);

impl Locked {
    /// A `capacity`-byte `BufWriter`; each line one `write_all` under the
    /// lock, flushed at the end of the round.
    fn new(file: File, capacity: usize) -> Self {
        Self(Mutex::new(BufWriter::with_capacity(capacity, file)))
    }
}

impl Sink for Locked {
    fn line(&self, _w: usize, line: &[u8]) {
        self.0.lock().write_all(line).unwrap();
    }

    fn flush(&self) {
        self.0.lock().flush().unwrap();
    }
}
