//! `mwsr::pipe`: writers at any offset, one reader in order, a bounded
//! window.

#[path = "../common/mod.rs"]
mod common;
mod golang;
mod semantics;
mod stress;
mod wakeups;

pub use common::task::{Task, eventually, spawn};
use mwsr::pipe::{self, Reader};
use std::io::{self, Read};

/// `len` bytes of a pattern with no zero byte (so unwritten bytes show) that
/// does not repeat with any short period.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8 + 1).collect()
}

/// Reads until the end: everything read, and how the stream ended.
pub fn read_to_end(reader: &mut Reader) -> (Vec<u8>, io::Result<()>) {
    let mut out = Vec::new();
    let end = reader.read_to_end(&mut out).map(drop);
    (out, end)
}

/// The pipe error inside `err`, which must hold one.
pub fn pipe_error(err: &io::Error) -> pipe::Error {
    pipe::Error::of(err)
        .unwrap_or_else(|| panic!("not a pipe error: {err:?}"))
        .clone()
}
