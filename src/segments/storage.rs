//! Where segments are kept: the [`Storage`] trait, shaped for a local
//! directory and for an object store alike.

use std::io;
use std::time::SystemTime;

/// One stored object of a stream (a segment, or anything else under its
/// prefix: the caller filters by [`Naming`](super::Naming)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The object's name, relative to the stream's directory or prefix.
    pub name: String,
    /// Its length in bytes, when listed.
    pub len: u64,
    /// When it was last written, if the storage knows.
    pub modified: Option<SystemTime>,
}

/// A place that keeps a stream's segments: a directory ([`Dir`](super::Dir)),
/// or an object store.
///
/// The shape follows what an object store can do, so that the writer and
/// reader work unchanged on either:
/// - A segment is written once, front to back, by one writer
///   ([`create`](Self::create)), and never changed after it is sealed:
///   an object store cannot append to an object.
/// - [`list`](Self::list) returns entries in any order (callers sort by
///   name) and must return all of them, however many pages that takes.
/// - A segment is read by ranges ([`read`](Self::read)), as a ranged GET.
///
/// Errors are errors: a failed listing or read must never look like an
/// empty stream or the end of one.
pub trait Storage: Send + Sync + 'static {
    /// Every entry whose name starts with `prefix` and sorts after `after`
    /// (all of them for `None`), in any order, every page of the listing.
    /// Not a snapshot: the length of a segment being written may be stale
    /// (a reader takes a segment's length from the next one's base, where
    /// there is a next one).
    ///
    /// # Errors
    /// The storage's error, never a short listing.
    fn list(&self, prefix: &str, after: Option<&str>) -> io::Result<Vec<Entry>>;

    /// Up to `len` bytes of `name` from byte `offset` on; fewer only at the
    /// end of what is stored. A read past the end yields nothing.
    ///
    /// # Errors
    /// `NotFound` if `name` does not exist (it may have been deleted by
    /// retention); the storage's error otherwise.
    fn read(&self, name: &str, offset: u64, len: u64) -> io::Result<Box<dyn io::Read + Send>>;

    /// Starts a new segment `name`, which must not exist yet.
    ///
    /// # Errors
    /// `AlreadyExists` if it does (another writer got there first); the
    /// storage's error otherwise.
    fn create(&self, name: &str) -> io::Result<Box<dyn SegmentWrite>>;

    /// Deletes `name`.
    ///
    /// # Errors
    /// The storage's error; a missing `name` is not one.
    fn delete(&self, name: &str) -> io::Result<()>;

    /// Makes durable the segments sealed so far, and the creations and
    /// deletions done so far: for a directory, `fsync` each segment sealed
    /// since the last call, then the directory; for an object store, wait
    /// for the uploads of sealed segments (puts are durable once they
    /// return). The writer calls it in `sync()` and `close()`, so that
    /// sealing a segment on the flusher thread never waits for the device.
    ///
    /// # Errors
    /// The storage's error (for an object store, a failed upload's).
    fn sync(&self) -> io::Result<()>;

    /// Whether [`SegmentWrite::sync`] makes an open segment durable in
    /// place (a file). If not (an object store: an object exists only once
    /// uploaded whole), the writer seals the open segment at each `sync()`
    /// and goes on in a new one.
    fn syncs_open_segments(&self) -> bool;

    /// Claims the stream named by `lock_name` for one writer, until the
    /// returned guard is dropped (or the process ends).
    ///
    /// # Errors
    /// `WouldBlock` if another live writer holds it; the storage's error
    /// otherwise.
    fn lock(&self, lock_name: &str) -> io::Result<Box<dyn Send + Sync>>;
}

/// An open segment being written, front to back.
pub trait SegmentWrite: Send {
    /// Appends `data` to the segment.
    ///
    /// # Errors
    /// The storage's error; the segment is then in an unknown state, and the
    /// writer fails for good.
    fn write_all(&mut self, data: &[u8]) -> io::Result<()>;

    /// Makes everything written so far durable without sealing, if the
    /// storage can ([`Storage::syncs_open_segments`]); otherwise does
    /// nothing.
    ///
    /// # Errors
    /// The storage's error.
    fn sync(&mut self) -> io::Result<()>;

    /// Seals the segment: it is never written again, and is durable once
    /// [`Storage::sync`] returns (not necessarily before: a directory
    /// syncs it then, an object store may upload it in the background).
    ///
    /// # Errors
    /// The storage's error.
    fn seal(self: Box<Self>) -> io::Result<()>;
}
