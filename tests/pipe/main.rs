//! `mwsr::pipe`: writers at any offset, one reader in order, a bounded
//! window.

#[path = "../common/mod.rs"]
mod common;
mod golang;
mod semantics;
mod stress;
mod wakeups;

use std::io::{self, Read};
use std::sync::mpsc;
use std::thread;

use mwsr::pipe::{self, Reader};

/// `len` bytes of a pattern with no zero byte (so unwritten bytes show) that
/// does not repeat with any short period.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8 + 1).collect()
}

/// Reads until the end: everything read, and how the stream ended.
pub fn read_to_end(reader: &mut Reader) -> (Vec<u8>, io::Result<()>) {
    let mut out = Vec::new();
    let end = reader.read_to_end(&mut out).map(drop);
    (out, end)
}

/// The pipe error inside `err`, which must hold one.
pub fn pipe_error(err: &io::Error) -> pipe::Error {
    pipe::Error::of(err)
        .unwrap_or_else(|| panic!("not a pipe error: {err:?}"))
        .clone()
}

/// A thread whose result is awaited with a bound, so that a test whose
/// code under test hangs fails instead of hanging.
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
    /// [`common::HANG`], and passes its panic on.
    pub fn join(self) -> T {
        match self.result.recv_timeout(common::HANG) {
            Ok(Ok(value)) => value,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => panic!("the thread is still blocked after {:?}", common::HANG),
        }
    }

    /// Whether the thread has ended (without waiting).
    pub fn is_done(&self) -> bool {
        self.thread.is_finished()
    }
}

/// Polls until `cond` holds (for states another thread reaches by itself),
/// failing after [`common::HANG`].
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < common::HANG, "never happened: {what}");
        thread::yield_now();
    }
}
