//! The file under a [`Wal`](super::Wal): batches written at the log's end,
//! into space zero-filled ahead of it.
//!
//! Why zero-fill: a `sync_data` after an append that grew the file must
//! also make the new size durable, which on ext4 (and most journaling file
//! systems) is a journal commit on top of the data write. Overwriting
//! blocks that are already allocated, written and synced needs only the
//! data write and a cache flush: on the virtio disk of the machine the
//! benchmarks ran on, a 100-byte write and `sync_data` took about 100-160
//! µs that way against 150-290 µs as an append. PostgreSQL zero-fills its
//! WAL segments for the same reason. `fallocate` alone is not enough: its
//! unwritten extents are converted, a metadata change, at the first write.
//!
//! Zeros cost a second write of each byte, which bulk batches (appends
//! nobody waits for, of many kilobytes) would feel, and gain nothing from:
//! a large batch that runs past the zeroed space is written as a plain
//! append instead. Readers need nothing of this: a [tolerant](super::Mode)
//! reader skips zero-filled space as a clean end, [`Wal::open`] cuts it off
//! before appending, and [`Wal::close`] cuts it so that a closed log ends at
//! its last record.
//!
//! [`Wal::open`]: super::Wal::open
//! [`Wal::close`]: super::Wal::close

use std::fs::File;
use std::io::{self, Write};

/// How far ahead of the log's end a small batch zero-fills: an extension
/// (a journal commit and this many zeros written) once per this many bytes
/// of log.
pub(super) const ZERO_FILL: u64 = 1 << 20;

/// A batch at least this large that runs past the zeroed space is appended
/// without zero-filling: its sync writes so much data that the journal
/// commit is a small part of it.
const BULK: usize = 64 * 1024;

const BLOCK: u64 = super::BLOCK_SIZE as u64;

/// Zeros to write from; a 64 KiB static keeps extensions allocation-free.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// The log's file and where its log and its zeroed space end.
pub(super) struct LogFile {
    file: File,
    /// `false` for a file given by the caller ([`Wal::from_file`]), which
    /// may be open for appending only: written at its own position, and
    /// never zero-filled.
    ///
    /// [`Wal::from_file`]: super::Wal::from_file
    positioned: bool,
    /// Where the log ends: the next batch goes here.
    end: u64,
    /// Where the zero-filled space ahead of `end` ends (`end` if there is
    /// none).
    zeroed_to: u64,
}

impl LogFile {
    /// A file that this module opened itself, holding `len` bytes of log
    /// and nothing after: written at offsets, zero-filled ahead.
    pub(super) fn preallocated(file: File, len: u64) -> Self {
        Self {
            file,
            positioned: true,
            end: len,
            zeroed_to: len,
        }
    }

    /// A caller's file, positioned at the end of its `len` bytes of log:
    /// written with plain `write_all`s.
    pub(super) fn appending(file: File, len: u64) -> Self {
        Self {
            file,
            positioned: false,
            end: len,
            zeroed_to: len,
        }
    }

    /// Writes `batch` at the log's end; a small batch that runs past the
    /// zeroed space zero-fills [`ZERO_FILL`] bytes further. Not durable
    /// until [`sync`](Self::sync).
    pub(super) fn write(&mut self, batch: &[u8]) -> io::Result<()> {
        let new_end = self.end + batch.len() as u64;
        if !self.positioned {
            self.file.write_all(batch)?;
            (self.end, self.zeroed_to) = (new_end, new_end);
            return Ok(());
        }
        write_all_at(&self.file, batch, self.end)?;
        self.end = new_end;
        self.zeroed_to = self.zeroed_to.max(new_end);
        // Room for the next small batch, and a whole zeroed block after the
        // one it would end in: a batch torn in there reads as damage, then
        // zeros, then the end, which readers take for a torn write (see
        // `Suspect`).
        let wanted = (new_end + BULK as u64).next_multiple_of(BLOCK) + BLOCK;
        if self.zeroed_to < wanted && batch.len() < BULK {
            self.zero(self.zeroed_to, wanted.next_multiple_of(ZERO_FILL))?;
        }
        Ok(())
    }

    /// Writes zeros over `from..to` and moves `zeroed_to` to `to` once done
    /// (after a failure, the log is failed for good anyway).
    fn zero(&mut self, mut from: u64, to: u64) -> io::Result<()> {
        while from < to {
            let n = ZEROS
                .len()
                .min(usize::try_from(to - from).unwrap_or(usize::MAX));
            write_all_at(&self.file, &ZEROS[..n], from)?;
            from += n as u64;
        }
        self.zeroed_to = to;
        Ok(())
    }

    /// Makes what was written durable, with any growth of the file.
    pub(super) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Cuts the zeroed space off, durably, so that the file ends with its
    /// last record (for strict readers and other tools).
    pub(super) fn cut_zeros(&mut self) -> io::Result<()> {
        if self.zeroed_to > self.end {
            self.file.set_len(self.end)?;
            self.file.sync_all()?;
            self.zeroed_to = self.end;
        }
        Ok(())
    }
}

/// Writes all of `buf` at `offset`, whatever the file's position.
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, SeekFrom};
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(buf)
    }
}
