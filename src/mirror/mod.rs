//! Many files used as one: every write goes to all members, reads come from
//! the fast one.
//!
//! A [`Mirror`] holds N [members](Member) (files, block devices, anything
//! that reads and writes at an offset). Each is either **synchronous**,
//! written before a write returns, or **write-behind**: a write is queued
//! for it and its own flusher thread (an [`AsyncBuffer`](crate::AsyncBuffer))
//! writes it, so a slow member never slows the writers, the fast member or
//! another slow member. How far a write-behind member may lag is bounded
//! ([`WriteBehind`]); at the bound writers wait, or the member is dropped.
//!
//! ```
//! use mwsr::mirror::{Memory, Mirror, WriteBehind};
//!
//! let fast = Memory::new();
//! let slow = Memory::new(); // a disk far away, say
//! let mirror = Mirror::builder()
//!     .synchronous(fast.clone())
//!     .write_behind(slow.clone(), WriteBehind::new().lag_bytes(1 << 20))
//!     .build()?;
//! std::thread::scope(|s| {
//!     for t in 0..4u64 {
//!         let mirror = &mirror;
//!         s.spawn(move || mirror.write_all_at(&[t as u8; 100], t * 100).unwrap());
//!     }
//! });
//! let mut buf = [0; 100];
//! mirror.read_exact_at(&mut buf, 300)?; // from `fast`
//! assert_eq!(buf, [3; 100]);
//! for outcome in mirror.close() {
//!     outcome?; // every member drained and synced
//! }
//! assert_eq!(fast.contents(), slow.contents());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Guarantees
//! - **One order on every member.** Writes are applied to the synchronous
//!   members and queued for the write-behind ones under one lock, so
//!   concurrent writes to overlapping ranges land in the same order
//!   everywhere and members never diverge. (Writers therefore take turns
//!   on the synchronous members; for files the kernel serialises writes to
//!   one file much the same way.)
//! - **When a write is done.** A write returns `Ok` once every healthy
//!   synchronous member has it and every healthy write-behind member has it
//!   queued (DRBD's protocol A for those): the policy counts both. A queued
//!   write is lost only if its member then fails, which is reported.
//! - **Reads** go to the preferred member, and on error to another healthy
//!   one (the error is counted and reported; the member stays in service).
//!   A write-behind member is read only after its queue has drained, so it
//!   is never read for a range it has not been written yet.
//! - **Failures** are contained: a member's error or panic marks it
//!   [`Failed`](Health::Failed) with the offset of the first write it
//!   missed; it is never written or read again until [`Mirror::resync`] or
//!   [`Mirror::replace`]; the [`Policy`] says whether writes go on.
//! - **Lossless close.** [`Mirror::close`] (and drop) drains every queue
//!   and syncs every member; writes racing it either land everywhere or
//!   fail with `BrokenPipe`.
//!
//! # Resync while writing
//! [`Mirror::resync`] copies a healthy member's content into a failed (or
//! new) one in chunks, while writes go on. The member is first put in a
//! new generation and marked [`Resyncing`](Health::Resyncing): from then on
//! every write reaches it too, but it is neither counted nor read. Each
//! chunk is read from the source and written to the target under the write
//! lock, so no write lands between the two and is overwritten by an older
//! copy. A write-behind target's queue is drained once after the generation
//! changes, so a write queued before (in the old generation, skipped) is
//! never applied after a chunk; writes queued during the copy are applied
//! in order, and each ends on the value the source has. When the copy has
//! reached the source's end (checked under the lock) the member is healthy
//! again.

mod behind;
mod builder;
mod member;
mod resync;
mod slot;

use std::io;
use std::sync::Arc as StdArc;

pub use builder::{Builder, Policy, WriteBehind};
pub use member::{Member, Memory};
pub use slot::{Failure, Health, MemberStats, Op};

use behind::Behind;
use slot::Core;

use crate::sync::{Arc, Mutex};

/// Several members used as one file: see the [module docs](self).
///
/// `&Mirror` is `Sync`: share it by reference between scoped threads, or in
/// an `Arc`.
pub struct Mirror {
    slots: Vec<Slot>,
    /// The write lock (one order on every member); `true` once closed.
    order: Mutex<bool>,
    policy: Policy,
    preferred: usize,
    reporter: Arc<Reporter>,
    /// `close`'s outcome, for a later call.
    closed: Mutex<Option<Vec<Outcome>>>,
}

struct Slot {
    core: Arc<Core>,
    /// Its queue, for a write-behind member.
    behind: Option<Behind>,
    /// At the lag bound: wait (or drop the member).
    wait_at_bound: bool,
}

/// A member's outcome of `close`, kept for later calls.
type Outcome = Result<(), StdArc<io::Error>>;

/// Hands failures to the user's callback.
pub(super) struct Reporter(Option<builder::Callback>);

impl Reporter {
    fn report(&self, failure: Option<Failure>) {
        if let (Some(f), Some(failure)) = (&self.0, failure) {
            f(&failure);
        }
    }
}

impl Mirror {
    /// Configures a mirror: members, policy, preferred member.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Always `false`: a mirror has at least one member.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Writes all of `buf` at `offset` (see [`write_all_at`](Self::write_all_at));
    /// returns `buf.len()`. A mirror never writes part of a buffer.
    ///
    /// # Errors
    /// As [`write_all_at`](Self::write_all_at).
    pub fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.write_all_at(buf, offset).map(|()| buf.len())
    }

    /// Writes `buf` at `offset` to every member that is not failed: done
    /// once the policy's members have it (see the module docs).
    ///
    /// # Errors
    /// `InvalidInput` for a write that ends past `u64::MAX` or past a
    /// member's [`limit`](Member::limit) (nothing written, no member
    /// failed); when the policy is not met, an error of the kind of the
    /// first member error, naming each member the write missed and why;
    /// `BrokenPipe` after [`close`](Self::close).
    pub fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.check_range(buf.len(), offset)?;
        if buf.is_empty() {
            return match *self.order.lock() {
                true => Err(closed_error()),
                false => Ok(()),
            };
        }
        let mut failures = Vec::new();
        let result = self.write_locked(buf, offset, &mut failures);
        for failure in failures {
            self.reporter.report(Some(failure));
        }
        result
    }

    fn check_range(&self, len: usize, offset: u64) -> io::Result<()> {
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        let end = offset.checked_add(len as u64).ok_or_else(|| {
            invalid(format!(
                "mwsr::mirror: a write of {len} bytes at {offset} ends past u64::MAX"
            ))
        })?;
        for slot in &self.slots {
            if let Some(limit) = slot.core.limit()
                && end > limit
            {
                return Err(invalid(format!(
                    "mwsr::mirror: a write of {len} bytes at {offset} ends at {end}, past member {}'s limit of {limit} bytes",
                    slot.core.index
                )));
            }
        }
        Ok(())
    }

    fn write_locked(&self, buf: &[u8], offset: u64, failures: &mut Vec<Failure>) -> io::Result<()> {
        let closed = self.order.lock();
        if *closed {
            return Err(closed_error());
        }
        // Refused before anything is written if the policy cannot be met.
        let healthy = self
            .slots
            .iter()
            .filter(|s| s.core.status().0.is_healthy())
            .count();
        if healthy < self.required() {
            return Err(self.not_enough(&write_what(buf.len(), offset), healthy));
        }
        let mut holders = 0;
        for slot in &self.slots {
            let (health, generation) = slot.core.status();
            if matches!(health, Health::Failed { .. }) {
                continue;
            }
            let written = match (&slot.behind, &slot.core.lag) {
                (Some(behind), Some(lag)) => {
                    match behind.enqueue(lag, generation, buf, offset, slot.wait_at_bound) {
                        Ok(true) => Ok(()),
                        Ok(false) => Err((
                            Op::LagBound,
                            io::Error::new(
                                io::ErrorKind::WouldBlock,
                                "write-behind lag bound reached (configured to drop the member)",
                            ),
                        )),
                        Err(e) => Err((Op::Write, e)),
                    }
                }
                _ => slot.core.write(buf, offset).map_err(|e| (Op::Write, e)),
            };
            match written {
                Ok(()) if health.is_healthy() => holders += 1,
                Ok(()) => {}
                Err((op, e)) => failures.extend(slot.core.fail(op, offset, e)),
            }
        }
        drop(closed);
        match holders >= self.required() {
            true => Ok(()),
            false => Err(self.not_enough(&write_what(buf.len(), offset), holders)),
        }
    }

    /// The healthy members a write must reach.
    fn required(&self) -> usize {
        match self.policy {
            Policy::FailFast => self.slots.len(),
            Policy::Degrade { min_healthy } => min_healthy,
        }
    }

    /// The error for a write the policy's members did not all get.
    fn not_enough(&self, what: &str, reached: usize) -> io::Error {
        let mut kind = None;
        let mut why = Vec::new();
        for slot in &self.slots {
            match slot.core.status().0 {
                Health::Healthy => {}
                Health::Resyncing => why.push(format!("member {} is resyncing", slot.core.index)),
                failed @ Health::Failed { .. } => {
                    if let Health::Failed { error, .. } = &failed {
                        kind.get_or_insert(error.kind());
                    }
                    why.push(format!("member {} {failed}", slot.core.index));
                }
            }
        }
        io::Error::new(
            kind.unwrap_or(io::ErrorKind::Other),
            format!(
                "mwsr::mirror: {what} reached {reached} healthy members of {}, fewer than the {} the policy needs: {}",
                self.slots.len(),
                self.required(),
                why.join("; ")
            ),
        )
    }

    /// Reads at `offset` from the preferred member, or, if it fails or is
    /// not healthy, from another healthy one (synchronous ones first).
    /// `Ok(0)` at or past the end, as `FileExt::read_at`.
    ///
    /// # Errors
    /// When no healthy member could read: each one's error.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut tried = Vec::new();
        for slot in self.read_order() {
            if !slot.core.status().0.is_healthy() {
                continue;
            }
            let read = match &slot.behind {
                // Drained first: never read for a range not written yet.
                Some(behind) => behind
                    .drain()
                    .and_then(|()| slot.core.call(|m| m.read_at(buf, offset))),
                None => slot.core.call(|m| m.read_at(buf, offset)),
            };
            match read {
                Ok(n) => return Ok(n),
                Err(e) => {
                    tried.push(format!("member {}: {e}", slot.core.index));
                    self.reporter.report(Some(slot.core.read_failed(offset, e)));
                }
            }
        }
        Err(io::Error::other(format!(
            "mwsr::mirror: no healthy member could read {} bytes at {offset}: {}",
            buf.len(),
            if tried.is_empty() {
                "none is healthy".into()
            } else {
                tried.join("; ")
            }
        )))
    }

    /// Reads exactly `buf.len()` bytes at `offset`.
    ///
    /// # Errors
    /// `UnexpectedEof` if the range ends past the end; as
    /// [`read_at`](Self::read_at).
    pub fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        let (len, start) = (buf.len(), offset);
        while !buf.is_empty() {
            match self.read_at(buf, offset)? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "mwsr::mirror: a read of {len} bytes at {start} ends past the end, at {offset}"
                        ),
                    ));
                }
                n => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
            }
        }
        Ok(())
    }

    /// The preferred member, then the other synchronous ones, then the
    /// write-behind ones.
    fn read_order(&self) -> impl Iterator<Item = &Slot> {
        let preferred = &self.slots[self.preferred];
        let others = |write_behind: bool| {
            self.slots
                .iter()
                .enumerate()
                .filter(move |(i, s)| *i != self.preferred && s.behind.is_some() == write_behind)
        };
        std::iter::once(preferred)
            .chain(others(false).map(|(_, s)| s))
            .chain(others(true).map(|(_, s)| s))
    }

    /// Makes every healthy member durable: write-behind members are
    /// drained first, then every member is synced. A member whose sync
    /// fails is marked failed.
    ///
    /// # Errors
    /// When fewer healthy members than the policy needs are synced.
    pub fn sync_all(&self) -> io::Result<()> {
        let synced = self
            .each_member(|slot| self.sync_member(slot).is_ok() && slot.core.status().0.is_healthy())
            .into_iter()
            .filter(|&ok| ok)
            .count();
        match synced >= self.required() {
            true => Ok(()),
            false => Err(self.not_enough("a sync", synced)),
        }
    }

    /// Drains and syncs one member (not a failed one).
    fn sync_member(&self, slot: &Slot) -> io::Result<()> {
        if let Health::Failed { error, .. } = slot.core.status().0 {
            return Err(io::Error::new(error.kind(), error.to_string()));
        }
        let result = match &slot.behind {
            Some(behind) => behind.drain(),
            None => Ok(()),
        }
        .and_then(|()| slot.core.call(|m| m.sync()));
        if let Err(e) = &result {
            let copy = io::Error::new(e.kind(), e.to_string());
            self.reporter.report(slot.core.fail(Op::Sync, 0, copy));
        }
        // A write-behind member can fail while draining.
        match slot.core.status().0 {
            Health::Failed { error, .. } => Err(io::Error::new(error.kind(), error.to_string())),
            _ => result,
        }
    }

    /// `f` for every member, at once: members drain and sync in parallel
    /// (a sync costs milliseconds; the threads, microseconds). One by one
    /// under loom, whose models cannot see scoped threads, or when a thread
    /// cannot be started.
    fn each_member<R: Send>(&self, f: impl Fn(&Slot) -> R + Sync) -> Vec<R> {
        #[cfg(not(loom))]
        if self.slots.len() > 1 {
            let f = &f;
            return std::thread::scope(|s| {
                let others: Vec<_> = self.slots[1..]
                    .iter()
                    .map(|slot| {
                        std::thread::Builder::new()
                            .name("mwsr-mirror-sync".into())
                            .spawn_scoped(s, move || f(slot))
                            .map_err(|_| slot)
                    })
                    .collect();
                let mut results = vec![f(&self.slots[0])];
                for other in others {
                    results.push(match other {
                        Ok(thread) => thread
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                        Err(slot) => f(slot),
                    });
                }
                results
            });
        }
        self.slots.iter().map(f).collect()
    }

    /// Each member's state (in the builder's order).
    pub fn health(&self) -> Vec<Health> {
        self.slots.iter().map(|s| s.core.status().0).collect()
    }

    /// Each member's counters and state (in the builder's order).
    pub fn stats(&self) -> Vec<MemberStats> {
        self.slots.iter().map(|s| s.core.stats()).collect()
    }

    /// Refuses later writes, drains every write-behind queue, syncs every
    /// member and stops the flusher threads: each member's outcome, in
    /// order (its failure, if it is failed at the close). Writes racing the
    /// close either reach every member that counts or fail with
    /// `BrokenPipe`. Later calls return the same outcomes; drop closes too.
    pub fn close(&self) -> Vec<io::Result<()>> {
        let mut closed = self.closed.lock();
        if closed.is_none() {
            // Waits for writes in progress, which then are all queued.
            *self.order.lock() = true;
            let outcomes = self.each_member(|slot| {
                let synced = self.sync_member(slot);
                let stopped = match &slot.behind {
                    Some(behind) => behind.close(),
                    None => Ok(()),
                };
                synced.and(stopped).map_err(StdArc::new)
            });
            *closed = Some(outcomes);
        }
        closed
            .as_ref()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_ref()
                    .map(|&()| ())
                    .map_err(|e| io::Error::new(e.kind(), e.to_string()))
            })
            .collect()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        // Lossless: drained and synced. Failures were reported as found.
        let _ = self.close();
    }
}

fn write_what(len: usize, offset: u64) -> String {
    format!("a write of {len} bytes at {offset}")
}

fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "mwsr::mirror: the mirror is closed",
    )
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("members", &self.slots.len())
            .field("policy", &self.policy)
            .field("preferred", &self.preferred)
            .field("health", &self.health())
            .finish_non_exhaustive()
    }
}
