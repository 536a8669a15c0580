//! loom models of `mirror::Mirror`'s protocol: writers waiting at a
//! write-behind member's lag bound and woken by its flusher, `close` racing
//! writers, a member failing while writes race, and a resync racing writes.
//!
//! The real `Mirror` runs here: its write lock, its members' state, the lag
//! counter and the write-behind queues (an `AsyncBuffer` with its flusher
//! thread) are loom's under `--cfg loom`, and so is `mirror::Memory`'s lock.
//!
//! Every write-behind member is bounded by [`behind`]: `lag_writes(n)`
//! within the least byte bound, `lag_bytes(4 KiB)`. The queue's two halves
//! are each as large as the byte bound, and under loom each byte of them is
//! an access-tracking cell: at the default 4 MiB that is 8 Mi cells, about
//! 10 s for each execution of a model; at 4 KiB, a few ms.
#![cfg(loom)]

use std::io;
// The mirror is shared with the model's threads in a std `Arc`: its inside
// (every lock, condvar and atomic the protocol uses) is loom's, and a loom
// `Arc` would only add branch points for its reference count.
use std::sync::Arc;

use loom::sync::Mutex;
use loom::thread;
use mwsr::mirror::{Health, Member, Memory, Mirror, Policy, WriteBehind};

/// When a [`Flaky`] member fails a write.
#[derive(Debug, Clone, Copy)]
enum Fail {
    /// Never.
    Never,
    /// Its `n`th write call (from 0) fails; the others work.
    Nth(usize),
    /// Every write that covers this offset fails.
    Covering(u64),
    /// A write that covers this offset writes the bytes before it (a short
    /// write); one that begins at it fails.
    ShortAt(u64),
}

/// A member in memory that can fail a write (writing nothing then), and
/// records the offset of every write call it gets, in order.
#[derive(Debug, Clone)]
struct Flaky {
    inner: Memory,
    fail: Fail,
    calls: Arc<Mutex<Vec<u64>>>,
}

impl Flaky {
    fn new(fail: Fail) -> Self {
        Self {
            inner: Memory::new(),
            fail,
            calls: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The offsets of the write calls it got, in order (the failed one too).
    fn calls(&self) -> Vec<u64> {
        self.calls.lock().unwrap().clone()
    }

    fn contents(&self) -> Vec<u8> {
        self.inner.contents()
    }
}

impl Member for Flaky {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let nth = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(offset);
            calls.len() - 1
        };
        let fails = match self.fail {
            Fail::Never => false,
            Fail::Nth(n) => nth == n,
            Fail::Covering(at) => (offset..offset + buf.len() as u64).contains(&at),
            Fail::ShortAt(at) if at > offset && at < offset + buf.len() as u64 => {
                return self.inner.write_at(&buf[..(at - offset) as usize], offset);
            }
            Fail::ShortAt(at) => at == offset,
        };
        if fails {
            return Err(io::Error::other(format!(
                "flaky: write call {nth} at {offset}"
            )));
        }
        self.inner.write_at(buf, offset)
    }

    fn sync(&self) -> io::Result<()> {
        self.inner.sync()
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
}

/// A write-behind member's configuration: at most `writes` writes queued
/// (within 4 KiB, the least byte bound and the smallest queue).
fn behind(writes: u64) -> WriteBehind {
    WriteBehind::new().lag_bytes(4 << 10).lag_writes(writes)
}

/// Whether `contents` holds the one-byte write of `value` at `at`. The
/// models write nonzero values at distinct offsets, so a byte that is
/// missing or 0 is a write the member did not get.
fn holds(contents: &[u8], at: u64, value: u8) -> bool {
    contents.get(at as usize) == Some(&value)
}

/// Whether `contents` holds nothing of a one-byte write at `at`.
fn lacks(contents: &[u8], at: u64) -> bool {
    matches!(contents.get(at as usize), None | Some(0))
}

/// Every member's outcome of `close` is `Ok`.
fn close_ok(mirror: &Mirror) {
    for (i, outcome) in mirror.close().into_iter().enumerate() {
        if let Err(e) = outcome {
            panic!("member {i} failed to close: {e}");
        }
    }
}

/// After `close`, a write racing it (a one-byte write of `value` at `at`)
/// either returned `Ok` and is on every one of `members`, or failed with
/// `BrokenPipe` and is on none.
fn on_all_or_none(members: &[&Memory], at: u64, value: u8, result: &io::Result<()>) {
    for (i, member) in members.iter().enumerate() {
        let contents = member.contents();
        match result {
            Ok(()) => assert!(
                holds(&contents, at, value),
                "the accepted write at {at} is not on member {i}: {contents:?}"
            ),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{e}");
                assert!(
                    lacks(&contents, at),
                    "the refused write at {at} is on member {i}: {contents:?}"
                );
            }
        }
    }
}

/// Two writers (the model's thread and one it spawns), one write each at
/// offsets of their own, at a write-behind member's lag bound of one write
/// (beside a synchronous member): the second to take the write lock, if
/// the flusher has not applied the first write yet, waits at the bound,
/// holding the lock, until the flusher has applied it and released it from
/// the bound. Both writes complete (a waiter never woken would leave every
/// thread blocked, which loom reports as a deadlock), the lag never exceeds
/// the bound, and after `close` both members hold both writes.
#[test]
fn writers_wait_at_the_lag_bound_and_are_woken() {
    loom::model(|| {
        let fast = Memory::new();
        let slow = Memory::new();
        let mirror = Arc::new(
            Mirror::builder()
                .synchronous(fast.clone())
                .write_behind(slow.clone(), behind(1))
                .build()
                .unwrap(),
        );
        let write = |mirror: &Mirror, at: u64, value: u8| {
            mirror.write_all_at(&[value], at).unwrap();
            let lag = mirror.stats()[1].lag_writes;
            assert!(lag <= 1, "{lag} writes queued past the bound of 1");
        };
        let other = {
            let mirror = mirror.clone();
            thread::spawn(move || write(&mirror, 1, 2))
        };
        write(&mirror, 0, 1);
        other.join().unwrap();
        close_ok(&mirror);
        assert_eq!(fast.contents(), [1, 2]);
        assert_eq!(
            slow.contents(),
            [1, 2],
            "the write-behind member lost a write"
        );
        assert_eq!(mirror.stats()[1].lag_writes, 0);
    });
}

/// `close` racing a writer that writes twice (at a lag bound of one write,
/// so the second write may wait for the flusher while `close` waits for
/// the write lock): each write either returns `Ok` and then is on both
/// members, the synchronous and the write-behind one, once `close` has
/// returned, or fails with `BrokenPipe` and is on neither; once one has
/// failed, the next does too. Every member closes `Ok`, and a write after
/// `close` fails with `BrokenPipe`.
#[test]
fn close_loses_no_accepted_write() {
    loom::model(|| {
        let fast = Memory::new();
        let slow = Memory::new();
        let mirror = Arc::new(
            Mirror::builder()
                .synchronous(fast.clone())
                .write_behind(slow.clone(), behind(1))
                .build()
                .unwrap(),
        );
        let writer = {
            let mirror = mirror.clone();
            thread::spawn(move || {
                [(0u64, 1u8), (1, 2)]
                    .map(|(at, value)| (at, value, mirror.write_all_at(&[value], at)))
            })
        };
        close_ok(&mirror);
        let writes = writer.join().unwrap();
        let mut refused = false;
        for (at, value, result) in &writes {
            if result.is_ok() {
                assert!(!refused, "a write after a refused one was accepted");
            }
            refused = result.is_err();
            on_all_or_none(&[&fast, &slow], *at, *value, result);
        }
        let late = mirror.write_all_at(&[3], 2).unwrap_err();
        assert_eq!(late.kind(), io::ErrorKind::BrokenPipe, "{late}");
        close_ok(&mirror);
    });
}

/// As [`close_loses_no_accepted_write`], with two writer threads writing
/// once each while `close` runs: each write is on both members or (refused
/// with `BrokenPipe`) on neither.
#[test]
fn close_races_two_writers() {
    loom::model(|| {
        let fast = Memory::new();
        let slow = Memory::new();
        let mirror = Arc::new(
            Mirror::builder()
                .synchronous(fast.clone())
                .write_behind(slow.clone(), behind(1))
                .build()
                .unwrap(),
        );
        let writers = [(0u64, 1u8), (1, 2)].map(|(at, value)| {
            let mirror = mirror.clone();
            thread::spawn(move || (at, value, mirror.write_all_at(&[value], at)))
        });
        close_ok(&mirror);
        for writer in writers {
            let (at, value, result) = writer.join().unwrap();
            on_all_or_none(&[&fast, &slow], at, value, &result);
        }
    });
}

/// Checks a run in which member 1 (a [`Flaky`]) failed while the one-byte
/// `writes` raced, member 0 (a `Flaky` that never fails) recording the
/// order the mirror applied them in: the failed member's `at` is the
/// offset of the first write, in that order, it does not hold, and it holds
/// every write before; every write returned `Ok` (member 0 is enough for
/// `Degrade { min_healthy: 1 }`) and is on every member still healthy; the
/// failed member was never written again.
///
/// A write-behind member's flusher applies each batch in offset order when
/// its writes do not overlap (`in_batches`): then `at` is the lowest
/// offset it missed in the batch that failed, a batch being a run of the
/// mirror's order that starts at the first write it missed; a write later
/// in the mirror's order may be held only if it sorts before `at`.
fn check_failure(
    mirror: &Mirror,
    good: &Flaky,
    flaky: &Flaky,
    writes: &[(u64, u8, io::Result<()>)],
    in_batches: bool,
) {
    let health = mirror.health();
    assert!(health[0].is_healthy(), "{health:?}");
    let at = match &health[1] {
        Health::Failed { at, .. } => *at,
        h => panic!("the flaky member is {h:?}"),
    };
    let order = good.calls();
    assert_eq!(order.len(), writes.len(), "{order:?}");
    let value = |offset: u64| writes.iter().find(|w| w.0 == offset).unwrap().1;
    let flaky_has = flaky.contents();
    let first_missed = order
        .iter()
        .position(|&o| !holds(&flaky_has, o, value(o)))
        .unwrap_or_else(|| panic!("the failed member holds every write: {flaky_has:?}"));
    if in_batches {
        let missed = order[first_missed..]
            .iter()
            .filter(|&&o| !holds(&flaky_has, o, value(o)));
        let batch_minima: Vec<u64> = missed
            .scan(u64::MAX, |low, &o| {
                *low = (*low).min(o);
                Some(*low)
            })
            .collect();
        assert!(
            batch_minima.contains(&at),
            "failed at {at}, not the lowest write it missed in a batch from the first (of {order:?}): {flaky_has:?}"
        );
        for &o in &order[first_missed..] {
            assert!(
                lacks(&flaky_has, o) || o < at,
                "written at {o} after failing at {at}: {flaky_has:?}"
            );
        }
    } else {
        assert_eq!(
            at, order[first_missed],
            "failed at {at}, but the first write it missed (of {order:?}) is at {}: {flaky_has:?}",
            order[first_missed]
        );
        for &o in &order[first_missed..] {
            assert!(
                lacks(&flaky_has, o),
                "written at {o} after failing: {flaky_has:?}"
            );
        }
    }
    // Its last write call is the one that failed it: never written again.
    assert_eq!(flaky.calls().last(), Some(&at), "{:?}", flaky.calls());
    for (offset, value, result) in writes {
        if let Err(e) = result {
            panic!("the write at {offset} failed though member 0 got it: {e}");
        }
        for (i, h) in health.iter().enumerate() {
            let contents = if i == 0 {
                good.contents()
            } else {
                flaky.contents()
            };
            if h.is_healthy() {
                assert!(
                    holds(&contents, *offset, *value),
                    "the accepted write at {offset} is not on healthy member {i}: {contents:?}"
                );
            }
        }
    }
}

/// A synchronous member that fails its second write, while two writers
/// race, each writing twice at offsets of its own, under
/// `Degrade { min_healthy: 1 }`: it is `Failed` at the offset of the write
/// it failed (the first it missed, in the mirror's order), never written
/// again, and every write is `Ok` and on the healthy member (see
/// `check_failure`). Its `close` outcome is its failure.
#[test]
fn a_synchronous_member_fails_while_writes_race() {
    loom::model(|| {
        let good = Flaky::new(Fail::Never);
        let flaky = Flaky::new(Fail::Nth(1));
        let mirror = Arc::new(
            Mirror::builder()
                .synchronous(good.clone())
                .synchronous(flaky.clone())
                .policy(Policy::Degrade { min_healthy: 1 })
                .build()
                .unwrap(),
        );
        let write = |mirror: &Mirror, writes: [(u64, u8); 2]| {
            writes.map(|(at, value)| (at, value, mirror.write_all_at(&[value], at)))
        };
        let other = {
            let mirror = mirror.clone();
            thread::spawn(move || write(&mirror, [(1, 2), (3, 4)]))
        };
        let mine = write(&mirror, [(0, 1), (2, 3)]);
        let theirs = other.join().unwrap();
        let writes: Vec<_> = mine.into_iter().chain(theirs).collect();
        check_failure(&mirror, &good, &flaky, &writes, false);
        let outcomes = mirror.close();
        assert!(outcomes[0].is_ok(), "{outcomes:?}");
        assert!(outcomes[1].is_err(), "{outcomes:?}");
    });
}

/// The write-behind models of a member failing: member 0 synchronous,
/// member 1 a write-behind `Flaky` failing as `fail` says at offset 1, with
/// a lag bound of two writes (at a bound of one, a write is queued only
/// once the one before has been applied, and the flusher never sees two in
/// one batch); two writers write a byte each, at 0 and 1.
fn write_behind_fails(fail: Fail) {
    let good = Flaky::new(Fail::Never);
    let flaky = Flaky::new(fail);
    let mirror = Arc::new(
        Mirror::builder()
            .synchronous(good.clone())
            .write_behind(flaky.clone(), behind(2))
            .policy(Policy::Degrade { min_healthy: 1 })
            .build()
            .unwrap(),
    );
    let other = {
        let mirror = mirror.clone();
        thread::spawn(move || (1, 2, mirror.write_all_at(&[2], 1)))
    };
    let mine = (0, 1, mirror.write_all_at(&[1], 0));
    let theirs = other.join().unwrap();
    // Its flusher applies (or skips) everything queued before close.
    let outcomes = mirror.close();
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    assert!(outcomes[1].is_err(), "{outcomes:?}");
    check_failure(&mirror, &good, &flaky, &[mine, theirs], true);
}

/// As [`a_synchronous_member_fails_while_writes_race`] (one write per
/// writer), the failing member being write-behind and failing, writing
/// nothing, every write that covers offset 1: its flusher applies the two
/// adjacent writes one by one, or, both in one batch, in offset order as
/// one run at 0 that fails whole, whatever order they were queued in. `at`
/// must be the first write it missed: 1, or 0 for the failed run (see
/// `check_failure`).
#[test]
fn a_write_behind_member_fails_while_writes_race() {
    loom::model(|| write_behind_fails(Fail::Covering(1)));
}

/// As [`a_write_behind_member_fails_while_writes_race`], the member writing
/// what comes before offset 1 and failing the write at 1: a run of both
/// writes at 0 is written short, the first write reaching the member whole,
/// so `at` must be 1, not the run's start.
#[test]
fn a_write_behind_member_fails_a_short_run() {
    loom::model(|| write_behind_fails(Fail::ShortAt(1)));
}

/// Builds the mirror of the resync models: member 0 a synchronous
/// `Memory`, member 1 a [`Flaky`] that fails its first write (synchronous,
/// or write-behind with a lag bound of two writes, so that both racing
/// writes can be queued at once), and fails member 1 with a first write of
/// `[1, 1]` at 0, which member 0 has.
fn failed_member(write_behind: bool) -> (Arc<Mirror>, Memory, Flaky) {
    let source = Memory::new();
    let target = Flaky::new(Fail::Nth(0));
    let builder = Mirror::builder().synchronous(source.clone());
    let builder = match write_behind {
        true => builder.write_behind(target.clone(), behind(2)),
        false => builder.synchronous(target.clone()),
    };
    let mirror = Arc::new(builder.build().unwrap());
    mirror.write_all_at(&[1, 1], 0).unwrap();
    // A write-behind member fails in its flusher: drained here.
    mirror.sync_all().unwrap();
    assert!(
        matches!(mirror.health()[1], Health::Failed { at: 0, .. }),
        "{:?}",
        mirror.health()
    );
    assert_eq!(source.contents(), [1, 1]);
    (mirror, source, target)
}

/// A resync of the failed member 1 of `mirror` on one thread while
/// another makes `writes` (the first, `[2, 2]` at 1, over the end of what
/// is copied and past it): the resync and the writes succeed, member 1 is
/// healthy, and after `close` the two members are byte-identical, holding
/// `expected`.
fn resync_while_writing(
    (mirror, source, target): (Arc<Mirror>, Memory, Flaky),
    writes: &[(&[u8], u64)],
    expected: &[u8],
) {
    let resync = {
        let mirror = mirror.clone();
        thread::spawn(move || mirror.resync(1))
    };
    for &(buf, at) in writes {
        mirror.write_all_at(buf, at).unwrap();
    }
    if let Err(e) = resync.join().unwrap() {
        panic!("resync failed: {e}");
    }
    let health = mirror.health();
    assert!(health.iter().all(Health::is_healthy), "{health:?}");
    close_ok(&mirror);
    assert_eq!(source.contents(), expected);
    assert_eq!(
        target.contents(),
        source.contents(),
        "the resynced member differs from its source"
    );
}

/// A synchronous member failed by its first write is resynced while two
/// writes race the copy, `[2, 2]` at 1 and `[3]` at 0 (see
/// `resync_while_writing`): the members end byte-identical.
#[test]
fn resync_races_writes() {
    loom::model(|| {
        resync_while_writing(failed_member(false), &[(&[2, 2], 1), (&[3], 0)], &[3, 2, 2]);
    });
}

/// As [`resync_races_writes`], the resynced member being write-behind:
/// each write is queued for it (or skipped, before the
/// resync starts), its queue is drained after the generation changes, and
/// the copy's chunks are written to it directly, beside its flusher: the
/// members end byte-identical.
#[test]
fn resync_of_a_write_behind_member_races_writes() {
    loom::model(|| {
        resync_while_writing(failed_member(true), &[(&[2, 2], 1), (&[3], 0)], &[3, 2, 2]);
    });
}
