//! A sink stuck for good (a socket whose peer stopped reading) must not
//! hang writers, `flush` or shutdown that asked for a timeout; nothing
//! accepted goes unaccounted.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Gate, HANG};
use mwsr::{AsyncBuffer, Error, TryWriteError};

/// Short: each test waits this long for a sink that will not return.
const PATIENCE: Duration = Duration::from_millis(50);

/// A buffer of `capacity` whose sink waits at the gate on every call.
fn stuck(
    capacity: usize,
) -> (
    Arc<Gate>,
    AsyncBuffer<u32, impl mwsr::Sink<u32, Error = std::io::Error>>,
) {
    let gate = Arc::new(Gate::default());
    let g = gate.clone();
    let buf = AsyncBuffer::new(capacity, move |_: &[u32]| {
        g.pass();
        Ok(())
    });
    (gate, buf)
}

#[test]
fn write_timeout_gives_the_item_back_when_no_room_comes() {
    let (gate, buf) = stuck(2);
    buf.write(1).unwrap();
    gate.wait_entered(1); // the sink is stuck on [1]
    buf.write(2).unwrap();
    buf.write(3).unwrap(); // the other half is full too
    match buf.write_timeout(4, PATIENCE) {
        Err(TryWriteError::Full(4)) => {}
        other => panic!("expected Full(4), got {other:?}"),
    }
    assert_eq!(buf.stats().try_write_refusals, 1);
    gate.open();
    buf.write_timeout(4, HANG).unwrap(); // room comes once the sink returns
    buf.close().unwrap();
    assert_eq!(buf.stats().items_flushed, 4);
}

#[test]
fn flush_timeout_returns_and_the_flush_goes_on() {
    let (gate, buf) = stuck(8);
    buf.write(1).unwrap();
    assert!(matches!(buf.flush_timeout(PATIENCE), Err(Error::TimedOut)));
    // Not sticky: the buffer still works once the sink does.
    buf.write(2).unwrap();
    gate.open();
    buf.flush().unwrap();
    assert_eq!(buf.stats().items_flushed, 2);
    buf.close().unwrap();
}

#[test]
fn close_timeout_fails_the_buffer_for_good_and_counts_what_it_drops() {
    let (gate, buf) = stuck(4);
    buf.write(1).unwrap();
    gate.wait_entered(1); // stuck on [1]
    for i in 2..=5 {
        buf.write(i).unwrap(); // the other half: these never reach the sink
    }
    let err = buf.close_timeout(PATIENCE).unwrap_err();
    assert!(matches!(err, Error::TimedOut));
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::TimedOut
    );
    // Failed for good: every later call says so at once.
    assert!(matches!(buf.write(6), Err(Error::TimedOut)));
    assert!(matches!(
        buf.try_write(6),
        Err(TryWriteError::Failed(6, Error::TimedOut))
    ));
    assert!(matches!(buf.flush(), Err(Error::TimedOut)));
    assert!(matches!(buf.close(), Err(Error::TimedOut)));
    assert!(buf.is_closed());
    // The detached thread ends when the sink returns: [1] is flushed, the
    // four behind it dropped, nothing else reaches the sink.
    gate.open();
    let deadline = std::time::Instant::now() + HANG;
    loop {
        let stats = buf.stats();
        if stats.items_flushed + stats.items_dropped == 5 {
            assert_eq!((stats.items_flushed, stats.items_dropped), (1, 4));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the thread never finished: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(buf); // returns at once
}

#[test]
fn drop_after_a_timed_out_close_does_not_wait_for_the_sink() {
    let (gate, buf) = stuck(4);
    buf.write(1).unwrap();
    gate.wait_entered(1);
    assert!(buf.close_timeout(PATIENCE).is_err());
    drop(buf); // the sink is still stuck: drop must not wait for it
    gate.open();
}

#[test]
fn a_close_timeout_that_is_long_enough_closes_as_close_does() {
    let (gate, buf) = stuck(4);
    gate.open();
    for i in 0..10 {
        buf.write(i).unwrap();
    }
    buf.close_timeout(HANG).unwrap();
    let stats = buf.stats();
    assert_eq!((stats.items_flushed, stats.items_dropped), (10, 0));
}
