//! [`Mirror::resync`] and [`Mirror::replace`]: a member filled from a
//! healthy one while writes go on (the protocol is in the module docs).

use std::io;
use std::sync::Arc as StdArc;

use super::{Health, Member, Mirror, Op, Slot, closed_error};

/// Bytes copied per turn of the write lock.
const CHUNK: usize = 256 << 10;

impl Mirror {
    /// Copies the content of a healthy member (the preferred one if it is)
    /// into member `i` and returns it to service, while writes go on; they
    /// reach it too during the copy. For a failed member, or to check one.
    ///
    /// # Errors
    /// `InvalidInput` for an index out of range or no other healthy member
    /// to copy from; a read or write error during the copy (the member is
    /// then failed with it, and the mirror goes on without it).
    pub fn resync(&self, i: usize) -> io::Result<()> {
        self.resync_with(i, None)
    }

    /// Puts `member` in place of member `i` (of the same kind: synchronous
    /// or write-behind), fills it as [`resync`](Self::resync) does and
    /// returns it to service. The old member is dropped once no call uses
    /// it any longer.
    ///
    /// # Errors
    /// As [`resync`](Self::resync).
    pub fn replace(&self, i: usize, member: impl Member + 'static) -> io::Result<()> {
        self.resync_with(i, Some(StdArc::new(member)))
    }

    fn resync_with(&self, i: usize, member: Option<StdArc<dyn Member>>) -> io::Result<()> {
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        let target = self.slots.get(i).ok_or_else(|| {
            invalid(format!(
                "mwsr::mirror: member {i} of {} members",
                self.slots.len()
            ))
        })?;
        {
            let closed = self.order.lock();
            if *closed {
                return Err(closed_error());
            }
            if self.source(target).is_none() {
                return Err(invalid(format!(
                    "mwsr::mirror: no other healthy member to resync member {i} from"
                )));
            }
            if let Some(member) = member {
                target.core.replace(member);
            }
            // From here every write reaches it, in the new generation.
            target.core.begin_resync();
        }
        let copied = match &target.behind {
            // Nothing queued in the old generation is applied after this.
            Some(behind) => behind.drain().map_err(|e| (0, e)),
            None => Ok(()),
        }
        .and_then(|()| self.copy_into(target));
        match copied {
            Ok(()) if target.core.end_resync() => Ok(()),
            Ok(()) => Err(io::Error::other(format!(
                "mwsr::mirror: member {i} failed during its resync: {:?}",
                target.core.status().0
            ))),
            Err((at, e)) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.reporter.report(target.core.fail(Op::Resync, at, copy));
                Err(e)
            }
        }
    }

    /// A healthy member other than `target` to copy from: the preferred
    /// one if it can be, synchronous ones before write-behind ones.
    fn source(&self, target: &Slot) -> Option<&Slot> {
        self.read_order()
            .find(|s| !std::ptr::eq(*s, target) && matches!(s.core.status().0, Health::Healthy))
    }

    /// Copies the source's content into `target`, a chunk per turn of the
    /// write lock, until the source's end (checked under the lock); the
    /// offset and error of a failure.
    fn copy_into(&self, target: &Slot) -> Result<(), (u64, io::Error)> {
        let mut chunk = vec![0; CHUNK];
        let mut at = 0;
        loop {
            let closed = self.order.lock();
            if *closed {
                return Err((at, closed_error()));
            }
            if !matches!(target.core.status().0, Health::Resyncing) {
                return Ok(()); // failed by a write meanwhile: reported there
            }
            let source = self.source(target).ok_or_else(|| {
                let e = io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "mwsr::mirror: no healthy member to resync member {} from",
                        target.core.index
                    ),
                );
                (at, e)
            })?;
            if let Some(behind) = &source.behind {
                behind.drain().map_err(|e| (at, e))?;
            }
            let end = source.core.call(|m| m.len()).map_err(|e| (at, e))?;
            if at >= end {
                // Done: cut what the target has beyond the source's end.
                let longer = target.core.call(|m| m.len()).map_err(|e| (at, e))? > end;
                if longer {
                    match target.core.call(|m| m.set_len(end)) {
                        Err(e) if e.kind() != io::ErrorKind::Unsupported => return Err((at, e)),
                        _ => {}
                    }
                }
                return Ok(());
            }
            let want = CHUNK.min(usize::try_from(end - at).unwrap_or(CHUNK));
            let n = source
                .core
                .call(|m| m.read_at(&mut chunk[..want], at))
                .map_err(|e| (at, e))?;
            if n == 0 {
                return Err((
                    at,
                    io::Error::new(io::ErrorKind::UnexpectedEof, "the source ended early"),
                ));
            }
            target.core.write(&chunk[..n], at).map_err(|e| (at, e))?;
            at += n as u64;
            drop(closed);
        }
    }
}
