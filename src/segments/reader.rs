//! [`Reader`]: reads a stream of segments in order, from any offset, while
//! it is being written.

mod cursor;
mod follow;

use std::fmt;
use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::dir::Dir;
use super::naming::Naming;
use super::storage::Storage;
use cursor::Cursor;
pub use follow::Stop;

/// Reads a stream's segments in order, as one byte stream: [`Read`],
/// [`BufRead`] and [`Seek`], while a [`Writer`](super::Writer) (in this
/// process or another) appends to it.
///
/// - **Position** is the stream offset ([`position`](Self::position)): a
///   reader starts at the first byte still stored, and
///   [`seek`](Seek::seek) goes to any offset stored (a binary search over
///   the segments' base offsets, then a read from inside the segment).
///   `SeekFrom::End(n)` (`n <= 0`) is from the end as a fresh listing shows
///   it. A seek past the end is `InvalidInput`, before the first offset
///   stored (removed by [`Retention`](super::Retention)) `NotFound`, each
///   with the offsets the stream holds; [`available`](Self::available) says
///   which.
/// - **End of file** (`Ok(0)`) is the end of what is stored now; a later
///   read goes on from there with what was appended since, in the same
///   segment (which grows while it is open) or in new ones. It never starts
///   over.
/// - **Follow mode** ([`ReaderBuilder::follow`]), as `tail -f`: at the end a
///   read waits for more instead, looking again every poll interval, until
///   a [`Stop`] ([`stopper`](Self::stopper)) stops it from another thread.
/// - **Errors are errors**, never an early end: a failed listing or read, a
///   segment removed under the reader (`NotFound`, naming the earliest
///   offset still stored), segments that do not follow each other
///   (`InvalidData`). After an error the position is unchanged, and the
///   next read tries again.
///
/// Each segment is read with one ranged read ([`Storage::read`], a ranged
/// GET on an object store) from the position to the end of what is known
/// of it, into a buffer of [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY)
/// (reads at least that large bypass it). The storage is listed only at the
/// end of the segments known, and then only from the last of them on.
///
/// ```
/// use std::io::{BufRead, Read, Seek, SeekFrom};
///
/// let dir = tempfile::tempdir()?;
/// let log = mwsr::segments::Writer::builder().segment_size(8).open(dir.path())?;
/// log.append(b"first line\n")?;
/// log.sync()?;
///
/// let mut reader = mwsr::segments::Reader::open(dir.path())?;
/// let mut text = String::new();
/// reader.read_to_string(&mut text)?; // the end of what is there now
/// assert_eq!(text, "first line\n");
///
/// log.append(b"second line\n")?; // in a new segment
/// log.sync()?;
/// text.clear();
/// reader.read_line(&mut text)?; // goes on where it was
/// assert_eq!(text, "second line\n");
///
/// reader.seek(SeekFrom::Start(6))?;
/// text.clear();
/// reader.read_line(&mut text)?;
/// assert_eq!(text, "line\n");
/// assert_eq!(reader.position(), 11);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reader {
    cursor: Cursor,
    /// `buffer[consumed..filled]` is what `BufRead` hands out; all of
    /// `buffer[..filled]` holds the stream just before `cursor.position()`.
    buffer: Box<[u8]>,
    consumed: usize,
    filled: usize,
    follow: Option<Duration>,
    stop: Stop,
}

/// Configures and opens a [`Reader`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `open` is called"]
pub struct ReaderBuilder {
    naming: Naming,
    follow: Option<Duration>,
    capacity: usize,
    stop: Option<Stop>,
}

impl Reader {
    /// The default size of the read buffer: 64 KiB.
    pub const DEFAULT_CAPACITY: usize = 64 << 10;

    /// Opens the stream in directory `dir` (default [`Naming`]), at its
    /// first byte stored.
    ///
    /// # Errors
    /// As [`ReaderBuilder::open`].
    pub fn open(dir: impl AsRef<Path>) -> io::Result<Self> {
        Self::builder().open(dir)
    }

    /// Configures a reader: naming, follow mode, buffer.
    pub fn builder() -> ReaderBuilder {
        ReaderBuilder {
            naming: Naming::default(),
            follow: None,
            capacity: Self::DEFAULT_CAPACITY,
            stop: None,
        }
    }

    /// The stream offset of the next byte read.
    #[inline]
    pub fn position(&self) -> u64 {
        self.cursor.position() - (self.filled - self.consumed) as u64
    }

    /// The offsets the stream holds now, from a fresh listing: from the
    /// first byte still stored to the end (empty, at the position, if it
    /// holds no segments). After a `NotFound` for removed data, seek to its
    /// `start` to go on from there.
    ///
    /// # Errors
    /// The listing's; `InvalidData` if segments overlap.
    pub fn available(&mut self) -> io::Result<Range<u64>> {
        self.cursor.available()
    }

    /// A handle that stops this reader from any thread (see [`Stop`]).
    pub fn stopper(&self) -> Stop {
        self.stop.clone()
    }

    /// Reads into `dst` from the stream, waiting in follow mode; `Ok(0)` at
    /// the end (not following) or once stopped.
    fn fetch(
        cursor: &mut Cursor,
        follow: Option<Duration>,
        stop: &Stop,
        dst: &mut [u8],
    ) -> io::Result<usize> {
        loop {
            if stop.is_stopped() {
                return Ok(0);
            }
            let n = cursor.read(dst)?;
            match follow {
                Some(poll) if n == 0 => {
                    if stop.wait_timeout(poll) {
                        return Ok(0);
                    }
                }
                _ => return Ok(n),
            }
        }
    }
}

impl Read for Reader {
    #[inline]
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.stop.is_stopped() {
            return Ok(0);
        }
        if self.consumed == self.filled && out.len() >= self.buffer.len() {
            // Nothing buffered, and a large read: straight into `out`.
            self.consumed = 0;
            self.filled = 0;
            return Self::fetch(&mut self.cursor, self.follow, &self.stop, out);
        }
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Reader {
    #[inline]
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.stop.is_stopped() {
            return Ok(&[]);
        }
        if self.consumed == self.filled {
            self.consumed = 0;
            self.filled = 0;
            self.filled = Self::fetch(&mut self.cursor, self.follow, &self.stop, &mut self.buffer)?;
        }
        Ok(&self.buffer[self.consumed..self.filled])
    }

    #[inline]
    fn consume(&mut self, amount: usize) {
        self.consumed = (self.consumed + amount).min(self.filled);
    }
}

/// Seeks by stream offset: see [`Reader`]. A seek within the buffer does no
/// I/O; others drop the buffer and the open range, and list the storage
/// only if the segments known do not hold the offset.
impl Seek for Reader {
    fn seek(&mut self, from: SeekFrom) -> io::Result<u64> {
        let target = match from {
            SeekFrom::Start(offset) => offset,
            SeekFrom::Current(by) => self.position().checked_add_signed(by).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "mwsr::segments: cannot seek by {by} from offset {}: {}",
                        self.position(),
                        self.cursor.held()
                    ),
                )
            })?,
            SeekFrom::End(by) => {
                let end = self.cursor.end()?;
                if by > 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "mwsr::segments: cannot seek {by} past the end: {}",
                            self.cursor.held()
                        ),
                    ));
                }
                end.checked_sub(by.unsigned_abs()).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "mwsr::segments: cannot seek {by} from the end: {}",
                            self.cursor.held()
                        ),
                    )
                })?
            }
        };
        let end = self.cursor.position();
        let start = end - self.filled as u64;
        if (start..=end).contains(&target) {
            self.consumed = (target - start) as usize;
            return Ok(target);
        }
        self.cursor.seek(target)?;
        self.consumed = 0;
        self.filled = 0;
        Ok(target)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.position())
    }
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("position", &self.position())
            .field("segments_known", &self.cursor.known())
            .field("buffered", &(self.filled - self.consumed))
            .field("follow", &self.follow)
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

impl ReaderBuilder {
    /// How the stream's segments are named (default: `{base:020}.seg`): as
    /// its writer was told. Other streams in the same directory are not
    /// seen.
    pub fn naming(mut self, naming: Naming) -> Self {
        self.naming = naming;
        self
    }

    /// Follow mode (`tail -f`): at the end, a read waits for more data
    /// instead of returning `Ok(0)`, listing the storage again every
    /// `poll`, until [`Stop::stop`] (which wakes it at once).
    pub fn follow(mut self, poll: Duration) -> Self {
        self.follow = Some(poll);
        self
    }

    /// The size of the read buffer (default
    /// [`Reader::DEFAULT_CAPACITY`]).
    pub fn capacity(mut self, bytes: usize) -> Self {
        self.capacity = bytes;
        self
    }

    /// Stopped by `stop` (by default, a stop of its own): one [`Stop`] for
    /// several readers.
    pub fn stopped_by(mut self, stop: Stop) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Opens the stream in directory `dir`, which must exist.
    ///
    /// # Errors
    /// As [`open_storage`](Self::open_storage); `NotFound` (or another
    /// error of the directory's) if `dir` cannot be read,
    /// `NotADirectory` if it is something else.
    pub fn open(self, dir: impl AsRef<Path>) -> io::Result<Reader> {
        let dir = dir.as_ref();
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("mwsr::segments: {} is not a directory", dir.display()),
                ));
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "mwsr::segments: cannot open the stream in {}: {e}",
                        dir.display()
                    ),
                ));
            }
        }
        self.open_storage(Arc::new(Dir::new(dir)?))
    }

    /// Opens the stream in `storage`, at its first byte stored.
    ///
    /// # Errors
    /// `InvalidInput` for a zero capacity or poll interval; the listing's;
    /// `InvalidData` if segments overlap.
    pub fn open_storage(self, storage: Arc<dyn Storage>) -> io::Result<Reader> {
        if self.capacity == 0 || self.follow == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "mwsr::segments: the reader's capacity and poll interval must be above 0",
            ));
        }
        Ok(Reader {
            cursor: Cursor::open(storage, self.naming)?,
            buffer: vec![0; self.capacity].into_boxed_slice(),
            consumed: 0,
            filled: 0,
            follow: self.follow,
            stop: self.stop.unwrap_or_default(),
        })
    }
}
