//! Damage a tolerant reader holds back until it knows what follows it.
//!
//! A write cut short in space zero-filled ahead of the log (as
//! [`Wal`](super::Wal) writes) loses whole sectors, which read as zeros:
//! it leaves a chunk that fails its checksum with a sector of zeros in it,
//! or a record whose rest is zeros, and then only zeros to the end of the
//! file: a torn write, as one cut short at the end of a file is, not
//! damage. So a tolerant reader that finds such damage keeps it here; if
//! zeros and then the end follow, it is dropped and the end is torn; if
//! anything else follows (a chunk, or more damage after the zeros), it is
//! reported as it would have been at once. Damage with no zeros after it
//! before the end (a bad last chunk in a file that was never zero-filled)
//! stays damage, and so does damage no torn write leaves (a flipped bit
//! in a chunk with no zeroed sector, a bad length, an unknown type): it is
//! reported at once.

use super::Corruption;

/// A torn write is a batch's last chunk and the record it cut: a few
/// pieces of damage at most. More than this many is reported at once.
const MOST: usize = 8;

#[derive(Default)]
pub(super) struct Suspect {
    damage: Vec<Corruption>,
    /// A zero-filled region followed the damage.
    zeros_after: bool,
    /// The last end was a torn write into zero-filled space, and nothing
    /// but zeros came since: reaching the end again (a reader polling a
    /// file) finds the same torn end.
    torn: bool,
}

impl Suspect {
    /// Holds `damage` back if it `may_be_torn`; returns what must be
    /// reported now instead: earlier damage that zeros and more damage
    /// followed, or all of it when there is too much to be a torn write or
    /// `damage` cannot be one.
    pub(super) fn hold(&mut self, damage: Corruption, may_be_torn: bool) -> Vec<Corruption> {
        let mut report = Vec::new();
        self.torn = false;
        if self.zeros_after || self.damage.len() == MOST || !may_be_torn {
            report = self.release();
        }
        if may_be_torn {
            self.damage.push(damage);
        } else {
            report.push(damage);
        }
        report
    }

    /// A zero-filled region was read.
    pub(super) fn zeros(&mut self) {
        self.zeros_after |= !self.damage.is_empty();
    }

    /// Something other than zeros or damage follows: everything held is
    /// damage after all.
    pub(super) fn release(&mut self) -> Vec<Corruption> {
        (self.zeros_after, self.torn) = (false, false);
        std::mem::take(&mut self.damage)
    }

    /// The end was reached: `true` if what is held was a torn write into
    /// zero-filled space (dropped), or the last end was one and only zeros
    /// came since; else what is held is returned, to report.
    pub(super) fn at_end(&mut self) -> Result<bool, Vec<Corruption>> {
        if self.damage.is_empty() {
            return Ok(self.torn);
        }
        if self.zeros_after {
            self.release();
            self.torn = true;
            return Ok(true);
        }
        Err(self.release())
    }
}
