//! Resync and replace: a failed member filled from a healthy one while
//! threads keep writing, a new member put in place of a failed one, and a
//! resync with nothing to copy from.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

use mwsr::mirror::{Health, Member, Memory, Mirror, WriteBehind};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::task::{self, eventually};
use crate::doubles::{Dir, Double, assert_files_hold, contents, data, file_hash};

/// Members that fail while threads write (one synchronous, one
/// write-behind), healed and resynced while the threads keep writing:
/// after the resyncs return, the writers finish and the mirror closes,
/// every member is identical.
#[test]
fn resync_while_many_threads_write() {
    const THREADS: u64 = 6;
    const SPAN: u64 = 1 << 20;
    let dir = Dir::new();
    let (fast, fast_path) = dir.file("fast");
    let (behind, behind_path) = dir.file("behind");
    let (sync_target, sync_path) = dir.file("sync-target");
    let (behind_target, behind_target_path) = dir.file("behind-target");
    let sync_target = Double::new(sync_target).fail_after(64 << 10).arc();
    let behind_target = Double::new(behind_target).fail_after(64 << 10).arc();
    let mirror = Arc::new(
        Mirror::builder()
            .synchronous(fast)
            .write_behind(behind, WriteBehind::new())
            .synchronous(sync_target.clone())
            .write_behind(behind_target.clone(), WriteBehind::new())
            .build()
            .unwrap(),
    );
    let resynced = Arc::new(AtomicBool::new(false));
    let after = Arc::new(AtomicU64::new(0)); // writes begun after the resyncs
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (mirror, resynced, after) = (mirror.clone(), resynced.clone(), after.clone());
            task::spawn(move || {
                let mut rng = StdRng::seed_from_u64(t);
                let mut mine_after = 0;
                for w in 0.. {
                    if resynced.load(SeqCst) {
                        mine_after += 1;
                        after.fetch_add(1, SeqCst);
                        if mine_after > 20 {
                            return w;
                        }
                    }
                    let len = rng.random_range(1..=4096);
                    let at = rng.random_range(0..SPAN - len);
                    mirror
                        .write_all_at(&data(t << 32 | w, len as usize), at)
                        .unwrap();
                }
                unreachable!()
            })
        })
        .collect();
    eventually("both targets failed", || {
        let health = mirror.health();
        matches!(health[2], Health::Failed { .. }) && matches!(health[3], Health::Failed { .. })
    });
    sync_target.heal();
    behind_target.heal();
    // Both resyncs at once, while the writers go on.
    let resyncs: Vec<_> = [2, 3]
        .into_iter()
        .map(|i| {
            let mirror = mirror.clone();
            task::spawn(move || mirror.resync(i))
        })
        .collect();
    for r in resyncs {
        r.join().unwrap();
    }
    resynced.store(true, SeqCst);
    let total: u64 = writers.into_iter().map(|w| w.join()).sum();
    assert!(
        after.load(SeqCst) >= THREADS * 20,
        "the writers stopped early"
    );
    assert!(
        mirror.health().iter().all(Health::is_healthy),
        "{:?}",
        mirror.health()
    );
    for (i, outcome) in mirror.close().into_iter().enumerate() {
        outcome.unwrap_or_else(|e| panic!("member {i}: {e}"));
    }
    let reference = std::fs::read(&fast_path).unwrap();
    assert!(reference.len() as u64 > SPAN / 2, "{total} writes");
    assert_files_hold(&[&behind_path, &sync_path, &behind_target_path], &reference);
}

/// `replace` puts a new member in place of a failed one (here a file with
/// more, stale bytes, which are cut off), fills it, returns it to service
/// and drops the old member; for a write-behind slot too.
#[test]
fn replace_fills_a_new_member_and_drops_the_old_one() {
    let dir = Dir::new();
    let (fast, fast_path) = dir.file("fast");
    let (old, _) = dir.file("old");
    let (behind, _) = dir.file("behind");
    let failing = Double::new(old).fail_after(5000).arc();
    let behind = Double::new(behind).fail_after(5000).arc();
    let mirror = Mirror::builder()
        .synchronous(fast)
        .synchronous(failing.clone())
        .write_behind(behind.clone(), WriteBehind::new())
        .build()
        .unwrap();
    for i in 0..20u64 {
        mirror.write_all_at(&data(i, 1000), i * 1000).unwrap();
    }
    mirror.sync_all().unwrap();
    assert!(!mirror.health()[1].is_healthy() && !mirror.health()[2].is_healthy());

    let (new, new_path) = dir.file("new");
    new.set_len(0).unwrap();
    Member::write_all_at(&new, &data(99, 50_000), 0).unwrap(); // longer, stale
    mirror.replace(1, new).unwrap();
    assert_eq!(Arc::strong_count(&failing), 1, "the old member is kept");
    let (new_behind, new_behind_path) = dir.file("new-behind");
    mirror.replace(2, new_behind).unwrap();
    assert_eq!(Arc::strong_count(&behind), 1, "the old member is kept");
    assert!(mirror.health().iter().all(Health::is_healthy));
    assert_eq!(file_hash(&new_path), file_hash(&fast_path));

    mirror.write_all_at(&data(100, 1000), 20_000).unwrap();
    for outcome in mirror.close() {
        outcome.unwrap();
    }
    let reference = std::fs::read(&fast_path).unwrap();
    assert_eq!(reference.len(), 21_000);
    assert_files_hold(&[&new_path, &new_behind_path], &reference);
}

/// A resync with no other healthy member to copy from is refused with
/// `InvalidInput` and leaves the member as it was: the mirror still writes.
#[test]
fn resync_without_another_healthy_member_is_refused_harmlessly() {
    let only = Memory::new();
    let broken = Double::new(Memory::new()).fail_after(0).arc();
    let mirror = Mirror::builder()
        .synchronous(only.clone())
        .synchronous(broken)
        .build()
        .unwrap();
    mirror.write_all_at(b"before", 0).unwrap();
    assert!(!mirror.health()[1].is_healthy());
    let e = mirror.resync(0).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    assert!(
        mirror.health()[0].is_healthy(),
        "the only healthy member was failed by a refused resync: {:?}",
        mirror.health()[0]
    );
    mirror.write_all_at(b"after", 6).unwrap();
    assert_eq!(contents(&only), b"beforeafter");
}
