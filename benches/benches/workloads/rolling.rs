//! Workload 8, rolling files: writers log 100-byte lines into files rotated
//! at 1 MiB, all kept, in a temporary directory under the build directory
//! (a real disk, so that a sync costs what it costs).
//!
//! - `mwsr::segments::Writer`: lines go into its buffer; its flusher
//!   appends each batch to the open segment with one `write_all`, and at
//!   the size limit seals it and starts the next (the sealed segments are
//!   `sync_data`ed at the next `sync()`/`close()`). Segments end at batch
//!   boundaries: a line is never split.
//! - `file-rotate` (`ContentLimit::Bytes`, timestamp suffixes so that a
//!   rotation renames one file, not all of them) behind a
//!   `parking_lot::Mutex`, one `write_all` (one `write` call) per line. It
//!   cuts at the exact byte, so a line may span two files.
//! - tracing-appender's `RollingFileAppender` through its non-blocking
//!   writer in lossless mode (a channel of lines, one worker thread). It
//!   rotates by time only, so `Rotation::NEVER`: one file.
//!
//! A round ends when the files hold every line; `verify` reads all of
//! them back, oldest first, as one stream.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use file_rotate::compression::Compression;
use file_rotate::suffix::{AppendTimestamp, FileLimit};
use file_rotate::{ContentLimit, FileRotate};
use parking_lot::Mutex;
use tempfile::TempDir;
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_appender::rolling::{RollingFileAppender, Rotation};

use super::Contender;
use super::log_file::{LINE, check_lines, number, template};

/// Where every contender rotates.
pub const SEGMENT: u64 = 1 << 20;

pub fn entries() -> Vec<super::Entry> {
    vec![
        super::Entry {
            name: "mwsr segments::Writer",
            build: |w| Arc::new(Rolling::new(w, Segments::new)),
        },
        super::Entry {
            name: "file-rotate in a Mutex",
            build: |w| Arc::new(Rolling::new(w, Rotate::new)),
        },
        super::Entry {
            name: "tracing-appender rolling, lossless",
            build: |w| Arc::new(Rolling::new(w, Appender::new)),
        },
    ]
}

/// How lines get into the files.
trait Files: Send + Sync + 'static {
    /// Writes one line, from writer `w`.
    fn line(&self, w: usize, line: &[u8]);
    /// Returns once the files hold `bytes` bytes.
    fn wait_for(&self, bytes: u64);
    /// The files, oldest first.
    fn paths(&self) -> Vec<PathBuf>;
}

/// Rotating files shared by `writers` threads through `F`; each writer
/// numbers its lines, so that `verify` can find lost, torn or reordered
/// ones.
struct Rolling<F> {
    files: F,
    next_seq: Vec<AtomicU64>,
    _dir: TempDir,
}

impl<F: Files> Rolling<F> {
    fn new(writers: usize, files: fn(PathBuf, usize) -> F) -> Self {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        Self {
            files: files(dir.path().to_path_buf(), writers),
            next_seq: (0..writers).map(|_| AtomicU64::new(0)).collect(),
            _dir: dir,
        }
    }
}

impl<F: Files> Contender for Rolling<F> {
    fn write(&self, w: usize, count: u64) {
        // ORDERING: Relaxed: only writer `w` touches its counter; rounds are
        // ordered by the rig's barriers.
        let first = self.next_seq[w].fetch_add(count, Ordering::Relaxed);
        let mut line = template(w);
        for seq in first..first + count {
            number(&mut line, seq);
            self.files.line(w, &line);
        }
    }

    fn finish_round(&self, total: u64) {
        self.files.wait_for(total * LINE as u64);
    }

    fn verify(&self, total: u64) {
        let stream = self
            .files
            .paths()
            .into_iter()
            .map(|path| File::open(path).unwrap())
            .fold(Box::new(io::empty()) as Box<dyn Read>, |all, file| {
                Box::new(all.chain(file))
            });
        check_lines(stream, self.next_seq.len(), total);
    }
}

/// Polls `len()` until it reaches `bytes`.
fn poll(bytes: u64, len: impl Fn() -> u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while len() < bytes {
        assert!(Instant::now() < deadline, "lines never reached the files");
        std::thread::sleep(Duration::from_micros(50));
    }
}

struct Segments {
    log: mwsr::segments::Writer,
    dir: PathBuf,
}

impl Segments {
    fn new(dir: PathBuf, _writers: usize) -> Self {
        let log = mwsr::segments::Writer::builder()
            .segment_size(SEGMENT)
            .open(&dir)
            .unwrap();
        Self { log, dir }
    }
}

impl Files for Segments {
    fn line(&self, _w: usize, line: &[u8]) {
        self.log.append(line).unwrap();
    }

    fn wait_for(&self, bytes: u64) {
        poll(bytes, || self.log.stats().bytes_written);
    }

    fn paths(&self) -> Vec<PathBuf> {
        let naming = mwsr::segments::Naming::default();
        let mut segments: Vec<(u64, PathBuf)> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|entry| {
                let entry = entry.unwrap();
                let base = naming.parse(entry.file_name().to_str()?)?;
                Some((base, entry.path()))
            })
            .collect();
        segments.sort();
        segments.into_iter().map(|(_, path)| path).collect()
    }
}

struct Rotate {
    log: Mutex<FileRotate<AppendTimestamp>>,
    path: PathBuf,
}

impl Rotate {
    fn new(dir: PathBuf, _writers: usize) -> Self {
        let path = dir.join("bench.log");
        let log = FileRotate::new(
            &path,
            AppendTimestamp::default(FileLimit::Unlimited),
            ContentLimit::Bytes(SEGMENT as usize),
            Compression::None,
            None,
        );
        Self {
            log: Mutex::new(log),
            path,
        }
    }
}

impl Files for Rotate {
    fn line(&self, _w: usize, line: &[u8]) {
        self.log.lock().write_all(line).unwrap();
    }

    fn wait_for(&self, _bytes: u64) {} // written when the writers return

    fn paths(&self) -> Vec<PathBuf> {
        let mut paths = self.log.lock().log_paths(); // rotated, oldest first
        paths.push(self.path.clone());
        paths
    }
}

/// One `NonBlocking` handle per writer (it writes through `&mut`).
struct Appender {
    handles: Vec<Mutex<NonBlocking>>,
    dir: PathBuf,
    _guard: WorkerGuard,
}

impl Appender {
    fn new(dir: PathBuf, writers: usize) -> Self {
        let file = RollingFileAppender::builder()
            .rotation(Rotation::NEVER)
            .filename_prefix("bench.log")
            .build(&dir)
            .unwrap();
        let (handle, guard) = NonBlockingBuilder::default().lossy(false).finish(file);
        Self {
            handles: (0..writers).map(|_| Mutex::new(handle.clone())).collect(),
            dir,
            _guard: guard,
        }
    }
}

impl Files for Appender {
    fn line(&self, w: usize, line: &[u8]) {
        self.handles[w].lock().write_all(line).unwrap();
    }

    fn wait_for(&self, bytes: u64) {
        let path = self.paths().pop().unwrap();
        poll(bytes, || std::fs::metadata(&path).unwrap().len());
    }

    fn paths(&self) -> Vec<PathBuf> {
        let paths: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert_eq!(paths.len(), 1, "Rotation::NEVER writes one file");
        paths
    }
}
