//! The writer's side of a stream: the open segment, rotation, retention and
//! syncing. The flusher thread writes batches through it (as the buffer's
//! sink, [`Rotator`]); `sync()` and `close()` reach it from callers'
//! threads, under the same lock.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::naming::Naming;
use super::retention::{Kept, Retention};
use super::stats::Counters;
use super::storage::{SegmentWrite, Storage};
use crate::Sink;
use crate::sync::Mutex;

/// When a writer starts a new segment.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Seal the open segment once it holds this many bytes (it may exceed
    /// them by less than one batch: batches are never split).
    pub(super) segment_size: u64,
    /// Seal the open segment at the first batch after it is this old.
    pub(super) segment_age: Option<Duration>,
    pub(super) retention: Retention,
}

/// The segment being written.
struct Open {
    base: u64,
    len: u64,
    opened: Instant,
    segment: Box<dyn SegmentWrite>,
}

/// Everything the writer knows of its stream.
pub(super) struct Stream {
    storage: Arc<dyn Storage>,
    naming: Naming,
    limits: Limits,
    open: Option<Open>,
    /// The stream offset of the next byte.
    end: u64,
    /// The stream's sealed segments, oldest first, and their bytes.
    sealed: VecDeque<Kept>,
    sealed_bytes: u64,
    /// The first failure: every later call returns it (a failed `fsync`
    /// cannot be retried safely).
    failed: Option<Failure>,
    counters: Arc<Counters>,
    /// The writer's claim on the stream; dropped at close.
    lock: Option<Box<dyn Send + Sync>>,
}

/// A sticky failure, handed out again as an `io::Error` of the same kind.
#[derive(Debug, Clone)]
struct Failure {
    kind: io::ErrorKind,
    raw_os_error: Option<i32>,
    message: Arc<str>,
}

impl Failure {
    fn new(e: &io::Error) -> Self {
        Self {
            kind: e.kind(),
            raw_os_error: e.raw_os_error(),
            message: e.to_string().into(),
        }
    }

    fn error(&self) -> io::Error {
        match self.raw_os_error {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::new(
                self.kind,
                format!(
                    "mwsr::segments: the writer failed earlier: {}",
                    self.message
                ),
            ),
        }
    }
}

impl Stream {
    /// Claims the stream, lists it and resumes at its end; applies
    /// retention.
    ///
    /// # Errors
    /// `WouldBlock` if another writer holds the stream; `InvalidData` if its
    /// segments do not follow each other; the storage's errors.
    pub(super) fn open(
        storage: Arc<dyn Storage>,
        naming: Naming,
        limits: Limits,
    ) -> io::Result<Self> {
        let lock = storage.lock(&naming.lock_name())?;
        let mut segments = super::list(&*storage, &naming, None)?;
        // A crash between creating a segment and writing to it leaves it
        // empty; the next segment takes its name.
        if let Some(last) = segments.pop_if(|last| last.len == 0) {
            storage.delete(&naming.name(last.base))?;
        }
        for pair in segments.windows(2) {
            if pair[0].base + pair[0].len != pair[1].base {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "mwsr::segments: segment {} holds {} bytes but the next begins at {}",
                        naming.name(pair[0].base),
                        pair[0].len,
                        pair[1].base
                    ),
                ));
            }
        }
        let end = segments.last().map_or(0, |s| s.base + s.len);
        let sealed_bytes = segments.iter().map(|s| s.len).sum();
        let mut stream = Self {
            storage,
            naming,
            limits,
            open: None,
            end,
            sealed: segments.into(),
            sealed_bytes,
            failed: None,
            counters: Arc::new(Counters::new(end)),
            lock: Some(lock),
        };
        stream.retain()?;
        Ok(stream)
    }

    pub(super) fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Writes one batch of whole appends, starting a new segment first if
    /// the open one is full or too old.
    fn write(&mut self, batch: &[u8]) -> io::Result<()> {
        self.check()?;
        let result = self.write_unchecked(batch);
        self.fail_on(result)
    }

    fn write_unchecked(&mut self, batch: &[u8]) -> io::Result<()> {
        if self.open.as_ref().is_some_and(|open| self.is_due(open)) {
            self.seal()?;
        }
        if self.open.is_none() {
            self.start()?;
        }
        let open = self.open.as_mut().expect("a segment was just opened");
        open.segment.write_all(batch)?;
        let n = batch.len() as u64;
        open.len += n;
        self.end += n;
        Counters::add(&self.counters.bytes_written, n);
        Counters::set(&self.counters.end, self.end);
        self.retain()
    }

    fn is_due(&self, open: &Open) -> bool {
        open.len >= self.limits.segment_size
            || self
                .limits
                .segment_age
                .is_some_and(|age| open.opened.elapsed() >= age)
    }

    /// Starts the segment that begins at the stream's end.
    fn start(&mut self) -> io::Result<()> {
        let segment = self.storage.create(&self.naming.name(self.end))?;
        self.open = Some(Open {
            base: self.end,
            len: 0,
            opened: Instant::now(),
            segment,
        });
        Counters::add(&self.counters.segments_created, 1);
        Counters::set(&self.counters.current_segment, self.end);
        Ok(())
    }

    /// Seals the open segment, if any.
    fn seal(&mut self) -> io::Result<()> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        Counters::set(&self.counters.current_segment, u64::MAX);
        open.segment.seal()?;
        self.sealed.push_back(Kept {
            base: open.base,
            len: open.len,
            modified: Some(SystemTime::now()),
        });
        self.sealed_bytes += open.len;
        Ok(())
    }

    /// Deletes what retention says is too much, oldest first: on open and
    /// after each batch. Cheap when there is nothing to delete.
    fn retain(&mut self) -> io::Result<()> {
        let open = self.open.as_ref().map_or((0, 0), |o| (1, o.len));
        let now = self.limits.retention.max_age.map(|_| SystemTime::now());
        while let Some(oldest) = self.sealed.front() {
            let count = self.sealed.len() + open.0;
            let bytes = self.sealed_bytes + open.1;
            if !self.limits.retention.exceeded(count, bytes, oldest, now) {
                break;
            }
            self.storage.delete(&self.naming.name(oldest.base))?;
            self.sealed_bytes -= oldest.len;
            self.sealed.pop_front();
            Counters::add(&self.counters.segments_deleted, 1);
        }
        Ok(())
    }

    /// Makes everything written so far durable: the open segment synced in
    /// place (or sealed, where the storage cannot sync an open segment),
    /// then the segments sealed and the names created or deleted since the
    /// last sync (see [`Storage::sync`]).
    pub(super) fn sync(&mut self) -> io::Result<()> {
        self.check()?;
        let result = self.sync_unchecked();
        self.fail_on(result)?;
        Counters::add(&self.counters.syncs, 1);
        Ok(())
    }

    fn sync_unchecked(&mut self) -> io::Result<()> {
        if self.storage.syncs_open_segments() {
            if let Some(open) = &mut self.open {
                open.segment.sync()?;
            }
        } else {
            self.seal()?;
        }
        self.storage.sync()
    }

    /// Seals the open segment, syncs the names and gives up the stream.
    /// Idempotent.
    pub(super) fn close(&mut self) -> io::Result<()> {
        if self.lock.take().is_none() {
            return self.check(); // closed before
        }
        // Released (above) whatever happens: a failed writer writes no more,
        // and the next one may find out what is there.
        self.check()?;
        let result = self.seal().and_then(|()| self.sync_unchecked());
        self.fail_on(result)
    }

    pub(super) fn check(&self) -> io::Result<()> {
        match &self.failed {
            Some(failure) => Err(failure.error()),
            None => Ok(()),
        }
    }

    fn fail_on<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result {
            self.failed.get_or_insert_with(|| Failure::new(e));
            self.counters.set_failed();
        }
        result
    }
}

/// The buffer's sink: each batch goes to the stream.
pub(super) struct Rotator(pub(super) Arc<Mutex<Stream>>);

impl Sink<u8> for Rotator {
    type Error = io::Error;

    fn consume(&mut self, batch: &[u8]) -> io::Result<()> {
        self.0.lock().write(batch)
    }
}
