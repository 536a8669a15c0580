//! Threads awaited with a bound, so that a test whose code under test hangs
//! fails instead of hanging (a `thread::scope` would wait for a blocked
//! thread forever before passing the failure on).

use std::sync::mpsc;
use std::thread;

use super::HANG;

/// A thread whose result is awaited with the [`HANG`] bound.
#[derive(Debug)]
pub struct Task<T> {
    result: mpsc::Receiver<thread::Result<T>>,
    thread: thread::JoinHandle<()>,
}

/// Runs `f` on a new thread.
pub fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Task<T> {
    let (tx, result) = mpsc::channel();
    let thread = thread::spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(outcome);
    });
    Task { result, thread }
}

impl<T> Task<T> {
    /// The thread's result; fails the test if it has not ended within
    /// [`HANG`] (leaving the thread blocked), and passes its panic on.
    pub fn join(self) -> T {
        match self.result.recv_timeout(HANG) {
            Ok(Ok(value)) => value,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => panic!("the thread is still blocked after {HANG:?}"),
        }
    }

    /// Whether the thread has ended (without waiting).
    pub fn is_done(&self) -> bool {
        self.thread.is_finished()
    }
}

/// Polls until `cond` holds (for states another thread reaches by itself),
/// failing after [`HANG`].
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < HANG, "never happened: {what}");
        thread::yield_now();
    }
}
