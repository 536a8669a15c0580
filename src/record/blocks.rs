//! The physical layer under [`Reader`](super::Reader): reads the stream a
//! block at a time and cuts each block into checksummed chunks.

use std::io::{self, Read, Seek, SeekFrom};

use super::{BLOCK_SIZE, Corruption, HEADER_SIZE, Reason, chunk, chunk_checksum};

/// The unit a device writes whole: a write cut short by a power loss
/// loses whole sectors.
const SECTOR: usize = 512;

/// What the next bytes of the stream hold.
#[derive(Debug)]
pub(super) enum Physical {
    /// A chunk whose checksum matched, of a type in `FULL..=LAST`.
    Chunk(Chunk),
    /// Dropped bytes: a damaged chunk, or the rest of its block.
    Bad {
        damage: Corruption,
        /// The bytes hold a sector of zeros, as a write cut short in
        /// zero-filled space leaves (see [`Suspect`](super::suspect::Suspect)):
        /// if only zeros follow, it may be a torn write. No other damage can
        /// be one: a torn write loses whole sectors, and its zeros make a
        /// chunk's checksum fail or shorten its length, nothing else.
        maybe_torn: bool,
    },
    /// The end of the stream for now. `torn` bytes at the end are an
    /// incomplete header or chunk; they are not consumed, so a reader of a
    /// log that is still being written sees them once they are whole.
    End { torn: u64 },
}

/// A chunk in the current block.
#[derive(Debug, Clone, Copy)]
pub(super) struct Chunk {
    pub(super) kind: u8,
    /// Offset in the stream of its header.
    pub(super) offset: u64,
    /// Where its payload is in the block buffer.
    start: usize,
    pub(super) len: usize,
}

pub(super) struct Blocks<R> {
    inner: R,
    /// The current block: `filled` bytes read of it, the next unread at
    /// `pos`. `pos == BLOCK_SIZE` once the rest of the block is dropped.
    buf: Box<[u8]>,
    filled: usize,
    pos: usize,
    /// Offset in the stream of the current block.
    block_start: u64,
    /// Where the last chunk returned started, for [`push_back`](Self::push_back).
    last: usize,
}

impl<R> Blocks<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0; BLOCK_SIZE].into_boxed_slice(),
            filled: 0,
            pos: 0,
            block_start: 0,
            last: 0,
        }
    }

    pub(super) fn get_ref(&self) -> &R {
        &self.inner
    }

    pub(super) fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    pub(super) fn into_inner(self) -> R {
        self.inner
    }

    /// The payload of `chunk`, the last one returned.
    pub(super) fn payload(&self, chunk: &Chunk) -> &[u8] {
        &self.buf[chunk.start..chunk.start + chunk.len]
    }

    /// The offset in the stream just past the last byte read from `R`.
    pub(super) fn len_read(&self) -> u64 {
        self.block_start + self.filled as u64
    }

    /// Returns the last chunk to the stream, to be read again.
    pub(super) fn push_back(&mut self) {
        self.pos = self.last;
    }

    /// Drops the rest of the current block; returns the offset and number
    /// of the bytes dropped that were read already.
    pub(super) fn skip_block(&mut self) -> (u64, u64) {
        let at = self.block_start + self.pos as u64;
        let dropped = self.filled.saturating_sub(self.pos) as u64;
        self.pos = BLOCK_SIZE;
        (at, dropped)
    }
}

impl<R: Read> Blocks<R> {
    /// Drops the rest of the block, read first so that the report counts
    /// all of it whatever sizes `R`'s reads come in.
    fn drop_block(&mut self, reason: Reason) -> io::Result<Physical> {
        self.fill_to(BLOCK_SIZE)?;
        // A damaged chunk's extent is known only when its checksum failed.
        let maybe_torn = match reason {
            Reason::ZeroedRegion => true,
            Reason::ChecksumMismatch => {
                let len = u16::from_le_bytes([self.buf[self.pos + 4], self.buf[self.pos + 5]]);
                let end = self.pos + HEADER_SIZE + usize::from(len);
                self.holds_zeroed_sector(self.pos, end)
            }
            _ => false,
        };
        let (offset, bytes) = self.skip_block();
        Ok(Physical::Bad {
            damage: Corruption {
                offset,
                bytes,
                reason,
            },
            maybe_torn,
        })
    }

    /// Whether a sector that begins inside the block's bytes `from..to` is
    /// all zeros (as far as the block was read): what a write cut short
    /// leaves in zero-filled space, where the sectors it lost read as
    /// zeros. Whole sectors, so that a zero byte or two that happen to end
    /// a damaged chunk do not pass for one.
    fn holds_zeroed_sector(&self, from: usize, to: usize) -> bool {
        // The block starts at a multiple of `BLOCK_SIZE`, so sectors start
        // at multiples of `SECTOR` in it too.
        (from.next_multiple_of(SECTOR)..to)
            .step_by(SECTOR)
            .any(|at| {
                self.buf[at..(at + SECTOR).min(self.filled)]
                    .iter()
                    .all(|&b| b == 0)
            })
    }

    /// Reads until the current block holds `target` bytes (at most a
    /// block), or the stream ends for now.
    fn fill_to(&mut self, target: usize) -> io::Result<()> {
        while self.filled < target.min(BLOCK_SIZE) {
            match self.inner.read(&mut self.buf[self.filled..]) {
                Ok(0) => break,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Nothing is consumed: calling again resumes here.
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The next chunk, damage, or the end. I/O errors leave the position
    /// as it was, so a later call resumes.
    pub(super) fn next(&mut self) -> io::Result<Physical> {
        loop {
            self.fill_to(self.pos + HEADER_SIZE)?;
            let rest = self.filled.saturating_sub(self.pos);
            if rest < HEADER_SIZE {
                if self.filled < BLOCK_SIZE {
                    return Ok(Physical::End { torn: rest as u64 });
                }
                // The block's trailer (or its dropped rest): go on to the
                // next block.
                self.block_start += BLOCK_SIZE as u64;
                (self.filled, self.pos) = (0, 0);
                continue;
            }
            let h = &self.buf[self.pos..self.pos + HEADER_SIZE];
            let checksum = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            let len = usize::from(u16::from_le_bytes([h[4], h[5]]));
            let kind = h[6];
            if kind == 0 && len == 0 {
                return self.drop_block(Reason::ZeroedRegion);
            }
            if (5..=8).contains(&kind) {
                // The length and checksum mean other things in an 11-byte
                // header: nothing more in this block can be trusted.
                return self.drop_block(Reason::RecyclableType(kind));
            }
            let end = self.pos + HEADER_SIZE + len;
            self.fill_to(end)?;
            if end > self.filled {
                if self.filled < BLOCK_SIZE {
                    return Ok(Physical::End { torn: rest as u64 });
                }
                return self.drop_block(Reason::BadLength);
            }
            let start = self.pos + HEADER_SIZE;
            if checksum != chunk_checksum(kind, &self.buf[start..end]) {
                // The length may be what is damaged: drop the whole rest.
                return self.drop_block(Reason::ChecksumMismatch);
            }
            let offset = self.block_start + self.pos as u64;
            self.last = self.pos;
            self.pos = end;
            if !(chunk::FULL..=chunk::LAST).contains(&kind) {
                return Ok(Physical::Bad {
                    damage: Corruption {
                        offset,
                        bytes: (HEADER_SIZE + len) as u64,
                        reason: Reason::UnknownType(kind),
                    },
                    maybe_torn: false,
                });
            }
            return Ok(Physical::Chunk(Chunk {
                kind,
                offset,
                start,
                len,
            }));
        }
    }
}

impl<R: Seek> Blocks<R> {
    /// Positions the next [`next`](Self::next) at `offset`.
    pub(super) fn seek(&mut self, offset: u64) -> io::Result<()> {
        let within = offset % BLOCK_SIZE as u64;
        let block_start = offset - within;
        self.inner.seek(SeekFrom::Start(block_start))?;
        self.block_start = block_start;
        self.filled = 0;
        // `within < BLOCK_SIZE`: the cast cannot truncate.
        self.pos = within as usize;
        Ok(())
    }
}
