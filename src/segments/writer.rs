//! [`Writer`]: many threads append to a stream of segments through one
//! [`AsyncBuffer`], whose flusher thread writes each batch to the open
//! segment.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::dir::Dir;
use super::naming::Naming;
use super::retention::Retention;
use super::stats::{Counters, SegmentStats};
use super::storage::Storage;
use super::stream::{Limits, Rotator, Stream};
use crate::AsyncBuffer;
use crate::error::io_error;
use crate::sync::Mutex;

/// Appends to a stream of rotating segments from any number of threads.
///
/// Appends are copied into an [`AsyncBuffer`] and return at once; its
/// flusher thread writes each batch of whole appends to the open segment
/// with one `write_all`, and starts a new segment when the open one has
/// reached the size limit (or age). So:
/// - **An append is never split** across two segments: a segment ends at a
///   batch boundary, and may exceed the size limit by less than one batch
///   (at most the buffer's capacity, or one larger append).
/// - **Writers do not wait for the disk**, only when both halves of the
///   buffer are full (lossless backpressure).
/// - **[`sync`](Self::sync)** returns once everything appended before it
///   is durable: written, the open segment and the segments sealed since
///   the last sync `fsync`ed, and the directory `fsync`ed if segments were
///   created or deleted. (Sealing a segment does not wait for the disk, so
///   rotation never stalls the flusher: the syncs are paid by `sync()` and
///   `close()`, which is all that is promised durable.)
/// - **[`close`](Self::close)** writes and syncs everything and returns the
///   error; dropping the last handle does the same (lossless) but cannot
///   report it. Appends after `close` get `BrokenPipe`.
/// - **One writer per stream**: a second one, in this process or another,
///   gets `WouldBlock` from `open` until the first is closed.
///
/// `Writer` is a cheap handle: clone it for each thread. It is an
/// `io::Write` in which each `write` (or `write!`, formatted whole first)
/// is one append, and with the `tracing` feature a `MakeWriter`.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let log = mwsr::segments::Writer::builder()
///     .segment_size(1 << 20)
///     .keep_segments(8)
///     .open(dir.path())?;
/// std::thread::scope(|s| {
///     for id in 0..4 {
///         let log = log.clone();
///         s.spawn(move || writeln!(log, "hello from {id}").unwrap());
///     }
/// });
/// log.close()?;
/// let mut text = String::new();
/// std::io::Read::read_to_string(&mut mwsr::segments::Reader::open(dir.path())?, &mut text)?;
/// assert_eq!(text.lines().count(), 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Writer {
    inner: Arc<Inner>,
}

/// What every handle shares; dropping it (with the last handle) closes.
struct Inner {
    buffer: AsyncBuffer<u8, Rotator>,
    stream: Arc<Mutex<Stream>>,
    counters: Arc<Counters>,
}

/// Configures and opens a [`Writer`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `open` is called"]
pub struct Builder {
    naming: Naming,
    segment_size: u64,
    segment_age: Option<Duration>,
    retention: Retention,
    capacity: usize,
    linger: Option<Duration>,
}

impl Writer {
    /// The default size at which a segment is sealed: 64 MiB.
    pub const DEFAULT_SEGMENT_SIZE: u64 = 64 << 20;
    /// The default capacity of the buffer, in bytes per batch.
    pub const DEFAULT_CAPACITY: usize = 256 << 10;

    /// Opens (or creates) the stream in directory `dir` with the default
    /// settings, resuming at its end.
    ///
    /// # Errors
    /// As [`Builder::open`].
    pub fn open(dir: impl AsRef<Path>) -> io::Result<Self> {
        Self::builder().open(dir)
    }

    /// Configures a writer: naming, segment size and age, retention, buffer.
    pub fn builder() -> Builder {
        Builder {
            naming: Naming::default(),
            segment_size: Self::DEFAULT_SEGMENT_SIZE,
            segment_age: None,
            retention: Retention::default(),
            capacity: Self::DEFAULT_CAPACITY,
            linger: None,
        }
    }

    /// Appends `data` as one contiguous run; returns at once, unless both
    /// halves of the buffer are full.
    ///
    /// # Errors
    /// The writer's failure (sticky: a failed write or sync fails it for
    /// good); `BrokenPipe` after [`close`](Self::close).
    pub fn append(&self, data: &[u8]) -> io::Result<()> {
        self.check()?;
        self.inner.buffer.write_slice(data).map_err(io_error)?;
        Ok(())
    }

    /// The writer's failure, if it has failed (the cheap check first).
    fn check(&self) -> io::Result<()> {
        if self.inner.counters.has_failed() {
            return self.inner.stream.lock().check();
        }
        Ok(())
    }

    /// Appends all `parts` as one contiguous run, never interleaved with
    /// another append.
    ///
    /// # Errors
    /// As [`append`](Self::append).
    pub fn append_v(&self, parts: &[&[u8]]) -> io::Result<()> {
        self.append_parts(parts).map(drop)
    }

    /// One append of all `parts` (for `io::Write::write_vectored`).
    fn append_io(&self, parts: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.append_parts(parts)
    }

    fn append_parts<P: std::ops::Deref<Target = [u8]>>(&self, parts: &[P]) -> io::Result<usize> {
        self.check()?;
        let total = parts.iter().map(|p| p.len()).sum::<usize>();
        if total < self.inner.buffer.capacity() {
            return self
                .inner
                .buffer
                .write_parts(parts, |p| p)
                .map_err(io_error);
        }
        // Larger than the buffer: it would reach the stream in several
        // writes, between which a segment could end. Gathered, it is one.
        let mut all = Vec::with_capacity(total);
        parts.iter().for_each(|p| all.extend_from_slice(p));
        self.append(&all).map(|()| total)
    }

    /// Returns once everything appended before this call is durable.
    ///
    /// # Errors
    /// The writer's failure; `BrokenPipe` after [`close`](Self::close).
    pub fn sync(&self) -> io::Result<()> {
        self.inner.buffer.flush().map_err(io_error)?;
        self.inner.stream.lock().sync()
    }

    /// Writes and syncs everything appended, seals the open segment and
    /// releases the stream. Idempotent; later appends fail with
    /// `BrokenPipe`.
    ///
    /// # Errors
    /// The writer's failure, if it failed at any point.
    pub fn close(&self) -> io::Result<()> {
        self.inner.close()
    }

    /// What the writer has done so far.
    pub fn stats(&self) -> SegmentStats {
        self.inner.counters.snapshot()
    }

    /// Formats the whole message and appends it as one run. An inherent
    /// method, so that `write!(log, ..)` works on any handle without `mut`.
    ///
    /// # Errors
    /// As [`append`](Self::append).
    pub fn write_fmt(&self, args: fmt::Arguments<'_>) -> io::Result<()> {
        crate::io_write::formatted(args, |message| self.append(message))
    }
}

impl Inner {
    fn close(&self) -> io::Result<()> {
        let buffered = self.buffer.close().map_err(io_error);
        let closed = self.stream.lock().close();
        buffered.and(closed)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Errors cannot be returned from `drop`: `close()` reports them.
        let _ = self.close();
    }
}

impl Builder {
    /// How segments are named (default: `{base:020}.seg`). Streams sharing a
    /// directory need different names.
    pub fn naming(mut self, naming: Naming) -> Self {
        self.naming = naming;
        self
    }

    /// Seal a segment once it holds `bytes` (default 64 MiB); it may exceed
    /// them by less than one batch.
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes;
        self
    }

    /// Also seal a segment at the first batch after it has been open for
    /// `age`.
    pub fn segment_age(mut self, age: Duration) -> Self {
        self.segment_age = Some(age);
        self
    }

    /// Keep at most `n` segments, the open one included (see [`Retention`]).
    pub fn keep_segments(mut self, n: usize) -> Self {
        self.retention.max_segments = Some(n);
        self
    }

    /// Keep at most `bytes` in all segments (see [`Retention`]).
    pub fn keep_bytes(mut self, bytes: u64) -> Self {
        self.retention.max_bytes = Some(bytes);
        self
    }

    /// Delete sealed segments last written longer than `age` ago (see
    /// [`Retention`]).
    pub fn keep_for(mut self, age: Duration) -> Self {
        self.retention.max_age = Some(age);
        self
    }

    /// The buffer's capacity in bytes per batch (default 256 KiB); see
    /// [`crate::Builder::capacity`].
    pub fn capacity(mut self, bytes: usize) -> Self {
        self.capacity = bytes;
        self
    }

    /// Let a batch fill for up to `linger` before it is written (default:
    /// written at once); see [`crate::Builder::linger`].
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = Some(linger);
        self
    }

    /// Opens (or creates) the stream in directory `dir`.
    ///
    /// # Errors
    /// As [`open_storage`](Self::open_storage); creating the directory.
    pub fn open(self, dir: impl AsRef<Path>) -> io::Result<Writer> {
        self.open_storage(Arc::new(Dir::new(dir)?))
    }

    /// Opens (or creates) the stream in `storage`, resuming at its end.
    ///
    /// # Errors
    /// `InvalidInput` for a zero segment size, keep count or capacity;
    /// `WouldBlock` if another writer holds the stream; `InvalidData` if its
    /// segments do not follow each other; the storage's errors; spawning
    /// the flusher thread.
    pub fn open_storage(self, storage: Arc<dyn Storage>) -> io::Result<Writer> {
        if self.segment_size == 0 || self.retention.max_segments == Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "mwsr::segments: the segment size and the number of segments kept must be above 0",
            ));
        }
        let limits = Limits {
            segment_size: self.segment_size,
            segment_age: self.segment_age,
            retention: self.retention,
        };
        let stream = Stream::open(storage, self.naming, limits)?;
        let counters = stream.counters();
        let stream = Arc::new(Mutex::new(stream));
        let mut buffer = AsyncBuffer::builder()
            .capacity(self.capacity)
            .thread_name("mwsr-segments");
        if let Some(linger) = self.linger {
            buffer = buffer.linger(linger);
        }
        let buffer = buffer.build(Rotator(stream.clone()))?;
        Ok(Writer {
            inner: Arc::new(Inner {
                buffer,
                stream,
                counters,
            }),
        })
    }
}

crate::io_write::impl_io_write_appends!(Writer);

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
