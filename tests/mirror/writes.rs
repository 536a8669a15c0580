//! Writes from many threads: disjoint and overlapping ranges, writes racing
//! close, close with work queued, and drop without close.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use mwsr::mirror::{Memory, Mirror, WriteBehind};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::task;
use crate::doubles::{Dir, Double, apply, assert_files_hold, contents, data, fnv, gate, opener};

/// Threads writing disjoint ranges concurrently leave every member (files
/// and memory, synchronous and write-behind) holding the expected content.
#[test]
fn disjoint_ranges_from_many_threads() {
    const THREADS: u64 = 8;
    const RANGE: u64 = 64 << 10;
    let dir = Dir::new();
    let (sync_file, sync_path) = dir.file("sync");
    let (behind_file, behind_path) = dir.file("behind");
    let memory = Memory::new();
    let slow = Double::new(Memory::new()).slow().arc();
    let mirror = Mirror::builder()
        .synchronous(sync_file)
        .write_behind(behind_file, WriteBehind::new().lag_bytes(256 << 10))
        .synchronous(memory.clone())
        .write_behind(slow.clone(), WriteBehind::new())
        .build()
        .unwrap();
    // Each thread's range is one piece of `expected`.
    let expected = data(7, (THREADS * RANGE) as usize);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (mirror, expected) = (&mirror, &expected);
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(t);
                let mut at = t * RANGE;
                while at < (t + 1) * RANGE {
                    let len = rng.random_range(1..=8192).min((t + 1) * RANGE - at);
                    let piece = &expected[at as usize..(at + len) as usize];
                    assert_eq!(mirror.write_at(piece, at).unwrap(), len as usize);
                    at += len;
                }
            });
        }
    });
    for outcome in mirror.close() {
        outcome.unwrap();
    }
    assert_files_hold(&[&sync_path, &behind_path], &expected);
    assert!(memory.contents() == expected, "the memory member differs");
    assert!(
        slow.inner().contents() == expected,
        "the slow member differs"
    );
}

/// Concurrent writes to overlapping ranges land in one order on every
/// member: all end identical.
#[test]
fn overlapping_writes_land_in_one_order_everywhere() {
    const THREADS: u64 = 8;
    const WRITES: u64 = 300;
    const SPAN: u64 = 16 << 10;
    let dir = Dir::new();
    let (a, a_path) = dir.file("a");
    let (b, b_path) = dir.file("b");
    let memory = Memory::new();
    let behind_memory = Memory::new();
    let mirror = Mirror::builder()
        .synchronous(a)
        .write_behind(b, WriteBehind::new().lag_writes(16))
        .synchronous(memory.clone())
        .write_behind(behind_memory.clone(), WriteBehind::new().lag_bytes(8 << 10))
        .build()
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let mirror = &mirror;
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(100 + t);
                for w in 0..WRITES {
                    let len = rng.random_range(1..=2048);
                    let at = rng.random_range(0..SPAN - len);
                    let bytes = data(t * WRITES + w, len as usize);
                    mirror.write_all_at(&bytes, at).unwrap();
                }
            });
        }
    });
    for outcome in mirror.close() {
        outcome.unwrap();
    }
    let reference = memory.contents();
    assert!(reference.len() > (SPAN / 2) as usize);
    assert_files_hold(&[&a_path, &b_path], &reference);
    assert!(
        fnv(&behind_memory.contents()) == fnv(&reference),
        "the write-behind memory member differs"
    );
}

/// Writes racing `close` either land on every member or fail with
/// `BrokenPipe` and land nowhere; later writes and closes agree.
#[test]
fn writes_racing_close_land_everywhere_or_fail_with_broken_pipe() {
    const THREADS: u64 = 4;
    const BLOCK: u64 = 64;
    const STRIDE: u64 = 1 << 20; // each writer's region
    let fast = Memory::new();
    let behind = Memory::new();
    let mirror = Arc::new(
        Mirror::builder()
            .synchronous(fast.clone())
            .write_behind(behind.clone(), WriteBehind::new())
            .build()
            .unwrap(),
    );
    let accepted = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (mirror, accepted) = (mirror.clone(), accepted.clone());
            task::spawn(move || {
                // Blocks written in order; returns how many were accepted.
                for n in 0.. {
                    let at = t * STRIDE + n * BLOCK;
                    match mirror.write_all_at(&data(at, BLOCK as usize), at) {
                        Ok(()) => {
                            accepted.fetch_add(1, SeqCst);
                        }
                        Err(e) => {
                            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
                            return n;
                        }
                    }
                }
                unreachable!()
            })
        })
        .collect();
    // Close while they write, once they have written for a while.
    task::eventually("writes accepted", || accepted.load(SeqCst) >= 1000);
    let outcomes: Vec<_> = mirror.close().into_iter().map(|r| r.is_ok()).collect();
    assert_eq!(outcomes, [true, true]);
    let accepted: Vec<u64> = writers.into_iter().map(|w| w.join()).collect();
    let mut model = Vec::new();
    for (t, &n) in accepted.iter().enumerate() {
        for k in 0..n {
            let at = t as u64 * STRIDE + k * BLOCK;
            apply(&mut model, &data(at, BLOCK as usize), at);
        }
    }
    // Exactly the accepted writes: every one everywhere, no refused one.
    let fast = fast.contents();
    let behind = behind.contents();
    for (t, &n) in accepted.iter().enumerate() {
        let end = (t as u64 * STRIDE + n * BLOCK) as usize;
        let zeros = |c: &[u8]| {
            c.get(end..end + BLOCK as usize)
                .is_none_or(|r| r.iter().all(|&b| b == 0))
        };
        assert!(
            zeros(&fast) && zeros(&behind),
            "writer {t}: a refused write landed"
        );
    }
    let len = fast.len().max(model.len());
    let pad = |mut v: Vec<u8>| {
        v.resize(len, 0);
        v
    };
    assert!(
        pad(fast) == pad(model.clone()),
        "the fast member misses accepted writes"
    );
    assert!(
        pad(behind) == pad(model),
        "the write-behind member misses accepted writes"
    );
    // Closed: writes refused, close returns the same outcomes.
    let e = mirror.write_all_at(b"late", 0).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
    assert!(mirror.close().iter().all(|r| r.is_ok()));
}

/// `close` with a blocked write-behind member's work queued waits for it,
/// and every member ends identical (all outcomes `Ok`).
#[test]
fn close_drains_queued_work_into_every_member() {
    let gate = gate();
    let fast = Memory::new();
    let blocked = Double::new(Memory::new()).gated(&gate).arc();
    let mirror = Arc::new(
        Mirror::builder()
            .synchronous(fast.clone())
            .write_behind(blocked.clone(), WriteBehind::new())
            .build()
            .unwrap(),
    );
    let _open = opener(&gate); // dropped before the mirror
    let mut model = Vec::new();
    for i in 0..20u64 {
        let bytes = data(i, 100);
        mirror.write_all_at(&bytes, i * 300).unwrap();
        apply(&mut model, &bytes, i * 300);
    }
    assert_eq!(mirror.stats()[1].lag_writes, 20, "the member is blocked");
    let closer = {
        let mirror = mirror.clone();
        task::spawn(move || mirror.close())
    };
    gate.open();
    for (i, outcome) in closer.join().into_iter().enumerate() {
        outcome.unwrap_or_else(|e| panic!("member {i}: {e}"));
    }
    assert_eq!(mirror.stats()[1].lag_writes, 0);
    assert!(fast.contents() == model);
    assert!(
        blocked.inner().contents() == model,
        "the write-behind member differs"
    );
}

/// Dropping a mirror without `close` drains the slow member's queue.
#[test]
fn drop_without_close_is_lossless() {
    let fast = Memory::new();
    let slow = Double::new(Memory::new()).slow().arc();
    let mirror = Mirror::builder()
        .synchronous(fast.clone())
        .write_behind(slow.clone(), WriteBehind::new())
        .build()
        .unwrap();
    let mut model = Vec::new();
    for i in 0..100u64 {
        // Every other block, so that no two writes are merged.
        let bytes = data(i, 256);
        mirror.write_all_at(&bytes, i * 512).unwrap();
        apply(&mut model, &bytes, i * 512);
    }
    assert!(mirror.stats()[1].lag_writes > 0, "nothing was pending");
    drop(mirror);
    assert!(fast.contents() == model);
    assert!(
        contents(slow.inner()) == model,
        "the slow member lost queued writes"
    );
}
