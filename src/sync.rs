//! The one place this crate takes its synchronisation primitives from.
//!
//! Normal builds use `std` atomics and `parking_lot`'s `Mutex`/`Condvar`.
//! Under `--cfg loom` the same names come from [`loom`], so that loom models
//! (this crate's in `loom-tests/`, and a downstream user's own) explore every
//! interleaving of this crate's protocol. Nothing else in the crate imports a
//! synchronisation primitive directly.
//!
//! The loom-only differences are kept to a few small, documented points:
//! - [`Mutex`] and [`Condvar`] wrap loom's with `parking_lot`'s non-poisoning
//!   shape (as tokio's `loom/mocked.rs` does).
//! - [`AccessTracker`] is a zero-sized no-op normally; under loom it is one
//!   `loom::cell::UnsafeCell<()>` per slot, touched on every read and write of
//!   that slot, so loom checks each slot's accesses for races while the data
//!   itself stays in one contiguous allocation the sink can see as `&[T]`.
//! - Per-writer mode's lane lock is a spin lock normally and a loom mutex
//!   under loom (see `engine::lanes`).
//! - [`Backoff`] yields on every step under loom (no spinning, no sleeping),
//!   which keeps the models small, and does not spin after a lost race.
//! - [`yield_until`] checks its condition once under loom, and does not
//!   yield.
//! - [`Condvar::wait_timeout`] under loom returns at once as timed out (loom's
//!   own never times out): a timeout may expire at any moment, so this is one
//!   of the real behaviours, and models cannot hang on it. [`Deadline`] reads
//!   no clock under loom, so that every run of a model takes the same path.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};

// No `AtomicBool` under loom: its one user, the lane lock, is a loom mutex
// there (see `engine::lanes`).
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};

#[cfg(not(loom))]
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::thread::{
    Builder as ThreadBuilder, JoinHandle, ThreadId, current as current_thread,
};

#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
pub(crate) use loom::thread::{
    Builder as ThreadBuilder, JoinHandle, ThreadId, current as current_thread,
};

/// A number for the calling thread, fixed for its lifetime: threads started
/// one after another get consecutive numbers, so that a few threads spread
/// over a few lanes without colliding. Under loom, the model thread's
/// number within its execution (the same in every run of a model; loom's
/// `ThreadId` shows it only through `Debug`, and its `Hash` differs from
/// one execution to the next).
#[cfg(not(loom))]
#[inline]
pub(crate) fn thread_number() -> usize {
    use std::sync::atomic::AtomicUsize as StdAtomicUsize;
    static NEXT: StdAtomicUsize = StdAtomicUsize::new(0);
    thread_local! {
        // ORDERING: Relaxed: only uniqueness-ish matters, not order.
        static NUMBER: usize = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    NUMBER.with(|n| *n)
}

#[cfg(loom)]
pub(crate) fn thread_number() -> usize {
    let id = format!("{:?}", loom::thread::current().id());
    id.chars()
        .filter(char::is_ascii_digit)
        .fold(0, |n, d| n * 10 + (d as usize - '0' as usize))
}

/// Backing off without a wake-up, in two uses: [`snooze`](Self::snooze)
/// waits for another thread to finish a step that takes no lock (copying
/// items in), spinning, then yielding, then napping, so a wait on a
/// preempted thread does not burn a core; [`lose_race`](Self::lose_race)
/// spins after a lost compare-exchange.
#[derive(Debug)]
pub(crate) struct Backoff {
    step: u32,
}

impl Backoff {
    /// Spins before yielding.
    #[cfg(not(loom))]
    const SPIN_LIMIT: u32 = 64;
    /// The longest spin after a lost race is `2^RACE_CAP` hints.
    #[cfg(not(loom))]
    const RACE_CAP: u32 = 6;
    /// Naps after this many steps (spins, then yields, before).
    #[cfg(not(loom))]
    const NAP_AFTER: u32 = Self::SPIN_LIMIT + 16;
    #[cfg(not(loom))]
    const NAP: std::time::Duration = std::time::Duration::from_micros(20);

    pub(crate) fn new() -> Self {
        Self { step: 0 }
    }

    /// After losing a race for a contended cache line (a failed
    /// compare-exchange): spins twice as long as the last time, up to a
    /// cap, so the winner can do a few more operations on the line before
    /// it bounces back. Without it two writers hammering one word fail about
    /// every other attempt, and each failure costs a cache-line transfer.
    #[inline]
    pub(crate) fn lose_race(&mut self) {
        // Nothing to wait for under loom: the race's winner has made progress.
        #[cfg(not(loom))]
        for _ in 0..1u32 << self.step.min(Self::RACE_CAP) {
            std::hint::spin_loop();
        }
        self.step = self.step.saturating_add(1);
    }

    /// One step of the wait.
    pub(crate) fn snooze(&mut self) {
        #[cfg(not(loom))]
        if self.step < Self::SPIN_LIMIT {
            std::hint::spin_loop();
        } else if self.step < Self::NAP_AFTER {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Self::NAP);
        }
        // Under loom every step is a yield: time does not pass, and a
        // spinning thread must let the others run.
        #[cfg(loom)]
        loom::thread::yield_now();
        self.step = self.step.saturating_add(1);
    }
}

#[cfg(not(loom))]
mod imp {
    pub(crate) use parking_lot::{Mutex, MutexGuard};

    /// `parking_lot::Condvar` with a by-value `wait`, the shape loom's has.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(parking_lot::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Self(parking_lot::Condvar::new())
        }

        pub(crate) fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(&mut guard);
            guard
        }

        /// Waits for a notification or `timeout`; `true` if it timed out.
        pub(crate) fn wait_timeout<'a, T>(
            &self,
            mut guard: MutexGuard<'a, T>,
            timeout: std::time::Duration,
        ) -> (MutexGuard<'a, T>, bool) {
            let timed_out = self.0.wait_for(&mut guard, timeout).timed_out();
            (guard, timed_out)
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    /// Zero-sized: access tracking only exists under loom.
    #[derive(Debug)]
    pub(crate) struct AccessTracker;

    impl AccessTracker {
        pub(crate) fn new() -> Self {
            Self
        }

        #[inline(always)]
        pub(crate) fn read(&self) {}
        #[inline(always)]
        pub(crate) fn write(&self) {}
    }
}

#[cfg(loom)]
mod imp {
    /// loom's `Mutex` with `parking_lot`'s shape: `lock()` returns the guard.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            // A panic while holding one of this crate's locks is caught or
            // impossible by construction, so poisoning carries no news.
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Self(loom::sync::Condvar::new())
        }

        pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(guard).unwrap_or_else(|e| e.into_inner())
        }

        /// Times out at once (see the module docs).
        pub(crate) fn wait_timeout<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            _timeout: std::time::Duration,
        ) -> (MutexGuard<'a, T>, bool) {
            loom::thread::yield_now();
            (guard, true)
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    /// One loom cell per slot: loom sees every slot access and reports races.
    #[derive(Debug)]
    pub(crate) struct AccessTracker(loom::cell::UnsafeCell<()>);

    impl AccessTracker {
        pub(crate) fn new() -> Self {
            Self(loom::cell::UnsafeCell::new(()))
        }

        pub(crate) fn read(&self) {
            self.0.with(|_| ());
        }
        pub(crate) fn write(&self) {
            self.0.with_mut(|_| ());
        }
    }
}

pub(crate) use imp::{AccessTracker, Condvar, Mutex, MutexGuard};

/// How long [`yield_until`] yields at most: about one write of a few dozen
/// KiB to a file, the sink call a writer waiting for room most often waits
/// for. (20, 50, 100 and 200 µs gave the same throughput logging to a file
/// with 64 KiB and 256 KiB halves.)
#[cfg(not(loom))]
const YIELD_FOR: std::time::Duration = std::time::Duration::from_micros(20);

/// Before parking for another thread's progress that usually comes within
/// microseconds (a sink call on another core ending): checks `ready`,
/// yielding between checks, for [`YIELD_FOR`] at most or until `deadline`.
/// `true` once `ready` held; `false` means park. Parking there would put
/// the wake-up on the other thread's path, and the woken thread often on
/// that thread's core (logging to a file, 0.86-0.97x a
/// `Mutex<BufWriter<File>>` instead of 0.94-1.12x).
/// Under loom, checks once: the models cover both outcomes, and the park.
pub(crate) fn yield_until(deadline: Option<&Deadline>, mut ready: impl FnMut() -> bool) -> bool {
    if ready() {
        return true;
    }
    #[cfg(not(loom))]
    {
        let until = Deadline::after(YIELD_FOR);
        let before = |d: &Deadline| d.left().is_some();
        while before(&until) && deadline.is_none_or(before) {
            std::thread::yield_now();
            if ready() {
                return true;
            }
        }
    }
    #[cfg(loom)]
    let _ = deadline;
    false
}

/// A point in time to park until. Under loom, time does not pass: a
/// deadline always has time left, and the timed park it bounds
/// ([`Condvar::wait_timeout`]) times out at once, which keeps models
/// deterministic (real clocks would make loom's runs diverge).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    #[cfg(not(loom))]
    at: std::time::Instant,
    #[cfg(loom)]
    span: std::time::Duration,
}

impl Deadline {
    pub(crate) fn after(span: std::time::Duration) -> Self {
        Self {
            #[cfg(not(loom))]
            at: std::time::Instant::now() + span,
            #[cfg(loom)]
            span,
        }
    }

    /// The time left, or `None` once the deadline has passed.
    pub(crate) fn left(&self) -> Option<std::time::Duration> {
        #[cfg(not(loom))]
        return self.at.checked_duration_since(std::time::Instant::now());
        #[cfg(loom)]
        return Some(self.span);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{Deadline, yield_until};
    use std::time::Duration;

    #[test]
    fn yield_until_returns_at_once_when_ready() {
        let mut checks = 0;
        assert!(yield_until(None, || {
            checks += 1;
            true
        }));
        assert_eq!(checks, 1);
    }

    #[test]
    fn yield_until_sees_the_condition_turn_true() {
        let mut checks = 0;
        let ready = yield_until(None, || {
            checks += 1;
            checks == 2
        });
        // Whether a second check came within the bound depends on the
        // scheduler; what it returns must agree with what it saw.
        assert!(checks <= 2);
        assert_eq!(ready, checks == 2);
    }

    #[test]
    fn yield_until_gives_up_on_a_condition_that_stays_false() {
        assert!(!yield_until(None, || false));
    }

    #[test]
    fn yield_until_checks_once_past_its_deadline() {
        let passed = Deadline::after(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(1));
        let mut checks = 0;
        assert!(!yield_until(Some(&passed), || {
            checks += 1;
            false
        }));
        assert_eq!(checks, 1);
    }
}
