//! Bad input: writes past a member's limit or past `u64::MAX`, and
//! configurations `build` refuses.

use std::io;

use mwsr::mirror::{Memory, Mirror, Policy, WriteBehind};

/// The `InvalidInput` error of a refused build.
fn refused(builder: mwsr::mirror::Builder) -> String {
    let e = builder.build().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    e.to_string()
}

/// A write ending past a member's limit is refused with `InvalidInput`,
/// writes nothing and fails no member; one ending at the limit goes.
#[test]
fn a_write_past_a_members_limit_is_refused_and_fails_no_member() {
    let limited = Memory::with_limit(1000);
    let other = Memory::new();
    let behind = Memory::new();
    let mirror = Mirror::builder()
        .synchronous(other.clone())
        .synchronous(limited.clone())
        .write_behind(behind.clone(), WriteBehind::new())
        .build()
        .unwrap();
    let e = mirror.write_all_at(&[1; 20], 990).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    let msg = e.to_string();
    assert!(msg.contains("member 1's limit of 1000 bytes"), "{msg}");
    assert!(mirror.health().iter().all(|h| h.is_healthy()));
    assert!(
        mirror
            .stats()
            .iter()
            .all(|s| s.errors == 0 && s.bytes_written == 0)
    );
    mirror.sync_all().unwrap();
    assert!(other.contents().is_empty() && limited.contents().is_empty());
    assert!(behind.contents().is_empty());

    mirror.write_all_at(&[2; 10], 990).unwrap();
    for outcome in mirror.close() {
        outcome.unwrap();
    }
    assert_eq!(limited.contents().len(), 1000);
    assert!(behind.contents() == limited.contents());
}

/// A write whose end overflows `u64` is refused with `InvalidInput`.
#[test]
fn a_write_ending_past_u64_max_is_refused() {
    let member = Memory::new();
    let mirror = Mirror::builder()
        .synchronous(member.clone())
        .build()
        .unwrap();
    let e = mirror.write_all_at(&[0; 10], u64::MAX - 5).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("past u64::MAX"), "{e}");
    let e = mirror.write_at(&[0; 1], u64::MAX).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(mirror.health()[0].is_healthy());
    assert!(member.contents().is_empty());
}

/// A mirror of no members is refused, with a message saying so.
#[test]
fn build_refuses_no_members() {
    let msg = refused(Mirror::builder());
    assert!(msg.contains("at least one member"), "{msg}");
}

/// `min_healthy` must be between 1 and the number of members.
#[test]
fn build_refuses_min_healthy_out_of_range() {
    let two = || {
        Mirror::builder()
            .synchronous(Memory::new())
            .synchronous(Memory::new())
    };
    let msg = refused(two().policy(Policy::Degrade { min_healthy: 0 }));
    assert!(msg.contains("min_healthy 0"), "{msg}");
    let msg = refused(two().policy(Policy::Degrade { min_healthy: 3 }));
    assert!(
        msg.contains("min_healthy 3") && msg.contains("2 members"),
        "{msg}"
    );
    two()
        .policy(Policy::Degrade { min_healthy: 2 })
        .build()
        .unwrap();
}

/// A preferred member out of range is refused.
#[test]
fn build_refuses_prefer_out_of_range() {
    let builder = Mirror::builder()
        .synchronous(Memory::new())
        .write_behind(Memory::new(), WriteBehind::new());
    let msg = refused(builder.prefer(2));
    assert!(msg.contains("preferred member 2 of 2"), "{msg}");
    Mirror::builder()
        .synchronous(Memory::new())
        .write_behind(Memory::new(), WriteBehind::new())
        .prefer(1)
        .build()
        .unwrap();
}

/// `resync` and `replace` of an index out of range are refused.
#[test]
fn resync_refuses_an_index_out_of_range() {
    let mirror = Mirror::builder()
        .synchronous(Memory::new())
        .synchronous(Memory::new())
        .build()
        .unwrap();
    let e = mirror.resync(2).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    let e = mirror.replace(5, Memory::new()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(mirror.health().iter().all(|h| h.is_healthy()));
}
