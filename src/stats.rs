//! Counters a user would graph, kept off the write path.

use crate::sync::{AtomicU64, Ordering};

/// A snapshot of a buffer's counters, from `stats()`.
///
/// Every counter only grows. They are updated once per batch or on the slow
/// path (a writer waiting, `try_write` refusing), never per ordinary write,
/// so reading them costs the writers nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Items handed to the sink (and returned from it successfully): bytes,
    /// for a byte buffer (`Buffer<u8, _>`, `AsyncBuffer<u8, _>`).
    pub items_flushed: u64,
    /// Sink calls that returned successfully.
    pub batches_flushed: u64,
    /// Items a write had accepted (it returned `Ok`) that never reached a
    /// successful sink call: the batch the sink failed or panicked on, and
    /// what was buffered behind it (see [`Error`](crate::Error)), or what a
    /// timed-out close gave up on. Once the buffer has stopped,
    /// `items_flushed + items_dropped` is every item accepted (but for the
    /// parts of a write larger than the capacity, which go to the sink
    /// straight from the caller: a failure there fails that write).
    pub items_dropped: u64,
    /// Whole writes dropped by [lossy mode](crate::Builder::lossy) because
    /// the buffer was full; their items are counted in `items_dropped` too.
    pub writes_dropped: u64,
    /// The most items one sink call received (bytes, for a byte buffer).
    pub largest_batch: u64,
    /// Times a writer found the buffer full and had to wait for a flush.
    pub writer_waits: u64,
    /// Calls refused for lack of room: `try_write`, `try_write_slice` and
    /// `try_write_v` that found the buffer full, and `write_timeout` that
    /// ran out of time. (The data is handed back: nothing is lost.)
    pub try_write_refusals: u64,
}

/// The live counters behind [`Stats`]. All Relaxed: they order nothing.
#[derive(Debug)]
pub(crate) struct Counters {
    items_flushed: AtomicU64,
    batches_flushed: AtomicU64,
    items_dropped: AtomicU64,
    writes_dropped: AtomicU64,
    largest_batch: AtomicU64,
    writer_waits: AtomicU64,
    try_write_refusals: AtomicU64,
}

impl Counters {
    pub(crate) fn new() -> Self {
        Self {
            items_flushed: AtomicU64::new(0),
            batches_flushed: AtomicU64::new(0),
            items_dropped: AtomicU64::new(0),
            writes_dropped: AtomicU64::new(0),
            largest_batch: AtomicU64::new(0),
            writer_waits: AtomicU64::new(0),
            try_write_refusals: AtomicU64::new(0),
        }
    }

    /// A batch of `len` items went through the sink. Called by the flusher
    /// role's holder only, so the largest-batch update needs no RMW loop.
    pub(crate) fn batch(&self, len: usize) {
        let len = len as u64;
        // ORDERING: Relaxed throughout: statistics, read for display only.
        self.items_flushed.fetch_add(len, Ordering::Relaxed);
        self.batches_flushed.fetch_add(1, Ordering::Relaxed);
        if len > self.largest_batch.load(Ordering::Relaxed) {
            self.largest_batch.store(len, Ordering::Relaxed);
        }
    }

    /// `len` accepted items were dropped without reaching the sink.
    pub(crate) fn dropped(&self, len: usize) {
        // ORDERING: Relaxed: statistics.
        self.items_dropped.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// Lossy mode dropped a write of `len` items.
    pub(crate) fn write_dropped(&self, len: usize) {
        // ORDERING: Relaxed: statistics.
        self.writes_dropped.fetch_add(1, Ordering::Relaxed);
        self.dropped(len);
    }

    pub(crate) fn writer_waited(&self) {
        // ORDERING: Relaxed: statistics.
        self.writer_waits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn try_write_refused(&self) {
        // ORDERING: Relaxed: statistics.
        self.try_write_refusals.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        // ORDERING: Relaxed: a snapshot of independent counters.
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            items_flushed: get(&self.items_flushed),
            batches_flushed: get(&self.batches_flushed),
            items_dropped: get(&self.items_dropped),
            writes_dropped: get(&self.writes_dropped),
            largest_batch: get(&self.largest_batch),
            writer_waits: get(&self.writer_waits),
            try_write_refusals: get(&self.try_write_refusals),
        }
    }
}
