//! Workload 1, bytes/sync: writers write `SIZE`-byte messages into a shared
//! byte buffer flushed inline by whichever writer fills it; the sink
//! checksums each batch. `mwsr::Buffer<u8>` against the obvious hand-written
//! answer, a `parking_lot::Mutex<Vec<u8>>` swapped for a new vector when
//! full and consumed outside that lock (one batch at a time), and the
//! stronger variant with a spare vector per writer and no sink lock.

use std::sync::Arc;

use parking_lot::Mutex;

use super::{Checksum, Contender, Entry, Tally, check_bytes, checksum};

/// Bytes per batch for every contender.
pub const CAPACITY: usize = 64 * 1024;

pub fn entries<const SIZE: usize>() -> Vec<Entry> {
    vec![
        Entry {
            name: "mwsr::Buffer",
            build: |w| Arc::new(Mwsr::<SIZE>::new(w, mwsr::WriteOrder::Global)),
        },
        Entry {
            name: "mwsr::Buffer per-writer",
            build: |w| Arc::new(Mwsr::<SIZE>::new(w, mwsr::WriteOrder::PerWriter)),
        },
        Entry {
            name: "Mutex<Vec<u8>> (sink under a lock)",
            build: |w| Arc::new(MutexVec::<SIZE>::new(w)),
        },
        Entry {
            name: "Mutex<Vec<u8>> + spare, sink outside the lock",
            build: |w| Arc::new(SpareVec::<SIZE>::new(w)),
        },
    ]
}

/// Writer `w`'s message: different bytes per writer.
fn message<const SIZE: usize>(w: usize) -> [u8; SIZE] {
    std::array::from_fn(|i| (w * 31 + i) as u8)
}

/// Checks the bytes and checksum seen against `total` messages split evenly
/// over `writers`.
fn verify<const SIZE: usize>(tally: &Tally, writers: usize, total: u64) {
    let per_writer = total / writers as u64;
    let sum: u64 = (0..writers)
        .map(|w| checksum(&message::<SIZE>(w)) * per_writer)
        .sum();
    check_bytes(tally, total * SIZE as u64, sum);
}

struct Mwsr<const SIZE: usize> {
    buf: mwsr::Buffer<u8, Checksum>,
    tally: Arc<Tally>,
    writers: usize,
}

impl<const SIZE: usize> Mwsr<SIZE> {
    fn new(writers: usize, order: mwsr::WriteOrder) -> Self {
        let tally = Tally::new();
        let buf = mwsr::Buffer::builder()
            .capacity(CAPACITY)
            .write_order(order)
            .build(Checksum(tally.clone()))
            .unwrap();
        Self {
            buf,
            tally,
            writers,
        }
    }
}

impl<const SIZE: usize> Contender for Mwsr<SIZE> {
    fn write(&self, w: usize, count: u64) {
        let msg = message::<SIZE>(w);
        for _ in 0..count {
            self.buf.write(&msg).unwrap();
        }
    }

    fn finish_round(&self, _total: u64) {
        self.buf.flush().unwrap();
    }

    fn verify(&self, total: u64) {
        verify::<SIZE>(&self.tally, self.writers, total);
    }
}

struct MutexVec<const SIZE: usize> {
    vec: Mutex<Vec<u8>>,
    /// Held while a batch is consumed: batches reach the sink one at a
    /// time, as with `mwsr`, while writers go on filling the new vector.
    sink: Mutex<()>,
    tally: Arc<Tally>,
    writers: usize,
}

impl<const SIZE: usize> MutexVec<SIZE> {
    fn new(writers: usize) -> Self {
        Self {
            vec: Mutex::new(Vec::with_capacity(CAPACITY)),
            sink: Mutex::new(()),
            tally: Tally::new(),
            writers,
        }
    }

    /// Consumes a vector swapped out under the lock.
    fn flush(&self, full: Vec<u8>) {
        let _sink = self.sink.lock();
        self.tally.add(full.len() as u64, checksum(&full));
    }
}

impl<const SIZE: usize> Contender for MutexVec<SIZE> {
    fn write(&self, w: usize, count: u64) {
        let msg = message::<SIZE>(w);
        for _ in 0..count {
            let mut vec = self.vec.lock();
            if vec.len() + SIZE > CAPACITY {
                let full = std::mem::replace(&mut *vec, Vec::with_capacity(CAPACITY));
                drop(vec);
                self.flush(full);
                vec = self.vec.lock();
            }
            vec.extend_from_slice(&msg);
        }
    }

    fn finish_round(&self, _total: u64) {
        let rest = std::mem::take(&mut *self.vec.lock());
        self.flush(rest);
        *self.vec.lock() = Vec::with_capacity(CAPACITY);
    }

    fn verify(&self, total: u64) {
        verify::<SIZE>(&self.tally, self.writers, total);
    }
}

/// A `Mutex<Vec<u8>>` whose filling writer swaps in its own spare vector
/// (O(1), under the lock), checksums the full one outside any lock, then
/// clears it and keeps it as its next spare: no allocation per batch.
/// Unlike `mwsr` and `MutexVec`, two writers' batches may be checksummed
/// concurrently (and reach the tally in either order); for a checksum sink,
/// a commutative sum, that is fine.
struct SpareVec<const SIZE: usize> {
    vec: Mutex<Vec<u8>>,
    /// Each writer's spare vector (only writer `w` locks `spares[w]`).
    spares: Vec<Mutex<Vec<u8>>>,
    tally: Arc<Tally>,
    writers: usize,
}

impl<const SIZE: usize> SpareVec<SIZE> {
    fn new(writers: usize) -> Self {
        let spare = || Mutex::new(Vec::with_capacity(CAPACITY));
        Self {
            vec: spare(),
            spares: (0..writers).map(|_| spare()).collect(),
            tally: Tally::new(),
            writers,
        }
    }
}

impl<const SIZE: usize> Contender for SpareVec<SIZE> {
    fn write(&self, w: usize, count: u64) {
        let msg = message::<SIZE>(w);
        let mut spare = self.spares[w].lock();
        for _ in 0..count {
            let mut vec = self.vec.lock();
            if vec.len() + SIZE > CAPACITY {
                std::mem::swap(&mut *vec, &mut *spare);
                vec.extend_from_slice(&msg);
                drop(vec);
                self.tally.add(spare.len() as u64, checksum(&spare));
                spare.clear();
            } else {
                vec.extend_from_slice(&msg);
            }
        }
    }

    fn finish_round(&self, _total: u64) {
        let mut vec = self.vec.lock();
        self.tally.add(vec.len() as u64, checksum(&vec));
        vec.clear();
    }

    fn verify(&self, total: u64) {
        verify::<SIZE>(&self.tally, self.writers, total);
    }
}
