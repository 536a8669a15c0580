//! Per-writer mode: writers fill chunks of their own instead of sharing the
//! slab's word on every write.
//!
//! Each thread maps to one *lane* (its thread number modulo the lane count).
//! A lane holds at most one *chunk*: a range of the active slab claimed with
//! one reservation on the slab's word. A write locks its lane (a
//! compare-exchange on a cache line of that lane alone), copies its items
//! into the chunk, advances the chunk's fill with plain bookkeeping, and
//! unlocks. Only when the chunk has no room left does the writer touch the
//! shared word again: it retires the chunk (records its extent and commits
//! its mark, see [`Slab::commit_chunk`]) and claims the next one.
//!
//! The flusher, after sealing a slab, *collects* every lane whose chunk lies
//! in it: it takes the lane's lock (waiting while a writer copies in),
//! retires the chunk on the writer's behalf and detaches it, so the writer's
//! next write claims a chunk in the open slab. A thread that exits with a
//! partly filled chunk needs nothing more: its lane keeps the chunk until
//! then. Then the flusher waits for the marks as in the default mode and
//! moves the chunks' filled parts together ([`Slab::compact`]).
//!
//! Why the order guarantees hold:
//! - A call's items are copied in one piece under the lane's lock.
//! - A thread always uses the same lane, a lane fills a chunk front to back
//!   and claims its chunks in order, chunks are claimed at increasing slots,
//!   and compaction keeps chunk order; batches go out in activation order.
//!   So one thread's writes keep their order. Threads sharing a lane only
//!   serialise on its lock.
//! - Between threads there is no order within a batch: one thread's chunk
//!   may have been claimed before another's and filled after it.
//!
//! A writer never waits while it holds its lane's lock (a claim that finds
//! the slab full unlocks first), so the flusher's wait for a lane is as
//! short as the default mode's wait for a mark.

use std::cell::UnsafeCell;

use crossbeam_utils::CachePadded;

use super::slab::{self, CLOSED, Reserve, SEALED, Slab};
use crate::sync::{AccessTracker, Backoff, thread_number};
#[cfg(not(loom))]
use crate::sync::{AtomicBool, Ordering};

/// The most lanes a buffer may have.
pub(crate) const MAX_LANES: usize = 1024;

/// The lanes of one engine, and the chunk length they claim.
pub(super) struct Lanes {
    lanes: Box<[CachePadded<Lane>]>,
    chunk_len: usize,
}

/// One lane: its lock and the chunk it fills.
struct Lane {
    /// A spin lock (see [`Lane::lock`]); under loom a loom mutex, see there.
    #[cfg(not(loom))]
    locked: AtomicBool,
    #[cfg(loom)]
    locked: crate::sync::Mutex<()>,
    /// Read and written only with `locked` held.
    chunk: UnsafeCell<Option<Chunk>>,
    /// Tells loom (no-op otherwise) about accesses to `chunk`.
    tracker: AccessTracker,
}

/// A claimed range `start..end` of slab `slab`, reservation `seq` of its
/// batch, whose slots `start..filled` hold items.
#[derive(Debug, Clone, Copy)]
pub(super) struct Chunk {
    pub(super) slab: usize,
    pub(super) seq: usize,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) filled: usize,
}

impl Chunk {
    /// Retires the chunk: its filled part becomes part of the batch.
    fn retire<T>(&self, slabs: &[Slab<T>; 2]) {
        slabs[self.slab].commit_chunk(self.seq, self.start, self.filled - self.start);
    }
}

impl Lanes {
    /// `count` lanes (at least 1) sharing slabs of `capacity` slots.
    pub(super) fn new(count: usize, capacity: usize) -> Self {
        let count = count.clamp(1, MAX_LANES);
        Self {
            lanes: (0..count)
                .map(|_| {
                    CachePadded::new(Lane {
                        #[cfg(not(loom))]
                        locked: AtomicBool::new(false),
                        #[cfg(loom)]
                        locked: crate::sync::Mutex::new(()),
                        chunk: UnsafeCell::new(None),
                        tracker: AccessTracker::new(),
                    })
                })
                .collect(),
            chunk_len: chunk_len(count, capacity),
        }
    }

    /// How many chunks one batch of `capacity` slots can hold with `count`
    /// lanes: each chunk but the last of a batch takes `chunk_len` slots or
    /// more (see [`Slab::try_reserve`]).
    pub(super) fn max_chunks(count: usize, capacity: usize) -> usize {
        capacity / chunk_len(count.clamp(1, MAX_LANES), capacity) + 1
    }

    /// Locks the calling thread's lane.
    #[inline]
    pub(super) fn lock_mine(&self) -> LaneGuard<'_> {
        let count = self.lanes.len();
        // A mask instead of a division when the count is a power of two
        // (the default): a division is dozens of cycles on every write.
        let lane = if count.is_power_of_two() {
            thread_number() & (count - 1)
        } else {
            thread_number() % count
        };
        self.lanes[lane].lock()
    }

    /// Retires and detaches every lane's chunk in slab `index` (sealed,
    /// or the engine is being dropped). Flusher only.
    pub(super) fn collect<T>(&self, index: usize, slabs: &[Slab<T>; 2]) {
        for lane in self.lanes.iter() {
            let mut guard = lane.lock();
            if let Some(chunk) = guard.chunk().filter(|c| c.slab == index) {
                chunk.retire(slabs);
                guard.set_chunk(None);
            }
        }
    }
}

impl Lane {
    #[cfg(not(loom))]
    #[inline]
    fn lock(&self) -> LaneGuard<'_> {
        let mut backoff = Backoff::new();
        // ORDERING: Acquire pairs with the Release in `LaneGuard::drop`: we
        // see the chunk as the last holder left it (and, for the flusher,
        // the items it copied in).
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Held by a writer copying in, the flusher collecting, or a
            // thread sharing the lane: none of them waits while holding it.
            backoff.snooze();
        }
        LaneGuard { lane: self }
    }

    /// Under loom the lane's lock is a loom mutex: a thread waiting for it
    /// blocks instead of yielding in a loop. loom may schedule a yielding
    /// thread again and again while the holder stays preempted, and with a
    /// lock held across a whole write that made the models' executions
    /// unbounded. The acquire/release the spin lock provides is what the
    /// mutex gives; everything the lock protects is modelled as it is.
    #[cfg(loom)]
    fn lock(&self) -> LaneGuard<'_> {
        LaneGuard {
            lane: self,
            _held: self.locked.lock(),
        }
    }
}

/// The length lanes claim: two chunks per lane and slab, so that a chunk's
/// unfilled tail, left behind when a write does not fit, stays a small part
/// of the batch.
fn chunk_len(count: usize, capacity: usize) -> usize {
    (capacity / (2 * count)).max(1)
}

/// A locked lane.
pub(super) struct LaneGuard<'a> {
    lane: &'a Lane,
    /// Unlocks when dropped, after `LaneGuard::drop` (loom only).
    #[cfg(loom)]
    _held: crate::sync::MutexGuard<'a, ()>,
}

impl LaneGuard<'_> {
    /// The lane's chunk.
    pub(super) fn chunk(&self) -> Option<Chunk> {
        self.lane.tracker.read();
        // SAFETY: the lane is locked by this guard, so nobody else reads or
        // writes `chunk` (the lock's Acquire ordered the last holder's writes
        // before this read).
        unsafe { *self.lane.chunk.get() }
    }

    /// Replaces the lane's chunk.
    pub(super) fn set_chunk(&mut self, chunk: Option<Chunk>) {
        self.lane.tracker.write();
        // SAFETY: as in `chunk`.
        unsafe { *self.lane.chunk.get() = chunk };
    }

    /// Finds room for `n` slots in this lane's chunk, retiring a chunk that
    /// lacks it (or whose slab was sealed or closed) and claiming a new one
    /// from the active slab, whose index is a hint as in
    /// `Engine::reserve`. Returns the chunk, with room for `n` slots from
    /// its `filled`, and whether it was claimed now; or what the claim
    /// found, and in which slab.
    #[inline]
    pub(super) fn room<T>(
        &mut self,
        n: usize,
        lanes: &Lanes,
        slabs: &[Slab<T>; 2],
        index: usize,
    ) -> Result<(Chunk, bool), (Reserve, usize)> {
        if let Some(chunk) = self.chunk() {
            // A writer that finds its chunk's slab sealed moves on to the
            // open one, and one that finds it closed stops writing.
            let word = slabs[chunk.slab].load();
            if word & (SEALED | CLOSED) == 0 && chunk.end - chunk.filled >= n {
                return Ok((chunk, false));
            }
        }
        self.claim(n, lanes, slabs, index)
    }

    /// [`room`](Self::room) once the chunk lacks it: retires the chunk, if
    /// any, and claims the next one.
    #[cold]
    #[inline(never)]
    fn claim<T>(
        &mut self,
        n: usize,
        lanes: &Lanes,
        slabs: &[Slab<T>; 2],
        mut index: usize,
    ) -> Result<(Chunk, bool), (Reserve, usize)> {
        if let Some(chunk) = self.chunk() {
            chunk.retire(slabs);
            self.set_chunk(None);
        }
        let mut backoff = Backoff::new();
        loop {
            match slabs[index].try_reserve(n, lanes.chunk_len.max(n)) {
                Reserve::Reserved { start, len, seq } => {
                    let chunk = Chunk {
                        slab: index,
                        seq,
                        start,
                        end: start + len,
                        filled: start,
                    };
                    self.set_chunk(Some(chunk));
                    return Ok((chunk, true));
                }
                Reserve::Closed if slab::both_closed(slabs) => {
                    return Err((Reserve::Closed, index));
                }
                Reserve::Sealed | Reserve::Closed => {
                    // As in `Engine::reserve_in_slab`: a stale index, a swap
                    // or a close under way. Neither waits for lanes between
                    // its two slabs, so this ends.
                    index = 1 - index;
                    backoff.snooze();
                }
                refused => return Err((refused, index)),
            }
        }
    }

    /// Records that `n` more slots of the chunk hold items.
    #[inline]
    pub(super) fn fill(&mut self, n: usize) {
        self.lane.tracker.write();
        // SAFETY: as in `chunk`. Updated in place: copying the chunk out and
        // back costs a write more than it needs.
        let chunk = unsafe { &mut *self.lane.chunk.get() };
        let chunk = chunk.as_mut().expect("mwsr: a lane write has a chunk");
        chunk.filled += n;
        debug_assert!(chunk.filled <= chunk.end);
    }
}

#[cfg(not(loom))]
impl Drop for LaneGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // ORDERING: Release publishes the chunk and the items copied into
        // it to the lane's next holder (see `Lane::lock`).
        self.lane.locked.store(false, Ordering::Release);
    }
}
