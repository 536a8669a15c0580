//! Many writers, one reader: threads write concurrently into a shared,
//! preallocated buffer, and whole batches go to one sink (a closure, a file,
//! a socket) one at a time.
//!
//! Use it to batch log lines from many threads into one file, or to coalesce
//! many threads' small messages into one socket with far fewer syscalls.
//!
//! ```
//! use std::io::Write;
//!
//! // Batches of up to 4 KiB reach the sink; writers never interleave inside
//! // one write, and a write that fits lands in a single batch.
//! let mut out = Vec::new();
//! let buf = mwsr::Buffer::new(4096, |batch: &[u8]| out.write_all(batch));
//! std::thread::scope(|s| {
//!     for id in 0..4 {
//!         let buf = &buf;
//!         s.spawn(move || {
//!             for line in 0..100 {
//!                 let mut w = buf; // `&Buffer<u8, _>` is an `io::Write`
//!                 writeln!(w, "thread {id} line {line}").unwrap();
//!             }
//!         });
//!     }
//! });
//! drop(buf); // flushes what is left
//! assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 400);
//! ```
//!
//! Two front ends share one engine: [`Buffer`] flushes inline, in the writer
//! that finds it full (no thread, nothing to shut down), and [`AsyncBuffer`]
//! owns a background thread that flushes as soon as there is anything (or
//! after a linger time), with lossless backpressure, `flush` and `close`.
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
//! # Guarantees
//! - **Order.** The sink sees a valid interleaving of the writers' calls:
//!   each call's items are contiguous, each writer's calls keep their order,
//!   and batches arrive one at a time, never concurrently.
//! - **Atomic scatter-gather.** [`Buffer::write_v`] writes several slices as
//!   one contiguous run; if they fit in the capacity they arrive in one batch.
//! - **No allocation** per write or per flush.
//! - **Failures are contained.** A sink error or panic becomes a sticky
//!   [`Error`] that every later call returns; no lock is poisoned and nothing
//!   deadlocks, also when a sink calls back into its own buffer.
//! - **Model-checked.** The protocol is verified with [loom]; see below.
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
mod scratch;
mod sink;
mod stats;
mod sync;
#[cfg(feature = "tracing")]
pub mod tracing;
mod write_sink;

pub use async_buffer::{AsyncBuffer, Builder};
pub use buffer::Buffer;
pub use error::{Error, TryWriteError};
pub use sink::Sink;
pub use stats::Stats;
pub use write_sink::{SyncData, WriteSink};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
