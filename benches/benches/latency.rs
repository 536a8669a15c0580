//! Workload 7, latency: one writer writes an item every millisecond; each
//! contender's consumer notes when the item reached it. Reports the time
//! from `write` returning to the item reaching the sink (0 if the sink had
//! it first), p50 and p99, for `mwsr::AsyncBuffer`, `crossbeam-channel`
//! and `tracing-appender`'s non-blocking writer. Contenders take turns in
//! rounds, so that all see the same machine.
//!
//! `cargo bench --bench latency [-- --rounds 5 --per-round 200]`

#[path = "../../examples/support/mod.rs"]
mod support;

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use support::{Steal, setting};

const SPACING: Duration = Duration::from_millis(1);

/// When each item (by sequence number) reached the consumer.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<Vec<Option<Instant>>>>);

impl Arrivals {
    fn new(n: usize) -> Self {
        Self(Arc::new(Mutex::new(vec![None; n])))
    }

    fn arrived(&self, seq: u64) {
        let now = Instant::now();
        self.0.lock().unwrap()[seq as usize] = Some(now);
    }

    /// Latencies in microseconds, given when each write returned.
    fn latencies(&self, returned: &[Instant]) -> Vec<f64> {
        let arrived = self.0.lock().unwrap();
        returned
            .iter()
            .zip(arrived.iter())
            .map(|(r, a)| {
                let a = a.expect("an item never arrived");
                a.saturating_duration_since(*r).as_secs_f64() * 1e6
            })
            .collect()
    }
}

/// A writer for tracing-appender's worker: each 8-byte message is a
/// sequence number.
struct Recorder(Arrivals);

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for m in buf.chunks_exact(8) {
            self.0.arrived(u64::from_le_bytes(m.try_into().unwrap()));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes `n` items spaced by [`SPACING`] with `write(seq)`; returns when
/// each write returned.
fn paced(n: usize, mut write: impl FnMut(u64)) -> Vec<Instant> {
    let mut returned = Vec::with_capacity(n);
    for seq in 0..n as u64 {
        write(seq);
        returned.push(Instant::now());
        thread::sleep(SPACING);
    }
    returned
}

fn mwsr_round(n: usize) -> Vec<f64> {
    let arrivals = Arrivals::new(n);
    let sink = arrivals.clone();
    let buf = mwsr::AsyncBuffer::new(4096, move |batch: &[u64]| {
        batch.iter().for_each(|&seq| sink.arrived(seq));
        Ok::<(), std::convert::Infallible>(())
    });
    let returned = paced(n, |seq| buf.write(seq).unwrap());
    buf.close().unwrap();
    arrivals.latencies(&returned)
}

fn crossbeam_round(n: usize) -> Vec<f64> {
    let arrivals = Arrivals::new(n);
    let (tx, rx) = crossbeam_channel::bounded::<u64>(8192);
    let consumer = {
        let arrivals = arrivals.clone();
        thread::spawn(move || rx.iter().for_each(|seq| arrivals.arrived(seq)))
    };
    let returned = paced(n, |seq| tx.send(seq).unwrap());
    drop(tx);
    consumer.join().unwrap();
    arrivals.latencies(&returned)
}

fn appender_round(n: usize) -> Vec<f64> {
    let arrivals = Arrivals::new(n);
    let (mut writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(Recorder(arrivals.clone()));
    let returned = paced(n, |seq| writer.write_all(&seq.to_le_bytes()).unwrap());
    drop(guard); // waits for the worker to finish
    arrivals.latencies(&returned)
}

/// One contender's round: `n` paced items, their latencies in µs.
type Round = fn(usize) -> Vec<f64>;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn main() {
    let rounds = setting("rounds", 5);
    let per_round = setting("per-round", 200);
    let contenders: [(&str, Round); 3] = [
        ("mwsr::AsyncBuffer", mwsr_round),
        ("crossbeam-channel", crossbeam_round),
        ("tracing-appender lossless", appender_round),
    ];
    println!(
        "latency: 1 writer, one item every {SPACING:?}, {rounds} rounds x {per_round} items per contender, interleaved"
    );
    let steal = Steal::start();
    let mut all: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for round in 0..rounds {
        for ((_, run), samples) in contenders.iter().zip(&mut all) {
            samples.extend(run(per_round));
        }
        eprint!("\r  round {}/{rounds}", round + 1);
    }
    eprintln!();
    println!("| contender | p50 (µs) | p99 (µs) | max (µs) |");
    println!("| --- | ---: | ---: | ---: |");
    for ((name, _), samples) in contenders.iter().zip(&mut all) {
        samples.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} |",
            percentile(samples, 0.5),
            percentile(samples, 0.99),
            samples[samples.len() - 1]
        );
    }
    println!("{}", steal.note());
}
