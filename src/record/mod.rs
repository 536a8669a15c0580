//! The LevelDB log format: records framed in 32 KiB blocks, each chunk
//! checksummed, byte-compatible with the write-ahead logs of LevelDB (and
//! RocksDB's non-recyclable records).
//!
//! ```text
//! block := chunk* trailer?          (32 KiB; the last block may be short)
//! chunk := checksum: u32 LE | length: u16 LE | type: u8 | payload
//! ```
//!
//! - A record is one `FULL` chunk, or a `FIRST` chunk, any number of
//!   `MIDDLE` chunks and a `LAST` chunk. Chunks never cross a block boundary.
//! - When fewer than 7 bytes (a header) remain in a block, they are zeros
//!   (the trailer) and the record goes on in the next block. When exactly 7
//!   remain, a record that does not end there starts with an empty `FIRST`
//!   chunk.
//! - The checksum is CRC-32C over the type byte and the payload, masked
//!   ([`mask`]) so that a log stored inside another CRC-checked stream does
//!   not checksum its own checksums.
//!
//! [`Writer`] frames records; [`Reader`] reads them back, strictly or as
//! LevelDB does when it recovers (see [`Mode`]); [`Wal`] is a durable log
//! that many threads append to, with one write and one sync per batch
//! (group commit).

mod blocks;
mod corruption;
mod group;
mod log_file;
mod reader;
mod suspect;
mod wal;
mod writer;

pub use corruption::{Corruption, LogEnd, Reason};
pub use reader::{Mode, Reader, RecordReader, Records};
pub use wal::{Wal, WalStats};
pub use writer::{RecordWriter, Writer};

/// The group commit behind `Wal`, for the loom models only.
#[cfg(loom)]
#[doc(hidden)]
pub use group::{Commit as LoomCommit, Group as LoomGroup, records as loom_records};

/// Bytes per block.
pub const BLOCK_SIZE: usize = 32 * 1024;
/// Bytes per chunk header: checksum, length, type.
pub const HEADER_SIZE: usize = 7;

/// Chunk types.
pub(crate) mod chunk {
    pub(crate) const FULL: u8 = 1;
    pub(crate) const FIRST: u8 = 2;
    pub(crate) const MIDDLE: u8 = 3;
    pub(crate) const LAST: u8 = 4;
}

const MASK_DELTA: u32 = 0xa282_ead8;

/// LevelDB's masking of a stored CRC: rotate right by 15 bits, add a
/// constant.
pub fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// The inverse of [`mask`].
pub fn unmask(masked: u32) -> u32 {
    masked.wrapping_sub(MASK_DELTA).rotate_left(15)
}

/// The masked checksum of a chunk: CRC-32C over its type byte, then its
/// payload.
pub(crate) fn chunk_checksum(kind: u8, payload: &[u8]) -> u32 {
    mask(crc32c::crc32c_append(crc32c::crc32c(&[kind]), payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    #[expect(
        clippy::manual_rotate,
        reason = "LevelDB's formula, as LevelDB writes it"
    )]
    fn mask_matches_leveldb_and_round_trips() {
        // LevelDB's `Mask`: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
        for crc in [0u32, 1, 0xe306_9283, u32::MAX, 0x8000_0000] {
            let expected = ((crc >> 15) | (crc << 17)).wrapping_add(0xa282_ead8);
            assert_eq!(mask(crc), expected);
            assert_eq!(unmask(mask(crc)), crc);
            assert_ne!(mask(crc), crc);
        }
    }

    #[test]
    fn chunk_checksum_covers_the_type_byte_then_the_payload() {
        let mut whole = vec![chunk::FULL];
        whole.extend_from_slice(b"hello");
        assert_eq!(
            chunk_checksum(chunk::FULL, b"hello"),
            mask(crc32c::crc32c(&whole))
        );
        assert_ne!(
            chunk_checksum(chunk::FULL, b"hello"),
            chunk_checksum(chunk::LAST, b"hello")
        );
    }
}
