//! An append-only stream stored as rotating segments: written by many
//! threads, read back in order.
//!
//! A stream is a directory (or, through the [`Storage`] trait, an object
//! store prefix) of immutable segments, each named by the stream offset of
//! its first byte, zero-padded to 20 digits (Kafka's scheme, see
//! [`Naming`]): `00000000000000000000.seg`, `00000000000067108864.seg`, ...
//! Names sort in stream order and never change.
//!
//! - [`Writer`]: many threads append through the crate's [`AsyncBuffer`];
//!   the flusher thread writes whole batches to the open segment, starts a
//!   new one at a size limit (or age), deletes old ones by [`Retention`],
//!   and `sync()`/`close()` make everything durable. Dropping the last
//!   handle closes, losslessly. One writer per stream (a lock file).
//! - [`Reader`]: `Read`, `BufRead` and `Seek` across the segments in order,
//!   from any offset; at the end it returns EOF and later reads see what
//!   was appended since, or in follow mode it waits for more (`tail -f`).
//!
//! ```
//! use std::io::{BufRead, Seek, SeekFrom};
//!
//! let dir = tempfile::tempdir()?;
//! let log = mwsr::segments::Writer::builder().segment_size(64).open(dir.path())?;
//! for n in 0..100 {
//!     writeln!(log, "line {n}")?; // one append each, never split
//! }
//! log.sync()?; // durable
//!
//! let mut reader = mwsr::segments::Reader::open(dir.path())?;
//! reader.seek(SeekFrom::Start(log.stats().end - 8))?;
//! let mut last = String::new();
//! reader.read_line(&mut last)?;
//! assert_eq!(last, "line 99\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`AsyncBuffer`]: crate::AsyncBuffer

mod dir;
mod naming;
#[cfg(feature = "s3")]
mod objects;
mod reader;
mod retention;
mod stats;
mod storage;
mod stream;
#[cfg(any(feature = "s3", loom))]
mod uploads;
mod writer;

use std::io;

pub use dir::Dir;
pub use naming::Naming;
#[cfg(feature = "s3")]
pub use objects::{Objects, S3};
pub use reader::{Reader, ReaderBuilder, Stop};
pub use retention::Retention;
pub use stats::SegmentStats;
pub use storage::{Entry, SegmentWrite, Storage};
pub use writer::{Builder, Writer};

/// The upload bound of `Objects`, for the loom models only.
#[cfg(loom)]
#[doc(hidden)]
pub use uploads::{Ticket as LoomUploadTicket, Uploads as LoomUploads};

use retention::Kept;

/// The stream's segments in `storage` after `after` (all for `None`),
/// sorted by base offset: the listing filtered to `naming` and sorted
/// (listings come in any order).
fn list(storage: &dyn Storage, naming: &Naming, after: Option<u64>) -> io::Result<Vec<Kept>> {
    let after = after.map(|base| naming.name(base));
    let mut segments: Vec<Kept> = storage
        .list(naming.prefix(), after.as_deref())?
        .into_iter()
        .filter_map(|entry| {
            Some(Kept {
                base: naming.parse(&entry.name)?,
                len: entry.len,
                modified: entry.modified,
            })
        })
        .collect();
    segments.sort_unstable_by_key(|s| s.base);
    Ok(segments)
}
