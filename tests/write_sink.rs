//! `WriteSink` and the `with_writer` constructors: whole batches, one
//! `write_all` each, the flush and sync flavours, errors and panics of the
//! writer, real files and a real socket.

mod common;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use common::{HANG, LineChecker, line_body};
use mwsr::{AsyncBuffer, Buffer, Error, SyncData, WriteSink};

/// What a [`Recorder`] was asked to do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Write(usize),
    Flush,
    Sync,
}

/// A writer that records its calls, accepts at most `max_write` bytes per
/// `write`, and can be told to fail or panic.
#[derive(Debug, Clone, Default)]
struct Recorder {
    calls: Arc<Mutex<Vec<Call>>>,
    bytes: Arc<Mutex<Vec<u8>>>,
    max_write: Option<usize>,
    fail_after_bytes: Option<usize>,
    panic_on_write: bool,
}

impl Recorder {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn text(&self) -> String {
        String::from_utf8(self.bytes.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        assert!(!self.panic_on_write, "the writer panics on purpose");
        let mut bytes = self.bytes.lock().unwrap();
        if self.fail_after_bytes.is_some_and(|n| bytes.len() >= n) {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        let n = buf.len().min(self.max_write.unwrap_or(usize::MAX));
        bytes.extend_from_slice(&buf[..n]);
        self.calls.lock().unwrap().push(Call::Write(n));
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.calls.lock().unwrap().push(Call::Flush);
        Ok(())
    }
}

impl SyncData for Recorder {
    fn sync_data(&mut self) -> io::Result<()> {
        self.calls.lock().unwrap().push(Call::Sync);
        Ok(())
    }
}

/// `writers` threads each write `lines` lines through `write_line`.
fn write_lines(writers: usize, lines: usize, write_line: impl Fn(&[u8]) + Sync) {
    thread::scope(|s| {
        for w in 0..writers {
            let write_line = &write_line;
            s.spawn(move || {
                for seq in 0..lines {
                    write_line(format!("{}\n", line_body(w, seq)).as_bytes());
                }
            });
        }
    });
}

fn check_lines(text: &str, writers: usize, lines: usize) {
    let mut checker = LineChecker::new(writers);
    checker.feed(text);
    checker.finish(lines);
}

#[test]
fn buffer_with_writer_writes_each_batch_with_one_call() {
    let out = Recorder::default();
    let buf = Buffer::with_writer(512, out.clone());
    write_lines(4, 500, |line| (&buf).write_all(line).unwrap());
    buf.flush().unwrap();
    check_lines(&out.text(), 4, 500);
    let calls = out.calls();
    assert!(
        calls
            .iter()
            .all(|c| matches!(c, Call::Write(n) if *n <= 512))
    );
    assert_eq!(
        calls.len() as u64,
        buf.stats().batches_flushed,
        "one write per batch"
    );
}

#[test]
fn async_with_writer_writes_each_batch_with_one_call() {
    let out = Recorder::default();
    let buf = AsyncBuffer::with_writer(512, out.clone());
    write_lines(4, 500, |line| buf.write_slice(line).map(drop).unwrap());
    buf.close().unwrap();
    check_lines(&out.text(), 4, 500);
    assert_eq!(
        out.calls().len() as u64,
        buf.stats().batches_flushed,
        "one write per batch"
    );
}

#[test]
fn short_writes_are_completed_in_order() {
    let out = Recorder {
        max_write: Some(7),
        ..Recorder::default()
    };
    let buf = AsyncBuffer::with_writer(256, out.clone());
    write_lines(3, 300, |line| buf.write_slice(line).map(drop).unwrap());
    buf.close().unwrap();
    check_lines(&out.text(), 3, 300);
}

#[test]
fn flushing_flushes_after_each_batch() {
    let out = Recorder::default();
    let buf = Buffer::new(16, WriteSink::flushing(out.clone()));
    buf.write(b"0123456789").unwrap();
    buf.write(b"abcdefghij").unwrap(); // does not fit: the first is flushed
    buf.flush().unwrap();
    assert_eq!(
        out.calls(),
        [Call::Write(10), Call::Flush, Call::Write(10), Call::Flush]
    );
}

#[test]
fn durable_flushes_then_syncs_after_each_batch() {
    let out = Recorder::default();
    let buf = AsyncBuffer::new(64, WriteSink::durable(out.clone()));
    buf.write_slice(b"first").unwrap();
    buf.flush().unwrap();
    buf.write_slice(b"second").unwrap();
    buf.close().unwrap();
    assert_eq!(
        out.calls(),
        [
            Call::Write(5),
            Call::Flush,
            Call::Sync,
            Call::Write(6),
            Call::Flush,
            Call::Sync
        ]
    );
    assert_eq!(out.text(), "firstsecond");
}

#[test]
fn durable_log_on_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("durable.log");
    let file = std::fs::File::create(&path).unwrap();
    let log = AsyncBuffer::new(4096, WriteSink::durable(io::BufWriter::new(file)));
    write_lines(4, 1000, |line| log.write_slice(line).map(drop).unwrap());
    let (sink, closed) = log.into_inner();
    closed.unwrap();
    assert!(
        sink.get_ref().buffer().is_empty(),
        "the BufWriter was flushed"
    );
    check_lines(&std::fs::read_to_string(&path).unwrap(), 4, 1000);
}

#[test]
fn a_writer_error_fails_the_buffer_and_keeps_its_kind() {
    let out = Recorder {
        fail_after_bytes: Some(10),
        ..Recorder::default()
    };
    let buf = AsyncBuffer::with_writer(8, out.clone());
    let mut failure = None;
    for _ in 0..100 {
        if let Err(e) = buf.write_slice(b"12345") {
            failure = Some(e);
            break;
        }
        if let Err(e) = buf.flush() {
            failure = Some(e);
            break;
        }
    }
    let failure = failure.expect("the writer fails after 10 bytes");
    assert!(
        matches!(&failure, Error::Sink(e) if e.kind() == io::ErrorKind::StorageFull),
        "{failure:?}"
    );
    assert!(buf.is_closed());
    let as_io = io::Error::from(buf.close().unwrap_err());
    assert_eq!(as_io.kind(), io::ErrorKind::StorageFull);
    assert_eq!(out.text(), "1234512345");
}

#[test]
fn a_panicking_writer_is_contained() {
    let out = Recorder {
        panic_on_write: true,
        ..Recorder::default()
    };
    let buf = Buffer::with_writer(64, out);
    buf.write(b"hello").unwrap();
    let err = buf.flush().unwrap_err();
    assert!(
        matches!(&err, Error::Panicked(msg) if msg.contains("on purpose")),
        "{err:?}"
    );
    assert!(buf.write(b"again").is_err());
}

#[test]
fn is_closed_after_close() {
    let buf = AsyncBuffer::with_writer(64, io::sink());
    assert!(!buf.is_closed());
    buf.close().unwrap();
    assert!(buf.is_closed());
    assert!(matches!(buf.write_slice(b"late"), Err(Error::Closed)));
}

#[test]
fn coalesces_threads_into_one_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(HANG)).unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).unwrap();
        text
    });
    let stream = TcpStream::connect(addr).unwrap();
    let out = AsyncBuffer::with_writer(16 * 1024, stream);
    write_lines(4, 2000, |line| (&out).write_all(line).unwrap());
    let (sink, closed) = out.into_inner();
    closed.unwrap();
    sink.get_ref().shutdown(std::net::Shutdown::Write).unwrap();
    check_lines(&server.join().unwrap(), 4, 2000);
}

/// `writeln!` with several arguments writes each line as one contiguous
/// write, for both buffer types and for `&buffer` as well as `buffer`.
#[test]
fn formatted_lines_are_written_whole() {
    fn write_pieces(mut out: impl Write, w: usize, seq: usize) {
        let body = line_body(w, seq);
        let (head, tail) = body.split_at(body.len() / 2);
        writeln!(out, "{head}{tail}").unwrap();
    }
    let sync_out = Recorder::default();
    let sync = Buffer::with_writer(64, sync_out.clone());
    let async_out = Recorder::default();
    let mut asynchronous = AsyncBuffer::with_writer(64, async_out.clone());
    thread::scope(|s| {
        for w in 0..4 {
            let sync = &sync;
            let asynchronous = &asynchronous;
            s.spawn(move || {
                for seq in 0..1000 {
                    write_pieces(sync, w, seq);
                    write_pieces(asynchronous, w, seq);
                }
            });
        }
    });
    write_pieces(&mut asynchronous, 4, 0); // `AsyncBuffer` itself, by `&mut`
    sync.flush().unwrap();
    asynchronous.close().unwrap();
    check_lines(&sync_out.text(), 4, 1000);
    let mut checker = LineChecker::new(5);
    checker.feed(&async_out.text());
    assert!((0..4).all(|w| checker.lines(w) == 1000) && checker.lines(4) == 1);
}
