//! [`WriteOrder`]: how a buffer orders different threads' writes.

use std::io;

use crate::engine::MAX_LANES;

/// How a buffer orders the writes of different threads within a batch (see
/// "Choosing" in the crate docs). Set with
/// [`Builder::write_order`](crate::Builder::write_order) or
/// [`BufferBuilder::write_order`](crate::BufferBuilder::write_order).
///
/// In both orders each call's items stay contiguous, each thread's calls
/// keep their order, batches reach the sink one at a time and in order,
/// nothing is lost, `flush()` returns only after everything written before
/// it went through the sink, and nothing is allocated per write or flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum WriteOrder {
    /// Writes appear in the order they reserved their space (one atomic
    /// operation on a word all writers share): if one write returned before
    /// another began, it comes first, whichever threads made them.
    #[default]
    Global,
    /// Each writer thread fills a chunk of the buffer of its own, claimed
    /// with one atomic operation, so a write touches no cache line other
    /// threads write. Within one batch, different threads' writes are not in
    /// real-time order: a write may come after one that began when it had
    /// returned, if their threads' chunks lie the other way round. Threads
    /// share [lanes](crate::Builder::lanes): more threads than lanes still
    /// work, sharing a lane's chunk.
    PerWriter,
}

impl WriteOrder {
    /// The engine's lane count: `None` for the default order, else
    /// `lanes` or the default for this machine.
    ///
    /// # Errors
    /// `InvalidInput` if `lanes` is 0 or above [`MAX_LANES`], in either
    /// order: a bad setting is reported, not ignored.
    pub(crate) fn lanes(self, lanes: Option<usize>) -> io::Result<Option<usize>> {
        if let Some(count) = lanes
            && !(1..=MAX_LANES).contains(&count)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("mwsr: lanes must be at least 1 and at most {MAX_LANES}, not {count}"),
            ));
        }
        Ok(match self {
            WriteOrder::Global => None,
            WriteOrder::PerWriter => Some(lanes.unwrap_or_else(default_lanes)),
        })
    }
}

/// Twice the cores, as a power of two from 4 to 64: threads that write at
/// once rarely outnumber the cores by much, and a lane costs a cache line.
pub(crate) fn default_lanes() -> usize {
    let cores = std::thread::available_parallelism().map_or(4, usize::from);
    (2 * cores).next_power_of_two().clamp(4, 64)
}
