//! Reads: the preferred member, fallback on a read error, the end of the
//! content, and a write-behind member read only once it has the data.

use std::io;

use mwsr::mirror::{Memory, Mirror, Op, WriteBehind};

use crate::doubles::{Double, data, recorder};

/// A read error on the preferred member falls back to another healthy one;
/// it is reported with `member_failed == false`, counted in `read_errors`,
/// and the member stays in service (read again once it reads again).
#[test]
fn a_failed_read_falls_back_without_failing_the_member() {
    let preferred = Double::new(Memory::new()).failing_reads().arc();
    let other = Double::new(Memory::new()).arc();
    let (failures, on_failure) = recorder();
    let mirror = Mirror::builder()
        .synchronous(preferred.clone())
        .synchronous(other.clone())
        .on_failure(on_failure)
        .build()
        .unwrap();
    let bytes = data(1, 1000);
    mirror.write_all_at(&bytes, 0).unwrap();
    let mut back = vec![0; 600];
    mirror.read_exact_at(&mut back, 100).unwrap();
    assert!(back == bytes[100..700]);
    assert_eq!((preferred.reads(), other.reads()), (1, 1));
    {
        let failures = failures.lock().unwrap();
        assert_eq!(failures.len(), 1, "{failures:?}");
        let f = &failures[0];
        assert_eq!((f.member, f.op, f.offset), (0, Op::Read, 100));
        assert!(!f.member_failed);
        assert!(f.error.to_string().contains("injected read error"));
    }
    let stats = mirror.stats();
    assert_eq!((stats[0].read_errors, stats[0].errors), (1, 0));
    assert_eq!(stats[1].read_errors, 0);
    assert!(mirror.health().iter().all(|h| h.is_healthy()));

    preferred.heal();
    mirror.read_exact_at(&mut back, 0).unwrap();
    assert!(back == bytes[..600]);
    assert_eq!((preferred.reads(), other.reads()), (2, 1));
}

/// When no member can read, the error names each member and its error.
#[test]
fn a_read_no_member_can_serve_names_every_error() {
    let mirror = Mirror::builder()
        .synchronous(Double::new(Memory::new()).failing_reads())
        .synchronous(Double::new(Memory::new()).failing_reads())
        .build()
        .unwrap();
    mirror.write_all_at(b"abc", 0).unwrap();
    let e = mirror.read_at(&mut [0; 3], 0).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("member 0: injected read error"), "{msg}");
    assert!(msg.contains("member 1: injected read error"), "{msg}");
    assert_eq!(mirror.stats()[1].read_errors, 1);
}

/// `read_at` at or past the end gives `Ok(0)` (and a short count across
/// it); `read_exact_at` across the end gives `UnexpectedEof`.
#[test]
fn reads_at_the_end() {
    let mirror = Mirror::builder()
        .synchronous(Memory::new())
        .write_behind(Memory::new(), WriteBehind::new())
        .build()
        .unwrap();
    mirror.write_all_at(&data(2, 100), 0).unwrap();
    let mut buf = [0; 50];
    assert_eq!(mirror.read_at(&mut buf, 100).unwrap(), 0);
    assert_eq!(mirror.read_at(&mut buf, 1 << 40).unwrap(), 0);
    assert_eq!(mirror.read_at(&mut buf, 80).unwrap(), 20);
    assert!(buf[..20] == data(2, 100)[80..]);
    let e = mirror.read_exact_at(&mut buf, 80).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    mirror.read_exact_at(&mut buf, 50).unwrap();
}

/// Reads go to the member `prefer` names, not the default first one.
#[test]
fn reads_go_to_the_preferred_member() {
    let first = Double::new(Memory::new()).arc();
    let second = Double::new(Memory::new()).arc();
    let mirror = Mirror::builder()
        .synchronous(first.clone())
        .synchronous(second.clone())
        .prefer(1)
        .build()
        .unwrap();
    mirror.write_all_at(b"hello", 0).unwrap();
    let mut buf = [0; 5];
    for _ in 0..3 {
        mirror.read_exact_at(&mut buf, 0).unwrap();
    }
    assert_eq!(&buf, b"hello");
    assert_eq!((first.reads(), second.reads()), (0, 3));
}

/// A slow write-behind member, the only healthy one, is never read for a
/// write it has not applied yet: a read right after each write sees it.
#[test]
fn a_write_behind_member_is_read_only_once_it_has_the_write() {
    let broken = Double::new(Memory::new()).fail_after(0).arc();
    let slow = Double::new(Memory::new()).slow().arc();
    let mirror = Mirror::builder()
        .synchronous(broken.clone())
        .write_behind(slow.clone(), WriteBehind::new())
        .build()
        .unwrap();
    for i in 0..50u64 {
        let bytes = data(i, 300);
        mirror.write_all_at(&bytes, i * 200).unwrap(); // overlaps the last one
        if i == 0 {
            assert!(!mirror.health()[0].is_healthy());
        }
        let mut back = vec![0; 300];
        mirror.read_exact_at(&mut back, i * 200).unwrap();
        assert!(back == bytes, "read {i} saw data not yet written");
    }
    assert_eq!((broken.reads(), slow.reads()), (0, 50));
}
