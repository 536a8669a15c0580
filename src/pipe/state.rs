//! The pipe's shared state and the rules that change it, always under the
//! one lock. Blocking (who waits on which condition variable) is left to
//! `reader.rs` and `writer.rs`.
//!
//! The invariant everything rests on: below `consumed` nothing is kept;
//! above it, each byte is in exactly one of three states: *free*,
//! *reserved* (claimed by one writer, which is copying into it without the
//! lock), or *filled* (committed; never written again). A writer only copies
//! into bytes it reserved, the reader only reads filled bytes, and a byte
//! once filled keeps its value, so where writes overlap, the first write of
//! each byte wins. That is what lets writers copy in parallel and the reader
//! read without the lock.

use std::io;
use std::ops::Range;

use super::Error;
use super::pages::{Pages, Span};
use super::ranges::Ranges;
use crate::sync::{Condvar, Mutex};

/// The largest page: bytes are allocated in pages of this size (smaller for
/// small windows), so a write costs no allocation of its own.
const MAX_PAGE: usize = 64 * 1024;

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// The reader waits here for a byte at its position, or the end.
    pub(super) readable: Condvar,
    /// Writers wait here for room in the window, or the end.
    pub(super) writable: Condvar,
    /// How far past `consumed` writers may write; `u64::MAX` if unbounded.
    pub(super) window: u64,
}

impl Shared {
    /// Wakes whoever a settled claim concerns.
    pub(super) fn wake(&self, settled: &Settled) {
        if settled.reader {
            self.readable.notify_one();
        }
        if settled.writers {
            self.writable.notify_all();
        }
    }

    pub(super) fn new(window: Option<usize>) -> Self {
        // Several pages per window, so that the reader frees memory (and
        // writers get room) as it goes, not a whole window at a time.
        let page = window.map_or(MAX_PAGE, |w| (w / 4).clamp(1, MAX_PAGE));
        // Live pages are those the window overlaps: at most this many.
        let most = window.map_or(usize::MAX, |w| w.div_ceil(page) + 1);
        Self {
            state: Mutex::new(State {
                consumed: 0,
                filled: Ranges::default(),
                reserved: Ranges::default(),
                pages: Pages::new(page, most),
                write_end: WriteEnd::Open,
                reader_closed: false,
                writers: 1,
                reader_waiting: false,
                writers_waiting: 0,
                claim_waiters: 0,
            }),
            readable: Condvar::new(),
            writable: Condvar::new(),
            window: window.map_or(u64::MAX, |w| w as u64),
        }
    }
}

/// An error for the reader, with its kind and text taken before the lock
/// (formatting it runs the user's `Display`): the error itself until the
/// reader has taken it, then its kind and text for later reads.
#[derive(Debug)]
pub(super) struct ReaderError {
    error: Option<io::Error>,
    kind: io::ErrorKind,
    text: String,
}

impl ReaderError {
    pub(super) fn new(error: io::Error) -> Self {
        // `Interrupted` tells `Read` loops (`read_to_end`, `io::copy`) to
        // call again: a sticky one would keep them spinning for good.
        let error = match error.kind() {
            io::ErrorKind::Interrupted => io::Error::other(error),
            _ => error,
        };
        Self {
            kind: error.kind(),
            text: error.to_string(),
            error: Some(error),
        }
    }

    /// The error the first time, a copy of its kind and text after.
    fn take(&mut self) -> io::Error {
        self.error
            .take()
            .unwrap_or_else(|| io::Error::new(self.kind, self.text.clone()))
    }
}

/// How the write side ended, if it has.
#[derive(Debug)]
enum WriteEnd {
    Open,
    Closed,
    /// Closed with an error for the reader.
    Failed(ReaderError),
}

#[derive(Debug)]
pub(super) struct State {
    /// Bytes the reader has consumed: the offset it reads next.
    consumed: u64,
    /// Committed bytes at or above `consumed`, joined into maximal runs.
    filled: Ranges,
    /// Bytes writers have claimed and are copying into, one range per claim.
    reserved: Ranges,
    pages: Pages,
    write_end: WriteEnd,
    reader_closed: bool,
    /// Live `Writer` handles; the last one dropped closes the write side.
    writers: usize,
    pub(super) reader_waiting: bool,
    /// Writers waiting for room in the window.
    pub(super) writers_waiting: usize,
    /// Writers waiting for another write's claim to settle.
    pub(super) claim_waiters: usize,
}

/// How a claim settled, and whom that may concern.
#[derive(Debug)]
pub(super) struct Settled {
    /// The reader may be waiting for these bytes, or for the last claim.
    pub(super) reader: bool,
    /// Writers wait to see whether these bytes get written.
    pub(super) writers: bool,
    /// Why bytes written into the claim were not committed: the pipe closed,
    /// in a way that discards them, while they were being written.
    pub(super) refused: Option<Error>,
}

/// What a writer at `pos` does next.
pub(super) enum Step {
    /// The window ends at or before `pos`: wait for the reader.
    Wait,
    /// Bytes from `pos` up to here are already written; they keep their
    /// value.
    Skip(u64),
    /// Another write has claimed the bytes at `pos`: wait until it commits
    /// them (then skip them) or gives them back (then claim them). Skipping
    /// at once would report them written when they may never be.
    WaitForClaim,
    /// Fill the span with these bytes, then [`State::settle`] the range.
    Claim(Range<u64>, Span),
}

impl State {
    pub(super) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Why writing is refused now, if it is. A closed write side is named
    /// first: it is the writers' own doing, and final whatever the reader
    /// does.
    pub(super) fn write_refusal(&self) -> Option<Error> {
        if !matches!(self.write_end, WriteEnd::Open) {
            Some(Error::WriteClosed)
        } else if self.reader_closed {
            Some(Error::ReaderClosed)
        } else {
            None
        }
    }

    /// The next step of a write that has reached `pos` and ends at `end`.
    pub(super) fn next_step(&mut self, pos: u64, end: u64, window: u64) -> Step {
        let limit = self.consumed.saturating_add(window);
        if pos >= limit {
            return Step::Wait;
        }
        if let Some(written) = self.filled.containing(pos) {
            return Step::Skip(written.end.min(end));
        }
        if self.reserved.containing(pos).is_some() {
            return Step::WaitForClaim;
        }
        let taken = [&self.filled, &self.reserved];
        let next_taken = taken
            .iter()
            .filter_map(|set| set.next_start_after(pos))
            .min()
            .unwrap_or(u64::MAX);
        let claim_end = end.min(limit).min(next_taken);
        let span = self.pages.span(pos, claim_end - pos);
        let claim = pos..pos + span.len() as u64;
        self.reserved.insert(claim.clone());
        Step::Claim(claim, span)
    }

    /// Ends a claim: its bytes turn from reserved to filled if `written`,
    /// or go back to free (its writer failed or panicked before filling
    /// them).
    ///
    /// Written bytes are refused, not committed, if the reader has closed
    /// or the write side has failed since the claim was made: nobody will
    /// read them (a failed write side has handed, or will hand, the reader
    /// its error at once, and that error is final), so the writer must not
    /// report them written. A graceful close refuses nothing: the reader
    /// waits for claims in flight and reads their bytes.
    pub(super) fn settle(&mut self, claim: Range<u64>, written: bool) -> Settled {
        self.reserved.remove(claim.start);
        let refused = if matches!(self.write_end, WriteEnd::Failed(_)) {
            Some(Error::WriteClosed)
        } else if self.reader_closed {
            Some(Error::ReaderClosed)
        } else {
            None
        };
        if self.reader_closed {
            // Nobody will read it: let the memory go.
            self.pages.release_all_but(&self.reserved);
        } else if written && refused.is_none() {
            self.filled.insert_joined(claim);
        }
        Settled {
            // At the end, the reader also waits for every claim to settle.
            reader: self.reader_waiting,
            writers: self.claim_waiters > 0,
            refused: refused.filter(|_| written),
        }
    }

    /// The bytes the reader can read now: filled, from its position, within
    /// one page.
    pub(super) fn readable(&mut self) -> Option<Span> {
        let run = self.filled.first().filter(|r| r.start == self.consumed)?;
        Some(self.pages.span(run.start, run.end - run.start))
    }

    /// The reader has read `n` more bytes. Returns whether writers may be
    /// waiting for the room this makes.
    pub(super) fn consume(&mut self, n: usize) -> bool {
        if n == 0 {
            return false;
        }
        self.consumed += n as u64;
        self.filled.remove_below(self.consumed);
        self.pages.release_below(self.consumed);
        self.writers_waiting > 0
    }

    /// What the reader gets once nothing is readable at its position: `None`
    /// while more may come; `Ok(())` for a clean end; otherwise the error.
    pub(super) fn end(&mut self) -> Option<io::Result<()>> {
        if self.reader_closed {
            return Some(Err(Error::ReaderClosed.into()));
        }
        match &mut self.write_end {
            WriteEnd::Open => None,
            // At once: a writer's claim may be stuck (a stalled download is
            // what the error may be about). Claims that settle later are
            // refused (`settle`), so nothing becomes readable after this:
            // the error is final.
            WriteEnd::Failed(error) => Some(Err(error.take())),
            // Claims in flight settle by themselves (filled, or given back if
            // their fill fails); wait for them before telling EOF from a gap.
            WriteEnd::Closed if !self.reserved.is_empty() => None,
            WriteEnd::Closed if self.filled.is_empty() => Some(Ok(())),
            WriteEnd::Closed => {
                let stranded = self.filled.bytes();
                let furthest = self.filled.last_end().unwrap_or(self.consumed);
                Some(Err(Error::Gap {
                    offset: self.consumed,
                    missing: furthest - self.consumed - stranded,
                    stranded,
                }
                .into()))
            }
        }
    }

    /// Closes the write side (the first close wins). Returns whether this
    /// call closed it, and the error if it was not used, for the caller to
    /// drop after unlocking (its `Drop` is the user's code).
    pub(super) fn close_writes(
        &mut self,
        error: Option<ReaderError>,
    ) -> (bool, Option<ReaderError>) {
        if !matches!(self.write_end, WriteEnd::Open) {
            return (false, error);
        }
        self.write_end = error.map_or(WriteEnd::Closed, WriteEnd::Failed);
        (true, None)
    }

    /// Closes the read side: writes fail from now on and the memory goes,
    /// but for pages writers are copying into right now.
    pub(super) fn close_reads(&mut self) -> bool {
        if self.reader_closed {
            return false;
        }
        self.reader_closed = true;
        self.filled.clear();
        self.pages.release_all_but(&self.reserved);
        true
    }

    pub(super) fn add_writer(&mut self) {
        self.writers += 1;
    }

    /// Returns whether that was the last writer.
    pub(super) fn drop_writer(&mut self) -> bool {
        self.writers -= 1;
        self.writers == 0
    }

    pub(super) fn stats(&self) -> super::Stats {
        super::Stats {
            consumed: self.consumed,
            buffered: self.filled.bytes(),
            blocked_writers: self.writers_waiting + self.claim_waiters,
            reader_blocked: self.reader_waiting,
            allocated: self.pages.allocated(),
            peak_allocated: self.pages.peak(),
        }
    }
}
