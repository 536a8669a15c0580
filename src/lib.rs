//! placeholder
#![deny(unsafe_op_in_unsafe_fn)]

mod buffer;
mod engine;
mod error;
mod sink;
mod sync;

pub use buffer::Buffer;
pub use error::Error;
pub use sink::Sink;
