//! Clonable handles: `AsyncBuffer`, `Buffer` and `record::Wal` cloned into
//! many threads, the last handle to drop flushing and closing, `close` and
//! `into_inner` seen by every handle, and `CloseGuard` for buffers that are
//! never dropped.

mod common;

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;

use common::{LineChecker, line_body};
use mwsr::{AsyncBuffer, Buffer, Error, WriteSink};

const THREADS: usize = 6;
const LINES: usize = 2000;

/// Spawns `THREADS` threads (not scoped: each owns its handle), each
/// writing `LINES` lines through its clone with `writeln!`, and drops
/// `handle` before they finish, so that one of them drops the last handle.
fn write_lines_from_clones<H>(handle: H, write: fn(&H, &str))
where
    H: Clone + Send + 'static,
{
    let start = Arc::new(std::sync::Barrier::new(THREADS + 1));
    let writers: Vec<_> = (0..THREADS)
        .map(|w| {
            let handle = handle.clone();
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                for s in 0..LINES {
                    write(&handle, &line_body(w, s));
                }
            })
        })
        .collect();
    drop(handle); // the writers hold the last handles
    start.wait();
    for writer in writers {
        writer.join().unwrap();
    }
}

fn check_lines(text: &str) {
    let mut lines = LineChecker::new(THREADS);
    lines.feed(text);
    lines.finish(LINES);
}

fn temp_file(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    (dir, path)
}

#[test]
fn async_buffer_clones_write_from_many_threads_and_the_last_drop_closes() {
    let (_dir, path) = temp_file("async.log");
    let log = AsyncBuffer::with_writer(4096, File::create(&path).unwrap());
    write_lines_from_clones(log, |log, line| writeln!(log, "{line}").unwrap());
    // Every handle is gone: the last one closed the buffer, which wrote
    // its tail to the file before the drop returned.
    check_lines(&std::fs::read_to_string(&path).unwrap());
}

#[test]
fn buffer_clones_write_from_many_threads_and_the_last_drop_flushes() {
    let (_dir, path) = temp_file("buffer.log");
    let log = Buffer::with_writer(4096, File::create(&path).unwrap());
    write_lines_from_clones(log, |log, line| writeln!(log, "{line}").unwrap());
    check_lines(&std::fs::read_to_string(&path).unwrap());
}

#[test]
fn wal_clones_append_from_many_threads_and_the_last_drop_syncs() {
    let (_dir, path) = temp_file("000001.log");
    let wal = mwsr::record::Wal::create(&path).unwrap();
    write_lines_from_clones(wal, |wal, line| writeln!(wal, "{line}").unwrap());
    // Each `writeln!` was one record; strict reading finds all of them.
    let mut text = String::new();
    let mut reader = mwsr::record::Reader::new(File::open(&path).unwrap());
    let mut records = 0;
    let mut record = Vec::new();
    while reader.read_record(&mut record).unwrap() {
        let line = std::str::from_utf8(&record).unwrap();
        assert_eq!(
            line.matches('\n').count(),
            1,
            "one line per record: {line:?}"
        );
        text.push_str(line);
        records += 1;
    }
    assert_eq!(records, THREADS * LINES);
    check_lines(&text);
}

#[test]
fn io_write_works_on_an_owned_clone() {
    use std::io::Write;
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink_out = out.clone();
    let log = AsyncBuffer::from_fn(64, move |batch| {
        sink_out.lock().unwrap().extend_from_slice(batch);
        Ok::<_, std::io::Error>(())
    });
    let mut mine = log.clone();
    mine.write_all(b"owned ").unwrap(); // `io::Write` on the handle itself
    let word = "formatted";
    write!(mine, "and {word}").unwrap();
    mine.flush().unwrap();
    assert_eq!(&*out.lock().unwrap(), b"owned and formatted");
    drop(mine);
    assert!(!log.is_closed(), "a clone's drop must not close the buffer");
    log.write_slice(b"!").unwrap();
    drop(log);
    assert_eq!(&*out.lock().unwrap(), b"owned and formatted!");
}

#[test]
fn close_and_into_inner_on_one_handle_close_every_handle() {
    let log = AsyncBuffer::new(16, |_: &[u8]| Ok::<(), std::io::Error>(()));
    let other = log.clone();
    other.write(1).unwrap();
    let (_sink, result) = log.into_inner();
    result.unwrap();
    assert!(other.is_closed());
    assert!(matches!(other.write(2), Err(Error::Closed)));
    assert!(matches!(other.flush(), Err(Error::Closed)));
    other.close().unwrap(); // idempotent, and the drop after it is quiet
    assert_eq!(other.stats().items_flushed, 1);

    let buf = Buffer::new(16, |_: &[u8]| Ok::<(), std::io::Error>(()));
    let other = buf.clone();
    other.write(&[1]).unwrap();
    let (_sink, result) = buf.into_inner();
    result.unwrap();
    assert!(matches!(other.write(&[2]), Err(Error::Closed)));
    assert_eq!(other.stats().items_flushed, 1);
}

#[test]
fn buffer_close_flushes_then_refuses() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink_seen = seen.clone();
    let buf = Buffer::new(8, move |batch: &[u8]| {
        sink_seen.lock().unwrap().extend_from_slice(batch);
        Ok::<(), std::io::Error>(())
    });
    buf.write(b"abc").unwrap();
    assert!(!buf.is_closed());
    buf.close().unwrap();
    assert_eq!(&*seen.lock().unwrap(), b"abc", "close must flush first");
    assert!(buf.is_closed());
    assert!(matches!(buf.write(b"d"), Err(Error::Closed)));
    assert!(matches!(buf.write_v(&[b"d"]), Err(Error::Closed)));
    assert!(matches!(buf.flush(), Err(Error::Closed)));
    let refused = buf.try_write(b"e").unwrap_err();
    assert!(matches!(refused, mwsr::TryWriteError::Closed(b"e")));
    buf.close().unwrap(); // idempotent
    let (_sink, result) = buf.into_inner();
    result.unwrap();
    assert_eq!(&*seen.lock().unwrap(), b"abc");
}

#[test]
fn buffer_close_reports_the_sinks_failure() {
    let buf = Buffer::new(8, |_: &[u8]| {
        Err::<(), _>(std::io::Error::other("disk full"))
    });
    buf.write(b"abc").unwrap();
    let err = buf.close().unwrap_err();
    assert!(matches!(err, Error::Sink(_)), "{err:?}");
    assert!(
        matches!(buf.close(), Err(Error::Sink(_))),
        "the failure is sticky"
    );
    assert_eq!(buf.stats().items_dropped, 3);
}

/// The pitfall a `static` sets: it is never dropped. The guard closes it.
#[test]
fn a_close_guard_writes_the_tail_of_a_static_buffer() {
    static LOG: OnceLock<AsyncBuffer<u8, WriteSink<File>>> = OnceLock::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("static.log");
    let log = LOG.get_or_init(|| {
        mwsr::AsyncBuffer::builder()
            .capacity(1 << 16)
            .linger(std::time::Duration::from_secs(3600)) // nothing leaves on its own
            .build(WriteSink::new(File::create(&path).unwrap()))
            .unwrap()
    });
    {
        let _guard = log.close_on_drop();
        for s in 0..100 {
            writeln!(log, "{}", line_body(0, s)).unwrap();
        }
    }
    let mut lines = LineChecker::new(1);
    lines.feed(&std::fs::read_to_string(&path).unwrap());
    lines.finish(100);
    assert!(matches!(log.write(b'x'), Err(Error::Closed)));
}

#[test]
fn a_close_guard_reports_the_close() {
    let log = AsyncBuffer::new(16, |_: &[u8]| Err::<(), _>(std::io::Error::other("gone")));
    let guard = log.close_on_drop();
    log.write(1).unwrap();
    assert!(matches!(guard.close(), Err(Error::Sink(_))));
    assert!(log.is_closed());
}

#[test]
fn a_second_into_inner_panics_with_a_clear_message() {
    let buf = Buffer::new(4, |_: &[u8]| Ok::<(), std::io::Error>(()));
    let other = buf.clone();
    let (_sink, result) = buf.into_inner();
    result.unwrap();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| other.into_inner()))
        .err()
        .expect("the sink was taken already");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("took the sink already"), "{message}");
}

/// `write_vectored` on the record-like writers is one record (one append)
/// of all the slices, not just the first.
#[test]
fn write_vectored_is_one_record() {
    use std::io::{IoSlice, Write};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("000001.log");
    let mut wal = mwsr::record::Wal::create(&path).unwrap();
    let parts = [IoSlice::new(b"ab"), IoSlice::new(b""), IoSlice::new(b"cd")];
    assert_eq!(wal.write_vectored(&parts).unwrap(), 4);
    let many: Vec<IoSlice<'_>> = (0..20).map(|_| IoSlice::new(b"x")).collect();
    assert_eq!((&wal).write_vectored(&many).unwrap(), 20);
    wal.close().unwrap();
    let mut reader = mwsr::record::Reader::new(File::open(&path).unwrap());
    let records: Vec<Vec<u8>> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records, [b"abcd".to_vec(), vec![b'x'; 20]]);

    let log = mwsr::segments::Writer::builder()
        .capacity(8)
        .open(dir.path().join("stream"))
        .unwrap();
    assert_eq!((&log).write_vectored(&parts).unwrap(), 4);
    assert_eq!((&log).write_vectored(&many).unwrap(), 20); // gathered: larger than the buffer
    log.close().unwrap();
    let (stream, _) = common::segment_files(&dir.path().join("stream"));
    assert_eq!(stream, [&b"abcd"[..], &[b'x'; 20]].concat());
}
