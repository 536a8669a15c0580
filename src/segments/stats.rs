//! [`SegmentStats`]: what a segments writer has done.

use crate::sync::{AtomicU8, AtomicU64, Ordering};

/// What a [`Writer`](super::Writer) has done so far, from
/// [`stats`](super::Writer::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SegmentStats {
    /// Bytes appended and written to segments.
    pub bytes_written: u64,
    /// Segments this writer created.
    pub segments_created: u64,
    /// Segments retention deleted.
    pub segments_deleted: u64,
    /// `sync()` calls that made data durable.
    pub syncs: u64,
    /// The base offset of the open segment, if one is open.
    pub current_segment: Option<u64>,
    /// The stream offset the next appended byte will have, once written.
    pub end: u64,
}

/// The live counters behind [`SegmentStats`]. All Relaxed: they order
/// nothing.
#[derive(Debug)]
pub(super) struct Counters {
    pub(super) bytes_written: AtomicU64,
    pub(super) segments_created: AtomicU64,
    pub(super) segments_deleted: AtomicU64,
    pub(super) syncs: AtomicU64,
    /// `u64::MAX` when no segment is open.
    pub(super) current_segment: AtomicU64,
    pub(super) end: AtomicU64,
    /// 1 once the writer has failed: appends check it, so that they return
    /// the failure at once rather than once their batch is written.
    failed: AtomicU8,
}

impl Counters {
    pub(super) fn new(end: u64) -> Self {
        Self {
            bytes_written: AtomicU64::new(0),
            segments_created: AtomicU64::new(0),
            segments_deleted: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            current_segment: AtomicU64::new(u64::MAX),
            end: AtomicU64::new(end),
            failed: AtomicU8::new(0),
        }
    }

    pub(super) fn set_failed(&self) {
        // ORDERING: Relaxed: a hint for appends; the failure itself is read
        // under the stream's lock.
        self.failed.store(1, Ordering::Relaxed);
    }

    pub(super) fn has_failed(&self) -> bool {
        // ORDERING: Relaxed: see `set_failed`.
        self.failed.load(Ordering::Relaxed) != 0
    }

    pub(super) fn add(counter: &AtomicU64, n: u64) {
        // ORDERING: Relaxed: statistics.
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn set(counter: &AtomicU64, value: u64) {
        // ORDERING: Relaxed: statistics.
        counter.store(value, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> SegmentStats {
        // ORDERING: Relaxed: a snapshot of independent counters.
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let current = get(&self.current_segment);
        SegmentStats {
            bytes_written: get(&self.bytes_written),
            segments_created: get(&self.segments_created),
            segments_deleted: get(&self.segments_deleted),
            syncs: get(&self.syncs),
            current_segment: (current != u64::MAX).then_some(current),
            end: get(&self.end),
        }
    }
}
