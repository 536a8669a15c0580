//! The pipe's own errors, carried inside `io::Error`.

use std::io;

/// Why a pipe operation failed.
///
/// Every method returns `io::Error` (so the pipe fits `Read`, `io::copy` and
/// `?` in I/O code); the `io::Error` carries one of these, which
/// [`Error::of`] gets back for matching:
///
/// ```
/// use mwsr::pipe;
///
/// let (mut reader, writer) = pipe::pipe(1024);
/// writer.write_all_at(b"abc", 0)?;
/// std::io::Read::read(&mut reader, &mut [0; 3])?;
/// let err = writer.write_at(b"x", 1).unwrap_err();
/// assert_eq!(
///     pipe::Error::of(&err),
///     Some(&pipe::Error::BelowConsumed { offset: 1, consumed: 3 })
/// );
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A write at or across an offset the reader has already consumed (the Go
    /// library's `ErrOffsetLessThanConsumed`): a `write_at` that starts
    /// below the reader's position, or a `write_with` whose whole range lies
    /// below it. Nothing of it was written. Kind: `InvalidInput`.
    #[error("write at offset {offset} is below offset {consumed}, which the reader has reached")]
    BelowConsumed {
        /// Where the write started.
        offset: u64,
        /// How far the reader had read.
        consumed: u64,
    },
    /// A write whose end is past `u64::MAX`. Kind: `InvalidInput`.
    #[error("write of {len} bytes at offset {offset} ends past the last offset, u64::MAX")]
    OffsetOverflow {
        /// Where the write started.
        offset: u64,
        /// Its length.
        len: usize,
    },
    /// A write after the write side was closed (by `close`,
    /// `close_with_error` or dropping every writer), or one whose piece in
    /// flight `close_with_error` discarded. Kind: `BrokenPipe`.
    #[error("write on a pipe whose write side is closed")]
    WriteClosed,
    /// A write after the reader was closed or dropped (also one whose piece
    /// was in flight then: its bytes were discarded), or a read after the
    /// reader's own `close`. Kind: `BrokenPipe`.
    #[error("the pipe's reader is closed")]
    ReaderClosed,
    /// The write side closed with bytes missing: the reader got everything up
    /// to `offset`, and bytes were written past the gap that it can never
    /// reach. Kind: `UnexpectedEof`.
    #[error(
        "pipe closed with {missing} bytes from offset {offset} never written; \
         {stranded} bytes written past them cannot be read"
    )]
    Gap {
        /// The first byte never written: where reading stopped.
        offset: u64,
        /// Bytes never written between `offset` and the furthest write.
        missing: u64,
        /// Bytes written past the gap, lost with it.
        stranded: u64,
    },
}

impl Error {
    /// The `io::ErrorKind` the error travels under.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::BelowConsumed { .. } | Error::OffsetOverflow { .. } => {
                io::ErrorKind::InvalidInput
            }
            Error::WriteClosed | Error::ReaderClosed => io::ErrorKind::BrokenPipe,
            Error::Gap { .. } => io::ErrorKind::UnexpectedEof,
        }
    }

    /// The pipe error inside an `io::Error` the pipe returned, if it is one.
    pub fn of(err: &io::Error) -> Option<&Error> {
        err.get_ref()?.downcast_ref()
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        io::Error::new(err.kind(), err)
    }
}
