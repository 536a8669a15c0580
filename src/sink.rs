//! Where batches go: the [`Sink`] trait, and the one function that calls a sink.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::Error;

/// Receives whole batches from a buffer, one at a time, in order.
///
/// Any `FnMut(&[T]) -> Result<(), E>` is a sink. Implement the trait yourself
/// when a named type reads better than a closure (a file, a socket, a
/// connection pool).
///
/// A batch is only borrowed: the buffer drops its items after the call
/// returns. Batches never overlap and never arrive concurrently.
///
/// # Errors and panics
/// Returning `Err` makes the buffer fail for good (see [`Error`]); so does
/// panicking, which the buffer catches and reports as [`Error::Panicked`].
pub trait Sink<T> {
    /// The error this sink can fail with.
    type Error;

    /// Consumes one batch. `batch` is never empty.
    fn consume(&mut self, batch: &[T]) -> Result<(), Self::Error>;
}

impl<T, E, F> Sink<T> for F
where
    F: FnMut(&[T]) -> Result<(), E>,
{
    type Error = E;

    #[inline]
    fn consume(&mut self, batch: &[T]) -> Result<(), E> {
        self(batch)
    }
}

/// Hands `batch` to `sink`, turning an error or a panic into an [`Error`].
pub(crate) fn deliver<T, S: Sink<T>>(sink: &mut S, batch: &[T]) -> Result<(), Error<S::Error>> {
    debug_assert!(!batch.is_empty(), "sinks are never handed empty batches");
    // The sink is not used again after a panic (the error is sticky), so a
    // broken invariant inside it cannot be observed: unwind safety holds.
    match catch_unwind(AssertUnwindSafe(|| sink.consume(batch))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::Sink(std::sync::Arc::new(e))),
        Err(payload) => Err(Error::from_panic(payload)),
    }
}
