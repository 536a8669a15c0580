//! A pipe whose writers write at any offset and whose one reader reads in
//! order: the Go library `writerat-pipe`, with a bounded window.
//!
//! Many writers, one reader, in offset space. Parallel ranged downloads,
//! parallel decompression or a multi-threaded encoder each write their piece
//! at its offset with [`Writer::write_at`]; the [`Reader`] is an ordinary
//! [`Read`](std::io::Read) (and [`BufRead`](std::io::BufRead)) that sees
//! the bytes strictly in order, as soon as the contiguous prefix grows.
//!
//! ```
//! use std::io::Read;
//!
//! let (mut reader, writer) = mwsr::pipe::pipe(1 << 20);
//! std::thread::scope(|s| {
//!     // Two writers, out of order: nothing is readable until offset 0 is.
//!     let w = writer.clone();
//!     s.spawn(move || w.write_all_at(b"world!", 7));
//!     s.spawn(move || writer.write_all_at(b"Hello, ", 0));
//!     // The last writer dropped closes the write side.
//! });
//! let mut text = String::new();
//! reader.read_to_string(&mut text)?;
//! assert_eq!(text, "Hello, world!");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Semantics
//! - **Window.** [`pipe(window)`](pipe) lets writers run at most `window`
//!   bytes ahead of the reader: a write whose bytes lie past `consumed +
//!   window` blocks until the reader has read up to them, so the pipe holds
//!   at most the window in memory (plus up to two pages). A write longer
//!   than the window goes in piece by piece as room appears.
//!   [`unbounded`] never blocks writers, as the Go version.
//! - **Offsets already read** cannot be written: a [`Writer::write_at`]
//!   starting below the reader's position fails with
//!   [`Error::BelowConsumed`] and writes nothing, also when it reaches past
//!   the position. [`Writer::write_with`], whose `fill` may fail part-way,
//!   counts bytes already read as written instead: it writes the part of
//!   its range at or past the position, so a failed range can be written
//!   again as it is, and fails only if the whole range lies below.
//! - **Overlapping writes: the first write of a byte wins.** A later write
//!   over bytes already written leaves them as they are and counts them as
//!   written; over bytes another thread is writing right now, it waits for
//!   that write, and fills them itself if that write fails. (The Go version lets the
//!   last write win, which would let a writer change bytes the reader is
//!   reading; keeping written bytes fixed is what lets writers copy in
//!   parallel and the reader read without a lock.) A retried range carries
//!   the same bytes, so retries are harmless; retry a failed `write_with`
//!   with the same range (see its docs).
//! - **Closing the write side** ([`Writer::close`], or dropping every
//!   writer; a writer dropped by a panic closes it with an error instead): the reader gets every contiguous byte, then end of file, or
//!   [`Error::Gap`] saying how many bytes were never written and how many
//!   written past them are lost (the Go version drops them silently).
//!   Pieces in flight at the close still go in and are read.
//!   [`Writer::close_with_error`] hands the reader that error instead, after
//!   the bytes readable so far, without waiting for writes in flight. The
//!   error is final: pieces in flight are discarded when they end, and
//!   their writes fail with [`Error::WriteClosed`], so a write returns `Ok`
//!   only for bytes that went in before the close.
//! - **Closing the reader** ([`Reader::close`], or dropping it) makes writes
//!   fail with [`Error::ReaderClosed`] (`BrokenPipe`), also those with a
//!   piece in flight, and frees the memory.
//! - **Wake-ups.** Closing either side wakes every blocked reader and
//!   writer (the Go version leaves a blocked reader waiting for good).
//!
//! # How it works
//! One lock guards the bookkeeping; the bytes themselves move without it.
//! A writer takes the lock to *reserve* the free bytes of its range, copies
//! into them unlocked (so writers copy in parallel), and takes the lock
//! again to mark them *filled*. The reader takes the lock to find the filled
//! run at its position and reads it unlocked, straight from the page. Bytes
//! live in pages (a quarter of the window, at most 64 KiB), allocated when a
//! writer first reserves a byte in them and released as the reader moves
//! past them, with a few kept for reuse. Each byte is copied twice: in by
//! its writer and out by `read` (once, with `BufRead`).

mod error;
mod pages;
mod ranges;
mod reader;
mod state;
mod writer;

pub use error::Error;
pub use reader::Reader;
pub use writer::Writer;

use crate::sync::Arc;
use state::Shared;

/// A pipe whose writers may run at most `window` bytes ahead of the reader.
///
/// # Panics
/// If `window` is 0: no byte could ever be written.
pub fn pipe(window: usize) -> (Reader, Writer) {
    assert!(window > 0, "a pipe's window must be at least one byte");
    make(Some(window))
}

/// A pipe whose writers never wait: memory grows with the bytes written
/// ahead of the reader.
pub fn unbounded() -> (Reader, Writer) {
    make(None)
}

fn make(window: Option<usize>) -> (Reader, Writer) {
    let shared = Arc::new(Shared::new(window));
    (Reader::new(shared.clone()), Writer::new(shared))
}

/// A snapshot of a pipe's counters ([`Reader::stats`], [`Writer::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Bytes the reader has read.
    pub consumed: u64,
    /// Bytes written past the reader's position and not read yet.
    pub buffered: u64,
    /// Writers blocked now: for room in the window, or for another write's
    /// claim on bytes they overlap.
    pub blocked_writers: usize,
    /// Whether the reader is blocked now, waiting for a byte at its
    /// position (or, after a clean close, for writes still in flight).
    pub reader_blocked: bool,
    /// Bytes of pages the pipe holds now.
    pub allocated: usize,
    /// The most `allocated` has been.
    pub peak_allocated: usize,
}
