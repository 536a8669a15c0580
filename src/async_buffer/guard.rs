//! [`CloseGuard`]: closes a buffer at the end of a scope, for buffers that
//! are never dropped themselves (held in a `static`, or by a global
//! `tracing` subscriber).

use std::fmt;

use super::AsyncBuffer;
use crate::Error;
use crate::sink::Sink;

/// Closes its buffer when dropped, flushing what is left, as
/// tracing-appender's `WorkerGuard` does (but losslessly: the drop waits
/// for the sink). Keep it alive until the end of `main`.
///
/// A buffer in a `static` or `OnceLock`, or one a global subscriber holds,
/// is never dropped, so nothing would flush its last batch at exit. Made by
/// [`AsyncBuffer::close_on_drop`].
///
/// ```
/// use std::sync::OnceLock;
///
/// static LOG: OnceLock<mwsr::AsyncBuffer<u8, mwsr::WriteSink<std::io::Stderr>>> = OnceLock::new();
///
/// let log = LOG.get_or_init(|| mwsr::AsyncBuffer::with_writer(8192, std::io::stderr()));
/// let _guard = log.close_on_drop(); // at the end of main: the tail is written
/// writeln!(log, "started").unwrap();
/// ```
#[must_use = "the buffer is closed when the guard is dropped: bind it, as `let _guard = ...`"]
pub struct CloseGuard<T, S: Sink<T>> {
    buffer: AsyncBuffer<T, S>,
}

impl<T, S: Sink<T>> CloseGuard<T, S> {
    /// Closes the buffer now and returns the result (which drop cannot).
    ///
    /// # Errors
    /// As [`AsyncBuffer::close`].
    pub fn close(self) -> Result<(), Error<S::Error>> {
        self.buffer.close()
    }
}

impl<T, S: Sink<T>> AsyncBuffer<T, S> {
    /// A guard that closes this buffer when it is dropped, whatever other
    /// handles still exist: see [`CloseGuard`].
    pub fn close_on_drop(&self) -> CloseGuard<T, S> {
        CloseGuard {
            buffer: self.clone(),
        }
    }
}

impl<T, S: Sink<T>> Drop for CloseGuard<T, S> {
    fn drop(&mut self) {
        // Errors cannot be returned from `drop`: `close()` reports them.
        let _ = self.buffer.close();
    }
}

impl<T, S: Sink<T>> fmt::Debug for CloseGuard<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloseGuard")
            .field("buffer", &self.buffer)
            .finish()
    }
}
