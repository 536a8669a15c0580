//! The module's main scenario: a fast file, a slow write-behind file and a
//! file that fails after N bytes, in one mirror.

use std::sync::Arc;

use mwsr::mirror::{Mirror, Op, WriteBehind};

use crate::doubles::{Dir, Double, apply, assert_files_hold, data, failed_at, recorder};

/// Block size of the scenario's writes.
const S: usize = 512;
/// Blocks written in the first round.
const BLOCKS: usize = 400;
/// The failing member fails once this many bytes went through it: inside
/// its 101st write, so that write (number 100) is the first it misses.
const N: u64 = 100 * S as u64 + 200;

/// The block the `j`-th write of the first round goes to: the even blocks,
/// then the odd ones, so that no two consecutive writes are adjacent (the
/// write-behind flusher would merge them into one member write).
fn block_at(j: usize) -> usize {
    if j < BLOCKS / 2 {
        2 * j
    } else {
        2 * (j - BLOCKS / 2) + 1
    }
}

/// Writes return while the slow member lags, reads come only from the fast
/// member, the failing member is reported with the first write it missed,
/// a resync makes it identical, and close with work pending leaves all
/// three identical.
#[test]
fn fast_slow_and_failing_members() {
    let dir = Dir::new();
    let (fast_file, fast_path) = dir.file("fast");
    let (slow_file, slow_path) = dir.file("slow");
    let (failing_file, failing_path) = dir.file("failing");
    let fast = Double::new(fast_file).arc();
    let slow = Double::new(slow_file).slow().arc();
    let failing = Double::new(failing_file).fail_after(N).arc();
    let (failures, on_failure) = recorder();
    let mirror = Mirror::builder()
        .synchronous(fast.clone())
        .write_behind(slow.clone(), WriteBehind::new())
        .synchronous(failing.clone())
        .on_failure(on_failure)
        .build()
        .unwrap();

    let mut model = Vec::new();
    for j in 0..BLOCKS {
        let offset = (block_at(j) * S) as u64;
        let bytes = data(j as u64, S);
        mirror.write_all_at(&bytes, offset).unwrap();
        apply(&mut model, &bytes, offset);
        let mut back = vec![0; S];
        mirror.read_exact_at(&mut back, offset).unwrap();
        assert_eq!(back, bytes, "read back block {}", block_at(j));
    }

    // Every write has returned, and the slow member has not applied them
    // all: the writes did not wait for it.
    let stats = mirror.stats();
    assert!(
        stats[1].lag_writes > 0 && stats[1].lag_bytes > 0,
        "the slow member had caught up: {:?}",
        stats[1]
    );
    assert!(
        slow.writes() < BLOCKS as u64,
        "the slow member applied {} of {BLOCKS} writes",
        slow.writes()
    );

    // Reads came from the fast member only.
    assert_eq!(fast.reads(), BLOCKS as u64);
    assert_eq!(slow.reads(), 0, "the slow member was read");
    assert_eq!(failing.reads(), 0, "the failing member was read");

    // The failing member: reported once, at the first write it missed.
    let first_missed = (block_at(100) * S) as u64;
    {
        let failures = failures.lock().unwrap();
        assert_eq!(failures.len(), 1, "{failures:?}");
        let f = &failures[0];
        assert_eq!((f.member, f.op, f.offset), (2, Op::Write, first_missed));
        assert!(f.member_failed);
        assert!(
            f.error.to_string().contains("injected write error"),
            "{f:?}"
        );
    }
    let health = mirror.health();
    assert!(health[0].is_healthy() && health[1].is_healthy());
    assert_eq!(failed_at(&health[2]), first_missed);
    let stats = mirror.stats();
    assert_eq!(failed_at(&stats[2].health), first_missed);
    assert_eq!(stats[2].errors, 1);
    assert_eq!(stats[2].bytes_written, 100 * S as u64);
    assert_eq!(stats[0].bytes_written, (BLOCKS * S) as u64);

    // Fault removed, resync: byte-identical to the fast member.
    failing.heal();
    mirror.resync(2).unwrap();
    assert!(mirror.health().iter().all(|h| h.is_healthy()));
    assert_files_hold(&[&fast_path, &failing_path], &model);

    // A second round over the even blocks, then close while the slow
    // member still has work queued.
    for j in 0..BLOCKS / 2 {
        let offset = (2 * j * S) as u64;
        let bytes = data((BLOCKS + j) as u64, S);
        mirror.write_all_at(&bytes, offset).unwrap();
        apply(&mut model, &bytes, offset);
    }
    assert!(mirror.stats()[1].lag_writes > 0, "nothing pending at close");
    for (i, outcome) in mirror.close().into_iter().enumerate() {
        outcome.unwrap_or_else(|e| panic!("member {i}: {e}"));
    }
    assert_eq!(slow.reads(), 0);
    assert_eq!(failing.reads(), 0);
    assert_files_hold(&[&fast_path, &slow_path, &failing_path], &model);
    drop(mirror);
    assert_eq!(Arc::strong_count(&slow), 1, "the mirror kept a member");
}
