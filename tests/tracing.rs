//! The `tracing` feature: real `tracing` events from several threads reach
//! the output whole and in order per thread, nothing is lost when the buffer
//! is dropped with its subscriber or closed through an `Arc`, and a closed or
//! failed buffer makes writes fail instead of swallowing them.
#![cfg(feature = "tracing")]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::thread;

use common::{LineChecker, line_body};
use mwsr::AsyncBuffer;
use tracing::Dispatch;
use tracing_subscriber::fmt::MakeWriter;

const THREADS: usize = 4;
const EVENTS: usize = 2000;

/// A writer that keeps everything, readable after the buffer is gone.
#[derive(Debug, Clone, Default)]
struct Collected(Arc<Mutex<Vec<u8>>>);

impl Collected {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Collected {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `THREADS` threads each emit `EVENTS` events through `dispatch`.
fn log_from_threads(dispatch: &Dispatch) {
    thread::scope(|s| {
        for w in 0..THREADS {
            s.spawn(move || {
                tracing::dispatcher::with_default(dispatch, || {
                    for seq in 0..EVENTS {
                        tracing::info!("{}", line_body(w, seq));
                    }
                });
            });
        }
    });
}

fn check(out: &Collected) {
    let text = out.text();
    assert!(text.lines().all(|l| l.contains(" INFO ")), "not fmt output");
    let mut checker = LineChecker::new(THREADS);
    checker.feed(&text);
    checker.finish(EVENTS);
}

#[test]
fn events_from_many_threads_arrive_whole_when_the_subscriber_owns_the_buffer() {
    let out = Collected::default();
    // A small capacity, so events often meet a full buffer.
    let buffer = AsyncBuffer::with_writer(512, out.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buffer)
        .with_thread_names(true)
        .finish();
    let dispatch = Dispatch::new(subscriber);
    log_from_threads(&dispatch);
    drop(dispatch); // drops the subscriber, which drops (closes) the buffer
    check(&out);
}

#[test]
fn closing_through_an_arc_loses_nothing() {
    let out = Collected::default();
    let buffer = Arc::new(AsyncBuffer::with_writer(4096, out.clone()));
    let dispatch = Dispatch::new(
        tracing_subscriber::fmt()
            .with_writer(buffer.clone())
            .finish(),
    );
    log_from_threads(&dispatch);
    buffer.close().unwrap(); // the subscriber still holds a clone
    check(&out);
}

#[test]
fn formatted_writes_through_make_writer_are_not_interleaved() {
    let out = Collected::default();
    let buffer = AsyncBuffer::with_writer(64, out.clone());
    thread::scope(|s| {
        for w in 0..THREADS {
            let buffer = &buffer;
            s.spawn(move || {
                for seq in 0..EVENTS {
                    let body = line_body(w, seq);
                    let (head, tail) = body.split_at(body.len() / 2);
                    // Three pieces, one contiguous write.
                    writeln!(buffer.make_writer(), "{head}{tail}").unwrap();
                }
            });
        }
    });
    buffer.close().unwrap();
    let mut checker = LineChecker::new(THREADS);
    checker.feed(&out.text());
    checker.finish(EVENTS);
}

#[test]
fn make_writer_flush_reaches_the_sink() {
    let out = Collected::default();
    let buffer = AsyncBuffer::with_writer(1024, out.clone());
    let mut writer = buffer.make_writer();
    writer.write_all(b"now\n").unwrap();
    writer.flush().unwrap();
    assert_eq!(out.text(), "now\n");
    buffer.close().unwrap();
    assert_eq!(out.text(), "now\n");
}

#[test]
fn writes_after_close_fail_and_events_neither_panic_nor_hang() {
    let out = Collected::default();
    let buffer = AsyncBuffer::with_writer(1024, out.clone());
    buffer.close().unwrap();
    let err = buffer.make_writer().write_all(b"late\n").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    let dispatch = Dispatch::new(tracing_subscriber::fmt().with_writer(buffer).finish());
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("after close"));
    assert_eq!(out.text(), "");
}

#[test]
fn a_failed_sink_is_reported_to_the_writer() {
    #[derive(Debug)]
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("boom"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = AsyncBuffer::with_writer(16, Broken);
    // Larger than the capacity: delivered by this thread, failing at once.
    let err = buffer.make_writer().write_all(&[b'x'; 64]).unwrap_err();
    assert!(err.to_string().contains("boom"), "{err}");
    let err = buffer.make_writer().write_all(b"next\n").unwrap_err();
    assert!(err.to_string().contains("boom"), "{err}");
}
