//! A per-thread scratch vector in which `write!` on a byte buffer formats a
//! whole message before writing it as one contiguous run, so that formatting
//! does not allocate once messages stop growing.

use std::cell::Cell;

/// Vectors larger than this are freed rather than kept for the next message.
const MAX_KEPT: usize = 64 * 1024;

thread_local! {
    /// The capacity the last message on this thread left behind.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// This thread's scratch vector (empty), or a new one while the thread's
/// locals are being destroyed or another message on this thread holds it.
pub(crate) fn take() -> Vec<u8> {
    SCRATCH.try_with(Cell::take).unwrap_or_default()
}

/// Keeps `scratch`'s capacity for the thread's next message.
pub(crate) fn give_back(mut scratch: Vec<u8>) {
    if scratch.capacity() > 0 && scratch.capacity() <= MAX_KEPT {
        scratch.clear();
        // Fails only while the thread's locals are being destroyed.
        let _ = SCRATCH.try_with(|cell| cell.set(scratch));
    }
}
