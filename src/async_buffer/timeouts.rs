//! The calls that give up on a sink after a while: for a sink that may
//! block for good (a socket whose peer stopped reading), so that writers,
//! `flush` and shutdown can still rely on returning.

use std::time::Duration;

use super::AsyncBuffer;
use crate::engine::Rejected;
use crate::front::Refused;
use crate::sink::Sink;
use crate::sync::Deadline;
use crate::{Error, TryWriteError};

impl<T, S: Sink<T>> AsyncBuffer<T, S> {
    /// As [`write`](Self::write), but waits at most `timeout` for room
    /// (as crossbeam's `send_timeout`).
    ///
    /// # Errors
    /// Hands `item` back: [`TryWriteError::Full`] if both halves were still
    /// full when `timeout` ran out (counted in
    /// [`Stats::try_write_refusals`](crate::Stats::try_write_refusals)), and
    /// otherwise as [`try_write`](Self::try_write).
    pub fn write_timeout(
        &self,
        item: T,
        timeout: Duration,
    ) -> Result<(), TryWriteError<T, S::Error>> {
        let deadline = Deadline::after(timeout);
        let mut item = item;
        loop {
            match self.front().engine.push(item) {
                Ok(landing) => {
                    self.report(landing);
                    return Ok(());
                }
                Err((back, Rejected::Full(_))) => {
                    item = back;
                    match self.wait_for_room(1, Some(&deadline)) {
                        Ok(true) => {}
                        Ok(false) => {
                            self.front().counters.try_write_refused();
                            return Err(TryWriteError::Full(item));
                        }
                        Err(e) => return Err(Refused::Closed(e).with(item)),
                    }
                }
                Err((item, Rejected::Closed)) => {
                    return Err(Refused::Closed(self.front().closed_error()).with(item));
                }
            }
        }
    }

    /// As [`flush`](Self::flush), but returns [`Error::TimedOut`] if the
    /// sink has not taken everything written before this call within
    /// `timeout`. The buffer is not failed by it: the flush goes on.
    ///
    /// # Errors
    /// [`Error::TimedOut`], and as [`flush`](Self::flush).
    pub fn flush_timeout(&self, timeout: Duration) -> Result<(), Error<S::Error>> {
        self.flush_until(Some(&Deadline::after(timeout)))
    }

    /// As [`close`](Self::close), but gives up on the sink after `timeout`:
    /// then the buffer fails for good with [`Error::TimedOut`] (every later
    /// call returns it), the flusher thread is detached and exits when the
    /// sink returns, and whatever the sink had not taken is dropped and
    /// counted in [`Stats::items_dropped`](crate::Stats::items_dropped) (the
    /// batch the sink is stuck on counts as flushed if the sink returns
    /// `Ok` after all). [`close`](Self::close) and drop wait as long as it
    /// takes: use this to shut down in bounded time. (After a timed-out
    /// close, [`into_inner`](Self::into_inner) still waits for the sink to
    /// return: it hands the sink back.)
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// // A sink stuck for good, as a socket whose peer stopped reading.
    /// let (unstick, stuck) = std::sync::mpsc::channel::<()>();
    /// let stuck = std::sync::Mutex::new(stuck);
    /// let buf = mwsr::AsyncBuffer::new(16, move |_: &[u8]| {
    ///     let _ = stuck.lock().unwrap().recv();
    ///     Ok::<(), std::io::Error>(())
    /// });
    /// buf.write(1).unwrap();
    /// let err = buf.close_timeout(Duration::from_millis(50)).unwrap_err();
    /// assert!(matches!(err, mwsr::Error::TimedOut));
    /// assert!(buf.write(2).is_err()); // failed for good
    /// drop(buf); // returns at once; the thread exits once the sink returns
    /// drop(unstick);
    /// ```
    ///
    /// # Errors
    /// [`Error::TimedOut`], and as [`close`](Self::close).
    pub fn close_timeout(&self, timeout: Duration) -> Result<(), Error<S::Error>> {
        self.owner.close_until(Some(&Deadline::after(timeout)))
    }
}
