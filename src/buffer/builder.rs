//! [`BufferBuilder`] for [`Buffer`].

use std::io;

use super::{Buffer, Inner};
use crate::WriteOrder;
use crate::front::Front;
use crate::sink::Sink;
use crate::sync::Arc;

/// Configures a [`Buffer`]; [`Buffer::new`] is this with the defaults.
///
/// ```
/// use std::sync::Mutex;
/// use mwsr::WriteOrder;
///
/// let out = Mutex::new(Vec::<u8>::new());
/// let buf = mwsr::Buffer::builder()
///     .capacity(64 * 1024)
///     .write_order(WriteOrder::PerWriter) // see "Choosing"
///     .build_fn(|batch: &[u8]| Ok::<_, std::io::Error>(out.lock().unwrap().extend_from_slice(batch)))?;
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| (0..100).for_each(|_| { buf.write(b"0123456789").unwrap(); }));
///     }
/// });
/// buf.flush()?;
/// assert_eq!(out.lock().unwrap().len(), 4000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct BufferBuilder {
    capacity: usize,
    order: WriteOrder,
    lanes: Option<usize>,
}

impl BufferBuilder {
    /// The default capacity, in items.
    pub const DEFAULT_CAPACITY: usize = 1024;

    pub(super) fn new() -> Self {
        Self {
            capacity: Self::DEFAULT_CAPACITY,
            order: WriteOrder::Global,
            lanes: None,
        }
    }

    /// The number of items each half of the buffer holds (default
    /// [`Self::DEFAULT_CAPACITY`]), as for [`Buffer::new`].
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// How different threads' writes are ordered within a batch (default
    /// [`WriteOrder::Global`]), as [`Builder::write_order`](crate::Builder::write_order).
    pub fn write_order(mut self, order: WriteOrder) -> Self {
        self.order = order;
        self
    }

    /// In [`WriteOrder::PerWriter`], how many lanes writers spread over, as
    /// [`Builder::lanes`](crate::Builder::lanes).
    pub fn lanes(mut self, lanes: usize) -> Self {
        self.lanes = Some(lanes);
        self
    }

    /// The buffer.
    ///
    /// # Errors
    /// `InvalidInput` if the capacity is 0 or above `u32::MAX`, or the lanes
    /// 0 or above 1024; `OutOfMemory` if the two halves cannot be allocated.
    pub fn build<T, S: Sink<T>>(self, sink: S) -> io::Result<Buffer<T, S>> {
        let front = Front::try_new(self.capacity, self.order.lanes(self.lanes)?, sink)?;
        Ok(Buffer {
            front: Arc::new(Inner(front)),
        })
    }

    /// As [`build`](Self::build) for a closure, whose argument's type the
    /// compiler then infers.
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub fn build_fn<T, E, F>(self, sink: F) -> io::Result<Buffer<T, F>>
    where
        F: FnMut(&[T]) -> Result<(), E>,
    {
        self.build(sink)
    }
}
