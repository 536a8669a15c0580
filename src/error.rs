//! The error type every buffer operation returns.

use std::any::Any;
use std::fmt;
use std::io;
use std::sync::Arc;

/// Why a write or flush failed.
///
/// A sink failure is *sticky*: once the sink has returned an error or
/// panicked, the call that triggered it and every later `write`, `write_v`
/// and `flush` on the same buffer return a clone of the same error. The sink is
/// not called again.
///
/// # Data loss on failure
/// The items of the batch the sink failed on are dropped: the buffer cannot
/// know how much of it the sink had consumed, so it neither retries nor hands
/// it back. Items that writers had already copied into the buffer but that
/// were not yet handed to the sink when the failure happened are dropped too
/// (when the buffer is dropped). A writer that must know whether its own items
/// reached the sink calls `flush()` after writing and checks its result.
///
/// # The sink's error type
/// `E` is the sink's own error type. Every thread that calls the buffer may
/// receive it, so it must be `Send + Sync` for an
/// [`AsyncBuffer`](crate::AsyncBuffer) (and `'static`), for a
/// [`Buffer`](crate::Buffer) shared between threads, and for the byte
/// buffers' `io::Write`: for a boxed error use `Box<dyn std::error::Error + Send + Sync>` (a
/// plain `Box<dyn Error>` is neither, and the buffer is refused), as
/// `std::io::Error::other` and most error crates accept.
///
/// ```
/// type BoxError = Box<dyn std::error::Error + Send + Sync>;
///
/// let q = mwsr::AsyncBuffer::from_fn(64, |batch: &[u32]| -> Result<(), BoxError> {
///     if batch.contains(&0) {
///         return Err("zero is not allowed".into());
///     }
///     Ok(())
/// });
/// q.write(0).unwrap();
/// let err = q.close().unwrap_err();
/// assert_eq!(err.to_string(), "the sink failed: zero is not allowed");
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error<E> {
    /// The buffer was closed; nothing more can be written.
    #[error("the buffer is closed")]
    Closed,
    /// The sink returned this error. Shared, so that every later caller can
    /// receive it.
    #[error("the sink failed: {0}")]
    Sink(#[source] Arc<E>),
    /// The sink panicked with this message (or, for a write larger than the
    /// capacity, an item's `Clone` did after part of the write was delivered).
    #[error("a panic while flushing: {0}")]
    Panicked(Arc<str>),
    /// The sink called back into the buffer it is being flushed from, and the
    /// call would have had to flush too (which would deadlock). Not sticky.
    #[error("the sink called back into the buffer that is flushing it; such a call cannot flush")]
    Reentrant,
    /// A call with a timeout gave up waiting for the sink: `flush_timeout`
    /// (not sticky: the flush goes on), or `close_timeout` (sticky: the
    /// buffer has failed for good, and what the sink had not taken is
    /// dropped).
    #[error("timed out waiting for the sink")]
    TimedOut,
}

impl<E> Error<E> {
    /// The error of a sink that panicked with `payload`.
    pub(crate) fn from_panic(payload: Box<dyn Any + Send>) -> Self {
        Self::from_panic_ref(&*payload)
    }

    /// As [`from_panic`](Self::from_panic), leaving the payload to the caller.
    pub(crate) fn from_panic_ref(payload: &(dyn Any + Send)) -> Self {
        let message: Arc<str> = if let Some(s) = payload.downcast_ref::<&'static str>() {
            Arc::from(*s)
        } else if let Some(s) = payload.downcast_ref::<String>() {
            Arc::from(s.as_str())
        } else {
            Arc::from("a non-string panic payload")
        };
        Error::Panicked(message)
    }
}

// Manual impls: derives would demand `E: Clone` / `E: Debug` on the `Arc`.
impl<E> Clone for Error<E> {
    fn clone(&self) -> Self {
        match self {
            Error::Closed => Error::Closed,
            Error::Sink(e) => Error::Sink(Arc::clone(e)),
            Error::Panicked(m) => Error::Panicked(Arc::clone(m)),
            Error::Reentrant => Error::Reentrant,
            Error::TimedOut => Error::TimedOut,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed => f.write_str("Closed"),
            Error::Sink(e) => f.debug_tuple("Sink").field(e).finish(),
            Error::Panicked(m) => f.debug_tuple("Panicked").field(m).finish(),
            Error::Reentrant => f.write_str("Reentrant"),
            Error::TimedOut => f.write_str("TimedOut"),
        }
    }
}

/// For the `std::io::Write` impls. The kind is `BrokenPipe` for
/// [`Error::Closed`], the inner error's kind when the sink's error type is
/// `std::io::Error`, and `Other` otherwise; the `mwsr::Error` is the payload,
/// so `get_ref`/`downcast` recover it.
impl<E> From<Error<E>> for io::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(err: Error<E>) -> io::Error {
        let kind = match &err {
            Error::Closed => io::ErrorKind::BrokenPipe,
            Error::Sink(e) => match (&**e as &dyn Any).downcast_ref::<io::Error>() {
                Some(inner) => inner.kind(),
                None => io::ErrorKind::Other,
            },
            Error::Panicked(_) | Error::Reentrant => io::ErrorKind::Other,
            Error::TimedOut => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, err)
    }
}

/// A failure of a buffer whose sink does I/O as the `io::Error` it was, OS
/// error code included (`ENOSPC`, `EIO`, ...), rather than wrapped; other
/// errors as [`From`] makes them.
pub(crate) fn io_error(e: Error<io::Error>) -> io::Error {
    match &e {
        Error::Sink(inner) => match inner.raw_os_error() {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::new(inner.kind(), e),
        },
        _ => e.into(),
    }
}

/// Why a non-blocking write refused its data: an item
/// ([`AsyncBuffer::try_write`](crate::AsyncBuffer::try_write),
/// [`write_timeout`](crate::AsyncBuffer::write_timeout)), or a slice or its
/// parts, untouched ([`AsyncBuffer::try_write_slice`](crate::AsyncBuffer::try_write_slice),
/// [`try_write_v`](crate::AsyncBuffer::try_write_v),
/// [`Buffer::try_write`](crate::Buffer::try_write),
/// [`Buffer::try_write_v`](crate::Buffer::try_write_v)). Every variant hands
/// the data back.
pub enum TryWriteError<T, E> {
    /// Both halves of the buffer are full: writing would have to wait (for
    /// a `Buffer`, to flush). Also for a run of `capacity` items or more,
    /// which can never be buffered and only goes to the sink directly.
    Full(T),
    /// The buffer was closed.
    Closed(T),
    /// The sink failed earlier (the sticky error).
    Failed(T, Error<E>),
}

impl<T, E> TryWriteError<T, E> {
    /// The item (or slice, or parts) that was not written.
    pub fn into_inner(self) -> T {
        match self {
            TryWriteError::Full(item)
            | TryWriteError::Closed(item)
            | TryWriteError::Failed(item, _) => item,
        }
    }

    /// Whether the buffer was full (the only case in which trying again
    /// later can succeed, unless the run is `capacity` items or more).
    pub fn is_full(&self) -> bool {
        matches!(self, TryWriteError::Full(_))
    }
}

// By hand: the item need not be `Debug`, as with crossbeam's `TrySendError`.
impl<T, E: fmt::Debug> fmt::Debug for TryWriteError<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryWriteError::Full(_) => f.write_str("Full(..)"),
            TryWriteError::Closed(_) => f.write_str("Closed(..)"),
            TryWriteError::Failed(_, e) => f.debug_tuple("Failed").field(&"..").field(e).finish(),
        }
    }
}

impl<T, E: fmt::Display> fmt::Display for TryWriteError<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryWriteError::Full(_) => f.write_str("the buffer is full"),
            TryWriteError::Closed(_) => f.write_str("the buffer is closed"),
            TryWriteError::Failed(_, e) => e.fmt(f),
        }
    }
}

impl<T, E> std::error::Error for TryWriteError<T, E>
where
    E: std::error::Error + 'static,
{
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TryWriteError::Failed(_, e) => Some(e),
            _ => None,
        }
    }
}
