//! Logging [`tracing`](https://docs.rs/tracing) events through an
//! [`AsyncBuffer`] (cargo feature `tracing`).
//!
//! `AsyncBuffer<u8, _>` implements `tracing_subscriber`'s [`MakeWriter`], so
//! `tracing_subscriber::fmt().with_writer(buffer)` formats each event on the
//! thread that emits it and hands the bytes to the buffer; the flusher thread
//! writes whole batches of events to the file or socket.
//!
//! - **Each event arrives whole.** An [`EventWriter`] gathers everything one
//!   event writes and submits it as one contiguous write, which is never
//!   interleaved with another writer's.
//! - **Nothing is lost at shutdown**, as long as the buffer is closed or
//!   dropped after the last event: dropping a subscriber that owns the buffer
//!   closes it, which flushes. A global subscriber is never dropped, so keep
//!   an [`Arc`](std::sync::Arc) and close the buffer at the end of `main`
//!   (tracing-subscriber makes `Arc<AsyncBuffer<u8, _>>` a `MakeWriter` too:
//!   it writes each event with one `write_all`, which this buffer performs as
//!   one contiguous write).
//! - **Lossless backpressure.** When the sink falls behind, logging threads
//!   wait for room rather than dropping events.
//!
//! ```
//! use std::sync::Arc;
//!
//! let dir = tempfile::tempdir()?;
//! let file = std::fs::File::create(dir.path().join("app.log"))?;
//! let log = Arc::new(mwsr::AsyncBuffer::with_writer(64 * 1024, file));
//! let subscriber = tracing_subscriber::fmt().with_writer(log.clone()).finish();
//! // Or `.init()` instead of `.finish()`, for the global default.
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(answer = 42, "ready");
//! });
//!
//! log.close()?; // every event is in the file
//! let text = std::fs::read_to_string(dir.path().join("app.log"))?;
//! assert!(text.contains("ready answer=42"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;

use tracing_subscriber::fmt::MakeWriter;

use crate::{AsyncBuffer, Sink, scratch};

impl<'a, S> MakeWriter<'a> for AsyncBuffer<u8, S>
where
    S: Sink<u8> + 'a,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    type Writer = EventWriter<'a, S>;

    fn make_writer(&'a self) -> EventWriter<'a, S> {
        EventWriter {
            buffer: self,
            event: Vec::new(),
        }
    }
}

/// Gathers one event's bytes and writes them to an [`AsyncBuffer`] as one
/// contiguous write when dropped (or flushed). Made by the buffer's
/// [`MakeWriter`] implementation, once per event.
///
/// The bytes are gathered in a per-thread scratch vector that is reused, so
/// logging does not allocate once events stop growing.
pub struct EventWriter<'a, S: Sink<u8>> {
    buffer: &'a AsyncBuffer<u8, S>,
    /// Empty, without capacity, until the first `write`.
    event: Vec<u8>,
}

impl<S> EventWriter<'_, S>
where
    S: Sink<u8>,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    /// Writes what was gathered as one contiguous write.
    fn submit(&mut self) -> io::Result<()> {
        if self.event.is_empty() {
            return Ok(());
        }
        let written = self.buffer.write_slice(&self.event);
        self.event.clear();
        written.map(drop).map_err(io::Error::from)
    }
}

impl<S> io::Write for EventWriter<'_, S>
where
    S: Sink<u8>,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    /// Gathers `buf`; fails at once if the buffer is closed or has failed,
    /// so that the subscriber can report it.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.event.is_empty() {
            if self.buffer.is_closed() {
                return Err(self.buffer.closed_error().into());
            }
            if self.event.capacity() == 0 {
                self.event = scratch::take();
            }
        }
        self.event.extend_from_slice(buf);
        Ok(buf.len())
    }

    /// Writes the gathered bytes, then waits until the sink has them.
    fn flush(&mut self) -> io::Result<()> {
        self.submit()?;
        Ok(self.buffer.flush()?)
    }
}

impl<S: Sink<u8>> Drop for EventWriter<'_, S> {
    fn drop(&mut self) {
        // An error cannot be returned from here; `write` reports a closed
        // or failed buffer before anything is gathered.
        let _ = self.buffer.write_slice(&self.event);
        scratch::give_back(std::mem::take(&mut self.event));
    }
}

impl<S: Sink<u8>> fmt::Debug for EventWriter<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWriter")
            .field("gathered", &self.event.len())
            .finish_non_exhaustive()
    }
}
