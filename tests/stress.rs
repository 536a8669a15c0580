//! Many threads, millions of items of random lengths and random `write_v`
//! groups, through a small `Buffer` or `AsyncBuffer`: nothing lost,
//! duplicated or reordered per writer, and every call's items contiguous in
//! the stream. Each runs in both write orders.

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use common::{StreamChecker, encode};
use mwsr::{AsyncBuffer, Buffer, Error, Sink, WriteOrder};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Checks the stream as it arrives; the checker is shared so that the test
/// can read it after the buffer is gone.
struct Check(Arc<Mutex<StreamChecker>>);

impl Sink<u64> for Check {
    type Error = Infallible;
    fn consume(&mut self, batch: &[u64]) -> Result<(), Infallible> {
        self.0.lock().unwrap().batch(batch);
        Ok(())
    }
}

/// The calls the stress writers make, on either buffer type.
trait Target: Sync {
    fn capacity(&self) -> usize;
    fn write_one(&self, item: u64) -> Result<(), Error<Infallible>>;
    fn write_slice(&self, items: &[u64]) -> Result<usize, Error<Infallible>>;
    fn write_v(&self, parts: &[Vec<u64>]) -> Result<usize, Error<Infallible>>;
}

impl Target for Buffer<u64, Check> {
    fn capacity(&self) -> usize {
        self.capacity()
    }
    fn write_one(&self, item: u64) -> Result<(), Error<Infallible>> {
        self.write(&[item]).map(drop)
    }
    fn write_slice(&self, items: &[u64]) -> Result<usize, Error<Infallible>> {
        self.write(items)
    }
    fn write_v(&self, parts: &[Vec<u64>]) -> Result<usize, Error<Infallible>> {
        self.write_v(parts)
    }
}

impl Target for AsyncBuffer<u64, Check> {
    fn capacity(&self) -> usize {
        self.capacity()
    }
    fn write_one(&self, item: u64) -> Result<(), Error<Infallible>> {
        self.write(item)
    }
    fn write_slice(&self, items: &[u64]) -> Result<usize, Error<Infallible>> {
        self.write_slice(items)
    }
    fn write_v(&self, parts: &[Vec<u64>]) -> Result<usize, Error<Infallible>> {
        self.write_v(parts)
    }
}

/// Writes `items` items as `writer`: random single items, slices and
/// `write_v` groups, now and then one larger than the capacity.
fn run_writer(buf: &impl Target, writer: u64, items: u64, seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut seq = 0;
    let mut parts: Vec<Vec<u64>> = Vec::new();
    while seq < items {
        let big = rng.random_ratio(1, 200);
        let len = if big {
            rng.random_range(1..=3 * buf.capacity())
        } else {
            rng.random_range(1..=40)
        };
        let len = len.min((items - seq) as usize) as u64;
        let call: Vec<u64> = (0..len)
            .map(|i| encode(writer, seq + i, len - 1 - i))
            .collect();
        seq += len;
        match rng.random_range(0..3) {
            0 if len == 1 => buf.write_one(call[0]).unwrap(),
            0 | 1 => assert_eq!(buf.write_slice(&call).unwrap(), call.len()),
            _ => {
                // Cut the call into a random number of parts, some empty.
                parts.clear();
                let mut rest = &call[..];
                while !rest.is_empty() {
                    let k = rng.random_range(0..=rest.len().min(16));
                    parts.push(rest[..k].to_vec());
                    rest = &rest[k..];
                }
                assert_eq!(buf.write_v(&parts).unwrap(), call.len());
            }
        }
    }
}

fn write_from_threads(buf: &impl Target, threads: u64, items_per_thread: u64) {
    let start = Barrier::new(threads as usize);
    thread::scope(|s| {
        for w in 0..threads {
            let start = &start;
            s.spawn(move || {
                start.wait();
                run_writer(buf, w, items_per_thread, 0x5eed + w);
            });
        }
    });
}

fn check(checker: &StreamChecker, threads: u64, items_per_thread: u64, capacity: usize) {
    let expected: HashMap<u64, u64> = (0..threads).map(|w| (w, items_per_thread)).collect();
    checker.finish(&expected);
    assert_eq!(checker.items, threads * items_per_thread);
    assert!(checker.largest_batch <= 3 * capacity);
}

/// The order, and in per-writer mode the lanes (`None`: the default).
type Mode = (WriteOrder, Option<usize>);

const GLOBAL: Mode = (WriteOrder::Global, None);
const PER_WRITER: Mode = (WriteOrder::PerWriter, None);
/// Fewer lanes than writers: threads share lanes.
const SHARED_LANES: Mode = (WriteOrder::PerWriter, Some(3));

fn stress_buffer(threads: u64, items_per_thread: u64, capacity: usize, (order, lanes): Mode) {
    let checker = Arc::default();
    let mut builder = Buffer::builder().capacity(capacity).write_order(order);
    if let Some(lanes) = lanes {
        builder = builder.lanes(lanes);
    }
    let buf = builder.build(Check(Arc::clone(&checker))).unwrap();
    write_from_threads(&buf, threads, items_per_thread);
    buf.flush().unwrap();
    check(
        &checker.lock().unwrap(),
        threads,
        items_per_thread,
        capacity,
    );
    assert_eq!(buf.stats().items_flushed, threads * items_per_thread);
}

fn stress_async(threads: u64, items_per_thread: u64, capacity: usize, (order, lanes): Mode) {
    let checker = Arc::default();
    let mut builder = AsyncBuffer::builder().capacity(capacity).write_order(order);
    if let Some(lanes) = lanes {
        builder = builder.lanes(lanes);
    }
    let buf = builder.build(Check(Arc::clone(&checker))).unwrap();
    write_from_threads(&buf, threads, items_per_thread);
    buf.close().unwrap();
    check(
        &checker.lock().unwrap(),
        threads,
        items_per_thread,
        capacity,
    );
    let stats = buf.stats();
    assert_eq!(stats.items_flushed, threads * items_per_thread);
    assert!(stats.largest_batch as usize <= 3 * capacity);
}

#[test]
fn buffer_four_writers_two_million_items() {
    stress_buffer(4, 500_000, 1024, GLOBAL);
}

#[test]
fn buffer_eight_writers_tiny_buffer() {
    // A capacity close to the write sizes: constant swapping and staging.
    stress_buffer(8, 100_000, 24, GLOBAL);
}

#[test]
fn async_four_writers_two_million_items() {
    stress_async(4, 500_000, 1024, GLOBAL);
}

#[test]
fn async_eight_writers_tiny_buffer() {
    stress_async(8, 100_000, 24, GLOBAL);
}

#[test]
fn per_writer_buffer_four_writers_two_million_items() {
    stress_buffer(4, 500_000, 1024, PER_WRITER);
}

#[test]
fn per_writer_buffer_eight_writers_tiny_buffer() {
    // Chunks of one slot: a claim on nearly every write.
    stress_buffer(8, 100_000, 24, PER_WRITER);
}

#[test]
fn per_writer_buffer_eight_writers_sharing_three_lanes() {
    stress_buffer(8, 100_000, 1024, SHARED_LANES);
}

#[test]
fn per_writer_async_four_writers_two_million_items() {
    stress_async(4, 500_000, 1024, PER_WRITER);
}

#[test]
fn per_writer_async_eight_writers_tiny_buffer() {
    stress_async(8, 100_000, 24, PER_WRITER);
}

#[test]
fn per_writer_async_eight_writers_sharing_three_lanes() {
    stress_async(8, 100_000, 1024, SHARED_LANES);
}

/// The checker itself must catch what the stress tests look for.
#[test]
fn the_checker_catches_loss_duplication_and_interleaving() {
    let caught = |stream: &[u64]| {
        std::panic::catch_unwind(|| StreamChecker::default().batch(stream)).is_err()
    };
    assert!(!caught(&[
        encode(0, 0, 1),
        encode(0, 1, 0),
        encode(1, 0, 0)
    ]));
    assert!(caught(&[encode(0, 0, 0), encode(0, 2, 0)]), "a lost item");
    assert!(caught(&[encode(0, 0, 0), encode(0, 0, 0)]), "a duplicate");
    assert!(caught(&[encode(0, 1, 0), encode(0, 0, 0)]), "reordering");
    assert!(
        caught(&[encode(0, 0, 1), encode(1, 0, 0), encode(0, 1, 0)]),
        "an interleaved call"
    );
}
