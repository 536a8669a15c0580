//! What a reader found wrong with a log, and how much of it was lost.

use std::fmt;

/// Damage found while reading a log: where, how many bytes were dropped
/// because of it, and why.
///
/// A strict [`Reader`](super::Reader) returns it inside an
/// [`io::Error`](std::io::Error) of kind `InvalidData` (get it back with
/// `error.get_ref()` and `downcast_ref::<Corruption>()`); a tolerant one
/// skips the damage and reports it (see
/// [`Reader::on_corruption`](super::Reader::on_corruption)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// Offset in the stream of the first byte dropped (of the record, for
    /// the record-level reasons).
    pub offset: u64,
    /// How many bytes were dropped: the rest of the block for the
    /// block-level reasons, the chunk for [`Reason::UnknownType`] and
    /// [`Reason::MissingStart`], the payload read so far for
    /// [`Reason::PartialRecord`] and [`Reason::ErrorInMiddle`].
    pub bytes: u64,
    /// Why.
    pub reason: Reason,
}

/// Why a [`Corruption`] was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// A chunk's checksum does not match its type and payload. The rest of
    /// the block is dropped, since its length may be the damaged part.
    ChecksumMismatch,
    /// A chunk's length runs past the end of its block.
    BadLength,
    /// A zero-filled region where a chunk header should be, as a
    /// preallocated (`mmap`ed) file leaves behind. Only strict readers
    /// report it; tolerant ones skip the rest of the block quietly, as
    /// LevelDB does.
    ZeroedRegion,
    /// A chunk type this format does not define.
    UnknownType(u8),
    /// One of RocksDB's recyclable chunk types (5–8: an 11-byte header with
    /// the log number), which this reader does not read.
    RecyclableType(u8),
    /// A `MIDDLE` or `LAST` chunk with no record to continue.
    MissingStart,
    /// A record that a new `FULL` or `FIRST` chunk interrupted before its
    /// `LAST` chunk.
    PartialRecord,
    /// A record cut short by a damaged chunk.
    ErrorInMiddle,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ChecksumMismatch => f.write_str("checksum mismatch"),
            Self::BadLength => f.write_str("chunk length runs past the end of its block"),
            Self::ZeroedRegion => f.write_str("zero-filled region"),
            Self::UnknownType(t) => write!(f, "unknown chunk type {t}"),
            Self::RecyclableType(t) => write!(
                f,
                "RocksDB recyclable chunk type {t} (11-byte header) is not supported"
            ),
            Self::MissingStart => f.write_str("MIDDLE or LAST chunk without a record to continue"),
            Self::PartialRecord => f.write_str("record without its LAST chunk"),
            Self::ErrorInMiddle => f.write_str("record cut short by a damaged chunk"),
        }
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mwsr::record: {} at offset {}: {} bytes dropped",
            self.reason, self.offset, self.bytes
        )
    }
}

impl std::error::Error for Corruption {}

/// Where a log read to its end stops being intact, and what follows: see
/// [`Reader::skip_to_end`](super::Reader::skip_to_end) and
/// [`Reader::log_end`](super::Reader::log_end).
///
/// A writer must never append after damage or a torn write: the torn
/// chunk's length would swallow what comes next, and readers would lose
/// records that were acknowledged. Truncate the log to
/// [`intact_len`](Self::intact_len) (and sync that) before appending with
/// [`Writer::at_offset`](super::Writer::at_offset), as
/// [`Wal::open`](super::Wal::open) does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogEnd {
    /// The offset just past the last whole record (or where the reader
    /// started, if it read none): the length to truncate the log to.
    pub intact_len: u64,
    /// How far the log went: the offset just past the last byte read.
    pub len: u64,
    /// The log ends inside a record or a chunk header: a write cut short,
    /// usually by a crash.
    pub torn: bool,
    /// Damage was found after the last whole record (a checksum mismatch,
    /// a bad length, an unknown chunk type, ...): the bytes past
    /// `intact_len` are more than a torn write.
    pub damaged: bool,
    /// Damage found anywhere in what was read (see
    /// [`Reader::corruptions`](super::Reader::corruptions)); damage before
    /// the last whole record stays in the log.
    pub corruptions: u64,
}

impl LogEnd {
    /// Bytes past the intact log: what truncating to
    /// [`intact_len`](Self::intact_len) cuts off. Besides torn or damaged
    /// bytes, these may be a block's zero trailer, a zero-filled
    /// (preallocated) region, or an empty `FIRST` chunk a writer left of an
    /// abandoned record, none of which holds a record.
    pub fn cut_bytes(&self) -> u64 {
        self.len.saturating_sub(self.intact_len)
    }
}
