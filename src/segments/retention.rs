//! [`Retention`]: which old segments a stream deletes.

use std::time::{Duration, SystemTime};

/// How much of a stream to keep; by default everything. Checked when the
/// writer opens the stream and after each batch it writes, by one rule:
/// the stream's own segments (those its [`Naming`](super::Naming) parses),
/// the open one included, are deleted oldest first while there are more
/// than `max_segments` of them, or more than `max_bytes` bytes in them, or
/// the oldest was last written longer than `max_age` ago. The open segment
/// is never deleted, so a stream keeps at least one segment (which may
/// alone exceed `max_bytes`). An age is checked when the writer writes:
/// a stream nobody writes to keeps its old segments.
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
    /// Whether a stream of `count` segments holding `bytes`, whose oldest
    /// sealed segment is `oldest`, keeps too much: then `oldest` goes.
    /// `now` is read only when there is an age limit.
    pub(super) fn exceeded(
        &self,
        count: usize,
        bytes: u64,
        oldest: &Kept,
        now: Option<SystemTime>,
    ) -> bool {
        let too_old = || {
            let (Some(max), Some(now), Some(modified)) = (self.max_age, now, oldest.modified)
            else {
                return false;
            };
            now.duration_since(modified).is_ok_and(|age| age > max)
        };
        self.max_segments.is_some_and(|max| count > max)
            || self.max_bytes.is_some_and(|max| bytes > max)
            || too_old()
    }
}
