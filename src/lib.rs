//! Many writers, one reader: threads write concurrently into a shared,
//! preallocated buffer, and whole batches go to one sink (a closure, a file,
//! a socket) one at a time.
//!
//! Use it to batch log lines from many threads into one file, or to coalesce
//! many threads' small messages into one socket with far fewer syscalls.
//!
//! Two front ends share one engine:
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
//!   let buf = mwsr::Buffer::new(4096, |batch: &[u8]| out.write_all(batch));
//!   std::thread::scope(|s| {
//!       for id in 0..4 {
//!           let buf = &buf;
//!           s.spawn(move || {
//!               for line in 0..100 {
//!                   writeln!(&*buf, "thread {id} line {line}").unwrap();
//!               }
//!           });
//!       }
//!   });
//!   drop(buf); // flushes what is left
//!   let text = String::from_utf8(out).unwrap();
//!   assert_eq!(text.lines().filter(|l| l.starts_with("thread ")).count(), 400);
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
//!           let out = &out;
//!           s.spawn(move || out.write_slice(&[id; 32]).unwrap());
//!       }
//!   });
//!   out.close()?; // everything written is on the socket
//!   assert_eq!(out.stats().items_flushed, 4 * 32);
//!   # Ok::<(), Box<dyn std::error::Error>>(())
//!   ```
//!
//! Two companion modules build on the same idea, many writers and one
//! reader: [`record`] (the LevelDB log format, and a group-commit
//! write-ahead log) and [`pipe`] (writers write at any offset, one reader
//! reads in order, within a bounded window).
//!
//! Sinks: any `FnMut(&[T]) -> Result<(), E>` closure, a type implementing
//! [`Sink`], or a [`WriteSink`] around any `io::Write` (optionally flushing
//! or `sync_data`-ing a file after each batch). With the `tracing` feature,
//! [`AsyncBuffer<u8, _>`](AsyncBuffer) is a `tracing_subscriber`
//! `MakeWriter` (see `mwsr::tracing`).
//!
//! # Guarantees
//! - **Order.** The sink sees a valid interleaving of the writers' calls:
//!   each call's items are contiguous, each writer's calls keep their order,
//!   and batches arrive one at a time, never concurrently.
//! - **Whole writes.** A call that fits in the capacity arrives in one
//!   batch. [`Buffer::write_v`] and [`AsyncBuffer::write_v`] write several
//!   slices as one contiguous run; `write!` on a byte buffer formats the whole
//!   message first and writes it once.
//! - **Lossless.** A write that returned `Ok` reaches the sink unless the
//!   sink fails; a full buffer makes writers wait (or `try_write` hand the
//!   item back), never drop.
//! - **No allocation** per write or per flush: both halves are allocated up
//!   front. (`write!` formats into a per-thread scratch vector, which
//!   allocates on a thread's first message and for messages over 64 KiB.)
//! - **Failures are contained.** A sink error or panic becomes a sticky
//!   [`Error`] that every later call returns; no lock is poisoned and nothing
//!   deadlocks, also when a sink calls back into its own buffer.
//! - **Model-checked.** The protocol is verified with [loom]; see below.
//!
//! # Choosing
//! - **[`Buffer`]** when writers may pay for the flush themselves: no extra
//!   thread, the lowest overhead per write, and batches as large as the
//!   capacity. A batch is only flushed when the buffer fills or someone calls
//!   `flush`, so call it (or drop the buffer) when a quiet period must not
//!   hold data back.
//! - **[`AsyncBuffer`]** when writers must not block on slow I/O (logging
//!   from request handlers, a socket shared by many threads): a background
//!   thread flushes as soon as there is data, writers only wait when both
//!   halves are full, and `flush`/`close` give clean shutdown.
//! - **A channel** (`std::sync::mpsc`, crossbeam-channel, flume) when the
//!   consumer wants items one at a time, items must be moved rather than
//!   cloned or copied, there are several consumers, or `select!` over several
//!   sources is needed. This crate copies (clones) items into its buffer and
//!   hands the consumer slices, which is what makes batching cheap.
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
//! # Testing your code with loom
//! Built with `RUSTFLAGS="--cfg loom"`, this crate takes every atomic, lock
//! and thread primitive from `loom`, so a loom model of *your* code explores
//! this crate's interleavings as well.
//!
//! [loom]: https://docs.rs/loom
#![deny(unsafe_op_in_unsafe_fn)]
#![doc(test(attr(deny(warnings))))]

mod async_buffer;
mod buffer;
mod engine;
mod error;
mod front;
mod io_write;
pub mod pipe;
pub mod record;
mod scratch;
mod sink;
mod stats;
mod sync;
#[cfg(feature = "tracing")]
pub mod tracing;
mod write_sink;

pub use async_buffer::{AsyncBuffer, Builder, CloseGuard};
pub use buffer::Buffer;
pub use error::{Error, TryWriteError};
pub use sink::Sink;
pub use stats::Stats;
pub use write_sink::{SyncData, WriteSink};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
