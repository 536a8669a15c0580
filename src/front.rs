//! What both buffer types share on top of the engine: the flusher's state
//! (the sink and its sticky failure), delivering batches with the flusher
//! role, and the write path up to "the buffer is full", where the two types
//! differ (flush inline, or wait for the flusher thread).

use crossbeam_utils::CachePadded;

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use crate::Error;
use crate::engine::{Engine, Flusher, Landing, Rejected, Reservation};
use crate::sink::{Sink, deliver};
use crate::stats::Counters;
use crate::sync::Mutex;

/// The flusher role of a buffer whose sink is `S`.
pub(crate) type Role<'a, T, S> = Flusher<'a, T, Outlet<S, <S as Sink<T>>::Error>>;

/// The engine with a sink behind it, and the counters.
pub(crate) struct Front<T, S: Sink<T>> {
    pub(crate) engine: Engine<T, Outlet<S, S::Error>>,
    pub(crate) counters: CachePadded<Counters>,
    /// A copy of the sink's sticky failure, readable without waiting for the
    /// flusher role (which a slow sink may hold for long). Set before the
    /// engine is closed for it.
    failure: Mutex<Option<Error<S::Error>>>,
}

impl<T, S: Sink<T>> Front<T, S> {
    /// # Errors
    /// As [`Engine::try_new`].
    pub(crate) fn try_new(capacity: usize, lanes: Option<usize>, sink: S) -> std::io::Result<Self> {
        Ok(Self {
            engine: Engine::try_new(capacity, lanes, Outlet::new(sink))?,
            counters: CachePadded::new(Counters::new()),
            failure: Mutex::new(None),
        })
    }

    /// Runs `f` with the flusher role, after checking the sticky failure; a
    /// failure during `f` seals the buffer for good and drops what it holds.
    pub(crate) fn with_role<R>(
        &self,
        f: impl FnOnce(&mut Role<'_, T, S>) -> Result<R, Error<S::Error>>,
    ) -> Result<R, Error<S::Error>> {
        let role = self.engine.lock_flusher().map_err(|_| Error::Reentrant)?;
        self.run_with_role(role, f)
    }

    /// As [`with_role`](Self::with_role), with the role already taken.
    ///
    /// A panic in `f` (a `Clone` while staging a large write: sink panics
    /// are caught deeper down) may have left part of a write delivered, so it
    /// fails the buffer for good before it unwinds further.
    pub(crate) fn run_with_role<R>(
        &self,
        mut role: Role<'_, T, S>,
        f: impl FnOnce(&mut Role<'_, T, S>) -> Result<R, Error<S::Error>>,
    ) -> Result<R, Error<S::Error>> {
        // A failure recorded without the role (a timed-out close) counts
        // as the sink's: nothing more is delivered.
        if let Some(failure) = self.failure() {
            role.state().fail(failure);
        }
        let result = match role.state().check() {
            Ok(()) => catch_unwind(AssertUnwindSafe(|| f(&mut role))),
            Err(failure) => Ok(Err(failure)),
        };
        if let Err(payload) = &result {
            role.state().fail(Error::from_panic_ref(&**payload));
        }
        if let Err(failure) = role.state().check() {
            self.failure.lock().get_or_insert(failure);
            // The items are dropped: see `Error`. (Nothing is left after
            // the first time.)
            let dropped = |batch: &[T], _: &mut _| self.counters.dropped(batch.len());
            role.take_pending(dropped);
            role.close(dropped);
        }
        result.unwrap_or_else(|payload| resume_unwind(payload))
    }

    /// Fails the buffer for good with `failure` without the flusher role,
    /// whose holder may be stuck in the sink: later writes are refused, and
    /// the role's next holder drops (and counts) what is left.
    pub(crate) fn fail_now(&self, failure: Error<S::Error>) {
        self.record_failure(failure);
        self.engine.close_now();
    }

    /// Takes the sink back, from a handle's `into_inner`, after the last
    /// flush.
    ///
    /// # Panics
    /// If another handle's `into_inner` took it already.
    pub(crate) fn take_sink(&self) -> S {
        let sink = self
            .engine
            .lock_flusher()
            .ok()
            .and_then(|mut role| role.state().take_sink());
        // The front was created with a sink, and `into_inner` is the only
        // taker: a second handle's call is the caller's bug, said plainly.
        sink.expect("mwsr: into_inner: another handle of this buffer took the sink already")
    }

    /// Delivers what is buffered, then closes the engine for good: later
    /// writes get [`Error::Closed`]. `Ok` if it was closed already (unless
    /// the sink failed).
    pub(crate) fn close(&self) -> Result<(), Error<S::Error>> {
        self.with_role(|role| self.close_with(role))
    }

    /// As [`close`](Self::close), with the role already taken. Writes
    /// racing it land in this last batch or get `Closed`.
    pub(crate) fn close_with(&self, role: &mut Role<'_, T, S>) -> Result<(), Error<S::Error>> {
        self.flush_pending(role)?;
        role.close(|batch, outlet| self.deliver_buffered(outlet, batch))
            .unwrap_or(Ok(()))
    }

    /// Swaps the active half out and delivers it. `Ok` if it was empty.
    pub(crate) fn flush_active(&self, role: &mut Role<'_, T, S>) -> Result<(), Error<S::Error>> {
        self.flush_active_then(role, || ())
    }

    /// As [`flush_active`](Self::flush_active), calling `swapped` between
    /// the swap (the other half is open to writers) and the sink call. A
    /// pending batch (see [`try_swap`](Self::try_swap)) goes first.
    pub(crate) fn flush_active_then(
        &self,
        role: &mut Role<'_, T, S>,
        swapped: impl FnOnce(),
    ) -> Result<(), Error<S::Error>> {
        self.flush_pending(role)?;
        role.swap(|batch, outlet| {
            swapped();
            self.deliver_buffered(outlet, batch)
        })
        .unwrap_or(Ok(()))
    }

    /// Delivers the batch a writer left pending, if any.
    pub(crate) fn flush_pending(&self, role: &mut Role<'_, T, S>) -> Result<(), Error<S::Error>> {
        role.take_pending(|batch, outlet| self.deliver_buffered(outlet, batch))
            .unwrap_or(Ok(()))
    }

    /// For a writer that must not wait and found slab `full` full: if the
    /// flusher role is free, swaps that slab out and leaves its delivery to
    /// the next holder (see `Flusher::seal_for_later`). Returns whether the
    /// writer should try again: `true` if a swap has replaced slab `full`
    /// (by this call or another thread's); `false` if the other slab is
    /// full too or the role is busy, so that both halves may be full.
    pub(crate) fn try_swap(&self, full: usize) -> bool {
        if self.engine.active_index() != full {
            return true;
        }
        let Some(mut role) = self.engine.try_lock_flusher() else {
            return false;
        };
        // Under the role, the index is stable: seal it only if it is still
        // the full one.
        self.engine.active_index() != full || role.seal_for_later()
    }

    /// Delivers a batch of buffered items, which writes had accepted: if
    /// the sink fails on them (or failed before), they are counted dropped.
    pub(crate) fn deliver_buffered(
        &self,
        outlet: &mut Outlet<S, S::Error>,
        batch: &[T],
    ) -> Result<(), Error<S::Error>> {
        let result = outlet.deliver(batch, &self.counters);
        if result.is_err() {
            self.counters.dropped(batch.len());
        }
        result
    }

    /// Copies `parts` into the buffer as one contiguous run, calling
    /// `when_full(n, index of the full slab)` each time they do not fit, or
    /// delivers them with the role when they are too large for one batch.
    /// Returns the total, and where the write landed if it was buffered.
    pub(crate) fn write_parts<P>(
        &self,
        parts: &[P],
        slice: impl Fn(&P) -> &[T],
        mut when_full: impl FnMut(usize, usize) -> Result<(), Error<S::Error>>,
    ) -> Result<(usize, Option<Landing>), Error<S::Error>>
    where
        T: Clone,
    {
        // Lengths of zero-sized items can overflow when added; such a write
        // cannot fit and goes the unbuffered way.
        let total = parts
            .iter()
            .try_fold(0usize, |sum, p| sum.checked_add(slice(p).len()));
        let n = match total {
            Some(0) => return Ok((0, None)),
            Some(n) if n < self.engine.capacity() => n,
            _ => {
                return self
                    .with_role(|role| self.write_unbuffered(role, parts, &slice))
                    .map(|()| (total.unwrap_or(usize::MAX), None));
            }
        };
        loop {
            match self.engine.reserve(n) {
                Ok(reservation) => return Ok((n, Some(fill(reservation, parts, &slice)))),
                Err(Rejected::Full(index)) => when_full(n, index)?,
                Err(Rejected::Closed) => return Err(self.closed_error()),
            }
        }
    }

    /// As [`write_parts`](Self::write_parts) without waiting or calling the
    /// sink: the parts are copied in whole if there is room now, or not at
    /// all. A run of `capacity` items or more never fits (it could only go
    /// to the sink directly) and is refused as full.
    pub(crate) fn try_write_parts<P>(
        &self,
        parts: &[P],
        slice: impl Fn(&P) -> &[T],
        on_full: impl FnMut(),
    ) -> Result<(usize, Option<Landing>), Refused<S::Error>>
    where
        T: Clone,
    {
        let total = parts
            .iter()
            .try_fold(0usize, |sum, p| sum.checked_add(slice(p).len()));
        match total {
            Some(0) => Ok((0, None)),
            Some(n) if n < self.engine.capacity() => {
                let reservation = self.try_reserve(n, on_full)?;
                Ok((n, Some(fill(reservation, parts, &slice))))
            }
            // Never fits; but a closed buffer says so rather than "full".
            _ if self.engine.is_closed() => Err(Refused::Closed(self.closed_error())),
            _ => Err(Refused::Full),
        }
    }

    /// Reserves `n` slots if there is room now, without waiting: when the
    /// active half is full and the flusher role free, swaps it out for the
    /// role's next holder to deliver (see [`try_swap`](Self::try_swap)) and
    /// tries the other half; `on_full` is called each time a half was found
    /// full (to wake a flusher thread). The caller counts a refusal (see
    /// [`refused`](Self::refused)).
    pub(crate) fn try_reserve(
        &self,
        n: usize,
        mut on_full: impl FnMut(),
    ) -> Result<Reservation<'_, T>, Refused<S::Error>> {
        // A few rounds at most: other writers may fill each new half first.
        for _ in 0..3 {
            match self.engine.reserve(n) {
                Ok(reservation) => return Ok(reservation),
                Err(Rejected::Full(index)) => {
                    let swapped = self.try_swap(index);
                    on_full();
                    if !swapped {
                        break;
                    }
                }
                Err(Rejected::Closed) => return Err(Refused::Closed(self.closed_error())),
            }
        }
        Err(Refused::Full)
    }

    /// Counts `refusal` if it was for lack of room, and passes it on.
    pub(crate) fn refused(&self, refusal: Refused<S::Error>) -> Refused<S::Error> {
        if let Refused::Full = refusal {
            self.counters.try_write_refused();
        }
        refusal
    }

    /// The sink's sticky failure, if any. Never waits for the flusher role.
    pub(crate) fn failure(&self) -> Option<Error<S::Error>> {
        self.failure.lock().clone()
    }

    /// Records a failure found outside the role (the async flusher thread
    /// dying), unless there is one already.
    pub(crate) fn record_failure(&self, failure: Error<S::Error>) {
        self.failure.lock().get_or_insert(failure);
    }

    /// Why the engine is closed: the sink's sticky failure, or `Closed`.
    pub(crate) fn closed_error(&self) -> Error<S::Error> {
        self.failure().unwrap_or(Error::Closed)
    }

    /// Delivers `parts`, too large for one batch, after what is buffered:
    /// parts of `capacity` items or more straight from the caller, smaller
    /// ones gathered in the spare half. The role is held throughout, so no
    /// other batch can come in between.
    fn write_unbuffered<P>(
        &self,
        role: &mut Role<'_, T, S>,
        parts: &[P],
        slice: impl Fn(&P) -> &[T],
    ) -> Result<(), Error<S::Error>>
    where
        T: Clone,
    {
        if role.is_closed() {
            return Err(Error::Closed);
        }
        self.flush_active(role)?;
        let counters = &self.counters;
        let (mut staging, outlet) = role.staging();
        for part in parts {
            let mut rest = slice(part);
            if rest.len() >= staging.capacity() {
                if !staging.is_empty() {
                    staging.drain(|batch| outlet.deliver(batch, counters))?;
                }
                outlet.deliver(rest, counters)?;
                continue;
            }
            while !rest.is_empty() {
                rest = &rest[staging.extend_from_slice(rest)..];
                if staging.is_full() {
                    staging.drain(|batch| outlet.deliver(batch, counters))?;
                }
            }
        }
        if !staging.is_empty() {
            staging.drain(|batch| outlet.deliver(batch, counters))?;
        }
        Ok(())
    }
}

/// Copies `parts` into `reservation` (exactly its length) and publishes it.
fn fill<T: Clone, P>(
    mut reservation: Reservation<'_, T>,
    parts: &[P],
    slice: impl Fn(&P) -> &[T],
) -> Landing {
    for part in parts {
        reservation.extend_from_slice(slice(part));
    }
    reservation.landing() // publishes on drop, before the caller reports it
}

/// Why a non-blocking write was refused.
pub(crate) enum Refused<E> {
    /// No room now.
    Full,
    /// Closed, or the sink's sticky failure.
    Closed(Error<E>),
}

impl<E> Refused<E> {
    /// The public error, handing `item` back.
    pub(crate) fn with<T>(self, item: T) -> crate::TryWriteError<T, E> {
        match self {
            Refused::Full => crate::TryWriteError::Full(item),
            Refused::Closed(Error::Closed) => crate::TryWriteError::Closed(item),
            Refused::Closed(failure) => crate::TryWriteError::Failed(item, failure),
        }
    }
}

/// The flusher's state: the sink, and its sticky failure.
#[derive(Debug)]
pub(crate) struct Outlet<S, E> {
    /// `None` once taken back by `into_inner`.
    sink: Option<S>,
    failed: Option<Error<E>>,
}

impl<S, E> Outlet<S, E> {
    pub(crate) fn new(sink: S) -> Self {
        Self {
            sink: Some(sink),
            failed: None,
        }
    }

    /// The sticky failure, if the sink has failed.
    pub(crate) fn check(&self) -> Result<(), Error<E>> {
        match &self.failed {
            None => Ok(()),
            Some(e) => Err(e.clone()),
        }
    }

    /// Hands `batch` (never empty) to the sink unless it has failed before; a
    /// new failure becomes sticky. Counts the batch on success.
    pub(crate) fn deliver<T>(&mut self, batch: &[T], counters: &Counters) -> Result<(), Error<E>>
    where
        S: Sink<T, Error = E>,
    {
        self.check()?;
        let Some(sink) = self.sink.as_mut() else {
            return Err(Error::Closed);
        };
        match deliver(sink, batch) {
            Ok(()) => {
                counters.batch(batch.len());
                Ok(())
            }
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Makes `failure` the sticky failure, unless there is one already.
    pub(crate) fn fail(&mut self, failure: Error<E>) {
        self.failed.get_or_insert(failure);
    }

    /// Gives the sink back; later deliveries fail with [`Error::Closed`].
    pub(crate) fn take_sink(&mut self) -> Option<S> {
        self.sink.take()
    }
}
