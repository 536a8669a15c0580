//! Many threads log lines into one real file through an `AsyncBuffer`.
//!
//! Prints lines per second and how many `write` calls reached the OS (one
//! per batch instead of one per line), then reads the file back and checks
//! that every line is there, whole, and in its thread's order.
//!
//! ```text
//! cargo run --release --example log_batching [-- --threads 4 --lines 500000 --capacity 65536 --linger-us 100]
//! ```

mod support;

use std::error::Error;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use mwsr::{AsyncBuffer, WriteSink};
use support::{CountingWriter, Progress, rate, ratio, setting};

const PATHS: [&str; 4] = ["/api/items", "/api/users", "/healthz", "/static/app.js"];
const STATUS: [u16; 4] = [200, 200, 404, 503];

/// Line `seq` of thread `thread`: what a request log looks like, and
/// different for every line so that the check can tell them apart.
fn write_line(out: &mut impl Write, thread: usize, seq: usize) -> io::Result<()> {
    writeln!(
        out,
        "level=INFO worker={thread:02} seq={seq:09} method=GET path={}/{} status={} took_us={}",
        PATHS[seq % PATHS.len()],
        seq % 1000,
        STATUS[seq % STATUS.len()],
        seq.wrapping_mul(7919) % 100_000
    )
}

fn main() -> Result<(), Box<dyn Error>> {
    let threads = setting("threads", 4);
    let lines = setting("lines", 500_000);
    let capacity = setting("capacity", 64 * 1024);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("app.log");
    let (file, writes) = CountingWriter::new(File::create(&path)?);
    // Under a steady stream, a short linger lets each batch fill before it
    // is written: far fewer, larger writes. With `--linger-us 0` the flusher
    // writes whatever is there as soon as it wakes (lowest latency).
    let linger = Duration::from_micros(setting("linger-us", 100) as u64);
    let log = AsyncBuffer::builder()
        .capacity(capacity)
        .linger(linger)
        .thread_name("log-flusher")
        .build(WriteSink::new(file))?;
    println!(
        "log_batching: {threads} threads x {lines} lines into one file, through an AsyncBuffer of {capacity} bytes, linger {linger:?}"
    );

    let logged = Arc::new(AtomicU64::new(0));
    let progress = Progress::start({
        let logged = logged.clone();
        // ORDERING: Relaxed: a progress display, read while it changes.
        move || format!("{} lines logged", logged.load(Ordering::Relaxed))
    });
    let started = Instant::now();
    let written: io::Result<()> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let (log, logged) = (&log, &logged);
                s.spawn(move || -> io::Result<()> {
                    for seq in 0..lines {
                        // `write!` formats the whole line, then writes it once.
                        write_line(&mut &*log, thread, seq)?;
                        if seq % 4096 == 4095 {
                            logged.fetch_add(4096, Ordering::Relaxed);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("a writer panicked"))
    });
    written?;
    log.close()?; // the last batch is written before this returns
    let elapsed = started.elapsed();
    drop(progress);

    let total = (threads * lines) as u64;
    let stats = log.stats();
    let calls = writes.calls();
    println!(
        "logged {total} lines ({:.1} MB) in {:.2} s: {} lines, {:.0} MB/s",
        writes.bytes() as f64 / 1e6,
        elapsed.as_secs_f64(),
        rate(total, elapsed),
        writes.bytes() as f64 / 1e6 / elapsed.as_secs_f64()
    );
    println!(
        "write calls: {calls} ({:.1} lines per call; one write per line would be {total})",
        ratio(total, calls)
    );
    println!(
        "batches: {} of {:.0} bytes on average, the largest {} bytes; writers waited for room {} times",
        stats.batches_flushed,
        ratio(stats.items_flushed, stats.batches_flushed),
        stats.largest_batch,
        stats.writer_waits
    );

    verify(&path, threads, lines)?;
    println!("verified: all {total} lines present, none torn, each thread's lines in order");
    Ok(())
}

/// Reads the log back: each line must be exactly the next line of its
/// thread, and every thread's lines must all be there.
fn verify(path: &std::path::Path, threads: usize, lines: usize) -> Result<(), Box<dyn Error>> {
    let mut next = vec![0usize; threads];
    let mut expected = Vec::new();
    for (number, line) in BufReader::new(File::open(path)?).lines().enumerate() {
        let line = line?;
        let thread = line
            .split_once("worker=")
            .and_then(|(_, rest)| rest.split(' ').next()?.parse::<usize>().ok())
            .filter(|&t| t < threads)
            .ok_or_else(|| format!("line {}: torn: {line:?}", number + 1))?;
        expected.clear();
        write_line(&mut expected, thread, next[thread])?;
        if expected.strip_suffix(b"\n") != Some(line.as_bytes()) {
            return Err(format!(
                "line {}: expected {:?}, found {line:?}",
                number + 1,
                String::from_utf8_lossy(&expected)
            )
            .into());
        }
        next[thread] += 1;
    }
    if let Some(thread) = next.iter().position(|&n| n != lines) {
        return Err(format!(
            "thread {thread}: {} of {lines} lines in the file",
            next[thread]
        )
        .into());
    }
    Ok(())
}
