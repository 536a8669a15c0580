//! One preallocated slab of slots and the single atomic word that guards it.
//!
//! The word packs everything writers and the flusher agree on, so a write
//! costs two uncontended atomic operations on one cache line: a
//! compare-exchange that reserves a range of slots *and* registers the writer,
//! and a `fetch_sub` that deregisters it once the items are copied in.
//!
//! ```text
//!  63      62      61      60..32           31..0
//! WAITER  CLOSED  SEALED  writers in flight  slots reserved (offset)
//! ```
//!
//! - `SEALED`: writers may not reserve here. A spare slab stays sealed until
//!   the flusher activates it (see the engine's invariant 1 for why that
//!   keeps batches in write order).
//! - `CLOSED`: sealed for good (the buffer failed or was closed); a writer
//!   that sees it stops retrying.
//! - `WAITER`: the flusher parked waiting for the writers in flight to
//!   finish; the last one to leave must wake it.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::ptr;

use crossbeam_utils::CachePadded;

use crate::sync::{AccessTracker, AtomicU64, Mutex, Ordering};

pub(super) const OFFSET_MASK: u64 = u32::MAX as u64;
pub(super) const WRITER: u64 = 1 << 32;
const WRITERS_MASK: u64 = ((1 << 29) - 1) << 32;
pub(super) const SEALED: u64 = 1 << 61;
pub(super) const CLOSED: u64 = 1 << 62;
pub(super) const WAITER: u64 = 1 << 63;

/// The largest capacity the packed word can count.
pub(crate) const MAX_CAPACITY: usize = OFFSET_MASK as usize;

#[inline]
pub(super) fn offset(state: u64) -> usize {
    (state & OFFSET_MASK) as usize
}

#[inline]
pub(super) fn writers(state: u64) -> u64 {
    (state & WRITERS_MASK) >> 32
}

/// What a reservation attempt on one slab found.
pub(super) enum Reserve {
    /// Slots `start..start + n` are this writer's.
    Reserved(usize),
    /// Not enough room left.
    Full,
    /// Not the active slab (a swap is under way, or the caller's index is stale).
    Sealed,
    /// Sealed for good.
    Closed,
}

pub(super) struct Slab<T> {
    state: CachePadded<AtomicU64>,
    /// The slots. `UnsafeCell<MaybeUninit<T>>` has `T`'s layout, so the
    /// initialised prefix can be handed to the sink as one `&[T]`.
    cells: Box<[UnsafeCell<MaybeUninit<T>>]>,
    /// One per slot; zero-sized unless under loom (see `crate::sync`).
    trackers: Box<[AccessTracker]>,
    /// Ranges reserved by writers whose `Clone` panicked mid-copy: they hold
    /// no items, and the flusher closes them up before delivering. Cold path.
    holes: Mutex<Vec<Range<usize>>>,
}

impl<T> Slab<T> {
    /// A sealed, empty slab of `capacity` slots.
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            state: CachePadded::new(AtomicU64::new(SEALED)),
            cells: (0..capacity)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
            trackers: (0..capacity).map(|_| AccessTracker::new()).collect(),
            holes: Mutex::new(Vec::new()),
        }
    }

    /// Tries to reserve `n` slots (`1 <= n <= capacity`) and register as a
    /// writer in one step.
    #[inline]
    pub(super) fn try_reserve(&self, n: usize) -> Reserve {
        let capacity = self.cells.len() as u64;
        // ORDERING: Acquire (here and on a failed compare-exchange): if we see
        // `SEALED`, we synchronise with the flusher's Release `seal`; see
        // there. (Acquire loads are free on x86.)
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            if cur & CLOSED != 0 {
                return Reserve::Closed;
            }
            if cur & SEALED != 0 {
                return Reserve::Sealed;
            }
            let start = cur & OFFSET_MASK;
            if start + n as u64 > capacity {
                return Reserve::Full;
            }
            // ORDERING: Acquire on success pairs with the Release store in
            // `activate`, so the flusher's last reads and drops of these slots
            // (from the batch before) happen before this writer overwrites
            // them. Acquire on failure: see the load above.
            match self.state.compare_exchange_weak(
                cur,
                cur + n as u64 + WRITER,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return Reserve::Reserved(start as usize),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Deregisters a writer whose items are all in place. Returns whether it
    /// was the last writer and the flusher is parked waiting for it.
    #[inline]
    pub(super) fn release(&self) -> bool {
        // ORDERING: Release publishes this writer's slot writes (and any hole
        // it recorded) to the flusher, whose Acquire `load` (waiting for
        // writers) or `seal` reads this value or a later one in the same RMW
        // chain.
        let prev = self.state.fetch_sub(WRITER, Ordering::Release);
        writers(prev) == 1 && prev & WAITER != 0
    }

    /// Seals the slab (adding `extra` bits, e.g. `CLOSED`); returns the word
    /// as it was, whose offset is the final length of the batch.
    pub(super) fn seal(&self, extra: u64) -> u64 {
        // ORDERING: AcqRel. Acquire: if no writer is in flight, their
        // released slot writes are visible to us. Release: a writer whose
        // reservation sees `SEALED` (with Acquire) then sees everything the
        // flusher did before, e.g. recycling the slab it will activate next.
        self.state.fetch_or(SEALED | extra, Ordering::AcqRel)
    }

    /// Unseals an empty spare slab: writers may reserve from slot 0 again.
    pub(super) fn activate(&self) {
        // ORDERING: Release: pairs with a writer's Acquire reservation, so the
        // flusher's drops of the previous batch's items happen before the
        // slots are reused.
        self.state.store(0, Ordering::Release);
    }

    /// Marks the slab empty and sealed again after its batch was consumed,
    /// keeping `CLOSED` if it was set. Flusher only, with no writer in flight.
    pub(super) fn recycle(&self) {
        // ORDERING: only the flusher writes the word while it is sealed with
        // no writers, so a Relaxed read of our own last value is exact.
        let closed = self.state.load(Ordering::Relaxed) & CLOSED;
        // ORDERING: Release, as in `activate` (a later `activate` overwrites
        // this anyway; this keeps the chain ordered after our drops).
        self.state.store(SEALED | closed, Ordering::Release);
    }

    /// Sets bits (`WAITER`) without touching the rest.
    pub(super) fn set(&self, bits: u64) {
        // ORDERING: Relaxed: the flusher re-reads the word after this under
        // the park mutex; the RMW's place in the word's modification order is
        // what decides whether a leaving writer sees `WAITER`.
        self.state.fetch_or(bits, Ordering::Relaxed);
    }

    /// Clears bits (`WAITER`) without touching the rest.
    pub(super) fn clear(&self, bits: u64) {
        // ORDERING: Relaxed: only the flusher reads WAITER's absence.
        self.state.fetch_and(!bits, Ordering::Relaxed);
    }

    /// The current word, for the flusher's checks.
    pub(super) fn load(&self) -> u64 {
        // ORDERING: Acquire: when this shows no writers in flight, their
        // Release in `release` makes their slot writes visible.
        self.state.load(Ordering::Acquire)
    }

    #[inline]
    pub(super) fn capacity(&self) -> usize {
        self.cells.len()
    }

    /// Raw pointer to slot `i` (may be one past the end).
    #[inline]
    pub(super) fn slot(&self, i: usize) -> *mut MaybeUninit<T> {
        debug_assert!(i <= self.cells.len());
        // `UnsafeCell<X>` is `repr(transparent)` over `X`; writing through a
        // pointer obtained from `&UnsafeCell` is what `UnsafeCell` is for.
        UnsafeCell::raw_get(self.cells.as_ptr().wrapping_add(i))
    }

    /// Tells loom (no-op otherwise) that slots `range` are written.
    #[inline]
    pub(super) fn track_write(&self, range: Range<usize>) {
        self.trackers[range].iter().for_each(AccessTracker::write);
    }

    /// Tells loom (no-op otherwise) that slots `range` are read.
    #[inline]
    pub(super) fn track_read(&self, range: Range<usize>) {
        self.trackers[range].iter().for_each(AccessTracker::read);
    }

    /// Records that `range` holds no items (its writer panicked).
    #[cold]
    pub(super) fn record_hole(&self, range: Range<usize>) {
        self.holes.lock().push(range);
    }

    /// Moves the items of `0..len` together over any holes; returns the new
    /// length. Flusher only, with no writer in flight.
    pub(super) fn close_holes(&self, len: usize) -> usize {
        let mut holes = self.holes.lock();
        if holes.is_empty() {
            return len;
        }
        holes.sort_unstable_by_key(|h| h.start);
        let (mut to, mut from) = (0, 0);
        for hole in holes.drain(..) {
            let run = hole.start - from;
            // SAFETY: `from..hole.start` holds initialised items (holes are
            // disjoint and within `0..len`), `to <= from`, and no writer is in
            // flight, so we have exclusive access; `ptr::copy` allows overlap.
            unsafe { ptr::copy(self.slot(from), self.slot(to), run) };
            to += run;
            from = hole.end;
        }
        let run = len - from;
        // SAFETY: as above, for the items after the last hole.
        unsafe { ptr::copy(self.slot(from), self.slot(to), run) };
        self.track_write(0..len);
        to + run
    }

    /// The initialised items `0..len` as a slice.
    ///
    /// # Safety
    /// Slots `0..len` hold initialised items and nobody writes them while the
    /// returned borrow lives.
    pub(super) unsafe fn items(&self, len: usize) -> &[T] {
        self.track_read(0..len);
        // SAFETY: the caller guarantees `0..len` is initialised and not
        // written concurrently; `MaybeUninit<T>` and `UnsafeCell` have `T`'s
        // layout, so the cells are `len` contiguous `T`s.
        unsafe { std::slice::from_raw_parts(self.slot(0).cast::<T>(), len) }
    }

    /// Drops the items in `range`.
    ///
    /// # Safety
    /// The slots in `range` hold initialised items that nobody else accesses,
    /// and they are treated as uninitialised afterwards.
    pub(super) unsafe fn drop_items(&self, range: Range<usize>) {
        self.track_write(range.clone());
        let slice = ptr::slice_from_raw_parts_mut(self.slot(range.start).cast::<T>(), range.len());
        // SAFETY: guaranteed by the caller.
        unsafe { ptr::drop_in_place(slice) };
    }
}
