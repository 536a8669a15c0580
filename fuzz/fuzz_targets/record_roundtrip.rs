//! Records written with `mwsr::record::Writer` (`write_record`, and piece by
//! piece with `next()`/`RecordWriter`, some abandoned), read back.
//!
//! - A strict reader reads exactly the finished records, in order, at the
//!   offsets the writer returned, then a clean end, unless an abandoned
//!   record left chunks behind: then it fails there (`PartialRecord`, or
//!   `UnexpectedEof` at the very end) after the records before it.
//! - A tolerant reader always reads exactly the finished records, and the
//!   streaming reader reads them whole (an abandoned record may fail its
//!   `read`, but only where the abandoned record left chunks).
//! - Offsets: each record starts where the writer was, or after the 1-6
//!   byte trailer it skipped; `offset()` tracks the bytes written.
//! - Appending with `Writer::at_offset` to a log prefix (or to a stream
//!   that starts at any offset) writes the same bytes as one writer would,
//!   and `seek_record` reads from there.
//! - A writer whose `W` fails part-way fails for good, and a tolerant
//!   reader still reads every record whose write returned `Ok`.
#![no_main]

use std::io::{self, Cursor, Read, Write};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mwsr::record::{BLOCK_SIZE, Corruption, HEADER_SIZE, Reader, Reason, Writer};
use mwsr_fuzz::payload;

#[derive(Arbitrary, Debug)]
struct Input {
    start: Start,
    /// `W` fails once this many bytes went through (`None`: never).
    fail_after: Option<u32>,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Start {
    /// A new log.
    Fresh,
    /// These records are written first; the ops are appended by a writer
    /// made with `at_offset` on that prefix.
    Prefix(Vec<Rec>),
    /// The stream starts at offset `n % (3 blocks)` (as after a log file
    /// one does not have): `at_offset` with an empty `W`.
    Offset(u32),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct Rec {
    len: u32,
    seed: u8,
}

impl Rec {
    fn bytes(self) -> Vec<u8> {
        // Mostly small, sometimes spanning up to three blocks.
        let len = if self.len & 0x8000_0000 != 0 {
            self.len as usize % (3 * BLOCK_SIZE)
        } else {
            self.len as usize % 300
        };
        payload(len, self.seed)
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum Op {
    Write(Rec),
    /// `next()`, the record in pieces of these sizes (then the rest),
    /// `flush()` between pieces when `flush`, then `finish()`.
    Stream {
        rec: Rec,
        pieces: Vec<u16>,
        flush: bool,
    },
    /// As `Stream`, but the `RecordWriter` is dropped without `finish`.
    Abandon {
        rec: Rec,
        pieces: Vec<u16>,
    },
    /// A record that leaves `left % 11` bytes in its block.
    PadTo {
        left: u8,
        seed: u8,
    },
}

/// A `W` that takes `limit` bytes, then fails (a short write first).
struct Failing {
    bytes: Vec<u8>,
    limit: usize,
}

impl Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.limit - self.bytes.len();
        if room == 0 && !buf.is_empty() {
            return Err(io::Error::other("disk full"));
        }
        let n = room.min(buf.len());
        self.bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The record length that leaves `left` bytes in the block once written at
/// `offset`.
fn pad_len(offset: u64, left: usize) -> usize {
    let mut room = BLOCK_SIZE - (offset % BLOCK_SIZE as u64) as usize;
    if room < HEADER_SIZE {
        room = BLOCK_SIZE;
    }
    let first = room - HEADER_SIZE;
    if first >= left {
        first - left
    } else {
        first + BLOCK_SIZE - HEADER_SIZE - left
    }
}

/// Where a record written at `offset` starts: after the trailer, if fewer
/// than a header's bytes are left in the block.
fn start_of_record(offset: u64) -> u64 {
    let room = BLOCK_SIZE as u64 - offset % BLOCK_SIZE as u64;
    if room < HEADER_SIZE as u64 {
        offset + room
    } else {
        offset
    }
}

/// What the log should hold, as the ops were applied.
#[derive(Debug, Default)]
struct Expect {
    /// Finished records: offset, bytes, and the offset just past them.
    records: Vec<(u64, Vec<u8>, u64)>,
    /// Abandoned records that left chunks (and a write that failed
    /// part-way): where their first chunk is, how many finished records
    /// came before, and the writer's offset just after.
    partial: Vec<(u64, usize, u64)>,
    /// The writer's offset after each abandoned record that left only an
    /// empty `FIRST` chunk (which readers skip).
    empty_first_ends: Vec<u64>,
}

/// Applies `ops` to `w`; returns what a reader must find. Stops at the
/// first failed write (checking that later ones fail too).
fn apply<W: Write>(w: &mut Writer<W>, ops: &[Op], expect: &mut Expect) {
    for op in ops.iter().take(48) {
        let before = w.offset();
        let at = start_of_record(before);
        let result = match op {
            Op::Write(rec) => w.write_record(&rec.bytes()).map(|o| Some((o, rec.bytes()))),
            Op::PadTo { left, seed } => {
                let left = usize::from(*left % 11);
                let bytes = payload(pad_len(before, left), *seed);
                w.write_record(&bytes).map(|o| {
                    let rest = BLOCK_SIZE - (w.offset() % BLOCK_SIZE as u64) as usize;
                    assert_eq!(rest % BLOCK_SIZE, left, "PadTo landed elsewhere");
                    Some((o, bytes))
                })
            }
            Op::Stream { rec, pieces, flush } => {
                let bytes = rec.bytes();
                let mut r = w.next();
                let written = write_pieces(&mut r, &bytes, pieces, *flush);
                written.and_then(|()| r.finish()).map(|o| Some((o, bytes)))
            }
            Op::Abandon { rec, pieces } => {
                let bytes = rec.bytes();
                let mut r = w.next();
                let written = write_pieces(&mut r, &bytes, pieces, false);
                drop(r);
                written.map(|()| None)
            }
        };
        match result {
            Ok(Some((offset, bytes))) => {
                assert_eq!(
                    offset, at,
                    "a record starts where the writer was, after any trailer"
                );
                assert_eq!(w.last_record_offset().unwrap(), offset);
                expect.records.push((offset, bytes, w.offset()));
            }
            Ok(None) => {
                // An abandoned record: nothing, or only the empty FIRST
                // chunk of a block with exactly a header's room left, or
                // chunks that readers must drop.
                match w.offset() - before {
                    0 => {}
                    7 if BLOCK_SIZE as u64 - before % BLOCK_SIZE as u64 == 7 => {
                        expect.empty_first_ends.push(w.offset());
                    }
                    _ => expect.partial.push((at, expect.records.len(), w.offset())),
                }
            }
            Err(_) => {
                // What the failed write left is torn, or a record cut short.
                expect.partial.push((at, expect.records.len(), u64::MAX));
                // Broken for good.
                assert!(w.write_record(b"x").is_err());
                assert!(w.next().finish().is_err());
                return;
            }
        }
    }
}

/// Writes `bytes` into `r` in pieces of the given sizes, then the rest.
fn write_pieces(
    r: &mut impl Write,
    mut bytes: &[u8],
    pieces: &[u16],
    flush: bool,
) -> io::Result<()> {
    for &p in pieces.iter().take(16) {
        let n = (usize::from(p) % (2 * BLOCK_SIZE)).min(bytes.len());
        r.write_all(&bytes[..n])?;
        bytes = &bytes[n..];
        if flush {
            r.flush()?;
        }
    }
    r.write_all(bytes)
}

/// Reads `log` (whose first record starts at `from`) strictly, checking it
/// against `expect`.
fn check_strict(log: &[u8], from: u64, expect: &Expect) {
    let mut reader = Reader::new(Cursor::new(log));
    reader.seek_record(from).unwrap();
    let stop = expect
        .partial
        .first()
        .map_or(expect.records.len(), |&(_, n, _)| n);
    let mut record = Vec::new();
    for (offset, bytes, _) in &expect.records[..stop] {
        assert!(
            reader.read_record(&mut record).unwrap(),
            "strict reader ended early"
        );
        assert_eq!(&record, bytes);
        assert_eq!(reader.last_record_offset(), Some(*offset));
    }
    match expect.partial.first() {
        None => {
            assert!(
                !reader.read_record(&mut record).unwrap(),
                "a record too many"
            );
            let end = reader.log_end().unwrap();
            assert!(!end.torn && !end.damaged, "{end:?}");
            assert_eq!(end.corruptions, 0);
            let intact = expect.records.last().map_or(from, |r| r.2);
            assert_eq!(end.intact_len, intact);
            // Past the last record: nothing, or the empty FIRST chunk of an
            // abandoned record.
            let empty_first = expect.empty_first_ends.contains(&(log.len() as u64));
            assert_eq!(end.cut_bytes(), if empty_first { 7 } else { 0 }, "{end:?}");
        }
        Some(&(at, _, after)) => {
            let e = reader.read_record(&mut record).unwrap_err();
            // A log that ends inside the record is torn; one that goes on
            // has a record without its end.
            let last = log.len() as u64 == after;
            match e.kind() {
                io::ErrorKind::InvalidData => {
                    assert!(!last, "PartialRecord with nothing after it: {e}");
                    let c = e.get_ref().unwrap().downcast_ref::<Corruption>().unwrap();
                    assert_eq!((c.offset, c.reason), (at, Reason::PartialRecord), "{c:?}");
                }
                io::ErrorKind::UnexpectedEof => {
                    assert!(
                        last,
                        "UnexpectedEof with more log after the abandoned record"
                    );
                }
                kind => panic!("unexpected error kind {kind:?}: {e}"),
            }
        }
    }
}

/// A tolerant reader (and the tolerant streaming one) reads exactly the
/// finished records.
fn check_tolerant(log: &[u8], from: u64, expect: &Expect) {
    let records = &expect.records;
    let partial = expect.partial.len();
    // Damage after the last record: only an abandoned record cut short by
    // a later chunk. Otherwise the tail is at most torn.
    let tail_damage = expect
        .partial
        .iter()
        .any(|p| p.1 == records.len() && p.2 < log.len() as u64);
    let mut reader = Reader::tolerant(Cursor::new(log));
    reader.seek_record(from).unwrap();
    let mut record = Vec::new();
    for (offset, bytes, _) in records {
        assert!(
            reader.read_record(&mut record).unwrap(),
            "tolerant reader ended early"
        );
        assert_eq!(&record, bytes);
        assert_eq!(reader.last_record_offset(), Some(*offset));
    }
    assert!(
        !reader.read_record(&mut record).unwrap(),
        "a record too many"
    );
    let end = reader.log_end().unwrap();
    assert_eq!(end.intact_len, records.last().map_or(from, |r| r.2));
    assert!(tail_damage || !end.damaged, "{end:?}");

    let mut reader = Reader::tolerant(Cursor::new(log));
    reader.seek_record(from).unwrap();
    let mut whole = Vec::new();
    let mut failed = 0;
    while let Some(mut r) = reader.next().unwrap() {
        let mut got = Vec::new();
        let mut buf = [0; 1000];
        let ok = loop {
            match r.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => break false,
            }
        };
        if ok {
            whole.push((r.offset(), got));
        } else {
            failed += 1;
        }
        assert!(whole.len() + failed <= records.len() + partial + 1);
    }
    let want: Vec<(u64, Vec<u8>)> = records.iter().map(|(o, b, _)| (*o, b.clone())).collect();
    assert_eq!(whole, want, "streaming read other records");
    // An empty FIRST chunk an abandoned record left is skipped, also when
    // it ends the log: only records that left chunks may fail.
    assert!(
        failed <= partial,
        "{failed} streamed records failed, but only {partial} abandoned records left chunks"
    );
}

fuzz_target!(|input: Input| {
    let mut expect = Expect::default();
    match input.fail_after {
        None => {
            // One writer for everything, to compare against.
            let (prefix, from): (Vec<u8>, u64) = match &input.start {
                Start::Fresh => (Vec::new(), 0),
                Start::Prefix(recs) => {
                    let mut w = Writer::new(Vec::new());
                    assert!(w.last_record_offset().is_err());
                    let prefix_ops: Vec<Op> = recs.iter().take(8).map(|r| Op::Write(*r)).collect();
                    apply(&mut w, &prefix_ops, &mut expect);
                    (w.into_inner(), 0)
                }
                Start::Offset(n) => (Vec::new(), u64::from(*n) % (3 * BLOCK_SIZE as u64)),
            };
            let prefix_len = prefix.len() as u64 + from;
            let mut whole = Writer::at_offset(prefix.clone(), prefix_len);
            assert!(whole.last_record_offset().is_err());
            apply(&mut whole, &input.ops, &mut expect);
            assert_eq!(whole.offset(), from + whole.get_ref().len() as u64);

            // The same ops through a second writer, appending to the prefix.
            let mut again = Expect::default();
            let mut appender = Writer::at_offset(Vec::new(), prefix_len);
            apply(&mut appender, &input.ops, &mut again);
            let new_records = expect.records.len() - again.records.len();
            assert_eq!(
                again.records[..],
                expect.records[new_records..],
                "at_offset gave other offsets"
            );
            let mut joined = prefix.clone();
            joined.extend_from_slice(appender.get_ref());
            assert_eq!(&joined, whole.get_ref(), "at_offset wrote other bytes");

            // The stream as a reader sees it: zeros stand for the bytes
            // before `from`, which the reader seeks past.
            let mut log = vec![0; from as usize];
            log.extend_from_slice(whole.get_ref());
            check_strict(&log, from, &expect);
            check_tolerant(&log, from, &expect);
            // And reading from the first appended record on.
            let first_new = expect.records.iter().position(|r| r.0 >= prefix_len);
            if let Some(i) = first_new.filter(|_| expect.partial.is_empty()) {
                let tail = Expect {
                    records: expect.records[i..].to_vec(),
                    partial: Vec::new(),
                    empty_first_ends: expect.empty_first_ends.clone(),
                };
                check_strict(&log, tail.records[0].0, &tail);
            }
        }
        Some(limit) => {
            let limit = limit as usize % (4 * BLOCK_SIZE);
            let mut w = Writer::new(Failing {
                bytes: Vec::new(),
                limit,
            });
            apply(&mut w, &input.ops, &mut expect);
            let log = w.into_inner().bytes;
            check_tolerant(&log, 0, &expect);
        }
    }
});
