//! The flusher thread: sleeps while there is nothing to do, lingers if asked
//! to, swaps and delivers, and reports progress.

use std::time::{Duration, Instant};

use super::signal::{Signal, State};
use crate::front::Front;
use crate::sink::Sink;
use crate::sync::MutexGuard;

/// What the flusher thread and the `AsyncBuffer` handle share.
pub(super) struct Shared<T, S: Sink<T>> {
    pub(super) front: Front<T, S>,
    pub(super) signal: Signal,
    pub(super) linger: Option<Duration>,
}

/// The flusher thread's body. Returns after `close()` has been served or
/// the sink has failed, having marked itself exited either way.
pub(super) fn run<T, S: Sink<T>>(shared: &Shared<T, S>) {
    // Should anything here panic (a bug: sink panics are caught), callers
    // waiting for progress must not hang.
    let _exit = ExitGuard(shared);
    loop {
        let (requested, closing) = {
            let mut state = wait_for_work(shared, shared.signal.lock());
            state.writer_blocked = false;
            (state.flush_requested, state.closing)
        };
        let front = &shared.front;
        let result = front.with_role(|role| {
            if closing {
                // Seals the buffer for good: later writes get `Closed`, and
                // writes racing this one land in this last batch.
                role.close(|batch, outlet| outlet.deliver(batch, &front.counters))
                    .unwrap_or(Ok(()))
            } else {
                // Writers waiting for room can go on as soon as the other
                // half is open, not only once the sink has returned.
                front.flush_active_then(role, || shared.signal.progressed_locked())
            }
        });
        let mut state = shared.signal.lock();
        state.flush_served = state.flush_served.max(requested);
        // A failure is the front's sticky one, recorded before the engine
        // was closed for it; callers read it from there.
        let done = closing || result.is_err();
        state.exited = done;
        shared.signal.progressed();
        if done {
            return;
        }
    }
}

/// Parks until there is something to flush, a flush or close was asked for,
/// or a writer is blocked; then lingers, if configured, for the batch to fill.
fn wait_for_work<'a, T, S: Sink<T>>(
    shared: &Shared<T, S>,
    mut state: MutexGuard<'a, State>,
) -> MutexGuard<'a, State> {
    let urgent = |s: &State| s.closing || s.flush_requested > s.flush_served || s.writer_blocked;
    // A writer that starts a batch locks the signal and wakes us after its
    // items are in, so checking under the lock cannot miss it.
    while !(urgent(&state) || shared.front.engine.has_data()) {
        state = shared.signal.park_flusher(state);
    }
    if let Some(linger) = shared.linger {
        let deadline = Instant::now() + linger;
        while !urgent(&state) {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            let (next, timed_out) = shared.signal.park_flusher_for(state, left);
            state = next;
            if timed_out {
                break;
            }
        }
    }
    state
}

struct ExitGuard<'a, T, S: Sink<T>>(&'a Shared<T, S>);

impl<T, S: Sink<T>> Drop for ExitGuard<'_, T, S> {
    fn drop(&mut self) {
        let mut state = self.0.signal.lock();
        if !state.exited {
            self.0
                .front
                .record_failure(crate::Error::Panicked("the flusher thread panicked".into()));
            state.exited = true;
        }
        self.0.signal.progressed();
    }
}
