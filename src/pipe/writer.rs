//! The write half: any number of handles, each writing at any offset.

use std::fmt;
use std::io;

use super::state::{ReaderError, Shared, Step};
use super::{Error, Stats};
use crate::sync::Arc;

/// The write half of a [`pipe`](super::pipe): writes bytes at any offset.
///
/// Clone it for each writing thread (or share one by reference: every
/// method takes `&self`). The write side closes when any handle calls
/// [`close`](Self::close) or [`close_with_error`](Self::close_with_error),
/// or when the last handle is dropped. A handle dropped while its thread
/// panics closes the write side with an error, so that the reader never
/// takes a stream cut short by a panic for a whole one.
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
    /// value (the first write of a byte wins) and count as written; bytes
    /// another thread is writing right now are waited for.
    ///
    /// Returns fewer bytes than `buf.len()` only if the pipe closed part-way
    /// (the bytes returned went in before the close); the next call then
    /// fails. Use [`write_all_at`](Self::write_all_at) to get that error at
    /// once.
    ///
    /// # Errors
    /// [`Error::BelowConsumed`] if `offset` is below what the reader has
    /// consumed (nothing is written, also when the write reaches past it;
    /// [`write_with`](Self::write_with) writes the part past it instead),
    /// [`Error::OffsetOverflow`], [`Error::WriteClosed`] or
    /// [`Error::ReaderClosed`], each inside an `io::Error`. The last two
    /// also when the pipe closes while this write copies, if the close
    /// discards the piece being copied (see
    /// [`close_with_error`](Self::close_with_error)) and nothing went in
    /// before it.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let (done, result) = self.write_range(offset, buf.len(), Below::Refuse, |at, dst| {
            let from = (at - offset) as usize;
            dst.copy_from_slice(&buf[from..from + dst.len()]);
            Ok(())
        });
        match result {
            Err(e) if done == 0 => Err(e),
            // The pipe closed part-way: report what went in; the next call
            // reports the close.
            _ => Ok(done as usize),
        }
    }

    /// Writes the `len` bytes at `offset` in place: `fill(at, buf)` must
    /// fill `buf` with the bytes for offsets `at..at + buf.len()`, straight
    /// in the pipe's memory, with no buffer of the caller's in between.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::os::unix::fs::FileExt;
    ///
    /// # let file = tempfile::tempfile()?;
    /// # file.write_all_at(b"0123456789", 0)?;
    /// let (mut reader, writer) = mwsr::pipe::pipe(1 << 20);
    /// // A range of a file, read into the pipe without a copy of its own.
    /// writer.write_with(4, 6, |at, buf| file.read_exact_at(buf, at))?;
    /// writer.write_with(0, 4, |at, buf| file.read_exact_at(buf, at))?;
    /// drop(writer);
    /// let mut text = String::new();
    /// std::io::Read::read_to_string(&mut reader, &mut text)?;
    /// assert_eq!(text, "0123456789");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// `fill` is called for consecutive pieces of the range, each within
    /// one page of the pipe, in order, and blocks like
    /// [`write_at`](Self::write_at) while the range lies past the window.
    /// Pieces another write already supplied are skipped: `fill` is not
    /// called for them (the first write of a byte wins). `fill` must write
    /// all of `buf`: bytes it leaves alone hold whatever the page held
    /// before (zeros, or earlier bytes of the stream).
    ///
    /// Bytes of the range that the reader has already read count as
    /// written (some write supplied them) and are skipped too, so a range
    /// that starts below the reader's position writes its part at or past
    /// it. Only a range that lies wholly below the position (nothing of it
    /// is left to write) fails, with [`Error::BelowConsumed`].
    ///
    /// # Errors
    /// - The first error `fill` returns, as it is. The pieces before it
    ///   stay written (and may have been read since); the failed piece and
    ///   the rest of the range are left free. A `fill` that panics leaves
    ///   its piece free too.
    /// - [`Error::BelowConsumed`] only if the whole range lies below the
    ///   reader's position (see above); [`Error::OffsetOverflow`].
    /// - [`Error::WriteClosed`] or [`Error::ReaderClosed`] if the pipe is
    ///   closed, or closes while the call waits for room or for another
    ///   write's piece.
    /// - The same if the pipe closes while `fill` runs and the close
    ///   discards its piece ([`close_with_error`](Self::close_with_error),
    ///   or the reader's close): the reader never gets those bytes, so the
    ///   call does not report them written. After a [`close`](Self::close),
    ///   the piece being filled still goes in (the reader gets it), and the
    ///   call fails with [`Error::WriteClosed`] only if more of the range
    ///   was left to write.
    ///
    /// # Retrying after a failed `fill`
    /// Call `write_with` again with the same `offset` and `len` (and a
    /// `fill` for the same bytes) until it returns `Ok`; there is no
    /// progress to keep track of. Each call calls `fill` only for the bytes
    /// still missing: pieces an earlier attempt (or another write)
    /// committed are skipped, and so are bytes the reader has read since.
    /// The reader gets every byte once.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// # use std::io::Read;
    /// let (mut reader, writer) = mwsr::pipe::pipe(64); // 16-byte pieces
    /// let mut asked = Vec::new();
    /// let mut flaky = |at: u64, buf: &mut [u8]| {
    ///     asked.push(at);
    ///     if asked.len() == 2 {
    ///         return Err(std::io::Error::other("connection reset"));
    ///     }
    ///     buf.fill(b'x');
    ///     Ok(())
    /// };
    /// // 0..16 goes in, then the fill for 16..32 fails...
    /// assert!(writer.write_with(0, 40, &mut flaky).is_err());
    /// // ...and the reader reads 0..16 meanwhile.
    /// let mut bytes = vec![0; 16];
    /// reader.read_exact(&mut bytes)?;
    /// // The same call again fills 16..40 only.
    /// writer.write_with(0, 40, &mut flaky)?;
    /// assert_eq!(asked, [0, 16, 16, 32]);
    /// drop(writer);
    /// reader.read_to_end(&mut bytes)?;
    /// assert_eq!(bytes, [b'x'; 40]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Stop on [`Error::WriteClosed`] or [`Error::ReaderClosed`]: the pipe
    /// stays closed. A retry meets [`Error::BelowConsumed`] only if other
    /// writes supplied the whole range and the reader has read it: nothing
    /// is left to write.
    pub fn write_with<F>(&self, offset: u64, len: usize, mut fill: F) -> io::Result<()>
    where
        F: FnMut(u64, &mut [u8]) -> io::Result<()>,
    {
        self.write_range(offset, len, Below::SkipRead, &mut fill).1
    }

    /// Writes `len` bytes from `offset`, piece by piece: reserves each free
    /// piece under the lock, has `put` fill it without the lock, then
    /// commits it. Returns the bytes done (including bytes skipped as
    /// written) and how the write ended.
    fn write_range<F>(
        &self,
        offset: u64,
        len: usize,
        below: Below,
        mut put: F,
    ) -> (u64, io::Result<()>)
    where
        F: FnMut(u64, &mut [u8]) -> io::Result<()>,
    {
        let Some(end) = offset.checked_add(len as u64) else {
            return (0, Err(Error::OffsetOverflow { offset, len }.into()));
        };
        let shared = &*self.shared;
        let mut state = shared.state.lock();
        if let Some(refused) = state.write_refusal() {
            return (0, Err(refused.into()));
        }
        let consumed = state.consumed();
        let refused = match below {
            Below::Refuse => offset < consumed,
            // Also an empty range below the position: it is wholly below.
            Below::SkipRead => offset < consumed && end <= consumed,
        };
        if refused {
            return (0, Err(Error::BelowConsumed { offset, consumed }.into()));
        }
        let mut pos = offset;
        loop {
            // Bytes from `pos` that another write supplied may have been
            // read while this one waited or filled (and, for `SkipRead`,
            // before it began).
            pos = pos.max(state.consumed());
            if pos >= end {
                return (len as u64, Ok(()));
            }
            if let Some(refused) = state.write_refusal() {
                return (pos - offset, Err(refused.into()));
            }
            match state.next_step(pos, end, shared.window) {
                Step::Wait => {
                    state.writers_waiting += 1;
                    state = shared.writable.wait(state);
                    state.writers_waiting -= 1;
                }
                Step::WaitForClaim => {
                    state.claim_waiters += 1;
                    state = shared.writable.wait(state);
                    state.claim_waiters -= 1;
                }
                Step::Skip(to) => pos = to,
                Step::Claim(claim, span) => {
                    drop(state);
                    let unwind = AbandonOnUnwind {
                        shared,
                        claim: claim.clone(),
                    };
                    // SAFETY: `next_step` reserved `claim` for this write
                    // under the lock and made `span` its bytes: no other
                    // writer claims reserved bytes, the reader reads only
                    // filled ones, and no page with reserved bytes is
                    // released, so the page is alive and the bytes are this
                    // write's alone until it commits or abandons them.
                    let filled = put(claim.start, unsafe { span.bytes_mut() });
                    std::mem::forget(unwind);
                    state = shared.state.lock();
                    let settled = state.settle(claim.clone(), filled.is_ok());
                    shared.wake(&settled);
                    if let Err(e) = filled {
                        return (pos - offset, Err(e));
                    }
                    // The pipe closed meanwhile and discarded the bytes.
                    if let Some(refused) = settled.refused {
                        return (pos - offset, Err(refused.into()));
                    }
                    pos = claim.end;
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
    ///
    /// Pieces being copied or filled right now still go in: the reader
    /// waits for them before it tells end of file from a gap, and reads
    /// them. The writes they belong to fail with [`Error::WriteClosed`]
    /// only if more of their range was left to write.
    pub fn close(&self) {
        self.end(None);
    }

    /// Closes the write side with `err`: the reader gets the bytes readable
    /// now, then `err` (later reads: an error of the same kind and text),
    /// without waiting for writes in flight. An `err` of kind `Interrupted`
    /// is passed on inside one of kind `Other`, as `Read` loops retry on
    /// `Interrupted`.
    ///
    /// The error is final: nothing becomes readable after it. A piece that
    /// is being copied or filled when the write side closes is discarded
    /// when its copy or `fill` ends, and its write fails with
    /// [`Error::WriteClosed`] (a [`write_at`](Self::write_at) that got
    /// pieces in before returns their count, and the next call fails).
    /// So a write that reports bytes written put them in before the close;
    /// the reader gets them, before `err`, unless a gap comes before them.
    pub fn close_with_error(&self, err: io::Error) {
        self.end(Some(err));
    }

    fn end(&self, err: Option<io::Error>) {
        let err = err.map(ReaderError::new);
        let mut state = self.shared.state.lock();
        let (closed, unused) = state.close_writes(err);
        if closed {
            self.shared.readable.notify_all();
            self.shared.writable.notify_all();
        }
        drop(state);
        drop(unused);
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

/// What a write that starts below the reader's position does.
#[derive(Debug, Clone, Copy)]
enum Below {
    /// Fails whole with [`Error::BelowConsumed`] (`write_at`, as in Go).
    Refuse,
    /// Skips the bytes already read, which some write supplied, and fails
    /// only if the whole range lies below the position (`write_with`, whose
    /// failed ranges are meant to be written again).
    SkipRead,
}

/// Gives a claim back if the code filling it panics, so that the reader does
/// not wait at the end for a piece that will never come.
struct AbandonOnUnwind<'a> {
    shared: &'a Shared,
    claim: std::ops::Range<u64>,
}

impl Drop for AbandonOnUnwind<'_> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        let settled = state.settle(self.claim.clone(), false);
        self.shared.wake(&settled);
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
        // A writer dropped by a panic most likely left its range unwritten;
        // if that range was the tail, a clean close would hand the reader a
        // short stream as if it were whole.
        if std::thread::panicking() {
            self.end(Some(io::Error::other("a pipe writer's thread panicked")));
        }
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
