//! Blocking and waking: the window holds writers back until the reader
//! reads, and closing either side wakes everyone blocked.

use std::io::{self, Read};
use std::sync::mpsc;

use mwsr::pipe::{self, Error};

use crate::{Task, eventually, pattern, pipe_error, read_to_end, spawn};

#[test]
fn a_write_past_the_window_waits_for_the_reader() {
    let data = pattern(64);
    let (mut reader, writer) = pipe::pipe(16);
    let task = {
        let data = data.clone();
        spawn(move || writer.write_all_at(&data, 0).map(|()| writer))
    };
    // The writer fills the window and stops there.
    eventually("the window fills", || reader.stats().buffered == 16);
    assert!(!task.is_done(), "a write past the window returned early");
    assert_eq!(reader.stats().buffered, 16);
    let mut got = vec![0; data.len()];
    reader.read_exact(&mut got).unwrap();
    assert_eq!(got, data);
    let stats = task.join().unwrap().stats();
    // Never more than the window (in pages of a quarter window) plus a page.
    assert!(stats.peak_allocated <= 16 + 2 * 4, "{stats:?}");
}

#[test]
fn a_write_larger_than_the_window_goes_in_piece_by_piece() {
    let data = pattern(100_000);
    let (mut reader, writer) = pipe::pipe(1000);
    let task = {
        let data = data.clone();
        spawn(move || writer.write_at(&data, 0).map(|n| (n, writer)))
    };
    let (bytes, _) = {
        let mut out = vec![0; data.len()];
        reader.read_exact(&mut out).unwrap();
        (out, ())
    };
    assert_eq!(bytes, data);
    let (n, writer) = task.join().unwrap();
    assert_eq!(n, data.len(), "one call writes it all");
    assert!(writer.stats().peak_allocated <= 1000 + 2 * 250);
}

#[test]
fn a_gap_filled_later_wakes_the_blocked_reader() {
    let (mut reader, writer) = pipe::pipe(64);
    writer.write_all_at(b"world", 5).unwrap();
    let task = spawn(move || read_to_end(&mut reader));
    eventually("the reader blocks", || writer.stats().reader_blocked);
    writer.write_all_at(b"hello", 0).unwrap();
    drop(writer);
    let (bytes, end) = task.join();
    assert_eq!(bytes, b"helloworld");
    end.unwrap();
}

#[test]
fn closing_the_write_side_wakes_a_blocked_reader_and_a_blocked_writer() {
    let (mut reader, writer) = pipe::pipe(4);
    let blocked_writer = {
        let writer = writer.clone();
        // Offset 4 is past the window: waits for the reader, which waits for
        // offset 0.
        spawn(move || writer.write_at(b"x", 4))
    };
    let blocked_reader = spawn(move || reader.read(&mut [0; 8]));
    eventually("both block", || {
        let stats = writer.stats();
        stats.blocked_writers == 1 && stats.reader_blocked
    });
    writer.close();
    let err = blocked_writer.join().unwrap_err();
    assert_eq!(pipe_error(&err), Error::WriteClosed);
    // Nothing was written: a clean end.
    assert_eq!(blocked_reader.join().unwrap(), 0);
}

#[test]
fn close_with_error_wakes_a_blocked_reader_with_the_error() {
    let (mut reader, writer) = pipe::pipe(4);
    let blocked_reader = spawn(move || reader.read(&mut [0; 8]));
    eventually("the reader blocks", || writer.stats().reader_blocked);
    writer.close_with_error(io::Error::other("source failed"));
    let err = blocked_reader.join().unwrap_err();
    assert_eq!(err.to_string(), "source failed");
}

#[test]
fn closing_the_reader_wakes_a_blocked_writer() {
    let (mut reader, writer) = pipe::pipe(4);
    writer.write_all_at(b"abcd", 0).unwrap();
    let blocked = spawn(move || writer.write_all_at(b"efgh", 4));
    eventually("the writer blocks", || reader.stats().blocked_writers == 1);
    reader.close();
    let err = blocked.join().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    assert_eq!(pipe_error(&err), Error::ReaderClosed);
}

#[test]
fn dropping_the_reader_wakes_a_blocked_writer_part_way() {
    let (mut reader, writer) = pipe::pipe(4);
    let blocked = spawn(move || {
        let n = writer.write_at(b"abcdefgh", 0);
        (n, writer.write_at(b"i", 8))
    });
    reader.read_exact(&mut [0; 2]).unwrap();
    eventually("the writer blocks again", || {
        let stats = reader.stats();
        stats.buffered == 4 && stats.blocked_writers == 1
    });
    drop(reader);
    let (first, second) = blocked.join();
    // Six bytes went in before the reader left; the call reports them, and
    // the next call reports the broken pipe.
    assert_eq!(first.unwrap(), 6);
    assert_eq!(pipe_error(&second.unwrap_err()), Error::ReaderClosed);
}

/// Starts `write_with(0, 4, ..)` on a thread, and returns once its fill is
/// running (holding its claim on 0..4). The fill goes on when told to, and
/// then fails if `fails`.
fn stalled_write(writer: &pipe::Writer, fails: bool) -> (Task<io::Result<()>>, mpsc::Sender<()>) {
    let (started, started_rx) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    let writer = writer.clone();
    let task = spawn(move || {
        writer.write_with(0, 4, |_, buf| {
            started.send(()).unwrap();
            go_rx.recv().unwrap();
            buf.fill(b'a');
            match fails {
                true => Err(io::Error::other("range failed")),
                false => Ok(()),
            }
        })
    });
    started_rx.recv().unwrap();
    (task, go)
}

#[test]
fn a_write_over_bytes_in_flight_waits_and_fills_them_if_that_write_fails() {
    let (mut reader, writer) = pipe::pipe(64);
    let (first, go) = stalled_write(&writer, true);
    // A retry of the same range must not report success for bytes the first
    // write has not written (and, here, never will).
    let retry = {
        let writer = writer.clone();
        spawn(move || writer.write_all_at(b"bbbb", 0))
    };
    eventually("the retry waits", || writer.stats().blocked_writers == 1);
    go.send(()).unwrap();
    assert!(first.join().is_err());
    retry.join().unwrap();
    drop(writer);
    assert_eq!(read_to_end(&mut reader).0, b"bbbb");
}

#[test]
fn close_with_error_reaches_the_reader_while_a_fill_is_stalled_and_stays() {
    let (mut reader, writer) = pipe::pipe(64);
    let (stalled, go) = stalled_write(&writer, false);
    // A watchdog gives up on the stalled range: the reader hears of it now,
    // not when (if ever) the fill returns.
    writer.close_with_error(io::Error::new(io::ErrorKind::TimedOut, "range 0 stalled"));
    let reading = spawn(move || (reader.read(&mut [0; 8]), reader));
    let (err, mut reader) = reading.join();
    assert_eq!(err.unwrap_err().kind(), io::ErrorKind::TimedOut);
    // The fill ends after the close: its bytes will never be read, so the
    // write must not report them written...
    go.send(()).unwrap();
    let late = stalled.join();
    // ...and the reader never gets them: the error stays.
    let again = reader.read(&mut [0; 8]).unwrap_err();
    assert_eq!(again.kind(), io::ErrorKind::TimedOut);
    assert_eq!(again.to_string(), "range 0 stalled");
    assert_eq!(reader.stats().buffered, 0);
    assert_eq!(pipe_error(&late.unwrap_err()), Error::WriteClosed);
}

#[test]
fn close_with_error_keeps_the_pieces_committed_before_it_and_drops_the_one_in_flight() {
    let (mut reader, writer) = pipe::pipe(64); // 16-byte pages
    let (started, started_rx) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    let task = {
        let writer = writer.clone();
        spawn(move || {
            writer.write_with(0, 32, |at, buf| {
                if at == 16 {
                    started.send(()).unwrap();
                    go_rx.recv().unwrap();
                }
                buf.fill(b'a' + (at / 16) as u8);
                Ok(())
            })
        })
    };
    // The first piece is committed; the second is being filled.
    started_rx.recv().unwrap();
    writer.close_with_error(io::Error::other("gave up on range 0"));
    go.send(()).unwrap();
    assert_eq!(pipe_error(&task.join().unwrap_err()), Error::WriteClosed);
    let (bytes, end) = read_to_end(&mut reader);
    assert_eq!(bytes, [b'a'; 16]);
    assert_eq!(end.unwrap_err().to_string(), "gave up on range 0");
}

#[test]
fn close_lets_a_fill_in_flight_land_and_the_reader_read_it() {
    let (mut reader, writer) = pipe::pipe(64);
    let (stalled, go) = stalled_write(&writer, false);
    // A graceful close: writes that have not begun are refused, but the
    // reader waits for the fill in flight before it tells EOF from a gap.
    writer.close();
    let err = writer.write_at(b"z", 4).unwrap_err();
    assert_eq!(pipe_error(&err), Error::WriteClosed);
    let reading = spawn(move || read_to_end(&mut reader));
    eventually("the reader waits", || writer.stats().reader_blocked);
    go.send(()).unwrap();
    stalled.join().unwrap();
    let (bytes, end) = reading.join();
    assert_eq!(bytes, b"aaaa");
    end.unwrap();
}

#[test]
fn closing_the_reader_fails_a_fill_in_flight() {
    let (mut reader, writer) = pipe::pipe(64);
    let (stalled, go) = stalled_write(&writer, false);
    reader.close();
    go.send(()).unwrap();
    // Nobody will read the bytes: the write says so.
    let err = stalled.join().unwrap_err();
    assert_eq!(pipe_error(&err), Error::ReaderClosed);
    assert_eq!(writer.stats().allocated, 0);
}
