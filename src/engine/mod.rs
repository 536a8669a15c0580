//! The write/flush core shared by every buffer type: two preallocated slabs
//! used as a double buffer.
//!
//! Any number of writers reserve ranges of the active slab at once (one
//! compare-exchange on the slab's word, see [`slab`]), copy their items in,
//! and commit with a store to their reservation's mark. The flusher only
//! *swaps*: it seals the active slab, activates the spare, waits for the
//! marks of the sealed slab's reservations, and then hands the sealed batch to
//! the sink while writers fill the other slab.
//!
//! Invariants the rest of the crate relies on:
//! 1. At most one slab is unsealed at any time, and only the flusher role
//!    ([`Flusher`], one holder at a time) seals or activates slabs: a swap
//!    seals the old slab *before* it activates the spare. So the stream is a
//!    valid order of the writes: a slab's ranges in offset order, slabs in
//!    activation order. (Activating first would let a writer with a stale
//!    index write into the new slab and then, with its next write, into the
//!    old one, which is delivered first.)
//! 2. A writer that finds a slab sealed tries the other one; between the seal
//!    and the activation (a few instructions of the swapping thread, never a
//!    sink call) it backs off ([`Backoff`]). Writers never wait for a sink call
//!    while the other slab has room.
//! 3. The spare slab is empty whenever the flusher role is free: a swap
//!    delivers and recycles its batch before the role is released. Writers
//!    therefore wait for a sink only when the active slab is full while a
//!    batch is in the sink (backpressure), and they park. The one exception
//!    is a *pending* batch ([`Flusher::seal_for_later`]): a writer that must
//!    not wait (`try_write`) may swap a full slab out and leave its delivery
//!    to the next holder, which delivers it before anything else.
//! 4. No heap allocation in steady state: slabs are allocated once, batches
//!    are borrowed slices of them.

mod flusher;
mod lanes;
mod slab;

use crossbeam_utils::CachePadded;

pub(crate) use self::flusher::Flusher;
pub(crate) use self::lanes::MAX_LANES;
use self::lanes::{Chunk, LaneGuard, Lanes};
pub(crate) use self::slab::MAX_CAPACITY;
use self::slab::{Reserve, Slab};
use crate::sync::{AtomicUsize, Backoff, Condvar, Mutex, Ordering, ThreadId, current_thread};

/// Why a reservation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// The active slab (this index) has no room: somebody must swap.
    Full(usize),
    /// Sealed for good.
    Closed,
}

/// The shared core. `F` is the flusher's state (the sink and its sticky
/// error), which lives inside the flusher role's mutex.
pub(crate) struct Engine<T, F> {
    slabs: [Slab<T>; 2],
    /// Index of the active slab. A hint for writers: the slab's own word is
    /// what decides (see invariant 1).
    active: CachePadded<AtomicUsize>,
    /// The flusher's state. Locked only by the thread that `holder` names,
    /// so it is never contended: `holder` is the role's real lock.
    role: Mutex<F>,
    /// The thread holding the flusher role, if any. Turns a re-entrant call
    /// from inside the sink into an error instead of a deadlock, and lets a
    /// writer that found the active slab full wait for the role *or* a swap.
    holder: Mutex<Option<ThreadId>>,
    /// Signalled when the role is released and after each swap.
    role_or_swap: Condvar,
    /// A sealed slab left for the next role holder to deliver first (see
    /// invariant 3): its index and its word when sealed. Touched only by
    /// the role's holder, so never contended.
    pending: Mutex<Option<(usize, u64)>>,
    /// Per-writer mode's lanes (see [`lanes`]); `None` in the default mode.
    lanes: Option<Lanes>,
}

// SAFETY: the slots, and in per-writer mode the lanes' chunk cells, are the
// only non-`Sync` parts. A lane's cell is read and written only under the
// lane's lock (Acquire to take, Release to give up). Writers write disjoint
// reserved ranges; the flusher reads or drops a slab only after sealing it and
// observing (with Acquire) every reservation's commit mark; writers reuse slots
// only after an Acquire reservation that follows the flusher's Release
// `activate`. So every slot access is exclusive, and items only move between
// threads, which `T: Send` allows. `F` is only reached through `role`.
unsafe impl<T: Send, F: Send> Sync for Engine<T, F> {}

impl<T, F> Engine<T, F> {
    /// An engine of two slabs of `capacity` slots, in per-writer mode with
    /// that many lanes if `lanes` is given.
    ///
    /// # Errors
    /// `InvalidInput` if `capacity` is 0 or above [`MAX_CAPACITY`];
    /// `OutOfMemory` if the two slabs cannot be allocated.
    pub(crate) fn try_new(
        capacity: usize,
        lanes: Option<usize>,
        state: F,
    ) -> std::io::Result<Self> {
        use std::io::{Error, ErrorKind};
        if capacity == 0 || capacity > MAX_CAPACITY {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "mwsr: capacity must be at least 1 and at most {MAX_CAPACITY} items, \
                     not {capacity}"
                ),
            ));
        }
        // Checked by `WriteOrder::lanes`, which reports it.
        debug_assert!(lanes.is_none_or(|count| (1..=MAX_LANES).contains(&count)));
        let chunks = lanes.map(|count| Lanes::max_chunks(count, capacity));
        let slab = || {
            Slab::try_new(capacity, chunks).ok_or_else(|| {
                let bytes = capacity.saturating_mul(std::mem::size_of::<T>().max(1));
                Error::new(
                    ErrorKind::OutOfMemory,
                    format!(
                        "mwsr: cannot allocate a buffer of 2 halves of {capacity} items \
                         ({bytes} bytes each)"
                    ),
                )
            })
        };
        let engine = Self {
            slabs: [slab()?, slab()?],
            active: CachePadded::new(AtomicUsize::new(0)),
            role: Mutex::new(state),
            holder: Mutex::new(None),
            role_or_swap: Condvar::new(),
            pending: Mutex::new(None),
            lanes: lanes.map(|count| Lanes::new(count, capacity)),
        };
        engine.slabs[0].activate();
        Ok(engine)
    }

    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.slabs[0].capacity()
    }

    /// Reserves `n` slots (`1 <= n <= capacity`) in the active slab, or in
    /// per-writer mode in this thread's lane.
    #[inline]
    pub(crate) fn reserve(&self, n: usize) -> Result<Reservation<'_, T>, Rejected> {
        debug_assert!(n >= 1 && n <= self.capacity());
        let index = self.active_hint();
        if let Some(lanes) = &self.lanes {
            let mut lane = lanes.lock_mine();
            return match lane.room(n, lanes, &self.slabs, index) {
                Ok((chunk, claimed)) => Ok(Reservation {
                    slab: &self.slabs[chunk.slab],
                    start: chunk.filled,
                    len: n,
                    filled: 0,
                    landing: lane_landing(chunk, claimed),
                    owner: Owner::Lane(lane),
                }),
                Err(refused) => Err(lane_refusal(refused)),
            };
        }
        let (slab, start, seq) = self.reserve_in_slab(n, index)?;
        Ok(Reservation {
            slab,
            start,
            len: n,
            filled: 0,
            landing: Landing {
                before: start,
                after: start + n,
            },
            owner: Owner::Slab { seq },
        })
    }

    /// Moves one item in: [`reserve`](Self::reserve), push and publish in
    /// one step. The common write takes this way rather than through a
    /// [`Reservation`], which the compiler moves around on the stack (a
    /// store-forwarding stall that cost a fifth of a per-writer write).
    /// Returns where the item landed, or hands it back with the refusal.
    #[inline]
    pub(crate) fn push(&self, item: T) -> Result<Landing, (T, Rejected)> {
        let index = self.active_hint();
        if let Some(lanes) = &self.lanes {
            let mut lane = lanes.lock_mine();
            return match lane.room(1, lanes, &self.slabs, index) {
                Ok((chunk, claimed)) => {
                    let slab = &self.slabs[chunk.slab];
                    slab.track_write(chunk.filled..chunk.filled + 1);
                    // SAFETY: slot `filled` of the lane's chunk has room (`room`
                    // checked), is uninitialised, and is this lane's alone while
                    // we hold its lock; the flusher reads it only after
                    // collecting the chunk under that lock.
                    unsafe { (*slab.slot(chunk.filled)).write(item) };
                    lane.fill(1); // published when `lane` unlocks
                    Ok(lane_landing(chunk, claimed))
                }
                Err(refused) => Err((item, lane_refusal(refused))),
            };
        }
        match self.reserve_in_slab(1, index) {
            Ok((slab, start, seq)) => {
                slab.track_write(start..start + 1);
                // SAFETY: slot `start` is this reservation's alone and
                // uninitialised, as in `Reservation::push`.
                unsafe { (*slab.slot(start)).write(item) };
                slab.commit(seq);
                Ok(Landing {
                    before: start,
                    after: start + 1,
                })
            }
            Err(rejected) => Err((item, rejected)),
        }
    }

    /// The index of the slab to try first.
    #[inline]
    fn active_hint(&self) -> usize {
        // ORDERING: Acquire pairs with the flusher's Release store in `swap`,
        // so we try the slab it activated last. Only a hint: a stale index
        // finds its slab sealed, and the slab's own word decides.
        self.active.load(Ordering::Acquire)
    }

    /// Reserves `n` slots on the open slab's word (default mode), trying
    /// slab `index` first: the slab, the first slot and the reservation's
    /// number.
    #[inline]
    fn reserve_in_slab(
        &self,
        n: usize,
        mut index: usize,
    ) -> Result<(&Slab<T>, usize, usize), Rejected> {
        let mut backoff = Backoff::new();
        loop {
            let slab = &self.slabs[index];
            match slab.try_reserve(n, n) {
                Reserve::Reserved { start, seq, .. } => return Ok((slab, start, seq)),
                Reserve::Full => return Err(Rejected::Full(index)),
                Reserve::Closed if slab::both_closed(&self.slabs) => return Err(Rejected::Closed),
                Reserve::Sealed | Reserve::Closed => {
                    // Stale index, a swap between sealing this slab and
                    // activating the other (invariant 2), or a close that has
                    // reached this slab but not the other yet: try the other
                    // one, and back off while neither is open.
                    index = 1 - index;
                    backoff.snooze();
                }
            }
        }
    }

    /// Delivers nothing, but makes sealed slab `index` (whose word was
    /// `sealed`) ready to: collects the lanes' chunks in it, waits for every
    /// reservation, and closes up holes or unfilled chunk tails. Returns
    /// how many items the batch holds, from slot 0. Role holder only (or
    /// the engine's drop).
    fn settle(&self, index: usize, sealed: u64) -> usize {
        let slab = &self.slabs[index];
        let count = slab::reservations(sealed);
        match &self.lanes {
            None => {
                slab.wait_committed(count);
                slab.close_holes(slab::offset(sealed))
            }
            Some(lanes) => {
                lanes.collect(index, &self.slabs);
                slab.wait_committed(count);
                slab.compact(count)
            }
        }
    }

    /// Takes the flusher role, parking while another thread holds it.
    ///
    /// Fails instead of deadlocking when this thread already holds it (a sink
    /// calling back into its own buffer).
    pub(crate) fn lock_flusher(&self) -> Result<Flusher<'_, T, F>, Reentrant> {
        self.acquire_role(None)
            .map(|role| role.expect("waits until it has the role"))
    }

    /// Takes the flusher role for a writer that found slab `full` full, or
    /// returns `None` as soon as a swap has replaced that slab (the writer
    /// then retries without the role). So a writer never waits for a sink
    /// call while the other slab is open.
    pub(crate) fn lock_flusher_when_full(
        &self,
        full: usize,
    ) -> Result<Option<Flusher<'_, T, F>>, Reentrant> {
        self.acquire_role(Some(full))
    }

    /// Takes the flusher role if nobody holds it; never waits.
    pub(crate) fn try_lock_flusher(&self) -> Option<Flusher<'_, T, F>> {
        let mut holder = self.holder.lock();
        if holder.is_some() {
            return None; // another thread, or this one (inside the sink)
        }
        *holder = Some(current_thread().id());
        drop(holder);
        // Uncontended, as in `acquire_role`.
        Some(Flusher::new(self, self.role.lock()))
    }

    fn acquire_role(
        &self,
        unless_swapped: Option<usize>,
    ) -> Result<Option<Flusher<'_, T, F>>, Reentrant> {
        let me = current_thread().id();
        let mut holder = self.holder.lock();
        if *holder == Some(me) {
            return Err(Reentrant);
        }
        loop {
            if holder.is_none() {
                *holder = Some(me);
                drop(holder);
                // Uncontended: the previous holder unlocked `role` before it
                // cleared `holder`.
                return Ok(Some(Flusher::new(self, self.role.lock())));
            }
            // ORDERING: Acquire, as in `reserve`. A swapper stores `active`
            // before it takes `holder` to notify, so under `holder` either
            // the new index is seen here or the notification follows our wait.
            if unless_swapped.is_some_and(|full| self.active.load(Ordering::Acquire) != full) {
                return Ok(None);
            }
            holder = self.role_or_swap.wait(holder);
        }
    }

    /// Releases the role (after the flusher's state was unlocked).
    fn release_role(&self) {
        *self.holder.lock() = None;
        self.role_or_swap.notify_all();
    }

    /// Wakes writers parked in `lock_flusher_when_full` after a swap.
    fn notify_swapped(&self) {
        let _holder = self.holder.lock();
        self.role_or_swap.notify_all();
    }

    /// The index of the slab the flusher activated last.
    pub(crate) fn active_index(&self) -> usize {
        // ORDERING: Acquire, as in `reserve`.
        self.active.load(Ordering::Acquire)
    }

    /// The slab the flusher activated last.
    fn active_slab(&self) -> &Slab<T> {
        &self.slabs[self.active_index()]
    }

    /// The active slab's word.
    fn active_word(&self) -> u64 {
        self.active_slab().load()
    }

    /// Whether anything is waiting to be flushed (for a flusher deciding
    /// whether to sleep). A writer that makes an empty slab non-empty learns
    /// it from [`Landing::starts_batch`] and must then wake the flusher.
    pub(crate) fn has_data(&self) -> bool {
        let word = self.active_word();
        word & slab::CLOSED == 0 && slab::offset(word) > 0
    }

    /// The active slab's word while it takes writes; `None` while it is
    /// sealed for a swap or closed (there is nothing to wait for).
    fn open_word(&self) -> Option<u64> {
        let word = self.active_word();
        (word & (slab::SEALED | slab::CLOSED) == 0).then_some(word)
    }

    /// How many slots of the active slab are reserved (0 unless it is open).
    pub(crate) fn active_len(&self) -> usize {
        self.open_word().map_or(0, slab::offset)
    }

    /// Whether more than one write waits in the active slab, as far as its
    /// word tells. In per-writer mode the word counts chunk claims, and a
    /// chunk takes many writes, so any claim counts.
    pub(crate) fn several_writes(&self) -> bool {
        self.open_word().is_some_and(|word| match &self.lanes {
            None => slab::reservations(word) > 1,
            Some(_) => slab::reservations(word) > 0,
        })
    }

    /// Whether the engine is closed for good (every reservation will fail).
    pub(crate) fn is_closed(&self) -> bool {
        self.active_word() & slab::CLOSED != 0
    }

    /// Whether writers fill chunks of their own (per-writer mode).
    pub(crate) fn per_writer(&self) -> bool {
        self.lanes.is_some()
    }

    /// Whether a writer waiting for room should try again: `n` slots fit in
    /// the active slab, a swap is under way (invariant 2), or the engine is
    /// closed.
    pub(crate) fn has_room_or_closed(&self, n: usize) -> bool {
        let active = self.active_slab();
        let word = active.load();
        word & slab::SEALED != 0 || active.fits(word, n)
    }

    /// Refuses every later reservation, without the flusher role (whose
    /// holder may be stuck in the sink). Items already in the slabs stay
    /// there for the role's next holder to drop or deliver; a slab activated
    /// after this stays closed (see `Slab::activate`).
    pub(crate) fn close_now(&self) {
        for slab in &self.slabs {
            slab.close_now();
        }
    }

    /// Whether this thread holds the flusher role (is inside the sink).
    pub(crate) fn holds_role(&self) -> bool {
        *self.holder.lock() == Some(current_thread().id())
    }
}

impl<T, F> Drop for Engine<T, F> {
    fn drop(&mut self) {
        for (index, slab) in self.slabs.iter().enumerate() {
            let len = self.settle(index, slab.load());
            // SAFETY: `&mut self`: no writer or flusher is running, and once
            // settled a slab's first `len` slots are exactly its initialised
            // items (delivered batches were recycled to offset 0).
            unsafe { slab.drop_items(0..len) };
        }
    }
}

/// Where a write landed in its slab: the batch's length before and after
/// it. The write with `before == 0` started the batch, and the one that
/// crosses a mark is the only one that does; so each event has exactly one
/// writer responsible for reporting it (waking a flusher).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Landing {
    pub(crate) before: usize,
    pub(crate) after: usize,
}

impl Landing {
    /// A write that starts no batch and crosses no mark.
    const WITHIN: Self = Self {
        before: usize::MAX,
        after: usize::MAX,
    };

    /// Whether this write started the batch (the slab was empty).
    #[inline]
    pub(crate) fn starts_batch(self) -> bool {
        self.before == 0
    }

    /// Whether this write took the batch from below `mark` items to `mark`
    /// or more.
    #[inline]
    pub(crate) fn crosses(self, mark: usize) -> bool {
        self.before < mark && mark <= self.after
    }
}

/// Where a write into a lane's `chunk` lands. A write into a chunk claimed
/// before starts no batch and crosses no mark: the claim did, and its
/// writer reported it.
#[inline]
fn lane_landing(chunk: Chunk, claimed: bool) -> Landing {
    if claimed {
        Landing {
            before: chunk.start,
            after: chunk.end,
        }
    } else {
        Landing::WITHIN
    }
}

/// What a lane's failed claim (in slab `full`) means to the writer.
#[inline]
fn lane_refusal((refused, full): (Reserve, usize)) -> Rejected {
    match refused {
        Reserve::Full => Rejected::Full(full),
        _ => Rejected::Closed,
    }
}

/// The flusher role is held by this thread already.
#[derive(Debug)]
pub(crate) struct Reentrant;

/// Slots reserved by one writer. Dropping it publishes them; if fewer items
/// were written than reserved (a `Clone` panicked), the stream never shows
/// part of the write: in the default mode the range becomes a hole the
/// flusher closes up, in per-writer mode the items are dropped and the
/// chunk's fill stays where it was.
pub(crate) struct Reservation<'a, T> {
    slab: &'a Slab<T>,
    start: usize,
    len: usize,
    filled: usize,
    landing: Landing,
    owner: Owner<'a>,
}

/// Who publishes a reservation.
enum Owner<'a> {
    /// A reservation of the slab's own (default mode), committed by mark
    /// `seq` of its batch.
    Slab { seq: usize },
    /// Part of the lane's chunk (per-writer mode), published by advancing
    /// the chunk's fill and unlocking the lane.
    Lane(LaneGuard<'a>),
}

impl<T> Reservation<'_, T> {
    /// Appends clones of `items`.
    ///
    /// # Panics
    /// If more items are written than were reserved (a bug in this crate).
    #[inline]
    pub(crate) fn extend_from_slice(&mut self, items: &[T])
    where
        T: Clone,
    {
        assert!(
            items.len() <= self.len - self.filled,
            "mwsr: reservation overrun"
        );
        let at = self.start + self.filled;
        self.slab.track_write(at..at + items.len());
        // SAFETY: slots `at..at + items.len()` lie inside this reservation
        // (asserted above), which no other writer or the flusher touches until
        // `release`; they are uninitialised (a recycled or fresh slab).
        let dst = unsafe { std::slice::from_raw_parts_mut(self.slab.slot(at), items.len()) };
        // Clones into place, or drops the clones made so far and unwinds.
        dst.write_clone_of_slice(items);
        self.filled += items.len();
    }

    /// Where this write lands in its slab's batch (see [`Landing`]).
    #[inline]
    pub(crate) fn landing(&self) -> Landing {
        self.landing
    }

    /// Appends one item.
    #[inline]
    pub(crate) fn push(&mut self, item: T) {
        assert!(self.filled < self.len, "mwsr: reservation overrun");
        let at = self.start + self.filled;
        self.slab.track_write(at..at + 1);
        // SAFETY: slot `at` is inside this reservation, as in `extend_from_slice`.
        unsafe { (*self.slab.slot(at)).write(item) };
        self.filled += 1;
    }
}

impl<T> Drop for Reservation<'_, T> {
    fn drop(&mut self) {
        let whole = self.filled == self.len;
        if !whole {
            self.abandon();
        }
        match &mut self.owner {
            Owner::Slab { seq } => self.slab.commit(*seq),
            // Unlocks when the guard drops, after this.
            Owner::Lane(lane) if whole => lane.fill(self.len),
            Owner::Lane(_) => {}
        }
    }
}

impl<T> Reservation<'_, T> {
    #[cold]
    fn abandon(&mut self) {
        // SAFETY: the first `filled` slots of the reservation were written by
        // us and nobody else can see them yet.
        unsafe { self.slab.drop_items(self.start..self.start + self.filled) };
        if let Owner::Slab { .. } = self.owner {
            self.slab.record_hole(self.start..self.start + self.len);
        }
    }
}
