//! Framing records into blocks and chunks.

use std::io::{self, Write};

use super::{BLOCK_SIZE, HEADER_SIZE, chunk, chunk_checksum};

/// Frames records in the LevelDB log format and writes them to `W`.
///
/// Each chunk is handed to `W` as a header write and a payload write, so an
/// unbuffered file or socket wants a [`BufWriter`](std::io::BufWriter) in
/// between.
///
/// ```
/// use mwsr::record::Writer;
///
/// let mut log = Writer::new(Vec::new());
/// let first = log.write_record(b"hello")?;
/// let second = log.write_record(b"world")?;
/// assert_eq!((first, second), (0, 12)); // 7-byte header + 5 bytes
/// assert_eq!(log.last_record_offset()?, 12);
/// assert_eq!(log.into_inner().len(), 24);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Writer<W: Write> {
    inner: W,
    /// The offset in the stream of the next byte written.
    offset: u64,
    /// Where the last complete record started, if any.
    last_record: Option<u64>,
    /// [`RecordWriter`]'s pending chunk, kept between records.
    scratch: Vec<u8>,
    /// A write to `W` failed: the stream's length is unknown.
    broken: bool,
}

impl<W: Write> Writer<W> {
    /// A writer at the start of a new log.
    pub fn new(inner: W) -> Self {
        Self::at_offset(inner, 0)
    }

    /// A writer that appends to an existing log of `len` bytes, `inner`
    /// being positioned at its end (as LevelDB's writer does with its
    /// `dest_length`): block boundaries stay where the existing log has them.
    pub fn at_offset(inner: W, len: u64) -> Self {
        Self {
            inner,
            offset: len,
            last_record: None,
            scratch: Vec::new(),
            broken: false,
        }
    }

    /// Writes one record; returns its offset in the stream (that of its
    /// first chunk's header, after any trailer it skipped).
    ///
    /// # Errors
    /// What `W` returns. The stream may then hold part of a chunk, so where
    /// its blocks begin is unknown: every later write fails too (a tolerant
    /// reader reads the stream up to the damage).
    pub fn write_record(&mut self, record: &[u8]) -> io::Result<u64> {
        let mut left = record;
        let mut first = None;
        loop {
            let (piece, rest) = left.split_at(left.len().min(self.room()));
            let end = rest.is_empty();
            let at = self.emit(chunk_kind(first.is_none(), end), piece)?;
            let start = *first.get_or_insert(at);
            left = rest;
            if end {
                self.last_record = Some(start);
                return Ok(start);
            }
        }
    }

    /// A writer for the next record, for a record written piece by piece
    /// (as Go's `Writer.Next`). It holds at most one chunk's payload;
    /// [`RecordWriter::finish`] ends the record and returns its offset.
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let mut log = mwsr::record::Writer::new(Vec::new());
    /// let mut record = log.next();
    /// for part in [&b"many "[..], b"small ", b"pieces"] {
    ///     record.write_all(part)?;
    /// }
    /// assert_eq!(record.finish()?, 0);
    /// let mut back = mwsr::record::Reader::new(&log.get_ref()[..]);
    /// let mut read = Vec::new();
    /// assert!(back.read_record(&mut read)?);
    /// assert_eq!(read, b"many small pieces");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[expect(
        clippy::should_implement_trait,
        reason = "Go's `Writer.Next`: the next record, not an iterator's item"
    )]
    pub fn next(&mut self) -> RecordWriter<'_, W> {
        let mut pending = std::mem::take(&mut self.scratch);
        pending.clear();
        RecordWriter {
            log: self,
            pending,
            start: None,
        }
    }

    /// The offset of the last record written.
    ///
    /// # Errors
    /// `InvalidInput` if no record was written yet.
    pub fn last_record_offset(&self) -> io::Result<u64> {
        self.last_record.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "mwsr::record: no record was written yet",
            )
        })
    }

    /// The offset in the stream of the next byte to be written.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Flushes `W`.
    ///
    /// # Errors
    /// What `W::flush` returns.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer, mutably. Writing to it directly corrupts the log.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Gives the inner writer back (not flushed: see [`flush`](Self::flush)).
    pub fn into_inner(self) -> W {
        self.inner
    }

    fn block_offset(&self) -> usize {
        (self.offset % BLOCK_SIZE as u64) as usize
    }

    /// Payload bytes the next chunk can hold: the rest of this block after
    /// a header, or a whole block's when the trailer comes first.
    fn room(&self) -> usize {
        match BLOCK_SIZE - self.block_offset() {
            room if room < HEADER_SIZE => BLOCK_SIZE - HEADER_SIZE,
            room => room - HEADER_SIZE,
        }
    }

    /// Writes the trailer if the block has no room for a header, then a
    /// chunk of at most [`room`](Self::room) bytes; returns its offset.
    fn emit(&mut self, kind: u8, payload: &[u8]) -> io::Result<u64> {
        if self.broken {
            return Err(io::Error::other(
                "mwsr::record: an earlier write failed part-way; the log cannot be continued",
            ));
        }
        // Until the chunk is whole, a failure leaves `offset` wrong.
        self.broken = true;
        let room = BLOCK_SIZE - self.block_offset();
        if room < HEADER_SIZE {
            self.inner.write_all(&[0; HEADER_SIZE][..room])?;
            self.offset += room as u64;
        }
        debug_assert!(payload.len() <= self.room());
        let len = u16::try_from(payload.len()).expect("a chunk fits in a block");
        let mut header = [0; HEADER_SIZE];
        header[..4].copy_from_slice(&chunk_checksum(kind, payload).to_le_bytes());
        header[4..6].copy_from_slice(&len.to_le_bytes());
        header[6] = kind;
        self.inner.write_all(&header)?;
        self.inner.write_all(payload)?;
        let at = self.offset;
        self.offset += (HEADER_SIZE + payload.len()) as u64;
        self.broken = false;
        Ok(at)
    }
}

/// A chunk's type from whether it begins and ends its record.
fn chunk_kind(begins: bool, ends: bool) -> u8 {
    match (begins, ends) {
        (true, true) => chunk::FULL,
        (true, false) => chunk::FIRST,
        (false, false) => chunk::MIDDLE,
        (false, true) => chunk::LAST,
    }
}

/// One record being written piece by piece: see [`Writer::next`].
///
/// Dropping it without [`finish`](Self::finish) abandons the record: if it
/// was short enough to be still pending, nothing of it reaches the stream
/// (but an empty `FIRST` chunk when its block had exactly 7 bytes left,
/// which readers skip, as LevelDB's do); otherwise its first chunks stay
/// there without an end, which readers report as a
/// [`PartialRecord`](super::Reason::PartialRecord). It is never completed
/// behind the caller's back, so an error half-way through a record cannot
/// leave it looking whole.
pub struct RecordWriter<'a, W: Write> {
    log: &'a mut Writer<W>,
    /// Bytes of the record not yet emitted: at most one chunk's worth.
    pending: Vec<u8>,
    /// The offset of the record's first chunk, once emitted.
    start: Option<u64>,
}

impl<W: Write> RecordWriter<'_, W> {
    /// Ends the record; returns its offset.
    ///
    /// # Errors
    /// What `W` returns.
    pub fn finish(mut self) -> io::Result<u64> {
        let kind = chunk_kind(self.start.is_none(), true);
        let at = self.log.emit(kind, &self.pending)?;
        let start = *self.start.get_or_insert(at);
        self.log.last_record = Some(start);
        Ok(start)
    }

    /// The pending bytes are a full chunk and more are coming: emit them.
    fn emit_pending(&mut self) -> io::Result<()> {
        let kind = chunk_kind(self.start.is_none(), false);
        let at = self.log.emit(kind, &self.pending)?;
        self.start.get_or_insert(at);
        self.pending.clear();
        Ok(())
    }
}

impl<W: Write> Write for RecordWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut left = buf;
        while !left.is_empty() {
            let room = self.log.room();
            if self.pending.len() == room {
                match self.emit_pending() {
                    Ok(()) => continue,
                    // What was taken stays taken: say so, not the error.
                    Err(_) if left.len() < buf.len() => return Ok(buf.len() - left.len()),
                    Err(e) => return Err(e),
                }
            }
            let (now, rest) = left.split_at(left.len().min(room - self.pending.len()));
            self.pending.extend_from_slice(now);
            left = rest;
        }
        Ok(buf.len())
    }

    /// Flushes what was emitted; the pending chunk waits for more, or for
    /// `finish`.
    fn flush(&mut self) -> io::Result<()> {
        self.log.inner.flush()
    }
}

impl<W: Write> Drop for RecordWriter<'_, W> {
    fn drop(&mut self) {
        // Keep the buffer for the next record.
        self.log.scratch = std::mem::take(&mut self.pending);
    }
}

impl<W: Write> std::fmt::Debug for RecordWriter<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordWriter")
            .field("pending", &self.pending.len())
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::chunk_checksum;

    /// The chunks of `log` as (offset, type, payload length), checking each
    /// checksum, and that trailers are zeros.
    fn chunks(log: &[u8]) -> Vec<(usize, u8, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < log.len() {
            let room = BLOCK_SIZE - at % BLOCK_SIZE;
            if room < HEADER_SIZE {
                assert!(log[at..at + room].iter().all(|&b| b == 0), "trailer");
                at += room;
                continue;
            }
            let h = &log[at..at + HEADER_SIZE];
            let len = u16::from_le_bytes([h[4], h[5]]) as usize;
            let payload = &log[at + HEADER_SIZE..at + HEADER_SIZE + len];
            let sum = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            assert_eq!(sum, chunk_checksum(h[6], payload), "checksum at {at}");
            out.push((at, h[6], len));
            at += HEADER_SIZE + len;
        }
        out
    }

    #[test]
    fn a_small_record_is_one_full_chunk() {
        let mut w = Writer::new(Vec::new());
        assert_eq!(w.write_record(b"abc").unwrap(), 0);
        assert_eq!(w.write_record(b"").unwrap(), 10);
        let log = w.into_inner();
        assert_eq!(chunks(&log), [(0, chunk::FULL, 3), (10, chunk::FULL, 0)]);
        assert_eq!(&log[7..10], b"abc");
    }

    #[test]
    fn a_record_larger_than_a_block_is_split_first_middle_last() {
        let mut w = Writer::new(Vec::new());
        let record = vec![7u8; 2 * BLOCK_SIZE + 100];
        assert_eq!(w.write_record(&record).unwrap(), 0);
        let log = w.into_inner();
        let avail = BLOCK_SIZE - HEADER_SIZE;
        assert_eq!(
            chunks(&log),
            [
                (0, chunk::FIRST, avail),
                (BLOCK_SIZE, chunk::MIDDLE, avail),
                (2 * BLOCK_SIZE, chunk::LAST, record.len() - 2 * avail),
            ]
        );
    }

    /// Fills the first block up to `room` bytes before its end.
    fn writer_with_room(room: usize) -> Writer<Vec<u8>> {
        let mut w = Writer::new(Vec::new());
        w.write_record(&vec![1; BLOCK_SIZE - HEADER_SIZE - room])
            .unwrap();
        assert_eq!(w.offset() as usize, BLOCK_SIZE - room);
        w
    }

    #[test]
    fn one_to_six_bytes_left_become_a_zero_trailer() {
        for room in 1..HEADER_SIZE {
            let mut w = writer_with_room(room);
            assert_eq!(w.write_record(b"next").unwrap(), BLOCK_SIZE as u64);
            let log = w.into_inner();
            assert_eq!(chunks(&log).last(), Some(&(BLOCK_SIZE, chunk::FULL, 4)));
        }
    }

    #[test]
    fn exactly_seven_bytes_left_start_a_record_with_an_empty_first_chunk() {
        let mut w = writer_with_room(HEADER_SIZE);
        let at = w.write_record(b"next").unwrap();
        assert_eq!(at as usize, BLOCK_SIZE - HEADER_SIZE);
        let log = w.into_inner();
        assert_eq!(
            chunks(&log)[1..],
            [
                (BLOCK_SIZE - HEADER_SIZE, chunk::FIRST, 0),
                (BLOCK_SIZE, chunk::LAST, 4)
            ]
        );
        // An empty record there is an empty FULL chunk.
        let mut w = writer_with_room(HEADER_SIZE);
        w.write_record(b"").unwrap();
        let log = w.into_inner();
        assert_eq!(
            chunks(&log).last(),
            Some(&(BLOCK_SIZE - HEADER_SIZE, chunk::FULL, 0))
        );
        assert_eq!(log.len(), BLOCK_SIZE);
    }

    #[test]
    fn a_record_ending_exactly_at_a_block_boundary() {
        let mut w = writer_with_room(0);
        assert_eq!(w.write_record(b"x").unwrap(), BLOCK_SIZE as u64);
        assert_eq!(chunks(&w.into_inner())[1..], [(BLOCK_SIZE, chunk::FULL, 1)]);
    }

    #[test]
    fn appending_keeps_the_existing_block_boundaries() {
        let mut whole = Writer::new(Vec::new());
        whole.write_record(&vec![3; 40_000]).unwrap();
        let existing = whole.get_ref().clone();
        whole.write_record(&vec![4; 30_000]).unwrap();

        let mut appended = Writer::at_offset(existing.clone(), existing.len() as u64);
        appended.write_record(&vec![4; 30_000]).unwrap();
        assert_eq!(appended.into_inner(), whole.into_inner());
    }

    #[test]
    fn last_record_offset_is_an_error_before_any_record() {
        let mut w = Writer::new(Vec::new());
        let err = w.last_record_offset().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        w.write_record(b"a").unwrap();
        let at = w.write_record(b"b").unwrap();
        assert_eq!(w.last_record_offset().unwrap(), at);
    }
}
