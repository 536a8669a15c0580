//! One preallocated slab of slots, the atomic word that hands out ranges of
//! it, and one commit mark per reservation.
//!
//! A write costs one atomic read-modify-write, on the slab's word: a
//! compare-exchange that reserves a range of slots *and* takes the next
//! reservation number. The writer then copies its items in and commits with a
//! plain Release store to its own mark. The flusher, once it has sealed the
//! slab, knows from the word how many reservations there were and waits for
//! each of their marks. (A writer count in the word would cost every write a
//! second read-modify-write on that contended cache line; the mark is a store
//! that does not stall the writer.)
//!
//! In per-writer mode (see [`super::lanes`]) each reservation is a *chunk*
//! that one lane fills over many writes; whoever retires it records how much
//! of it was filled (its *extent*) before committing its mark, and the
//! flusher moves the chunks' filled parts together before delivering.
//!
//! ```text
//!  63      62      61      60..32                 31..0
//!   -     CLOSED  SEALED  reservations so far   slots reserved (offset)
//! ```
//!
//! - `SEALED`: writers may not reserve here. A spare slab stays sealed until
//!   the flusher activates it (see the engine's invariant 1 for why that
//!   keeps batches in write order).
//! - `CLOSED`: sealed for good (the buffer failed or was closed); a writer
//!   that sees it stops retrying.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::ptr;

use crossbeam_utils::CachePadded;

use crate::sync::{AccessTracker, AtomicU8, AtomicU64, Backoff, Mutex, Ordering};

const OFFSET_MASK: u64 = u32::MAX as u64;
const RESERVATION: u64 = 1 << 32;
const RESERVATIONS_MASK: u64 = ((1 << 29) - 1) << 32;
/// The most reservations one batch can count (and so hold): below the
/// field's limit, and a multiple of `STRIPES`.
const MAX_RESERVATIONS: usize = (1 << 29) - STRIPES;
/// Consecutive reservations' marks lie this many stripes apart (see
/// [`Slab::mark`]).
const STRIPES: usize = 8;
pub(super) const SEALED: u64 = 1 << 61;
pub(super) const CLOSED: u64 = 1 << 62;

/// A mark's value while its reservation is being written, and after the
/// flusher has consumed it.
const OPEN: u8 = 0;
/// A mark's value once its writer is done (its items are in place, or its
/// range was recorded as a hole).
const COMMITTED: u8 = 1;

/// The largest capacity the packed word can count.
pub(crate) const MAX_CAPACITY: usize = OFFSET_MASK as usize;

/// Whether both slabs are sealed for good. A closer closes one slab, then
/// the other: a writer that finds one closed answers `Closed` only once the
/// other is too, so that no later write of its own can land in the other.
pub(super) fn both_closed<T>(slabs: &[Slab<T>; 2]) -> bool {
    slabs.iter().all(Slab::is_closed)
}

#[inline]
pub(super) fn offset(state: u64) -> usize {
    (state & OFFSET_MASK) as usize
}

/// How many reservations were taken in the word's batch.
#[inline]
pub(super) fn reservations(state: u64) -> usize {
    ((state & RESERVATIONS_MASK) >> 32) as usize
}

/// What a reservation attempt on one slab found.
pub(super) enum Reserve {
    /// Slots `start..start + len` are this writer's, and mark `seq` is the
    /// one it commits them with.
    Reserved {
        start: usize,
        len: usize,
        seq: usize,
    },
    /// Not enough room (or reservation numbers) left.
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
    /// Mark `i` tells whether reservation `i` of the batch is committed.
    /// Each reservation holds at least one slot, so one mark per slot (up to
    /// `MAX_RESERVATIONS`) is enough.
    marks: Box<[AtomicU8]>,
    /// Per-writer mode only (empty otherwise): extent `i` is where chunk
    /// `i` starts and how many of its slots were filled, packed as
    /// `start << 32 | filled`, stored before its mark is committed.
    extents: Box<[AtomicU64]>,
    /// Ranges reserved by writers whose `Clone` panicked mid-copy: they hold
    /// no items, and the flusher closes them up before delivering. Cold path.
    holes: Mutex<Vec<Range<usize>>>,
}

/// `n` values of `make()`, or `None` if the allocation fails (rather than
/// aborting the process, as `collect` would).
fn try_boxed<X>(n: usize, make: impl FnMut() -> X) -> Option<Box<[X]>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).ok()?;
    v.extend(std::iter::repeat_with(make).take(n));
    Some(v.into_boxed_slice())
}

impl<T> Slab<T> {
    /// A sealed, empty slab of `capacity` slots, or `None` if the memory
    /// cannot be had. `chunks` is the most chunks one batch holds in
    /// per-writer mode, `None` in the default mode.
    pub(super) fn try_new(capacity: usize, chunks: Option<usize>) -> Option<Self> {
        let marks = chunks
            .unwrap_or(capacity)
            .min(MAX_RESERVATIONS)
            .next_multiple_of(STRIPES);
        let extents = if chunks.is_some() { marks } else { 0 };
        Some(Self {
            state: CachePadded::new(AtomicU64::new(SEALED)),
            cells: try_boxed(capacity, || UnsafeCell::new(MaybeUninit::uninit()))?,
            trackers: try_boxed(capacity, AccessTracker::new)?,
            marks: try_boxed(marks, || AtomicU8::new(OPEN))?,
            extents: try_boxed(extents, || AtomicU64::new(0))?,
            holes: Mutex::new(Vec::new()),
        })
    }

    /// Tries to reserve at least `n` slots (`1 <= n <= capacity`) and up to
    /// `want` (a chunk: as much of it as is left, but never less than `n`),
    /// and take the next reservation number, in one step.
    #[inline]
    pub(super) fn try_reserve(&self, n: usize, want: usize) -> Reserve {
        // ORDERING: Acquire (here and on a failed compare-exchange): if we see
        // `SEALED`, we synchronise with the flusher's Release `seal`; see
        // there. (Acquire loads are free on x86.)
        let mut cur = self.state.load(Ordering::Acquire);
        let mut contention = Backoff::new();
        loop {
            if cur & CLOSED != 0 {
                return Reserve::Closed;
            }
            if cur & SEALED != 0 {
                return Reserve::Sealed;
            }
            if !self.fits(cur, n) {
                return Reserve::Full;
            }
            let (start, seq) = (offset(cur), reservations(cur));
            let len = want.min(self.cells.len() - start).max(n);
            // ORDERING: Acquire on success pairs with the Release store in
            // `activate`, so the flusher's last reads and drops of these slots
            // (from the batch before) happen before this writer overwrites
            // them. Acquire on failure: see the load above.
            match self.state.compare_exchange_weak(
                cur,
                cur + len as u64 + RESERVATION,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Reserve::Reserved { start, len, seq };
                }
                Err(actual) => {
                    cur = actual;
                    contention.lose_race();
                }
            }
        }
    }

    /// Commits reservation `seq`: its items are in place (or its range was
    /// recorded as a hole). The writer touches the slab no more.
    #[inline]
    pub(super) fn commit(&self, seq: usize) {
        // ORDERING: Release publishes this writer's slot writes (and any hole
        // it recorded) to the flusher's Acquire load in `wait_committed`.
        self.mark(seq).store(COMMITTED, Ordering::Release);
    }

    /// Retires chunk `seq` (per-writer mode), which starts at slot `start`
    /// and whose first `filled` slots hold items, and commits it.
    pub(super) fn commit_chunk(&self, seq: usize, start: usize, filled: usize) {
        // ORDERING: Relaxed: published by `commit`'s Release below, which the
        // flusher's Acquire in `wait_committed` reads before `compact` does.
        // (The lane lock, which every retiring thread holds and the flusher
        // takes in `collect` before it waits, orders it as well.)
        self.extents[seq].store((start as u64) << 32 | filled as u64, Ordering::Relaxed);
        self.commit(seq);
    }

    /// Moves the filled parts of the first `count` chunks (per-writer mode,
    /// all committed) together at the front of the slab, in chunk order;
    /// returns how many items that is. Flusher only.
    pub(super) fn compact(&self, count: usize) -> usize {
        let mut to = 0;
        for extent in &self.extents[..count] {
            // ORDERING: Relaxed: see `commit_chunk`.
            let extent = extent.load(Ordering::Relaxed);
            let (start, filled) = ((extent >> 32) as usize, offset(extent));
            if start != to {
                self.track_read(start..start + filled);
                self.track_write(to..to + filled);
                // SAFETY: `start..start + filled` holds the chunk's items
                // (chunks are disjoint, claimed in increasing order, so
                // `to <= start` and everything below `to` is already
                // placed); every chunk is committed, so the slab is ours
                // alone; `ptr::copy` allows the ranges to overlap.
                unsafe { ptr::copy(self.slot(start), self.slot(to), filled) };
            }
            to += filled;
        }
        to
    }

    /// Waits until the first `count` reservations (all of a sealed batch) are
    /// committed, and opens their marks for the slab's next batch. Flusher
    /// only.
    ///
    /// There is no wake-up: a writer holds a reservation only while it copies
    /// its items in (no lock, no sink call), so the wait is short unless the
    /// writer was preempted, and it backs off from spinning to sleeping.
    /// Writers thus never check for a waiting flusher.
    pub(super) fn wait_committed(&self, count: usize) {
        for mark in (0..count).map(|seq| self.mark(seq)) {
            let mut backoff = Backoff::new();
            // ORDERING: Acquire pairs with the writer's Release in `commit`:
            // its slot writes (and hole) are visible once we see the mark.
            while mark.load(Ordering::Acquire) != COMMITTED {
                backoff.snooze();
            }
            // ORDERING: Relaxed: the slab is sealed, so no writer touches the
            // mark until `activate`'s Release (paired with the writer's
            // Acquire reservation) publishes this store.
            mark.store(OPEN, Ordering::Relaxed);
        }
    }

    /// Seals the slab (adding `extra` bits, e.g. `CLOSED`); returns the word
    /// as it was, whose offset is the final length of the batch.
    pub(super) fn seal(&self, extra: u64) -> u64 {
        // ORDERING: AcqRel. Acquire: we read the reservation count that
        // `wait_committed` needs (the slot writes themselves are published by
        // the marks). Release: a writer whose reservation sees `SEALED` (with
        // Acquire) then sees everything the flusher did before, e.g.
        // recycling the slab it will activate next.
        self.state.fetch_or(SEALED | extra, Ordering::AcqRel)
    }

    /// Unseals an empty spare slab: writers may reserve from slot 0 again,
    /// unless it was closed (from outside the flusher role: see
    /// `Engine::close_now`), which it stays.
    pub(super) fn activate(&self) {
        // ORDERING: Release: pairs with a writer's Acquire reservation, so the
        // flusher's drops of the previous batch's items happen before the
        // slots are reused. An RMW, not a store, so that a concurrent
        // `close_now` is never undone.
        self.state.fetch_and(CLOSED, Ordering::Release);
    }

    /// Whether the slab is sealed for good.
    pub(super) fn is_closed(&self) -> bool {
        // ORDERING: Acquire, as in `try_reserve`. `CLOSED` is never cleared,
        // so once a thread sees it, every later load of its own does too.
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Closes the slab for writers now, whoever holds the flusher role.
    pub(super) fn close_now(&self) {
        // ORDERING: Release: a writer whose reservation fails on `CLOSED`
        // (Acquire) also sees the failure recorded before this.
        self.state.fetch_or(CLOSED, Ordering::Release);
    }

    /// Marks the slab empty and sealed again after its batch was consumed,
    /// keeping `CLOSED` if it was set. Flusher only, with every reservation
    /// committed.
    pub(super) fn recycle(&self) {
        // ORDERING: only the flusher writes the word while it is sealed, so a
        // Relaxed read of our own last value is exact.
        let closed = self.state.load(Ordering::Relaxed) & CLOSED;
        // ORDERING: Release, as in `activate` (a later `activate` overwrites
        // this anyway; this keeps the chain ordered after our drops).
        self.state.store(SEALED | closed, Ordering::Release);
    }

    /// The current word, for the flusher's checks.
    pub(super) fn load(&self) -> u64 {
        // ORDERING: Acquire, as in `try_reserve` (writers check for room
        // with it too); the slot writes are published by the marks.
        self.state.load(Ordering::Acquire)
    }

    /// Reservation `seq`'s mark. Consecutive reservations (mostly different
    /// writers) get marks in different stripes of the array, so in different
    /// cache lines: writers committing at once do not pass one line back and
    /// forth. (The flusher reads the stripes in turn; the array stays small.)
    #[inline]
    fn mark(&self, seq: usize) -> &AtomicU8 {
        let stripe_len = self.marks.len() / STRIPES;
        &self.marks[(seq % STRIPES) * stripe_len + seq / STRIPES]
    }

    #[inline]
    pub(super) fn capacity(&self) -> usize {
        self.cells.len()
    }

    /// Whether a reservation of `n` slots fits in the batch whose word is
    /// `state` (room, and a reservation number, left), ignoring the flags.
    #[inline]
    pub(super) fn fits(&self, state: u64, n: usize) -> bool {
        offset(state) + n <= self.cells.len() && reservations(state) < self.marks.len()
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
    /// length. Flusher only, with every reservation committed.
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
            // disjoint and within `0..len`), `to <= from`, and every writer
            // has committed, so we have exclusive access; `ptr::copy` allows overlap.
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
