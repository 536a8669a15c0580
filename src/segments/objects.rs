//! [`Objects`]: segments as objects in an object store (S3, and anything
//! else `object_store` speaks), behind the cargo feature `s3`.

use std::fmt;
use std::io;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
};
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

use super::storage::{Entry, SegmentWrite, Storage};
use super::uploads::Uploads;
use crate::sync::Mutex;

/// A stream's segments as objects under a prefix of an object store.
///
/// An object is immutable, so a segment is uploaded once, whole, when it is
/// sealed: at the size limit, at `sync()` and at `close()`. A `sync()`
/// therefore ends the open segment early: each one costs one object (and
/// one PUT); sync in proportion (for example every few hundred milliseconds,
/// or every few MiB), not per append.
///
/// - **One writer per stream**: every segment is put with
///   [`PutMode::Create`] (`If-None-Match: *`), so a second writer on the
///   same stream fails with `AlreadyExists` instead of overwriting anything.
/// - **Uploads overlap appends**: a sealed segment is uploaded in the
///   background while the writer fills the next one (uploads are stored
///   in order, one at a time, so that a crash never leaves a gap); at most
///   [`DEFAULT_UPLOADS`](Self::DEFAULT_UPLOADS) sealed segments wait in
///   memory (see [`uploads`](Self::uploads)), and when that many are in
///   flight the writer's flusher waits (lossless: writers then wait once
///   both halves of their buffer are full). A failed upload is retried as
///   the store's retry policy says; a persistent failure is sticky: every
///   later `sync()` and append returns it, and nothing a `sync()`
///   acknowledged is lost.
/// - **Listing** is paginated by the store, starts after the last segment
///   known (`list_with_offset`), is sorted by name here (a listing's order
///   is not guaranteed) and filtered to the stream. A list or GET error is
///   an error, never the end of the stream.
///
/// The store is async; this type drives it from the calling thread (the
/// writer's flusher, the reader's) on a runtime of its own, or on yours
/// ([`with_handle`](Self::with_handle)). Do not call it from inside an async
/// task.
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    runtime: Driver,
    uploads: Arc<Uploads>,
    /// The last upload started: the next one waits for it (see `seal`).
    last_upload: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// Where the store's futures run.
enum Driver {
    Owned(Runtime),
    Borrowed(Handle),
}

impl Driver {
    fn handle(&self) -> &Handle {
        match self {
            Driver::Owned(runtime) => runtime.handle(),
            Driver::Borrowed(handle) => handle,
        }
    }
}

impl Objects {
    /// Sealed segments that may wait in memory for their upload.
    pub const DEFAULT_UPLOADS: usize = 2;

    /// The stream under `prefix` (a "directory" of the store: `logs/app`)
    /// of `store`, on a runtime of its own (one worker thread).
    ///
    /// # Errors
    /// If the runtime cannot be started.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mwsr-objects")
            .enable_all()
            .build()?;
        Ok(Self::with_driver(store, prefix, Driver::Owned(runtime)))
    }

    /// As [`new`](Self::new), on the runtime of `handle`.
    pub fn with_handle(store: Arc<dyn ObjectStore>, prefix: &str, handle: Handle) -> Self {
        Self::with_driver(store, prefix, Driver::Borrowed(handle))
    }

    fn with_driver(store: Arc<dyn ObjectStore>, prefix: &str, runtime: Driver) -> Self {
        Self {
            store,
            prefix: Path::from(prefix),
            runtime,
            uploads: Arc::new(Uploads::new(Self::DEFAULT_UPLOADS)),
            last_upload: Arc::new(Mutex::new(None)),
        }
    }

    /// Lets at most `n` sealed segments wait for their upload (at least 1;
    /// default [`DEFAULT_UPLOADS`](Self::DEFAULT_UPLOADS)). Memory: the open
    /// segment and up to `n` sealed ones, each up to the segment size.
    pub fn uploads(mut self, n: usize) -> Self {
        self.uploads = Arc::new(Uploads::new(n.max(1)));
        self
    }

    /// An S3 bucket (or an S3-compatible server), configured as the AWS
    /// SDKs read the environment (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`, ...), then by
    /// the builder's calls.
    pub fn s3() -> S3 {
        S3 {
            builder: object_store::aws::AmazonS3Builder::from_env(),
            prefix: String::new(),
        }
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.handle().block_on(future)
    }

    fn path(&self, name: &str) -> Path {
        self.prefix.clone().join(name)
    }
}

impl Storage for Objects {
    fn list(&self, prefix: &str, after: Option<&str>) -> io::Result<Vec<Entry>> {
        let listing = match after {
            Some(after) => self
                .store
                .list_with_offset(Some(&self.prefix), &self.path(after)),
            None => self.store.list(Some(&self.prefix)),
        };
        let objects: Vec<_> = self.block_on(listing.try_collect()).map_err(io_error)?;
        Ok(objects
            .into_iter()
            .filter_map(|meta| {
                // Direct children of the prefix only: one path part more.
                let mut parts = meta.location.prefix_match(&self.prefix)?;
                let name = parts.next()?.as_ref().to_owned();
                if parts.next().is_some() || !name.starts_with(prefix) {
                    return None;
                }
                Some(Entry {
                    name,
                    len: meta.size,
                    modified: Some(meta.last_modified.into()),
                })
            })
            .collect())
    }

    fn read(&self, name: &str, offset: u64, len: u64) -> io::Result<Box<dyn io::Read + Send>> {
        if len == 0 {
            return Ok(Box::new(io::empty()));
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(offset..offset.saturating_add(len))),
            ..GetOptions::default()
        };
        let result = self
            .block_on(self.store.get_opts(&self.path(name), options))
            .map_err(io_error)?;
        Ok(Box::new(Body {
            stream: result.into_stream(),
            chunk: bytes::Bytes::new(),
            handle: self.runtime.handle().clone(),
        }))
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn SegmentWrite>> {
        self.uploads.check()?;
        Ok(Box::new(Pending {
            store: self.store.clone(),
            path: self.path(name),
            data: Vec::new(),
            uploads: self.uploads.clone(),
            last_upload: self.last_upload.clone(),
            handle: self.runtime.handle().clone(),
        }))
    }

    fn delete(&self, name: &str) -> io::Result<()> {
        match self.block_on(self.store.delete(&self.path(name))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }

    fn sync(&self) -> io::Result<()> {
        self.uploads.wait_all()
    }

    fn syncs_open_segments(&self) -> bool {
        false
    }

    fn lock(&self, _lock_name: &str) -> io::Result<Box<dyn Send + Sync>> {
        // Create-only puts keep a second writer from overwriting anything:
        // its first upload fails with `AlreadyExists`.
        Ok(Box::new(()))
    }
}

/// An open segment: its bytes, uploaded whole when sealed.
struct Pending {
    store: Arc<dyn ObjectStore>,
    path: Path,
    data: Vec<u8>,
    uploads: Arc<Uploads>,
    last_upload: Arc<Mutex<Option<JoinHandle<()>>>>,
    handle: Handle,
}

impl SegmentWrite for Pending {
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(data);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        Ok(()) // an object exists once uploaded whole: see `seal`
    }

    /// Hands the segment to a background upload. Uploads are stored in
    /// seal order, each after the one before it has succeeded: a crash (or
    /// a failure) leaves the stream's first segments stored, never a later
    /// one without an earlier, which `open` would find a gap. Several
    /// sealed segments still wait in memory while one is on the wire.
    fn seal(self: Box<Self>) -> io::Result<()> {
        let Pending {
            store,
            path,
            data,
            uploads,
            last_upload,
            handle,
        } = *self;
        let ticket = uploads.begin()?; // waits while too many are in flight
        let mut last = last_upload.lock();
        let previous = last.take();
        let task_uploads = uploads.clone();
        *last = Some(handle.spawn(async move {
            if let Some(previous) = previous {
                let _ = previous.await; // its outcome is in `uploads`
            }
            let result = match task_uploads.check() {
                // An earlier segment failed: storing this one would leave a gap.
                Err(failed) => Err(failed),
                Ok(()) => put_new(&*store, &path, data).await,
            };
            ticket.finish(result);
        }));
        Ok(())
    }
}

/// Stores `data` as the new object `path`, refusing to overwrite one.
async fn put_new(store: &dyn ObjectStore, path: &Path, data: Vec<u8>) -> io::Result<()> {
    let options = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    match store.put_opts(path, PutPayload::from(data), options).await {
        Ok(_) => Ok(()),
        Err(
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. },
        ) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "mwsr::segments: {path} exists already: another writer is writing this \
                     stream (one writer per stream)"
            ),
        )),
        Err(e) => Err(io_error(e)),
    }
}

/// A GET's body, read as it arrives.
struct Body {
    stream: futures::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>,
    chunk: bytes::Bytes,
    handle: Handle,
}

impl io::Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.handle.block_on(self.stream.next()) {
                Some(chunk) => self.chunk = chunk.map_err(io_error)?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

/// The store's error as an `io::Error` (`NotFound` stays `NotFound`).
fn io_error(e: object_store::Error) -> io::Error {
    e.into()
}

impl fmt::Debug for Objects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Objects")
            .field("store", &self.store.to_string())
            .field("prefix", &self.prefix.as_ref())
            .finish_non_exhaustive()
    }
}

/// Configures [`Objects`] on S3: from [`Objects::s3`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct S3 {
    builder: object_store::aws::AmazonS3Builder,
    prefix: String,
}

impl S3 {
    /// The bucket.
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.builder = self.builder.with_bucket_name(bucket);
        self
    }

    /// The prefix ("directory") of the stream in the bucket: `logs/app`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The region (default: from the environment, else `us-east-1`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.builder = self.builder.with_region(region);
        self
    }

    /// The endpoint URL, for an S3-compatible server
    /// (`http://127.0.0.1:9000`).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.builder = self.builder.with_endpoint(url);
        self
    }

    /// Allow `http://` endpoints (default: https only).
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.builder = self.builder.with_allow_http(allow);
        self
    }

    /// Credentials, instead of the environment's.
    pub fn credentials(mut self, key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.builder = self
            .builder
            .with_access_key_id(key_id)
            .with_secret_access_key(secret);
        self
    }

    /// Connects (lazily: the first request checks the settings).
    ///
    /// # Errors
    /// `InvalidInput` for settings the store refuses (no bucket, a bad
    /// URL); starting the runtime.
    pub fn build(self) -> io::Result<Objects> {
        let store = self
            .builder
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Objects::new(Arc::new(store), &self.prefix)
    }
}
