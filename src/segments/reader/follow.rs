//! [`Stop`]: ends a following [`Reader`](super::Reader) from another
//! thread, waking it at once rather than at its next poll.
//!
//! The protocol, which `loom-tests/tests/segments_follow.rs` models: the
//! flag is set before the lock is taken and the condition variable
//! notified, and a waiter checks the flag with the lock held before each
//! wait. So a stop either comes before the check (which sees it) or after
//! the waiter is waiting (which the notification wakes): it is never lost.

use std::fmt;
use std::time::Duration;

use crate::sync::{Arc, AtomicU8, Condvar, Deadline, Mutex, Ordering};

/// Stops a [`Reader`](super::Reader): a read waiting for more data in
/// follow mode returns `Ok(0)` at once, and every later read returns
/// `Ok(0)` too, even where more data is stored.
///
/// Get one from [`Reader::stopper`](super::Reader::stopper), or make one
/// and give it to several readers with
/// [`ReaderBuilder::stopped_by`](super::ReaderBuilder::stopped_by). It is a
/// cheap handle (`Clone + Send + Sync`): stop from any thread. Stopping is
/// final and idempotent.
///
/// ```
/// use std::io::Read;
/// use std::time::Duration;
///
/// let dir = tempfile::tempdir()?;
/// let mut tail = mwsr::segments::Reader::builder()
///     .follow(Duration::from_secs(3600)) // waits, re-listing hourly
///     .open(dir.path())?;
/// let stop = tail.stopper();
/// let follower = std::thread::spawn(move || tail.read(&mut [0; 64]).unwrap());
/// stop.stop(); // wakes it now, not in an hour
/// assert_eq!(follower.join().unwrap(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Stop {
    shared: Arc<Shared>,
}

struct Shared {
    /// `RUNNING`, then `STOPPED` for good.
    state: AtomicU8,
    /// Held by a waiter from its check of `state` until it waits, and by
    /// `stop` between setting `state` and notifying: what makes the
    /// notification impossible to miss.
    lock: Mutex<()>,
    /// Waiters wait here, `stop` wakes them all.
    woken: Condvar,
}

const RUNNING: u8 = 0;
const STOPPED: u8 = 1;

/// Timed waits longer than this are cut to it (a deadline further away
/// could overflow the clock).
const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

impl Stop {
    /// A stop not stopped yet.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                state: AtomicU8::new(RUNNING),
                lock: Mutex::new(()),
                woken: Condvar::new(),
            }),
        }
    }

    /// Stops: wakes every waiting reader (and [`wait`](Self::wait)), for
    /// good.
    pub fn stop(&self) {
        // ORDERING: Relaxed: the flag publishes no other data. What orders
        // it before a waiter's check is the lock below: a waiter that takes
        // the lock after this thread released it sees the store (lock
        // release/acquire), and one that took it before is waiting by the
        // time this thread gets it, and is notified.
        self.shared.state.store(STOPPED, Ordering::Relaxed);
        drop(self.shared.lock.lock());
        self.shared.woken.notify_all();
    }

    /// Whether [`stop`](Self::stop) has been called.
    #[inline]
    pub fn is_stopped(&self) -> bool {
        // ORDERING: Relaxed: a hint on the fast path (every read checks
        // it); the waits check it again with the lock held, which orders
        // it (see `stop`).
        self.shared.state.load(Ordering::Relaxed) == STOPPED
    }

    /// Blocks until [`stop`](Self::stop) is called (at once if it was).
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Blocks until [`stop`](Self::stop) is called or `timeout` has passed
    /// (at most a year); `true` if stopped. A following reader waits so
    /// between two listings.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Some(Deadline::after(timeout.min(LONGEST_WAIT))))
    }

    fn wait_until(&self, deadline: Option<Deadline>) -> bool {
        let mut guard = self.shared.lock.lock();
        loop {
            if self.is_stopped() {
                return true;
            }
            match deadline {
                None => guard = self.shared.woken.wait(guard),
                Some(deadline) => {
                    let Some(left) = deadline.left() else {
                        return false;
                    };
                    let (woken, timed_out) = self.shared.woken.wait_timeout(guard, left);
                    if timed_out {
                        return self.is_stopped();
                    }
                    guard = woken;
                }
            }
        }
    }
}

impl Default for Stop {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stop")
            .field("stopped", &self.is_stopped())
            .finish()
    }
}
