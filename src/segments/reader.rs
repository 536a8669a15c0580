//! [`Reader`]: reads a stream of segments in order.

/// Reads a stream's segments in order (being written in parallel).
#[derive(Debug)]
pub struct Reader {}
