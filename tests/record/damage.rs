//! What each kind of damage does to a strict and to a tolerant reader.

use std::io::{ErrorKind, Read};
use std::sync::{Arc, Mutex};

use mwsr::record::{BLOCK_SIZE, Corruption, HEADER_SIZE, Mode, Reader, Reason, mask};

use super::{corruption, encode, next_streamed, read_all, record};

/// A chunk as LevelDB frames it, for hand-made logs.
fn chunk(kind: u8, payload: &[u8]) -> Vec<u8> {
    let crc = crc32c::crc32c_append(crc32c::crc32c(&[kind]), payload);
    let mut out = mask(crc).to_le_bytes().to_vec();
    out.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    out.push(kind);
    out.extend_from_slice(payload);
    out
}

/// A tolerant reader of `log`: its records, and the damage it reported.
fn tolerant(log: &[u8]) -> (Vec<Vec<u8>>, Vec<Corruption>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let report = seen.clone();
    let mut reader =
        Reader::tolerant(log).on_corruption(move |c| report.lock().unwrap().push(c.clone()));
    let records = reader.records().collect::<Result<_, _>>().unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(reader.corruptions(), seen.len() as u64);
    assert_eq!(
        reader.dropped_bytes(),
        seen.iter().map(|c| c.bytes).sum::<u64>()
    );
    (records, seen)
}

/// Records, their log, and each record's span in it.
type Log = (Vec<Vec<u8>>, Vec<u8>, Vec<(u64, u64)>);

/// Three small records in the first block, one in the second.
fn two_blocks() -> Log {
    let records = vec![
        record(0, 10),
        record(1, 20),
        record(2, BLOCK_SIZE - 2 * HEADER_SIZE - 10 - 20 - HEADER_SIZE),
        record(3, 30),
    ];
    let (log, spans) = encode(&records);
    assert_eq!(spans[3].0, BLOCK_SIZE as u64);
    (records, log, spans)
}

#[test]
fn a_checksum_mismatch_drops_the_rest_of_the_block() {
    let (records, mut log, spans) = two_blocks();
    log[spans[1].0 as usize + HEADER_SIZE + 5] ^= 0x10;
    let expected = Corruption {
        offset: spans[1].0,
        bytes: BLOCK_SIZE as u64 - spans[1].0,
        reason: Reason::ChecksumMismatch,
    };

    let (read, seen) = tolerant(&log);
    assert_eq!(read, [records[0].clone(), records[3].clone()]);
    assert_eq!(seen, std::slice::from_ref(&expected));

    // Strict: an error, sticky until `recover`, which goes on at the next
    // block.
    let mut reader = Reader::new(&log[..]);
    let mut r = Vec::new();
    assert!(reader.read_record(&mut r).unwrap());
    for _ in 0..2 {
        let e = reader.read_record(&mut r).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData);
        assert_eq!(corruption(&e), &expected);
        assert_eq!(
            e.to_string(),
            format!(
                "mwsr::record: checksum mismatch at offset {}: {} bytes dropped",
                expected.offset, expected.bytes
            )
        );
    }
    reader.recover();
    assert!(reader.read_record(&mut r).unwrap());
    assert_eq!(r, records[3]);
    assert!(!reader.read_record(&mut r).unwrap());
}

#[test]
fn a_length_past_the_block_is_damage_unless_the_log_ends_there() {
    let (records, mut log, spans) = two_blocks();
    let len_at = spans[2].0 as usize + 4;
    log[len_at..len_at + 2].copy_from_slice(&u16::MAX.to_le_bytes());
    let (read, seen) = tolerant(&log);
    assert_eq!(read, [&records[..2], &records[3..]].concat());
    assert_eq!(seen[0].reason, Reason::BadLength);

    // In the last, short block the same bytes are a record torn by a crash.
    log.truncate(BLOCK_SIZE);
    log[len_at..len_at + 2].copy_from_slice(&u16::MAX.to_le_bytes());
    log.truncate(len_at + 100);
    let (read, seen) = tolerant(&log);
    assert_eq!(read, records[..2]);
    assert!(seen.is_empty());
}

#[test]
fn a_torn_tail_is_a_clean_end_when_tolerant_and_an_error_when_strict() {
    let records = vec![record(0, 10), record(1, 3 * BLOCK_SIZE)];
    let (log, spans) = encode(&records);
    // Inside the first record's header; inside the second's second block;
    // inside a header of its.
    for cut in [3, spans[1].0 as usize + BLOCK_SIZE + 9, 2 * BLOCK_SIZE + 4] {
        let torn = &log[..cut];
        let (read, seen) = tolerant(torn);
        assert_eq!(read, records[..usize::from(cut > 3)], "cut at {cut}");
        assert!(seen.is_empty());
        let e = read_all(torn, Mode::Strict).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnexpectedEof, "cut at {cut}");
    }
}

#[test]
fn zero_filled_regions_are_skipped_quietly_only_when_tolerant() {
    let (records, log, spans) = two_blocks();
    let mut zeroed = log.clone();
    zeroed[spans[1].0 as usize..BLOCK_SIZE].fill(0);
    // As a preallocated file leaves its end, too.
    zeroed.extend_from_slice(&vec![0; BLOCK_SIZE + 100]);

    let (read, seen) = tolerant(&zeroed);
    assert_eq!(read, [records[0].clone(), records[3].clone()]);
    assert!(seen.is_empty());

    let e = read_all(&zeroed, Mode::Strict).unwrap_err();
    assert_eq!(corruption(&e).reason, Reason::ZeroedRegion);
    assert_eq!(corruption(&e).offset, spans[1].0);
}

#[test]
fn recyclable_and_unknown_chunk_types_are_named() {
    // RocksDB's recyclable FULL (5): an 11-byte header.
    let mut log = vec![0; 4];
    log.extend_from_slice(&3u16.to_le_bytes());
    log.push(5);
    log.extend_from_slice(&[0, 0, 0, 1, b'a', b'b', b'c']);
    let e = read_all(&log, Mode::Strict).unwrap_err();
    assert_eq!(corruption(&e).reason, Reason::RecyclableType(5));
    assert!(
        e.to_string().contains("RocksDB recyclable chunk type 5"),
        "{e}"
    );

    // A well-formed chunk of type 9 is skipped alone.
    let log = [chunk(9, b"what"), chunk(1, b"next")].concat();
    let (read, seen) = tolerant(&log);
    assert_eq!(read, [b"next".to_vec()]);
    assert_eq!(
        seen,
        [Corruption {
            offset: 0,
            bytes: 11,
            reason: Reason::UnknownType(9)
        }]
    );
}

#[test]
fn broken_fragment_sequences() {
    // A LAST with no FIRST; a FIRST cut off by a FULL.
    let log = [
        chunk(4, b"orphan"),
        chunk(2, b"ab"),
        chunk(1, b"x"),
        chunk(1, b"y"),
    ]
    .concat();
    let (read, seen) = tolerant(&log);
    assert_eq!(read, [b"x".to_vec(), b"y".to_vec()]);
    let reasons: Vec<_> = seen.iter().map(|c| (c.reason, c.offset, c.bytes)).collect();
    assert_eq!(
        reasons,
        [
            (Reason::MissingStart, 0, 13),
            (Reason::PartialRecord, 13, 2)
        ]
    );
    let e = read_all(&log, Mode::Strict).unwrap_err();
    assert_eq!(corruption(&e).reason, Reason::MissingStart);

    // LevelDB's writers once left an empty FIRST before a record's real
    // start: not damage.
    let log = [chunk(2, b""), chunk(1, b"x")].concat();
    assert_eq!(read_all(&log, Mode::Strict).unwrap(), [b"x".to_vec()]);
}

#[test]
fn damage_inside_a_streamed_record_is_an_error_even_when_tolerant() {
    let records = vec![record(0, 3 * BLOCK_SIZE), record(1, 10)];
    let (mut log, _) = encode(&records);
    log[BLOCK_SIZE + 100] ^= 1; // the record's MIDDLE chunk
    let mut reader = Reader::tolerant(&log[..]);
    let mut first = reader.next().unwrap().unwrap();
    let mut bytes = Vec::new();
    let e = first.read_to_end(&mut bytes).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert_eq!(bytes, records[0][..BLOCK_SIZE - HEADER_SIZE]);
    assert_eq!(next_streamed(&mut reader).unwrap(), records[1]);
    assert!(reader.next().unwrap().is_none());
    // The block, the record, and its orphaned MIDDLE and LAST chunks.
    assert_eq!(reader.corruptions(), 4);
}

/// Reads at most 1000 bytes a call, as a pipe or a socket may.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.0.len()).min(1000);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn the_bytes_dropped_do_not_depend_on_the_size_of_reads() {
    let (_, mut log, spans) = two_blocks();
    log[spans[1].0 as usize..spans[1].0 as usize + HEADER_SIZE].fill(0);
    let mut whole = Reader::new(&log[..]);
    let mut trickle = Reader::new(Trickle(&log));
    let mut r = Vec::new();
    assert!(whole.read_record(&mut r).unwrap() && trickle.read_record(&mut r).unwrap());
    let (a, b) = (
        whole.read_record(&mut r).unwrap_err(),
        trickle.read_record(&mut r).unwrap_err(),
    );
    assert_eq!(corruption(&a), corruption(&b));
    assert_eq!(corruption(&a).bytes, BLOCK_SIZE as u64 - spans[1].0);
}

#[test]
fn a_strict_reader_names_the_damage_that_cut_a_record_short() {
    let records = vec![record(0, 2 * BLOCK_SIZE), record(1, 10)];
    let (mut log, _) = encode(&records);
    log[BLOCK_SIZE + 100] ^= 1;
    let mut reader = Reader::new(&log[..]);
    let e = reader.read_record(&mut Vec::new()).unwrap_err();
    assert_eq!(corruption(&e).reason, Reason::ChecksumMismatch);
    // Both were counted: the damage, and the record it broke.
    assert_eq!(reader.corruptions(), 2);
}

#[test]
fn the_streaming_reader_also_skips_an_empty_first_before_a_real_start() {
    let log = [chunk(2, b""), chunk(1, b"x"), chunk(1, b"y")].concat();
    let mut reader = Reader::new(&log[..]);
    assert_eq!(next_streamed(&mut reader).unwrap(), b"x");
    assert_eq!(reader.last_record_offset(), Some(HEADER_SIZE as u64));
    assert_eq!(next_streamed(&mut reader).unwrap(), b"y");
    assert!(next_streamed(&mut reader).is_none());
    assert_eq!(reader.corruptions(), 0);
}

/// A write cut short in space zero-filled ahead of the log (as `Wal`
/// writes) leaves a bad chunk, or a record whose rest is zeros, then zeros
/// to the end: a torn write, not damage. Damage that anything else follows,
/// or that ends a file with no zeros after it, is still damage.
#[test]
fn damage_followed_only_by_zeros_is_a_torn_write() {
    let records = vec![record(0, 10), record(1, 3000), record(2, 2 * BLOCK_SIZE)];
    let (log, spans) = encode(&records);
    let zeros = vec![0; 2 * BLOCK_SIZE];
    let torn_at = |cut: usize| [&log[..cut], &zeros[..]].concat();
    let ends = |log: &[u8]| {
        let mut reader = Reader::tolerant(log);
        reader.skip_to_end().unwrap()
    };
    // Inside record 1's payload: its chunk fails its checksum. Inside
    // record 2's second block: its FIRST chunk is whole, the rest zeros.
    for (cut, kept) in [(spans[1].0 as usize + 100, 1), (BLOCK_SIZE + 50, 2)] {
        let log = torn_at(cut);
        let (read, seen) = tolerant(&log);
        assert_eq!(read, records[..kept], "cut at {cut}");
        assert!(seen.is_empty(), "cut at {cut}: {seen:?}");
        let end = ends(&log);
        assert!(end.torn && !end.damaged, "cut at {cut}: {end:?}");
        assert_eq!(end.intact_len, spans[kept - 1].1);
        // Reaching the end again (polling the file) finds the same end.
        let mut reader = Reader::tolerant(&log[..]);
        assert_eq!(reader.skip_to_end().unwrap(), end);
        assert!(!reader.read_record(&mut Vec::new()).unwrap());
        assert_eq!(reader.log_end(), Some(end), "cut at {cut}");
    }

    // The same bad chunk with a record after the zeros: damage.
    let mut log = torn_at(spans[1].0 as usize + 100);
    log.truncate(2 * BLOCK_SIZE); // zeros to the end of the second block
    log.extend(chunk(1, b"after"));
    let (read, seen) = tolerant(&log);
    assert_eq!(read, [records[0].clone(), b"after".to_vec()]);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].reason, Reason::ChecksumMismatch);

    // A bad last chunk with no zeros after it: damage.
    let mut log = encode(&records[..2]).0;
    *log.last_mut().unwrap() ^= 1;
    let (_, seen) = tolerant(&log);
    assert_eq!(seen.len(), 1);
    let end = ends(&log);
    assert!(end.damaged && !end.torn, "{end:?}");
}

/// A torn write loses whole sectors: damage with zeros after it but no
/// zeroed sector of its own (a flipped bit, a sector torn inside, a bad
/// length, an unknown type) is no torn write, and is reported at once.
#[test]
fn damage_no_torn_write_leaves_is_damage_even_before_zeros() {
    let records = vec![record(0, 10), record(1, 3000), record(2, 20)];
    let (log, spans) = encode(&records);
    let start = |i: usize| spans[i].0 as usize;
    let flipped = |at: usize| {
        let mut log = log.clone();
        log[at] ^= 0x10;
        log
    };
    let mut unknown = log.clone();
    unknown[start(2)..].copy_from_slice(&chunk(9, &records[2]));
    let mut too_long = log.clone();
    too_long[start(2) + 4..start(2) + 6].copy_from_slice(&u16::MAX.to_le_bytes());
    // Zeros inside record 1 that cover no whole sector, then only zeros.
    let mut torn_inside = log[..spans[1].1 as usize].to_vec();
    torn_inside[start(1) + 700..start(1) + 1000].fill(0);
    let cases = [
        (
            flipped(start(1) + HEADER_SIZE + 2000),
            Reason::ChecksumMismatch,
            1,
        ),
        (
            flipped(start(2) + HEADER_SIZE + 3),
            Reason::ChecksumMismatch,
            2,
        ),
        (flipped(start(2) + 6), Reason::ChecksumMismatch, 2), // the type
        (unknown, Reason::UnknownType(9), 2),
        (too_long, Reason::BadLength, 2),
        (torn_inside, Reason::ChecksumMismatch, 1),
    ];
    for (i, (mut log, reason, kept)) in cases.into_iter().enumerate() {
        log.resize(3 * BLOCK_SIZE, 0);
        let (read, seen) = tolerant(&log);
        assert_eq!(read, records[..kept], "case {i}");
        assert_eq!(seen.len(), 1, "case {i}: {seen:?}");
        assert_eq!(seen[0].reason, reason, "case {i}");
        let end = Reader::tolerant(&log[..]).skip_to_end().unwrap();
        assert!(end.damaged && !end.torn, "case {i}: {end:?}");
        assert_eq!(end.intact_len, spans[kept - 1].1, "case {i}");
    }
}

/// Damage a tolerant reader holds back (until it knows whether a torn
/// write is all it is) is counted and reported when `recover` skips past
/// it after an I/O error, not dropped.
#[test]
fn held_damage_is_reported_when_recover_skips_past_it() {
    struct FailsOnce<'a>(&'a [u8], usize, bool);
    impl Read for FailsOnce<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.1 >= BLOCK_SIZE && !self.2 {
                self.2 = true;
                return Err(std::io::Error::other("the disk failed"));
            }
            let n = (&self.0[self.1..]).read(buf)?;
            self.1 += n;
            Ok(n)
        }
    }
    let (mut log, spans) = encode(&[record(0, 10), record(1, 1000), record(2, 2 * BLOCK_SIZE)]);
    // Record 1 lost its second sector, as a torn write does.
    assert_eq!(spans[1].1, 1024);
    log[512..1024].fill(0);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let mut reader = Reader::tolerant(FailsOnce(&log, 0, false))
        .on_corruption(move |c| sink.lock().unwrap().push(c.clone()));
    let mut got = Vec::new();
    assert!(reader.read_record(&mut got).unwrap());
    assert_eq!(got, record(0, 10));
    let e = reader.read_record(&mut got).unwrap_err();
    assert_eq!(e.to_string(), "the disk failed");
    reader.recover();
    assert_eq!(reader.corruptions(), 1);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(seen.lock().unwrap()[0].reason, Reason::ChecksumMismatch);
}
