//! Records round-trip, at every block-boundary case, through every way of
//! writing and reading them.

use std::io::{Cursor, Read, Write};

use mwsr::record::{BLOCK_SIZE, HEADER_SIZE, Mode, Reader, Writer};

use super::{encode, filler, next_streamed, read_all, record};

/// Logs whose second record lands at each block-boundary case.
fn boundary_cases() -> Vec<Vec<Vec<u8>>> {
    let mut cases = Vec::new();
    // 0 (exactly at the boundary), 1–6 (a trailer), 7 (an empty FIRST), 8.
    for room in 0..=HEADER_SIZE + 1 {
        for next in [0, 1, 100, BLOCK_SIZE, 3 * BLOCK_SIZE + 5] {
            cases.push(vec![filler(room), record(1, next), record(2, 3)]);
        }
    }
    cases
}

#[test]
fn every_boundary_case_round_trips_with_read_record() {
    for records in boundary_cases() {
        let (log, _) = encode(&records);
        assert_eq!(read_all(&log, Mode::Strict).unwrap(), records);
        assert_eq!(read_all(&log, Mode::Tolerant).unwrap(), records);
    }
}

#[test]
fn the_records_iterator_and_the_streaming_reader_agree() {
    for records in boundary_cases() {
        let (log, spans) = encode(&records);
        let mut reader = Reader::new(&log[..]);
        let owned: Vec<_> = reader.records().collect::<Result<_, _>>().unwrap();
        assert_eq!(owned, records);

        let mut reader = Reader::new(&log[..]);
        let mut streamed = Vec::new();
        while let Some(mut r) = reader.next().unwrap() {
            let offset = r.offset();
            let mut bytes = Vec::new();
            r.read_to_end(&mut bytes).unwrap();
            streamed.push((offset, bytes));
        }
        let expected: Vec<_> = spans.iter().map(|s| s.0).zip(records).collect();
        assert_eq!(streamed, expected);
    }
}

#[test]
fn the_streaming_writer_writes_the_same_bytes_as_write_record() {
    for records in boundary_cases() {
        let (log, spans) = encode(&records);
        let mut w = Writer::new(Vec::new());
        for (i, r) in records.iter().enumerate() {
            let mut out = w.next();
            // Uneven pieces, including empty ones.
            for piece in r.chunks(1 + i * 4099 % 9000) {
                out.write_all(piece).unwrap();
                out.write_all(&[]).unwrap();
            }
            assert_eq!(out.finish().unwrap(), spans[i].0);
            assert_eq!(w.last_record_offset().unwrap(), spans[i].0);
        }
        assert_eq!(w.into_inner(), log);
    }
}

#[test]
fn a_record_left_unread_by_the_streaming_reader_is_skipped() {
    let records = vec![record(1, 2 * BLOCK_SIZE), record(2, 10), record(3, 5)];
    let (log, _) = encode(&records);
    let mut reader = Reader::new(&log[..]);
    let mut first = reader.next().unwrap().unwrap();
    let mut some = [0; 100];
    first.read_exact(&mut some).unwrap();
    assert_eq!(&some[..], &records[0][..100]);
    // Dropped unread: both ways of reading go on with the next record.
    assert_eq!(next_streamed(&mut reader).unwrap(), records[1]);
    assert!(reader.next().unwrap().is_some()); // left unread
    assert!(reader.next().unwrap().is_none());

    let mut reader = Reader::new(&log[..]);
    assert!(reader.next().unwrap().is_some()); // left unread
    let mut record = Vec::new();
    assert!(reader.read_record(&mut record).unwrap());
    assert_eq!(record, records[1]);
    assert_eq!(reader.corruptions(), 0);
}

#[test]
fn an_abandoned_streaming_record_never_looks_whole() {
    let mut w = Writer::new(Vec::new());
    w.write_record(b"before").unwrap();
    // Short: still pending when dropped, so nothing reaches the stream.
    w.next().write_all(b"short").unwrap();
    // Long: its first chunk is out; it stays without an end.
    w.next().write_all(&vec![9; BLOCK_SIZE]).unwrap();
    w.write_record(b"after").unwrap();
    let log = w.into_inner();

    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let report = seen.clone();
    let mut reader =
        Reader::tolerant(&log[..]).on_corruption(move |c| report.lock().unwrap().push(c.reason));
    let records: Vec<_> = reader.records().collect::<Result<_, _>>().unwrap();
    assert_eq!(records, [b"before".to_vec(), b"after".to_vec()]);
    assert_eq!(*seen.lock().unwrap(), [mwsr::record::Reason::PartialRecord]);
    assert_eq!(reader.corruptions(), 1);
    // The first chunk filled the first block after `before`'s 13 bytes.
    assert_eq!(
        reader.dropped_bytes(),
        (BLOCK_SIZE - 13 - HEADER_SIZE) as u64
    );
}

#[test]
fn offsets_from_the_writer_seek_to_their_records() {
    let records: Vec<_> = (0..60).map(|i| record(i, i * 1777)).collect();
    let (log, spans) = encode(&records);
    let mut reader = Reader::new(Cursor::new(&log));
    let mut read = Vec::new();
    // Backwards, so that every seek moves.
    for (i, &(offset, _)) in spans.iter().enumerate().rev() {
        reader.seek_record(offset).unwrap();
        assert!(reader.read_record(&mut read).unwrap());
        assert_eq!(read, records[i], "record {i} at {offset}");
        assert_eq!(reader.last_record_offset(), Some(offset));
    }
    // And `last_record_offset` after a streamed write.
    let mut w = Writer::at_offset(Cursor::new(log.clone()), log.len() as u64);
    w.get_mut().set_position(log.len() as u64);
    let mut out = w.next();
    out.write_all(&record(99, 50_000)).unwrap();
    out.finish().unwrap();
    let at = w.last_record_offset().unwrap();
    let mut reader = Reader::new(w.into_inner());
    reader.seek_record(at).unwrap();
    assert!(reader.read_record(&mut read).unwrap());
    assert_eq!(read, record(99, 50_000));
    assert!(!reader.read_record(&mut read).unwrap());
}

#[test]
fn an_appended_log_reads_as_one() {
    let (mut log, _) = encode(&[record(1, 40_000)]);
    let len = log.len() as u64;
    let mut w = Writer::at_offset(&mut log, len);
    w.write_record(&record(2, 30_000)).unwrap();
    w.write_record(b"").unwrap();
    assert_eq!(
        read_all(&log, Mode::Strict).unwrap(),
        [record(1, 40_000), record(2, 30_000), Vec::new()]
    );
}

/// A reader that fails every third call, as a flaky disk or an
/// interrupted socket does.
struct Flaky<'a> {
    bytes: &'a [u8],
    calls: usize,
}

impl Read for Flaky<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.calls += 1;
        match self.calls % 3 {
            0 => Err(std::io::Error::other("flaky")),
            1 => Err(std::io::ErrorKind::Interrupted.into()),
            _ => {
                let n = buf.len().min(self.bytes.len()).min(1000);
                buf[..n].copy_from_slice(&self.bytes[..n]);
                self.bytes = &self.bytes[n..];
                Ok(n)
            }
        }
    }
}

#[test]
fn io_errors_consume_nothing_so_a_retry_resumes() {
    let records: Vec<_> = (0..20).map(|i| record(i, i * 5000)).collect();
    let (log, _) = encode(&records);
    let mut reader = Reader::new(Flaky {
        bytes: &log,
        calls: 0,
    });
    let (mut read, mut errors) = (Vec::new(), 0);
    let mut record = Vec::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => read.push(record.clone()),
            Ok(false) => break,
            Err(e) => {
                assert_eq!(e.to_string(), "flaky");
                errors += 1;
            }
        }
    }
    assert!(errors > 10);
    assert_eq!(read, records);
}

/// A log that another thread is still writing, read as it grows.
#[derive(Clone, Default)]
struct Growing(std::sync::Arc<std::sync::Mutex<(Vec<u8>, usize)>>);

impl Read for Growing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut g = self.0.lock().unwrap();
        let (bytes, at) = &mut *g;
        let n = buf.len().min(bytes.len() - *at);
        buf[..n].copy_from_slice(&bytes[*at..*at + n]);
        *at += n;
        Ok(n)
    }
}

#[test]
fn a_tolerant_reader_picks_up_a_log_as_it_grows() {
    let (log, _) = encode(&[record(1, 10), record(2, 50_000), record(3, 7)]);
    let growing = Growing::default();
    let mut reader = Reader::tolerant(growing.clone());
    let mut seen = Vec::new();
    let mut record = Vec::new();
    // Byte by awkward byte: a torn header, a torn chunk, a record torn
    // across blocks are all "nothing more yet", never damage.
    for piece in log.chunks(4093) {
        growing.0.lock().unwrap().0.extend_from_slice(piece);
        while reader.read_record(&mut record).unwrap() {
            seen.push(record.clone());
        }
    }
    assert_eq!(seen, read_all(&log, Mode::Strict).unwrap());
    assert_eq!(reader.corruptions(), 0);
}

/// Accepts `budget` bytes, then fails every write.
struct Full(Vec<u8>, usize);

impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() >= self.1 {
            return Err(std::io::ErrorKind::StorageFull.into());
        }
        let n = buf.len().min(self.1 - self.0.len());
        self.0.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failed_write_stops_the_writer_rather_than_misplace_later_chunks() {
    let mut w = Writer::new(Full(Vec::new(), 30));
    w.write_record(b"fits").unwrap();
    let e = w.write_record(&[7; 100]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
    w.get_mut().1 = usize::MAX; // room again: still refused
    assert!(w.write_record(b"later").is_err());
    // What reached the stream reads back up to the damage.
    let log = w.into_inner().0;
    assert_eq!(read_all(&log, Mode::Tolerant).unwrap(), [b"fits".to_vec()]);
}

#[test]
fn a_streamed_write_that_took_bytes_reports_them_not_the_error() {
    let room = BLOCK_SIZE - HEADER_SIZE;
    let mut w = Writer::new(Full(Vec::new(), 3));
    let mut record = w.next();
    record.write_all(&vec![1; room - 1]).unwrap();
    // One byte fills the pending chunk; emitting it for the second fails.
    assert_eq!(record.write(b"ab").unwrap(), 1);
    assert!(record.write(b"b").is_err());
}
