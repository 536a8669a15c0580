//! Every item a write accepted is either flushed or counted dropped:
//! `items_flushed + items_dropped == accepted` once the buffer has stopped,
//! whether the sink fails, panics or a close times out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use mwsr::{AsyncBuffer, Buffer, Stats};

const WRITERS: u64 = 4;
const PER_WRITER: u64 = 20_000;

/// How a test sink ends.
#[derive(Clone, Copy)]
enum Failure {
    Error,
    Panic,
}

/// A sink that succeeds `ok` times, then fails as `how`.
fn failing_after(ok: usize, how: Failure) -> impl FnMut(&[u64]) -> std::io::Result<()> + Send {
    let calls = AtomicUsize::new(0);
    move |_batch| {
        if calls.fetch_add(1, Ordering::Relaxed) < ok {
            return Ok(());
        }
        match how {
            Failure::Error => Err(std::io::Error::other("disk on fire")),
            Failure::Panic => panic!("sink bug"),
        }
    }
}

/// Writes from `WRITERS` threads with `write`, which returns how many items
/// it accepted, until it returns `None`; returns the items accepted.
fn write_until_failure(write: impl Fn(u64) -> Option<u64> + Sync) -> u64 {
    let accepted = AtomicU64::new(0);
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let (write, accepted) = (&write, &accepted);
            s.spawn(move || {
                for i in 0..PER_WRITER {
                    let Some(n) = write(w * PER_WRITER + i) else {
                        break;
                    };
                    accepted.fetch_add(n, Ordering::Relaxed);
                }
            });
        }
    });
    accepted.into_inner()
}

fn assert_accounted(stats: Stats, accepted: u64) {
    assert!(
        stats.items_dropped > 0,
        "the failure dropped nothing? {stats:?}"
    );
    assert_eq!(
        stats.items_flushed + stats.items_dropped,
        accepted,
        "{stats:?}"
    );
}

#[test]
fn async_buffer_counts_what_a_sink_error_or_panic_drops() {
    for how in [Failure::Error, Failure::Panic] {
        for ok in [0, 3, 50] {
            let buf = AsyncBuffer::new(64, failing_after(ok, how));
            let accepted = write_until_failure(|item| buf.write(item).ok().map(|()| 1));
            assert!(buf.close().is_err());
            assert_accounted(buf.stats(), accepted);
        }
    }
}

#[test]
fn async_buffer_counts_try_write_and_write_v_items_too() {
    let buf = AsyncBuffer::new(64, failing_after(20, Failure::Error));
    let accepted = write_until_failure(|item| {
        if item % 2 == 0 {
            let n = buf.write_v(&[&[item][..], &[item, item]]).ok()?;
            Some(n as u64)
        } else {
            match buf.try_write(item) {
                Ok(()) => Some(1),
                Err(e) if e.is_full() => Some(0), // handed back: not accepted
                Err(_) => None,
            }
        }
    });
    assert!(buf.close().is_err());
    assert_accounted(buf.stats(), accepted);
}

#[test]
fn buffer_counts_what_a_sink_error_or_panic_drops() {
    for how in [Failure::Error, Failure::Panic] {
        for ok in [0, 3, 50] {
            let buf = Buffer::new(64, failing_after(ok, how));
            let accepted = write_until_failure(|item| buf.write(&[item]).ok().map(|n| n as u64));
            assert!(buf.flush().is_err());
            assert_accounted(buf.stats(), accepted);
        }
    }
}

#[test]
fn nothing_is_counted_dropped_when_the_sink_never_fails() {
    let flushed = Arc::new(AtomicU64::new(0));
    let f = flushed.clone();
    let buf = AsyncBuffer::new(64, move |batch: &[u64]| {
        f.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok::<(), std::io::Error>(())
    });
    let accepted = write_until_failure(|item| buf.write(item).ok().map(|()| 1));
    buf.close().unwrap();
    let stats = buf.stats();
    assert_eq!((stats.items_flushed, stats.items_dropped), (accepted, 0));
    assert_eq!(flushed.load(Ordering::Relaxed), accepted);
}
