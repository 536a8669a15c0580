//! `mwsr::record`: the log format, reading it back, damage, and the
//! group-commit log.

#[path = "../common/mod.rs"]
mod common;
mod damage;
mod format;
mod power_loss;
mod properties;
mod recovery;
mod wal;

use mwsr::record::{BLOCK_SIZE, Corruption, HEADER_SIZE, Mode, Reader, Writer};

/// A log of `records`, with each record's span: its offset, and the
/// offset just past its last chunk.
pub fn encode(records: &[Vec<u8>]) -> (Vec<u8>, Vec<(u64, u64)>) {
    let mut w = Writer::new(Vec::new());
    let spans = records
        .iter()
        .map(|r| {
            let at = w.write_record(r).unwrap();
            (at, w.offset())
        })
        .collect();
    (w.into_inner(), spans)
}

/// Every record of `log`, read with `read_record`.
pub fn read_all(log: &[u8], mode: Mode) -> std::io::Result<Vec<Vec<u8>>> {
    let mut reader = Reader::with_mode(log, mode);
    let mut out = Vec::new();
    let mut record = Vec::new();
    while reader.read_record(&mut record)? {
        out.push(record.clone());
    }
    Ok(out)
}

/// The next record, read whole through the streaming `Reader::next`.
pub fn next_streamed<R: std::io::Read>(reader: &mut Reader<R>) -> Option<Vec<u8>> {
    let mut record = reader.next().unwrap()?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut record, &mut bytes).unwrap();
    Some(bytes)
}

/// The `Corruption` inside a strict reader's error.
pub fn corruption(e: &std::io::Error) -> &Corruption {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Corruption>())
        .unwrap_or_else(|| panic!("not a Corruption: {e}"))
}

/// A record of `len` bytes, its bytes telling where they are.
pub fn record(id: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (id * 31 + i) as u8).collect()
}

/// A record that fills the first block up to `room` bytes before its end.
pub fn filler(room: usize) -> Vec<u8> {
    record(0, BLOCK_SIZE - HEADER_SIZE - room)
}
