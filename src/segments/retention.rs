//! [`Retention`]: which old segments a stream deletes.

use std::time::{Duration, SystemTime};

/// How much of a stream to keep; by default everything. Checked when the
/// writer opens the stream and each time it starts a new segment, by one
/// rule: the stream's own segments (those its [`Naming`](super::Naming)
/// parses) are deleted oldest first while there are more than
/// `max_segments` of them, or more than `max_bytes` bytes in them, or the
/// oldest was last written longer than `max_age` ago. The open segment is
/// never deleted, so a stream keeps at least one segment, and between two
/// checks the open segment's growth may take it past `max_bytes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// Keep at most this many segments, the open one included.
    pub max_segments: Option<usize>,
    /// Keep at most this many bytes in all segments, the open one included.
    pub max_bytes: Option<u64>,
    /// Delete sealed segments last written longer ago than this.
    pub max_age: Option<Duration>,
}

/// A segment as retention sees it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Kept {
    pub(super) base: u64,
    pub(super) len: u64,
    pub(super) modified: Option<SystemTime>,
}

impl Retention {
    /// How many of `sealed` (oldest first) to delete, with `open` more bytes
    /// in an open segment if there is one (`open_count` 1, else 0).
    pub(super) fn excess(&self, sealed: &[Kept], open_count: usize, open_len: u64, now: SystemTime) -> usize {
        let mut count = sealed.len() + open_count;
        let mut bytes = sealed.iter().map(|s| s.len).sum::<u64>() + open_len;
        let mut excess = 0;
        for segment in sealed {
            let too_many = self.max_segments.is_some_and(|max| count > max);
            let too_big = self.max_bytes.is_some_and(|max| bytes > max);
            let too_old = self.max_age.is_some_and(|max| {
                segment
                    .modified
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|age| age > max)
            });
            if !(too_many || too_big || too_old) {
                break;
            }
            excess += 1;
            count -= 1;
            bytes -= segment.len;
        }
        excess
    }
}
