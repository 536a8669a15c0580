//! Logging [`tracing`](https://docs.rs/tracing) events through an
//! [`AsyncBuffer`] (cargo feature `tracing`).
//!
//! `AsyncBuffer<u8, _>` implements `tracing_subscriber`'s [`MakeWriter`], so
//! `tracing_subscriber::fmt().with_writer(buffer)` formats each event on the
//! thread that emits it and hands the bytes to the buffer; the flusher thread
//! writes whole batches of events to the file or socket.
//!
//! - **Each event arrives whole.** The fmt layer formats an event completely
//!   and hands it over with one `write_all`, which the buffer performs as one
//!   contiguous write, never interleaved with another thread's; `write!` on
//!   the writer formats first and writes once too.
//! - **Nothing is lost at shutdown**, as long as the buffer is closed or
//!   dropped after the last event: dropping a subscriber that owns the buffer
//!   closes it, which flushes. A global subscriber is never dropped, so keep
//!   an [`Arc`](std::sync::Arc) and close the buffer at the end of `main`
//!   (tracing-subscriber makes `Arc<AsyncBuffer<u8, _>>` a `MakeWriter` too,
//!   with the same writer).
//! - **Lossless backpressure.** When the sink falls behind, logging threads
//!   wait for room rather than dropping events. A sink that blocks for good
//!   (a peer that stops reading) therefore blocks logging: give sockets a
//!   write timeout (see [`WriteSink`](crate::WriteSink)).
//! - **Errors are reported**, not swallowed: once the buffer is closed or its
//!   sink has failed, each event's write fails, which the fmt layer reports
//!   on standard error.
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

use tracing_subscriber::fmt::MakeWriter;

use crate::{AsyncBuffer, Sink};

/// The writer is the buffer itself: `&AsyncBuffer<u8, _>` is an
/// `io::Write` whose every write is one contiguous run.
impl<'a, S> MakeWriter<'a> for AsyncBuffer<u8, S>
where
    S: Sink<u8> + 'a,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    type Writer = &'a AsyncBuffer<u8, S>;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}
