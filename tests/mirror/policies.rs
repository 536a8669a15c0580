//! Policies and lag bounds: FailFast, Degrade, and a blocked write-behind
//! member at its bound (dropped, or writers wait).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Instant;

use mwsr::mirror::{Memory, Mirror, Op, Policy, WriteBehind};

use crate::common::HANG;
use crate::common::task::{self, eventually};
use crate::doubles::{Double, apply, data, failed_at, gate, opener, recorder};

/// FailFast: a member's error fails the write, and every later write
/// (which then reaches no member) until a resync.
#[test]
fn fail_fast_fails_the_write_and_later_ones() {
    let good = Memory::new();
    let bad = Double::new(Memory::new()).fail_after(1000).arc();
    let mirror = Mirror::builder()
        .synchronous(good.clone())
        .synchronous(bad.clone())
        .policy(Policy::FailFast)
        .build()
        .unwrap();
    mirror.write_all_at(&[1; 512], 0).unwrap();
    let e = mirror.write_all_at(&[2; 512], 512).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Other);
    let msg = e.to_string();
    assert!(msg.contains("member 1 failed at offset 512"), "{msg}");
    assert!(
        msg.contains("injected write error after 1000 bytes"),
        "{msg}"
    );
    assert_eq!(failed_at(&mirror.health()[1]), 512);

    let before = good.contents();
    let e = mirror.write_all_at(&[3; 512], 1024).unwrap_err();
    assert!(e.to_string().contains("member 1 failed"), "{e}");
    assert!(
        good.contents() == before,
        "a refused write reached a member"
    );

    // Until a resync: then writes work again.
    bad.heal();
    mirror.resync(1).unwrap();
    mirror.write_all_at(&[4; 512], 1024).unwrap();
    assert!(bad.inner().contents() == good.contents());
}

/// Degrade { min_healthy: 2 } of 3: one failure leaves writes working, a
/// second fails them, naming both failed members and their errors.
#[test]
fn degrade_goes_on_after_one_failure_and_fails_after_two() {
    let good = Memory::new();
    let first = Double::new(Memory::new()).fail_after(1000).arc();
    let second = Double::new(Memory::new()).fail_after(2000).arc();
    let (failures, on_failure) = recorder();
    let mirror = Mirror::builder()
        .synchronous(good.clone())
        .synchronous(first.clone())
        .synchronous(second.clone())
        .policy(Policy::Degrade { min_healthy: 2 })
        .on_failure(on_failure)
        .build()
        .unwrap();
    mirror.write_all_at(&[1; 512], 0).unwrap();
    mirror.write_all_at(&[2; 512], 512).unwrap(); // fails `first` at 512
    mirror.write_all_at(&[3; 512], 1024).unwrap();
    assert_eq!(failed_at(&mirror.health()[1]), 512);
    assert!(mirror.health()[2].is_healthy());

    let e = mirror.write_all_at(&[4; 512], 1536).unwrap_err(); // fails `second`
    let msg = e.to_string();
    assert!(msg.contains("member 1 failed at offset 512"), "{msg}");
    assert!(
        msg.contains("injected write error after 1000 bytes"),
        "{msg}"
    );
    assert!(msg.contains("member 2 failed at offset 1536"), "{msg}");
    assert!(
        msg.contains("injected write error after 2000 bytes"),
        "{msg}"
    );
    assert!(!msg.contains("member 0"), "{msg}");
    let e = mirror.write_all_at(&[5; 512], 2048).unwrap_err();
    assert!(
        e.to_string().contains("member 2 failed at offset 1536"),
        "{e}"
    );

    let failures = failures.lock().unwrap();
    let seen: Vec<_> = failures
        .iter()
        .map(|f| (f.member, f.op, f.offset))
        .collect();
    assert_eq!(seen, [(1, Op::Write, 512), (2, Op::Write, 1536)]);
}

/// With `lag_writes(k).drop_at_bound()`, a blocked write-behind member is
/// dropped at the (k+1)-th queued write (LagBound, reported) and writes go
/// on; once unblocked, a resync brings it back identical.
#[test]
fn lag_bound_drops_a_blocked_member_and_writes_go_on() {
    const K: u64 = 3;
    let gate = gate();
    let fast = Memory::new();
    let blocked = Double::new(Memory::new()).gated(&gate).arc();
    let (failures, on_failure) = recorder();
    let mirror = Mirror::builder()
        .synchronous(fast.clone())
        .write_behind(
            blocked.clone(),
            WriteBehind::new().lag_writes(K).drop_at_bound(),
        )
        .on_failure(on_failure)
        .build()
        .unwrap();
    let _open = opener(&gate); // dropped before the mirror
    let at = |i: u64| i * 200; // not adjacent
    for i in 0..10 {
        mirror.write_all_at(&data(i, 100), at(i)).unwrap();
    }
    let health = mirror.health();
    assert!(health[0].is_healthy());
    assert_eq!(failed_at(&health[1]), at(K), "dropped at the wrong write");
    {
        let failures = failures.lock().unwrap();
        assert_eq!(failures.len(), 1, "{failures:?}");
        let f = &failures[0];
        assert_eq!((f.member, f.op, f.offset), (1, Op::LagBound, at(K)));
        assert!(f.member_failed);
        assert_eq!(f.error.kind(), io::ErrorKind::WouldBlock);
    }
    assert_eq!(failed_at(&mirror.stats()[1].health), at(K));

    gate.open();
    mirror.resync(1).unwrap();
    assert!(mirror.health()[1].is_healthy());
    assert!(blocked.inner().contents() == fast.contents());
}

/// With the default (wait) at the bound, writers wait while a blocked
/// member's queue is full, and resume when it drains.
#[test]
fn lag_bound_makes_writers_wait_until_the_member_drains() {
    const K: u64 = 3;
    const WRITES: u64 = 10;
    let gate = gate();
    let fast = Memory::new();
    let blocked = Double::new(Memory::new()).gated(&gate).arc();
    let mirror = Arc::new(
        Mirror::builder()
            .synchronous(fast.clone())
            .write_behind(blocked.clone(), WriteBehind::new().lag_writes(K))
            .build()
            .unwrap(),
    );
    let _open = opener(&gate); // dropped before the mirror
    let done = Arc::new(AtomicU64::new(0));
    let writer = {
        let (mirror, done) = (mirror.clone(), done.clone());
        task::spawn(move || {
            for i in 0..WRITES {
                mirror.write_all_at(&data(i, 100), i * 200).unwrap();
                done.fetch_add(1, SeqCst);
            }
        })
    };
    eventually("K writes queued", || mirror.stats()[1].lag_writes == K);
    eventually("K writes returned", || done.load(SeqCst) == K);
    // The gate is closed, so nothing drained: the writer is held at the bound.
    assert_eq!(done.load(SeqCst), K, "a write went past the bound");
    assert_eq!(mirror.stats()[1].lag_writes, K);
    assert!(mirror.health().iter().all(|h| h.is_healthy()));

    gate.open();
    writer.join();
    assert_eq!(done.load(SeqCst), WRITES);
    for outcome in mirror.close() {
        outcome.unwrap();
    }
    let mut model = Vec::new();
    for i in 0..WRITES {
        apply(&mut model, &data(i, 100), i * 200);
    }
    assert!(fast.contents() == model);
    assert!(blocked.inner().contents() == model);
}

/// `lag_bytes(b).drop_at_bound()`: a blocked member is dropped once `b`
/// bytes are queued, and the writes go on (never wait).
#[test]
fn lag_bytes_bound_drops_a_blocked_member_instead_of_making_writers_wait() {
    const BOUND: u64 = 64 << 10;
    const WRITE: u64 = 1024;
    let gate = gate();
    let fast = Memory::new();
    let blocked = Double::new(Memory::new()).gated(&gate).arc();
    let mirror = Arc::new(
        Mirror::builder()
            .synchronous(fast.clone())
            .write_behind(
                blocked.clone(),
                WriteBehind::new().lag_bytes(BOUND).drop_at_bound(),
            )
            .build()
            .unwrap(),
    );
    let _open = opener(&gate); // dropped before the mirror
    // Twice the bound, in writes far below it.
    let writer = {
        let mirror = mirror.clone();
        task::spawn(move || {
            for i in 0..2 * BOUND / WRITE {
                mirror
                    .write_all_at(&data(i, WRITE as usize), i * 2 * WRITE)
                    .unwrap();
            }
        })
    };
    let start = Instant::now();
    while !writer.is_done() && start.elapsed() < HANG {
        std::thread::yield_now();
    }
    let stats = &mirror.stats()[1];
    assert!(
        writer.is_done(),
        "the writer waits for the blocked member, below the bound of {BOUND} bytes \
         with {} bytes queued, and the member is not dropped: {:?}",
        stats.lag_bytes,
        stats.health
    );
    writer.join();
    let at = failed_at(&mirror.health()[1]);
    // Dropped when a write would take the queue past the bound, each
    // write counted with its 16 bytes of bookkeeping.
    assert_eq!(at, BOUND / (WRITE + 16) * 2 * WRITE);
}

/// A single write larger than `lag_bytes` into an empty queue still goes,
/// alone (as `WriteBehind::lag_bytes` documents), also with `drop_at_bound`.
#[test]
fn a_single_write_larger_than_the_lag_bound_still_goes() {
    let gate = gate();
    let fast = Memory::new();
    let blocked = Double::new(Memory::new()).gated(&gate).arc();
    let mirror = Mirror::builder()
        .synchronous(fast.clone())
        .write_behind(
            blocked.clone(),
            WriteBehind::new().lag_bytes(1000).drop_at_bound(),
        )
        .build()
        .unwrap();
    let _open = opener(&gate); // dropped before the mirror
    mirror.write_all_at(&data(1, 3000), 0).unwrap();
    assert!(
        mirror.health()[1].is_healthy(),
        "a lone write larger than the bound dropped the member: {:?}",
        mirror.health()[1]
    );
    gate.open();
    for outcome in mirror.close() {
        outcome.unwrap();
    }
    assert!(blocked.inner().contents() == fast.contents());
}
