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
//! - **Nothing is lost at shutdown**, as long as the buffer is closed
//!   after the last event. A global subscriber is never dropped, and
//!   neither is the buffer it holds: [`init`] installs one and returns a
//!   [`CloseGuard`] that closes the buffer when `main` ends (as
//!   tracing-appender's `WorkerGuard`, but lossless). With a subscriber of
//!   your own, keep a guard from
//!   [`AsyncBuffer::close_on_drop`] the same way.
//! - **Lossless backpressure** by default: when the sink falls behind,
//!   logging threads wait for room rather than dropping events. A sink that
//!   blocks for good (a peer that stops reading) therefore blocks logging:
//!   give sockets a write timeout (see [`WriteSink`](crate::WriteSink)), or
//!   build the buffer in [lossy mode](crate::Builder::lossy), where an event
//!   that would wait is dropped whole and counted instead.
//! - **Errors are reported**, not swallowed: once the buffer is closed or its
//!   sink has failed, each event's write fails, which the fmt layer reports
//!   on standard error.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let file = std::fs::File::create(dir.path().join("app.log"))?;
//! let log = mwsr::AsyncBuffer::with_writer(64 * 1024, file);
//! // A subscriber of your own (filters, layers): the buffer is its writer.
//! let subscriber = tracing_subscriber::fmt().with_writer(log.clone()).finish();
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(answer = 42, "ready");
//! });
//!
//! log.close()?; // every event is in the file
//! let text = std::fs::read_to_string(dir.path().join("app.log"))?;
//! assert!(text.contains("ready answer=42"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::error::Error;

use tracing_subscriber::fmt::MakeWriter;

use crate::{AsyncBuffer, CloseGuard, Sink};

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

/// Installs a `tracing_subscriber::fmt()` subscriber (default format, no
/// ANSI colours) that logs through `buffer` as the global default, and
/// returns a guard that closes the buffer when dropped: keep it until the
/// end of `main`, so that the last events are written.
///
/// ```no_run
/// fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///     let file = std::fs::File::create("app.log")?;
///     let _guard = mwsr::tracing::init(mwsr::AsyncBuffer::with_writer(64 * 1024, file))?;
///     tracing::info!("ready");
///     Ok(()) // the guard drops here: every event is in the file
/// }
/// ```
///
/// # Errors
/// If a global default subscriber is set already (the buffer is closed).
pub fn init<S>(
    buffer: AsyncBuffer<u8, S>,
) -> Result<CloseGuard<u8, S>, Box<dyn Error + Send + Sync + 'static>>
where
    S: Sink<u8> + Send + 'static,
    S::Error: Error + Send + Sync + 'static,
{
    let guard = buffer.close_on_drop();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(buffer)
        .try_init()?;
    Ok(guard)
}

/// A [`segments::Writer`](crate::segments::Writer) logs each event as one
/// append: never torn, never split across two segments.
impl<'a> MakeWriter<'a> for crate::segments::Writer {
    type Writer = &'a crate::segments::Writer;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}
