//! Threads log through `tracing` into rotating segment files
//! (`mwsr::segments`): 1 MiB each, only the newest 8 kept.
//!
//! Prints lines per second and what rotation and retention did, then reads
//! back what is kept and checks it: every line whole, each thread's lines
//! in order, and the kept lines exactly the newest of what was logged
//! (retention removed whole segments from the front, nothing else).
//!
//! ```text
//! cargo run --release --features tracing --example rolling_log [-- --threads 8 --lines 100000]
//! ```

mod support;

use std::error::Error;
use std::io::BufRead;
use std::thread;
use std::time::Instant;

use mwsr::segments::{Naming, Reader, Writer};
use support::{rate, setting};

const SEGMENT_SIZE: u64 = 1 << 20;
const KEEP_SEGMENTS: usize = 8;
const PATHS: [&str; 4] = ["/api/items", "/api/users", "/healthz", "/static/app.js"];

fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let threads = setting("threads", 8);
    let lines = setting("lines", 100_000);
    let dir = tempfile::tempdir()?;
    let log = Writer::builder()
        .segment_size(SEGMENT_SIZE)
        .keep_segments(KEEP_SEGMENTS)
        .open(dir.path())?;
    // Each event is formatted on the thread that logs it and appended whole:
    // never torn, never split across two segments.
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(log.clone())
        .try_init()?;
    println!(
        "rolling_log: {threads} threads x {lines} events through tracing, into {} KiB segments, the newest {KEEP_SEGMENTS} kept",
        SEGMENT_SIZE >> 10
    );

    let started = Instant::now();
    thread::scope(|s| {
        for thread in 0..threads {
            s.spawn(move || {
                for seq in 0..lines {
                    tracing::info!(thread, seq, path = %PATHS[seq % PATHS.len()], "request");
                }
            });
        }
    });
    // The global subscriber keeps its handle for good, so dropping ours
    // would not close the writer: close it, which writes and syncs the rest.
    log.close()?;
    let elapsed = started.elapsed();

    let stats = log.stats();
    let total = (threads * lines) as u64;
    println!(
        "logged {total} lines ({:.1} MB) in {:.2} s: {}",
        stats.bytes_written as f64 / 1e6,
        elapsed.as_secs_f64(),
        rate(total, elapsed)
    );
    let kept = std::fs::read_dir(dir.path())?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| Naming::default().parse(name).is_some())
        .count();
    let mut reader = Reader::open(dir.path())?; // at the first byte kept
    let range = reader.available()?;
    println!(
        "segments: {} created, {} deleted by retention; {kept} kept, holding {} bytes (stream offsets {range:?})",
        stats.segments_created,
        stats.segments_deleted,
        range.end - range.start,
    );
    if kept > KEEP_SEGMENTS || kept as u64 != stats.segments_created - stats.segments_deleted {
        return Err(format!("{kept} segments kept").into());
    }

    let (first_kept, time_len) = verify(&mut reader, threads, lines)?;
    if reader.position() != stats.end {
        return Err(format!(
            "read up to {}, the stream ends at {}",
            reader.position(),
            stats.end
        )
        .into());
    }
    // The lines not kept are each thread's oldest, and together exactly
    // the bytes before the first kept: nothing else is missing.
    let not_kept: usize = (0..threads)
        .flat_map(|thread| {
            (0..first_kept[thread]).map(move |seq| time_len + event(thread, seq).len())
        })
        .sum();
    if not_kept as u64 != range.start {
        return Err(format!(
            "{not_kept} bytes of lines not kept, but the kept range starts at {}",
            range.start
        )
        .into());
    }
    let kept_lines: usize = first_kept.iter().map(|first| lines - first).sum();
    println!(
        "verified: the newest {kept_lines} lines kept, each whole and in its thread's order; the oldest {} went with the deleted segments",
        threads * lines - kept_lines
    );
    Ok(())
}

/// Reads every kept line: each must be a whole event and the next of its
/// thread, and a thread that has any kept must have its last one kept.
/// Returns each thread's first kept line (`lines` if none: it finished
/// before the kept range) and the length of the timestamps.
fn verify(
    reader: &mut impl BufRead,
    threads: usize,
    lines: usize,
) -> Result<(Vec<usize>, usize), Box<dyn Error + Send + Sync>> {
    let mut first = vec![lines; threads];
    let mut next: Vec<Option<usize>> = vec![None; threads];
    let mut time_len = None;
    let mut line = String::new();
    while reader.read_line(&mut line)? != 0 {
        let torn = || format!("torn line: {line:?}");
        let (time, thread, seq) = parse(&line)
            .filter(|&(_, t, _)| t < threads)
            .ok_or_else(torn)?;
        if *time_len.get_or_insert(time.len()) != time.len() {
            return Err(torn().into());
        }
        match next[thread] {
            None => first[thread] = seq,
            Some(expected) if expected != seq => {
                return Err(format!("thread {thread}: line {seq} where {expected} was due").into());
            }
            Some(_) => {}
        }
        next[thread] = Some(seq + 1);
        line.clear();
    }
    if let Some(thread) = (0..threads).find(|&t| next[t].is_some_and(|n| n != lines)) {
        return Err(format!("thread {thread}: its last line is missing").into());
    }
    Ok((first, time_len.unwrap_or(0)))
}

/// What follows the timestamp in event `seq` of `thread`.
fn event(thread: usize, seq: usize) -> String {
    let path = PATHS[seq % PATHS.len()];
    format!("  INFO rolling_log: request thread={thread} seq={seq} path={path}\n")
}

/// The timestamp, thread and sequence number of a whole event line
/// (`{time}  INFO rolling_log: request thread=3 seq=12 path=/healthz\n`).
fn parse(line: &str) -> Option<(&str, usize, usize)> {
    let at = line.find("  INFO ")?;
    let (time, event_text) = line.split_at(at);
    let fields = event_text.strip_prefix("  INFO rolling_log: request thread=")?;
    let (thread, fields) = fields.split_once(" seq=")?;
    let (thread, seq) = (
        thread.parse().ok()?,
        fields.split_once(' ')?.0.parse().ok()?,
    );
    (event_text == event(thread, seq)).then_some((time, thread, seq))
}
