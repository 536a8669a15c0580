//! The write half: any number of handles, each writing at any offset.

use std::fmt;
use std::io;

use super::state::{Shared, Step};
use super::{Error, Stats};
use crate::sync::Arc;

/// The write half of a [`pipe`](super::pipe): writes bytes at any offset.
///
/// Clone it for each writing thread (or share one by reference: every
/// method takes `&self`). The write side closes when any handle calls
/// [`close`](Self::close) or [`close_with_error`](Self::close_with_error),
/// or when the last handle is dropped.
pub struct Writer {
    shared: Arc<Shared>,
}

impl Writer {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Writes `buf` at `offset`, blocking while its bytes lie past the
    /// window, and returns `buf.len()`.
    ///
    /// A write longer than the window goes in piece by piece as the reader
    /// makes room. Bytes that an earlier write already supplied keep their
    /// value (the first write of a byte wins) and count as written.
    ///
    /// Returns fewer bytes than `buf.len()` only if the pipe closed part-way;
    /// the next call then fails. Use [`write_all_at`](Self::write_all_at)
    /// to get that error at once.
    ///
    /// # Errors
    /// [`Error::BelowConsumed`] if `offset` is below what the reader has
    /// consumed (nothing is written, also when the write reaches past it),
    /// [`Error::OffsetOverflow`], [`Error::WriteClosed`] or
    /// [`Error::ReaderClosed`], each inside an `io::Error`.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let len = buf.len();
        let end = offset
            .checked_add(len as u64)
            .ok_or(Error::OffsetOverflow { offset, len })?;
        let shared = &*self.shared;
        let mut state = shared.state.lock();
        if let Some(refused) = state.write_refusal() {
            return Err(refused.into());
        }
        if offset < state.consumed() {
            let consumed = state.consumed();
            return Err(Error::BelowConsumed { offset, consumed }.into());
        }
        let mut pos = offset;
        loop {
            // Bytes from `pos` that another write supplied may have been
            // read while this one waited or copied.
            pos = pos.max(state.consumed());
            if pos >= end {
                return Ok(len);
            }
            if let Some(refused) = state.write_refusal() {
                return match pos - offset {
                    0 => Err(refused.into()),
                    done => Ok(done as usize),
                };
            }
            match state.next_step(pos, end, shared.window) {
                Step::Wait => {
                    state.writers_waiting += 1;
                    state = shared.writable.wait(state);
                    state.writers_waiting -= 1;
                }
                Step::Skip(to) => pos = to,
                Step::Claim(claim, span) => {
                    let from = (claim.start - offset) as usize;
                    let src = &buf[from..from + span.len()];
                    drop(state);
                    // SAFETY: `next_step` reserved `claim` for this write
                    // under the lock and made `span` its bytes: no other
                    // writer claims reserved bytes, the reader reads only
                    // filled ones, and no page with reserved bytes is
                    // released, so the page is alive and the bytes are ours
                    // until `commit` below.
                    unsafe { span.fill(src) };
                    state = shared.state.lock();
                    pos = claim.end;
                    if state.commit(claim) {
                        shared.readable.notify_one();
                    }
                }
            }
        }
    }

    /// Writes all of `buf` at `offset` (see [`write_at`](Self::write_at)).
    ///
    /// # Errors
    /// As `write_at`; if the pipe closes part-way, some of `buf` may have
    /// been written.
    pub fn write_all_at(&self, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write_at(buf, offset)?;
            buf = &buf[n..];
            offset += n as u64;
        }
        Ok(())
    }

    /// Closes the write side for every handle: once it has read every byte
    /// written, the reader gets end of file, or [`Error::Gap`] if bytes are
    /// missing. Writes still blocked, and later ones, fail with
    /// [`Error::WriteClosed`]. Only the first close (or error) counts.
    pub fn close(&self) {
        self.end(None);
    }

    /// Closes the write side with `err`: the reader gets the bytes readable
    /// so far, then `err` (later reads: an error of the same kind and text).
    pub fn close_with_error(&self, err: io::Error) {
        self.end(Some(err));
    }

    fn end(&self, err: Option<io::Error>) {
        let mut state = self.shared.state.lock();
        if state.close_writes(err) {
            self.shared.readable.notify_all();
            self.shared.writable.notify_all();
        }
    }

    /// The window in bytes, or `None` for an unbounded pipe.
    pub fn window(&self) -> Option<usize> {
        (self.shared.window != u64::MAX).then_some(self.shared.window as usize)
    }

    /// Counters for the pipe as a whole.
    pub fn stats(&self) -> Stats {
        self.shared.state.lock().stats()
    }
}

impl Clone for Writer {
    fn clone(&self) -> Self {
        self.shared.state.lock().add_writer();
        Self::new(self.shared.clone())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let last = self.shared.state.lock().drop_writer();
        if last {
            self.end(None);
        }
    }
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("window", &self.window())
            .field("stats", &self.stats())
            .finish()
    }
}
