//! The flusher thread: sleeps while there is nothing to do, lingers if asked
//! to, swaps and delivers, and reports progress.

use std::time::Duration;

use super::signal::{Signal, State, Want};
use crate::front::Front;
use crate::sink::Sink;
use crate::sync::{Deadline, MutexGuard};

/// What the flusher thread and the `AsyncBuffer` handle share.
pub(super) struct Shared<T, S: Sink<T>> {
    pub(super) front: Front<T, S>,
    pub(super) signal: Signal,
    pub(super) linger: Option<Duration>,
    /// Whether `io::Write` drops a write that would wait (see
    /// [`Builder::lossy`](super::Builder::lossy)).
    pub(super) lossy: bool,
    /// The batch length that ends a wait for the batch to fill (see
    /// [`mark`]).
    pub(super) mark: usize,
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
                front.close_with(role)
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

/// How long a flusher under sustained load waits for the next batch to
/// reach the mark (half the capacity) before flushing it anyway.
pub(super) const NAP: Duration = Duration::from_micros(50);

/// The batch length whose crossing ends the flusher's wait for a batch to
/// fill. Napping under load: half the capacity, so that writers still have
/// the other half of the slab, and the whole spare slab, while the batch is
/// in the sink. Lingering: the whole capacity, as Kafka's `batch.size` ends
/// `linger.ms`: a full batch goes at once.
pub(super) fn mark(capacity: usize, linger: Option<Duration>) -> usize {
    match linger {
        Some(_) => capacity,
        None => capacity.div_ceil(2),
    }
}

/// Parks until there is something to flush, a flush or close was asked for,
/// or a writer is blocked; then lets the batch fill: until it is full or for
/// the linger time if one is configured, else, when several writes were already waiting
/// (sustained load: the writers outpace the sink), until it reaches the
/// mark or for [`NAP`] at most. A single waiting write is flushed at once,
/// so sparse writes never wait for the nap. (In per-writer mode the flusher
/// cannot count writes into claimed chunks, so any write found waiting
/// after a delivery counts as sustained load: counting only claims made it
/// flush batches of a few dozen items, at half the throughput.)
fn wait_for_work<'a, T, S: Sink<T>>(
    shared: &Shared<T, S>,
    mut state: MutexGuard<'a, State>,
) -> MutexGuard<'a, State> {
    let urgent = |s: &State| s.closing || s.flush_requested > s.flush_served || s.writer_blocked;
    let (signal, engine) = (&shared.signal, &shared.front.engine);
    let mut parked = false;
    while !urgent(&state) {
        // A writer that starts a batch sees the announcement and wakes us,
        // or we see its write here (see `Signal::announce`).
        signal.announce(Want::Data);
        if engine.has_data() {
            break;
        }
        parked = true;
        state = signal.park_flusher(state);
    }
    signal.retract();
    let deadline = match shared.linger {
        Some(linger) => Deadline::after(linger),
        None if !parked && engine.several_writes() => Deadline::after(NAP),
        None => return state,
    };
    let mark = shared.mark;
    signal.announce(Want::Mark);
    let filled = || engine.active_len() >= mark;
    while !(urgent(&state) || filled()) {
        let Some(left) = deadline.left() else {
            break;
        };
        let (next, timed_out) = signal.park_flusher_for(state, left);
        state = next;
        if timed_out {
            break;
        }
    }
    signal.retract();
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
