//! Many threads, millions of items of random lengths and random `write_v`
//! groups, through a small `Buffer`: nothing lost, duplicated or reordered per
//! writer, and every call's items contiguous in the stream.

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Barrier};
use std::thread;

use common::{StreamChecker, encode};
use mwsr::{Buffer, Sink};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

struct Check(StreamChecker);

impl Sink<u64> for Check {
    type Error = Infallible;
    fn consume(&mut self, batch: &[u64]) -> Result<(), Infallible> {
        self.0.batch(batch);
        Ok(())
    }
}

/// Writes `items` items as `writer`: random single writes and `write_v`
/// groups, now and then one larger than the capacity.
fn run_writer(buf: &Buffer<u64, Check>, writer: u64, items: u64, seed: u64) {
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
        if rng.random_bool(0.5) {
            assert_eq!(buf.write(&call).unwrap(), call.len());
        } else {
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

fn stress(threads: u64, items_per_thread: u64, capacity: usize) {
    let buf = Arc::new(Buffer::new(capacity, Check(StreamChecker::default())));
    let start = Arc::new(Barrier::new(threads as usize));
    let handles: Vec<_> = (0..threads)
        .map(|w| {
            let (buf, start) = (buf.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                run_writer(&buf, w, items_per_thread, 0x5eed + w);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let buf = Arc::into_inner(buf).unwrap();
    let (Check(checker), result) = buf.into_inner();
    result.unwrap();
    let expected: HashMap<u64, u64> = (0..threads).map(|w| (w, items_per_thread)).collect();
    checker.finish(&expected);
    assert_eq!(checker.items, threads * items_per_thread);
    assert!(checker.largest_batch <= 3 * capacity);
}

#[test]
fn four_writers_two_million_items() {
    stress(4, 500_000, 1024);
}

#[test]
fn eight_writers_tiny_buffer() {
    // A capacity close to the write sizes: constant swapping and staging.
    stress(8, 100_000, 24);
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
