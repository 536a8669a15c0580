//! How the flusher thread and the callers of an `AsyncBuffer` wake each other.
//!
//! Everything here is guarded by one mutex and two condition variables, but
//! for [`Want`], which writers read without the lock: a writer takes the lock
//! only to wake a flusher parked for its write, or on slow paths (a full
//! buffer, `flush`, `close`).

use crate::engine::Landing;
use crate::sync::{AtomicUsize, Condvar, Deadline, Mutex, MutexGuard, Ordering, fence};

/// What a parked flusher waits for, as announced in [`Signal::announce`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    /// Not parked for a write (working, or waiting for a caller's request).
    Nothing = 0,
    /// A batch to start: parked while the buffer is empty.
    Data = 1,
    /// The batch to reach the mark: napping under sustained load.
    Mark = 2,
}

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
    /// A [`Want`], readable without the lock, so that writers take the lock
    /// only to wake a flusher that waits for their write.
    want: AtomicUsize,
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
            want: AtomicUsize::new(Want::Nothing as usize),
            work: Condvar::new(),
            progress: Condvar::new(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// The flusher, holding the lock, announces what it is about to park
    /// for; it must then check for it before parking, and
    /// [`retract`](Self::retract) once awake.
    pub(super) fn announce(&self, want: Want) {
        self.want.store(want as usize, Ordering::Relaxed);
        // ORDERING: this SeqCst fence pairs with the one in `report`, between
        // a writer's reservation and its load of `want`: either the
        // flusher's check after this fence sees the reservation, or the
        // writer's load sees this announcement and wakes the flusher (which
        // it cannot do before the flusher parks: that takes the lock).
        fence(Ordering::SeqCst);
    }

    /// The flusher no longer waits for a write.
    pub(super) fn retract(&self) {
        // ORDERING: Relaxed: a writer that still reads the old value only
        // takes the lock and sends a notification nobody needs.
        self.want.store(Want::Nothing as usize, Ordering::Relaxed);
    }

    /// A writer reports where its published write landed: if it started a
    /// batch or took it across `mark`, and the flusher is parked for that,
    /// wake it. Ordinary writes return at once.
    #[inline]
    pub(super) fn report(&self, landing: Landing, mark: usize) {
        let (starts, crosses) = (landing.starts_batch(), landing.crosses(mark));
        if starts || crosses {
            self.report_event(crosses);
        }
    }

    /// [`report`](Self::report) for the write that started a batch or
    /// crossed the mark (`crosses`).
    #[cold]
    #[inline(never)]
    fn report_event(&self, crosses: bool) {
        // ORDERING: see `announce`; the reservation was made before this.
        fence(Ordering::SeqCst);
        let wanted = match self.want.load(Ordering::Relaxed) {
            w if w == Want::Data as usize => true,
            w if w == Want::Mark as usize => crosses,
            _ => false,
        };
        if wanted {
            let state = self.lock();
            self.wake_flusher(&state);
        }
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

    /// Parks a caller until the flusher makes progress, or until `deadline`
    /// at the latest if there is one: `Err` with the guard once it passed.
    pub(super) fn wait_progress_until<'a>(
        &self,
        state: MutexGuard<'a, State>,
        deadline: Option<&Deadline>,
    ) -> Result<MutexGuard<'a, State>, MutexGuard<'a, State>> {
        let Some(deadline) = deadline else {
            return Ok(self.progress.wait(state));
        };
        match deadline.left() {
            Some(left) => Ok(self.progress.wait_timeout(state, left).0),
            None => Err(state),
        }
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
