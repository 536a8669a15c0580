//! Reading records back: reassembling chunks, and what to do with damage.

use std::fmt;
use std::io::{self, Read, Seek};

use super::blocks::{Blocks, Chunk, Physical};
use super::suspect::Suspect;
use super::{Corruption, HEADER_SIZE, LogEnd, Reason, chunk};

/// What a [`Reader`] does with damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Any damage is an error, as in Go's `leveldb/record`: a `Corruption`
    /// inside an `InvalidData` error, and a log that ends inside a record
    /// or a header is `UnexpectedEof`. The error is sticky until
    /// [`Reader::recover`] or [`Reader::seek_record`].
    Strict,
    /// As LevelDB's own log reader, for recovery after a crash: damaged
    /// chunks are skipped (with the rest of their block when their length
    /// cannot be trusted) and reported to
    /// [`on_corruption`](Reader::on_corruption) and the counters; a torn
    /// record or header at the end of the log is a clean end; zero-filled
    /// (preallocated) regions are skipped without a report, and what a
    /// write cut short in them leaves (a chunk that fails its checksum with
    /// a zeroed 512-byte sector in it, a record whose rest is zeros)
    /// followed only by zeros up to the end is a write torn there. Other
    /// damage is reported at once.
    Tolerant,
}

/// Where the reader is, between records.
enum Fragment {
    /// Between records.
    None,
    /// A record's `FIRST` chunk was read; `len` bytes of its payload so far.
    Open { offset: u64, len: u64 },
}

/// What [`Reader::event`] found, all damage handled.
enum Event {
    /// The `FULL` or `FIRST` chunk that starts a record.
    Start(Chunk),
    /// A `MIDDLE` or `LAST` chunk of the open record.
    Piece(Chunk),
    /// The end of the log for now (see [`Physical::End`]).
    End { torn: u64 },
}

/// Reads records framed in the LevelDB log format (see the
/// [module docs](super)).
///
/// Three ways to read: [`read_record`](Self::read_record) into a reused
/// buffer, an iterator of owned [`records`](Self::records), or [`next`](Self::next) for a
/// reader over one record that never holds more than a chunk of it.
///
/// ```
/// use mwsr::record::{Reader, Writer};
///
/// let mut log = Writer::new(Vec::new());
/// log.write_record(b"hello")?;
/// log.write_record(&vec![b'x'; 100_000])?; // spans four blocks
/// let bytes = log.into_inner();
///
/// let mut records = Reader::new(&bytes[..]);
/// let mut record = Vec::new();
/// assert!(records.read_record(&mut record)?);
/// assert_eq!(record, b"hello");
/// assert!(records.read_record(&mut record)?);
/// assert_eq!(record.len(), 100_000);
/// assert!(!records.read_record(&mut record)?); // a clean end
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Whatever the input, reading never panics, ends (every call consumes
/// input or returns), and holds at most one block and the record being
/// assembled. I/O errors from `R` (but `Interrupted`, which is retried)
/// are returned as they are and consume nothing: calling again resumes.
pub struct Reader<R> {
    blocks: Blocks<R>,
    mode: Mode,
    fragment: Fragment,
    /// The open record's payload so far, when `read_record` assembles it.
    partial: Vec<u8>,
    /// The open record is being handed out by a [`RecordReader`] (or was,
    /// which dropped it): its pieces are not `partial`'s.
    streamed: bool,
    /// [`next`](Self::next) read an empty `FIRST` chunk and hands out no
    /// record until something follows it: the record's next piece starts
    /// the reader. Kept across calls, so an I/O error in between loses
    /// nothing.
    empty_first: bool,
    /// After [`recover`](Self::recover): skip `MIDDLE`/`LAST` chunks and
    /// zeroed regions quietly until a record starts.
    resyncing: bool,
    /// A strict reader's damage, returned until `recover` or `seek_record`.
    failed: Option<Corruption>,
    /// Where the record last started (by `event`) begins.
    record_start: u64,
    last_record: Option<u64>,
    /// The offset just past the last whole record (see [`LogEnd`]).
    intact_len: u64,
    /// Damage was found since the last whole record.
    tail_damaged: bool,
    /// What the reader found the last time it reached the end.
    end: Option<LogEnd>,
    /// Damage held back until it is known whether it is a torn write.
    suspect: Suspect,
    corruptions: u64,
    dropped_bytes: u64,
    on_corruption: Option<Report>,
}

/// The callback of [`Reader::on_corruption`].
type Report = Box<dyn FnMut(&Corruption) + Send>;

impl<R: Read> Reader<R> {
    /// A [strict](Mode::Strict) reader.
    pub fn new(inner: R) -> Self {
        Self::with_mode(inner, Mode::Strict)
    }

    /// A [tolerant](Mode::Tolerant) reader, as LevelDB reads its log when
    /// it recovers.
    pub fn tolerant(inner: R) -> Self {
        Self::with_mode(inner, Mode::Tolerant)
    }

    /// A reader in `mode`, at the start of a log.
    pub fn with_mode(inner: R, mode: Mode) -> Self {
        Self {
            blocks: Blocks::new(inner),
            mode,
            fragment: Fragment::None,
            partial: Vec::new(),
            streamed: false,
            empty_first: false,
            resyncing: false,
            failed: None,
            record_start: 0,
            last_record: None,
            intact_len: 0,
            tail_damaged: false,
            end: None,
            suspect: Suspect::default(),
            corruptions: 0,
            dropped_bytes: 0,
            on_corruption: None,
        }
    }

    /// Calls `report` with each damage a tolerant reader skips (a strict
    /// reader returns it as an error instead; the counters count both).
    #[must_use]
    pub fn on_corruption(mut self, report: impl FnMut(&Corruption) + Send + 'static) -> Self {
        self.on_corruption = Some(Box::new(report));
        self
    }

    /// Reads the next record into `record` (replacing what it held).
    /// Returns `false` at the end of the log, leaving `record` empty.
    ///
    /// # Errors
    /// `R`'s I/O errors; in [strict](Mode::Strict) mode, damage
    /// (`InvalidData`, holding a [`Corruption`]) and a log that ends inside
    /// a record or header (`UnexpectedEof`).
    pub fn read_record(&mut self, record: &mut Vec<u8>) -> io::Result<bool> {
        record.clear();
        loop {
            match self.event()? {
                Event::Start(c) => {
                    let payload = self.blocks.payload(&c);
                    (self.streamed, self.empty_first) = (false, false);
                    if c.kind == chunk::FULL {
                        record.extend_from_slice(payload);
                        self.last_record = Some(self.record_start);
                        return Ok(true);
                    }
                    self.partial.clear();
                    self.partial.extend_from_slice(payload);
                }
                // The rest of a record a `RecordReader` left unread.
                Event::Piece(_) if self.streamed => {}
                Event::Piece(c) => {
                    self.partial.extend_from_slice(self.blocks.payload(&c));
                    if c.kind == chunk::LAST {
                        std::mem::swap(record, &mut self.partial);
                        self.last_record = Some(self.record_start);
                        return Ok(true);
                    }
                }
                Event::End { torn } => return self.end(torn).map(|()| false),
            }
        }
    }

    /// The records until the end, each in a new `Vec`. The iterator ends
    /// after the first error it yields (after [`recover`](Self::recover),
    /// ask for a new one to go on).
    pub fn records(&mut self) -> Records<'_, R> {
        Records {
            log: self,
            stopped: false,
        }
    }

    /// The next record as a reader of its payload, which reads it chunk by
    /// chunk; `None` at the end of the log. A record left unread is skipped
    /// by the next call.
    ///
    /// Bytes it returned cannot be taken back, so damage inside the record
    /// is an error from its `read` even in [tolerant](Mode::Tolerant) mode
    /// (`InvalidData`, or `UnexpectedEof` when the log ends inside it); the
    /// next call to `next` goes on with the following record.
    ///
    /// # Errors
    /// As [`read_record`](Self::read_record).
    #[expect(
        clippy::should_implement_trait,
        reason = "Go's `Reader.Next`; `records()` is the iterator"
    )]
    pub fn next(&mut self) -> io::Result<Option<RecordReader<'_, R>>> {
        // An empty `FIRST` chunk is no record yet: it may be all that is
        // left of an abandoned one (see `end`), or LevelDB's old quirk
        // before a real start. Hand out a reader once something follows.
        loop {
            let chunk = match self.event()? {
                Event::Start(c) if c.kind == chunk::FIRST && c.len == 0 => {
                    (self.empty_first, self.streamed) = (true, false);
                    self.partial.clear(); // `read_record` may go on from here
                    continue;
                }
                Event::Start(c) => c,
                Event::Piece(c) if self.empty_first => c,
                Event::Piece(_) => continue, // the rest of a record left unread
                Event::End { torn } => return self.end(torn).map(|()| None),
            };
            (self.streamed, self.empty_first) = (true, false);
            self.last_record = Some(self.record_start);
            return Ok(Some(RecordReader {
                offset: self.record_start,
                log: self,
                chunk,
                at: 0,
                returned: 0,
                done: false,
            }));
        }
    }

    /// The next record's start or piece, with damage reported (tolerant) or
    /// returned (strict) and the record state kept.
    fn event(&mut self) -> io::Result<Event> {
        if let Some(c) = &self.failed {
            return Err(corruption_error(c.clone()));
        }
        loop {
            let c = match self.blocks.next()? {
                Physical::End { torn } => {
                    let torn = match self.suspect.at_end() {
                        Ok(true) => torn.max(1), // cut short in zeroed space
                        Ok(false) => torn,
                        Err(damage) => {
                            damage.iter().for_each(|d| self.note(d));
                            torn
                        }
                    };
                    return Ok(Event::End { torn });
                }
                Physical::Bad { damage, maybe_torn } => {
                    let broken = self.take_fragment(Reason::ErrorInMiddle);
                    let zeros = damage.reason == Reason::ZeroedRegion;
                    if self.mode == Mode::Tolerant {
                        // Reported once what follows shows it is no torn
                        // write (see `Suspect`), or at once if it cannot be.
                        for d in broken.into_iter().chain((!zeros).then_some(damage)) {
                            for held in self.suspect.hold(d, maybe_torn) {
                                self.note(&held);
                            }
                        }
                        if zeros {
                            self.suspect.zeros();
                        }
                        continue;
                    }
                    // The record it cut short is counted, but a strict
                    // reader's error is the damage itself.
                    if let Some(broken) = broken {
                        self.note(&broken);
                    }
                    if !(zeros && self.resyncing) {
                        self.corrupt(damage)?;
                    }
                    continue;
                }
                Physical::Chunk(c) => {
                    for held in self.suspect.release() {
                        self.note(&held);
                    }
                    c
                }
            };
            match c.kind {
                chunk::FULL | chunk::FIRST => {
                    if let Fragment::Open { len, .. } = self.fragment {
                        // LevelDB's writers once left an empty FIRST chunk
                        // at a block's end before a record's real start:
                        // that one is no damage.
                        if len > 0 {
                            self.break_fragment(Reason::PartialRecord)?;
                        }
                    }
                    self.resyncing = false;
                    self.fragment = if c.kind == chunk::FIRST {
                        Fragment::Open {
                            offset: c.offset,
                            len: c.len as u64,
                        }
                    } else {
                        Fragment::None
                    };
                    self.record_start = c.offset;
                    if c.kind == chunk::FULL {
                        self.whole_record(&c);
                    }
                    return Ok(Event::Start(c));
                }
                _ => match &mut self.fragment {
                    Fragment::Open { len, .. } => {
                        *len += c.len as u64;
                        if c.kind == chunk::LAST {
                            self.fragment = Fragment::None;
                            self.whole_record(&c);
                        }
                        return Ok(Event::Piece(c));
                    }
                    Fragment::None if self.resyncing => {}
                    Fragment::None => self.corrupt(Corruption {
                        offset: c.offset,
                        bytes: (super::HEADER_SIZE + c.len) as u64,
                        reason: Reason::MissingStart,
                    })?,
                },
            }
        }
    }

    /// Drops the open record, if any, reporting `reason`.
    fn break_fragment(&mut self, reason: Reason) -> io::Result<()> {
        match self.take_fragment(reason) {
            Some(broken) => self.corrupt(broken),
            None => Ok(()),
        }
    }

    /// Ends the open record, if any, returning it as damage for `reason`.
    fn take_fragment(&mut self, reason: Reason) -> Option<Corruption> {
        let Fragment::Open { offset, len } = std::mem::replace(&mut self.fragment, Fragment::None)
        else {
            return None;
        };
        self.partial.clear();
        Some(Corruption {
            offset,
            bytes: len,
            reason,
        })
    }

    /// Counts `damage`, then reports it (tolerant) or fails with it
    /// (strict).
    fn corrupt(&mut self, damage: Corruption) -> io::Result<()> {
        self.note(&damage);
        match self.mode {
            Mode::Tolerant => Ok(()),
            Mode::Strict => {
                self.failed = Some(damage.clone());
                Err(corruption_error(damage))
            }
        }
    }

    /// A record ended whole with chunk `last`.
    fn whole_record(&mut self, last: &Chunk) {
        self.intact_len = last.offset + (HEADER_SIZE + last.len) as u64;
        self.tail_damaged = false;
    }

    /// Counts `damage`, and reports it if tolerant.
    fn note(&mut self, damage: &Corruption) {
        self.tail_damaged = true;
        self.corruptions += 1;
        self.dropped_bytes += damage.bytes;
        if let (Mode::Tolerant, Some(report)) = (self.mode, &mut self.on_corruption) {
            report(damage);
        }
    }

    /// The end of the log for now: clean, or torn (an error when strict).
    fn end(&mut self, torn: u64) -> io::Result<()> {
        // An empty `FIRST` chunk is all a writer leaves of a record it
        // abandoned where exactly a header's room was left in the block
        // (see `RecordWriter`): readers skip it, at the end as elsewhere.
        let inside = matches!(self.fragment, Fragment::Open { len, .. } if len > 0);
        self.end = Some(LogEnd {
            intact_len: self.intact_len,
            len: self.blocks.len_read(),
            torn: inside || torn > 0,
            damaged: self.tail_damaged,
            corruptions: self.corruptions,
        });
        if self.mode == Mode::Strict && (inside || torn > 0) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "mwsr::record: the log ends inside a record",
            ));
        }
        Ok(())
    }

    /// Reads (and drops) every record left, then tells where the intact log
    /// ends: what a writer that goes on appending to this log must truncate
    /// it to first (see [`LogEnd`]).
    ///
    /// ```
    /// use mwsr::record::{Reader, Writer};
    ///
    /// let mut log = Writer::new(Vec::new());
    /// log.write_record(b"kept")?;
    /// log.write_record(&[b'x'; 100])?;
    /// let mut bytes = log.into_inner();
    /// bytes.truncate(bytes.len() - 10); // a write cut short by a crash
    ///
    /// let end = Reader::tolerant(&bytes[..]).skip_to_end()?;
    /// assert!(end.torn && !end.damaged);
    /// assert_eq!(end.intact_len, 11); // just past "kept"
    /// assert_eq!(end.cut_bytes(), 97);
    /// bytes.truncate(end.intact_len as usize); // now safe to append to
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`read_record`](Self::read_record): a [strict](Mode::Strict)
    /// reader fails at damage and at a torn end, a tolerant one only for
    /// `R`'s I/O errors.
    pub fn skip_to_end(&mut self) -> io::Result<LogEnd> {
        let mut record = Vec::new();
        while self.read_record(&mut record)? {}
        Ok(self
            .end
            .expect("mwsr: read_record returned false at the end of the log"))
    }

    /// The offset just past the last whole record read so far (or where the
    /// reader started, before any): where intact log ends as far as this
    /// reader has seen.
    pub fn intact_len(&self) -> u64 {
        self.intact_len
    }

    /// What the reader found the last time it reached the end of the log
    /// (`None` before it did): where the intact log ends, and whether the
    /// bytes after it are a torn write or damage. A tolerant reader ends
    /// cleanly at a torn tail; this is how to tell.
    pub fn log_end(&self) -> Option<LogEnd> {
        self.end
    }

    /// After an error, skips to the next block and resumes at the first
    /// record that starts there or later (`MIDDLE` and `LAST` chunks before
    /// it are skipped without a report). The record being read is dropped.
    pub fn recover(&mut self) {
        self.blocks.skip_block();
        self.reset();
        self.resyncing = true;
    }

    fn reset(&mut self) {
        self.fragment = Fragment::None;
        self.partial.clear();
        self.streamed = false;
        self.empty_first = false;
        self.resyncing = false;
        self.failed = None;
        // Held damage is damage unless what follows shows otherwise, and
        // nothing will follow it now.
        for held in self.suspect.release() {
            self.note(&held);
        }
        self.suspect = Suspect::default();
    }

    /// The mode this reader was made with.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The offset of the last record returned (that of its first chunk).
    pub fn last_record_offset(&self) -> Option<u64> {
        self.last_record
    }

    /// How many times damage was found (skipped or returned).
    pub fn corruptions(&self) -> u64 {
        self.corruptions
    }

    /// How many bytes were dropped because of damage (see
    /// [`Corruption::bytes`]).
    pub fn dropped_bytes(&self) -> u64 {
        self.dropped_bytes
    }

    /// The inner reader.
    pub fn get_ref(&self) -> &R {
        self.blocks.get_ref()
    }

    /// The inner reader, mutably. Reading from it desynchronises the log.
    pub fn get_mut(&mut self) -> &mut R {
        self.blocks.get_mut()
    }

    /// Gives the inner reader back.
    pub fn into_inner(self) -> R {
        self.blocks.into_inner()
    }
}

impl<R: Read + Seek> Reader<R> {
    /// Positions the reader so that the next record read is the one whose
    /// first chunk starts at `offset`: an offset returned by
    /// [`Writer::write_record`](super::Writer::write_record),
    /// [`Writer::last_record_offset`](super::Writer::last_record_offset) or
    /// [`last_record_offset`](Self::last_record_offset). Clears any error.
    ///
    /// Any other offset reads as damage, unless its bytes happen to look
    /// like a valid chunk.
    ///
    /// # Errors
    /// What `R::seek` returns; the reader is then where it was.
    pub fn seek_record(&mut self, offset: u64) -> io::Result<()> {
        self.blocks.seek(offset)?;
        self.reset();
        (self.intact_len, self.tail_damaged, self.end) = (offset, false, None);
        Ok(())
    }
}

fn corruption_error(damage: Corruption) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, damage)
}

/// The records of a [`Reader`] as owned vectors: see [`Reader::records`].
#[derive(Debug)]
pub struct Records<'a, R> {
    log: &'a mut Reader<R>,
    stopped: bool,
}

impl<R: Read> Iterator for Records<'_, R> {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.stopped {
            return None;
        }
        let mut record = Vec::new();
        match self.log.read_record(&mut record) {
            Ok(true) => Some(Ok(record)),
            Ok(false) => None,
            Err(e) => {
                self.stopped = true;
                Some(Err(e))
            }
        }
    }
}

impl<R> fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("mode", &self.mode)
            .field("last_record_offset", &self.last_record)
            .field("corruptions", &self.corruptions)
            .field("dropped_bytes", &self.dropped_bytes)
            .finish_non_exhaustive()
    }
}

/// One record's payload, read chunk by chunk: see [`Reader::next`].
pub struct RecordReader<'a, R: Read> {
    log: &'a mut Reader<R>,
    offset: u64,
    chunk: Chunk,
    /// Bytes of `chunk`'s payload already returned.
    at: usize,
    /// Bytes of the record already returned.
    returned: u64,
    /// The record ended (its last chunk is `chunk`) or broke.
    done: bool,
}

impl<R: Read> RecordReader<'_, R> {
    /// The offset of this record's first chunk.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl<R: Read> Read for RecordReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.at < self.chunk.len {
                let payload = &self.log.blocks.payload(&self.chunk)[self.at..];
                let n = payload.len().min(buf.len());
                buf[..n].copy_from_slice(&payload[..n]);
                self.at += n;
                self.returned += n as u64;
                return Ok(n);
            }
            if self.done || matches!(self.chunk.kind, chunk::FULL | chunk::LAST) {
                return Ok(0);
            }
            match self.log.event()? {
                Event::Piece(c) => (self.chunk, self.at) = (c, 0),
                // An empty FIRST chunk, then the real start: LevelDB's
                // old quirk (see `Reader::event`), no damage.
                Event::Start(c) if self.returned == 0 => {
                    (self.chunk, self.at, self.offset) = (c, 0, c.offset);
                    self.log.last_record = Some(c.offset);
                }
                Event::Start(_) => {
                    // The next record began before this one ended; leave
                    // it for `Reader::next`.
                    self.log.blocks.push_back();
                    self.log.fragment = Fragment::None;
                    self.done = true;
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "mwsr::record: the record is damaged; what was read of it is incomplete",
                    ));
                }
                Event::End { .. } => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "mwsr::record: the log ends inside this record",
                    ));
                }
            }
        }
    }
}

impl<R: Read> fmt::Debug for RecordReader<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordReader")
            .field("offset", &self.offset())
            .finish_non_exhaustive()
    }
}
