//! `segments::Objects`: a stream of segments in an object store. Against
//! `object_store`'s `InMemory` always, and against a real S3-compatible
//! server when `MWSR_S3_ENDPOINT` and `MWSR_S3_BUCKET` name one (`.ci/run`
//! starts one on 127.0.0.1; credentials come from the usual `AWS_*`
//! variables). Without them the server tests say so and pass.
#![cfg(feature = "s3")]

mod common;

use std::io::{BufRead, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use common::HANG;
use common::task::spawn;
use mwsr::segments::{Objects, Reader, Storage, Writer};
use object_store::memory::InMemory;
use object_store::throttle::{ThrottleConfig, ThrottledStore};
use object_store::{ObjectStore, PutOptions, PutPayload, PutResult};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A storage on `InMemory` under `prefix`.
fn memory(store: &Arc<InMemory>, prefix: &str) -> Arc<dyn Storage> {
    Arc::new(Objects::new(store.clone(), prefix).unwrap())
}

/// The S3 server's storage under a fresh prefix, or `None` (said) when no
/// server is configured.
fn server(test: &str) -> Option<Arc<dyn Storage>> {
    common::s3::server(test, &format!("{test}-{}", std::process::id()))
}

fn read_all(storage: Arc<dyn Storage>) -> Vec<u8> {
    let mut out = Vec::new();
    Reader::builder()
        .open_storage(storage)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// `threads` writers append numbered runs; the stream read back holds each
/// writer's runs whole and in order; returns the bytes written.
fn round_trip(storage: Arc<dyn Storage>, threads: u8, bytes: usize, segment: u64) -> usize {
    let log = Writer::builder()
        .segment_size(segment)
        .capacity(64 << 10)
        .open_storage(storage.clone())
        .unwrap();
    let total: usize = std::thread::scope(|s| {
        let writers: Vec<_> = (0..threads)
            .map(|w| {
                let log = log.clone();
                s.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(u64::from(w));
                    let (mut written, mut seq) = (0, 0u32);
                    while written < bytes / threads as usize {
                        let len = rng.random_range(8..4000);
                        log.append(&run(w, seq, len)).unwrap();
                        written += len;
                        seq += 1;
                    }
                    written
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    log.close().unwrap();
    let stream = read_all(storage);
    assert_eq!(stream.len(), total);
    let mut next = vec![0u32; threads.into()];
    let mut at = 0;
    while at < stream.len() {
        let (w, seq) = (
            stream[at],
            u32::from_le_bytes(stream[at + 1..at + 5].try_into().unwrap()),
        );
        let len = u16::from_le_bytes([stream[at + 5], stream[at + 6]]) as usize;
        assert_eq!(
            &stream[at..at + len],
            run(w, seq, len),
            "a torn run at {at}"
        );
        assert_eq!(seq, next[w as usize], "writer {w} out of order");
        next[w as usize] += 1;
        at += len;
    }
    total
}

/// Writer `w`'s run `seq`, `len` bytes: its id, length and a filler.
fn run(w: u8, seq: u32, len: usize) -> Vec<u8> {
    let mut bytes = vec![w];
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.extend_from_slice(&(len as u16).to_le_bytes());
    bytes.extend((7..len).map(|i| (i as u32 ^ seq) as u8 ^ w));
    bytes
}

#[test]
fn in_memory_round_trip_in_many_segments() {
    let store = Arc::new(InMemory::new());
    round_trip(memory(&store, "logs/app"), 4, 4 << 20, 64 << 10);
}

#[test]
fn server_round_trip_64_mib_from_8_threads_in_1_mib_segments() {
    if let Some(storage) = server("roundtrip") {
        round_trip(storage, 8, 64 << 20, 1 << 20);
    }
}

/// Every `sync()` seals the open segment: one object each.
#[test]
fn sync_seals_the_open_segment() {
    let store = Arc::new(InMemory::new());
    let log = Writer::builder().open_storage(memory(&store, "s")).unwrap();
    for n in 0..5 {
        log.append(format!("record {n}\n").as_bytes()).unwrap();
        log.sync().unwrap();
    }
    assert_eq!(log.stats().segments_created, 5);
    log.close().unwrap();
    let text = String::from_utf8(read_all(memory(&store, "s"))).unwrap();
    assert_eq!(text.lines().count(), 5);
}

/// Two writers on one stream: the second one's first upload finds the
/// object there and fails with `AlreadyExists`; nothing is overwritten.
fn second_writer_is_refused(storage: impl Fn() -> Arc<dyn Storage>) {
    let first = Writer::builder().open_storage(storage()).unwrap();
    let second = Writer::builder().open_storage(storage()).unwrap();
    first.append(b"first writer\n").unwrap();
    first.sync().unwrap();
    second.append(b"second writer\n").unwrap();
    let err = second.sync().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists, "{err}");
    assert!(second.append(b"more").is_err(), "the failure is sticky");
    first.close().unwrap();
    assert_eq!(read_all(storage()), b"first writer\n");
}

#[test]
fn in_memory_second_writer_is_refused() {
    let store = Arc::new(InMemory::new());
    second_writer_is_refused(|| memory(&store, "two"));
}

#[test]
fn server_second_writer_is_refused() {
    // Each writer with a storage of its own, as two processes would have.
    if server("second").is_some() {
        second_writer_is_refused(|| server("second").unwrap());
    }
}

/// More than 1,000 segments: the listing pages (a real server returns
/// 1,000 keys a page), and reading and seeking stay right.
fn many_segments(storage: Arc<dyn Storage>) {
    let log = Writer::builder()
        .segment_size(4)
        .capacity(5) // one append a batch: one a segment
        .open_storage(storage.clone())
        .unwrap();
    for n in 0..1100u32 {
        log.append(&n.to_le_bytes()).unwrap();
    }
    log.close().unwrap();
    assert!(log.stats().segments_created > 1000);
    let stream = read_all(storage.clone());
    let expected: Vec<u8> = (0..1100u32).flat_map(u32::to_le_bytes).collect();
    assert_eq!(stream, expected);
    let mut reader = Reader::builder().open_storage(storage).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    for _ in 0..50 {
        let n = rng.random_range(0..1100u32);
        reader.seek(SeekFrom::Start(u64::from(n) * 4)).unwrap();
        let mut word = [0; 4];
        reader.read_exact(&mut word).unwrap();
        assert_eq!(u32::from_le_bytes(word), n);
    }
}

#[test]
fn in_memory_more_than_1000_segments() {
    let store = Arc::new(InMemory::new());
    many_segments(memory(&store, "many"));
}

#[test]
fn server_more_than_1000_segments_paginate() {
    if let Some(storage) = server("many") {
        many_segments(storage);
    }
}

/// An `ObjectStore` that passes everything to `inner`, its puts through
/// `gate` first: the test doubles below are gates.
#[derive(Debug)]
struct Gated<G, T> {
    gate: G,
    inner: T,
    /// Puts begun: the next one's number.
    puts: AtomicUsize,
}

impl<G, T> Gated<G, T> {
    fn new(gate: G, inner: T) -> Arc<Self> {
        Arc::new(Self {
            gate,
            inner,
            puts: AtomicUsize::new(0),
        })
    }
}

/// What a [`Gated`] store does around each put.
#[async_trait::async_trait]
trait PutGate: std::fmt::Debug + Send + Sync + 'static {
    /// Before put number `n` (from 0): an error fails it, storing nothing.
    async fn before_put(&self, n: usize) -> object_store::Result<()>;
    /// After it, stored or failed.
    fn after_put(&self, _n: usize) {}
}

impl<G, T: std::fmt::Display> std::fmt::Display for Gated<G, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gated({})", self.inner)
    }
}

#[async_trait::async_trait]
impl<G: PutGate, T: ObjectStore> ObjectStore for Gated<G, T> {
    async fn put_opts(
        &self,
        location: &object_store::path::Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let n = self.puts.fetch_add(1, Ordering::SeqCst);
        let result = match self.gate.before_put(n).await {
            Ok(()) => self.inner.put_opts(location, payload, opts).await,
            Err(e) => Err(e),
        };
        self.gate.after_put(n);
        result
    }
    async fn put_multipart_opts(
        &self,
        location: &object_store::path::Path,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &object_store::path::Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<
            'static,
            object_store::Result<object_store::path::Path>,
        >,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::path::Path>> {
        self.inner.delete_stream(locations)
    }
    fn list(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &object_store::path::Path,
        to: &object_store::path::Path,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// An injected failure, as a store reports one.
fn injected() -> object_store::Error {
    object_store::Error::Generic {
        store: "Gated",
        source: "an injected failure".into(),
    }
}

/// Fails the `n`-th put (from 1) and all after it.
#[derive(Debug)]
struct FailFrom(usize);

#[async_trait::async_trait]
impl PutGate for FailFrom {
    async fn before_put(&self, n: usize) -> object_store::Result<()> {
        match n + 1 >= self.0 {
            true => Err(injected()),
            false => Ok(()),
        }
    }
}

/// A persistent upload failure is sticky, and what `sync()` acknowledged
/// before it stays readable.
#[test]
fn a_failed_upload_is_sticky_and_loses_nothing_acknowledged() {
    let store = Gated::new(FailFrom(4), InMemory::new());
    let storage = || -> Arc<dyn Storage> { Arc::new(Objects::new(store.clone(), "f").unwrap()) };
    let log = Writer::builder().open_storage(storage()).unwrap();
    let mut acknowledged = Vec::new();
    for n in 0..10 {
        let record = format!("record {n}\n");
        log.append(record.as_bytes()).unwrap();
        match log.sync() {
            Ok(()) => acknowledged.extend_from_slice(record.as_bytes()),
            Err(e) => {
                assert!(e.to_string().contains("injected"), "{e}");
                break;
            }
        }
    }
    assert_eq!(acknowledged.lines_count(), 3, "the fourth upload failed");
    assert!(log.sync().is_err(), "sticky");
    assert!(log.append(b"more").is_err(), "sticky");
    assert!(log.close().is_err());
    assert_eq!(read_all(storage()), acknowledged);
}

trait LinesCount {
    fn lines_count(&self) -> usize;
}

impl LinesCount for Vec<u8> {
    fn lines_count(&self) -> usize {
        self.iter().filter(|&&b| b == b'\n').count()
    }
}

/// A following reader sees the segments a writer in another thread seals
/// while it goes on appending: the writer appends and syncs half its lines,
/// waits until the follower has read them all, then appends and syncs the
/// rest. The follower reads every line in order, and its `Stop` ends it.
fn follow_while_writing(storage: impl Fn() -> Arc<dyn Storage>) {
    const LINES: usize = 2000;
    let log = Writer::builder()
        .segment_size(16 << 10)
        .capacity(4 << 10)
        .open_storage(storage())
        .unwrap();
    let mut tail = Reader::builder()
        .follow(Duration::from_millis(10))
        .open_storage(storage())
        .unwrap();
    let stop = tail.stopper();
    let (halfway, seen_half) = mpsc::channel();
    let writer = std::thread::spawn(move || {
        for n in 0..LINES {
            writeln!(log, "line {n} {}", "x".repeat(n % 97)).unwrap();
            if n % 100 == 99 {
                log.sync().unwrap();
            }
            if n == LINES / 2 - 1 {
                // The writer stays open until the follower has read these.
                seen_half
                    .recv_timeout(HANG)
                    .expect("the follower read the first half");
            }
        }
        log.close().unwrap();
        log.stats()
    });
    let mut line = String::new();
    for n in 0..LINES {
        line.clear();
        assert!(tail.read_line(&mut line).unwrap() > 0, "EOF at line {n}");
        assert_eq!(line, format!("line {n} {}\n", "x".repeat(n % 97)));
        if n == LINES / 2 - 1 {
            halfway.send(()).unwrap();
        }
    }
    let stats = writer.join().unwrap();
    assert!(stats.segments_created >= 20, "{stats:?}");
    stop.stop();
    line.clear();
    assert_eq!(tail.read_line(&mut line).unwrap(), 0, "stopped");
}

#[test]
fn in_memory_follower_reads_while_a_writer_appends() {
    let store = Arc::new(InMemory::new());
    follow_while_writing(|| memory(&store, "follow"));
}

#[test]
fn server_follower_reads_while_a_writer_appends() {
    // The follower with a storage of its own, as another process would.
    if server("follow").is_some() {
        follow_while_writing(|| server("follow").unwrap());
    }
}

/// Holds the first put until the test releases it (then passes it on, or
/// fails it), and counts puts ended: over `ThrottledStore` for the latency
/// of every put.
#[derive(Debug)]
struct HoldFirst {
    release: Mutex<Option<futures::channel::oneshot::Receiver<()>>>,
    fail_it: bool,
    ended: AtomicUsize,
    first_ended: AtomicBool,
}

type SlowStore = Gated<HoldFirst, ThrottledStore<InMemory>>;

#[async_trait::async_trait]
impl PutGate for HoldFirst {
    async fn before_put(&self, n: usize) -> object_store::Result<()> {
        if n > 0 {
            return Ok(());
        }
        let held = self.release.lock().unwrap().take();
        held.expect("the first put")
            .await
            .expect("the test releases the first put");
        match self.fail_it {
            true => Err(injected()),
            false => Ok(()),
        }
    }

    fn after_put(&self, n: usize) {
        if n == 0 {
            self.first_ended.store(true, Ordering::SeqCst);
        }
        self.ended.fetch_add(1, Ordering::SeqCst);
    }
}

/// `InMemory` with 20 ms on every put, the first one held by the test.
fn slow_store(fail_first: bool) -> (Arc<SlowStore>, impl FnOnce()) {
    let config = ThrottleConfig {
        wait_put_per_call: Duration::from_millis(20),
        ..ThrottleConfig::default()
    };
    let (release, held) = futures::channel::oneshot::channel();
    let store = Gated::new(
        HoldFirst {
            release: Mutex::new(Some(held)),
            fail_it: fail_first,
            ended: AtomicUsize::new(0),
            first_ended: AtomicBool::new(false),
        },
        ThrottledStore::new(InMemory::new(), config),
    );
    (store, move || release.send(()).unwrap())
}

const SEGMENT: u64 = 64 << 10;

/// The record `n` of the slow-upload tests: 100 bytes.
fn record(n: u64) -> Vec<u8> {
    let mut bytes = format!("{n:>12} ").into_bytes();
    bytes.resize(99, b'a' + (n % 26) as u8);
    bytes.push(b'\n');
    bytes
}

/// Appends until the first upload has begun (one segment and a little),
/// then, on another thread, a segment and a half more while it is held,
/// which must all return: appends never wait for an upload while memory
/// for another segment remains (the held one and one more may wait; the
/// next waits behind them, as uploads are stored in order). Returns the
/// records appended.
fn append_during_held_upload(log: &Writer, store: &Arc<SlowStore>) -> u64 {
    let mut n = 0;
    while store.puts.load(Ordering::SeqCst) == 0 {
        log.append(&record(n)).unwrap();
        n += 1;
    }
    let more = 3 * SEGMENT / 200;
    let appending = log.clone();
    spawn(move || {
        for i in n..n + more {
            appending.append(&record(i)).unwrap();
        }
    })
    .join(); // fails if the appends block while the first upload is held
    assert!(
        !store.gate.first_ended.load(Ordering::SeqCst),
        "the first upload is still held"
    );
    n + more
}

/// With 20 ms puts and the first one held: appends go on during it, and a
/// `sync()` called meanwhile returns only after every upload has ended.
#[test]
fn slow_uploads_do_not_block_appends_and_sync_waits_for_them() {
    let (store, release) = slow_store(false);
    let storage = || -> Arc<dyn Storage> { Arc::new(Objects::new(store.clone(), "slow").unwrap()) };
    let log = Writer::builder()
        .segment_size(SEGMENT)
        .capacity(16 << 10)
        .open_storage(storage())
        .unwrap();
    let records = append_during_held_upload(&log, &store);
    let (syncing, held) = (log.clone(), store.clone());
    let synced = spawn(move || {
        syncing.sync().unwrap();
        // Only after the held upload (and every later one) ended.
        assert!(held.gate.first_ended.load(Ordering::SeqCst));
        assert_eq!(
            held.gate.ended.load(Ordering::SeqCst),
            held.puts.load(Ordering::SeqCst)
        );
    });
    release();
    synced.join();
    log.close().unwrap();
    assert!(log.stats().segments_created >= 3, "{:?}", log.stats());
    let expected: Vec<u8> = (0..records).flat_map(record).collect();
    assert_eq!(read_all(storage()), expected);
}

/// The held upload fails: appends went on meanwhile, and the `sync()`
/// waiting for it returns its error, sticky.
#[test]
fn a_slow_upload_that_fails_fails_the_sync_waiting_for_it() {
    let (store, release) = slow_store(true);
    let storage =
        || -> Arc<dyn Storage> { Arc::new(Objects::new(store.clone(), "fails").unwrap()) };
    let log = Writer::builder()
        .segment_size(SEGMENT)
        .capacity(16 << 10)
        .open_storage(storage())
        .unwrap();
    append_during_held_upload(&log, &store);
    let (syncing, held) = (log.clone(), store.clone());
    let synced = spawn(move || {
        let err = syncing.sync().unwrap_err();
        assert!(held.gate.first_ended.load(Ordering::SeqCst));
        assert!(err.to_string().contains("injected"), "{err}");
    });
    release();
    synced.join();
    assert!(log.sync().is_err(), "sticky");
    assert!(log.append(b"more").is_err(), "sticky");
    assert!(log.close().is_err());
}
