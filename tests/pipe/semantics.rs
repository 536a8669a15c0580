//! Each rule of the pipe's contract, one test each.

use std::io::{self, BufRead, Read};

use mwsr::pipe::{self, Error};

use crate::{pattern, pipe_error, read_to_end, spawn};

#[test]
fn out_of_order_writes_are_read_in_order() {
    let (mut reader, writer) = pipe::pipe(64);
    writer.write_all_at(b"world", 6).unwrap();
    writer.write_all_at(b" ", 5).unwrap();
    writer.write_all_at(b"hello", 0).unwrap();
    drop(writer);
    let (bytes, end) = read_to_end(&mut reader);
    assert_eq!(bytes, b"hello world");
    end.unwrap();
}

#[test]
fn a_read_never_returns_bytes_past_a_gap() {
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(b"abcd", 0).unwrap();
    writer.write_all_at(b"ghij", 6).unwrap();
    let mut buf = [0; 16];
    assert_eq!(reader.read(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"abcd");
    assert_eq!(reader.position(), 4);
    // The next read waits for the gap; filling it releases all six bytes.
    let filler = spawn(move || {
        writer.write_all_at(b"ef", 4).unwrap();
        writer
    });
    // One commit makes 4..10 contiguous, and one read takes all of it.
    let n = reader.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"efghij");
    let _writer = filler.join();
}

#[test]
fn a_read_takes_every_contiguous_byte_that_fits_across_pages() {
    // An unbounded pipe's pages are 64 KiB: this run spans five of them.
    let data = pattern(300_000);
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(&data[100_000..], 100_000).unwrap();
    writer.write_all_at(&data[..100_000], 0).unwrap();
    let mut buf = vec![0; 400_000];
    assert_eq!(reader.read(&mut buf).unwrap(), data.len());
    assert_eq!(&buf[..data.len()], &data[..]);
    // And one that fits less takes exactly what fits.
    writer.write_all_at(&data, 300_000).unwrap();
    assert_eq!(reader.read(&mut buf[..1000]).unwrap(), 1000);
    assert_eq!(&buf[..1000], &data[..1000]);
}

#[test]
fn a_clean_close_ends_with_eof_after_the_data() {
    let (mut reader, writer) = pipe::pipe(16);
    writer.write_all_at(b"tail", 0).unwrap();
    writer.close();
    let (bytes, end) = read_to_end(&mut reader);
    assert_eq!(bytes, b"tail");
    end.unwrap();
    // EOF stays EOF.
    assert_eq!(reader.read(&mut [0; 4]).unwrap(), 0);
}

#[test]
fn a_close_with_a_gap_reports_what_was_never_written_and_what_is_lost() {
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(b"Hello, world!", 0).unwrap();
    writer.write_all_at(b"Test", 14).unwrap(); // byte 13 never written
    writer.write_all_at(b"xy", 30).unwrap(); // 18..30 never written
    writer.close();
    let (bytes, end) = read_to_end(&mut reader);
    assert_eq!(bytes, b"Hello, world!");
    let err = end.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    let gap = Error::Gap {
        offset: 13,
        missing: 1 + 12,
        stranded: 4 + 2,
    };
    assert_eq!(pipe_error(&err), gap);
    assert!(
        err.to_string()
            .contains("13 bytes from offset 13 never written")
    );
    // Every later read says the same.
    assert_eq!(pipe_error(&reader.read(&mut [0; 4]).unwrap_err()), gap);
}

#[derive(Debug)]
struct DownloadFailed;
impl std::fmt::Display for DownloadFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("range 3 failed")
    }
}
impl std::error::Error for DownloadFailed {}

#[test]
fn close_with_error_hands_the_reader_that_error_after_the_readable_bytes() {
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(b"ok", 0).unwrap();
    writer.write_all_at(b"stranded", 10).unwrap();
    writer.close_with_error(io::Error::new(io::ErrorKind::TimedOut, DownloadFailed));
    // A second close does not replace the first.
    writer.close();
    let (bytes, end) = read_to_end(&mut reader);
    assert_eq!(bytes, b"ok");
    let err = end.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert!(err.get_ref().unwrap().is::<DownloadFailed>(), "{err:?}");
    // Later reads: the same kind and text.
    let again = reader.read(&mut [0; 4]).unwrap_err();
    assert_eq!(again.kind(), io::ErrorKind::TimedOut);
    assert_eq!(again.to_string(), "range 3 failed");
    // Writers see a closed pipe.
    let err = writer.write_at(b"z", 2).unwrap_err();
    assert_eq!(pipe_error(&err), Error::WriteClosed);
}

#[test]
fn writes_below_the_read_position_fail_whole() {
    let (mut reader, writer) = pipe::pipe(64);
    writer.write_all_at(b"0123456789", 0).unwrap();
    let mut buf = [0; 5];
    reader.read_exact(&mut buf).unwrap();
    for (offset, bytes) in [(0, &b"ab"[..]), (4, b"x"), (3, b"XXXXXXXXXX")] {
        let err = writer.write_at(bytes, offset).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            pipe_error(&err),
            Error::BelowConsumed {
                offset,
                consumed: 5
            }
        );
    }
    // The straddling write changed nothing past the position either.
    writer.write_all_at(b"!", 10).unwrap();
    drop(writer);
    assert_eq!(read_to_end(&mut reader).0, b"56789!");
}

#[test]
fn writes_at_the_read_position_are_fine() {
    let (mut reader, writer) = pipe::pipe(8);
    writer.write_all_at(b"ab", 0).unwrap();
    reader.read_exact(&mut [0; 2]).unwrap();
    writer.write_all_at(b"cd", 2).unwrap();
    drop(writer);
    assert_eq!(read_to_end(&mut reader).0, b"cd");
}

#[test]
fn overlapping_writes_keep_the_first_bytes_written() {
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(b"AAAA", 2).unwrap();
    // Overlaps both ends of the first: only bytes 0..2 and 6..8 are new.
    assert_eq!(writer.write_at(b"bbbbbbbb", 0).unwrap(), 8);
    // Inside a written range: nothing new, still counted as written.
    assert_eq!(writer.write_at(b"cc", 3).unwrap(), 2);
    drop(writer);
    assert_eq!(read_to_end(&mut reader).0, b"bbAAAAbb");
}

#[test]
fn writes_after_either_side_closes_fail_with_broken_pipe() {
    let (_reader, writer) = pipe::pipe(8);
    writer.close();
    let err = writer.write_at(b"x", 0).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    assert_eq!(pipe_error(&err), Error::WriteClosed);

    let (mut reader, writer) = pipe::pipe(8);
    reader.close();
    let err = writer.write_all_at(b"x", 0).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    assert_eq!(pipe_error(&err), Error::ReaderClosed);
    // The reader closed itself: reading is a mistake, and says so.
    assert_eq!(
        pipe_error(&reader.read(&mut [0; 1]).unwrap_err()),
        Error::ReaderClosed
    );

    let (reader, writer) = pipe::pipe(8);
    drop(reader);
    let err = writer.write_at(b"x", 0).unwrap_err();
    assert_eq!(pipe_error(&err), Error::ReaderClosed);
}

#[test]
fn the_last_writer_dropped_closes_the_write_side() {
    let (mut reader, writer) = pipe::pipe(8);
    let second = writer.clone();
    writer.write_all_at(b"a", 0).unwrap();
    drop(writer);
    second.write_all_at(b"b", 1).unwrap(); // still open: one writer left
    drop(second);
    let (bytes, end) = read_to_end(&mut reader);
    assert_eq!(bytes, b"ab");
    end.unwrap();
}

#[test]
fn bad_calls_get_clear_errors() {
    let (mut reader, writer) = pipe::pipe(8);
    let err = writer.write_at(b"xy", u64::MAX - 1).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(
        pipe_error(&err),
        Error::OffsetOverflow {
            offset: u64::MAX - 1,
            len: 2
        }
    );
    // Zero bytes: nothing to do, anywhere in the window.
    assert_eq!(writer.write_at(b"", 5).unwrap(), 0);
    assert_eq!(reader.read(&mut []).unwrap(), 0);
    assert_eq!(writer.window(), Some(8));
    assert_eq!(pipe::unbounded().1.window(), None);
}

#[test]
#[should_panic(expected = "window must be at least one byte")]
fn a_zero_window_is_refused_at_the_call() {
    let _ = pipe::pipe(0);
}

#[test]
fn memory_is_released_as_the_reader_reads() {
    let data = pattern(1 << 20);
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(&data, 0).unwrap();
    let full = reader.stats().allocated;
    assert!(full >= data.len(), "{full}");
    let mut buf = vec![0; data.len() / 2];
    reader.read_exact(&mut buf).unwrap();
    let half = reader.stats();
    assert_eq!(half.buffered, data.len() as u64 / 2);
    // Half the pages are gone, but for a few kept for reuse.
    assert!(half.allocated <= data.len() / 2 + 4 * 65536, "{half:?}");
    reader.read_exact(&mut buf).unwrap();
    let done = reader.stats();
    assert_eq!((done.consumed, done.buffered), (1 << 20, 0));
    assert!(done.allocated <= 4 * 65536, "{done:?}");
    // Closing the reader lets go of everything.
    writer.write_all_at(&data[..1000], 1 << 20).unwrap();
    reader.close();
    assert_eq!(writer.stats().allocated, 0);
}

#[test]
fn buf_read_reads_straight_from_the_pages() {
    let (mut reader, writer) = pipe::pipe(1024);
    let writer = spawn(move || {
        writer.write_all_at(b"second line\nthird", 6).unwrap();
        writer.write_all_at(b"first\n", 0).unwrap();
    });
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "first\n");
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "second line\n");
    writer.join();
    let rest = reader.fill_buf().unwrap().to_vec();
    assert_eq!(rest, b"third");
    reader.consume(2);
    assert_eq!(reader.fill_buf().unwrap(), b"ird");
    // Consuming more than was offered consumes what was offered.
    reader.consume(100);
    assert_eq!(reader.position(), 23);
    assert!(reader.fill_buf().unwrap().is_empty()); // writers gone: EOF
}

#[test]
fn write_with_fills_in_place_and_skips_bytes_already_written() {
    let data = pattern(200_000);
    let (mut reader, writer) = pipe::unbounded();
    writer.write_all_at(&data[1000..2000], 1000).unwrap();
    let mut asked = Vec::new();
    writer
        .write_with(0, data.len(), |at, buf| {
            asked.push((at, buf.len()));
            buf.copy_from_slice(&data[at as usize..at as usize + buf.len()]);
            Ok(())
        })
        .unwrap();
    // Never asked for 1000..2000; pieces end at 64 KiB page boundaries.
    assert_eq!(asked[..2], [(0, 1000), (2000, 65536 - 2000)]);
    assert!(
        asked
            .iter()
            .all(|&(at, n)| at + n as u64 <= 1000 || at >= 2000)
    );
    assert_eq!(
        asked.iter().map(|&(_, n)| n).sum::<usize>(),
        data.len() - 1000
    );
    drop(writer);
    assert_eq!(read_to_end(&mut reader).0, data);
}

#[test]
fn a_failed_fill_leaves_its_piece_free_to_write_again() {
    let (mut reader, writer) = pipe::pipe(64); // 16-byte pages
    let err = writer
        .write_with(0, 40, |at, buf| match at {
            0 => {
                buf.fill(b'a');
                Ok(())
            }
            _ => Err(io::Error::other("range request failed")),
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "range request failed");
    assert_eq!(
        writer.stats().buffered,
        16,
        "the first page-sized piece stays"
    );
    writer.write_all_at(&[b'b'; 24], 16).unwrap();
    drop(writer);
    assert_eq!(
        read_to_end(&mut reader).0,
        [[b'a'; 16].as_slice(), &[b'b'; 24]].concat()
    );
}

#[test]
fn a_panicking_fill_leaves_its_piece_free_and_the_reader_not_waiting_for_it() {
    let (mut reader, writer) = pipe::pipe(64);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        writer.write_with(0, 8, |_, _| panic!("producer bug"))
    }));
    assert!(panicked.is_err());
    writer.write_all_at(b"later", 8).unwrap();
    writer.close();
    // Without the claim given back, this read would wait for it forever.
    let reading = spawn(move || read_to_end(&mut reader));
    let (bytes, end) = reading.join();
    assert!(bytes.is_empty());
    let gap = Error::Gap {
        offset: 0,
        missing: 8,
        stranded: 5,
    };
    assert_eq!(pipe_error(&end.unwrap_err()), gap);
}

#[test]
fn close_with_interrupted_does_not_make_read_loops_spin() {
    let (mut reader, writer) = pipe::pipe(8);
    writer.close_with_error(io::ErrorKind::Interrupted.into());
    // `read_to_end` retries on `Interrupted`: it must get something else.
    let err = reader.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Other);
    let inner = err.get_ref().unwrap().downcast_ref::<io::Error>().unwrap();
    assert_eq!(inner.kind(), io::ErrorKind::Interrupted);
}

#[test]
fn a_writer_dropped_by_a_panic_fails_the_stream() {
    let (mut reader, writer) = pipe::pipe(64);
    writer.write_all_at(b"head", 0).unwrap();
    let tail = writer.clone();
    let panicked = std::thread::spawn(move || {
        let _tail = tail;
        panic!("the tail's producer failed");
    })
    .join();
    assert!(panicked.is_err());
    drop(writer);
    // Without this, the reader would take "head" for the whole stream.
    let (bytes, end) = read_to_end(&mut reader);
    assert_eq!(bytes, b"head");
    let err = end.unwrap_err();
    assert!(err.to_string().contains("panicked"), "{err}");
}

#[test]
fn a_retry_loop_after_failed_fills_completes_and_the_reader_gets_each_byte_once() {
    let data = pattern(100);
    // 16-byte pages, so a fill is called for pieces 0..16, 16..32, ...; the
    // window (64) never holds this single thread back here.
    let (mut reader, writer) = pipe::pipe(64);
    let mut calls = 0;
    let mut filled = Vec::new();
    let mut got = Vec::new();
    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(attempts <= 10, "the retries get nowhere");
        // The same range every time: the retry loop keeps no progress.
        let wrote = writer.write_with(0, data.len(), |at, buf| {
            calls += 1;
            // A flaky source: every third call fails.
            if calls % 3 == 2 {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "flaky"));
            }
            let at = at as usize;
            buf.copy_from_slice(&data[at..at + buf.len()]);
            filled.push(at..at + buf.len());
            Ok(())
        });
        match wrote {
            Ok(()) => break,
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
        }
        // The reader takes what the failed attempt committed before the
        // retry starts, so each retry begins below the reader's position.
        let mut buf = vec![0; reader.stats().buffered as usize];
        reader.read_exact(&mut buf).unwrap();
        got.extend(buf);
    }
    assert_eq!(attempts, 4);
    drop(writer);
    let (rest, end) = read_to_end(&mut reader);
    end.unwrap();
    got.extend(rest);
    assert_eq!(got, data, "every byte, once, in order");
    // And `fill` wrote each byte once: only the bytes still missing.
    filled.sort_by_key(|r| r.start);
    assert!(filled.windows(2).all(|w| w[0].end == w[1].start));
    assert_eq!((filled[0].start, filled.last().unwrap().end), (0, 100));
}

#[test]
fn write_with_wholly_below_the_read_position_fails_and_calls_no_fill() {
    let (mut reader, writer) = pipe::pipe(64);
    writer.write_all_at(b"0123456789", 0).unwrap();
    reader.read_exact(&mut [0; 6]).unwrap();
    // Every byte of 2..6 has been read: nothing is left to write there.
    let err = writer
        .write_with(2, 4, |_, _| panic!("fill called for bytes already read"))
        .unwrap_err();
    assert_eq!(
        pipe_error(&err),
        Error::BelowConsumed {
            offset: 2,
            consumed: 6
        }
    );
    // Across the position, only the part at or above it is written (here:
    // nothing new up to 10, then "ab").
    writer
        .write_with(4, 8, |at, buf| {
            assert_eq!((at, buf.len()), (10, 2));
            buf.copy_from_slice(b"ab");
            Ok(())
        })
        .unwrap();
    drop(writer);
    assert_eq!(read_to_end(&mut reader).0, b"6789ab");
}
