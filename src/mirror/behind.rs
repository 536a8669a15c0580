//! [`Behind`]: a write-behind member's queue, an [`AsyncBuffer`] of framed
//! writes whose flusher thread applies them to the member, so that a slow
//! member never slows the writers or another member.

use std::convert::Infallible;
use std::io;

use super::Reporter;
use super::slot::{Core, Op};
use crate::sync::Arc;
use crate::{AsyncBuffer, Sink};

/// A queued write's header: generation, length, offset (little-endian).
const HEADER: usize = 4 + 4 + 8;

pub(super) struct Behind {
    buffer: AsyncBuffer<u8, Apply>,
    /// The longest piece a write is queued in: one fits a half of the
    /// buffer, so it is never handed to the member from a writer's thread.
    piece: usize,
}

impl Behind {
    /// A queue of `capacity` bytes per half for `core`'s member.
    pub(super) fn new(
        core: Arc<Core>,
        capacity: usize,
        reporter: Arc<Reporter>,
    ) -> io::Result<Self> {
        let index = core.index;
        let buffer = AsyncBuffer::builder()
            .capacity(capacity)
            .thread_name(format!("mwsr-mirror-{index}"))
            .build(Apply {
                core,
                reporter,
                writes: Vec::new(),
                run: Vec::new(),
                starts: Vec::new(),
            })?;
        Ok(Self {
            buffer,
            piece: (capacity / 2).max(1),
        })
    }

    /// Queues `buf` for `offset`, in pieces, counted against the lag bound
    /// at once: waiting there, or (unless `wait`) returning `Ok(false)`
    /// with nothing queued. Within the bound the queue has room (its
    /// halves are as large as the bound), so only a write larger than the
    /// bound can wait for the flusher here.
    pub(super) fn enqueue(
        &self,
        lag: &super::slot::Lag,
        generation: u32,
        buf: &[u8],
        offset: u64,
        wait: bool,
    ) -> io::Result<bool> {
        let pieces = buf.len().div_ceil(self.piece) as u64;
        let bytes = buf.len() as u64 + pieces * HEADER as u64;
        if !lag.reserve(bytes, pieces, wait) {
            return Ok(false);
        }
        for (i, piece) in buf.chunks(self.piece).enumerate() {
            let at = offset + (i * self.piece) as u64;
            let mut header = [0; HEADER];
            header[..4].copy_from_slice(&generation.to_le_bytes());
            header[4..8].copy_from_slice(&(piece.len() as u32).to_le_bytes());
            header[8..].copy_from_slice(&at.to_le_bytes());
            if let Err(e) = self.buffer.write_v(&[&header[..], piece]) {
                // What is not queued is not owed.
                let rest = buf.len() - i * self.piece;
                let left = pieces - i as u64;
                lag.release(rest as u64 + left * HEADER as u64, left);
                return Err(io::Error::other(format!(
                    "mwsr::mirror: write-behind queue: {e}"
                )));
            }
        }
        Ok(true)
    }

    /// Returns once everything queued before has been applied (or skipped).
    pub(super) fn drain(&self) -> io::Result<()> {
        match self.buffer.flush() {
            // Closed: everything was applied at the close.
            Ok(()) | Err(crate::Error::Closed) => Ok(()),
            Err(e) => Err(io::Error::other(format!(
                "mwsr::mirror: write-behind queue: {e}"
            ))),
        }
    }

    /// Applies what is queued and stops the flusher thread.
    pub(super) fn close(&self) -> io::Result<()> {
        self.buffer
            .close()
            .map_err(|e| io::Error::other(format!("mwsr::mirror: write-behind queue: {e}")))
    }
}

/// The flusher's sink: applies a batch of queued writes to the member,
/// adjacent ones as one write. When no two writes of a batch overlap they
/// commute, so they are applied in offset order, which merges the pieces
/// of several writers' sequential streams (interleaved in the queue) into
/// a few long writes; otherwise in queue order. Never fails: a member's
/// error fails the member (the rest is skipped, and released from the lag
/// bound).
struct Apply {
    core: Arc<Core>,
    reporter: Arc<Reporter>,
    /// The batch's writes to apply: offset, and where its data is in the
    /// batch (so sorting by that restores the queue's order).
    writes: Vec<(u64, usize, usize)>,
    /// Adjacent writes gathered into one, and where each begins in it
    /// (to report the first one a failed write missed).
    run: Vec<u8>,
    starts: Vec<usize>,
}

impl Apply {
    /// Writes the gathered run at `at`; `false` if the member failed.
    fn write_run(&mut self, at: u64) -> bool {
        if self.run.is_empty() {
            return true;
        }
        let result = self.core.write_counted(&self.run, at);
        self.run.clear();
        let starts = std::mem::take(&mut self.starts);
        let alive = match result {
            Ok(()) => true,
            Err((done, e)) => {
                // The first write of the run that did not reach it whole.
                let missed = starts
                    .iter()
                    .zip(starts.iter().skip(1).chain(std::iter::once(&usize::MAX)))
                    .find(|&(_, &end)| end as u64 > done)
                    .map_or(0, |(&start, _)| start);
                let failure = self.core.fail(Op::Write, at + missed as u64, e);
                self.reporter.report(failure);
                false
            }
        };
        self.starts = starts;
        self.starts.clear();
        alive
    }

    /// Orders `writes` by offset if no two overlap, else keeps the queue's
    /// order.
    fn order_writes(&mut self) {
        self.writes.sort_unstable_by_key(|&(at, _, _)| at);
        let overlap = self
            .writes
            .windows(2)
            .any(|w| w[0].0 + w[0].2 as u64 > w[1].0);
        if overlap {
            self.writes.sort_unstable_by_key(|&(_, data, _)| data);
        }
    }
}

impl Sink<u8> for Apply {
    type Error = Infallible;

    fn consume(&mut self, batch: &[u8]) -> Result<(), Infallible> {
        // Writes queued in an older generation predate a resync's copy:
        // skipped (a resync drains the queue before it copies, so no batch
        // it has to skip is still being applied while it copies).
        let (health, generation) = self.core.status();
        let (mut bytes, mut pieces) = (0, 0);
        let mut pos = 0;
        self.writes.clear();
        while batch.len() - pos >= HEADER {
            let header = &batch[pos..pos + HEADER];
            let piece_generation = u32::from_le_bytes(header[..4].try_into().unwrap());
            let len = u32::from_le_bytes(header[4..8].try_into().unwrap()) as usize;
            let at = u64::from_le_bytes(header[8..].try_into().unwrap());
            if piece_generation == generation {
                self.writes.push((at, pos + HEADER, len));
            }
            pos += HEADER + len;
            bytes += (HEADER + len) as u64;
            pieces += 1;
        }
        debug_assert_eq!(pos, batch.len(), "a queued write is cut");
        if !matches!(health, super::Health::Failed { .. }) {
            self.order_writes();
            let mut alive = true;
            let mut run_at = 0;
            for i in 0..self.writes.len() {
                let (at, data, len) = self.writes[i];
                if !self.run.is_empty() && run_at + self.run.len() as u64 != at {
                    alive = self.write_run(run_at);
                    if !alive {
                        break;
                    }
                }
                if self.run.is_empty() {
                    run_at = at;
                }
                self.starts.push(self.run.len());
                self.run.extend_from_slice(&batch[data..data + len]);
            }
            if alive {
                self.write_run(run_at);
            }
            self.run.clear();
            self.starts.clear();
        }
        if let Some(lag) = &self.core.lag {
            lag.release(bytes, pieces);
        }
        Ok(())
    }
}
