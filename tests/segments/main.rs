//! `mwsr::segments`: the writer and the reader of a stream of rotating
//! segments.

#[path = "../common/mod.rs"]
mod common;
mod memory;
mod reader;
mod writer;
