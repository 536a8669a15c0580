//! The flusher role: swapping the active slab out, and staging writes that
//! must reach the sink together.

use super::Engine;
use super::slab::{self, CLOSED, Slab};
use crate::sync::{MutexGuard, Ordering};

/// The flusher role, held by one thread at a time. Gives access to the
/// flusher's state `F` and to the slabs' flusher-only operations.
pub(crate) struct Flusher<'a, T, F> {
    engine: &'a Engine<T, F>,
    /// `Some` until dropped: the drop releases the role *before* it wakes
    /// writers waiting for it.
    state: Option<MutexGuard<'a, F>>,
}

impl<'a, T, F> Flusher<'a, T, F> {
    pub(super) fn new(engine: &'a Engine<T, F>, state: MutexGuard<'a, F>) -> Self {
        Self {
            engine,
            state: Some(state),
        }
    }

    /// The flusher's state.
    pub(crate) fn state(&mut self) -> &mut F {
        self.state
            .as_mut()
            .expect("mwsr: the role is held until drop")
    }

    fn active_index(&self) -> usize {
        // ORDERING: only the role holder stores `active`, and handing the
        // role over (through `holder`'s mutex) orders our load after the
        // previous holder's store.
        self.engine.active.load(Ordering::Relaxed)
    }

    /// Whether a reservation of `n` slots would fit in the active slab now.
    pub(crate) fn has_room(&self, n: usize) -> bool {
        let active = &self.engine.slabs[self.active_index()];
        let word = active.load();
        word & slab::SEALED == 0 && active.fits(word, n)
    }

    /// Whether the engine was closed for good.
    pub(crate) fn is_closed(&self) -> bool {
        self.engine.slabs[self.active_index()].load() & CLOSED != 0
    }

    /// Takes the active slab's batch: seals it, activates the spare so writers
    /// go on at once, waits for the writers still copying into the sealed
    /// slab, then calls `consume` with the batch and the flusher state. The
    /// batch's items are dropped afterwards. Returns `None`, without calling
    /// `consume`, when there is nothing to take.
    ///
    /// A pending batch must have been taken first ([`take_pending`](Self::take_pending)).
    pub(crate) fn swap<R>(&mut self, consume: impl FnOnce(&[T], &mut F) -> R) -> Option<R> {
        let (active, sealed) = self.seal_active()?;
        self.take(active, sealed, consume)
    }

    /// Swaps the active slab out as [`swap`](Self::swap) does, but leaves
    /// its batch *pending*, for this or the next role holder to deliver with
    /// [`take_pending`](Self::take_pending) before anything else. So a
    /// writer that must not wait for a sink can make room. Returns `false`,
    /// doing nothing, when a batch is pending already (both slabs are full)
    /// or there is nothing to swap.
    pub(crate) fn seal_for_later(&mut self) -> bool {
        if self.engine.pending.lock().is_some() {
            return false;
        }
        let Some(sealed) = self.seal_active() else {
            return false;
        };
        *self.engine.pending.lock() = Some(sealed);
        true
    }

    /// Delivers the pending batch, if any (see
    /// [`seal_for_later`](Self::seal_for_later)).
    pub(crate) fn take_pending<R>(&mut self, consume: impl FnOnce(&[T], &mut F) -> R) -> Option<R> {
        let (index, sealed) = self.engine.pending.lock().take()?;
        self.take(index, sealed, consume)
    }

    /// Seals the active slab and activates the spare; returns the sealed
    /// slab's index and word, or `None` if it is empty or closed.
    fn seal_active(&mut self) -> Option<(usize, u64)> {
        debug_assert!(
            self.engine.pending.lock().is_none(),
            "mwsr: the pending batch goes first"
        );
        let engine = self.engine;
        let active = self.active_index();
        let slab = &engine.slabs[active];
        let word = slab.load();
        if slab::offset(word) == 0 || word & CLOSED != 0 {
            return None;
        }
        // Seal first, then open the spare: never two open slabs (invariant 1).
        let sealed = slab.seal(0);
        engine.slabs[1 - active].activate();
        // ORDERING: Release pairs with writers' Acquire load of `active`,
        // so a writer that reads the new index also sees it activated.
        engine.active.store(1 - active, Ordering::Release);
        engine.notify_swapped();
        Some((active, sealed))
    }

    /// Seals the engine for good and takes what was written so far, as
    /// [`swap`](Self::swap) does. Writers get [`Rejected::Closed`](super::Rejected)
    /// from now on. A pending batch must have been taken first.
    pub(crate) fn close<R>(&mut self, consume: impl FnOnce(&[T], &mut F) -> R) -> Option<R> {
        debug_assert!(
            self.engine.pending.lock().is_none(),
            "mwsr: the pending batch goes first"
        );
        let active = self.active_index();
        self.engine.slabs[1 - active].seal(CLOSED);
        let sealed = self.engine.slabs[active].seal(CLOSED);
        self.take(active, sealed, consume)
    }

    /// Consumes sealed slab `index`, whose word was `sealed` when sealed.
    fn take<R>(
        &mut self,
        index: usize,
        sealed: u64,
        consume: impl FnOnce(&[T], &mut F) -> R,
    ) -> Option<R> {
        let slab = &self.engine.slabs[index];
        let len = self.engine.settle(index, sealed);
        let batch = Batch { slab, len };
        // SAFETY: sealed with every reservation committed (waited above), so
        // `0..len` holds initialised items and nobody else touches the slab
        // until it is recycled by `batch`'s drop, after this borrow ends.
        let items = unsafe { slab.items(batch.len) };
        (len > 0).then(|| consume(items, self.state()))
    }

    /// The spare slab, for staging items that must reach the sink together
    /// (a write too large for one batch). The spare is empty and sealed
    /// whenever the role is free, and writers never enter a sealed slab.
    pub(crate) fn staging(&mut self) -> (Staging<'_, T>, &mut F) {
        let engine = self.engine;
        debug_assert!(
            engine.pending.lock().is_none(),
            "mwsr: the pending batch goes first"
        );
        let spare = &engine.slabs[1 - self.active_index()];
        (
            Staging {
                slab: spare,
                len: 0,
            },
            self.state(),
        )
    }
}

impl<T, F> Drop for Flusher<'_, T, F> {
    fn drop(&mut self) {
        drop(self.state.take());
        self.engine.release_role();
    }
}

/// A sealed slab's items while they are being consumed; dropping it drops the
/// items and recycles the slab, also if the consumer unwinds.
struct Batch<'a, T> {
    slab: &'a Slab<T>,
    len: usize,
}

impl<T> Drop for Batch<'_, T> {
    fn drop(&mut self) {
        // Recycle first: should an item's `Drop` panic, the slab must not
        // still count the items (the engine's drop would drop them again).
        // Nobody can use the recycled slab before this returns: it stays
        // sealed, and only the role holder (us) activates slabs.
        self.slab.recycle();
        // SAFETY: `0..len` are the batch's initialised items (see `take`),
        // consumed now, and nobody else accesses the sealed slab.
        unsafe { self.slab.drop_items(0..self.len) };
    }
}

/// Items gathered in the spare slab by the flusher alone.
pub(crate) struct Staging<'a, T> {
    slab: &'a Slab<T>,
    len: usize,
}

impl<T> Staging<'_, T> {
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slab.capacity()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == self.slab.capacity()
    }

    /// Appends clones of as many of `items` as fit; returns how many.
    pub(crate) fn extend_from_slice(&mut self, items: &[T]) -> usize
    where
        T: Clone,
    {
        let n = items.len().min(self.slab.capacity() - self.len);
        self.slab.track_write(self.len..self.len + n);
        // SAFETY: `len..len + n` is within the spare slab, uninitialised, and
        // ours alone (sealed, and we hold the flusher role).
        let dst = unsafe { std::slice::from_raw_parts_mut(self.slab.slot(self.len), n) };
        dst.write_clone_of_slice(&items[..n]);
        self.len += n;
        n
    }

    /// Hands the staged items to `consume`, then drops them.
    pub(crate) fn drain<R>(&mut self, consume: impl FnOnce(&[T]) -> R) -> R {
        let batch = Batch {
            slab: self.slab,
            len: std::mem::take(&mut self.len),
        };
        // SAFETY: `0..batch.len` were initialised by `extend_from_slice`, and
        // the slab is ours alone (see `extend_from_slice`).
        let items = unsafe { self.slab.items(batch.len) };
        consume(items)
    }
}

impl<T> Drop for Staging<'_, T> {
    fn drop(&mut self) {
        // SAFETY: staged items not drained (the sink failed midway); ours alone.
        unsafe { self.slab.drop_items(0..self.len) };
    }
}
