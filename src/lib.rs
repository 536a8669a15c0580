//! Many writers, one reader: threads write concurrently into a shared,
//! preallocated double buffer, and whole batches go to one sink (a closure,
//! a file, a socket) one at a time.
//!
//! Use it to batch log lines from many threads into one file, to coalesce
//! many threads' small messages into one socket with far fewer syscalls, or
//! as a group-commit write-ahead log ([`record::Wal`]).
//!
//! Two front ends share one engine. Both are cheap clonable handles, as
//! crossbeam's `Sender`: clone one for each thread; dropping the last handle
//! flushes and closes (losslessly, but it cannot report an error: call
//! `close()` for that).
//!
//! - [`Buffer`] flushes inline, in the writer that finds it full: no thread,
//!   nothing to shut down, and the sink runs on a writer's thread.
//!
//!   ```
//!   use std::io::Write;
//!
//!   // Batches of up to 4 KiB reach the sink; each `writeln!` is one
//!   // contiguous write, never interleaved with another thread's.
//!   let mut out = Vec::new();
//!   let buf = mwsr::Buffer::from_fn(4096, |batch| out.write_all(batch));
//!   std::thread::scope(|s| {
//!       for id in 0..4 {
//!           let buf = buf.clone();
//!           s.spawn(move || {
//!               for line in 0..100 {
//!                   writeln!(buf, "thread {id} line {line}").unwrap();
//!               }
//!           });
//!       }
//!   });
//!   buf.close()?; // flushes what is left
//!   drop(buf);
//!   let text = String::from_utf8(out)?;
//!   assert_eq!(text.lines().filter(|l| l.starts_with("thread ")).count(), 400);
//!   # Ok::<(), Box<dyn std::error::Error>>(())
//!   ```
//!
//! - [`AsyncBuffer`] owns a background thread that hands batches to the sink
//!   as soon as there is anything (or after a linger time), with lossless
//!   backpressure, `flush` and `close`. Writers never run the sink for
//!   ordinary writes.
//!
//!   ```
//!   use std::net::{TcpListener, TcpStream};
//!
//!   let listener = TcpListener::bind("127.0.0.1:0")?;
//!   let socket = TcpStream::connect(listener.local_addr()?)?;
//!   // A coalescing socket writer in one line: each batch is one `write_all`.
//!   let out = mwsr::AsyncBuffer::with_writer(64 * 1024, socket);
//!   std::thread::scope(|s| {
//!       for id in 0..4u8 {
//!           let out = out.clone();
//!           s.spawn(move || out.write_slice(&[id; 32]).unwrap());
//!       }
//!   });
//!   out.close()?; // everything written is on the socket
//!   assert_eq!(out.stats().items_flushed, 4 * 32);
//!   # Ok::<(), Box<dyn std::error::Error>>(())
//!   ```
//!
//! Four companion modules build on the same idea, many writers and one
//! reader: [`record`] (the LevelDB log format, and a group-commit
//! write-ahead log), [`pipe`] (writers write at any offset, one reader
//! reads in order, within a bounded window), [`segments`] (an
//! append-only stream in rotating, retained segment files, read back in
//! order from any offset) and [`mirror`] (many files used as one: every
//! write goes to all of them, slow ones written behind by a flusher thread
//! each, reads come from the fast one).
//!
//! Sinks: any `FnMut(&[T]) -> Result<(), E>` closure, a type implementing
//! [`Sink`], or a [`WriteSink`] around any `io::Write` (optionally flushing
//! or `sync_data`-ing a file after each batch). With the `tracing` feature,
//! [`AsyncBuffer<u8, _>`](AsyncBuffer) is a `tracing_subscriber`
//! `MakeWriter` (see [`mwsr::tracing`](tracing/index.html)).
//!
//! # Guarantees
//! - **Order.** The sink sees a valid interleaving of the writers' calls:
//!   each call's items are contiguous, each writer's calls keep their order,
//!   and batches arrive one at a time, never concurrently. By default the
//!   interleaving is also the real-time order: a write that returned before
//!   another began comes first. [`WriteOrder::PerWriter`] gives that last
//!   part up (see "Choosing").
//! - **Whole writes.** A call that fits in the capacity arrives in one
//!   batch. [`Buffer::write_v`] and [`AsyncBuffer::write_v`] write several
//!   slices as one contiguous run; `write!` on a byte buffer formats the whole
//!   message first and writes it once (one record, on a [`record::Wal`]).
//! - **Lossless** (unless [lossy mode](Builder::lossy) is asked for). A
//!   write that returned `Ok` reaches the sink unless the sink fails; a full
//!   buffer makes writers wait (or a `try_` call hand the data back), never
//!   drop. Writes racing `close()` either make the last batch or get
//!   [`Error::Closed`].
//! - **Writers don't wait for a running flush.** They wait only when the
//!   second half fills up before the sink returns (backpressure), and then
//!   they park.
//! - **No allocation** per write or per flush: both halves are allocated up
//!   front. (`write!` formats into a per-thread scratch vector, which
//!   allocates on a thread's first message and for messages over 64 KiB.)
//! - **Failures are contained.** A sink error or panic becomes a sticky
//!   [`Error`] that every later call returns; the failed batch is dropped,
//!   not retried, and counted in [`Stats::items_dropped`]. No lock is
//!   poisoned and nothing deadlocks, also when a sink calls back into its
//!   own buffer ([`Error::Reentrant`]).
//! - **Model-checked.** The protocol is verified with [loom]; see below.
//!
//! # Choosing
//! - **[`Buffer`]** when writers may pay for the flush themselves: no extra
//!   thread, the lowest overhead per write, and batches as large as the
//!   capacity. It has no time-based flushing, on purpose: a batch goes when
//!   the buffer fills, on [`flush`](Buffer::flush) or
//!   [`close`](Buffer::close), or when the last handle is dropped. When a
//!   quiet period must not hold data back, that is what [`AsyncBuffer`] is
//!   for.
//! - **[`AsyncBuffer`]** when writers must not block on slow I/O (logging
//!   from request handlers, a socket shared by many threads): a background
//!   thread flushes as soon as there is data (or after
//!   [`linger`](Builder::linger)), writers only wait when both halves are
//!   full, and `flush`/`close` give clean shutdown. When both halves are
//!   full and the thread has not been scheduled yet (every core busy), a
//!   blocking writer delivers the waiting batch itself rather than wait for
//!   a core to free up (see "Which thread calls the sink" on [`AsyncBuffer`]).
//! - **A channel** (`std::sync::mpsc`, crossbeam-channel, flume) when the
//!   consumer wants items one at a time, items must be moved rather than
//!   cloned or copied, there are several consumers, or `select!` over several
//!   sources is needed. This crate copies (clones) items into its buffer and
//!   hands the consumer slices, which is what makes batching cheap.
//!
//! Then:
//! - **Lossless or lossy.** Lossless is the default. With
//!   [`Builder::lossy`], a write through `io::Write` (so `write!` and every
//!   `tracing` event) that would have to wait is dropped whole, never
//!   half-written, and counted in [`Stats::writes_dropped`] and
//!   [`Stats::items_dropped`]; [`AsyncBuffer::write`] and
//!   [`AsyncBuffer::write_slice`] still wait. In lossless mode a sink that
//!   blocks for good (a socket whose peer stopped reading) blocks writers
//!   once both halves are full, and `close()` with them: give sockets a write
//!   timeout, or use [`AsyncBuffer::write_timeout`],
//!   [`AsyncBuffer::flush_timeout`] and [`AsyncBuffer::close_timeout`].
//!   Unlike tracing-appender's worker, there is no fixed shutdown timeout:
//!   `close()` and drop flush everything.
//! - **Never waiting.** The `try_` calls write all or nothing, now, and hand
//!   the data back when refused ([`TryWriteError::Full`], `Closed`,
//!   `Failed`; [`is_full`](TryWriteError::is_full),
//!   [`into_inner`](TryWriteError::into_inner)): for shedding load.
//!   [`Buffer`]'s `try_` calls never run the sink.
//! - **Global or per-writer order.** By default all writers reserve space
//!   with an atomic operation on one shared word, so every write moves that
//!   cache line between cores, and the stream is in real-time order. With
//!   [`WriteOrder::PerWriter`] ([`Builder::write_order`],
//!   [`BufferBuilder::write_order`]) each thread fills a chunk of its own,
//!   claimed with one atomic operation per chunk, and a write touches only
//!   its own lane's cache line. Everything in "Guarantees" still holds
//!   except the real-time order *between threads within a batch*: thread
//!   A's write may come after thread B's even though A's returned before
//!   B's began. Log lines that carry their own timestamps, metrics and
//!   independent messages do not care; a protocol where one thread's write
//!   answers another's (a reply after its request, a commit after the data
//!   it covers, written by different threads) needs the default. Batches
//!   may also be a little shorter than the capacity: a chunk's unfilled
//!   tail is closed up before delivery. On this project's 2-core machine
//!   the gain is modest (see `BENCHMARKS.md`); it grows with the cores that
//!   write at once.
//! - **Buffers that are never dropped** (in a `static` or `OnceLock`, or
//!   held by a global `tracing` subscriber) are never closed either, so
//!   their last batch would be lost at exit: keep a [`CloseGuard`] from
//!   [`AsyncBuffer::close_on_drop`] (or from `mwsr::tracing::init`) until
//!   the end of `main`, or call `close()`.
//!
//! # API at a glance
//!
//! ## [`Buffer`]
//!
//! | call | what it does |
//! | --- | --- |
//! | [`Buffer::new`]`(capacity, sink)` | two halves of `capacity` slots, allocated once; `sink` is any `FnMut(&[T]) -> Result<(), E>` or a [`Sink`] |
//! | [`Buffer::from_fn`]`(capacity, \|batch\| ..)` | the same for a closure whose argument type is inferred; name the error (`Ok::<_, std::io::Error>(())`) when nothing in its body fixes it |
//! | [`Buffer::builder`]`()` ... [`build`](BufferBuilder::build)`(sink)?` | the same with settings: capacity, [`write_order`](BufferBuilder::write_order), [`lanes`](BufferBuilder::lanes) |
//! | [`Buffer::try_new`] | as `new`, with an `io::Error` instead of a panic for a bad capacity or a failed allocation |
//! | [`Buffer::with_writer`]`(capacity, w)` | a byte buffer that writes each batch to `w: io::Write` with one `write_all` |
//! | `clone()` | another handle to the same buffer; the last one dropped flushes and closes |
//! | [`write`](Buffer::write)`(&items)` | copies the items in (`T: Clone`); the writer that finds the buffer full flushes it; `capacity` items or more go to the sink straight from the caller's slice |
//! | [`write_v`](Buffer::write_v)`(&[&a, &b])` | the parts as one contiguous run, in one batch if they fit |
//! | [`try_write`](Buffer::try_write)`(&items)`, [`try_write_v`](Buffer::try_write_v) | all or nothing, if it fits now; never waits, never calls the sink; a refusal hands the data back |
//! | `write!`, `writeln!` ([`write_fmt`](Buffer::write_fmt)) | on `Buffer<u8, _>`, any handle, no `mut`: the message formatted whole, then written as one run |
//! | `io::Write` for `Buffer<u8, _>` and `&Buffer<u8, _>` | `write` and `write_all` copy the whole slice or fail; `write_vectored` is the atomic `write_v`; `flush` is [`flush`](Buffer::flush) |
//! | [`flush`](Buffer::flush)`()` | returns once everything written before it is through the sink |
//! | [`close`](Buffer::close)`()`, [`is_closed`](Buffer::is_closed)`()` | flushes, then refuses writes on every handle; idempotent |
//! | [`into_inner`](Buffer::into_inner)`()` | closes and gives the sink back with the result |
//! | [`capacity`](Buffer::capacity)`()`, [`stats`](Buffer::stats)`()` | items per half; the counters ([`Stats`]) |
//!
//! ## [`AsyncBuffer`] and its [`Builder`]
//!
//! | call | what it does |
//! | --- | --- |
//! | [`AsyncBuffer::new`]`(capacity, sink)`, [`AsyncBuffer::from_fn`] | starts the flusher thread; `from_fn` infers a closure's argument type |
//! | [`AsyncBuffer::builder`]`()` ... [`build`](Builder::build)`(sink)?`, [`build_fn`](Builder::build_fn) | the same with settings, and `io::Result` instead of panics |
//! | [`Builder::capacity`], [`Builder::linger`], [`Builder::thread_name`] | items per half (default [`Builder::DEFAULT_CAPACITY`]); how long a batch may wait to fill (default: none, eager when idle); the thread's name |
//! | [`Builder::write_order`]`(`[`WriteOrder::PerWriter`]`)`, [`Builder::lanes`] | each writer thread fills a chunk of its own: no shared cache line per write, no real-time order between threads within a batch (default: [`WriteOrder::Global`]) |
//! | [`Builder::lossy`]`(true)` | `io::Write`, `write!` and `tracing` writes that would wait are dropped whole and counted (default: lossless) |
//! | [`AsyncBuffer::with_writer`]`(capacity, w)` | a coalescing file or socket writer: each batch is one `write_all` on `w` |
//! | `clone()` | another handle; the last one dropped closes the buffer |
//! | [`write`](AsyncBuffer::write)`(item)` | moves one item in; waits for room when both halves are full |
//! | [`write_slice`](AsyncBuffer::write_slice)`(&items)`, [`write_v`](AsyncBuffer::write_v)`(&[&a, &b])` | as [`Buffer::write`] and [`Buffer::write_v`] |
//! | [`try_write`](AsyncBuffer::try_write)`(item)`, [`try_write_slice`](AsyncBuffer::try_write_slice), [`try_write_v`](AsyncBuffer::try_write_v) | never wait: [`TryWriteError::Full`] (both halves full), `Closed` or `Failed` hand the data back |
//! | [`write_timeout`](AsyncBuffer::write_timeout)`(item, d)` | as `write`, waiting at most `d` for room (`Full(item)` then) |
//! | `write!`, `writeln!` ([`write_fmt`](AsyncBuffer::write_fmt)), `io::Write` | as for `Buffer<u8, _>`; dropped whole when it would wait, in lossy mode |
//! | [`flush`](AsyncBuffer::flush)`()` | returns once everything written before it went through the sink; skips the linger |
//! | [`flush_timeout`](AsyncBuffer::flush_timeout)`(d)` | as `flush`, [`Error::TimedOut`] after `d` (not sticky) |
//! | [`close`](AsyncBuffer::close)`()` | flushes, stops and joins the thread; idempotent, from any thread |
//! | [`close_timeout`](AsyncBuffer::close_timeout)`(d)` | as `close`, but after `d` fails the buffer for good (`TimedOut`), detaches the thread and drops (and counts) what the sink has not taken |
//! | [`close_on_drop`](AsyncBuffer::close_on_drop)`()` | a [`CloseGuard`] that closes the buffer when dropped, for buffers that are never dropped themselves |
//! | [`into_inner`](AsyncBuffer::into_inner)`()` | closes and gives the sink back with the result |
//! | [`is_closed`](AsyncBuffer::is_closed)`()` | whether writes can only fail from now on (closed, or the sink failed) |
//! | [`capacity`](AsyncBuffer::capacity)`()`, [`stats`](AsyncBuffer::stats)`()` | items per half; the counters ([`Stats`]) |
//!
//! The thread flushes the first write into an idle buffer at once; under
//! sustained load it lets a batch fill to half the capacity, for at most
//! 50 µs, instead of flushing a few items at a time. A full buffer, `flush()`
//! and `close()` cut any wait short.
//!
//! ## Sinks, errors and counters
//!
//! | item | what it is |
//! | --- | --- |
//! | `FnMut(&[T]) -> Result<(), E>` | a sink, as is any type implementing [`Sink`] |
//! | [`WriteSink::new`]`(w)`, [`WriteSink::flushing`], [`WriteSink::durable`] | each batch of bytes with one `write_all` on `w`; then `flush`; then `flush` and `sync_data` (for durable logs). Don't wrap `w` in a `BufWriter`: the buffer already batches |
//! | [`Error`] | `Closed`, `Sink`, `Panicked`, `Reentrant`, `TimedOut`; converts into `io::Error`, keeping an `io::Error` sink's kind |
//! | [`TryWriteError`] | `Full`, `Closed` or `Failed`, each with the data that was not written |
//! | [`Stats`] | items and batches flushed, items dropped (by a failure, a timed-out close, or lossy mode), writes dropped by lossy mode, the largest batch, writer waits, `try_` refusals |
//! | [`CloseGuard`] | closes its buffer when dropped; [`CloseGuard::close`] to see the result |
//!
//! ## [`record`]
//!
//! | item | what it does |
//! | --- | --- |
//! | [`record::Writer`] | frames records in LevelDB's format: [`write_record`](record::Writer::write_record) returns the record's offset (for [`seek_record`](record::Reader::seek_record)); [`next`](record::Writer::next) streams one record in pieces; [`at_offset`](record::Writer::at_offset) appends to an existing log |
//! | [`record::Reader`] | [`read_record`](record::Reader::read_record), [`records`](record::Reader::records), the streaming [`next`](record::Reader::next); [`recover`](record::Reader::recover) after an error; [`seek_record`](record::Reader::seek_record); [`on_corruption`](record::Reader::on_corruption) |
//! | [`record::Mode`] | `Strict` (any damage is an error, as Go's `leveldb/record`; [`Reader::new`](record::Reader::new)) or `Tolerant` (as LevelDB recovers: torn tails end cleanly, zero-filled regions are skipped, damage is skipped and reported with the bytes dropped and why; [`Reader::tolerant`](record::Reader::tolerant)) |
//! | [`skip_to_end`](record::Reader::skip_to_end), [`log_end`](record::Reader::log_end) → [`record::LogEnd`] | where the intact log ends and whether what follows is a torn write or damage: truncate to `intact_len` before appending with `Writer::at_offset` |
//! | [`record::Wal::create`], [`record::Wal::open`] | a group-commit log: one write and one `sync_data` per batch, made for everyone queued by the first thread that needs a sync (the leader), into space zero-filled ahead of the log so that syncs need not grow the file. `open` cuts a torn or damaged tail back to the last whole record and syncs that before appending ([`recovery`](record::Wal::recovery) says what was cut) |
//! | [`append`](record::Wal::append), [`append_sync`](record::Wal::append_sync), [`sync`](record::Wal::sync), [`close`](record::Wal::close) | append and return; append and return once durable (sharing the sync of concurrent appends); make everything appended before it durable; sync what is left and stop the thread |
//! | `write!` ([`write_fmt`](record::Wal::write_fmt)), `io::Write`, `clone()` | one record per write; `flush` is `sync`; a handle per thread, the last one dropped closes |
//!
//! ## [`pipe`]
//!
//! | item | what it does |
//! | --- | --- |
//! | [`pipe::pipe`]`(window)`, [`pipe::unbounded`]`()` | a pipe whose writers run at most `window` bytes ahead of the reader (a write past it blocks; a longer write goes in piece by piece), or never block |
//! | [`pipe::Writer`] (`Clone + Send + Sync`) | [`write_at`](pipe::Writer::write_at), [`write_all_at`](pipe::Writer::write_all_at), [`write_with`](pipe::Writer::write_with) (fills a range in place, e.g. `read_at` straight into the pipe; retry a failed one with the same range); [`close`](pipe::Writer::close), [`close_with_error`](pipe::Writer::close_with_error) (final: the reader gets the bytes that were in, then the error); the last writer dropped closes the write side |
//! | [`pipe::Reader`] | `Read` and `BufRead`, strictly in order, as soon as the contiguous prefix grows; [`close`](pipe::Reader::close), [`position`](pipe::Reader::position), [`stats`](pipe::Reader::stats) |
//! | [`pipe::Error`] | inside the `io::Error`: [`Gap`](pipe::Error::Gap) at the end (bytes never written, and bytes written past them that are lost), [`BelowConsumed`](pipe::Error::BelowConsumed) for a `write_at` below what the reader has read, `OffsetOverflow`, `WriteClosed`, `ReaderClosed` |
//!
//! Overlapping writes: the first write of a byte wins. Closing either side
//! wakes every blocked reader and writer.
//!
//! ## [`segments`]
//!
//! | item | what it does |
//! | --- | --- |
//! | [`segments::Writer::open`], [`segments::Writer::builder`] | one writer per stream (a lock file), resuming at its end; [`segment_size`](segments::Builder::segment_size) (default 64 MiB), [`segment_age`](segments::Builder::segment_age), retention ([`keep_segments`](segments::Builder::keep_segments), [`keep_bytes`](segments::Builder::keep_bytes), [`keep_for`](segments::Builder::keep_for)), [`naming`](segments::Builder::naming) for several streams in one directory |
//! | [`append`](segments::Writer::append), [`append_v`](segments::Writer::append_v), `write!`, `io::Write`, `clone()` | one contiguous append each, never split across segments; returns at once |
//! | [`sync`](segments::Writer::sync), [`close`](segments::Writer::close), [`stats`](segments::Writer::stats) | durable (segment and directory `fsync`ed); seal, sync and release (also on the last drop); [`segments::SegmentStats`] |
//! | [`segments::Reader`] | `Read`, `BufRead`, `Seek` (any offset) across segments; EOF that later reads go past; [`follow`](segments::ReaderBuilder::follow) mode stopped by a [`segments::Stop`]; [`available`](segments::Reader::available) offsets |
//! | [`segments::Storage`], [`segments::Dir`] | where segments live: a directory, or your own storage (shaped for object stores: immutable segments, unordered paginated listings, ranged reads) |
//! | `segments::Objects` (cargo feature `s3`) | segments as objects through `object_store`: S3 (`Objects::s3()`: bucket, prefix, region, endpoint, `allow_http`, credentials) or any `Arc<dyn ObjectStore>`; uploaded once when sealed, create-only (one writer per stream), in the background; `sync()` seals the open segment |
//!
//! ## `tracing` (cargo feature)
//!
//! | item | what it does |
//! | --- | --- |
//! | `MakeWriter` for `AsyncBuffer<u8, _>` | `tracing_subscriber::fmt().with_writer(buffer)`: each event one contiguous write |
//! | `MakeWriter` for [`segments::Writer`] | size-rotated, retained, lossless log files: each event one append |
//! | [`mwsr::tracing::init`](tracing/fn.init.html)`(buffer)` | installs a global `fmt` subscriber over `buffer`, and returns a [`CloseGuard`]: keep it until the end of `main` |
//!
//! # How it works
//! Writers reserve a range of slots with one atomic compare-exchange and copy
//! their items in without any lock. The buffer has two preallocated halves:
//! when one is full, a flusher swaps it out and hands it to the sink while
//! writers go on filling the other half. A writer waits only when the second
//! half fills up before the sink has returned, and then it parks instead of
//! spinning. This is the Go library `mwsr`'s design, with the difference that
//! its writers all stop while the sink runs, and these do not.
//!
//! In per-writer mode a thread's lane holds a chunk of the active half. A
//! write locks the lane (its own cache line), copies into the chunk and
//! unlocks; only a full chunk goes back to the shared word for the next.
//! The flusher, after sealing a half, takes each lane's lock once to
//! collect the chunks in it (also those of threads that have exited) and
//! moves their filled parts together before the sink sees the batch.
//!
//! # Testing your code with loom
//! Built with `RUSTFLAGS="--cfg loom"`, this crate takes every atomic, lock
//! and thread primitive from [loom], so a loom model of *your* code explores
//! this crate's interleavings as well. Use the same loom version as this
//! crate, 0.7:
//!
//! ```toml
//! [target.'cfg(loom)'.dev-dependencies]
//! loom = "0.7"
//! ```
//!
//! In that build, every use of this crate must be inside `loom::model(..)`:
//! a plain `#[test]` that touches it panics with "cannot access Loom
//! execution state from outside a Loom model". Gate such tests with
//! `#[cfg(not(loom))]`, or keep the loom tests in a crate of their own (as
//! this crate's `loom-tests/` does). A model (doctests do not run under
//! loom):
//!
//! ```text
//! // tests/loom.rs
//! #![cfg(loom)]
//!
//! #[test]
//! fn two_writers_and_a_close() {
//!     loom::model(|| {
//!         let buf = mwsr::Buffer::from_fn(2, |_: &[u32]| Ok::<_, std::convert::Infallible>(()));
//!         let other = buf.clone();
//!         let writer = loom::thread::spawn(move || other.write(&[1, 2]).unwrap());
//!         buf.write(&[3]).unwrap(); // races the other write, and the flush one of them runs
//!         writer.join().unwrap();
//!         buf.close().unwrap();
//!         assert_eq!(buf.stats().items_flushed, 3);
//!     });
//! }
//! ```
//!
//! Run it with a target directory of its own, so that switching between the
//! loom build and the normal one does not rebuild everything:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom cargo test --release --test loom
//! ```
//!
//! [loom]: https://docs.rs/loom
#![deny(unsafe_op_in_unsafe_fn)]
#![doc(test(attr(deny(warnings))))]

mod async_buffer;
mod buffer;
mod engine;
mod error;
mod front;
mod fsync;
mod io_write;
pub mod mirror;
pub mod pipe;
pub mod record;
mod scratch;
pub mod segments;
mod sink;
mod stats;
mod sync;
#[cfg(feature = "tracing")]
pub mod tracing;
mod write_order;
mod write_sink;

pub use async_buffer::{AsyncBuffer, Builder, CloseGuard};
pub use buffer::{Buffer, BufferBuilder};
pub use error::{Error, TryWriteError};
pub use sink::Sink;
pub use stats::Stats;
pub use write_order::WriteOrder;
pub use write_sink::{SyncData, WriteSink};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
