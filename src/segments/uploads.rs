//! [`Uploads`]: a bound on the segments waiting for their upload, and the
//! sticky failure of any of them. (Public inside a private module: reached
//! from outside only by the loom models, under `--cfg loom`.)

use std::io;
use std::sync::Arc;

use crate::sync::{Condvar, Mutex};

/// Counts uploads in flight: [`begin`](Self::begin) waits while `max` are,
/// [`wait_all`](Self::wait_all) until none is; the first failure is kept
/// and returned by every later call.
#[derive(Debug)]
pub struct Uploads {
    state: Mutex<State>,
    changed: Condvar,
    max: usize,
}

#[derive(Debug, Default)]
struct State {
    in_flight: usize,
    failed: Option<Failed>,
}

/// A failure, handed out again as an `io::Error` of the same kind.
#[derive(Debug, Clone)]
struct Failed {
    kind: io::ErrorKind,
    message: Arc<str>,
}

impl Failed {
    fn error(&self) -> io::Error {
        io::Error::new(
            self.kind,
            format!("mwsr::segments: an upload failed: {}", self.message),
        )
    }
}

/// One upload in flight; [`finish`](Self::finish) it with its outcome.
/// Dropped unfinished (its task was cancelled), it counts as failed.
#[derive(Debug)]
pub struct Ticket {
    uploads: Arc<Uploads>,
    done: bool,
}

impl Uploads {
    /// At most `max` uploads in flight.
    pub fn new(max: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            max,
        }
    }

    /// The sticky failure, if an upload failed.
    pub fn check(&self) -> io::Result<()> {
        match &self.state.lock().failed {
            Some(failed) => Err(failed.error()),
            None => Ok(()),
        }
    }

    /// Waits until fewer than `max` uploads are in flight, and counts one
    /// more.
    ///
    /// # Errors
    /// The sticky failure.
    pub fn begin(self: &Arc<Self>) -> io::Result<Ticket> {
        let mut state = self.state.lock();
        loop {
            if let Some(failed) = &state.failed {
                return Err(failed.error());
            }
            if state.in_flight < self.max {
                state.in_flight += 1;
                return Ok(Ticket {
                    uploads: self.clone(),
                    done: false,
                });
            }
            state = self.changed.wait(state);
        }
    }

    /// Waits until no upload is in flight.
    ///
    /// # Errors
    /// The sticky failure.
    pub fn wait_all(&self) -> io::Result<()> {
        let mut state = self.state.lock();
        while state.in_flight > 0 {
            state = self.changed.wait(state);
        }
        match &state.failed {
            Some(failed) => Err(failed.error()),
            None => Ok(()),
        }
    }

    fn end(&self, result: io::Result<()>) {
        let mut state = self.state.lock();
        state.in_flight -= 1;
        if let Err(e) = result {
            state.failed.get_or_insert(Failed {
                kind: e.kind(),
                message: e.to_string().into(),
            });
        }
        // Under the lock: a waiter checks its condition under it too, so
        // it cannot miss this.
        self.changed.notify_all();
    }
}

impl Ticket {
    /// The upload ended with `result`.
    pub fn finish(mut self, result: io::Result<()>) {
        self.done = true;
        self.uploads.end(result);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.done {
            self.uploads.end(Err(io::Error::other(
                "the upload was abandoned (its task was cancelled)",
            )));
        }
    }
}
