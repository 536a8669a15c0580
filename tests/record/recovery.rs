//! Finding where the intact log ends, and appending after a crash: nothing
//! a sync acknowledged may be hidden behind a torn or damaged tail.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

use mwsr::record::{BLOCK_SIZE, HEADER_SIZE, Mode, Reader, Wal, Writer};

use super::{encode, filler, next_streamed, read_all, record};

/// Every record of the file at `path`, read strictly: any damage or torn
/// end fails the test.
fn read_strict(path: &Path) -> Vec<Vec<u8>> {
    read_all(&std::fs::read(path).unwrap(), Mode::Strict).unwrap()
}

/// Records of many sizes over a little more than two blocks: chunks end at
/// every kind of place, one record spans the first boundary, and the first
/// block ends with a 3-byte trailer.
fn small_log() -> Vec<Vec<u8>> {
    let mut records = vec![filler(2 * HEADER_SIZE + 3 + 40)];
    records.extend([record(1, 40), record(2, 0), record(3, 5000)]);
    records.extend((4..40).map(|i| record(i, (i * 677) % 3000)));
    records.push(record(40, 9000));
    records
}

/// The length a log of `spans` cut at `cut` must be truncated to: the end
/// of the last record that is whole in it.
fn intact_at(spans: &[(u64, u64)], cut: u64) -> (usize, u64) {
    let whole = spans.iter().take_while(|&&(_, end)| end <= cut).count();
    (whole, whole.checked_sub(1).map_or(0, |i| spans[i].1))
}

#[test]
fn the_issue_reproduction_appends_after_a_torn_tail_without_losing_anything() {
    for (cut, kept) in [(500, 2), (1020, 1), (3, 2)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        let wal = Wal::create(&path).unwrap();
        for _ in 0..3 {
            wal.append_sync(&[b'o'; 1000]).unwrap();
        }
        wal.close().unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(len - cut).unwrap(); // a write cut short by a crash

        let wal = Wal::open(&path).unwrap();
        let recovery = wal.recovery();
        assert!(
            recovery.torn && !recovery.damaged,
            "cut {cut}: {recovery:?}"
        );
        assert_eq!(recovery.len, len - cut);
        assert_eq!(recovery.intact_len, kept * 1007);
        assert_eq!(recovery.cut_bytes(), len - cut - kept * 1007);
        wal.append_sync(b"new-A").unwrap();
        wal.close().unwrap();

        let mut expected = vec![vec![b'o'; 1000]; kept as usize];
        expected.push(b"new-A".to_vec());
        assert_eq!(read_strict(&path), expected, "cut {cut}");
    }
}

#[test]
fn log_end_names_the_intact_length_at_every_cut() {
    let records = small_log();
    let (log, spans) = encode(&records);
    assert!(log.len() > 2 * BLOCK_SIZE);
    for cut in 0..=log.len() as u64 {
        let bytes = &log[..cut as usize];
        let (whole, intact) = intact_at(&spans, cut);
        let mut reader = Reader::tolerant(bytes);
        let end = reader.skip_to_end().unwrap();
        assert_eq!(reader.log_end(), Some(end));
        assert_eq!(end.intact_len, intact, "cut {cut}");
        assert_eq!(reader.intact_len(), intact);
        assert_eq!(end.len, cut);
        assert!(!end.damaged && end.corruptions == 0, "cut {cut}: {end:?}");
        // Past the intact log: a torn chunk or header, unless all that is
        // there is a whole trailer.
        let trailer_only = cut % BLOCK_SIZE as u64 == 0 && cut - intact < HEADER_SIZE as u64;
        assert_eq!(end.torn, cut != intact && !trailer_only, "cut {cut}");
        // A strict reader agrees: it fails exactly at a torn end.
        let strict = read_all(bytes, Mode::Strict);
        match strict {
            Ok(read) => {
                assert!(!end.torn, "cut {cut}");
                assert_eq!(read, records[..whole]);
            }
            Err(e) => {
                assert!(end.torn, "cut {cut}");
                assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
            }
        }
    }
}

/// The heart of the matter: cut the log at every byte of its last two
/// blocks, open it, append with a sync: the new record and every record
/// whole before the cut read back strictly.
#[test]
fn open_then_append_sync_at_every_cut_of_the_last_two_blocks() {
    let records = small_log();
    let (log, spans) = encode(&records);
    // tmpfs where there is one: the same files, without paying a real
    // device's fsyncs some 70 000 times.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let first = log.len() - 2 * BLOCK_SIZE;
    // Two threads, each with its own file, take every other cut.
    std::thread::scope(|s| {
        for half in 0..2u64 {
            let (log, spans, records) = (&log, &spans, &records);
            let path = dir.path().join(format!("wal-{half}.log"));
            s.spawn(move || {
                for cut in (first as u64 + half..=log.len() as u64).step_by(2) {
                    append_after_cut(&path, log, spans, records, cut);
                }
            });
        }
    });
}

fn append_after_cut(path: &Path, log: &[u8], spans: &[(u64, u64)], records: &[Vec<u8>], cut: u64) {
    std::fs::write(path, &log[..cut as usize]).unwrap();
    let (whole, intact) = intact_at(spans, cut);
    // A small buffer: allocating the default one some 70 000 times takes
    // minutes in an unoptimised build.
    let wal = Wal::open_with_capacity(path, 64).unwrap();
    assert_eq!(wal.recovery().intact_len, intact, "cut {cut}");
    wal.append_sync(b"new").unwrap();
    wal.close().unwrap();
    let read = read_strict(path);
    assert_eq!(read.len(), whole + 1, "cut {cut}");
    assert_eq!(read[..whole], records[..whole], "cut {cut}");
    assert_eq!(read[whole], b"new", "cut {cut}");
}

#[test]
fn open_cuts_a_damaged_tail_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let wal = Wal::create(&path).unwrap();
    wal.append_sync(b"first").unwrap();
    wal.append_sync(&[7; 3000]).unwrap();
    wal.close().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[12 + 100] ^= 0x40; // inside the second record: a checksum mismatch
    std::fs::write(&path, &bytes).unwrap();

    let wal = Wal::open(&path).unwrap();
    let recovery = wal.recovery();
    assert!(recovery.damaged && !recovery.torn, "{recovery:?}");
    assert_eq!((recovery.intact_len, recovery.corruptions), (12, 1));
    wal.append_sync(b"after").unwrap();
    wal.close().unwrap();
    assert_eq!(read_strict(&path), [b"first".to_vec(), b"after".to_vec()]);
}

#[test]
fn open_keeps_damage_before_intact_records_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let records = vec![record(0, 100), filler(0), record(2, 10)];
    let (mut log, spans) = encode(&records);
    log[50] ^= 1; // the first record, in block 0; the last is in block 1
    std::fs::write(&path, &log).unwrap();

    let wal = Wal::open(&path).unwrap();
    let recovery = wal.recovery();
    assert_eq!(recovery.intact_len, spans[2].1);
    assert_eq!(recovery.cut_bytes(), 0);
    // The checksum mismatch drops block 0; the filler's LAST chunk in
    // block 1 has lost its start.
    assert!(
        !recovery.damaged && recovery.corruptions == 2,
        "{recovery:?}"
    );
    wal.append_sync(b"new").unwrap();
    wal.close().unwrap();
    let read = read_all(&std::fs::read(&path).unwrap(), Mode::Tolerant).unwrap();
    assert_eq!(read, [records[2].clone(), b"new".to_vec()]);
}

#[test]
fn open_refuses_a_file_with_no_intact_record_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-log");
    let junk: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&path, &junk).unwrap();
    let e = Wal::open(&path).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains("no intact record"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), junk);
}

/// Zeros then anything else: a reader skips the rest of a block after a
/// zero header, so this reads as an empty log, but it is no log `Wal`
/// left behind (its zero-filled space holds nothing but zeros before the
/// first record), and is not cut.
#[test]
fn open_refuses_a_file_that_only_begins_with_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-log");
    let mut data = vec![0; 8];
    data.extend(b"some text, not a log\n".repeat(400));
    std::fs::write(&path, &data).unwrap();
    let e = Wal::open(&path).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert_eq!(std::fs::read(&path).unwrap(), data);
}

#[test]
fn a_log_torn_inside_its_first_record_opens_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let (log, _) = encode(&[record(0, 100)]);
    std::fs::write(&path, &log[..50]).unwrap();
    let wal = Wal::open(&path).unwrap();
    assert_eq!(wal.recovery().intact_len, 0);
    assert!(wal.recovery().torn);
    wal.append_sync(b"x").unwrap();
    wal.close().unwrap();
    assert_eq!(read_strict(&path), [b"x".to_vec()]);
}

#[test]
fn a_writer_at_the_intact_length_continues_a_torn_log() {
    // What `Wal::open` does, by hand, for users of `Writer::at_offset`.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let (log, _) = encode(&[record(0, 40_000), record(1, 500)]);
    std::fs::write(&path, &log[..log.len() - 200]).unwrap();

    let end = Reader::tolerant(File::open(&path).unwrap())
        .skip_to_end()
        .unwrap();
    assert!(end.torn);
    let file = OpenOptions::new().append(true).open(&path).unwrap();
    file.set_len(end.intact_len).unwrap();
    let mut w = Writer::at_offset(std::io::BufWriter::new(file), end.intact_len);
    w.write_record(b"next").unwrap();
    w.flush().unwrap();
    drop(w);
    assert_eq!(read_strict(&path), [record(0, 40_000), b"next".to_vec()]);
}

#[test]
fn a_strict_reader_ends_cleanly_at_an_abandoned_empty_first_chunk() {
    // A record abandoned where exactly a header's room was left in the
    // block leaves an empty FIRST chunk, which readers skip: at the very
    // end of the log too.
    let mut w = Writer::new(Vec::new());
    w.write_record(&filler(HEADER_SIZE)).unwrap();
    let mut abandoned = w.next();
    abandoned.write_all(&[1; 100]).unwrap();
    drop(abandoned);
    let log = w.into_inner();
    assert_eq!(log.len(), BLOCK_SIZE); // the empty FIRST chunk is there
    assert_eq!(read_all(&log, Mode::Strict).unwrap(), [filler(HEADER_SIZE)]);
    for mode in [Mode::Strict, Mode::Tolerant] {
        let mut streamed = Reader::with_mode(&log[..], mode);
        assert_eq!(next_streamed(&mut streamed).unwrap(), filler(HEADER_SIZE));
        assert!(streamed.next().unwrap().is_none(), "{mode:?}");
    }
    let end = Reader::new(&log[..]).skip_to_end().unwrap();
    assert!(!end.torn && !end.damaged, "{end:?}");
    assert_eq!(end.cut_bytes(), HEADER_SIZE as u64);
}

/// Fails with a transient error once, when the reader first asks for
/// bytes at or past `at`.
struct FailOnceAt<'a> {
    log: &'a [u8],
    pos: usize,
    at: usize,
    failed: bool,
}

impl std::io::Read for FailOnceAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.at && !self.failed {
            self.failed = true;
            return Err(std::io::Error::new(ErrorKind::WouldBlock, "not yet"));
        }
        let end = self.log.len().min(self.pos + buf.len());
        let end = if self.pos < self.at {
            end.min(self.at)
        } else {
            end
        };
        let n = end - self.pos;
        buf[..n].copy_from_slice(&self.log[self.pos..end]);
        self.pos = end;
        Ok(n)
    }
}

#[test]
fn a_streamed_record_after_an_empty_first_survives_an_io_error() {
    // The second record starts with an empty FIRST chunk in block 0's last
    // 7 bytes; reading on into block 1 fails once.
    let records = [filler(HEADER_SIZE), record(1, 100)];
    let (log, _) = encode(&records);
    for mode in [Mode::Strict, Mode::Tolerant] {
        let source = FailOnceAt {
            log: &log,
            pos: 0,
            at: BLOCK_SIZE,
            failed: false,
        };
        let mut reader = Reader::with_mode(source, mode);
        assert_eq!(next_streamed(&mut reader).unwrap(), records[0]);
        let e = reader.next().map(|r| r.is_some()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        assert_eq!(next_streamed(&mut reader).unwrap(), records[1], "{mode:?}");
        assert!(reader.next().unwrap().is_none());
        assert_eq!(reader.corruptions(), 0);
    }
}

/// A log whose first batch was torn in its zero-filled space (a crash
/// before the first sync returned: the batch's later sectors read as
/// zeros) opens as an empty log, not as a file that may be no log at all.
#[test]
fn a_first_record_torn_in_zeroed_space_opens_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let (mut log, _) = encode(&[record(0, 1500)]);
    log.truncate(1024);
    log.resize(1 << 20, 0);
    std::fs::write(&path, &log).unwrap();
    let wal = Wal::open(&path).unwrap();
    let end = wal.recovery();
    assert!(end.torn && !end.damaged && end.corruptions == 0, "{end:?}");
    assert_eq!(end.cut_bytes(), 1 << 20);
    wal.append(b"first").unwrap();
    wal.close().unwrap();
    assert_eq!(read_strict(&path), [b"first".to_vec()]);
}

/// A power loss that drops the first page of a first record (nobody was
/// told it was durable) and keeps a later block of it: no whole record and
/// a file that begins with zeros, but a chunk whose checksum matches, so
/// it is a log, and `open` cuts it back to empty.
#[test]
fn a_first_record_missing_its_first_page_opens_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let (mut log, _) = encode(&[record(0, 3 * BLOCK_SIZE)]);
    log[..4096].fill(0);
    log.resize(1 << 20, 0);
    std::fs::write(&path, &log).unwrap();
    let wal = Wal::open(&path).unwrap();
    assert_eq!(wal.recovery().intact_len, 0);
    wal.append(b"first").unwrap();
    wal.close().unwrap();
    assert_eq!(read_strict(&path), [b"first".to_vec()]);
}

/// A flipped bit in records a sync acknowledged, in a log that was never
/// closed (zeros run on after it): no torn write looks like that, so
/// `open` reports the damage it cuts instead of a torn end.
#[test]
fn damage_in_the_last_synced_records_is_reported_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let records = [record(0, 10), record(1, 100), record(2, 3000)];
    let (mut log, spans) = encode(&records);
    log.resize(1 << 20, 0);
    for (hit, kept) in [(2, 2), (1, 1)] {
        let mut log = log.clone();
        log[spans[hit].0 as usize + HEADER_SIZE + 50] ^= 4;
        std::fs::write(&path, &log).unwrap();
        let wal = Wal::open(&path).unwrap();
        let end = wal.recovery();
        assert!(end.damaged && !end.torn && end.corruptions == 1, "{end:?}");
        assert_eq!(end.intact_len, spans[kept - 1].1);
        wal.close().unwrap();
        assert_eq!(read_strict(&path), records[..kept]);
    }
}
