//! Single-thread overhead of a 16-byte write: `Buffer<u8>` against the floor
//! any thread-safe design pays (one uncontended atomic `fetch_add` to reserve
//! a range, then a copy into a preallocated buffer) and against a plain `Vec`
//! (no synchronisation at all). Same sink work for all: a running sum.

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CAPACITY: usize = 64 * 1024;
const MSG: [u8; 16] = *b"0123456789abcdef";

fn consume(sum: &mut u64, batch: &[u8]) {
    *sum = sum.wrapping_add(batch.iter().map(|&b| u64::from(b)).sum::<u64>());
}

fn single_writer(c: &mut Criterion) {
    let mut group = c.benchmark_group("single_writer_16B");
    group.throughput(Throughput::Elements(1));

    let mut sum = 0u64;
    let buf = mwsr::Buffer::new(CAPACITY, |batch: &[u8]| {
        consume(&mut sum, batch);
        Ok::<(), Infallible>(())
    });
    group.bench_function("mwsr::Buffer", |b| {
        b.iter(|| buf.write(black_box(&MSG)).unwrap())
    });
    drop(buf);

    // The floor: reserve with one atomic RMW, copy, flush when full.
    let mut floor = vec![0u8; CAPACITY];
    let pos = AtomicUsize::new(0);
    let mut floor_sum = 0u64;
    group.bench_function("floor: fetch_add + copy", |b| {
        b.iter(|| {
            // ORDERING: AcqRel/Release, what a thread-safe reservation pays.
            let at = pos.fetch_add(MSG.len(), Ordering::AcqRel);
            if at + MSG.len() > CAPACITY {
                consume(&mut floor_sum, &floor[..at]);
                pos.store(0, Ordering::Release);
                floor[..MSG.len()].copy_from_slice(black_box(&MSG));
                pos.store(MSG.len(), Ordering::Release);
            } else {
                floor[at..at + MSG.len()].copy_from_slice(black_box(&MSG));
            }
        })
    });

    let mut vec = Vec::with_capacity(CAPACITY);
    let mut vec_sum = 0u64;
    group.bench_function("Vec::extend_from_slice", |b| {
        b.iter(|| {
            if vec.len() + MSG.len() > CAPACITY {
                consume(&mut vec_sum, &vec);
                vec.clear();
            }
            vec.extend_from_slice(black_box(&MSG));
        })
    });
    group.finish();
    black_box((sum, floor_sum, vec_sum));
}

criterion_group!(benches, single_writer);
criterion_main!(benches);
