//! How the flusher thread and the callers of an `AsyncBuffer` wake each other.
//!
//! Everything here is guarded by one mutex and two condition variables; it is
//! touched once per batch or on slow paths (a full buffer, `flush`, `close`),
//! never by an ordinary write that lands in a non-empty half.

use crate::sync::{Condvar, Mutex, MutexGuard};

/// The state behind the mutex.
pub(super) struct State {
    /// The flusher is parked (or about to park) waiting for work.
    pub(super) flusher_parked: bool,
    /// A writer found no room: stop lingering, flush now.
    pub(super) writer_blocked: bool,
    /// Number of `flush()` calls so far, and how many the flusher has served.
    pub(super) flush_requested: u64,
    pub(super) flush_served: u64,
    /// `close()` was called.
    pub(super) closing: bool,
    /// The flusher thread has finished (closed, or the sink failed: the
    /// failure itself is the front's).
    pub(super) exited: bool,
}

pub(super) struct Signal {
    state: Mutex<State>,
    /// The flusher waits here for work.
    work: Condvar,
    /// Callers wait here for progress: room, a served flush, the exit.
    progress: Condvar,
}

impl Signal {
    pub(super) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                flusher_parked: false,
                writer_blocked: false,
                flush_requested: 0,
                flush_served: 0,
                closing: false,
                exited: false,
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Wakes the flusher if it is parked. Taking the lock orders this after a
    /// flusher that checked for work and is about to park, so the wake-up
    /// cannot fall in between.
    pub(super) fn wake_flusher(&self, state: &State) {
        if state.flusher_parked {
            self.work.notify_one();
        }
    }

    /// Parks the flusher until woken.
    pub(super) fn park_flusher<'a>(
        &self,
        mut state: MutexGuard<'a, State>,
    ) -> MutexGuard<'a, State> {
        state.flusher_parked = true;
        let mut state = self.work.wait(state);
        state.flusher_parked = false;
        state
    }

    /// Parks the flusher until woken or `timeout`; `true` if it timed out.
    pub(super) fn park_flusher_for<'a>(
        &self,
        mut state: MutexGuard<'a, State>,
        timeout: std::time::Duration,
    ) -> (MutexGuard<'a, State>, bool) {
        state.flusher_parked = true;
        let (mut state, timed_out) = self.work.wait_timeout(state, timeout);
        state.flusher_parked = false;
        (state, timed_out)
    }

    /// Parks a caller until the flusher makes progress.
    pub(super) fn wait_progress<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.progress.wait(state)
    }

    /// Wakes every caller waiting for progress (with the lock held).
    pub(super) fn progressed(&self) {
        self.progress.notify_all();
    }

    /// As [`progressed`](Self::progressed), taking the lock first, so that a
    /// caller between checking for room and waiting cannot miss it.
    pub(super) fn progressed_locked(&self) {
        let _state = self.state.lock();
        self.progress.notify_all();
    }
}
