//! loom models of `mwsr::pipe`: every interleaving (up to the preemption
//! bound) of writers, the reader and closes. Pages are a quarter of the
//! window, so these small windows give one- and two-byte pages, and writes
//! cross pages. Under loom each byte of a page is its own tracked cell, so
//! any two unordered accesses to a byte (a writer copying while another
//! writer or the reader touches it) fail the model.
#![cfg(loom)]

use std::io::Read;

use loom::thread;
use mwsr::pipe::{self, Error};

fn read_all(reader: &mut pipe::Reader) -> (Vec<u8>, std::io::Result<usize>) {
    let mut out = Vec::new();
    let end = reader.read_to_end(&mut out);
    (out, end)
}

/// Runs `f` on a new thread with its own clone of `writer`.
fn with_writer<T: 'static>(
    writer: &pipe::Writer,
    f: impl FnOnce(pipe::Writer) -> T + 'static,
) -> thread::JoinHandle<T> {
    let writer = writer.clone();
    thread::spawn(move || f(writer))
}

fn pipe_error(err: &std::io::Error) -> Error {
    Error::of(err).expect("a pipe error").clone()
}

#[test]
fn a_writer_filling_the_gap_wakes_the_blocked_reader() {
    loom::model(|| {
        let (mut reader, writer) = pipe::pipe(4);
        let after = with_writer(&writer, |writer| writer.write_all_at(b"bc", 1).unwrap());
        let gap = with_writer(&writer, |writer| writer.write_all_at(b"a", 0).unwrap());
        // The write side stays open while the reader waits: only the writes'
        // own wake-ups can get it going.
        let mut bytes = [0; 3];
        reader.read_exact(&mut bytes).unwrap();
        assert_eq!(&bytes, b"abc");
        after.join().unwrap();
        gap.join().unwrap();
        drop(writer);
        assert_eq!(reader.read(&mut bytes).unwrap(), 0);
    });
}

#[test]
fn closing_the_write_side_wakes_a_blocked_reader_and_a_blocked_writer() {
    loom::model(|| {
        let (mut reader, writer) = pipe::pipe(1);
        // Offset 1 is past the window until the reader reads offset 0, which
        // nobody writes: the writer can only leave through the close.
        let blocked_writer = with_writer(&writer, |writer| writer.write_at(b"x", 1));
        // The reader thread hands the reader back rather than dropping it:
        // dropping it would wake the writer by itself.
        let blocked_reader = thread::spawn(move || (reader.read(&mut [0; 2]), reader));
        writer.close();
        let err = blocked_writer.join().unwrap().unwrap_err();
        assert_eq!(pipe_error(&err), Error::WriteClosed);
        let (read, _reader) = blocked_reader.join().unwrap();
        assert_eq!(read.unwrap(), 0);
    });
}

/// A write racing a close from another handle is either refused whole or
/// read whole: never accepted and then lost.
#[test]
fn a_write_racing_a_close_is_refused_or_read() {
    loom::model(|| {
        let (mut reader, writer) = pipe::pipe(2);
        let racing = with_writer(&writer, |writer| writer.write_at(b"ab", 0));
        writer.close();
        let (bytes, end) = read_all(&mut reader);
        end.unwrap();
        match racing.join().unwrap() {
            Ok(n) => assert_eq!(bytes, &b"ab"[..n]),
            Err(e) => {
                assert_eq!(pipe_error(&e), Error::WriteClosed);
                assert_eq!(bytes, b"");
            }
        }
    });
}

#[test]
fn closing_the_reader_wakes_a_blocked_writer() {
    loom::model(|| {
        let (mut reader, writer) = pipe::pipe(1);
        // "a" fits the window; "b" waits for a reader that never reads.
        let blocked = thread::spawn(move || writer.write_at(b"ab", 0));
        reader.close();
        match blocked.join().unwrap() {
            Ok(n) => assert_eq!(n, 1, "only the byte in the window went in"),
            Err(e) => assert_eq!(pipe_error(&e), Error::ReaderClosed),
        }
    });
}

#[test]
fn window_backpressure_releases_as_the_reader_reads() {
    loom::model(|| {
        let (mut reader, writer) = pipe::pipe(2);
        // Three bytes through a two-byte window: the last waits for a read.
        let writes = thread::spawn(move || writer.write_all_at(b"abc", 0).unwrap());
        let (bytes, end) = read_all(&mut reader);
        writes.join().unwrap();
        assert_eq!(bytes, b"abc");
        end.unwrap();
        assert!(reader.stats().peak_allocated <= 2 + 2);
    });
}

#[test]
fn overlapping_writers_claim_disjoint_bytes_and_the_first_wins() {
    loom::model(|| {
        let (mut reader, writer) = pipe::pipe(8);
        let other = writer.clone();
        let a = thread::spawn(move || writer.write_all_at(b"ab", 0).unwrap());
        let b = thread::spawn(move || other.write_all_at(b"XYZ", 1));
        let (bytes, end) = read_all(&mut reader);
        a.join().unwrap();
        end.unwrap();
        match b.join().unwrap() {
            // Byte 1 is whichever write claimed it first.
            Ok(()) => assert!(bytes == b"abYZ" || bytes == b"aXYZ", "{bytes:?}"),
            // The reader had read "ab" before the second write began.
            Err(e) => {
                assert_eq!(
                    pipe_error(&e),
                    Error::BelowConsumed {
                        offset: 1,
                        consumed: 2
                    }
                );
                assert_eq!(bytes, b"ab");
            }
        }
    });
}

/// A write whose fill fails gives its piece back, and the reader, waiting
/// at the end for pieces in flight, hears of it.
#[test]
fn a_failed_fill_releases_a_reader_waiting_at_the_end() {
    loom::model(|| {
        let (mut reader, writer) = pipe::pipe(2);
        let failing = with_writer(&writer, |writer| {
            writer.write_with(0, 1, |_, _| Err(std::io::Error::other("source failed")))
        });
        writer.close();
        let (bytes, end) = read_all(&mut reader);
        assert!(bytes.is_empty());
        end.unwrap();
        assert!(failing.join().unwrap().is_err());
    });
}

/// A write over bytes another write is filling waits for it: if that fill
/// fails, this write fills them; it never reports bytes written that are
/// not.
#[test]
fn a_write_over_a_failing_claim_fills_it_itself() {
    loom::model(|| {
        let (mut reader, writer) = pipe::pipe(2);
        let failing = with_writer(&writer, |writer| {
            writer.write_with(0, 1, |_, _| Err(std::io::Error::other("source failed")))
        });
        let retry = with_writer(&writer, |writer| writer.write_all_at(b"x", 0));
        // `Ok` if the retry wrote the byte first (the fill was never called).
        let _ = failing.join().unwrap();
        retry.join().unwrap().unwrap();
        drop(writer);
        let (bytes, end) = read_all(&mut reader);
        end.unwrap();
        assert_eq!(bytes, b"x");
    });
}

/// `close_with_error` racing a fill in flight: either the fill committed
/// first (the write returns `Ok` and the reader gets its bytes before the
/// error), or the write fails and the reader only ever gets the error. Never
/// `Ok` for bytes the reader does not get, never bytes after the error.
#[test]
fn close_with_error_racing_a_fill_is_final() {
    loom::model(|| {
        let (mut reader, writer) = pipe::pipe(2);
        let filling = with_writer(&writer, |writer| {
            writer.write_with(0, 1, |_, buf| {
                buf[0] = b'x';
                Ok(())
            })
        });
        writer.close_with_error(std::io::Error::other("gave up"));
        let (bytes, end) = read_all(&mut reader);
        assert_eq!(end.unwrap_err().to_string(), "gave up");
        let wrote = filling.join().unwrap();
        // Whatever the fill did meanwhile, the error stays final.
        let (after, again) = read_all(&mut reader);
        assert_eq!(after, b"", "bytes after the error");
        assert_eq!(again.unwrap_err().to_string(), "gave up");
        match wrote {
            Ok(()) => assert_eq!(bytes, b"x", "Ok, but the bytes were not read"),
            Err(e) => {
                assert_eq!(pipe_error(&e), Error::WriteClosed);
                assert_eq!(bytes, b"");
            }
        }
    });
}

/// A retry of a range after a failed fill, while the reader reads what the
/// failed attempt committed: the retry fills only what is missing (also once
/// the reader has passed the range's start), and the reader gets each byte
/// once.
#[test]
fn a_retried_fill_completes_while_the_reader_reads() {
    loom::model(|| {
        let (mut reader, writer) = pipe::pipe(4); // one-byte pages
        let reading = thread::spawn(move || read_all(&mut reader));
        let mut failed = false;
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(attempts <= 2, "the retry did not complete");
            let wrote = writer.write_with(0, 2, |at, buf| {
                if at == 1 && !failed {
                    failed = true;
                    return Err(std::io::Error::other("source failed"));
                }
                buf[0] = b"ab"[at as usize];
                Ok(())
            });
            match wrote {
                Ok(()) => break,
                Err(e) => assert_eq!(e.to_string(), "source failed"),
            }
        }
        drop(writer);
        let (bytes, end) = reading.join().unwrap();
        end.unwrap();
        assert_eq!(bytes, b"ab");
    });
}
