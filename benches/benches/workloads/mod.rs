//! The benchmark workloads and their contenders, shared by the criterion
//! bench (`benches/throughput.rs`) and the `compare` example
//! (`examples/compare.rs`) of the `mwsr-benches` package, so that both
//! measure exactly the same code.
//!
//! A [`Rig`] spawns the writer threads once and releases them with a barrier
//! for each round; a round ends when the consumer has seen every message,
//! not when the writers return. Every contender does the same work per
//! message in its consumer (a checksum), and [`Contender::verify`] checks
//! that nothing was lost.
#![allow(dead_code)] // each bench binary uses a subset

pub mod bytes;
pub mod items;
pub mod log_file;
pub mod rolling;
pub mod socket;
pub mod write_v;

#[path = "../../../examples/support/mod.rs"]
pub mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// One way of getting messages from many writer threads to one consumer.
pub trait Contender: Send + Sync + 'static {
    /// Writer `writer` writes `count` more messages.
    fn write(&self, writer: usize, count: u64);
    /// Returns once the consumer has seen every message of all rounds so far
    /// (`total` messages); the writers have returned.
    fn finish_round(&self, total: u64);
    /// Panics unless the consumer saw exactly the `total` messages written.
    fn verify(&self, total: u64);
    /// `write` system calls so far, where the workload counts them.
    fn write_calls(&self) -> Option<u64> {
        None
    }
}

/// A named way to build a contender for `writers` threads.
pub struct Entry {
    pub name: &'static str,
    pub build: fn(writers: usize) -> Arc<dyn Contender>,
}

/// Writer threads spawned once, released by a barrier for each round.
pub struct Rig {
    contender: Arc<dyn Contender>,
    writers: usize,
    per_writer: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    start: Arc<Barrier>,
    done: Arc<Barrier>,
    threads: Vec<JoinHandle<()>>,
    total: u64,
}

impl Rig {
    pub fn new(contender: Arc<dyn Contender>, writers: usize) -> Self {
        let per_writer = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let start = Arc::new(Barrier::new(writers + 1));
        let done = Arc::new(Barrier::new(writers + 1));
        let threads = (0..writers)
            .map(|w| {
                let (contender, per_writer, stop) =
                    (contender.clone(), per_writer.clone(), stop.clone());
                let (start, done) = (start.clone(), done.clone());
                thread::spawn(move || {
                    loop {
                        start.wait();
                        // ORDERING: Relaxed: the barrier orders these with the main thread.
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        contender.write(w, per_writer.load(Ordering::Relaxed));
                        done.wait();
                    }
                })
            })
            .collect();
        Self {
            contender,
            writers,
            per_writer,
            stop,
            start,
            done,
            threads,
            total: 0,
        }
    }

    /// One round: every writer writes `per_writer` messages. Returns the
    /// time from releasing the writers until the consumer has seen them all.
    pub fn round(&mut self, per_writer: u64) -> Duration {
        // ORDERING: Relaxed: the start barrier publishes it to the writers.
        self.per_writer.store(per_writer, Ordering::Relaxed);
        self.total += per_writer * self.writers as u64;
        let started = Instant::now();
        self.start.wait();
        self.done.wait();
        self.contender.finish_round(self.total);
        started.elapsed()
    }

    /// Messages written in all rounds so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Checks the consumer's output (see [`Contender::verify`]).
    pub fn verify(&self) {
        self.contender.verify(self.total);
    }

    pub fn write_calls(&self) -> Option<u64> {
        self.contender.write_calls()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        // ORDERING: Relaxed: the start barrier publishes it to the writers.
        self.stop.store(true, Ordering::Relaxed);
        self.start.wait();
        for t in self.threads.drain(..) {
            t.join().expect("a writer thread panicked");
        }
    }
}

/// A contender built from a channel: `send(writer)` sends one message, and
/// a consumer thread drains the channel into a [`Tally`] until every sender
/// is gone.
pub struct Piped<F> {
    send: Option<F>,
    consumer: Option<JoinHandle<()>>,
    tally: Arc<Tally>,
    /// What the tally counts per message (1, or its bytes).
    units: u64,
    verify: fn(&Tally, usize, u64),
    writers: usize,
}

impl<F: Fn(usize) + Send + Sync + 'static> Piped<F> {
    pub fn build(
        writers: usize,
        units: u64,
        verify: fn(&Tally, usize, u64),
        send: F,
        consume: impl FnOnce(&Tally) + Send + 'static,
    ) -> Arc<dyn Contender> {
        let tally = Tally::new();
        let consumer = {
            let tally = tally.clone();
            thread::spawn(move || consume(&tally))
        };
        Arc::new(Self {
            send: Some(send),
            consumer: Some(consumer),
            tally,
            units,
            verify,
            writers,
        })
    }
}

impl<F: Fn(usize) + Send + Sync + 'static> Contender for Piped<F> {
    fn write(&self, w: usize, count: u64) {
        let send = self.send.as_ref().unwrap();
        for _ in 0..count {
            send(w);
        }
    }

    fn finish_round(&self, total: u64) {
        self.tally.wait_for(total * self.units);
    }

    fn verify(&self, total: u64) {
        (self.verify)(&self.tally, self.writers, total);
    }
}

impl<F> Drop for Piped<F> {
    fn drop(&mut self) {
        drop(self.send.take()); // disconnects: the consumer ends
        if let Some(consumer) = self.consumer.take() {
            consumer.join().unwrap();
        }
    }
}

/// What a consumer has seen: a message count and a checksum, with a wait
/// for the count to reach a target that costs the consumer one atomic add
/// per batch (no polling by the waiter).
#[derive(Default)]
pub struct Tally {
    seen: AtomicU64,
    sum: AtomicU64,
    /// The count a waiter waits for; `u64::MAX` when nobody waits.
    target: AtomicU64,
    lock: Mutex<()>,
    reached: Condvar,
}

impl Tally {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            target: AtomicU64::new(u64::MAX),
            ..Self::default()
        })
    }

    /// Records `n` more messages whose checksum is `sum`.
    pub fn add(&self, n: u64, sum: u64) {
        // ORDERING: SeqCst on `seen` and `target`, so that either the waiter
        // sees the new count or the consumer sees the waiter's target.
        self.sum.fetch_add(sum, Ordering::Relaxed);
        let seen = self.seen.fetch_add(n, Ordering::SeqCst) + n;
        if seen >= self.target.load(Ordering::SeqCst) {
            let _guard = self.lock.lock().unwrap();
            self.reached.notify_all();
        }
    }

    /// Waits until `n` messages have been seen.
    pub fn wait_for(&self, n: u64) {
        let mut guard = self.lock.lock().unwrap();
        self.target.store(n, Ordering::SeqCst);
        while self.seen.load(Ordering::SeqCst) < n {
            let (g, timeout) = self
                .reached
                .wait_timeout(guard, Duration::from_secs(60))
                .unwrap();
            assert!(!timeout.timed_out(), "the consumer stalled");
            guard = g;
        }
        self.target.store(u64::MAX, Ordering::SeqCst);
    }

    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::SeqCst)
    }

    pub fn sum(&self) -> u64 {
        // ORDERING: Relaxed: each add to `sum` comes before a SeqCst add to
        // `seen`, which the caller has read (in `wait_for` or `seen`).
        self.sum.load(Ordering::Relaxed)
    }
}

/// An `mwsr` sink that checksums each batch of bytes into a [`Tally`].
pub struct Checksum(pub Arc<Tally>);

impl mwsr::Sink<u8> for Checksum {
    type Error = std::convert::Infallible;

    fn consume(&mut self, batch: &[u8]) -> Result<(), Self::Error> {
        self.0.add(batch.len() as u64, checksum(batch));
        Ok(())
    }
}

/// Panics unless the tally saw exactly `bytes` bytes summing to `sum`.
pub fn check_bytes(tally: &Tally, bytes: u64, sum: u64) {
    assert_eq!(tally.seen(), bytes, "bytes lost or duplicated");
    assert_eq!(tally.sum(), sum, "bytes corrupted");
}

/// The checksum every consumer computes over bytes: their sum, in 16-bit
/// partial sums per 256 bytes (at most 255 * 256, no overflow) so that it
/// vectorises. A plain `u64` sum of bytes compiles to a scalar loop of
/// about a byte per cycle, and then the sink, not the buffer, is what
/// bytes/sync measures.
pub fn checksum(bytes: &[u8]) -> u64 {
    bytes
        .chunks(256)
        .map(|c| u64::from(c.iter().map(|&b| u16::from(b)).sum::<u16>()))
        .sum()
}
