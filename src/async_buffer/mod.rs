//! [`AsyncBuffer`]: many writers, one background thread that flushes.

mod builder;
mod guard;
mod signal;
mod timeouts;
mod worker;

use std::convert::Infallible;
use std::fmt;

pub use self::builder::Builder;
pub use self::guard::CloseGuard;
use self::worker::Shared;
use crate::engine::{Landing, Rejected, Reservation};
use crate::front::{Front, Refused};
use crate::sink::Sink;
use crate::sync::{Arc, Deadline, JoinHandle, Mutex, yield_until};
use crate::{Error, Stats, TryWriteError, WriteSink};

/// A batching buffer whose batches are handed to the sink by a background
/// thread.
///
/// Writers copy items in without taking a lock and return; the flusher
/// thread sleeps while the buffer is empty, wakes when a batch starts, and
/// hands each batch to the sink while writers fill the other half of the
/// buffer. Under sustained load it lets each batch fill to half the
/// capacity (for at most 50 µs) rather than flush a few items at a time;
/// see [`Builder::linger`].
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink_seen = seen.clone();
/// let q = mwsr::AsyncBuffer::new(128, move |batch: &[String]| {
///     sink_seen.lock().unwrap().extend_from_slice(batch);
///     Ok::<(), std::convert::Infallible>(())
/// });
/// std::thread::scope(|s| {
///     for id in 0..4 {
///         let q = &q;
///         s.spawn(move || q.write(format!("hello from {id}")).unwrap());
///     }
/// });
/// q.flush().unwrap(); // the sink has every item written before this call
/// assert_eq!(seen.lock().unwrap().len(), 4);
/// q.close().unwrap(); // or just drop it: dropping closes too
/// ```
///
/// # Guarantees
/// - **Lossless.** When both halves are full, [`write`](Self::write) waits
///   (backpressure) instead of dropping; [`try_write`](Self::try_write) hands
///   the item back instead. An item a call accepted reaches the sink unless
///   the sink fails.
/// - **Order**, as for [`Buffer`](crate::Buffer): the sink sees a valid
///   interleaving of the writers' calls, each call contiguous, batches one at
///   a time.
/// - **`flush()`** returns once everything written before it went through the
///   sink; **`close()`** flushes the rest, stops and joins the thread, and is
///   idempotent; writes racing `close` either make the last batch or get
///   [`Error::Closed`].
/// - **Handles; dropping the last one closes.** `AsyncBuffer` is a cheap
///   handle (clone it for each thread, as crossbeam's `Sender`); dropping
///   the last one flushes and closes, losslessly, but cannot report an
///   error, so call `close()` to see it. `close()` on any handle closes the
///   buffer for all of them.
/// - **A buffer that is never dropped is never closed**: one in a `static`
///   or `OnceLock`, or held by a global `tracing` subscriber, would lose
///   its last batch at exit. Keep a guard from
///   [`close_on_drop`](Self::close_on_drop) until the end of `main` (or
///   call `close()` there).
/// - **Failures are sticky and contained**, as for `Buffer`: a sink error or
///   panic is returned by every later call, and the thread exits cleanly.
///
/// # Which thread calls the sink
/// The background thread makes the sink calls for `flush` and `close`, and
/// for ordinary writes as long as it keeps up. Writers call the sink in two
/// cases, under the same exclusive flusher role, so that sink calls stay one
/// at a time and in order:
/// - A write of [`capacity`](Self::capacity) items or more is handed to the
///   sink by the writing thread itself, so that it needs no copy.
/// - A blocking write ([`write`](Self::write), [`write_slice`](Self::write_slice),
///   [`write_v`](Self::write_v), lossless `io::Write`) that finds both halves
///   full while the background thread is not in the sink (it was woken but
///   has not been scheduled yet, as on a machine whose cores are all busy)
///   delivers the waiting batch itself instead of waiting for the thread,
///   then goes on. It would have waited for that sink call either way. Calls
///   that never wait ([`try_write`](Self::try_write) and the like) and the
///   ones with a timeout never call the sink for a batch.
pub struct AsyncBuffer<T, S: Sink<T>> {
    owner: Arc<Owner<T, S>>,
}

/// What every handle of one buffer shares; dropping it (with the last
/// handle) closes the buffer. The flusher thread holds `shared` only, so it
/// cannot keep the buffer open.
struct Owner<T, S: Sink<T>> {
    shared: Arc<Shared<T, S>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<T, S> AsyncBuffer<T, S>
where
    T: Send + 'static,
    S: Sink<T> + Send + 'static,
    S::Error: Send + Sync + 'static,
{
    /// A buffer of `capacity` items per batch, flushed by a new thread into
    /// `sink` as soon as there is anything to flush. See
    /// [`AsyncBuffer::builder`] for a linger time, a thread name, and errors
    /// instead of panics.
    ///
    /// # Panics
    /// If `capacity` is 0 or above `u32::MAX`, the buffer cannot be
    /// allocated, or the thread cannot be spawned.
    #[track_caller]
    pub fn new(capacity: usize, sink: S) -> Self {
        match Builder::new().capacity(capacity).build(sink) {
            Ok(buffer) => buffer,
            Err(e) => panic!("{e}"),
        }
    }
}

impl<T, S> AsyncBuffer<T, S>
where
    T: Send + 'static,
    S: Sink<T> + Send + 'static,
    S::Error: Send + Sync + 'static,
{
    /// As [`new`](Self::new) for a closure, whose argument's type the
    /// compiler then infers: only the error type may need naming, when the
    /// closure's body does not fix it.
    ///
    /// ```
    /// let q = mwsr::AsyncBuffer::from_fn(1024, |batch| {
    ///     println!("{} lines", batch.len());
    ///     Ok::<_, std::io::Error>(())
    /// });
    /// q.write("a line").unwrap();
    /// q.close().unwrap();
    /// ```
    ///
    /// # Panics
    /// As [`new`](Self::new).
    #[track_caller]
    pub fn from_fn<E>(capacity: usize, sink: S) -> Self
    where
        S: FnMut(&[T]) -> Result<(), E>,
    {
        Self::new(capacity, sink)
    }
}

/// The item and sink types of this impl are placeholders, so that
/// `AsyncBuffer::builder()` needs no type annotations; `build` picks the real
/// ones from its sink.
impl AsyncBuffer<(), fn(&[()]) -> Result<(), Infallible>> {
    /// Configures an `AsyncBuffer`: capacity, linger, thread name.
    pub fn builder() -> Builder {
        Builder::new()
    }
}

impl<T, S: Sink<T>> AsyncBuffer<T, S> {
    fn front(&self) -> &Front<T, S> {
        &self.owner.shared.front
    }

    fn shared(&self) -> &Shared<T, S> {
        &self.owner.shared
    }

    /// The number of items each half of the buffer holds: the most one
    /// batch gathers from buffered writes. A single write of `capacity`
    /// items or more bypasses the halves and reaches the sink as it is (in
    /// batches of any length), so a sink can see longer batches than this.
    pub fn capacity(&self) -> usize {
        self.front().engine.capacity()
    }

    /// The buffer's counters (see [`Stats`]).
    pub fn stats(&self) -> Stats {
        self.front().counters.snapshot()
    }

    /// Moves `item` into the buffer, waiting for room when both halves are
    /// full.
    ///
    /// # Errors
    /// [`Error::Closed`] after [`close`](Self::close); the sink's sticky
    /// error after it failed; [`Error::Reentrant`] if called from inside the
    /// sink when it would have to wait for room.
    pub fn write(&self, item: T) -> Result<(), Error<S::Error>> {
        let mut item = item;
        loop {
            match self.front().engine.push(item) {
                Ok(landing) => {
                    self.report(landing);
                    return Ok(());
                }
                Err((back, Rejected::Full(full))) => {
                    item = back;
                    if !self.make_room(full)? {
                        self.wait_for_room(1, None)?;
                    }
                }
                Err((_, Rejected::Closed)) => return Err(self.front().closed_error()),
            }
        }
    }

    /// Moves `item` into the buffer if there is room now; never waits.
    ///
    /// # Errors
    /// Hands `item` back: [`TryWriteError::Full`] when both halves are full
    /// (the sink has not returned the previous batch yet; counted in
    /// [`Stats::try_write_refusals`]), [`TryWriteError::Closed`]
    /// after `close`, [`TryWriteError::Failed`] after the sink failed.
    pub fn try_write(&self, item: T) -> Result<(), TryWriteError<T, S::Error>> {
        match self.front().try_reserve(1, || self.flush_now()) {
            Ok(reservation) => {
                self.push(reservation, item);
                Ok(())
            }
            Err(refused) => Err(self.front().refused(refused).with(item)),
        }
    }

    /// Copies `items` into the buffer as one contiguous run if there is room
    /// now, or not at all; never waits and never calls the sink. Returns
    /// `items.len()`.
    ///
    /// ```
    /// let q = mwsr::AsyncBuffer::new(1024, |_: &[u8]| Ok::<(), std::io::Error>(()));
    /// match q.try_write_slice(b"GET /index.html\n") {
    ///     Ok(n) => assert_eq!(n, 16),
    ///     Err(e) if e.is_full() => { /* shed load: the line was not written */ }
    ///     Err(e) => return Err(e.into()),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Hands `items` back untouched, as [`try_write`](Self::try_write) does
    /// the item. A slice of [`capacity`](Self::capacity) items or more never
    /// fits (it could only go to the sink from this thread, which would
    /// wait for it): it is always refused as [`TryWriteError::Full`]; write
    /// it with [`write_slice`](Self::write_slice).
    pub fn try_write_slice<'a>(
        &self,
        items: &'a [T],
    ) -> Result<usize, TryWriteError<&'a [T], S::Error>>
    where
        T: Clone,
    {
        self.try_write_parts(std::slice::from_ref(&items), |p| p)
            .map_err(|refused| self.front().refused(refused).with(items))
    }

    /// As [`write_v`](Self::write_v) if there is room now for all `parts`,
    /// as one contiguous run; otherwise nothing is written. Never waits and
    /// never calls the sink. Returns the total length.
    ///
    /// # Errors
    /// Hands `parts` back untouched; as
    /// [`try_write_slice`](Self::try_write_slice), for the total length.
    pub fn try_write_v<'a, P: AsRef<[T]>>(
        &self,
        parts: &'a [P],
    ) -> Result<usize, TryWriteError<&'a [P], S::Error>>
    where
        T: Clone,
    {
        self.try_write_parts(parts, AsRef::as_ref)
            .map_err(|refused| self.front().refused(refused).with(parts))
    }

    fn try_write_parts<P>(
        &self,
        parts: &[P],
        slice: impl Fn(&P) -> &[T],
    ) -> Result<usize, Refused<S::Error>>
    where
        T: Clone,
    {
        let (n, landing) = self
            .front()
            .try_write_parts(parts, slice, || self.flush_now())?;
        if let Some(landing) = landing {
            self.report(landing);
        }
        Ok(n)
    }

    /// The write behind `io::Write` (and so `tracing`): lossless, or in
    /// [lossy mode](Builder::lossy) a write that would wait is dropped whole,
    /// counted, and reported as written.
    fn io_write_parts<P>(
        &self,
        parts: &[P],
        slice: impl Fn(&P) -> &[T],
    ) -> Result<usize, Error<S::Error>>
    where
        T: Clone,
    {
        if !self.shared().lossy {
            return self.write_parts(parts, slice);
        }
        match self.try_write_parts(parts, &slice) {
            Ok(n) => Ok(n),
            Err(Refused::Full) => {
                let n = parts
                    .iter()
                    .fold(0usize, |n, p| n.saturating_add(slice(p).len()));
                self.front().counters.write_dropped(n);
                Ok(n)
            }
            Err(Refused::Closed(e)) => Err(e),
        }
    }

    /// Tells the flusher thread to flush now rather than linger: a writer
    /// that must not wait found a half full.
    fn flush_now(&self) {
        let mut state = self.shared().signal.lock();
        state.writer_blocked = true;
        self.shared().signal.wake_flusher(&state);
    }

    /// Copies `items` into the buffer as one contiguous run, waiting for room
    /// as [`write`](Self::write) does. Returns `items.len()`. A slice of
    /// `capacity` items or more goes to the sink directly (see the type's
    /// docs), after what was buffered before it.
    ///
    /// # Errors
    /// As [`write`](Self::write).
    pub fn write_slice(&self, items: &[T]) -> Result<usize, Error<S::Error>>
    where
        T: Clone,
    {
        self.write_parts(std::slice::from_ref(&items), |p| p)
    }

    /// Writes all `parts` as one contiguous run, never interleaved with
    /// another writer's items; in one batch if the total fits in the
    /// capacity. Returns the total length.
    ///
    /// # Errors
    /// As [`write`](Self::write).
    pub fn write_v<P: AsRef<[T]>>(&self, parts: &[P]) -> Result<usize, Error<S::Error>>
    where
        T: Clone,
    {
        self.write_parts(parts, AsRef::as_ref)
    }

    /// Returns once everything written before this call has been handed to
    /// the sink and the sink has returned. Skips any linger time.
    ///
    /// # Errors
    /// The sink's sticky error; [`Error::Closed`] after `close`;
    /// [`Error::Reentrant`] from inside the sink.
    pub fn flush(&self) -> Result<(), Error<S::Error>> {
        self.flush_until(None)
    }

    fn flush_until(&self, deadline: Option<&Deadline>) -> Result<(), Error<S::Error>> {
        if self.front().engine.holds_role() {
            return Err(Error::Reentrant);
        }
        let signal = &self.shared().signal;
        let mut state = signal.lock();
        if state.exited {
            return Err(self.front().closed_error());
        }
        state.flush_requested += 1;
        let target = state.flush_requested;
        signal.wake_flusher(&state);
        while state.flush_served < target && !state.exited {
            state = match signal.wait_progress_until(state, deadline) {
                Ok(state) => state,
                Err(_) => return Err(self.front().failure().unwrap_or(Error::TimedOut)),
            };
        }
        let served = state.flush_served >= target;
        drop(state);
        match self.front().failure() {
            Some(e) => Err(e),
            None if served => Ok(()),
            None => Err(Error::Closed),
        }
    }

    /// Flushes what is left, stops the flusher thread and joins it. Later
    /// writes get [`Error::Closed`]. Idempotent: every call, from any thread,
    /// waits for the same end and returns the same result.
    ///
    /// # Errors
    /// The sink's sticky error, if it failed at any point;
    /// [`Error::Reentrant`] from inside the sink (the buffer still closes,
    /// once the sink returns).
    pub fn close(&self) -> Result<(), Error<S::Error>> {
        self.owner.close_until(None)
    }

    /// Closes the buffer (as [`close`](Self::close)), then gives back the
    /// sink and the close's result. Other handles of the buffer see it
    /// closed.
    ///
    /// # Panics
    /// If called from inside the sink, where the sink is in use, or if
    /// another handle's `into_inner` has taken the sink already.
    pub fn into_inner(self) -> (S, Result<(), Error<S::Error>>) {
        assert!(
            !self.front().engine.holds_role(),
            "mwsr: AsyncBuffer::into_inner called from inside its own sink"
        );
        let result = self.close();
        (self.front().take_sink(), result)
    }

    /// Whether writes can only fail from now on: the buffer was closed, or
    /// the sink failed.
    pub fn is_closed(&self) -> bool {
        self.front().engine.is_closed()
    }

    /// As [`write_v`](Self::write_v), with `slice` to view each part.
    pub(crate) fn write_parts<P>(
        &self,
        parts: &[P],
        slice: impl Fn(&P) -> &[T],
    ) -> Result<usize, Error<S::Error>>
    where
        T: Clone,
    {
        let (n, landing) = self.front().write_parts(parts, slice, |n, full| {
            if !self.make_room(full)? {
                self.wait_for_room(n, None)?;
            }
            Ok(())
        })?;
        if let Some(landing) = landing {
            self.report(landing);
        }
        Ok(n)
    }

    /// Fills a one-slot reservation, publishes it and reports it.
    fn push(&self, mut reservation: Reservation<'_, T>, item: T) {
        reservation.push(item);
        let landing = reservation.landing();
        drop(reservation); // publish before waking the flusher
        self.report(landing);
    }

    /// Wakes the flusher if it is parked waiting for a write like this one.
    fn report(&self, landing: Landing) {
        self.shared().signal.report(landing, self.shared().mark);
    }

    /// For a blocking write that found slab `full` full: makes room without
    /// waiting for the flusher thread while that thread is not running. If
    /// the flusher role is free the full half is swapped out, left for the
    /// thread to deliver; if the other half is such a batch already and the
    /// role is still free, the thread was woken but has not run yet (on a
    /// busy machine it waits for a core), so this writer delivers that batch
    /// itself, under the role, as [`Buffer`](crate::Buffer) does. Returns
    /// whether to retry the write at once; `false` if the thread is
    /// delivering (or this is the sink writing to its own buffer): then
    /// wait for it.
    fn make_room(&self, full: usize) -> Result<bool, Error<S::Error>> {
        let front = self.front();
        if front.engine.holds_role() {
            return Ok(false);
        }
        if front.try_swap(full) {
            return Ok(true);
        }
        let Some(role) = front.engine.try_lock_flusher() else {
            return Ok(false);
        };
        let delivered = front.run_with_role(role, |role| front.flush_pending(role));
        // Writers waiting for room (or, after a failure, for the news).
        self.shared().signal.progressed_locked();
        delivered.map(|()| true)
    }

    /// Waits until `n` items would fit (or the buffer closed), with the
    /// flusher told to flush now; `Ok(false)` if `deadline` passed first.
    fn wait_for_room(
        &self,
        n: usize,
        deadline: Option<&Deadline>,
    ) -> Result<bool, Error<S::Error>> {
        if self.front().engine.holds_role() {
            return Err(Error::Reentrant); // the sink waiting for itself
        }
        self.front().counters.writer_waited();
        // Room usually comes within microseconds: the flusher thread is in
        // the sink with the other half. Not in per-writer mode: there the
        // yield measured 0.74-0.76x of parking on single items (why is not
        // known; parking leaves both cores to the flusher and the other
        // writer).
        let engine = &self.front().engine;
        if !engine.per_writer() && yield_until(deadline, || engine.has_room_or_closed(n)) {
            return Ok(true);
        }
        let signal = &self.shared().signal;
        let mut state = signal.lock();
        loop {
            if state.exited {
                return Err(self.front().closed_error());
            }
            if self.front().engine.has_room_or_closed(n) {
                return Ok(true);
            }
            state.writer_blocked = true;
            signal.wake_flusher(&state);
            state = match signal.wait_progress_until(state, deadline) {
                Ok(state) => state,
                Err(_) => return Ok(false),
            };
        }
    }

    fn from_parts(shared: Arc<Shared<T, S>>, thread: JoinHandle<()>) -> Self {
        Self {
            owner: Arc::new(Owner {
                shared,
                thread: Mutex::new(Some(thread)),
            }),
        }
    }
}

impl<T, S: Sink<T>> Owner<T, S> {
    fn front(&self) -> &Front<T, S> {
        &self.shared.front
    }

    fn close_until(&self, deadline: Option<&Deadline>) -> Result<(), Error<S::Error>> {
        let signal = &self.shared.signal;
        let mut state = signal.lock();
        if !state.closing {
            state.closing = true;
            signal.wake_flusher(&state);
        }
        if self.front().engine.holds_role() {
            return Err(Error::Reentrant); // we are the flusher: cannot wait for it
        }
        while !state.exited {
            state = match signal.wait_progress_until(state, deadline) {
                Ok(state) => state,
                Err(mut state) => {
                    // Give up on the sink: fail for good, let every waiter
                    // go, and leave the thread to exit when the sink returns
                    // (it then drops, and counts, what is left).
                    self.front().fail_now(Error::TimedOut);
                    state.exited = true;
                    signal.progressed();
                    drop(state);
                    drop(self.thread.lock().take()); // detached
                    return Err(self.front().closed_error());
                }
            };
        }
        drop(state);
        let result = self.front().failure().map_or(Ok(()), Err);
        if let Some(thread) = self.thread.lock().take() {
            // The thread catches sink panics; it cannot panic itself, and if
            // it did, `ExitGuard` has recorded it in `result` already.
            let _ = thread.join();
        }
        result
    }
}

impl<W> AsyncBuffer<u8, WriteSink<W>>
where
    W: std::io::Write + Send + 'static,
{
    /// A byte buffer of `capacity` bytes per batch whose flusher thread
    /// writes each batch to `writer` with one `write_all` (see
    /// [`WriteSink`]): a coalescing socket or file writer in one line.
    ///
    /// ```no_run
    /// use std::net::TcpStream;
    ///
    /// let out = mwsr::AsyncBuffer::with_writer(64 * 1024, TcpStream::connect("127.0.0.1:9000")?);
    /// // From any number of threads; each message is one contiguous write.
    /// write!(out, "PING {}\r\n", 1)?;
    /// out.close()?; // sends what is left
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    /// As [`new`](Self::new).
    #[track_caller]
    pub fn with_writer(capacity: usize, writer: W) -> Self {
        Self::new(capacity, WriteSink::new(writer))
    }
}

/// A new handle to the same buffer, as crossbeam's `Sender`: cheap (a
/// reference count), for each thread that writes.
impl<T, S: Sink<T>> Clone for AsyncBuffer<T, S> {
    fn clone(&self) -> Self {
        Self {
            owner: Arc::clone(&self.owner),
        }
    }
}

/// Dropping the last handle closes the buffer (see the type's docs).
impl<T, S: Sink<T>> Drop for Owner<T, S> {
    fn drop(&mut self) {
        // Errors cannot be returned from `drop`; see the type's docs.
        let _ = self.close_until(None);
    }
}

impl<T, S: Sink<T>> fmt::Debug for AsyncBuffer<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncBuffer")
            .field("capacity", &self.capacity())
            .field("linger", &self.shared().linger)
            .finish_non_exhaustive()
    }
}

crate::io_write::impl_io_write!(AsyncBuffer);

// A panic in a user's code cannot leave the buffer broken: a `Clone` that
// panics mid-write leaves a hole the flusher skips, and a sink's panic is
// caught and becomes the sticky `Error::Panicked`. So, like `std::sync::Mutex`
// (which has poisoning for the same purpose), the buffer may be used across
// `catch_unwind`; the slots' `UnsafeCell`s would otherwise opt it out. (A
// sink that panicked is only seen again through `into_inner`, whose result
// reports the panic.)
impl<T, S: Sink<T>> std::panic::UnwindSafe for AsyncBuffer<T, S> {}
impl<T, S: Sink<T>> std::panic::RefUnwindSafe for AsyncBuffer<T, S> {}
