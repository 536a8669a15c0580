//! Appends into 8 MiB segments in S3 (the S3-compatible server the
//! environment names: `MWSR_S3_ENDPOINT`, `MWSR_S3_BUCKET`, `AWS_*`, as the
//! tests read it; `scripts/s3-server.sh` starts one on 127.0.0.1): MB/s
//! from 4 threads, and the writers' p99 append latency.
//!
//! - `mwsr::segments::Writer` on `Objects`: appends go into the buffer, the
//!   flusher fills the segment, and sealed segments upload in the
//!   background (at most 2 waiting).
//! - Naive: a `parking_lot::Mutex<Vec<u8>>` holds the open segment; the
//!   append that fills it uploads it inline (`PutMode::Create`) with the
//!   lock held, so every writer waits for the upload.
//!
//! Each round appends `--mib` MiB of 1 KiB records; the clock stops once
//! everything is uploaded. Contenders alternate for `--reps` rounds; every
//! round's objects are read back and checked (each thread's records whole
//! and in order), then deleted. Without a server configured it says so
//! and exits.
//!
//! ```text
//! cargo bench --bench s3 --features mwsr-benches/s3 [-- --reps 7 --mib 64]
//! ```

#[path = "../../examples/support/mod.rs"]
mod support;

use std::io::Read;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use mwsr::segments::{Objects, Reader, Writer};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use parking_lot::Mutex;
use support::{median, min_max, setting};

const THREADS: usize = 4;
const SEGMENT: usize = 8 << 20;
const RECORD: usize = 1024;

/// Where the rounds go.
struct Server {
    endpoint: String,
    bucket: String,
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    fn list(&self, prefix: &str) -> Vec<object_store::ObjectMeta> {
        let prefix = Path::from(prefix);
        let mut objects: Vec<_> = self
            .runtime
            .block_on(self.store.list(Some(&prefix)).try_collect::<Vec<_>>())
            .unwrap();
        objects.sort_by(|a, b| a.location.cmp(&b.location));
        objects
    }

    /// MB/s of `n` create-only PUTs of one segment each, `at_once` at a
    /// time (then deleted): what the server can take, without appends.
    fn put_rate(&self, n: usize, at_once: usize) -> f64 {
        let prefix = format!("s3bench-{}-ceiling-{at_once}", std::process::id());
        let payload = PutPayload::from(vec![b'c'; SEGMENT]); // cloned cheaply
        let start = Instant::now();
        self.runtime
            .block_on(
                futures::stream::iter(0..n)
                    .map(|i| {
                        let path = Path::from(format!("{prefix}/{i:020}.seg"));
                        let options = PutOptions {
                            mode: PutMode::Create,
                            ..PutOptions::default()
                        };
                        let payload = payload.clone();
                        async move { self.store.put_opts(&path, payload, options).await }
                    })
                    .buffer_unordered(at_once)
                    .try_collect::<Vec<_>>(),
            )
            .expect("put");
        let rate = (n * SEGMENT) as f64 / 1e6 / start.elapsed().as_secs_f64();
        assert_eq!(self.delete_all(&prefix), n);
        rate
    }

    fn delete_all(&self, prefix: &str) -> usize {
        let objects = self.list(prefix);
        for meta in &objects {
            self.runtime
                .block_on(self.store.delete(&meta.location))
                .unwrap();
        }
        objects.len()
    }
}

/// Something four threads append records to.
trait Appender: Sync {
    fn append(&self, record: &[u8]);
}

impl Appender for Writer {
    fn append(&self, record: &[u8]) {
        Writer::append(self, record).expect("append");
    }
}

/// The naive writer: the open segment under a lock, uploaded inline.
struct Naive<'a> {
    server: &'a Server,
    prefix: String,
    open: Mutex<(u64, Vec<u8>)>, // (base offset, bytes)
    segments: std::sync::atomic::AtomicUsize,
}

impl Naive<'_> {
    /// Uploads `data` as the segment at `base` (create-only).
    fn upload(&self, base: u64, data: Vec<u8>) {
        let path = Path::from(format!("{}/{base:020}.seg", self.prefix));
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        self.server
            .runtime
            .block_on(
                self.server
                    .store
                    .put_opts(&path, PutPayload::from(data), options),
            )
            .expect("put");
        self.segments
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn finish(&self) {
        let (base, data) = std::mem::take(&mut *self.open.lock());
        if !data.is_empty() {
            self.upload(base, data);
        }
    }
}

impl Appender for Naive<'_> {
    fn append(&self, record: &[u8]) {
        let mut open = self.open.lock();
        open.1.extend_from_slice(record);
        if open.1.len() >= SEGMENT {
            let data = std::mem::replace(&mut open.1, Vec::with_capacity(SEGMENT + RECORD));
            let base = open.0;
            open.0 += data.len() as u64;
            self.upload(base, data); // the lock held: every writer waits
        }
    }
}

/// Thread `t`'s record `seq`.
fn record(t: usize, seq: u64, out: &mut [u8; RECORD]) {
    out[0] = t as u8;
    out[1..9].copy_from_slice(&seq.to_le_bytes());
    out[9..].fill(b'a' + (seq % 26) as u8);
}

/// Checks a round's stream: `THREADS` threads' records, whole, each
/// thread's in order, all of them.
fn verify(stream: &[u8], per_thread: u64) {
    assert_eq!(stream.len() as u64, per_thread * (THREADS * RECORD) as u64);
    let mut next = [0u64; THREADS];
    let mut expected = [0; RECORD];
    for chunk in stream.chunks(RECORD) {
        let t = chunk[0] as usize;
        record(t, next[t], &mut expected);
        assert!(
            chunk == expected,
            "thread {t}: record {} torn or out of order",
            next[t]
        );
        next[t] += 1;
    }
    assert!(next.iter().all(|&n| n == per_thread));
}

/// One round: `THREADS` threads append `per_thread` records each, timing
/// every append; `finish` uploads the rest. Returns the seconds until
/// `finish` returned and the append latencies in nanoseconds.
fn round(log: &impl Appender, per_thread: u64, finish: impl FnOnce()) -> (f64, Vec<u64>) {
    let barrier = Barrier::new(THREADS + 1);
    let (start, mut latencies) = std::thread::scope(|s| {
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let mut latencies = Vec::with_capacity(per_thread as usize);
                    let mut buf = [0; RECORD];
                    barrier.wait();
                    for seq in 0..per_thread {
                        record(t, seq, &mut buf);
                        let at = Instant::now();
                        log.append(&buf);
                        latencies.push(at.elapsed().as_nanos() as u64);
                    }
                    latencies
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let latencies: Vec<u64> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        (start, latencies)
    });
    finish();
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    (elapsed, latencies)
}

fn p99(latencies: &[u64]) -> Duration {
    Duration::from_nanos(latencies[latencies.len() * 99 / 100])
}

fn main() {
    let (Ok(endpoint), Ok(bucket)) = (
        std::env::var("MWSR_S3_ENDPOINT"),
        std::env::var("MWSR_S3_BUCKET"),
    ) else {
        println!(
            "s3: no S3 server configured (MWSR_S3_ENDPOINT, MWSR_S3_BUCKET; scripts/s3-server.sh starts one): skipped"
        );
        return;
    };
    let reps = setting("reps", 7);
    let mib = setting("mib", 64);
    let per_thread = (mib << 20) as u64 / (THREADS * RECORD) as u64;
    let bytes = per_thread * (THREADS * RECORD) as u64;
    let store = object_store::aws::AmazonS3Builder::from_env()
        .with_endpoint(&endpoint)
        .with_bucket_name(&bucket)
        .with_allow_http(true)
        .build()
        .expect("the S3 settings");
    let server = Server {
        endpoint,
        bucket,
        store: Arc::new(store),
        runtime: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap(),
    };
    println!(
        "s3: {THREADS} threads append {mib} MiB of {RECORD}-byte records into {} MiB segments at {} (bucket {}); {reps} alternating rounds\n",
        SEGMENT >> 20,
        server.endpoint,
        server.bucket
    );
    let (mut ours, mut peer, mut ratios) = (vec![], vec![], vec![]);
    let (mut ours_p99, mut peer_p99) = (vec![], vec![]);
    let (mut ours_max, mut peer_max) = (0, 0);
    for rep in 0..reps {
        let prefix = format!("s3bench-{}-{rep}-mwsr", std::process::id());
        let s3 = Objects::s3()
            .endpoint(&server.endpoint)
            .bucket(&server.bucket)
            .allow_http(true)
            .prefix(&prefix);
        let log = Writer::builder()
            .segment_size(SEGMENT as u64)
            .open_storage(Arc::new(s3.clone().build().unwrap()))
            .unwrap();
        let (secs, latencies) = round(&log, per_thread, || log.close().unwrap());
        let segments = log.stats().segments_created;
        let mut stream = Vec::new();
        Reader::builder()
            .open_storage(Arc::new(s3.build().unwrap()))
            .unwrap()
            .read_to_end(&mut stream)
            .unwrap();
        verify(&stream, per_thread);
        assert_eq!(server.delete_all(&prefix) as u64, segments);
        let a = bytes as f64 / 1e6 / secs;
        ours.push(a);
        ours_p99.push(p99(&latencies).as_secs_f64() * 1e6);
        ours_max = ours_max.max(*latencies.last().unwrap());

        let prefix = format!("s3bench-{}-{rep}-naive", std::process::id());
        let naive = Naive {
            server: &server,
            prefix: prefix.clone(),
            open: Mutex::new((0, Vec::with_capacity(SEGMENT + RECORD))),
            segments: 0.into(),
        };
        let (secs, latencies) = round(&naive, per_thread, || naive.finish());
        let mut stream = Vec::new();
        let objects = server.list(&prefix);
        assert_eq!(objects.len(), naive.segments.into_inner());
        for meta in &objects {
            let body = server
                .runtime
                .block_on(async { server.store.get(&meta.location).await?.bytes().await })
                .unwrap();
            stream.extend_from_slice(&body);
        }
        verify(&stream, per_thread);
        server.delete_all(&prefix);
        let b = bytes as f64 / 1e6 / secs;
        peer.push(b);
        peer_p99.push(p99(&latencies).as_secs_f64() * 1e6);
        peer_max = peer_max.max(*latencies.last().unwrap());
        ratios.push(a / b);
        println!(
            "round {rep}: mwsr {a:.1} MB/s ({segments} segments), naive {b:.1} MB/s ({} segments)",
            objects.len()
        );
    }
    // The server's ceiling, for reading the ratio: uploads alone, one
    // on the wire at a time (as both writers upload) and two at once.
    let n = (bytes as usize).div_ceil(SEGMENT);
    let (mut one, mut two) = (vec![], vec![]);
    for _ in 0..reps.min(3) {
        one.push(server.put_rate(n, 1));
        two.push(server.put_rate(n, 2));
    }
    let (one, two) = (median(&mut one), median(&mut two));
    println!(
        "server alone: {n} PUTs of {} MiB, one at a time {one:.1} MB/s, two at once {two:.1} MB/s ({:.2}x)",
        SEGMENT >> 20,
        two / one
    );
    let (lo, hi) = min_max(&ratios);
    println!("\n| writer | MB/s (median) | p99 append (median of rounds) | slowest append |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| mwsr `segments::Writer` on `Objects` | {:.1} | {:.1} µs | {:.1} ms |",
        median(&mut ours),
        median(&mut ours_p99),
        ours_max as f64 / 1e6
    );
    println!(
        "| naive: `Mutex<Vec<u8>>`, inline upload | {:.1} | {:.1} µs | {:.1} ms |",
        median(&mut peer),
        median(&mut peer_p99),
        peer_max as f64 / 1e6
    );
    println!(
        "\nmwsr / naive, median of the per-round ratios: {:.2}x ({lo:.2}-{hi:.2})",
        median(&mut ratios)
    );
}
