//! The read half: one reader, reading in offset order.

use std::fmt;
use std::io::{self, BufRead, Read};

use super::Stats;
use super::pages::Span;
use super::state::Shared;
use crate::sync::Arc;

/// The read half of a [`pipe`](super::pipe): reads the bytes in offset
/// order, as soon as they are contiguous from its position.
///
/// `read` blocks until at least one byte at the position is written, then
/// returns as many contiguous bytes as fit, never any past a gap. After the
/// write side closes it returns the rest, then end of file (`Ok(0)`), or
/// [`Error::Gap`](super::Error::Gap) if bytes were never written, or the
/// error given to `close_with_error`. [`BufRead`] reads straight from the
/// pipe's pages, without a copy.
pub struct Reader {
    shared: Arc<Shared>,
    /// Readable bytes from the position, within one page; empty until
    /// `fill` looks.
    span: Span,
}

impl Reader {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            span: Span::EMPTY,
        }
    }

    /// Makes `span` non-empty, waiting if need be; leaves it empty at a clean
    /// end.
    fn fill(&mut self) -> io::Result<()> {
        if self.span.len() > 0 {
            return Ok(());
        }
        let shared = &*self.shared;
        let mut state = shared.state.lock();
        loop {
            if let Some(span) = state.readable() {
                self.span = span;
                return Ok(());
            }
            if let Some(end) = state.end() {
                return end;
            }
            state.reader_waiting = true;
            state = shared.readable.wait(state);
            state.reader_waiting = false;
        }
    }

    /// Marks the first `n` bytes of `span` read; with `refill`, looks (without
    /// waiting) for more once `span` is used up.
    fn advance(&mut self, n: usize, refill: bool) {
        self.span.advance(n);
        let mut state = self.shared.state.lock();
        if state.consume(n) {
            self.shared.writable.notify_all();
        }
        if refill && self.span.len() == 0 {
            self.span = state.readable().unwrap_or(Span::EMPTY);
        }
    }

    fn readable(&self) -> &[u8] {
        // SAFETY: `span` came from `State::readable` under the lock, so its
        // bytes are filled, and their commit (under the same lock) happened
        // before; filled bytes are never written again; only this reader
        // releases pages, in `advance` and `close`, which take `&mut self`
        // and so cannot run while the returned borrow of `self` lives.
        unsafe { self.span.bytes() }
    }

    /// Closes the read side: writers' blocked and later writes fail with
    /// [`Error::ReaderClosed`](super::Error::ReaderClosed), and so do writes
    /// whose piece is being copied or filled now (its bytes are discarded
    /// when that ends); the buffered bytes are freed, and later reads fail
    /// with the same error. Dropping the reader does the same.
    pub fn close(&mut self) {
        self.span = Span::EMPTY;
        let mut state = self.shared.state.lock();
        if state.close_reads() {
            self.shared.writable.notify_all();
        }
    }

    /// Bytes read so far: the offset the next read starts at.
    pub fn position(&self) -> u64 {
        self.shared.state.lock().consumed()
    }

    /// Counters for the pipe as a whole.
    pub fn stats(&self) -> Stats {
        self.shared.state.lock().stats()
    }
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.fill()?;
        let mut done = 0;
        while self.span.len() > 0 && done < buf.len() {
            let n = self.span.len().min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&self.readable()[..n]);
            done += n;
            self.advance(n, done < buf.len());
        }
        Ok(done)
    }
}

impl BufRead for Reader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.fill()?;
        Ok(self.readable())
    }

    fn consume(&mut self, amt: usize) {
        let amt = amt.min(self.span.len());
        self.advance(amt, false);
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.close();
    }
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("stats", &self.stats())
            .finish()
    }
}
