//! Per-writer mode (`WriteOrder::PerWriter`) beyond the stress tests: bad
//! settings, panicking clones, items left in lanes by threads that exited,
//! writes larger than the buffer, and the non-blocking writes.

mod common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::thread;

use common::{Counted, DropCounter, Gate};
use mwsr::{AsyncBuffer, Buffer, Error, WriteOrder};

type Batches<T> = Arc<Mutex<Vec<Vec<T>>>>;

fn recorder<T: Clone>() -> (Batches<T>, impl FnMut(&[T]) -> Result<(), Infallible>) {
    let batches: Batches<T> = Arc::default();
    let sink_batches = batches.clone();
    (batches, move |batch: &[T]| {
        sink_batches.lock().unwrap().push(batch.to_vec());
        Ok(())
    })
}

/// A per-writer `Buffer` builder of `capacity` items per half and `lanes`
/// lanes.
fn per_writer(capacity: usize, lanes: usize) -> mwsr::BufferBuilder {
    Buffer::builder()
        .capacity(capacity)
        .write_order(WriteOrder::PerWriter)
        .lanes(lanes)
}

/// The same for an `AsyncBuffer`.
fn async_per_writer(capacity: usize, lanes: usize) -> mwsr::Builder {
    AsyncBuffer::builder()
        .capacity(capacity)
        .write_order(WriteOrder::PerWriter)
        .lanes(lanes)
}

fn values(batch: &[Counted]) -> Vec<u64> {
    batch.iter().map(|c| c.value).collect()
}

#[test]
fn lanes_out_of_range_are_invalid_input_in_either_order() {
    for order in [WriteOrder::Global, WriteOrder::PerWriter] {
        for lanes in [0, 1025] {
            let sync = Buffer::builder()
                .write_order(order)
                .lanes(lanes)
                .build_fn(|_: &[u8]| Ok::<(), Infallible>(()));
            let Err(err) = sync else {
                panic!("lanes({lanes}) accepted")
            };
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
            assert!(err.to_string().contains("lanes"), "{err}");
            let spawned = AsyncBuffer::builder()
                .write_order(order)
                .lanes(lanes)
                .build_fn(|_: &[u8]| Ok::<(), std::io::Error>(()));
            let Err(err) = spawned else {
                panic!("lanes({lanes}) accepted")
            };
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        }
    }
    for lanes in [1, 1024] {
        Buffer::builder()
            .write_order(WriteOrder::PerWriter)
            .lanes(lanes)
            .build_fn(|_: &[u8]| Ok::<(), Infallible>(()))
            .unwrap();
    }
}

/// A clone that panics midway through a call leaves none of the call's
/// items in the stream and the chunk usable; every item is dropped once.
#[test]
fn a_panicking_clone_leaves_no_trace_of_its_write() {
    let counter = DropCounter::default();
    let (batches, mut record) = recorder::<u64>();
    let buf = per_writer(16, 1)
        .build_fn(move |batch: &[Counted]| record(&values(batch)))
        .unwrap();
    let fine = [counter.item(1), counter.item(2)];
    buf.write(&fine).unwrap();
    let bad = [counter.item(3), counter.item_panicking_at(4, 4)];
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| buf.write(&bad)));
    assert!(panicked.is_err(), "the clone's panic reaches the caller");
    buf.write(&[counter.item(5)]).unwrap(); // into the same chunk
    buf.flush().unwrap();
    drop(buf);
    drop((fine, bad));
    assert_eq!(*batches.lock().unwrap(), vec![vec![1, 2, 5]]);
    assert_eq!(counter.live(), 0);
}

/// Threads that write a little and exit leave partly filled chunks in
/// their lanes: `flush` delivers them, in each thread's order.
#[test]
fn flush_delivers_the_chunks_of_threads_that_exited() {
    const THREADS: u64 = 6; // more than the lanes: some share
    let (batches, sink) = recorder::<u64>();
    let buf = per_writer(64, 4).build_fn(sink).unwrap();
    thread::scope(|s| {
        for t in 0..THREADS {
            let buf = &buf;
            s.spawn(move || {
                buf.write(&[t * 10 + 1]).unwrap();
                buf.write(&[t * 10 + 2]).unwrap();
            });
        }
    });
    buf.flush().unwrap();
    let mut stream = batches.lock().unwrap().concat();
    assert_eq!(stream.len(), 2 * THREADS as usize);
    for t in 0..THREADS {
        let first = stream.iter().position(|&v| v == t * 10 + 1).unwrap();
        let second = stream.iter().position(|&v| v == t * 10 + 2).unwrap();
        assert!(
            first < second,
            "thread {t}'s writes out of order: {stream:?}"
        );
    }
    stream.sort_unstable();
    let mut expected: Vec<u64> = (0..THREADS)
        .flat_map(|t| [t * 10 + 1, t * 10 + 2])
        .collect();
    expected.sort_unstable();
    assert_eq!(stream, expected);
}

/// The same through the flusher thread, with no `flush`: `close` delivers
/// what the exited threads left.
#[test]
fn close_delivers_the_chunks_of_threads_that_exited() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink_seen = seen.clone();
    let buf = async_per_writer(64, 2)
        .build_fn(move |batch: &[u64]| {
            sink_seen.lock().unwrap().extend_from_slice(batch);
            Ok::<(), std::io::Error>(())
        })
        .unwrap();
    thread::scope(|s| {
        for t in 0..3u64 {
            let buf = &buf;
            s.spawn(move || buf.write(t).unwrap());
        }
    });
    buf.close().unwrap();
    let mut stream = seen.lock().unwrap().clone();
    stream.sort_unstable();
    assert_eq!(stream, [0, 1, 2]);
}

/// Items left in lanes when the buffer is dropped after its sink failed
/// are dropped, each once.
#[test]
fn items_in_lanes_are_dropped_once_when_the_sink_failed() {
    let counter = DropCounter::default();
    let buf = per_writer(8, 2)
        .build_fn(|_: &[Counted]| Err::<(), _>("the disk is gone"))
        .unwrap();
    thread::scope(|s| {
        for t in 0..3 {
            let (buf, counter) = (&buf, &counter);
            s.spawn(move || buf.write(&[counter.item(t)]).unwrap());
        }
    });
    assert!(matches!(buf.flush(), Err(Error::Sink(_))));
    thread::scope(|s| {
        let (buf, counter) = (&buf, &counter);
        s.spawn(move || assert!(buf.write(&[counter.item(9)]).is_err()));
    });
    drop(buf);
    assert_eq!(counter.live(), 0);
}

/// A write larger than the buffer goes through the spare half; the
/// writer's earlier write, still in its chunk, comes before it.
#[test]
fn a_write_larger_than_the_buffer_follows_the_writers_earlier_writes() {
    let (batches, sink) = recorder::<u32>();
    let buf = per_writer(4, 1).build_fn(sink).unwrap();
    buf.write(&[1]).unwrap();
    buf.write_v(&[&[2, 3, 4][..], &[5, 6, 7]]).unwrap();
    buf.write(&[8]).unwrap();
    buf.flush().unwrap();
    assert_eq!(batches.lock().unwrap().concat(), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(batches.lock().unwrap().iter().all(|b| b.len() <= 4));
}

/// `try_write` on a per-writer `Buffer` never calls the sink: it fills
/// both halves and is then refused, handing the items back.
#[test]
fn buffer_try_write_fills_both_halves_then_refuses() {
    let (batches, sink) = recorder::<u8>();
    let buf = per_writer(4, 1).build_fn(sink).unwrap();
    for pair in [b"ab", b"cd", b"ef", b"gh"] {
        assert_eq!(buf.try_write(pair).unwrap(), 2);
    }
    let back = buf.try_write(b"ij").unwrap_err();
    assert!(back.is_full());
    assert_eq!(back.into_inner(), b"ij");
    assert!(batches.lock().unwrap().is_empty(), "try_write ran the sink");
    buf.write(b"kl").unwrap();
    buf.flush().unwrap();
    assert_eq!(batches.lock().unwrap().concat(), b"abcdefghkl");
}

/// With the sink stuck, per-writer `try_write_slice` is refused once both
/// halves are full, and lossy `writeln!` drops whole lines; everything
/// accepted arrives whole.
#[test]
fn non_blocking_writes_refuse_or_drop_whole_writes() {
    for lossy in [false, true] {
        let gate = Arc::new(Gate::default());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (sink_gate, sink_seen) = (gate.clone(), seen.clone());
        let log = async_per_writer(32, 2)
            .lossy(lossy)
            .build_fn(move |batch: &[u8]| {
                sink_gate.pass();
                sink_seen.lock().unwrap().extend_from_slice(batch);
                Ok::<(), std::io::Error>(())
            })
            .unwrap();
        let mut accepted = Vec::new();
        for n in 0..40 {
            let line = format!("line {n:02}\n");
            let ok = if lossy {
                let before = log.stats().writes_dropped;
                writeln!(&log, "line {n:02}").unwrap();
                log.stats().writes_dropped == before
            } else {
                log.try_write_slice(line.as_bytes()).is_ok()
            };
            if ok {
                accepted.push(line);
            }
        }
        assert!(accepted.len() < 40, "nothing was refused (lossy: {lossy})");
        gate.open();
        log.close().unwrap();
        let delivered = String::from_utf8(seen.lock().unwrap().clone()).unwrap();
        assert_eq!(delivered, accepted.concat(), "lossy: {lossy}");
    }
}
