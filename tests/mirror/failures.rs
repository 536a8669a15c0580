//! Member failures: a write-behind member's write error and its offset,
//! `sync_all` and a failing sync, and panics in `write_at`.

use mwsr::mirror::{Health, Memory, Mirror, Op, Policy, WriteBehind};

use crate::doubles::{
    Dir, Double, apply, assert_files_hold, data, failed_at, failed_error, gate, opener, recorder,
    settled,
};

/// A write-behind member failing in its flusher is reported (from the
/// flusher) with the offset of the first write it missed; the mirror goes
/// on without it.
#[test]
fn a_write_behind_members_error_is_reported_at_the_first_write_it_missed() {
    const S: u64 = 256;
    // Blocks 0, 2, 4, ...: never adjacent, so each is its own member write.
    let at = |j: u64| 2 * j * S;
    let n = 10 * S + 17; // inside write number 10
    let fast = Memory::new();
    let failing = Double::new(Memory::new()).fail_after(n).arc();
    let (failures, on_failure) = recorder();
    let mirror = Mirror::builder()
        .synchronous(fast.clone())
        .write_behind(failing.clone(), WriteBehind::new())
        .on_failure(on_failure)
        .build()
        .unwrap();
    for j in 0..30 {
        mirror.write_all_at(&data(j, S as usize), at(j)).unwrap();
    }
    // Applied (10 writes), failed, the rest skipped, all released; the
    // failure was reported before the release.
    settled(&mirror, 1);
    assert_eq!(failed_at(&mirror.health()[1]), at(10));
    let failures = failures.lock().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let f = &failures[0];
    assert_eq!((f.member, f.op, f.offset), (1, Op::Write, at(10)));
    assert!(f.member_failed);
    let stats = mirror.stats();
    assert_eq!((stats[1].errors, stats[1].bytes_written), (1, 10 * S));
    drop(failures);
    mirror.write_all_at(b"more", 1 << 20).unwrap();
    let outcomes: Vec<_> = mirror.close().into_iter().map(|r| r.is_ok()).collect();
    assert_eq!(outcomes, [true, false]);
}

/// Adjacent queued writes the flusher merges into one member write: when
/// the member fails inside that write (after a short write), the offset
/// reported is still that of the first write it missed, not that of the
/// first write of the merged run.
#[test]
fn a_merged_run_failing_part_way_reports_the_first_write_it_missed() {
    const S: u64 = 512;
    let gate = gate();
    let fast = Memory::new();
    // Fails inside write 3: writes 0, 1 and 2 reach it whole.
    let failing = Double::new(Memory::new())
        .gated(&gate)
        .fail_after(3 * S + 100)
        .arc();
    let mirror = Mirror::builder()
        .synchronous(fast)
        .write_behind(failing.clone(), WriteBehind::new())
        .build()
        .unwrap();
    let _open = opener(&gate); // dropped before the mirror
    mirror.write_all_at(&data(0, S as usize), 0).unwrap();
    gate.wait_entered(1); // write 0 is being applied, alone
    for j in 1..10 {
        // Queued meanwhile, adjacent: applied as one run from S.
        mirror.write_all_at(&data(j, S as usize), j * S).unwrap();
    }
    gate.open();
    mirror.sync_all().unwrap();
    assert_eq!(
        failing.inner().contents()[..3 * S as usize],
        [data(0, 512), data(1, 512), data(2, 512)].concat(),
        "writes 0 to 2 reached the member whole"
    );
    assert_eq!(
        failed_at(&mirror.health()[1]),
        3 * S,
        "the first write the member missed is write 3"
    );
}

/// `sync_all` on files drains the write-behind member first: afterwards
/// (before close) every file holds every write.
#[test]
fn sync_all_makes_every_file_hold_every_write() {
    let dir = Dir::new();
    let (a, a_path) = dir.file("a");
    let (b, b_path) = dir.file("b");
    let slow = Double::new(b).slow().arc();
    let mirror = Mirror::builder()
        .synchronous(a)
        .write_behind(slow.clone(), WriteBehind::new())
        .build()
        .unwrap();
    let mut model = Vec::new();
    for i in 0..40u64 {
        let bytes = data(i, 1000);
        mirror.write_all_at(&bytes, i * 3000).unwrap();
        apply(&mut model, &bytes, i * 3000);
    }
    assert!(mirror.stats()[1].lag_writes > 0, "nothing was pending");
    mirror.sync_all().unwrap();
    assert_eq!(mirror.stats()[1].lag_writes, 0);
    assert_files_hold(&[&a_path, &b_path], &model);
    assert!(mirror.health().iter().all(Health::is_healthy));
}

/// A member whose sync fails is marked failed at offset 0 and reported;
/// with Degrade the sync still succeeds, with FailFast it fails.
#[test]
fn a_member_whose_sync_fails_is_marked_failed() {
    for policy in [Policy::default(), Policy::FailFast] {
        let dir = Dir::new();
        let (a, a_path) = dir.file("a");
        let (b, _) = dir.file("b");
        let bad = Double::new(b).failing_syncs().arc();
        let (failures, on_failure) = recorder();
        let mirror = Mirror::builder()
            .synchronous(a)
            .synchronous(bad.clone())
            .policy(policy)
            .on_failure(on_failure)
            .build()
            .unwrap();
        mirror.write_all_at(&data(3, 4096), 0).unwrap();
        let synced = mirror.sync_all();
        assert_eq!(
            synced.is_ok(),
            policy != Policy::FailFast,
            "{policy:?}: {synced:?}"
        );
        let health = mirror.health();
        assert!(health[0].is_healthy());
        assert_eq!(failed_at(&health[1]), 0);
        assert!(failed_error(&health[1]).contains("injected sync error"));
        {
            let failures = failures.lock().unwrap();
            assert_eq!(failures.len(), 1, "{failures:?}");
            let f = &failures[0];
            assert_eq!(
                (f.member, f.op, f.offset, f.member_failed),
                (1, Op::Sync, 0, true)
            );
        }
        assert_eq!(mirror.stats()[1].errors, 1);
        // Not written again.
        let written = bad.writes();
        let _ = mirror.write_all_at(&[1; 10], 10_000);
        assert_eq!(bad.writes(), written);
        let outcomes: Vec<_> = mirror.close().into_iter().map(|r| r.is_ok()).collect();
        assert_eq!(outcomes, [true, false]);
        // FailFast refused the later write; Degrade wrote it to `a`.
        let a_len = if policy == Policy::FailFast {
            4096
        } else {
            10_010
        };
        assert_eq!(std::fs::read(&a_path).unwrap().len(), a_len);
    }
}

/// A synchronous member panicking in `write_at` is marked failed with the
/// panic and reported; the write and later ones succeed on the others.
#[test]
fn a_panicking_synchronous_member_is_contained() {
    let a = Memory::new();
    let c = Memory::new();
    let panicking = Double::new(Memory::new()).panicking().arc();
    let (failures, on_failure) = recorder();
    let mirror = Mirror::builder()
        .synchronous(a.clone())
        .synchronous(panicking)
        .synchronous(c.clone())
        .on_failure(on_failure)
        .build()
        .unwrap();
    mirror.write_all_at(&data(1, 100), 0).unwrap();
    mirror.write_all_at(&data(2, 100), 100).unwrap();
    let health = mirror.health();
    assert!(health[0].is_healthy() && health[2].is_healthy());
    assert_eq!(failed_at(&health[1]), 0);
    assert!(failed_error(&health[1]).contains("injected panic in write_at"));
    {
        let failures = failures.lock().unwrap();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!((failures[0].member, failures[0].op), (1, Op::Write));
        assert!(failures[0].error.to_string().contains("panicked"));
    }
    assert!(a.contents() == [data(1, 100), data(2, 100)].concat());
    assert!(c.contents() == a.contents());
    let outcomes: Vec<_> = mirror.close().into_iter().map(|r| r.is_ok()).collect();
    assert_eq!(outcomes, [true, false, true]);
}

/// A write-behind member panicking in its flusher is marked failed and
/// reported; the mirror and the other write-behind member go on.
#[test]
fn a_panicking_write_behind_member_is_contained() {
    let a = Memory::new();
    let other = Memory::new();
    let panicking = Double::new(Memory::new()).panicking().arc();
    let (failures, on_failure) = recorder();
    let mirror = Mirror::builder()
        .synchronous(a.clone())
        .write_behind(panicking, WriteBehind::new())
        .write_behind(other.clone(), WriteBehind::new())
        .on_failure(on_failure)
        .build()
        .unwrap();
    mirror.write_all_at(&data(1, 100), 0).unwrap();
    settled(&mirror, 1); // applied (panicked), reported, released
    assert_eq!(failed_at(&mirror.health()[1]), 0);
    assert!(failed_error(&mirror.health()[1]).contains("panicked"));
    {
        let failures = failures.lock().unwrap();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!((failures[0].member, failures[0].op), (1, Op::Write));
    }
    for i in 1..20u64 {
        mirror.write_all_at(&data(i, 100), i * 100).unwrap();
    }
    let mut back = [0; 100];
    mirror.read_exact_at(&mut back, 1900).unwrap();
    assert!(back[..] == data(19, 100));
    mirror.sync_all().unwrap();
    assert!(mirror.health()[2].is_healthy());
    let outcomes: Vec<_> = mirror.close().into_iter().map(|r| r.is_ok()).collect();
    assert_eq!(outcomes, [true, false, true]);
    assert!(other.contents() == a.contents());
    assert_eq!(a.contents().len(), 2000);
}
