//! [`Buffer`]: many writers, flushed inline by whichever writer finds it full.

mod builder;

use std::fmt;

pub use self::builder::BufferBuilder;
use crate::front::{Front, Refused};
use crate::sink::Sink;
use crate::sync::Arc;
use crate::{Error, Stats, TryWriteError, WriteSink};

/// A batching buffer shared by many writers and flushed inline, with no
/// background thread.
///
/// Writers copy items in concurrently without taking a lock. When a write
/// does not fit, the writer that finds the buffer full swaps the filled half
/// out and hands it to the sink itself, while the other writers go on filling
/// the second, preallocated half. A writer blocks only when that half fills up
/// too before the sink has returned (backpressure); it parks rather than
/// spins.
///
/// ```
/// use std::sync::Mutex;
///
/// let out = Mutex::new(Vec::new());
/// let buf = mwsr::Buffer::new(64, |batch: &[u8]| -> Result<(), std::io::Error> {
///     out.lock().unwrap().extend_from_slice(batch);
///     Ok(())
/// });
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| buf.write(b"hello ").unwrap());
///     }
/// });
/// buf.write_v(&[b"wor".as_slice(), b"ld"]).unwrap(); // both parts, contiguous
/// buf.flush().unwrap();
/// assert_eq!(out.lock().unwrap().len(), 4 * 6 + 5);
/// ```
///
/// # Guarantees
/// - The sink receives batches one at a time, never concurrently, in write
///   order: the stream it sees is an interleaving of the writers' calls in
///   which each call's items are contiguous and each writer's calls keep
///   their order.
/// - A write that fits in the buffer arrives in one batch; one of `capacity`
///   items or more is handed to the sink straight from the caller's slice,
///   after what was buffered before it.
/// - No heap allocation per write or per flush.
/// - A sink that fails or panics makes the buffer fail for good with that
///   error ([`Error`] says what is lost); nothing deadlocks or is poisoned.
///
/// # Re-entrancy
/// A sink may write to its own buffer when the write fits; a call that would
/// have to flush returns [`Error::Reentrant`]. An item's `Clone` must not
/// call into the buffer it is being written to: the write it is part of
/// holds its slots until the clone returns, and a flush from there would
/// wait for itself.
///
/// # Handles and dropping
/// `Buffer` is a cheap handle: clone it for each thread (as crossbeam's
/// `Sender`); every clone writes to the same buffer. Dropping the last
/// handle flushes what is left and closes, but a failure there cannot be
/// reported: call [`close`](Self::close) or [`flush`](Self::flush) first
/// when you need to know that everything arrived. A buffer in a `static`
/// is never dropped: flush or close it before `main` returns.
pub struct Buffer<T, S: Sink<T>> {
    front: Arc<Inner<T, S>>,
}

/// What every handle of one buffer shares; dropping it (with the last
/// handle) flushes and closes.
struct Inner<T, S: Sink<T>>(Front<T, S>);

impl<T, S: Sink<T>> std::ops::Deref for Inner<T, S> {
    type Target = Front<T, S>;

    fn deref(&self) -> &Front<T, S> {
        &self.0
    }
}

impl<T, S: Sink<T>> Buffer<T, S> {
    /// A buffer of `capacity` items that hands its batches to `sink`. Two
    /// halves of `capacity` slots are allocated up front, each with one byte
    /// of bookkeeping per slot.
    ///
    /// # Panics
    /// If `capacity` is 0 or above `u32::MAX` items, or the buffer cannot be
    /// allocated: see [`try_new`](Self::try_new) for an error instead.
    #[track_caller]
    pub fn new(capacity: usize, sink: S) -> Self {
        match Self::try_new(capacity, sink) {
            Ok(buffer) => buffer,
            Err(e) => panic!("{e}"),
        }
    }

    /// As [`new`](Self::new), with an error instead of a panic.
    ///
    /// ```
    /// let err = mwsr::Buffer::try_new(0, |_: &[u8]| Ok::<(), std::io::Error>(())).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` if `capacity` is 0 or above `u32::MAX` items;
    /// `OutOfMemory` if the two halves cannot be allocated.
    pub fn try_new(capacity: usize, sink: S) -> std::io::Result<Self> {
        BufferBuilder::new().capacity(capacity).build(sink)
    }

    /// As [`new`](Self::new) for a closure, whose argument's type the
    /// compiler then infers: only the error type may need naming, when the
    /// closure's body does not fix it.
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let mut file = Vec::new(); // a `File`, a socket, ...
    /// let log = mwsr::Buffer::from_fn(4096, |batch| file.write_all(batch));
    /// log.write(b"no annotations\n")?;
    /// drop(log);
    ///
    /// let mut total = 0;
    /// let counter = mwsr::Buffer::from_fn(64, |batch: &[u64]| {
    ///     total += batch.iter().sum::<u64>();
    ///     Ok::<_, std::convert::Infallible>(()) // nothing fixes the error type
    /// });
    /// counter.write(&[1, 2, 3]).unwrap();
    /// drop(counter);
    /// assert_eq!(total, 6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
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

    /// The number of items each half of the buffer holds: the most one
    /// batch gathers from buffered writes. A single write of `capacity`
    /// items or more bypasses the halves and reaches the sink as it is (in
    /// batches of any length), so a sink can see longer batches than this.
    pub fn capacity(&self) -> usize {
        self.front.engine.capacity()
    }

    /// The buffer's counters (see [`Stats`]).
    pub fn stats(&self) -> Stats {
        self.front.counters.snapshot()
    }

    /// Copies `items` into the buffer, flushing first if they do not fit.
    /// Returns `items.len()`.
    ///
    /// The items stay contiguous in the stream. A write of `capacity` items or
    /// more flushes what is buffered and then hands `items` to the sink
    /// directly, without copying. An empty write returns `Ok(0)` at once.
    ///
    /// # Errors
    /// The sink's sticky error ([`Error::Sink`], [`Error::Panicked`]), if this
    /// write's flush or an earlier one failed; [`Error::Reentrant`] if called
    /// from inside this buffer's own sink when it would have to flush.
    pub fn write(&self, items: &[T]) -> Result<usize, Error<S::Error>>
    where
        T: Clone,
    {
        self.write_parts(std::slice::from_ref(&items), |p| p)
    }

    /// Writes all `parts` as one contiguous run of items, never interleaved
    /// with another writer's (scatter-gather). Returns the total length.
    ///
    /// If the total fits in [`capacity`](Self::capacity) the parts arrive in
    /// one batch; otherwise they arrive in consecutive sink calls with nothing
    /// from other writers in between.
    ///
    /// # Errors
    /// As [`write`](Self::write).
    pub fn write_v<P: AsRef<[T]>>(&self, parts: &[P]) -> Result<usize, Error<S::Error>>
    where
        T: Clone,
    {
        self.write_parts(parts, AsRef::as_ref)
    }

    /// Copies `items` into the buffer if they fit now, or not at all; never
    /// calls the sink and never waits. Returns `items.len()`.
    ///
    /// When the active half is full and no flush is under way, the full
    /// half is set aside for the next [`flush`](Self::flush) or blocking
    /// write to deliver first, and the items go into the other half; so a
    /// write is refused only when both halves are full (or, for a few
    /// instructions, while another thread swaps them).
    ///
    /// ```
    /// let buf = mwsr::Buffer::new(4, |_: &[u8]| Ok::<(), std::io::Error>(()));
    /// assert_eq!(buf.try_write(b"abc").unwrap(), 3);
    /// assert_eq!(buf.try_write(b"def").unwrap(), 3); // the first half is set aside
    /// let refused = buf.try_write(b"ghi").unwrap_err(); // both halves hold data
    /// assert!(refused.is_full());
    /// assert_eq!(refused.into_inner(), b"ghi"); // handed back untouched
    /// buf.flush().unwrap();
    /// assert_eq!(buf.try_write(b"ghi").unwrap(), 3);
    /// ```
    ///
    /// # Errors
    /// Hands `items` back: [`TryWriteError::Full`] when they do not fit
    /// without a flush (counted in [`Stats::try_write_refusals`]), which is
    /// always the case for `capacity` items or more;
    /// [`TryWriteError::Closed`] after [`close`](Self::close);
    /// [`TryWriteError::Failed`] after the sink failed.
    pub fn try_write<'a>(&self, items: &'a [T]) -> Result<usize, TryWriteError<&'a [T], S::Error>>
    where
        T: Clone,
    {
        self.try_write_parts(std::slice::from_ref(&items), |p| p)
            .map_err(|refused| refused.with(items))
    }

    /// As [`write_v`](Self::write_v) if all `parts` fit now, as one
    /// contiguous run; otherwise nothing is written. Never calls the sink.
    ///
    /// # Errors
    /// Hands `parts` back untouched; as [`try_write`](Self::try_write), for
    /// the total length.
    pub fn try_write_v<'a, P: AsRef<[T]>>(
        &self,
        parts: &'a [P],
    ) -> Result<usize, TryWriteError<&'a [P], S::Error>>
    where
        T: Clone,
    {
        self.try_write_parts(parts, AsRef::as_ref)
            .map_err(|refused| refused.with(parts))
    }

    /// Hands everything written so far to the sink, and returns once the sink
    /// has returned. Does not call the sink when nothing is buffered.
    ///
    /// # Errors
    /// As [`write`](Self::write), and [`Error::Closed`] after
    /// [`close`](Self::close).
    pub fn flush(&self) -> Result<(), Error<S::Error>> {
        self.front.with_role(|role| {
            if role.is_closed() {
                return Err(Error::Closed);
            }
            self.front.flush_active(role)
        })
    }

    /// Flushes what is left and closes the buffer for every handle: later
    /// writes and flushes get [`Error::Closed`]; writes racing it either
    /// make the last batch or get `Closed`. Idempotent: a second call
    /// returns `Ok` unless the sink has failed.
    ///
    /// # Errors
    /// The sink's sticky error, if it failed at any point;
    /// [`Error::Reentrant`] from inside the sink.
    pub fn close(&self) -> Result<(), Error<S::Error>> {
        self.front.close()
    }

    /// Whether writes can only fail from now on: the buffer was closed, or
    /// the sink failed.
    pub fn is_closed(&self) -> bool {
        self.front.engine.is_closed()
    }

    /// Closes the buffer (as [`close`](Self::close)), then gives back the
    /// sink and the close's result. Other handles of the buffer see it
    /// closed.
    ///
    /// # Panics
    /// If another handle's `into_inner` has taken the sink already, or when
    /// called from inside the sink.
    pub fn into_inner(self) -> (S, Result<(), Error<S::Error>>) {
        let result = self.close();
        (self.front.take_sink(), result)
    }

    fn try_write_parts<P>(
        &self,
        parts: &[P],
        slice: impl Fn(&P) -> &[T],
    ) -> Result<usize, Refused<S::Error>>
    where
        T: Clone,
    {
        self.front
            .try_write_parts(parts, slice, || {})
            .map(|(n, _)| n)
            .map_err(|refused| self.front.refused(refused))
    }

    /// The write behind `io::Write`: always lossless.
    fn io_write_parts<P>(
        &self,
        parts: &[P],
        slice: impl Fn(&P) -> &[T],
    ) -> Result<usize, Error<S::Error>>
    where
        T: Clone,
    {
        self.write_parts(parts, slice)
    }

    fn write_parts<P>(
        &self,
        parts: &[P],
        slice: impl Fn(&P) -> &[T],
    ) -> Result<usize, Error<S::Error>>
    where
        T: Clone,
    {
        self.front
            .write_parts(parts, slice, |n, full| {
                self.front.counters.writer_waited();
                match self.front.engine.lock_flusher_when_full(full) {
                    Err(_) => Err(Error::Reentrant),
                    Ok(None) => Ok(()), // a swap gave us room: try again
                    Ok(Some(role)) => self.front.run_with_role(role, |role| {
                        // Another writer may have made room while we waited.
                        if role.has_room(n) {
                            Ok(())
                        } else {
                            self.front.flush_active(role)
                        }
                    }),
                }
            })
            .map(|(n, _)| n)
    }
}

/// The item and sink types of this impl are placeholders, so that
/// `Buffer::builder()` needs no type annotations; `build` picks the real
/// ones from its sink.
impl Buffer<(), fn(&[()]) -> Result<(), std::convert::Infallible>> {
    /// Configures a `Buffer`: capacity, write order
    /// ([`WriteOrder`](crate::WriteOrder)).
    pub fn builder() -> BufferBuilder {
        BufferBuilder::new()
    }
}

impl<W: std::io::Write> Buffer<u8, WriteSink<W>> {
    /// A byte buffer of `capacity` bytes per batch that writes each batch to
    /// `writer` with one `write_all` (see [`WriteSink`]).
    ///
    /// ```
    /// let log = mwsr::Buffer::with_writer(8192, Vec::new());
    /// writeln!(&log, "one line, never torn")?;
    /// let (sink, flushed) = log.into_inner();
    /// flushed?;
    /// assert_eq!(sink.into_inner(), b"one line, never torn\n");
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
impl<T, S: Sink<T>> Clone for Buffer<T, S> {
    fn clone(&self) -> Self {
        Self {
            front: Arc::clone(&self.front),
        }
    }
}

/// Dropping the last handle flushes and closes (see the type's docs).
impl<T, S: Sink<T>> Drop for Inner<T, S> {
    fn drop(&mut self) {
        // Errors cannot be returned from `drop`; see the type's docs.
        let _ = self.0.close();
    }
}

impl<T, S: Sink<T>> fmt::Debug for Buffer<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

crate::io_write::impl_io_write!(Buffer);

// A panic in a user's code cannot leave the buffer broken: a `Clone` that
// panics mid-write leaves a hole the flusher skips, and a sink's panic is
// caught and becomes the sticky `Error::Panicked`. So, like `std::sync::Mutex`
// (which has poisoning for the same purpose), the buffer may be used across
// `catch_unwind`; the slots' `UnsafeCell`s would otherwise opt it out. (A
// sink that panicked is only seen again through `into_inner`, whose result
// reports the panic.)
impl<T, S: Sink<T>> std::panic::UnwindSafe for Buffer<T, S> {}
impl<T, S: Sink<T>> std::panic::RefUnwindSafe for Buffer<T, S> {}
