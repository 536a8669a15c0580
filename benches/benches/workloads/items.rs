//! Workload 2, items/async: writers send single `u64`s; a consumer thread
//! sums them. `mwsr::AsyncBuffer<u64>` (its flusher thread is the consumer)
//! against the channels users would pick instead, each drained in batches
//! the fastest way its API offers, and the LMAX disruptor.

use std::convert::Infallible;
use std::sync::Arc;

use disruptor::{BusySpin, Producer};
use mwsr::WriteOrder::{Global, PerWriter};
use parking_lot::Mutex;

use super::{Contender, Entry, Piped, Tally};

/// Items per `AsyncBuffer` half; the channels and the ring buffer get as
/// many slots as both halves together.
pub const CAPACITY: usize = 4096;
const SLOTS: usize = 2 * CAPACITY;
/// The smaller size an independent run used: `kanal::bounded(1024)`, and
/// an `AsyncBuffer` of 1024 items per half (2048 in all) beside it.
const SMALL: usize = 1024;

pub fn entries() -> Vec<Entry> {
    vec![
        Entry {
            name: "mwsr::AsyncBuffer",
            build: |w| Arc::new(Mwsr::new(w, CAPACITY, Global)),
        },
        Entry {
            name: "mwsr::AsyncBuffer (1024 per half)",
            build: |w| Arc::new(Mwsr::new(w, SMALL, Global)),
        },
        Entry {
            name: "mwsr::AsyncBuffer per-writer",
            build: |w| Arc::new(Mwsr::new(w, CAPACITY, PerWriter)),
        },
        Entry {
            name: "mwsr::AsyncBuffer per-writer (1024 per half)",
            build: |w| Arc::new(Mwsr::new(w, SMALL, PerWriter)),
        },
        Entry {
            name: "crossbeam-channel",
            build: |w| {
                let (tx, rx) = crossbeam_channel::bounded(SLOTS);
                piped(
                    w,
                    move |v| tx.send(v).unwrap(),
                    move |tally| {
                        while let Ok(first) = rx.recv() {
                            tally_batch(tally, first, rx.try_iter());
                        }
                    },
                )
            },
        },
        Entry {
            name: "kanal drain_into (8192)",
            build: |w| kanal_peer::<SLOTS>(w),
        },
        Entry {
            name: "kanal drain_into (1024)",
            build: |w| kanal_peer::<SMALL>(w),
        },
        Entry {
            name: "flume drain",
            build: |w| {
                let (tx, rx) = flume::bounded(SLOTS);
                piped(
                    w,
                    move |v| tx.send(v).unwrap(),
                    move |tally| {
                        while let Ok(first) = rx.recv() {
                            tally_batch(tally, first, rx.drain());
                        }
                    },
                )
            },
        },
        Entry {
            name: "std sync_channel",
            build: |w| {
                let (tx, rx) = std::sync::mpsc::sync_channel(SLOTS);
                piped(
                    w,
                    move |v| tx.send(v).unwrap(),
                    move |tally| {
                        while let Ok(first) = rx.recv() {
                            tally_batch(tally, first, rx.try_iter());
                        }
                    },
                )
            },
        },
        Entry {
            name: "disruptor",
            build: |w| Arc::new(Disruptor::new(w)),
        },
    ]
}

/// A channel contender: `send` sends an item, `consume` drains the channel
/// in the consumer thread.
fn piped(
    writers: usize,
    send: impl Fn(u64) + Send + Sync + 'static,
    consume: impl FnOnce(&Tally) + Send + 'static,
) -> Arc<dyn Contender> {
    Piped::build(writers, 1, verify, move |w| send(item(w)), consume)
}

/// `kanal::bounded(N)`, its consumer a `recv` then a `drain_into`.
fn kanal_peer<const N: usize>(writers: usize) -> Arc<dyn Contender> {
    let (tx, rx) = kanal::bounded(N);
    piped(
        writers,
        move |v| tx.send(v).unwrap(),
        move |tally| {
            let mut batch = Vec::with_capacity(N);
            while let Ok(first) = rx.recv() {
                batch.push(first);
                let _ = rx.drain_into(&mut batch);
                tally.add(batch.len() as u64, batch.iter().sum());
                batch.clear();
            }
        },
    )
}

/// Adds one drained batch, `first` and what came with it, to the tally.
fn tally_batch(tally: &Tally, first: u64, rest: impl Iterator<Item = u64>) {
    let (n, sum) = rest.fold((1, first), |(n, s), v| (n + 1, s + v));
    tally.add(n, sum);
}

/// Writer `w`'s item.
fn item(w: usize) -> u64 {
    w as u64 + 1
}

fn verify(tally: &Tally, writers: usize, total: u64) {
    let per_writer = total / writers as u64;
    let sum: u64 = (0..writers).map(|w| item(w) * per_writer).sum();
    assert_eq!(tally.seen(), total, "items lost or duplicated");
    assert_eq!(tally.sum(), sum, "items corrupted");
}

struct Sum(Arc<Tally>);

impl mwsr::Sink<u64> for Sum {
    type Error = Infallible;

    fn consume(&mut self, batch: &[u64]) -> Result<(), Infallible> {
        self.0.add(batch.len() as u64, batch.iter().sum());
        Ok(())
    }
}

struct Mwsr {
    buf: mwsr::AsyncBuffer<u64, Sum>,
    tally: Arc<Tally>,
    writers: usize,
}

impl Mwsr {
    /// `capacity` items per half.
    fn new(writers: usize, capacity: usize, order: mwsr::WriteOrder) -> Self {
        let tally = Tally::new();
        let buf = mwsr::AsyncBuffer::builder()
            .capacity(capacity)
            .write_order(order)
            .build(Sum(tally.clone()))
            .unwrap();
        Self {
            buf,
            tally,
            writers,
        }
    }
}

impl Contender for Mwsr {
    fn write(&self, w: usize, count: u64) {
        for _ in 0..count {
            self.buf.write(item(w)).unwrap();
        }
    }

    fn finish_round(&self, _total: u64) {
        self.buf.flush().unwrap();
    }

    fn verify(&self, total: u64) {
        verify(&self.tally, self.writers, total);
    }
}

type RingProducer = disruptor::MultiProducer<u64, disruptor::SingleConsumerBarrier>;

/// A multi-producer disruptor: one producer handle per writer (a
/// `MultiProducer` is used through `&mut`), a processor thread that sums.
struct Disruptor {
    producers: Vec<Mutex<Option<RingProducer>>>,
    tally: Arc<Tally>,
    writers: usize,
}

impl Disruptor {
    fn new(writers: usize) -> Self {
        let tally = Tally::new();
        let mut batch = (0u64, 0u64);
        let processor = {
            let tally = tally.clone();
            move |e: &u64, _seq: i64, end_of_batch: bool| {
                batch = (batch.0 + 1, batch.1 + *e);
                if end_of_batch {
                    tally.add(batch.0, batch.1);
                    batch = (0, 0);
                }
            }
        };
        let first = disruptor::build_multi_producer(SLOTS, || 0u64, BusySpin)
            .handle_events_with(processor)
            .build();
        let mut producers: Vec<_> = (1..writers).map(|_| first.clone()).collect();
        producers.push(first);
        Self {
            producers: producers.into_iter().map(|p| Mutex::new(Some(p))).collect(),
            tally,
            writers,
        }
    }
}

impl Contender for Disruptor {
    fn write(&self, w: usize, count: u64) {
        let mut producer = self.producers[w].lock();
        let producer = producer.as_mut().unwrap();
        for _ in 0..count {
            producer.publish(|e| *e = item(w));
        }
    }

    fn finish_round(&self, total: u64) {
        self.tally.wait_for(total);
    }

    fn verify(&self, total: u64) {
        verify(&self.tally, self.writers, total);
    }
}

impl Drop for Disruptor {
    fn drop(&mut self) {
        // The processor thread stops once the last producer is dropped.
        for p in &self.producers {
            drop(p.lock().take());
        }
    }
}
