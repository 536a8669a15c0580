//! Arbitrary bytes (or a real log, then damaged) through
//! `mwsr::record::Reader`, strict and tolerant, with `read_record`,
//! `records()`, `skip_to_end()` and the streaming `next()` + `RecordReader`.
//!
//! Besides "never panics, always ends", it checks what the docs let one
//! derive:
//! - a tolerant reader never fails (its input never errs), its counters match
//!   its reports, and `log_end`/`intact_len` describe the stream;
//! - short reads, `Interrupted` and transient I/O errors change nothing
//!   ("I/O errors ... consume nothing: calling again resumes");
//! - a strict reader agrees with a tolerant one up to its first error, and a
//!   strict reader that ends cleanly read exactly what the tolerant one did;
//!   strict errors are sticky until `recover`;
//! - the streaming reader reads whole exactly the records `read_record` does;
//! - every record round-trips: written again with `Writer`, read back
//!   strictly; `seek_record` to a record's offset reads it and the rest;
//! - truncating the log to `intact_len` and appending gives a log that reads
//!   the same records, then the appended one, with a clean end.
#![no_main]

use std::fmt;
use std::io::{self, Cursor, Read};
use std::sync::{Arc, Mutex};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mwsr::record::{BLOCK_SIZE, Corruption, HEADER_SIZE, LogEnd, Mode, Reader, Writer};
use mwsr_fuzz::{Flaky, IoPlan, payload, retry};

#[derive(Arbitrary, Debug)]
struct Input {
    /// How the flaky passes are served.
    io: IoPlan,
    /// Read sizes for the streaming pass, cycled.
    read_sizes: Vec<u16>,
    /// Which record to `seek_record` to.
    seek_pick: u16,
    /// Leave every `skip_every`th streamed record unread (0: never).
    skip_every: u8,
    log: Log,
}

#[derive(Arbitrary, Debug)]
enum Log {
    /// The bytes as they are.
    Raw(Vec<u8>),
    /// A log built from pieces, then damaged.
    Built {
        pieces: Vec<Piece>,
        damage: Vec<Damage>,
    },
}

#[derive(Arbitrary, Debug)]
enum Piece {
    /// A record of `len % (3 blocks)` bytes, written by `Writer`.
    Record { len: u32, seed: u8 },
    /// A record that leaves `left % 11` bytes in its block: trailers, the
    /// 7-bytes-left empty `FIRST` chunk, records ending on a boundary.
    PadTo { left: u8, seed: u8 },
    /// Zeros, as a preallocated file leaves.
    Zeros(u16),
    /// Raw bytes (the log goes on after them at the right block offsets).
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Damage {
    Xor { at: u32, with: u8 },
    Cut { at: u32 },
    Zero { at: u32, len: u16 },
    Remove { at: u32, len: u16 },
    Insert { at: u32, bytes: Vec<u8> },
}

/// The record length that leaves `left` bytes in the block once written at
/// `offset`.
fn pad_len(offset: u64, left: usize) -> usize {
    let mut room = BLOCK_SIZE - (offset % BLOCK_SIZE as u64) as usize;
    if room < HEADER_SIZE {
        room = BLOCK_SIZE; // the trailer comes first
    }
    let first = room - HEADER_SIZE;
    if first >= left {
        first - left
    } else {
        // Spill into the next block: its LAST chunk ends `left` before its end.
        first + BLOCK_SIZE - HEADER_SIZE - left
    }
}

fn build(pieces: &[Piece], damage: &[Damage]) -> Vec<u8> {
    let mut log = Vec::new();
    let record = |log: &mut Vec<u8>, len: usize, seed: u8| {
        let len_now = log.len() as u64;
        let mut w = Writer::at_offset(std::mem::take(log), len_now);
        w.write_record(&payload(len, seed))
            .expect("Vec never fails");
        *log = w.into_inner();
    };
    for piece in pieces.iter().take(64) {
        if log.len() > 6 * BLOCK_SIZE {
            break;
        }
        match piece {
            Piece::Record { len, seed } => {
                record(&mut log, *len as usize % (3 * BLOCK_SIZE), *seed);
            }
            Piece::PadTo { left, seed } => {
                let len = pad_len(log.len() as u64, usize::from(*left % 11));
                record(&mut log, len, *seed);
            }
            Piece::Zeros(n) => log.resize(log.len() + usize::from(*n), 0),
            Piece::Bytes(b) => log.extend_from_slice(b),
        }
    }
    for d in damage.iter().take(16) {
        let n = log.len();
        let at = |at: u32| at as usize % (n + 1);
        match d {
            Damage::Xor { at: a, with } if n > 0 => log[*a as usize % n] ^= with.max(&1),
            Damage::Xor { .. } => {}
            Damage::Cut { at: a } => log.truncate(at(*a)),
            Damage::Zero { at: a, len } => {
                let start = at(*a);
                let end = (start + usize::from(*len)).min(n);
                log[start..end].fill(0);
            }
            Damage::Remove { at: a, len } => {
                let start = at(*a);
                let end = (start + usize::from(*len)).min(n);
                log.drain(start..end);
            }
            Damage::Insert { at: a, bytes } => {
                let start = at(*a);
                log.splice(start..start, bytes.iter().copied());
            }
        }
    }
    log
}

/// What one tolerant pass found.
#[derive(PartialEq, Eq)]
struct Tolerant {
    /// Records with the offset `last_record_offset` gave for each.
    records: Vec<(u64, Vec<u8>)>,
    reports: Vec<Corruption>,
    end: LogEnd,
}

/// The most reads any pass may take: every record or report consumes input.
fn bound(data: &[u8]) -> usize {
    2 * (data.len() / HEADER_SIZE) + 16
}

type Reports = Arc<Mutex<Vec<Corruption>>>;

fn reporting<R: Read>(reader: Reader<R>) -> (Reader<R>, Reports) {
    let reports = Reports::default();
    let sink = reports.clone();
    let reader = reader.on_corruption(move |c| sink.lock().unwrap().push(c.clone()));
    (reader, reports)
}

/// Reads `data` tolerantly with `read_record` through `inner`, checking what
/// holds for any tolerant pass.
fn tolerant_pass<R: Read>(data: &[u8], inner: R) -> Tolerant {
    let (mut reader, reports) = reporting(Reader::tolerant(inner));
    assert_eq!(reader.mode(), Mode::Tolerant);
    let mut records = Vec::new();
    let mut record = vec![0xAA; 3]; // replaced, not appended to
    let mut last_offset = None;
    loop {
        assert!(
            records.len() <= bound(data),
            "the tolerant reader does not end"
        );
        let got = retry(|| reader.read_record(&mut record))
            .expect("a tolerant reader fails only for its input's errors");
        if !got {
            assert!(
                record.is_empty(),
                "read_record(false) leaves the record empty"
            );
            break;
        }
        let offset = reader.last_record_offset().expect("a record was read");
        assert!(
            last_offset.is_none_or(|l| l < offset),
            "record offsets go forward"
        );
        assert!(offset + HEADER_SIZE as u64 <= data.len() as u64);
        last_offset = Some(offset);
        records.push((offset, record.clone()));
    }
    let end = reader
        .log_end()
        .expect("log_end is set once the end is reached");
    // The end stays the end.
    assert!(!retry(|| reader.read_record(&mut record)).unwrap());
    assert_eq!(reader.log_end(), Some(end));

    let reports = std::mem::take(&mut *reports.lock().unwrap());
    assert_eq!(reader.intact_len(), end.intact_len);
    assert_eq!(end.len, data.len() as u64, "the whole stream was read");
    assert!(end.intact_len <= end.len);
    assert_eq!(end.cut_bytes(), end.len - end.intact_len);
    assert_eq!(reader.corruptions(), reports.len() as u64);
    assert_eq!(end.corruptions, reader.corruptions());
    assert_eq!(
        reader.dropped_bytes(),
        reports.iter().map(|c| c.bytes).sum::<u64>()
    );
    for c in &reports {
        assert!(
            c.offset + c.bytes <= data.len() as u64,
            "damage past the stream: {c:?}"
        );
    }
    match records.last() {
        None => assert_eq!(end.intact_len, 0),
        Some((offset, record)) => {
            // Its chunks (headers, payload, any trailer) end at intact_len.
            assert!(
                *offset + (HEADER_SIZE + record.len()) as u64 <= end.intact_len,
                "the last record ends past intact_len: {end:?}"
            );
            assert!(*offset < end.intact_len);
        }
    }
    Tolerant {
        records,
        reports,
        end,
    }
}

/// One outcome of a strict `read_record`.
#[derive(PartialEq, Eq)]
enum Strict {
    Record(u64, Vec<u8>),
    Damage(Corruption),
    Torn,
}

// Records as (offset, length) in messages: they may be 100 KB each.
impl fmt::Debug for Tolerant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tolerant")
            .field("records", &summary(&self.records))
            .field("reports", &self.reports)
            .field("end", &self.end)
            .finish()
    }
}

impl fmt::Debug for Strict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strict::Record(offset, r) => write!(f, "Record(at {offset}, {} bytes)", r.len()),
            Strict::Damage(c) => write!(f, "Damage({c:?})"),
            Strict::Torn => f.write_str("Torn"),
        }
    }
}

/// Reads `data` strictly through `inner`, recovering after each error, to
/// the end.
fn strict_pass<R: Read>(data: &[u8], inner: R) -> Vec<Strict> {
    let mut reader = Reader::new(inner);
    let mut out = Vec::new();
    let mut record = Vec::new();
    let mut last_offset = None;
    loop {
        assert!(out.len() <= bound(data), "the strict reader does not end");
        match retry(|| reader.read_record(&mut record)) {
            Ok(true) => {
                let offset = reader.last_record_offset().unwrap();
                assert!(last_offset.is_none_or(|l| l < offset));
                last_offset = Some(offset);
                out.push(Strict::Record(offset, record.clone()));
            }
            Ok(false) => return out,
            Err(e) => {
                let again = retry(|| reader.read_record(&mut record)).unwrap_err();
                assert_eq!(e.kind(), again.kind(), "strict errors are sticky");
                match e.kind() {
                    io::ErrorKind::InvalidData => {
                        let c = corruption(&e);
                        assert_eq!(Some(&c), Some(&corruption(&again)));
                        assert!(c.offset + c.bytes <= data.len() as u64, "{c:?}");
                        out.push(Strict::Damage(c));
                    }
                    io::ErrorKind::UnexpectedEof => {
                        let end = reader.log_end().expect("a torn end is an end");
                        assert!(end.torn);
                        out.push(Strict::Torn);
                    }
                    kind => panic!("unexpected strict error kind {kind:?}: {e}"),
                }
                reader.recover();
            }
        }
    }
}

fn corruption(e: &io::Error) -> Corruption {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Corruption>())
        .unwrap_or_else(|| panic!("InvalidData without a Corruption: {e}"))
        .clone()
}

/// What a streaming pass found.
struct Streamed {
    /// The records read whole, with their offsets.
    whole: Vec<(u64, Vec<u8>)>,
    reports: Vec<Corruption>,
    end: LogEnd,
    /// Some records were left unread.
    skipped: bool,
}

/// Streams `data` tolerantly with `next()`, reading each record in pieces.
fn streaming_pass(data: &[u8], input: &Input) -> Streamed {
    let (mut reader, reports) = reporting(Reader::tolerant(Flaky::new(data, input.io.clone())));
    let mut whole = Vec::new();
    let mut skipped = false;
    let mut calls = 0;
    let mut sizes = input.read_sizes.iter().cycle();
    'records: for n in 0.. {
        assert!(n <= bound(data), "the streaming reader does not end");
        // (A loop rather than `retry`: the record reader borrows `reader`.)
        let mut rr = loop {
            match reader.next() {
                Err(e) if mwsr_fuzz::is_injected(&e) => continue,
                Err(e) => panic!("a tolerant next() never fails: {e}"),
                Ok(None) => break 'records,
                Ok(Some(rr)) => break rr,
            }
        };
        if input.skip_every > 0 && n % usize::from(input.skip_every) == 0 {
            skipped = true;
            continue; // left unread: the next call skips it
        }
        let mut got = Vec::new();
        let ok = loop {
            calls += 1;
            assert!(calls < 4 * data.len() + 64, "a RecordReader does not end");
            let size = sizes.next().map_or(4096, |&s| usize::from(s) % 5000 + 1);
            let mut buf = vec![0; size];
            match retry(|| rr.read(&mut buf)) {
                Ok(0) => break true,
                Ok(k) => got.extend_from_slice(&buf[..k]),
                Err(e) => {
                    assert!(
                        matches!(
                            e.kind(),
                            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
                        ),
                        "{e}"
                    );
                    break false;
                }
            }
        };
        if ok {
            // Reading on after the end stays at the end.
            assert_eq!(rr.read(&mut [0; 8]).unwrap(), 0);
            whole.push((rr.offset(), got));
        }
    }
    let end = reader.log_end().expect("the end was reached");
    let reports = std::mem::take(&mut *reports.lock().unwrap());
    Streamed {
        whole,
        reports,
        end,
        skipped,
    }
}

/// Records as (offset, length), for messages.
fn summary(records: &[(u64, Vec<u8>)]) -> Vec<(u64, usize)> {
    records.iter().map(|(o, r)| (*o, r.len())).collect()
}

fn check(data: &[u8], input: &Input) {
    // Tolerant: straight from the slice, then through a flaky reader.
    let tolerant = tolerant_pass(data, data);
    assert_eq!(
        tolerant_pass(data, Flaky::new(data, input.io.clone())),
        tolerant,
        "short reads and transient errors changed what a tolerant reader read"
    );
    let records: Vec<Vec<u8>> = tolerant.records.iter().map(|(_, r)| r.clone()).collect();

    // records() and skip_to_end() agree with read_record.
    let mut reader = Reader::tolerant(data);
    let listed: Vec<Vec<u8>> = reader.records().map(|r| r.unwrap()).collect();
    assert!(
        listed == records,
        "records() read other records than read_record"
    );
    assert_eq!(Reader::tolerant(data).skip_to_end().unwrap(), tolerant.end);

    // Strict agrees with tolerant up to its first error.
    let strict = strict_pass(data, data);
    assert_eq!(
        strict_pass(data, Flaky::new(data, input.io.clone())),
        strict,
        "short reads and transient errors changed what a strict reader read"
    );
    let clean = strict
        .iter()
        .take_while(|s| matches!(s, Strict::Record(..)))
        .map(|s| match s {
            Strict::Record(o, r) => (*o, r.clone()),
            _ => unreachable!(),
        })
        .collect::<Vec<_>>();
    assert!(
        tolerant.records.starts_with(&clean),
        "strict and tolerant readers differ before the first damage: {:?} against {:?}",
        summary(&clean),
        summary(&tolerant.records)
    );
    if clean.len() == strict.len() {
        // The strict reader met no damage and no torn end at all.
        assert!(clean == tolerant.records);
        assert!(tolerant.reports.is_empty(), "{:?}", tolerant.reports);
        assert!(
            !tolerant.end.torn && !tolerant.end.damaged,
            "{:?}",
            tolerant.end
        );
    }
    let mut strict_skip = Reader::new(data);
    match strict_skip.skip_to_end() {
        Ok(end) => {
            assert_eq!(clean.len(), strict.len());
            assert_eq!(end, tolerant.end);
        }
        Err(_) => assert_ne!(clean.len(), strict.len()),
    }

    // Streaming reads whole exactly the records read_record returns.
    let streamed = streaming_pass(data, input);
    if streamed.skipped {
        let mut rest = tolerant.records.iter();
        for s in &streamed.whole {
            assert!(
                rest.any(|r| r == s),
                "streamed a record read_record did not: {s:?}"
            );
        }
    } else {
        assert!(
            streamed.whole == tolerant.records,
            "streaming and read_record differ: (offset, len) {:?} against {:?}",
            summary(&streamed.whole),
            summary(&tolerant.records)
        );
        assert_eq!(
            streamed.reports, tolerant.reports,
            "streaming reported other damage"
        );
        assert_eq!(streamed.end, tolerant.end);
    }

    // Every record round-trips through a Writer and a strict Reader.
    let mut w = Writer::new(Vec::new());
    for r in &records {
        w.write_record(r).unwrap();
    }
    let rewritten = w.into_inner();
    let mut back = Reader::new(&rewritten[..]);
    let mut again = Vec::new();
    for r in &records {
        assert!(back.read_record(&mut again).unwrap());
        assert!(&again == r, "a record did not round-trip");
    }
    assert!(!back.read_record(&mut again).unwrap());
    let end = back.log_end().unwrap();
    assert_eq!(
        (end.intact_len, end.len),
        (rewritten.len() as u64, rewritten.len() as u64)
    );
    assert!(!end.torn && !end.damaged);

    // seek_record to a record reads it and everything after it.
    if !tolerant.records.is_empty() {
        let i = usize::from(input.seek_pick) % tolerant.records.len();
        let mut seeker = Reader::tolerant(Cursor::new(data));
        seeker.seek_record(tolerant.records[i].0).unwrap();
        let mut rest = Vec::new();
        while seeker.read_record(&mut again).unwrap() {
            rest.push((seeker.last_record_offset().unwrap(), again.clone()));
            assert!(rest.len() <= tolerant.records.len());
        }
        assert!(
            rest == tolerant.records[i..],
            "seek_record to record {i}: {:?} against {:?}",
            summary(&rest),
            summary(&tolerant.records[i..])
        );
    }

    // Truncated to intact_len, the log reads the same records and ends
    // clean; a record appended then reads back after them.
    let intact = tolerant.end.intact_len;
    let mut truncated = data[..intact as usize].to_vec();
    let cut = tolerant_pass(&truncated, &truncated[..]);
    assert!(
        cut.records == tolerant.records,
        "truncating to intact_len lost records: {:?} against {:?}",
        summary(&cut.records),
        summary(&tolerant.records)
    );
    assert_eq!(cut.end.intact_len, intact);
    assert!(!cut.end.torn && !cut.end.damaged, "{:?}", cut.end);
    let mut w = Writer::at_offset(std::mem::take(&mut truncated), intact);
    let appended_at = w.write_record(b"appended").unwrap();
    truncated = w.into_inner();
    let grown = tolerant_pass(&truncated, &truncated[..]);
    let mut expected = tolerant.records.clone();
    expected.push((appended_at, b"appended".to_vec()));
    assert!(
        grown.records == expected,
        "a record appended at intact_len: {:?} against {:?}",
        summary(&grown.records),
        summary(&expected)
    );
    assert_eq!(grown.end.intact_len, truncated.len() as u64);
    assert!(!grown.end.torn && !grown.end.damaged);
}

fuzz_target!(|input: Input| {
    let data = match &input.log {
        Log::Raw(bytes) => bytes.clone(),
        Log::Built { pieces, damage } => build(pieces, damage),
    };
    check(&data, &input);
});
