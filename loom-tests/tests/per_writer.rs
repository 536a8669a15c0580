//! loom models of per-writer mode (`WriteOrder::PerWriter`): claiming a
//! chunk, filling it under the lane's lock, the swap collecting partly filled
//! chunks, flush and close racing writers, a writer exiting with a partly
//! filled chunk, and threads sharing a lane. In these models the main thread
//! and the spawned ones get lanes by their loom thread number.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use mwsr::{AsyncBuffer, Buffer, Error, Sink, WriteOrder};
use mwsr_loom_tests::{assert_interleaving, recording, stream};

/// A per-writer `Buffer` of `capacity` items per half over `lanes` lanes.
/// Chunks are `capacity / (2 * lanes)` items long (at least 1).
fn buffer<S: Sink<u32>>(capacity: usize, lanes: usize, sink: S) -> Buffer<u32, S> {
    Buffer::builder()
        .capacity(capacity)
        .write_order(WriteOrder::PerWriter)
        .lanes(lanes)
        .build(sink)
        .unwrap()
}

/// The same as an `AsyncBuffer`.
fn async_buffer<S>(capacity: usize, lanes: usize, sink: S) -> AsyncBuffer<u32, S>
where
    S: Sink<u32> + Send + 'static,
    S::Error: Send + Sync,
{
    AsyncBuffer::builder()
        .capacity(capacity)
        .write_order(WriteOrder::PerWriter)
        .lanes(lanes)
        .build(sink)
        .unwrap()
}

/// Two writers claim chunks of 2 and fill them, one with two calls, while
/// a flush collects whatever the chunks hold: nothing lost or repeated,
/// each writer's calls in order.
#[test]
fn writers_fill_their_chunks_while_a_flush_collects_them() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(buffer(8, 2, sink));
        let a = {
            let buf = buf.clone();
            thread::spawn(move || {
                buf.write(&[1]).unwrap();
                buf.write(&[2]).unwrap(); // into the chunk claimed for [1]
            })
        };
        buf.write(&[3]).unwrap();
        buf.flush().unwrap();
        assert!(
            stream(&seen).contains(&3),
            "flush returned before its own write was delivered"
        );
        a.join().unwrap();
        buf.flush().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1], &[2]], &[&[3]]]);
    });
}

/// A thread that exits with a partly filled chunk leaves it in its lane:
/// the next flush collects it, whether or not it raced the writes.
#[test]
fn a_flush_collects_the_partly_filled_chunk_of_an_exited_writer() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(buffer(8, 2, sink));
        let a = {
            let buf = buf.clone();
            thread::spawn(move || buf.write(&[1]).unwrap()) // 1 of a chunk of 2
        };
        buf.flush().unwrap(); // races the write: may or may not take it
        a.join().unwrap();
        buf.flush().unwrap();
        assert_eq!(stream(&seen), [1]);
    });
}

/// One writer's chunk is collected by one flush after another while it
/// keeps writing: each collected chunk is detached, so its next write claims
/// in the open half, and its writes arrive once each, in order.
#[test]
fn a_writer_keeps_its_order_across_collections() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(buffer(4, 1, sink)); // one lane, chunks of 2
        let a = {
            let buf = buf.clone();
            thread::spawn(move || {
                for i in [1, 2, 3] {
                    buf.write(&[i]).unwrap();
                }
            })
        };
        buf.flush().unwrap();
        buf.flush().unwrap();
        a.join().unwrap();
        buf.flush().unwrap();
        assert_eq!(stream(&seen), [1, 2, 3]);
    });
}

/// Chunks of one slot: every write claims, writers find the half full,
/// swap, and wait for each other's flushes. Batches never exceed the
/// capacity.
#[test]
fn writers_claim_again_when_chunks_and_halves_fill() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(buffer(2, 2, sink));
        let a = {
            let buf = buf.clone();
            thread::spawn(move || {
                for i in [1, 2] {
                    buf.write(&[i]).unwrap();
                }
            })
        };
        for i in [3, 4] {
            buf.write(&[i]).unwrap();
        }
        a.join().unwrap();
        buf.flush().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1], &[2]], &[&[3], &[4]]]);
        assert!(seen.lock().unwrap().iter().all(|b| b.len() <= 2));
    });
}

/// Two threads sharing one lane serialise on its lock and fill the same
/// chunk; a call that does not fit retires it and claims the next.
#[test]
fn threads_sharing_a_lane_fill_one_chunk() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(buffer(4, 1, sink)); // one lane, chunks of 2
        let a = {
            let buf = buf.clone();
            thread::spawn(move || buf.write(&[1, 2]).unwrap())
        };
        buf.write(&[3]).unwrap();
        a.join().unwrap();
        buf.flush().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1, 2]], &[&[3]]]);
    });
}

/// A `write_v` longer than a chunk claims a chunk of its own length and
/// stays one contiguous run against a concurrent writer.
#[test]
fn write_v_stays_whole_across_chunks() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(buffer(4, 2, sink)); // chunks of 1
        let a = {
            let buf = buf.clone();
            thread::spawn(move || buf.write_v(&[&[1][..], &[2, 3]]).unwrap())
        };
        buf.write(&[4]).unwrap();
        a.join().unwrap();
        buf.flush().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1, 2, 3]], &[&[4]]]);
    });
}

/// The flusher thread swaps while a writer fills its chunk; `close`
/// delivers the rest.
#[test]
fn async_writes_race_the_flushers_swap() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(async_buffer(4, 2, sink)); // chunks of 1
        let writer = {
            let buf = buf.clone();
            thread::spawn(move || {
                buf.write(1).unwrap();
                buf.write(2).unwrap();
            })
        };
        buf.write(3).unwrap();
        writer.join().unwrap();
        buf.close().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1], &[2]], &[&[3]]]);
    });
}

/// `flush()` returns only after the caller's write, sitting in a partly
/// filled chunk, went through the sink.
#[test]
fn async_flush_waits_for_a_write_in_a_partly_filled_chunk() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(async_buffer(8, 2, sink)); // chunks of 2
        let other = {
            let buf = buf.clone();
            thread::spawn(move || buf.write(2).unwrap())
        };
        buf.write(1).unwrap();
        buf.flush().unwrap();
        assert!(
            stream(&seen).contains(&1),
            "flush returned before its write was delivered"
        );
        other.join().unwrap();
        buf.close().unwrap();
        assert_interleaving(&stream(&seen), &[&[&[1]], &[&[2]]]);
    });
}

/// Writes racing `close` either land in the last batch or get `Closed`,
/// also when a writer's chunk was claimed before the close sealed its
/// half.
#[test]
fn async_close_loses_no_accepted_write() {
    loom::model(|| {
        let (seen, sink) = recording();
        let buf = Arc::new(async_buffer(4, 1, sink)); // one lane, chunks of 2
        let writer = {
            let buf = buf.clone();
            thread::spawn(move || {
                let mut accepted = Vec::new();
                for i in [1, 2] {
                    match buf.write(i) {
                        Ok(()) => accepted.push(i),
                        Err(Error::Closed) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                accepted
            })
        };
        buf.close().unwrap();
        let accepted = writer.join().unwrap();
        assert_eq!(
            stream(&seen),
            accepted,
            "accepted writes and delivered items differ"
        );
    });
}
