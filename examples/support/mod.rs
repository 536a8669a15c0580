//! What the examples share: command-line settings, a writer that counts its
//! `write` calls, a progress line, and rates.
#![allow(dead_code)] // each example uses a subset

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The value of `--name N` (or `--name=N`) on the command line, or `default`.
/// Exits with a usage message when the value is not a number.
pub fn setting(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = format!("--{name}");
    let value = args.iter().enumerate().find_map(|(i, arg)| {
        if *arg == flag {
            Some(args.get(i + 1).cloned().unwrap_or_default())
        } else {
            arg.strip_prefix(&format!("{flag}=")).map(str::to_owned)
        }
    });
    match value {
        None => default,
        Some(v) => v.replace('_', "").parse().unwrap_or_else(|_| {
            eprintln!("{flag} takes a whole number, not {v:?}");
            std::process::exit(2)
        }),
    }
}

/// Counts of the `write` calls a [`CountingWriter`] passed on.
#[derive(Debug, Default)]
pub struct WriteCounts {
    calls: AtomicU64,
    bytes: AtomicU64,
}

impl WriteCounts {
    /// `write` (and `write_vectored`) calls so far: one system call each
    /// for files and sockets.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// A writer that passes everything on to `W` and counts the calls.
#[derive(Debug)]
pub struct CountingWriter<W> {
    inner: W,
    counts: Arc<WriteCounts>,
}

impl<W> CountingWriter<W> {
    pub fn new(inner: W) -> (Self, Arc<WriteCounts>) {
        let counts = Arc::new(WriteCounts::default());
        let writer = Self {
            inner,
            counts: counts.clone(),
        };
        (writer, counts)
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // ORDERING: Relaxed: statistics, read once the writes are done.
        self.counts.calls.fetch_add(1, Ordering::Relaxed);
        let n = self.inner.write(buf)?;
        self.counts.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Prints `line()` every second, on its own thread, until dropped; prints
/// nothing if dropped within the first second.
pub struct Progress {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Progress {
    pub fn start(line: impl Fn() -> String + Send + 'static) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::spawn(move || {
            let started = Instant::now();
            // Wakes each second until the sender is dropped.
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Duration::from_secs(1))
            {
                println!("  [{:>3.0} s] {}", started.elapsed().as_secs_f64(), line());
            }
        });
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `count` per second over `elapsed`, in a readable unit ("12.3 M/s").
pub fn rate(count: u64, elapsed: Duration) -> String {
    let per_sec = count as f64 / elapsed.as_secs_f64().max(1e-9);
    if per_sec >= 1e6 {
        format!("{:.2} M/s", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1} k/s", per_sec / 1e3)
    } else {
        format!("{per_sec:.0} /s")
    }
}

/// `a / b` as a float, 0 when `b` is 0.
pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The median of `values` (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The smallest and largest of `values` (`(f64::MAX, f64::MIN)` if empty).
pub fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

/// CPU time the hypervisor gave to other guests ("steal"), from Linux's
/// `/proc/stat`: a run during which it is more than a few percent saw a
/// host busy with other work, and its numbers are noise.
pub struct Steal {
    start: Option<(u64, u64)>,
}

impl Steal {
    /// Starts counting.
    pub fn start() -> Self {
        Self {
            start: steal_and_total(),
        }
    }

    /// A note on the share of CPU time stolen since `start`, empty where
    /// `/proc/stat` says nothing.
    pub fn note(&self) -> String {
        let (Some((s0, t0)), Some((s1, t1))) = (self.start, steal_and_total()) else {
            return String::new();
        };
        let share = 100.0 * ratio(s1 - s0, (t1 - t0).max(1));
        let verdict = if share > 3.0 {
            ": the host was busy, treat these numbers as noise"
        } else {
            ""
        };
        format!("CPU time stolen by the hypervisor during the run: {share:.1}%{verdict}")
    }
}

/// Steal and total CPU ticks so far, from the first line of `/proc/stat`.
fn steal_and_total() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map_while(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    Some((*ticks.get(7)?, ticks.iter().take(8).sum()))
}
