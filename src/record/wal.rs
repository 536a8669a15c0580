//! A group-commit write-ahead log: many threads append records; the first
//! thread that needs a sync frames the queued batch, writes it and syncs it
//! once for everyone.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::blocks::{Blocks, Physical};
use super::group::{Commit, Group, records};
use super::log_file::LogFile;
use super::{BLOCK_SIZE, HEADER_SIZE, LogEnd, Reader, Writer, chunk};
use crate::fsync::sync_parent;

/// A durable log in the LevelDB format with group commit, as LevelDB and
/// RocksDB do for synced writes: any number of threads append; the first
/// thread that needs its record durable while no sync is under way leads:
/// it takes every record queued so far, frames them ([`Writer`]), writes
/// them with one write and makes them durable with one `sync_data`,
/// then wakes the threads whose records that covered. Records that arrive
/// meanwhile queue for the next leader. A lone writer thus syncs its own
/// record, with no hand-off to another thread; a leader that starts while
/// threads the last sync released are still coming back waits for them,
/// but no longer than that sync took, so that looping writers share one
/// sync rather than take turns. A background thread commits records that
/// nobody syncs.
///
/// [`append_sync`](Self::append_sync) returns once its record is durable;
/// [`append`](Self::append) returns at once, and the record is durable after
/// the next batch's sync (or a [`sync`](Self::sync)). Read the file back
/// with a [tolerant](super::Mode::Tolerant) [`Reader`](super::Reader) after
/// a crash: a batch cut short by it is a torn tail, a clean end.
/// [`open`](Self::open) cuts such a tail off before it appends, so every
/// record a sync acknowledged stays readable, also by a strict reader.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let wal = mwsr::record::Wal::create(dir.path().join("000001.log"))?;
/// std::thread::scope(|s| {
///     for id in 0..4 {
///         let wal = &wal;
///         s.spawn(move || wal.append_sync(format!("put k{id}").as_bytes()).unwrap());
///     }
/// });
/// assert_eq!(wal.stats().records, 4);
/// assert!(wal.stats().syncs <= 4); // often fewer: one per batch
/// wal.close()?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # The file
/// [`create`](Self::create) and [`open`](Self::open) write small batches
/// into space they zero-filled ahead of the log, a megabyte at a time, so
/// that a sync need not also make a new file size durable (on ext4 that
/// saves a journal commit per sync; the benchmarks measured one sync per
/// 100-byte batch about a fifth to a third faster). While the log is open,
/// and after a crash, its file thus runs on past the last record with
/// zeros: a tolerant [`Reader`] takes them for the end (and a write torn
/// in them for a torn write), `open` cuts them off before appending, and
/// [`close`](Self::close) cuts them, so that a closed log ends with its
/// last record and reads strictly. (A [`Reader`] thus cannot follow an
/// open log as it grows: it reads past the zeros that later batches are
/// written over. Read a log once it is closed, or after a crash; a log
/// made with [`from_file`](Self::from_file), which zero-fills nothing, can
/// be followed.) Batches of 64 KiB or more are appended as they are (zeros
/// would double their bytes).
///
/// A write or sync that fails fails the log for good: every later call
/// returns the error. (Retrying a failed `fsync` is not safe: the kernel
/// may have dropped the dirty pages.)
///
/// # Handles
/// A `Wal` is a cheap handle, as crossbeam's `Sender`: clone it for each
/// thread; every clone appends to the same log. Dropping the last handle
/// closes the log (syncing what is left), as [`close`](Self::close) does,
/// but cannot report an error. It is also an `io::Write` in which each
/// `write` (or `write!`, formatted whole first) is one record and `flush`
/// is [`sync`](Self::sync).
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let wal = mwsr::record::Wal::create(dir.path().join("000001.log"))?;
/// let workers: Vec<_> = (0..4)
///     .map(|id| {
///         let wal = wal.clone();
///         std::thread::spawn(move || -> std::io::Result<()> {
///             write!(wal, "put k{id}")?; // one record
///             wal.sync() // durable
///         })
///     })
///     .collect();
/// for worker in workers {
///     worker.join().unwrap()?;
/// }
/// assert_eq!(wal.stats().records, 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Wal {
    group: Arc<Group<Framer>>,
    recovery: LogEnd,
}

/// What a [`Wal`] has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Records framed and written.
    pub records: u64,
    /// Batches written, each with one write and one `sync_data`.
    pub syncs: u64,
    /// Bytes written, framing included.
    pub bytes: u64,
}

impl Wal {
    /// Bytes per batch for [`create`](Self::create) and
    /// [`open`](Self::open): room for thousands of typical records to queue
    /// while a sync is under way. Appends wait when the queue is full.
    pub const DEFAULT_CAPACITY: usize = 256 * 1024;

    /// A new, empty log at `path` (truncated if it exists).
    ///
    /// # Errors
    /// Opening the file, or spawning the flusher thread.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        sync_parent(path.as_ref())?;
        Self::start(LogFile::preallocated(file, 0), 0, Self::DEFAULT_CAPACITY)
    }

    /// Appends to the log at `path`, created if missing, keeping its block
    /// boundaries. The log is read to its end first: whatever follows its
    /// last whole record (a write torn by a crash, or damage) is cut off and
    /// the cut is synced before anything is appended, so the new records
    /// never land behind bytes that would hide them from readers.
    /// [`recovery`](Self::recovery) tells what was cut. Damage *before* the
    /// last whole record is left in place (a tolerant reader skips it) and
    /// counted there.
    ///
    /// Reading the log costs one pass over the file: read its records before
    /// `open` (with a tolerant [`Reader`]) to replay them.
    ///
    /// # Errors
    /// As [`create`](Self::create); reading the log; `InvalidData` if the
    /// file holds not a single whole record, no intact chunk of one, and
    /// does not begin as a torn log would (it may not be a log at all:
    /// nothing is cut then; remove it or use [`create`](Self::create) to
    /// start afresh).
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::open_with_capacity(path, Self::DEFAULT_CAPACITY)
    }

    /// As [`open`](Self::open), with batches of up to `capacity` bytes (see
    /// [`from_file`](Self::from_file)).
    ///
    /// # Errors
    /// As [`open`](Self::open) and [`from_file`](Self::from_file).
    pub fn open_with_capacity(path: impl AsRef<Path>, capacity: usize) -> io::Result<Self> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        sync_parent(path)?;
        let end = Reader::tolerant(&file).skip_to_end()?;
        if end.cut_bytes() > 0 {
            let foreign = end.intact_len == 0
                && (end.damaged || !starts_like_a_log(&file)?)
                && !holds_a_chunk(&file)?;
            if foreign {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "mwsr::record::Wal: {} holds no intact record ({} bytes that do not \
                         read as a log); not truncating it",
                        path.display(),
                        end.len
                    ),
                ));
            }
            // Never append after damage (as LevelDB and RocksDB): cut it off,
            // durably, before the first new record is written.
            file.set_len(end.intact_len)?;
            file.sync_all()?;
        }
        let file = LogFile::preallocated(file, end.intact_len);
        let mut wal = Self::start(file, end.intact_len, capacity)?;
        wal.recovery = end;
        Ok(wal)
    }

    /// What [`open`](Self::open) found at the end of the log and cut off
    /// (nothing, for a log made by [`create`](Self::create) or
    /// [`from_file`](Self::from_file)): `cut_bytes()` bytes past
    /// `intact_len`, `torn` if a write was cut short, `damaged` if there was
    /// more than a torn write, and `corruptions` anywhere in the log.
    pub fn recovery(&self) -> LogEnd {
        self.recovery
    }

    /// A log written to `file`, which holds `len` bytes of intact log (see
    /// [`Reader::skip_to_end`]: never append after a torn or damaged tail)
    /// and is positioned at its end, with batches of up to `capacity` bytes
    /// (framing excluded, 4 bytes of length per record included; a larger
    /// record is written on its own).
    ///
    /// Unlike [`create`](Self::create) and [`open`](Self::open), which own
    /// their file, this writes at the file's position with plain writes (it
    /// may be open for appending only) and zero-fills nothing ahead of the
    /// log, so each sync that grows the file pays for its new size too.
    ///
    /// # Errors
    /// `InvalidInput` if `capacity` is 0 or above `u32::MAX`; spawning the
    /// flusher thread.
    pub fn from_file(file: File, len: u64, capacity: usize) -> io::Result<Self> {
        Self::start(LogFile::appending(file, len), len, capacity)
    }

    /// A log on `file`, which holds `len` bytes of intact log.
    fn start(file: LogFile, len: u64, capacity: usize) -> io::Result<Self> {
        if capacity == 0 || u32::try_from(capacity).is_err() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "mwsr::record::Wal: capacity must be 1 to {} bytes, not {capacity}",
                    u32::MAX
                ),
            ));
        }
        let framer = Framer {
            file,
            log: Writer::at_offset(Vec::new(), len),
            capacity,
        };
        Ok(Self {
            group: Arc::new(Group::start(framer, capacity, "mwsr-wal")?),
            recovery: LogEnd {
                intact_len: len,
                len,
                ..LogEnd::default()
            },
        })
    }

    /// Appends `record`; returns at once. It is durable once a later
    /// [`sync`](Self::sync) or [`append_sync`](Self::append_sync) returns
    /// (and, in practice, after the batch it joined is synced).
    ///
    /// # Errors
    /// `InvalidInput` for a record of 4 GiB or more; the log's failure
    /// (sticky); `BrokenPipe` after [`close`](Self::close).
    pub fn append(&self, record: &[u8]) -> io::Result<()> {
        self.group.append(&[record])
    }

    /// Formats the whole message and appends it as one record (as
    /// `io::Write::write_fmt` does). An inherent method, so that
    /// `write!(wal, ..)` works on any handle without `mut`.
    ///
    /// # Errors
    /// As [`append`](Self::append).
    pub fn write_fmt(&self, args: std::fmt::Arguments<'_>) -> io::Result<()> {
        crate::io_write::formatted(args, |record| self.append(record))
    }

    /// Appends the concatenation of `parts` as one record.
    fn append_io(&self, parts: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.group.append(parts)?;
        Ok(parts.iter().map(|part| part.len()).sum())
    }

    /// Appends `record` and returns once it is durable: written and synced
    /// with the batch it joined.
    ///
    /// # Errors
    /// As [`append`](Self::append).
    pub fn append_sync(&self, record: &[u8]) -> io::Result<()> {
        self.group.append_sync(&[record])
    }

    /// Returns once every record appended before this call is durable.
    ///
    /// # Errors
    /// The log's failure; `BrokenPipe` after [`close`](Self::close).
    pub fn sync(&self) -> io::Result<()> {
        self.group.sync()
    }

    /// Syncs what is left, cuts the zeros ahead of the log off (see
    /// [the file](Self#the-file)) and stops the flusher thread. Idempotent;
    /// later appends fail with `BrokenPipe`. Dropping the log closes it
    /// too, but cannot report an error.
    ///
    /// # Errors
    /// The log's failure, if it failed at any point (cutting the zeros
    /// included: the records stay durable, and readers and `open` handle
    /// the zeros as after a crash).
    pub fn close(&self) -> io::Result<()> {
        self.group.close()
    }

    /// Records, syncs and bytes so far.
    pub fn stats(&self) -> WalStats {
        self.group.stats()
    }
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("stats", &self.stats())
            .field("recovery", &self.recovery)
            .finish_non_exhaustive()
    }
}

crate::io_write::impl_io_write_appends!(Wal);

/// Whether `file` begins as a log whose first record a crash tore would:
/// with less than a header, a `FULL` or `FIRST` header whose chunk fits its
/// block, or nothing but zeros (space zero-filled ahead of a first record
/// that never reached the disk). A file that does not may be no log at
/// all, and is not cut: one that only begins with zeros reads as an empty
/// log too (a reader skips the rest of a block after a zero header).
fn starts_like_a_log(mut file: &File) -> io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(0))?;
    let mut header = Vec::with_capacity(HEADER_SIZE);
    file.take(HEADER_SIZE as u64).read_to_end(&mut header)?;
    let Some(&[_, _, _, _, l0, l1, kind]) = header.first_chunk::<HEADER_SIZE>() else {
        return Ok(true); // a torn header
    };
    if header.iter().all(|&b| b == 0) {
        return only_zeros(file);
    }
    let len = usize::from(u16::from_le_bytes([l0, l1]));
    Ok(matches!(kind, chunk::FULL | chunk::FIRST) && HEADER_SIZE + len <= BLOCK_SIZE)
}

/// Whether `file` holds a chunk whose checksum matches: then it is a log,
/// however damaged (a power loss may drop the first page of a first batch
/// nobody was told was durable, and keep later ones). A chance match in a
/// file that is no log is about one in 2^32 per chunk header read.
fn holds_a_chunk(mut file: &File) -> io::Result<bool> {
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(0))?;
    let mut blocks = Blocks::new(file);
    loop {
        match blocks.next()? {
            Physical::Chunk(_) => return Ok(true),
            Physical::Bad { .. } => {}
            Physical::End { .. } => return Ok(false),
        }
    }
}

/// Whether the rest of `file`, from its position, is all zeros.
fn only_zeros(mut file: &File) -> io::Result<bool> {
    use std::io::Read;
    let mut buf = vec![0; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(true),
            Ok(n) if buf[..n].iter().any(|&b| b != 0) => return Ok(false),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The leader's work: frames a batch of records, writes it with one
/// write and syncs it with one `sync_data`.
struct Framer {
    file: LogFile,
    /// Frames into a reused buffer, at the file's offset.
    log: Writer<Vec<u8>>,
    capacity: usize,
}

impl Commit for Framer {
    fn commit(&mut self, batch: &[u8], _records: u64) -> io::Result<u64> {
        for record in records(batch) {
            self.log.write_record(record)?;
        }
        let framed = self.log.get_mut();
        let written = framed.len() as u64;
        let result = self.file.write(framed).and_then(|()| self.file.sync());
        framed.clear();
        framed.shrink_to(2 * self.capacity); // after an outsized record
        result.map(|()| written)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.file.cut_zeros()
    }
}
