//! [`Core`]: one member's shared state (its health, counters and write-behind
//! lag), and what the mirror reports about it.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc as StdArc;

use super::Member;
use crate::sync::{AtomicU64, Condvar, Mutex, Ordering};

/// A member's state.
#[derive(Debug, Clone)]
pub enum Health {
    /// Written by every write and counted by the policy.
    Healthy,
    /// Being filled by [`resync`](super::Mirror::resync): written by every
    /// write, but neither counted nor read until the copy is done.
    Resyncing,
    /// Out of service: never written or read again until a resync.
    Failed {
        /// The offset of the first write it missed (0 after a failed sync,
        /// when none of its content can be trusted to be durable). Its
        /// flusher applies a batch of writes that do not overlap in offset
        /// order: for a write-behind member, the lowest offset it missed in
        /// that batch.
        at: u64,
        /// What failed it.
        error: StdArc<io::Error>,
    },
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Health::Healthy => f.write_str("healthy"),
            Health::Resyncing => f.write_str("resyncing"),
            Health::Failed { at, error } => write!(f, "failed at offset {at}: {error}"),
        }
    }
}

impl Health {
    /// Whether the member is [`Healthy`](Self::Healthy).
    pub fn is_healthy(&self) -> bool {
        matches!(self, Health::Healthy)
    }
}

/// What went wrong with a member, as the `on_failure` callback gets it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The member's index (in the order the builder got them).
    pub member: usize,
    /// What the mirror was doing.
    pub op: Op,
    /// The offset of the write or read; 0 for a sync.
    pub offset: u64,
    /// The error.
    pub error: StdArc<io::Error>,
    /// Whether the member is now [`Failed`](Health::Failed). A failed read
    /// does not fail a member: the read went on to another one.
    pub member_failed: bool,
}

/// The operation a [`Failure`] happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// A write (for a write-behind member: applied by its flusher).
    Write,
    /// A read, then served by another member.
    Read,
    /// A sync.
    Sync,
    /// A write-behind member reached its lag bound, configured to drop it.
    LagBound,
    /// Copying a resync's content into it.
    Resync,
}

/// One member's counters and state, from [`Mirror::stats`](super::Mirror::stats).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MemberStats {
    /// Whether it is a write-behind member.
    pub write_behind: bool,
    /// Its state.
    pub health: Health,
    /// Bytes of whole writes to it (by writes, its flusher, and resyncs).
    pub bytes_written: u64,
    /// Bytes accepted for it but not yet written (write-behind members).
    pub lag_bytes: u64,
    /// Writes accepted for it but not yet written (write-behind members).
    pub lag_writes: u64,
    /// Writes and syncs that failed on it (at most one each: a failed
    /// member is not written again).
    pub errors: u64,
    /// Reads that failed on it (and went to another member).
    pub read_errors: u64,
}

/// A member's health and the generation of its content: a resync starts a
/// new one, and a write-behind flusher applies only writes queued in the
/// current one (older ones predate the copy).
#[derive(Debug)]
struct State {
    health: Health,
    generation: u32,
}

/// One member and its shared state.
pub(super) struct Core {
    pub(super) index: usize,
    member: Mutex<StdArc<dyn Member>>,
    state: Mutex<State>,
    bytes_written: AtomicU64,
    errors: AtomicU64,
    read_errors: AtomicU64,
    /// Its bound, for a write-behind member.
    pub(super) lag: Option<Lag>,
}

impl Core {
    pub(super) fn new(index: usize, member: StdArc<dyn Member>, lag: Option<Lag>) -> Self {
        Self {
            index,
            member: Mutex::new(member),
            state: Mutex::new(State {
                health: Health::Healthy,
                generation: 0,
            }),
            bytes_written: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            read_errors: AtomicU64::new(0),
            lag,
        }
    }

    /// Calls the member; a panic is returned as an error.
    pub(super) fn call<R>(&self, f: impl FnOnce(&dyn Member) -> io::Result<R>) -> io::Result<R> {
        let member = self.member.lock().clone();
        catch_unwind(AssertUnwindSafe(|| f(&*member))).unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            Err(io::Error::other(format!("the member panicked: {what}")))
        })
    }

    /// Writes `buf` at `offset` to the member, counting it.
    pub(super) fn write(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.write_counted(buf, offset).map_err(|(_, e)| e)
    }

    /// As [`write`](Self::write); on error also how many bytes did reach
    /// the member.
    pub(super) fn write_counted(&self, buf: &[u8], offset: u64) -> Result<(), (u64, io::Error)> {
        let mut done = 0;
        let result = self.call(|m| {
            while done < buf.len() {
                match m.write_at(&buf[done..], offset + done as u64) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => done += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        });
        result.map_err(|e| (done as u64, e))?;
        // ORDERING: a statistic; nothing is published through it.
        self.bytes_written
            .fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    pub(super) fn replace(&self, member: StdArc<dyn Member>) {
        *self.member.lock() = member;
    }

    pub(super) fn limit(&self) -> Option<u64> {
        self.member.lock().limit()
    }

    /// Its health and generation.
    pub(super) fn status(&self) -> (Health, u32) {
        let state = self.state.lock();
        (state.health.clone(), state.generation)
    }

    /// Marks the member failed (unless it is already), with the offset of
    /// the first write it missed: the report for the callback, if this
    /// failed it.
    pub(super) fn fail(&self, op: Op, offset: u64, error: io::Error) -> Option<Failure> {
        // ORDERING: a statistic.
        self.errors.fetch_add(1, Ordering::Relaxed);
        let error = StdArc::new(error);
        let mut state = self.state.lock();
        if matches!(state.health, Health::Failed { .. }) {
            return None;
        }
        let at = if op == Op::Sync { 0 } else { offset };
        state.health = Health::Failed {
            at,
            error: error.clone(),
        };
        Some(Failure {
            member: self.index,
            op,
            offset,
            error,
            member_failed: true,
        })
    }

    /// A failed read: counted, reported, the member left in service.
    pub(super) fn read_failed(&self, offset: u64, error: io::Error) -> Failure {
        // ORDERING: a statistic.
        self.read_errors.fetch_add(1, Ordering::Relaxed);
        Failure {
            member: self.index,
            op: Op::Read,
            offset,
            error: StdArc::new(error),
            member_failed: false,
        }
    }

    /// Starts a resync: a new generation, written but not counted.
    pub(super) fn begin_resync(&self) {
        let mut state = self.state.lock();
        state.generation = state.generation.wrapping_add(1);
        state.health = Health::Resyncing;
    }

    /// Ends a resync: back in service, unless it failed meanwhile.
    pub(super) fn end_resync(&self) -> bool {
        let mut state = self.state.lock();
        if matches!(state.health, Health::Resyncing) {
            state.health = Health::Healthy;
            return true;
        }
        false
    }

    pub(super) fn stats(&self) -> MemberStats {
        let (lag_bytes, lag_writes) = self.lag.as_ref().map_or((0, 0), Lag::queued);
        MemberStats {
            write_behind: self.lag.is_some(),
            health: self.state.lock().health.clone(),
            // ORDERING: statistics, read without ordering to anything else.
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            lag_bytes,
            lag_writes,
            errors: self.errors.load(Ordering::Relaxed),
            read_errors: self.read_errors.load(Ordering::Relaxed),
        }
    }
}

/// How far a write-behind member may fall behind: bytes queued (each
/// queued piece counted with its header) and, optionally, pieces queued.
/// The queue's halves hold `bytes` each, so it never fills before this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bound {
    pub(super) bytes: u64,
    pub(super) writes: Option<u64>,
}

/// The bytes and writes queued for a write-behind member, bounded: writers
/// wait at the bound until its flusher has written some.
pub(super) struct Lag {
    queued: Mutex<(u64, u64)>,
    drained: Condvar,
    bound: Bound,
}

impl Lag {
    pub(super) fn new(bound: Bound) -> Self {
        Self {
            queued: Mutex::new((0, 0)),
            drained: Condvar::new(),
            bound,
        }
    }

    fn over(&self, (bytes, writes): (u64, u64), n: u64, pieces: u64) -> bool {
        // A write larger than the bound still goes, alone.
        let bytes_over = bytes > 0 && bytes + n > self.bound.bytes;
        let writes_over = self
            .bound
            .writes
            .is_some_and(|max| writes > 0 && writes + pieces > max);
        bytes_over || writes_over
    }

    /// Counts a write of `n` bytes in `pieces` pieces in, waiting while
    /// the bound is reached (or, unless `wait`, returning `false` instead).
    pub(super) fn reserve(&self, n: u64, pieces: u64, wait: bool) -> bool {
        let mut queued = self.queued.lock();
        while self.over(*queued, n, pieces) {
            if !wait {
                return false;
            }
            queued = self.drained.wait(queued);
        }
        queued.0 += n;
        queued.1 += pieces;
        true
    }

    /// The flusher is done with `writes` writes of `bytes` bytes in all.
    pub(super) fn release(&self, bytes: u64, writes: u64) {
        let mut queued = self.queued.lock();
        queued.0 -= bytes;
        queued.1 -= writes;
        // Under the lock: a writer checks the bound under it too, so it
        // cannot miss this.
        self.drained.notify_all();
    }

    fn queued(&self) -> (u64, u64) {
        *self.queued.lock()
    }
}
