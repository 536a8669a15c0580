//! Many threads append log lines to a stream of segments in an object
//! store (`mwsr::segments::Objects`, the `s3` feature) while a follower
//! reads them back in order, as `tail -f` would.
//!
//! The store is the S3 server the environment names, as the tests read it
//! (`MWSR_S3_ENDPOINT`, `MWSR_S3_BUCKET`, credentials from `AWS_*`;
//! `scripts/s3-server.sh` starts one on 127.0.0.1), or `object_store`'s
//! `InMemory` when none is given, so that it runs anywhere.
//!
//! Prints lines per second, segments and bytes, and checks every line the
//! follower read: whole, once, each thread's in order, all of them.
//!
//! ```text
//! cargo run --release --features s3 --example s3_log [-- --threads 8 --lines 50000]
//! ```

mod support;

use std::error::Error;
use std::io::BufRead;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mwsr::segments::{Objects, Reader, Storage, Writer};
use support::{rate, setting};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;
/// Makes a storage on the example's stream.
type Storages = Box<dyn Fn() -> Arc<dyn Storage>>;

const SEGMENT_SIZE: u64 = 1 << 20;
/// Each thread syncs every this many lines: each `sync()` seals a segment
/// (one object), so sync in proportion, not per line.
const SYNC_EVERY: usize = 10_000;
const PATHS: [&str; 4] = ["/api/items", "/api/users", "/healthz", "/static/app.js"];

fn main() -> Result<()> {
    let threads = setting("threads", 8);
    let lines = setting("lines", 50_000);
    let (where_, storage) = stores()?;
    println!(
        "s3_log: {threads} threads x {lines} lines into {} KiB segments in {where_}, a follower reading them",
        SEGMENT_SIZE >> 10
    );
    let log = Writer::builder()
        .segment_size(SEGMENT_SIZE)
        .open_storage(storage())?;
    let mut tail = Reader::builder()
        .follow(Duration::from_millis(20))
        .open_storage(storage())?;
    let stop = tail.stopper();

    let started = Instant::now();
    let follower = thread::spawn(move || -> Result<(u64, Duration)> {
        let mut next = vec![0; threads];
        let (mut seen, mut bytes, mut line) = (0, 0, String::new());
        while seen < threads * lines {
            line.clear();
            if tail.read_line(&mut line)? == 0 {
                return Err(format!("the follower stopped after {seen} lines").into());
            }
            let (thread, seq) = parse(&line)
                .filter(|&(t, s)| t < threads && line == text(t, s))
                .ok_or_else(|| format!("torn line: {line:?}"))?;
            if seq != next[thread] {
                return Err(
                    format!("thread {thread}: line {seq} where {} was due", next[thread]).into(),
                );
            }
            next[thread] += 1;
            seen += 1;
            bytes += line.len() as u64;
        }
        Ok((bytes, started.elapsed()))
    });
    thread::scope(|s| {
        let writers: Vec<_> = (0..threads)
            .map(|thread| {
                let log = &log;
                s.spawn(move || -> Result<()> {
                    for seq in 0..lines {
                        log.append(text(thread, seq).as_bytes())?;
                        if seq % SYNC_EVERY == SYNC_EVERY - 1 {
                            log.sync()?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        writers
            .into_iter()
            .try_for_each(|w| w.join().expect("a writer panicked"))
    })?;
    log.close()?; // writes, seals and uploads the rest
    let written = started.elapsed();
    let outcome = follower.join().expect("the follower panicked");
    stop.stop();
    let (bytes_read, caught_up) = outcome?;

    let stats = log.stats();
    let total = (threads * lines) as u64;
    println!(
        "appended {total} lines ({:.1} MB) in {:.2} s, uploaded: {}; {} segments",
        stats.bytes_written as f64 / 1e6,
        written.as_secs_f64(),
        rate(total, written),
        stats.segments_created,
    );
    if bytes_read != stats.bytes_written {
        return Err(format!(
            "the follower read {bytes_read} bytes, {} were written",
            stats.bytes_written
        )
        .into());
    }
    println!(
        "verified: the follower read all {total} lines ({bytes_read} bytes) following the stream as it grew, \
         each whole and in its thread's order, {:.2} s after the start",
        caught_up.as_secs_f64()
    );
    Ok(())
}

/// Where the stream goes, and a maker of storages on it (one for the
/// writer, one for the follower, as two processes would have).
fn stores() -> Result<(String, Storages)> {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let prefix = format!("s3_log-{}-{}", std::process::id(), stamp.as_nanos());
    match (
        std::env::var("MWSR_S3_ENDPOINT"),
        std::env::var("MWSR_S3_BUCKET"),
    ) {
        (Ok(endpoint), Ok(bucket)) => {
            let s3 = Objects::s3()
                .endpoint(&endpoint)
                .bucket(&bucket)
                .allow_http(endpoint.starts_with("http://"))
                .prefix(&prefix);
            s3.clone().build()?; // the settings, checked once
            let storage = move || -> Arc<dyn Storage> {
                Arc::new(s3.clone().build().expect("checked above"))
            };
            Ok((
                format!("s3://{bucket}/{prefix} at {endpoint}"),
                Box::new(storage),
            ))
        }
        _ => {
            let store = Arc::new(object_store::memory::InMemory::new());
            let storage = move || -> Arc<dyn Storage> {
                Arc::new(Objects::new(store.clone(), &prefix).expect("a runtime"))
            };
            Ok((
                "memory (no MWSR_S3_ENDPOINT and MWSR_S3_BUCKET)".into(),
                Box::new(storage),
            ))
        }
    }
}

/// Thread `thread`'s line `seq`.
fn text(thread: usize, seq: usize) -> String {
    let path = PATHS[seq % PATHS.len()];
    let bytes = (seq * 7919) % 100_000;
    format!("t={thread} seq={seq} GET {path} 200 {bytes} bytes\n")
}

/// The thread and sequence number of a line.
fn parse(line: &str) -> Option<(usize, usize)> {
    let mut fields = line.split(' ');
    let thread = fields.next()?.strip_prefix("t=")?.parse().ok()?;
    let seq = fields.next()?.strip_prefix("seq=")?.parse().ok()?;
    Some((thread, seq))
}
