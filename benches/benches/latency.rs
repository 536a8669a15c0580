//! Workload 7, latency: one writer writes an item every millisecond; each
//! contender's consumer notes when the item reached it. Reports, for
//! `mwsr::AsyncBuffer`, `crossbeam-channel` and `tracing-appender`'s
//! non-blocking writer, the time from `write` returning to the item reaching
//! the sink (0 if the sink had it first), and the time from the `write` call
//! to the sink, which also counts what the call itself took (waking the
//! consumer). Contenders take turns in rounds, so that all see the same
//! machine. A p99 of 1,000 samples rests on its ten largest: the default is
//! 4,000.
//!
//! `cargo bench --bench latency [-- --rounds 20 --per-round 200]`

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

    /// Latencies in microseconds, given when each write was called and
    /// returned.
    fn latencies(&self, writes: &[Timed]) -> Samples {
        let arrived = self.0.lock().unwrap();
        let mut samples = Samples::default();
        for (w, a) in writes.iter().zip(arrived.iter()) {
            let a = a.expect("an item never arrived");
            let micros = |since: Instant| a.saturating_duration_since(since).as_secs_f64() * 1e6;
            samples.from_return.push(micros(w.returned));
            samples.from_call.push(micros(w.called));
        }
        samples
    }
}

/// When one write was called and when it returned.
struct Timed {
    called: Instant,
    returned: Instant,
}

/// One contender's latencies in µs, measured from each write's return and
/// from its call.
#[derive(Clone, Default)]
struct Samples {
    from_return: Vec<f64>,
    from_call: Vec<f64>,
}

impl Samples {
    fn extend(&mut self, other: Samples) {
        self.from_return.extend(other.from_return);
        self.from_call.extend(other.from_call);
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
/// each write was called and returned.
fn paced(n: usize, mut write: impl FnMut(u64)) -> Vec<Timed> {
    let mut writes = Vec::with_capacity(n);
    for seq in 0..n as u64 {
        let called = Instant::now();
        write(seq);
        let returned = Instant::now();
        writes.push(Timed { called, returned });
        thread::sleep(SPACING);
    }
    writes
}

fn mwsr_round(n: usize) -> Samples {
    let arrivals = Arrivals::new(n);
    let sink = arrivals.clone();
    let buf = mwsr::AsyncBuffer::new(4096, move |batch: &[u64]| {
        batch.iter().for_each(|&seq| sink.arrived(seq));
        Ok::<(), std::convert::Infallible>(())
    });
    let writes = paced(n, |seq| buf.write(seq).unwrap());
    buf.close().unwrap();
    arrivals.latencies(&writes)
}

fn crossbeam_round(n: usize) -> Samples {
    let arrivals = Arrivals::new(n);
    let (tx, rx) = crossbeam_channel::bounded::<u64>(8192);
    let consumer = {
        let arrivals = arrivals.clone();
        thread::spawn(move || rx.iter().for_each(|seq| arrivals.arrived(seq)))
    };
    let writes = paced(n, |seq| tx.send(seq).unwrap());
    drop(tx);
    consumer.join().unwrap();
    arrivals.latencies(&writes)
}

fn appender_round(n: usize) -> Samples {
    let arrivals = Arrivals::new(n);
    let (mut writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(Recorder(arrivals.clone()));
    let writes = paced(n, |seq| writer.write_all(&seq.to_le_bytes()).unwrap());
    drop(guard); // waits for the worker to finish
    arrivals.latencies(&writes)
}

/// One contender's round: `n` paced items, their latencies.
type Round = fn(usize) -> Samples;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn main() {
    let rounds = setting("rounds", 20);
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
    let mut all: Vec<Samples> = vec![Samples::default(); contenders.len()];
    for round in 0..rounds {
        for ((_, run), samples) in contenders.iter().zip(&mut all) {
            samples.extend(run(per_round));
        }
        eprint!("\r  round {}/{rounds}", round + 1);
    }
    eprintln!();
    println!("| contender | from | p50 (µs) | p90 (µs) | p99 (µs) | p99.9 (µs) | max (µs) |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    for ((name, _), samples) in contenders.iter().zip(&mut all) {
        for (from, samples) in [
            ("return", &mut samples.from_return),
            ("call", &mut samples.from_call),
        ] {
            samples.sort_by(f64::total_cmp);
            println!(
                "| {name} | {from} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
                percentile(samples, 0.5),
                percentile(samples, 0.9),
                percentile(samples, 0.99),
                percentile(samples, 0.999),
                samples[samples.len() - 1]
            );
        }
    }
    println!("{}", steal.note());
}
