//! [`WriteSink`]: a sink that writes each batch of bytes to an
//! [`io::Write`] (a file, a socket, a pipe) with one `write_all`.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};

use crate::Sink;

/// Writes each batch of bytes to `W` with one [`write_all`](Write::write_all)
/// call, optionally followed by a `flush` or a `sync_data`.
///
/// A batch is one contiguous slice, so it reaches the OS in as few `write`
/// system calls as the writer allows: one, unless the writer accepts less
/// than the whole batch (a full socket buffer, a pipe). Do not wrap `W` in a
/// [`BufWriter`] for speed: the buffer already batches, and a `BufWriter`
/// holds small batches back until it is flushed, so a buffer's `flush()` or
/// `close()` would return before the bytes reached the file (use
/// [`WriteSink::flushing`] if you must).
///
/// # Blocking writers
/// The sink is lossless: a writer that blocks (a socket whose peer stops
/// reading) blocks the flusher, and once both halves of the buffer are full,
/// every thread writing to the buffer and `close()` wait with it. Give
/// sockets a write timeout ([`TcpStream::set_write_timeout`]) to turn a
/// stuck peer into an error instead; the buffer then fails, and the batch
/// may have been written in part.
///
/// [`TcpStream::set_write_timeout`]: std::net::TcpStream::set_write_timeout
///
/// [`Buffer::with_writer`](crate::Buffer::with_writer) and
/// [`AsyncBuffer::with_writer`](crate::AsyncBuffer::with_writer) build a
/// buffer around a plain `WriteSink` in one line; the other flavours go
/// through `new`:
///
/// ```
/// use mwsr::{AsyncBuffer, WriteSink};
///
/// let dir = tempfile::tempdir()?;
/// let file = std::fs::File::create(dir.path().join("app.log"))?;
/// // Each batch is written, then `sync_data`ed: a `flush()` that returns
/// // means the lines are on disk.
/// let log = AsyncBuffer::new(64 * 1024, WriteSink::durable(file));
/// log.write_slice(b"started\n")?;
/// log.flush()?;
/// let (sink, closed) = log.into_inner();
/// closed?;
/// assert_eq!(sink.get_ref().metadata()?.len(), 8);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The writer's `io::Error` fails the buffer for good, as any sink error
/// does. A batch that failed may have been written in part.
pub struct WriteSink<W> {
    writer: W,
    after: After<W>,
}

/// What to do after each batch's `write_all`.
struct After<W> {
    name: &'static str,
    run: fn(&mut W) -> io::Result<()>,
}

impl<W: Write> WriteSink<W> {
    /// Each batch: `write_all`, nothing more. For sockets, pipes and files
    /// whose data may sit in the OS's cache.
    pub fn new(writer: W) -> Self {
        Self::then(writer, "write_all", |_| Ok(()))
    }

    /// Each batch: `write_all`, then [`flush`](Write::flush). For writers
    /// that hold data back until flushed (a compressor, a TLS stream, a
    /// `BufWriter` you need for another reason).
    pub fn flushing(writer: W) -> Self {
        Self::then(writer, "write_all + flush", W::flush)
    }

    /// Each batch: `write_all`, `flush`, then [`sync_data`](SyncData): once
    /// the sink returns, the batch is on stable storage. For durable logs:
    /// one `fsync`-class call per batch instead of one per record is what
    /// makes group commit fast.
    pub fn durable(writer: W) -> Self
    where
        W: SyncData,
    {
        Self::then(writer, "write_all + flush + sync_data", |w| {
            w.flush()?;
            w.sync_data()
        })
    }

    fn then(writer: W, name: &'static str, run: fn(&mut W) -> io::Result<()>) -> Self {
        Self {
            writer,
            after: After { name, run },
        }
    }

    /// The writer.
    pub fn get_ref(&self) -> &W {
        &self.writer
    }

    /// The writer, mutably. Writing to it directly bypasses the buffer's
    /// ordering.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.writer
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.writer
    }
}

impl<W: Write> Sink<u8> for WriteSink<W> {
    type Error = io::Error;

    fn consume(&mut self, batch: &[u8]) -> io::Result<()> {
        self.writer.write_all(batch)?;
        (self.after.run)(&mut self.writer)
    }
}

impl<W: fmt::Debug> fmt::Debug for WriteSink<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteSink")
            .field("writer", &self.writer)
            .field("each_batch", &self.after.name)
            .finish()
    }
}

/// A writer whose written data can be forced to stable storage, as
/// [`File::sync_data`] does. Used by [`WriteSink::durable`].
pub trait SyncData {
    /// Forces the data written so far (not necessarily the metadata) to
    /// stable storage.
    ///
    /// # Errors
    /// The OS's error.
    fn sync_data(&mut self) -> io::Result<()>;
}

impl SyncData for File {
    fn sync_data(&mut self) -> io::Result<()> {
        File::sync_data(self)
    }
}

impl SyncData for &File {
    fn sync_data(&mut self) -> io::Result<()> {
        File::sync_data(self)
    }
}

/// Flushes the `BufWriter`, then syncs the writer inside it.
impl<W: Write + SyncData> SyncData for BufWriter<W> {
    fn sync_data(&mut self) -> io::Result<()> {
        self.flush()?;
        self.get_mut().sync_data()
    }
}

impl<W: SyncData + ?Sized> SyncData for Box<W> {
    fn sync_data(&mut self) -> io::Result<()> {
        (**self).sync_data()
    }
}
