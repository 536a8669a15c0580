//! `segments::Objects`: a stream of segments in an object store. Against
//! `object_store`'s `InMemory` always, and against a real S3-compatible
//! server when `MWSR_S3_ENDPOINT` and `MWSR_S3_BUCKET` name one (`.ci/run`
//! starts one on 127.0.0.1; credentials come from the usual `AWS_*`
//! variables). Without them the server tests say so and pass.
#![cfg(feature = "s3")]

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mwsr::segments::{Objects, Reader, Storage, Writer};
use object_store::memory::InMemory;
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
    let (Ok(endpoint), Ok(bucket)) = (
        std::env::var("MWSR_S3_ENDPOINT"),
        std::env::var("MWSR_S3_BUCKET"),
    ) else {
        // CI starts a server: there, a missing one is a failure, never a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: CI must set MWSR_S3_ENDPOINT and MWSR_S3_BUCKET (see .ci/run)"
        );
        eprintln!("{test}: no S3 server configured (MWSR_S3_ENDPOINT, MWSR_S3_BUCKET): skipped");
        return None;
    };
    let prefix = format!("{test}-{}", std::process::id());
    let storage = Objects::s3()
        .endpoint(endpoint)
        .bucket(bucket)
        .allow_http(true)
        .prefix(prefix)
        .build()
        .expect("the S3 settings");
    Some(Arc::new(storage))
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

/// A store whose `fail_from`-th put and all after it fail.
#[derive(Debug)]
struct FailingPuts {
    inner: InMemory,
    puts: AtomicUsize,
    fail_from: usize,
}

impl std::fmt::Display for FailingPuts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FailingPuts({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for FailingPuts {
    async fn put_opts(
        &self,
        location: &object_store::path::Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if self.puts.fetch_add(1, Ordering::Relaxed) + 1 >= self.fail_from {
            return Err(object_store::Error::Generic {
                store: "FailingPuts",
                source: "an injected failure".into(),
            });
        }
        self.inner.put_opts(location, payload, opts).await
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

/// A persistent upload failure is sticky, and what `sync()` acknowledged
/// before it stays readable.
#[test]
fn a_failed_upload_is_sticky_and_loses_nothing_acknowledged() {
    let store = Arc::new(FailingPuts {
        inner: InMemory::new(),
        puts: AtomicUsize::new(0),
        fail_from: 4,
    });
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
