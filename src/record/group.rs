//! Group commit as LevelDB does it: the first thread that needs its record
//! durable while no commit is under way becomes the leader. It takes every
//! record appended so far, commits them with one write and one sync,
//! then wakes the threads whose records are now durable. A lone writer
//! thus syncs its own record with no hand-off. Threads that arrive during a
//! commit queue their records and wait; one of them leads the next commit.
//!
//! A background thread commits records that nobody waits for (plain
//! appends), so that they become durable soon without a `sync`; it never
//! competes with a waiting thread for a record someone waits for.
//!
//! Gathering: threads that loop (append, wait, append again) would
//! otherwise split into two groups that take turns, each sync carrying
//! half of them, because the threads a commit releases are still waking
//! when the next leader starts. So a leader that starts while threads a
//! commit released have not come back yet waits for them (as PostgreSQL's
//! `commit_delay` does), but never longer than the last commit took, and
//! not at all once that much time has passed since it ended: a sync's
//! latency grows by at most one sync.

use std::io;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use super::WalStats;
use crate::Error;
use crate::error::io_error;
use crate::sync::{Arc, Condvar, Deadline, JoinHandle, Mutex, MutexGuard, ThreadBuilder};

/// What a leader does with a batch.
pub trait Commit: Send + 'static {
    /// Makes `batch` durable: `records` whole records, each a `u32` LE
    /// length and its bytes (see [`records`]). Returns the bytes written.
    ///
    /// # Errors
    /// Whatever failed; the group fails for good with it.
    fn commit(&mut self, batch: &[u8], records: u64) -> io::Result<u64>;

    /// Called once, by the first `close`, after the last commit (not after
    /// a failure): tidies up what commits left, such as space reserved
    /// ahead of the log.
    ///
    /// # Errors
    /// Whatever failed; the group fails for good with it.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The records of a batch, in order.
pub fn records(mut batch: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (len, rest) = batch.split_first_chunk::<4>()?;
        let (record, rest) = rest.split_at(u32::from_le_bytes(*len) as usize);
        batch = rest;
        Some(record)
    })
}

/// A group-commit log around a [`Commit`], with its background thread.
/// Dropping it closes it.
pub struct Group<C: Commit> {
    shared: Arc<Shared<C>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared<C> {
    state: Mutex<State<C>>,
    /// Woken when a commit ends (or a batch is taken, making room): for
    /// waiting syncs, and appends waiting for room.
    committed: Condvar,
    /// Wakes the background thread: records nobody waits for, or close.
    work: Condvar,
    /// Wakes a gathering leader: the threads it waits for are back.
    gather: Condvar,
    /// Bytes of queued records (prefixes included) a commit takes at most,
    /// unless a single record is larger.
    capacity: usize,
}

struct State<C> {
    /// Records appended and not yet taken by a leader, length-prefixed.
    pending: Vec<u8>,
    /// The other batch buffer, given back by the last leader.
    spare: Vec<u8>,
    /// Records appended so far: record `n` is the `n`-th appended.
    appended: u64,
    /// Records a leader has taken.
    taken: u64,
    /// Records made durable: all up to this number.
    durable: u64,
    /// The highest record number a `sync` waits for; later ones are the
    /// background thread's to commit.
    wanted: u64,
    /// `None` while a leader commits with it.
    committer: Option<C>,
    /// A would-be leader waits for `returning` threads (see the module
    /// docs); nobody else leads meanwhile.
    gathering: bool,
    /// Threads waiting in `sync_to`.
    syncing: u64,
    /// Appends waiting in `queue` for room in `pending`.
    room_waiters: u64,
    /// Syncs the last commit released whose threads have not appended
    /// again (a guess: the syncs waiting when it took its batch; any append
    /// counts as one coming back).
    returning: u64,
    /// How many the last commit released.
    released: u64,
    /// Until when a leader may wait for them: as long after the last
    /// commit ended as it took.
    gather_until: Option<Deadline>,
    /// Sticky: once a commit failed, every call returns this.
    failure: Option<Error<io::Error>>,
    closed: bool,
    /// `Commit::finish` ran (or was not to run: the log had failed).
    finished: bool,
    /// The background thread waits on `work`.
    idle: bool,
    stats: WalStats,
}

impl<C> State<C> {
    fn leading(&self) -> bool {
        self.committer.is_none()
    }

    /// Whether a leader should wait for the threads the last commit
    /// released: more than a quarter of them are not back. (Waiting for the
    /// last few costs more than they add: they join the next commit.)
    fn awaits_returners(&self) -> bool {
        self.returning * 4 > self.released
    }

    /// Whether a thread may start a commit now.
    fn can_lead(&self) -> bool {
        !self.leading() && !self.gathering && !self.pending.is_empty()
    }

    fn check(&self) -> io::Result<()> {
        match (&self.failure, self.closed) {
            (Some(failure), _) => Err(io_error(failure.clone())),
            (None, true) => Err(io_error(Error::Closed)),
            (None, false) => Ok(()),
        }
    }
}

impl<C: Commit> Group<C> {
    /// A log committing with `committer`, batches of up to `capacity`
    /// bytes, and a background thread named `name`.
    ///
    /// # Errors
    /// Spawning the thread.
    pub fn start(committer: C, capacity: usize, name: &str) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                pending: Vec::with_capacity(capacity),
                spare: Vec::with_capacity(capacity),
                appended: 0,
                taken: 0,
                durable: 0,
                wanted: 0,
                committer: Some(committer),
                gathering: false,
                syncing: 0,
                room_waiters: 0,
                returning: 0,
                released: 0,
                gather_until: None,
                failure: None,
                closed: false,
                finished: false,
                idle: false,
                stats: WalStats::default(),
            }),
            committed: Condvar::new(),
            work: Condvar::new(),
            gather: Condvar::new(),
            capacity,
        });
        let thread = {
            let shared = shared.clone();
            ThreadBuilder::new()
                .name(name.to_owned())
                .spawn(move || shared.background())?
        };
        Ok(Self {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues the concatenation of `parts` as one record and returns; the
    /// background thread commits it unless a sync does first.
    ///
    /// # Errors
    /// `InvalidInput` for 4 GiB or more; the sticky failure; `BrokenPipe`
    /// after close.
    pub fn append<P: Deref<Target = [u8]>>(&self, parts: &[P]) -> io::Result<()> {
        let (mut state, _) = self.shared.queue(parts)?;
        if state.idle && state.can_lead() {
            state.idle = false;
            self.shared.work.notify_one();
        }
        Ok(())
    }

    /// As [`append`](Self::append), then returns once the record is durable.
    ///
    /// # Errors
    /// As [`append`](Self::append).
    pub fn append_sync<P: Deref<Target = [u8]>>(&self, parts: &[P]) -> io::Result<()> {
        let (state, record) = self.shared.queue(parts)?;
        self.shared.sync_to(state, record).1
    }

    /// Returns once every record appended before it is durable.
    ///
    /// # Errors
    /// The sticky failure; `BrokenPipe` after close.
    pub fn sync(&self) -> io::Result<()> {
        let state = self.shared.state.lock();
        state.check()?;
        let last = state.appended;
        self.shared.sync_to(state, last).1
    }

    /// Commits what is left and stops the background thread. Idempotent.
    ///
    /// # Errors
    /// The sticky failure, if a commit failed at any point.
    pub fn close(&self) -> io::Result<()> {
        let mut state = self.shared.state.lock();
        state.closed = true; // later appends are refused
        let last = state.appended;
        let (mut state, synced) = self.shared.sync_to(state, last);
        state.idle = false;
        self.shared.work.notify_all();
        drop(state);
        if let Some(thread) = self.thread.lock().take() {
            // The thread catches the committer's panics: it cannot panic.
            let _ = thread.join();
        }
        let mut state = self.shared.state.lock();
        state.finish();
        synced.and(match &state.failure {
            Some(failure) => Err(io_error(failure.clone())),
            None => Ok(()),
        })
    }

    /// Records, commits and bytes so far.
    pub fn stats(&self) -> WalStats {
        self.shared.state.lock().stats
    }
}

impl<C: Commit> std::fmt::Debug for Group<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<C: Commit> Drop for Group<C> {
    fn drop(&mut self) {
        // Errors cannot be returned from `drop`: `close` first to see them.
        let _ = self.close();
    }
}

impl<C: Commit> Shared<C> {
    /// Queues one record; returns the lock and the record's number.
    fn queue<P: Deref<Target = [u8]>>(
        &self,
        parts: &[P],
    ) -> io::Result<(MutexGuard<'_, State<C>>, u64)> {
        let len = parts.iter().map(|part| part.len()).sum::<usize>();
        let prefix = u32::try_from(len).map_err(|_| too_long())?.to_le_bytes();
        let mut state = self.state.lock();
        loop {
            state.check()?;
            // A record larger than a batch goes alone.
            if state.pending.is_empty() || state.pending.len() + 4 + len <= self.capacity {
                break;
            }
            state.room_waiters += 1;
            state = self.lead_or_wait(state);
            state.room_waiters -= 1;
        }
        state.pending.extend_from_slice(&prefix);
        parts
            .iter()
            .for_each(|part| state.pending.extend_from_slice(part));
        state.appended += 1;
        let record = state.appended;
        if state.returning > 0 {
            state.returning -= 1;
            if !state.awaits_returners() && state.gathering {
                self.gather.notify_one();
            }
        }
        Ok((state, record))
    }

    /// Waits until record `record` is durable, leading commits while none
    /// is under way; returns the lock and whether it became durable.
    fn sync_to<'a>(
        &'a self,
        mut state: MutexGuard<'a, State<C>>,
        record: u64,
    ) -> (MutexGuard<'a, State<C>>, io::Result<()>) {
        if state.durable >= record {
            return (state, Ok(()));
        }
        state.wanted = state.wanted.max(record);
        state.syncing += 1;
        let result = loop {
            if state.durable >= record {
                break Ok(());
            }
            if let Some(failure) = &state.failure {
                break Err(io_error(failure.clone()));
            }
            // Not durable and no failure: the record is queued, or taken by
            // the leader under way.
            state = self.lead_or_wait(state);
        };
        state.syncing -= 1;
        (state, result)
    }

    /// Leads a commit of what is queued if no commit is under way (after
    /// gathering, see the module docs); else waits for the one that is to
    /// end. The caller checks again what it waits for.
    fn lead_or_wait<'a>(&'a self, state: MutexGuard<'a, State<C>>) -> MutexGuard<'a, State<C>> {
        if !state.can_lead() {
            return self.committed.wait(state);
        }
        match state.gather_until.and_then(|until| until.left()) {
            Some(left) if state.awaits_returners() && state.pending.len() < self.capacity / 2 => {
                self.gather_for(state, left)
            }
            _ => self.lead(state),
        }
    }

    /// Waits up to `left` for the returning threads to append.
    fn gather_for<'a>(
        &'a self,
        mut state: MutexGuard<'a, State<C>>,
        left: std::time::Duration,
    ) -> MutexGuard<'a, State<C>> {
        state.gathering = true;
        let (mut state, timed_out) = self.gather.wait_timeout(state, left);
        state.gathering = false;
        if timed_out {
            state.returning = 0; // they are not coming back soon
            state.gather_until = None;
        }
        // Others that wanted to lead meanwhile wait for a commit's end:
        // lead now rather than wake them.
        if state.can_lead() {
            return self.lead(state);
        }
        state
    }

    /// Takes every queued record and commits them without the lock; then
    /// wakes the waiters.
    fn lead<'a>(&'a self, mut state: MutexGuard<'a, State<C>>) -> MutexGuard<'a, State<C>> {
        let Some(mut committer) = state.committer.take() else {
            unreachable!("lead: a commit is under way already")
        };
        let spare = std::mem::take(&mut state.spare);
        let mut batch = std::mem::replace(&mut state.pending, spare);
        let (records, last) = (state.appended - state.taken, state.appended);
        state.taken = last;
        let released = state.syncing; // each waits for a record up to `last`
        let room_waiters = state.room_waiters;
        drop(state);
        // Appends waiting for room have it now. Only they: waking the syncs
        // too, which wait for this commit's end, cost every commit a wake-up
        // and a wait per waiting thread (about 20 context switches per sync
        // with 8 looping writers, against about 12 without).
        if room_waiters > 0 {
            self.committed.notify_all();
        }
        // The committer is the caller's code: a panic is contained and
        // becomes the sticky failure, as a sink's.
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| committer.commit(&batch, records)));
        let took = started.elapsed();
        let mut state = self.state.lock();
        state.gather_until = Some(Deadline::after(took));
        state.committer = Some(committer);
        match result {
            Ok(Ok(bytes)) => {
                state.durable = last;
                state.returning = released;
                state.released = released;
                state.stats.records += records;
                state.stats.syncs += 1;
                state.stats.bytes += bytes;
            }
            Ok(Err(e)) => state.fail(Error::Sink(std::sync::Arc::new(e))),
            Err(panic) => state.fail(Error::from_panic(panic)),
        }
        batch.clear();
        batch.shrink_to(2 * self.capacity); // after an outsized record
        state.spare = batch;
        self.committed.notify_all();
        if state.appended > state.wanted.max(state.taken) && state.idle {
            // Records queued meanwhile that no sync waits for.
            state.idle = false;
            self.work.notify_one();
        }
        state
    }

    /// The background thread: commits records nobody waits for, until
    /// close or failure.
    fn background(&self) {
        let mut state = self.state.lock();
        loop {
            if state.failure.is_some() {
                return;
            }
            let unwanted = state.appended > state.wanted.max(state.taken);
            if unwanted && state.can_lead() {
                state = self.lead(state);
            } else if state.closed {
                return; // close commits the rest itself
            } else {
                state.idle = true;
                state = self.work.wait(state);
            }
        }
    }
}

impl<C: Commit> State<C> {
    /// Runs `Commit::finish` once, after the last commit: it is called
    /// after close's sync, which left nothing queued, and nothing can be
    /// queued after close, so no commit can start (or the log failed, and
    /// `finish` does not run). Under the lock, so that a racing `close`
    /// returns only once it is done.
    fn finish(&mut self) {
        if std::mem::replace(&mut self.finished, true) || self.failure.is_some() {
            return;
        }
        let Some(committer) = self.committer.as_mut() else {
            unreachable!("finish: a commit is under way after close")
        };
        match catch_unwind(AssertUnwindSafe(|| committer.finish())) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.fail(Error::Sink(std::sync::Arc::new(e))),
            Err(panic) => self.fail(Error::from_panic(panic)),
        }
    }
}

impl<C> State<C> {
    /// Fails the log for good; queued records are dropped.
    fn fail(&mut self, failure: Error<io::Error>) {
        self.failure.get_or_insert(failure);
        self.pending.clear();
    }
}

fn too_long() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "mwsr::record::Wal: a record must be shorter than 4 GiB",
    )
}
