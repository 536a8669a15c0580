//! [`Cursor`]: the reader's place in the stream and what it knows of the
//! stream's segments. It finds the segment an offset is in (a binary search
//! over base offsets), reads it through one ranged read to the end of what
//! is known of it, and lists the storage again only at the end of what it
//! knows, from the last segment known on.

use std::fmt;
use std::io::{self, Read};
use std::ops::Range;
use std::sync::Arc;

use super::super::Storage;
use super::super::naming::Naming;
use super::super::retention::Kept;

/// A segment as the reader knows it.
#[derive(Debug, Clone, Copy)]
struct Segment {
    base: u64,
    /// The next segment's base minus this one's; for the last one, its
    /// length when listed (it may have grown since).
    len: u64,
}

impl Segment {
    fn end(&self) -> u64 {
        self.base + self.len
    }
}

/// Where an offset is among the segments known.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// In this segment.
    In(usize),
    /// At the end of the last one (or of nothing, in a stream without
    /// segments).
    End,
    /// Before the first: removed, or never there.
    Before,
    /// Past the end.
    Beyond,
}

/// The ranged read open at the reader's offset.
struct Source {
    read: Box<dyn Read + Send>,
    /// The segment it reads.
    base: u64,
    /// The stream offset where the range ends.
    end: u64,
}

/// The reader's place in a stream and the segments it knows.
pub(super) struct Cursor {
    storage: Arc<dyn Storage>,
    naming: Naming,
    /// The segments the listings showed, by base offset.
    segments: Vec<Segment>,
    /// Where the last offset looked for was (a hint for `find`).
    current: usize,
    /// The stream offset of the next byte `read` returns.
    next: u64,
    source: Option<Source>,
    /// No listing has shown a segment yet: the reader starts at the first
    /// one that appears.
    unstarted: bool,
}

impl Cursor {
    /// At the first byte stored in `storage`.
    ///
    /// # Errors
    /// The listing's; `InvalidData` if segments overlap.
    pub(super) fn open(storage: Arc<dyn Storage>, naming: Naming) -> io::Result<Self> {
        let mut cursor = Self {
            storage,
            naming,
            segments: Vec::new(),
            current: 0,
            next: 0,
            source: None,
            unstarted: true,
        };
        cursor.list_all()?;
        Ok(cursor)
    }

    /// The stream offset of the next byte `read` returns.
    pub(super) fn position(&self) -> u64 {
        self.next
    }

    /// The segments known.
    pub(super) fn known(&self) -> usize {
        self.segments.len()
    }

    /// Reads from the stream at `position`; `Ok(0)` only at the end of
    /// what is stored, after listing again to make sure.
    ///
    /// # Errors
    /// The storage's; `NotFound` if the segment to read was removed;
    /// `InvalidData` if segments do not follow each other.
    pub(super) fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        if dst.is_empty() {
            return Ok(0); // a range's reader would look ended
        }
        let mut listed = false;
        loop {
            if let Some(source) = &mut self.source {
                match source.read.read(dst) {
                    Ok(0) => {
                        let (base, end) = (source.base, source.end);
                        self.source = None;
                        if self.next < end {
                            return Err(self.short(base, end));
                        }
                    }
                    Ok(n) if n as u64 <= source.end - self.next => {
                        self.next += n as u64;
                        return Ok(n);
                    }
                    Ok(_) => {
                        self.source = None;
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "mwsr::segments: the storage returned more bytes than asked for",
                        ));
                    }
                    Err(e) => {
                        if e.kind() != io::ErrorKind::Interrupted {
                            self.source = None; // the next read opens a new range
                        }
                        return Err(e);
                    }
                }
            } else if self.open_source()? {
                continue;
            } else if !listed {
                // The end of what the last listing showed: the last segment
                // may have grown, and others may follow it.
                self.list_tail()?;
                listed = true;
            } else {
                return Ok(0);
            }
        }
    }

    /// Moves to `target`, which must be stored or the end; lists again if
    /// the segments known do not hold it.
    ///
    /// # Errors
    /// `NotFound` before the first offset stored, `InvalidInput` past the
    /// end, with the offsets the stream holds; the listing's.
    pub(super) fn seek(&mut self, target: u64) -> io::Result<()> {
        if target == self.next {
            return Ok(());
        }
        let mut place = self.find(target);
        if let Place::Before = place {
            self.list_all()?;
            place = self.find(target);
        } else if let Place::Beyond = place {
            self.list_tail()?;
            place = self.find(target);
        }
        match place {
            Place::In(i) => self.current = i,
            Place::End => {}
            Place::Before => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "mwsr::segments: offset {target} is no longer stored: {}",
                        self.held()
                    ),
                ));
            }
            Place::Beyond => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "mwsr::segments: offset {target} is past the end of the stream: {}",
                        self.held()
                    ),
                ));
            }
        }
        self.next = target;
        self.source = None;
        Ok(())
    }

    /// The end of the stream now, from a fresh listing.
    ///
    /// # Errors
    /// The listing's.
    pub(super) fn end(&mut self) -> io::Result<u64> {
        self.list_tail()?;
        Ok(self.segments.last().map_or(self.next, Segment::end))
    }

    /// The offsets stored now, from a fresh listing of every segment.
    ///
    /// # Errors
    /// The listing's.
    pub(super) fn available(&mut self) -> io::Result<Range<u64>> {
        self.list_all()?;
        Ok(self.range())
    }

    /// "the stream holds offsets a..b", for error messages.
    pub(super) fn held(&self) -> String {
        if self.segments.is_empty() {
            return "the stream holds no segments".to_owned();
        }
        let Range { start, end } = self.range();
        format!("the stream holds offsets {start}..{end}")
    }

    fn range(&self) -> Range<u64> {
        match (self.segments.first(), self.segments.last()) {
            (Some(first), Some(last)) => first.base..last.end(),
            _ => self.next..self.next,
        }
    }

    fn find(&self, offset: u64) -> Place {
        if let Some(s) = self.segments.get(self.current)
            && s.base <= offset
            && offset < s.end()
        {
            return Place::In(self.current);
        }
        let Some(last) = self.segments.last() else {
            return match offset.cmp(&self.next) {
                std::cmp::Ordering::Less => Place::Before,
                std::cmp::Ordering::Equal => Place::End,
                std::cmp::Ordering::Greater => Place::Beyond,
            };
        };
        let after = self.segments.partition_point(|s| s.base <= offset);
        if after == 0 {
            Place::Before
        } else if offset < self.segments[after - 1].end() {
            Place::In(after - 1)
        } else if offset == last.end() {
            Place::End
        } else {
            Place::Beyond
        }
    }

    /// Opens a range from `next` to the end of its segment as known;
    /// `false` at the end of the segments known.
    fn open_source(&mut self) -> io::Result<bool> {
        let i = match self.find(self.next) {
            Place::In(i) => i,
            Place::End => return Ok(false),
            Place::Before => return Err(self.removed(None)),
            Place::Beyond => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "mwsr::segments: the reader is at offset {}, past the end of the stream: {}",
                        self.next,
                        self.held()
                    ),
                ));
            }
        };
        self.current = i;
        let Segment { base, .. } = self.segments[i];
        let end = self.segments[i].end();
        let name = self.naming.name(base);
        match self.storage.read(&name, self.next - base, end - self.next) {
            Ok(read) => {
                self.source = Some(Source { read, base, end });
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(self.removed(Some(&name))),
            Err(e) => Err(e),
        }
    }

    /// Lists the segments from the last one known on (it may have grown),
    /// or all of them if that one is gone.
    fn list_tail(&mut self) -> io::Result<()> {
        let Some(last) = self.segments.last().copied() else {
            return self.list_all();
        };
        // After the name just before the last one's: from it on.
        let listed = super::super::list(&*self.storage, &self.naming, last.base.checked_sub(1))?;
        if listed.first().is_none_or(|first| first.base != last.base) {
            // Removed (by retention, or as a crash's empty segment).
            return self.list_all();
        }
        let fresh = self.segments(&listed)?;
        self.segments.pop();
        self.segments.extend(fresh);
        Ok(())
    }

    /// Lists every segment.
    fn list_all(&mut self) -> io::Result<()> {
        let listed = super::super::list(&*self.storage, &self.naming, None)?;
        self.segments = self.segments(&listed)?;
        self.current = 0;
        if self.unstarted
            && let Some(first) = self.segments.first()
        {
            self.next = first.base;
            self.unstarted = false;
        }
        Ok(())
    }

    /// The segments of a listing: each one's length the distance to the
    /// next (a listed length below it is checked when that segment is
    /// read: a listing is no snapshot, and may have seen a segment before
    /// its last write and the next one after it was created).
    fn segments(&self, listed: &[Kept]) -> io::Result<Vec<Segment>> {
        let mut segments = Vec::with_capacity(listed.len());
        for (i, s) in listed.iter().enumerate() {
            let len = match listed.get(i + 1) {
                Some(next) if s.len > next.base - s.base => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "mwsr::segments: segment {} holds {} bytes but the next begins at {}",
                            self.naming.name(s.base),
                            s.len,
                            next.base
                        ),
                    ));
                }
                Some(next) => next.base - s.base,
                None if s.base.checked_add(s.len).is_none() => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "mwsr::segments: segment {} holds {} bytes, past the largest offset",
                            self.naming.name(s.base),
                            s.len
                        ),
                    ));
                }
                None => s.len,
            };
            segments.push(Segment { base: s.base, len });
        }
        Ok(segments)
    }

    /// The error for a range that ended at `next`, before `end`.
    fn short(&self, base: u64, end: u64) -> io::Error {
        let name = self.naming.name(base);
        let next = self.next;
        let message = if self.segments.binary_search_by_key(&end, |s| s.base).is_ok() {
            format!(
                "mwsr::segments: a gap: segment {name} ends at offset {next}, but the next segment begins at {end}"
            )
        } else {
            format!(
                "mwsr::segments: segment {name} ends at offset {next}, before the offset {end} it was listed to reach"
            )
        };
        io::Error::new(io::ErrorKind::InvalidData, message)
    }

    /// The error for a segment the reader needs that is gone: `NotFound`,
    /// naming the earliest offset still stored (from a fresh listing).
    fn removed(&mut self, name: Option<&str>) -> io::Error {
        if let Err(e) = self.list_all() {
            return e;
        }
        let earliest = match self.segments.first() {
            Some(first) => format!("the earliest offset still stored is {}", first.base),
            None => "the stream holds no segments now".to_owned(),
        };
        let next = self.next;
        let message = match name {
            Some(name) => {
                format!(
                    "mwsr::segments: segment {name}, holding offset {next}, was removed; {earliest}"
                )
            }
            None => format!("mwsr::segments: offset {next} is no longer stored; {earliest}"),
        };
        io::Error::new(io::ErrorKind::NotFound, message)
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cursor")
            .field("naming", &self.naming)
            .field("segments", &self.segments.len())
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}
