//! [`Builder`]: a mirror's members, failure policy and preferred member.

use std::io;
use std::sync::Arc as StdArc;

use super::slot::{Bound, Core, Lag};
use super::{Failure, Member, Mirror, Reporter, Slot, behind::Behind};
use crate::sync::{Arc, Mutex};

/// When a write counts as done, and what a member's failure does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Every member counts: a member's error fails the write (as Go's
    /// `io.MultiWriter`) and, the member then being failed, every later
    /// write too, until a resync has brought it back (writes fail while it
    /// runs: the member does not hold everything yet).
    FailFast,
    /// A failed member is marked failed and left out; writes go on while at
    /// least `min_healthy` members are healthy, and fail (naming the
    /// members and their errors) when fewer are.
    Degrade {
        /// The fewest healthy members a write must reach (at least 1).
        min_healthy: usize,
    },
}

impl Default for Policy {
    /// `Degrade { min_healthy: 1 }`.
    fn default() -> Self {
        Policy::Degrade { min_healthy: 1 }
    }
}

/// How a write-behind member queues: its lag bound, and what happens there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct WriteBehind {
    bound: Bound,
    drop_at_bound: bool,
}

impl Default for WriteBehind {
    /// At most 4 MiB behind; writers wait at the bound.
    fn default() -> Self {
        Self::new()
    }
}

impl WriteBehind {
    /// The defaults: at most 4 MiB behind, writers wait at the bound.
    pub fn new() -> Self {
        Self {
            bound: Bound {
                bytes: 4 << 20,
                writes: None,
            },
            drop_at_bound: false,
        }
    }

    /// At most `bytes` accepted but not yet written, counting 16 bytes of
    /// bookkeeping per write (and per 2 MiB of a longer one); a single
    /// write larger than that still goes, alone. The queue takes twice
    /// this memory (two halves), allocated up front; at least 4 KiB.
    pub fn lag_bytes(mut self, bytes: u64) -> Self {
        self.bound.bytes = bytes.clamp(4 << 10, u64::from(u32::MAX) / 2);
        self
    }

    /// At most `writes` writes accepted but not yet written (a write longer
    /// than half the byte bound counts as several), within the byte bound
    /// too.
    pub fn lag_writes(mut self, writes: u64) -> Self {
        self.bound.writes = Some(writes.max(1));
        self
    }

    /// At the bound, drop the member from the mirror (marked failed with
    /// [`Op::LagBound`](super::Op::LagBound), reported) instead of making
    /// writers wait.
    pub fn drop_at_bound(mut self) -> Self {
        self.drop_at_bound = true;
        self
    }
}

pub(super) type Callback = Box<dyn Fn(&Failure) + Send + Sync>;

/// Configures a [`Mirror`]: from [`Mirror::builder`].
#[must_use = "a builder does nothing until `build` is called"]
#[derive(Default)]
pub struct Builder {
    members: Vec<(StdArc<dyn Member>, Option<WriteBehind>)>,
    policy: Policy,
    prefer: Option<usize>,
    on_failure: Option<Callback>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("members", &self.members.len())
            .field("policy", &self.policy)
            .field("prefer", &self.prefer)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Adds a synchronous member: written before a write returns.
    pub fn synchronous(mut self, member: impl Member + 'static) -> Self {
        self.members.push((StdArc::new(member), None));
        self
    }

    /// Adds a write-behind member: a write is queued for it (within its lag
    /// bound) and its own flusher thread writes it.
    pub fn write_behind(mut self, member: impl Member + 'static, config: WriteBehind) -> Self {
        self.members.push((StdArc::new(member), Some(config)));
        self
    }

    /// The failure policy (default `Degrade { min_healthy: 1 }`).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The member reads go to first, by index (default: the first
    /// synchronous one).
    pub fn prefer(mut self, member: usize) -> Self {
        self.prefer = Some(member);
        self
    }

    /// Called (from the thread that found it: a writer, a reader, a
    /// flusher) for each failure, after the mirror's locks are released. It
    /// may read [`Mirror::stats`], not write to the mirror.
    pub fn on_failure(mut self, f: impl Fn(&Failure) + Send + Sync + 'static) -> Self {
        self.on_failure = Some(Box::new(f));
        self
    }

    /// Builds the mirror, starting a flusher thread per write-behind member.
    ///
    /// # Errors
    /// `InvalidInput` for no members, a preferred member out of range, or a
    /// `min_healthy` of 0 or more than the members; the error of starting a
    /// thread.
    pub fn build(self) -> io::Result<Mirror> {
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        let n = self.members.len();
        if n == 0 {
            return Err(invalid(
                "mwsr::mirror: a mirror needs at least one member".into(),
            ));
        }
        if let Policy::Degrade { min_healthy } = self.policy
            && !(1..=n).contains(&min_healthy)
        {
            return Err(invalid(format!(
                "mwsr::mirror: min_healthy {min_healthy} must be between 1 and the {n} members"
            )));
        }
        let preferred = match self.prefer {
            Some(i) if i >= n => {
                return Err(invalid(format!(
                    "mwsr::mirror: preferred member {i} of {n} members"
                )));
            }
            Some(i) => i,
            None => self
                .members
                .iter()
                .position(|(_, wb)| wb.is_none())
                .unwrap_or(0),
        };
        let reporter = Arc::new(Reporter(self.on_failure));
        let mut slots = Vec::with_capacity(n);
        for (index, (member, write_behind)) in self.members.into_iter().enumerate() {
            let lag = write_behind.map(|wb| Lag::new(wb.bound));
            let core = Arc::new(Core::new(index, member, lag));
            let behind = match write_behind {
                Some(wb) => Some(Behind::new(
                    core.clone(),
                    wb.bound.bytes as usize,
                    reporter.clone(),
                )?),
                None => None,
            };
            let wait_at_bound = !write_behind.is_some_and(|wb| wb.drop_at_bound);
            slots.push(Slot {
                core,
                behind,
                wait_at_bound,
            });
        }
        Ok(Mirror {
            slots,
            order: Mutex::new(false),
            policy: self.policy,
            preferred,
            reporter,
            closed: Mutex::new(None),
        })
    }
}
