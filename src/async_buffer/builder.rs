//! [`Builder`] for [`AsyncBuffer`].

use std::io;
use std::time::Duration;

use super::AsyncBuffer;
use super::signal::Signal;
use super::worker::{self, Shared};
use crate::WriteOrder;
use crate::front::Front;
use crate::sink::Sink;
use crate::sync::{Arc, ThreadBuilder};

/// Configures and starts an [`AsyncBuffer`].
///
/// ```
/// use std::time::Duration;
///
/// let q = mwsr::AsyncBuffer::builder()
///     .capacity(4096)
///     .linger(Duration::from_millis(5)) // let batches fill for up to 5 ms
///     .thread_name("log-flusher")
///     .build(|batch: &[u64]| -> std::io::Result<()> { Ok(println!("{} items", batch.len())) })?;
/// q.write(7).unwrap();
/// q.close().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    capacity: usize,
    linger: Option<Duration>,
    thread_name: Option<String>,
    lossy: bool,
    order: WriteOrder,
    lanes: Option<usize>,
}

impl Builder {
    /// The default capacity, in items.
    pub const DEFAULT_CAPACITY: usize = 1024;

    pub(super) fn new() -> Self {
        Self {
            capacity: Self::DEFAULT_CAPACITY,
            linger: None,
            thread_name: None,
            lossy: false,
            order: WriteOrder::Global,
            lanes: None,
        }
    }

    /// The number of items each half of the buffer holds (default
    /// [`Self::DEFAULT_CAPACITY`]): the most one batch gathers from buffered
    /// writes. A write of `capacity` items or more goes to the sink as it is,
    /// so a sink can see longer batches (see [`AsyncBuffer::capacity`]).
    /// Two halves of this many slots are allocated up front, each with one
    /// byte of bookkeeping per slot.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// After the first item of a batch, wait up to `linger` for the batch to
    /// fill before flushing it (as Kafka's `linger.ms`); a batch that fills
    /// its half of the buffer goes at once, and `flush()` and `close()` cut
    /// the wait short too. The default is no linger:
    /// the first write into an idle buffer is flushed at once, and under
    /// sustained load (a batch already waiting when the last one has been
    /// delivered) the flusher lets it fill to half the capacity, for at most
    /// 50 µs.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = Some(linger).filter(|d| !d.is_zero());
        self
    }

    /// Lossy mode for the byte writer (default off: lossless). When on, a
    /// write through `io::Write` (and so every `tracing` event, and
    /// `write!`) that would have to wait for room is dropped whole instead,
    /// never half-written: it returns `Ok` as if written, and is counted in
    /// [`Stats::writes_dropped`](crate::Stats::writes_dropped) and
    /// [`Stats::items_dropped`](crate::Stats::items_dropped). A write of
    /// `capacity` bytes or more is always dropped in this mode (it would wait
    /// for the sink). For logging from threads that must never block on a
    /// slow disk, as tracing-appender's `lossy`.
    ///
    /// The explicit calls keep their meaning: [`AsyncBuffer::write`] and
    /// [`AsyncBuffer::write_slice`] wait, the `try_` calls refuse and hand
    /// the data back.
    ///
    /// ```
    /// let log = mwsr::AsyncBuffer::builder()
    ///     .capacity(64 * 1024)
    ///     .lossy(true)
    ///     .build(mwsr::WriteSink::new(std::io::sink()))?;
    /// writeln!(&log, "never waits")?;
    /// log.close()?;
    /// let stats = log.stats();
    /// assert_eq!(stats.items_flushed + stats.items_dropped, 12);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lossy(mut self, lossy: bool) -> Self {
        self.lossy = lossy;
        self
    }

    /// How different threads' writes are ordered within a batch (default
    /// [`WriteOrder::Global`]). [`WriteOrder::PerWriter`] gives up that
    /// order for writes that share no cache line between threads.
    ///
    /// ```
    /// use mwsr::WriteOrder;
    ///
    /// let q = mwsr::AsyncBuffer::builder()
    ///     .write_order(WriteOrder::PerWriter)
    ///     .build_fn(|batch: &[u64]| Ok::<_, std::io::Error>(assert!(batch.len() <= 1024)))?;
    /// std::thread::scope(|s| {
    ///     for t in 0..4 {
    ///         let q = &q;
    ///         s.spawn(move || (0..1000).for_each(|i| q.write(t * 1000 + i).unwrap()));
    ///     }
    /// });
    /// q.close()?;
    /// assert_eq!(q.stats().items_flushed, 4000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_order(mut self, order: WriteOrder) -> Self {
        self.order = order;
        self
    }

    /// In [`WriteOrder::PerWriter`], how many lanes writers spread over
    /// (default: twice the cores, as a power of two from 4 to 64; at most
    /// 1024). Threads map to lanes by the order they first wrote in; threads
    /// sharing a lane take turns on it, so a lane per concurrently writing
    /// thread is fastest. Each lane costs a cache line, and a lane's chunk
    /// is a `2 * lanes`-th of a half. Unused in the default order (but
    /// still checked: a value out of range fails `build`).
    pub fn lanes(mut self, lanes: usize) -> Self {
        self.lanes = Some(lanes);
        self
    }

    /// The flusher thread's name (default `mwsr-flusher`).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = Some(name.into());
        self
    }

    /// Starts the flusher thread.
    ///
    /// # Errors
    /// `InvalidInput` if the capacity is 0 or above `u32::MAX`, or the
    /// lanes 0 or above 1024;
    /// `OutOfMemory` if the buffer cannot be allocated; the spawn error if
    /// the thread cannot be started.
    pub fn build<T, S>(self, sink: S) -> io::Result<AsyncBuffer<T, S>>
    where
        T: Send + 'static,
        S: Sink<T> + Send + 'static,
        S::Error: Send + Sync + 'static,
    {
        let shared = Arc::new(Shared {
            front: Front::try_new(self.capacity, self.order.lanes(self.lanes)?, sink)?,
            signal: Signal::new(),
            linger: self.linger,
            lossy: self.lossy,
            mark: worker::mark(self.capacity, self.linger),
        });
        let name = self
            .thread_name
            .unwrap_or_else(|| "mwsr-flusher".to_owned());
        let thread = {
            let shared = shared.clone();
            ThreadBuilder::new()
                .name(name)
                .spawn(move || worker::run(&shared))?
        };
        Ok(AsyncBuffer::from_parts(shared, thread))
    }

    /// As [`build`](Self::build) for a closure, whose argument's type the
    /// compiler then infers.
    ///
    /// ```
    /// let q = mwsr::AsyncBuffer::builder()
    ///     .capacity(256)
    ///     .build_fn(|batch| std::io::Write::write_all(&mut std::io::stdout(), batch))?;
    /// q.write_slice(b"hello\n").unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub fn build_fn<T, E, F>(self, sink: F) -> io::Result<AsyncBuffer<T, F>>
    where
        T: Send + 'static,
        F: FnMut(&[T]) -> Result<(), E> + Send + 'static,
        E: Send + Sync + 'static,
    {
        self.build(sink)
    }
}
