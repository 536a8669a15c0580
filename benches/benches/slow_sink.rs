//! A slow sink: each `write` call on it sleeps 1 ms (a slow disk or a
//! congested socket) before taking the whole slice. Two writer threads (by default) offer
//! far less than it can take: each writes bursts of 50 lines of 100 bytes,
//! then sleeps 1 ms, so at most 100 lines (10 kB) per ms in all, about
//! 10 MB/s, while a 1 ms-per-call sink absorbs 128 MB/s in 128 KiB batches.
//! Each writer writes `--lines` lines (default 20,000) per round. Reports the
//! latency of each line's write (p50, p99, p99.9, p99.99 and max, over both
//! writers)
//! and the throughput (lines per second over the round, the final flush or
//! close included), medians over `--reps` rounds, for:
//! - `mwsr::AsyncBuffer` (`--kib`, 256 by default, per half) over the slow
//!   writer: its flusher thread makes the slow call while the writers fill
//!   the other half;
//! - `parking_lot::Mutex<BufWriter>` of the same capacity: the writer whose
//!   line fills the buffer makes the slow call under the lock, and the other
//!   waits. At 256 KiB it fills once per 2,621 lines, so these 1 ms stalls,
//!   about 2 lines in 2,621, are under 0.1% of the writes: p99.99 and the
//!   max show them, p99.9 may not. At `--kib 64` (the log workload's
//!   capacity in `compare`) it fills once per 655 lines and p99.9 does;
//! - tracing-appender's lossless non-blocking writer: its worker makes one
//!   slow call per line, so it drains at most 1,000 lines per second.
//!
//! Contenders take turns, so that all see the same machine, and every round
//! checks that the sink received every byte.
//!
//! Oversubscribed: `--writers 4 --busy 1` runs 4 writers that spin for
//! the pause instead of sleeping, so that they keep both cores busy and
//! the flusher thread must compete for one.
//!
//! `cargo bench --bench slow_sink [-- --reps 5 --lines 20000 --writers 2 --busy 0 --kib 256]`

#[path = "../../examples/support/mod.rs"]
mod support;

use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use support::{Steal, median, setting};

/// What each `write` call on the sink costs.
const SINK_DELAY: Duration = Duration::from_millis(1);
/// Bytes per line, its newline included.
const LINE_LEN: usize = 100;
/// Lines per burst; each writer sleeps [`PAUSE`] after each burst.
const BURST: usize = 50;
const PAUSE: Duration = Duration::from_millis(1);
/// How long tracing-appender's worker may take to drain a round.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);

/// A writer whose every `write` call sleeps [`SINK_DELAY`], then takes the
/// whole slice, counting its bytes.
struct Slow<W: Write> {
    inner: W,
    bytes: Arc<AtomicU64>,
}

impl Slow<io::Sink> {
    fn new() -> (Self, Arc<AtomicU64>) {
        let bytes = Arc::new(AtomicU64::new(0));
        let slow = Self {
            inner: io::sink(),
            bytes: bytes.clone(),
        };
        (slow, bytes)
    }
}

impl<W: Write> Write for Slow<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        thread::sleep(SINK_DELAY);
        self.inner.write_all(buf)?;
        // ORDERING: Release, paired with the Acquire of the round's check.
        self.bytes.fetch_add(buf.len() as u64, Ordering::Release);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A shared `Mutex<W>` as an `io::Write`: each call takes the lock.
struct Locked<'a, W>(&'a Mutex<W>);

impl<W: Write> Write for Locked<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.lock().write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().flush()
    }
}

/// How the writers write: how many, lines each, and whether they spin
/// through the pause (keeping a core busy) rather than sleep.
#[derive(Clone, Copy)]
struct Load {
    writers: usize,
    lines: usize,
    busy: bool,
    /// The bytes of `mwsr`'s buffer (per half) and of the `BufWriter`.
    capacity: usize,
}

impl Load {
    fn pause(&self) {
        if !self.busy {
            return thread::sleep(PAUSE);
        }
        let until = Instant::now() + PAUSE;
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    }

    fn total_bytes(&self) -> u64 {
        (self.writers * self.lines * LINE_LEN) as u64
    }
}

/// `load.writers` threads, each writing `load.lines` lines in paced bursts
/// to the writer `make()` gives it; the latency of every write in µs,
/// unsorted.
fn paced<W: Write>(load: Load, make: impl Fn() -> W + Sync) -> Vec<f64> {
    let mut line = [b'x'; LINE_LEN];
    line[LINE_LEN - 1] = b'\n';
    thread::scope(|s| {
        let writers: Vec<_> = (0..load.writers)
            .map(|_| {
                let make = &make;
                s.spawn(move || {
                    let mut out = make();
                    let mut latencies = Vec::with_capacity(load.lines);
                    for i in 0..load.lines {
                        let started = Instant::now();
                        out.write_all(&line).unwrap();
                        latencies.push(started.elapsed().as_secs_f64() * 1e6);
                        if (i + 1) % BURST == 0 {
                            load.pause();
                        }
                    }
                    latencies
                })
            })
            .collect();
        writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    })
}

/// One contender's round: its write latencies (µs, sorted) and elapsed time.
struct Round {
    latencies: Vec<f64>,
    elapsed: Duration,
}

impl Round {
    /// Checks that the sink received every line of the round.
    fn new(
        name: &str,
        load: Load,
        bytes: &AtomicU64,
        mut latencies: Vec<f64>,
        elapsed: Duration,
    ) -> Self {
        // ORDERING: Acquire, paired with the Release in `Slow::write`.
        let got = bytes.load(Ordering::Acquire);
        let want = load.total_bytes();
        assert_eq!(
            got, want,
            "{name}: the sink received {got} bytes, not {want}"
        );
        latencies.sort_by(f64::total_cmp);
        Self { latencies, elapsed }
    }
}

fn mwsr_round(load: Load) -> Round {
    let (slow, bytes) = Slow::new();
    let buf = mwsr::AsyncBuffer::with_writer(load.capacity, slow);
    let started = Instant::now();
    let latencies = paced(load, || buf.clone());
    buf.close().unwrap();
    Round::new("mwsr", load, &bytes, latencies, started.elapsed())
}

fn mutex_round(load: Load) -> Round {
    let (slow, bytes) = Slow::new();
    let out = Mutex::new(BufWriter::with_capacity(load.capacity, slow));
    let started = Instant::now();
    let latencies = paced(load, || Locked(&out));
    out.lock().flush().unwrap();
    Round::new(
        "Mutex<BufWriter>",
        load,
        &bytes,
        latencies,
        started.elapsed(),
    )
}

fn appender_round(load: Load) -> Round {
    let (slow, bytes) = Slow::new();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(slow);
    let started = Instant::now();
    let latencies = paced(load, || writer.clone());
    // The guard's drop waits at most a second for the worker, then leaves
    // the rest behind: wait for the sink to have every line first.
    let want = load.total_bytes();
    // ORDERING: Acquire, paired with the Release in `Slow::write`.
    while bytes.load(Ordering::Acquire) < want && started.elapsed() < DRAIN_LIMIT {
        thread::sleep(Duration::from_millis(1));
    }
    drop(guard);
    Round::new(
        "tracing-appender",
        load,
        &bytes,
        latencies,
        started.elapsed(),
    )
}

type Contender = fn(Load) -> Round;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// Per round: p50, p99, p99.9, p99.99, max (µs) and lines per second.
const STATS: usize = 6;

fn stats(round: &Round, load: Load) -> [f64; STATS] {
    let l = &round.latencies;
    [
        percentile(l, 0.5),
        percentile(l, 0.99),
        percentile(l, 0.999),
        percentile(l, 0.9999),
        l[l.len() - 1],
        (load.writers * load.lines) as f64 / round.elapsed.as_secs_f64(),
    ]
}

fn main() {
    let reps = setting("reps", 5).max(1);
    let lines = setting("lines", 20_000).max(1);
    let load = Load {
        writers: setting("writers", 2).max(1),
        lines,
        busy: setting("busy", 0) != 0,
        capacity: setting("kib", 256).max(1) * 1024,
    };
    let steal = Steal::start();
    let contenders: [(&str, Contender); 3] = [
        ("mwsr::AsyncBuffer", mwsr_round),
        ("Mutex<BufWriter>", mutex_round),
        ("tracing-appender lossless", appender_round),
    ];
    println!(
        "slow_sink: {SINK_DELAY:?} per sink write call; {} writers x {lines} lines of {LINE_LEN} B, \
         bursts of {BURST} then {PAUSE:?} {}; {} KiB buffers; medians of {reps} rounds, contenders alternating",
        load.writers,
        if load.busy { "spinning" } else { "sleep" },
        load.capacity / 1024,
    );
    // samples[contender][stat][rep]
    let mut samples = vec![vec![Vec::new(); STATS]; contenders.len()];
    for rep in 0..reps {
        // Rotate who goes first, so that none always follows the same one.
        for k in 0..contenders.len() {
            let c = (rep + k) % contenders.len();
            let round = (contenders[c].1)(load);
            for (s, value) in stats(&round, load).into_iter().enumerate() {
                samples[c][s].push(value);
            }
        }
        eprint!("\r  round {}/{reps}", rep + 1);
    }
    eprintln!();
    let medians: Vec<[f64; STATS]> = samples
        .iter_mut()
        .map(|per_stat| std::array::from_fn(|s| median(&mut per_stat[s])))
        .collect();
    println!("| contender | p50 (µs) | p99 (µs) | p99.9 (µs) | p99.99 (µs) | max (µs) | lines/s |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for ((name, _), m) in contenders.iter().zip(&medians) {
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {:.0} |",
            m[0], m[1], m[2], m[3], m[4], m[5]
        );
    }
    let (ours, locked) = (&medians[0], &medians[1]);
    println!(
        "mwsr / Mutex<BufWriter>: p99.9 {:.4}x (goal: at most 0.01x), p99.99 {:.4}x, max {:.4}x; throughput {:.3}x (goal: at least 1x)",
        ours[2] / locked[2],
        ours[3] / locked[3],
        ours[4] / locked[4],
        ours[5] / locked[5]
    );
    println!("{}", steal.note());
}
